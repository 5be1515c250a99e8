"""Consistency of the bundled NSUN 2014 corpus: quotes, codebook and the report author's coding.

The annotations are a hand transcription and the project's gold standard, so every row must be
checkable against the report: its codes exist, and its evidence occurs verbatim in report.md.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "nsun2014"
NO_THEME = "no theme assigned by the report text"
PART_SEPARATOR = " [...] "  # evidence from non-adjacent sentences is joined with this


def normalise(text: str) -> str:
    """Compare text without Markdown emphasis, simple HTML tags or line wrapping."""
    text = re.sub(r"</?(?:b|i|em|strong|u)\s*>", "", text)
    text = re.sub(r"\*+|(?<!\w)_{1,3}(?=\S)|(?<=\S)_{1,3}(?!\w)", "", text)
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def quotes() -> list[dict]:
    return [json.loads(line) for line in (DATA / "quotes.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def annotations() -> list[dict[str, str]]:
    with (DATA / "annotations.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["quote_id", "coder", "code", "evidence"]
    return rows


@pytest.fixture(scope="module")
def codebook() -> dict:
    return yaml.safe_load((DATA / "codebook.yaml").read_text(encoding="utf-8"))


def test_every_quote_is_annotated_by_the_report(quotes, annotations) -> None:
    seen = {row["quote_id"] for row in annotations if row["coder"] == "report"}
    assert [q["quote_id"] for q in quotes if q["quote_id"] not in seen] == []
    assert {row["quote_id"] for row in annotations} <= {q["quote_id"] for q in quotes}


def test_rows_are_unique_and_empty_code_stands_alone(annotations) -> None:
    keys = [(r["quote_id"], r["coder"], r["code"]) for r in annotations]
    assert len(keys) == len(set(keys))
    for row in annotations:
        if row["code"] == "":
            assert row["evidence"].startswith(NO_THEME)
            assert [k for k in keys if k[:2] == (row["quote_id"], row["coder"])] == [(row["quote_id"], row["coder"], "")]


def test_codes_are_in_codebook(annotations, codebook) -> None:
    ids = {c["id"] for c in codebook["codes"]}
    assert {row["code"] for row in annotations if row["code"]} <= ids


def test_evidence_is_verbatim_in_report(annotations) -> None:
    report = normalise((DATA / "report.md").read_text(encoding="utf-8"))
    missing = [
        (row["quote_id"], part[:60])
        for row in annotations
        if row["code"]
        for part in row["evidence"].split(PART_SEPARATOR)
        if normalise(part) not in report
    ]
    assert missing == []


def test_codebook_ids_unique_and_parents_known(codebook) -> None:
    code_ids = [c["id"] for c in codebook["codes"]]
    theme_ids = [t["id"] for t in codebook.get("themes") or []]
    assert len(code_ids) == len(set(code_ids)) and len(theme_ids) == len(set(theme_ids))
    assert not set(code_ids) & set(theme_ids)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in code_ids + theme_ids)
    assert {c.get("parent") for c in codebook["codes"]} - {None} <= set(theme_ids)
    assert isinstance(codebook["version"], str)


def test_codebook_examples_are_quotes(codebook, quotes) -> None:
    texts = {q["text"] for q in quotes}
    for code in codebook["codes"]:
        assert 1 <= len(code["examples"]) <= 3, code["id"]
        assert set(code["examples"]) <= texts, code["id"]


def test_every_code_is_used(annotations, codebook) -> None:
    used = {row["code"] for row in annotations}
    assert [c["id"] for c in codebook["codes"] if c["id"] not in used] == []


def test_examples_carry_their_code(codebook, quotes, annotations) -> None:
    """An example must be a quote the report itself coded with that code."""
    by_text = {q["text"]: q["quote_id"] for q in quotes}
    coded = {(r["quote_id"], r["code"]) for r in annotations}
    for code in codebook["codes"]:
        assert all((by_text[e], code["id"]) in coded for e in code["examples"]), code["id"]

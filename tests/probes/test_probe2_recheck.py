"""Found by the end-to-end re-check of probe-failures-2.md on the merged code (issue 22): ``agree --group`` is the
fourth surface where a group name is printed (beside G35b run, E05 evaluate, D04 describe), and it printed quote text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from .conftest import assert_located, invoke

MARKER = "ZQXMARKER"
CODES = ["waiting", "medication", "listened", "peer"]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """30 quotes that share one text (group size 30, above every privacy floor), coders ana and ben, a free-text note."""
    folder = tmp_path / "c17"
    folder.mkdir()
    pd.DataFrame({"quote_id": [f"q{i:03d}" for i in range(30)], "text": [f"{MARKER} everyone said the same thing"] * 30,
                  "site": [["north", "south", "east"][i % 3] for i in range(30)],
                  "note": [f"{MARKER} a remark written about the quote number {i} by staff" for i in range(30)]},
                 ).to_csv(folder / "quotes.csv", index=False)
    rows = [(f"q{i:03d}", coder, CODES[(i + (coder == "ben" and i < 10)) % 4]) for i in range(30) for coder in ("ana", "ben")]
    pd.DataFrame(rows, columns=["quote_id", "coder", "code"]).to_csv(folder / "annotations.csv", index=False)
    (folder / "codebook.yaml").write_text("name: probe\nversion: '1'\ncodes:\n" + "".join(f"  - id: {c}\n    label: {c}\n" for c in CODES),
                                          encoding="utf-8")
    return folder


def _outputs(out: Path) -> list[Path]:
    return [p for p in (out.with_suffix(".md"), out.with_suffix(".json")) if p.exists()]


def test_agree_refuses_the_text_column_as_a_group(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "agree.md"
    result = invoke("agree", corpus, "-o", out, "--group", "text")
    line = assert_located(result, "quotes.csv", "field 'text'", "quote text column", "--group")
    assert MARKER not in result.output and MARKER not in line  # type: ignore[attr-defined]
    assert _outputs(out) == []  # nothing written
    # the text column stays refused even when "allowed"
    assert_located(invoke("agree", corpus, "-o", out, "--group", "text", "--allow-free-text-column", "text"), "field 'text'")


def test_agree_refuses_a_free_text_group_unless_allowed(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "agree.md"
    line = assert_located(invoke("agree", corpus, "-o", out, "--group", "note"), "field 'note'", "free text", "--allow-free-text-column")
    assert MARKER not in line and _outputs(out) == []
    assert invoke("agree", corpus, "-o", out, "--group", "note", "--allow-free-text-column", "note").exit_code == 0


def test_agree_with_a_label_group_still_works(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "agree.md"
    result = invoke("agree", corpus, "-o", out, "--group", "site")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert MARKER not in result.output  # type: ignore[attr-defined]
    for path in _outputs(out):
        text = path.read_text(encoding="utf-8")
        assert MARKER not in text and "north" in text


def test_a_free_text_default_group_of_a_qda_project_is_left_out_with_a_note(corpus: Path) -> None:
    from lived_themes.corpus import load_corpus
    from lived_themes.workflows.agree import checked_groups

    loaded = load_corpus(corpus / "quotes.csv", corpus / "annotations.csv")
    groups, notes = checked_groups(loaded, [], ["source", "site", "note", "text"] if "source" in loaded.quotes.columns else ["site", "note", "text"])
    assert "note" not in groups and "text" not in groups and "site" in groups
    assert len(notes) == 2 and all(MARKER not in n for n in notes) and "'note'" in notes[0]

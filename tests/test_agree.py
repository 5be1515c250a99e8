"""`lived-themes agree`: human-human agreement only, from a corpus folder or a REFI-QDA project, training nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Code, Codebook
from lived_themes.corpus import Corpus, save_corpus
from lived_themes.evaluation.coding_comparison import ALL_CODES, coding_comparison


def two_coders(*, model: bool = True) -> Corpus:
    """Eight quotes from two trusts; h1 and h2 agree on six, and h2 alone gives 'other' twice."""
    book = Codebook(name="nhs", version="1", codes=[Code(id="access", label="Access"), Code(id="staff", label="Staff"),
                                                     Code(id="other", label="Other")])
    quotes = pd.DataFrame({"quote_id": [f"q{i}" for i in range(8)],
                           "text": [f"comment number {i} about care" for i in range(8)],
                           "trust": ["A", "B"] * 4})
    ann = []
    for i in range(8):
        code = "access" if i % 2 else "staff"
        ann.append({"quote_id": f"q{i}", "coder": "h1", "code": code})
        ann.append({"quote_id": f"q{i}", "coder": "h2", "code": "other" if i in (2, 5) else code})
    if model:
        ann.append({"quote_id": "q0", "coder": "model:x", "code": "access"})  # never compared
    return Corpus(quotes=quotes, annotations=pd.DataFrame(ann), codebook=book)


def test_coding_comparison_figures_per_code_and_group() -> None:
    corpus = two_coders()
    codes = ["access", "staff", "other"]
    table = coding_comparison(corpus.label_matrices(["h1", "h2"], codes), codes, ["h1", "h2"], groups=corpus.quotes[["trust"]])
    overall = table[(table["group"] == "overall")].set_index("code")
    assert overall.loc["other", "percent_agreement"] == pytest.approx(6 / 8)
    assert overall.loc["access", "n_units"] == 8 and np.isfinite(overall.loc["access", "cohen_kappa"])
    assert {"gwet_ac1", "krippendorff_alpha", "cohen_kappa"} <= set(table.columns)
    assert set(table["group"]) == {"overall", "A", "B"} and (table["code"] == ALL_CODES).sum() == 3


def test_agree_on_a_refi_qda_project_with_two_coders(tmp_path: Path) -> None:
    from lived_themes.interop.writer import export_project

    project = tmp_path / "study.qdpx"
    export_project(two_coders(model=False), project)
    out = tmp_path / "agreement.md"
    result = CliRunner().invoke(app, ["agree", str(project), "-o", str(out), "--min-report-group-size", "1"])
    assert result.exit_code == 0, result.output
    assert "Gwet" in result.output and "other" in result.output
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["coders"] == ["h1", "h2"] and set(doc["codes"]) == {"access", "staff", "other"}
    overall = {r["code"]: r for r in doc["per_code"] if r["group_column"] == "overall"}
    assert overall["other"]["percent_agreement"] == pytest.approx(6 / 8)
    assert "source" in doc["groups"] and any(r["group_column"] == "source" for r in doc["per_code"])
    report = out.read_text(encoding="utf-8")
    assert "Cohen's κ" in report and "Krippendorff's α" in report and "Gwet's AC1" in report and "comment number" not in report


def test_agree_on_a_corpus_folder_by_group_and_refuses_to_overwrite(tmp_path: Path) -> None:
    save_corpus(two_coders(), tmp_path / "corpus")
    out = tmp_path / "agreement.md"
    result = CliRunner().invoke(app, ["agree", str(tmp_path / "corpus"), "-o", str(out), "--group", "trust",
                                      "--min-report-group-size", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["not_compared"] == ["model:x"] and "## By trust" in out.read_text(encoding="utf-8")
    inside = CliRunner().invoke(app, ["agree", str(tmp_path / "corpus"), "-o", str(tmp_path / "corpus" / "a.md")])
    assert inside.exit_code == 2 and "error:" in inside.output
    one = CliRunner().invoke(app, ["agree", str(tmp_path / "corpus"), "-o", str(tmp_path / "b.md"), "--coder", "h1"])
    assert one.exit_code == 2 and "two or more" in one.output

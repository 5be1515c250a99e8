"""The corpus commands of the CLI: extract, describe and codebook, through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import load_codebook
from lived_themes.corpus import load_quotes

DATA = Path(__file__).resolve().parents[1] / "data" / "nsun2014"
REPORT = """\
# A tiny consultation

## Findings

*"Nobody asked what I needed." [Woman, Hilltown]*

"The waiting list was two years."
"""


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_extract_writes_a_loadable_quotes_table(runner: CliRunner, tmp_path: Path, suffix: str) -> None:
    report = tmp_path / "tiny.md"
    report.write_text(REPORT, encoding="utf-8")
    out = tmp_path / f"quotes{suffix}"
    result = runner.invoke(app, ["extract", str(report), "--output", str(out), "--id-prefix", "t"])
    assert result.exit_code == 0, result.output
    assert "2 quotes" in result.output and str(out) in result.output
    quotes, set_aside, _ = load_quotes(out)
    assert quotes["quote_id"].tolist() == ["t-001", "t-002"] and len(set_aside) == 0
    assert quotes["text"].tolist() == ["Nobody asked what I needed.", "The waiting list was two years."]
    assert quotes["source"].tolist() == ["focus_group", "survey"]


def test_extract_missing_report_fails_cleanly(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", str(tmp_path / "nope.md"), "--output", str(tmp_path / "q.jsonl")])
    assert result.exit_code != 0 and not (tmp_path / "q.jsonl").exists()


def test_describe_bundled_corpus(runner: CliRunner) -> None:
    result = runner.invoke(app, ["describe", str(DATA)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "48 quotes" in out and "read 48 rows, kept 48, set aside 0" in out
    assert load_codebook(DATA / "codebook.yaml").content_hash()[:12] in out
    assert "(no code)" in out and "(not seen)" in out
    assert "Over-medication" in out  # codes are shown by label


def test_describe_keeps_a_long_path_on_one_line(runner: CliRunner, tmp_path: Path) -> None:
    """CI checks out under a longer path than a laptop; rich must not hard-wrap the load report."""
    import shutil

    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "nsun2014"
    shutil.copytree(DATA, deep)
    result = runner.invoke(app, ["describe", str(deep)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(str(deep / "quotes.jsonl") in line and "read 48 rows, kept 48, set aside 0" in line for line in lines)


def test_describe_by_unknown_column(runner: CliRunner) -> None:
    result = runner.invoke(app, ["describe", str(DATA), "--by", "no_such_column"])
    assert result.exit_code != 0


def test_describe_bad_input_names_file_row_field(runner: CliRunner, tmp_path: Path) -> None:
    quotes = tmp_path / "quotes.csv"
    quotes.write_text("quote_id,text\nq1,fine\nq1,again\n", encoding="utf-8")
    result = runner.invoke(app, ["describe", str(quotes)])
    assert result.exit_code == 2
    assert str(quotes) in result.output and "row 2" in result.output and "'quote_id'" in result.output
    assert "Traceback" not in result.output


def test_codebook_prints_markdown(runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", str(DATA / "codebook.yaml")])
    assert result.exit_code == 0, result.output
    book = load_codebook(DATA / "codebook.yaml")
    assert "| Code | Label | Theme | Definition | Include | Exclude |" in result.output
    assert all(f"`{code}`" in result.output for code in book.code_ids)


def test_codebook_writes_markdown_and_full_hash(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "codebook.md"
    result = runner.invoke(app, ["codebook", str(DATA / "codebook.yaml"), "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    book = load_codebook(DATA / "codebook.yaml")
    assert book.content_hash() in result.output
    assert out.read_text(encoding="utf-8") == book.to_markdown()


def test_codebook_invalid_file(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "codebook.yaml"
    bad.write_text("name: x\nversion: '1'\ncodes:\n- id: a\n", encoding="utf-8")
    result = runner.invoke(app, ["codebook", str(bad)])
    assert result.exit_code == 2 and str(bad) in result.output and "codes.0.label" in result.output


def test_describe_group_tables_are_readable_at_80_columns(runner: CliRunner) -> None:
    """Codes are rows, group values columns: code labels as 80-column headers were cut to one letter."""
    result = runner.invoke(app, ["describe", str(DATA), "--by", "source"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = result.output.split("Quotes per source")[1]
    assert "focus_group" in table and "survey" in table and "Peer and community support" in table

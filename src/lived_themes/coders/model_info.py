"""What a saved model folder holds, told before it is shared: ``lived-themes model-info MODEL``.

Reads coder.json, lists the files, and says whether any of them holds text of the training quotes
(``contains_training_text``, written when the model was saved) and how its training quote ids are kept
(``training_ids.json``: salted hashes). It checks the folder as loading would (special files, links out
of the folder, the checksum of codes and weights) but loads no model and imports no heavy library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lived_themes.coders._integrity import check_model_files, file_kind, runtime_key_in, verify
from lived_themes.errors import ModelFileError

CODER_FILE = "coder.json"
TRAINING_IDS = "training_ids.json"
#: The training file's text and id column names, written by a run beside the model (outside the checksum: it names
#: columns only, and decides no code), so ``predict`` reads new files of the same shape without --text-column.
TRAINING_COLUMNS = "training_columns.json"


def read_training_columns(folder: Path) -> dict[str, str | None] | None:
    """``{"text_column": ..., "id_column": ...}`` from the model folder, or None where the run did not record them."""
    path = folder / TRAINING_COLUMNS
    if file_kind(path) == "missing":
        return None
    record = _json(path)
    if not isinstance(record, dict) or not isinstance(record.get("text_column"), str) or \
            not isinstance(record.get("id_column"), (str, type(None))):
        raise ModelFileError("expected {\"text_column\": name, \"id_column\": name or null}", file=path)
    return {"text_column": record["text_column"], "id_column": record.get("id_column")}


def _folder(path: Path) -> Path:
    """The model folder itself, or a run folder's ``model/``."""
    if not (path / CODER_FILE).exists() and (path / "model" / CODER_FILE).exists():
        return path / "model"
    return path


def _json(path: Path) -> Any:
    kind = file_kind(path)
    if kind != "file":
        raise ModelFileError("missing from the model folder" if kind == "missing" else f"expected a regular file, found {kind}", file=path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError("not valid JSON (truncated, corrupt or not JSON)", file=path) from None


def describe_model(path: str | Path) -> dict[str, Any]:
    """A JSON-ready summary of the model folder at ``path`` (or a run folder's ``model/``); quote text never in it."""
    folder = _folder(Path(path))
    if not folder.is_dir():
        raise ModelFileError("not a saved model folder (no such folder)", file=folder)
    if not (folder / CODER_FILE).exists():
        raise ModelFileError(f"not a saved model folder (no {CODER_FILE})", file=folder)
    check_model_files(folder)
    meta = _json(folder / CODER_FILE)
    if not isinstance(meta, dict):
        raise ModelFileError("expected a JSON object", file=folder / CODER_FILE)
    listed = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    files = [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size,
              "in_checksum": p.relative_to(folder).as_posix() in listed}
             for p in sorted(folder.rglob("*")) if p.is_file()]
    try:
        verify(meta, folder, folder / CODER_FILE)
        checksum = "ok: the codes, thresholds, parameters and saved files match"
    except ModelFileError as exc:
        checksum = f"FAILS: {exc}"
    ids = None
    if (folder / TRAINING_IDS).is_file():
        record = _json(folder / TRAINING_IDS)
        if isinstance(record, dict):
            ids = {"n": record.get("n"), "stored_as": f"salted {record.get('hash')} hashes, no raw ids"}
    codes = meta.get("codes") if isinstance(meta.get("codes"), list) else []
    return {
        "folder": str(folder),
        "coder": meta.get("coder"),
        "format_version": meta.get("format_version"),
        "codes": codes,
        "label_mode": meta.get("label_mode", "multi"),
        "contains_training_text": meta.get("contains_training_text", "not stated (saved by an older version)"),
        "training_ids": ids,
        "training_columns": read_training_columns(folder),
        "runtime_setting_in_params": runtime_key_in(meta.get("params")),
        "checksum": checksum,
        "files": files,
    }


def format_model_info(info: dict[str, Any]) -> str:
    """The summary as lines for a terminal."""
    text = info["contains_training_text"]
    files = info["files"]
    lines = [
        f"model folder: {info['folder']}",
        f"coder: {info['coder']} (format_version {info['format_version']})",
        f"codes ({len(info['codes'])}): {', '.join(map(str, info['codes']))}" + (" [single-label]" if info["label_mode"] == "single" else ""),
        "training text: " + (f"YES: {text}" if isinstance(text, str) and text and not text.startswith("not stated")
                             else "none stored" if text is False else str(text)),
        "training ids: " + (f"{info['training_ids']['n']}, {info['training_ids']['stored_as']} ({TRAINING_IDS})" if info["training_ids"]
                            else "not recorded"),
    ]
    columns = info.get("training_columns")
    lines.append("training columns: " + (f"text {columns['text_column']!r}, id {columns['id_column']!r} ({TRAINING_COLUMNS}; "
                                          "predict reads these unless told otherwise)" if columns else "not recorded"))
    if info["runtime_setting_in_params"]:
        lines.append(f"REFUSED on load: coder.json sets {info['runtime_setting_in_params']}, a run-time setting (where text goes)")
    lines.append(f"checksum: {info['checksum']}")
    lines.append(f"files ({len(files)}, {sum(f['bytes'] for f in files):,} bytes):")
    lines += [f"  {f['path']}  {f['bytes']:,} bytes" + ("" if f["in_checksum"] or f["path"] == CODER_FILE else "  (not covered by the checksum)")
              for f in files]
    return "\n".join(lines)

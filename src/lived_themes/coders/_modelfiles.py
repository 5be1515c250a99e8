"""Reading a model folder's files so that a bad file is a located error, never a partial model.

Every reader names the file and what is wrong: missing, a pickle where JSON is expected (refused,
never unpickled), truncated or corrupt, or the wrong shape. Shapes are checked against the codes in
``coder.json`` so a model cannot silently lose codes.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.errors import ModelFileError
from lived_themes.coders._integrity import file_digest, file_kind
from lived_themes.errors import shown
from lived_themes.registry import _resolve, constructor_params

PICKLE_MAGIC = (b"\x80",)  # pickle protocol 2+ starts with the PROTO opcode
ZIP_MAGIC = b"PK"
PICKLED_WEIGHTS = ("pytorch_model.bin", "model.pt", "model.pkl", "model_head.pkl")


def require_file(path: Path) -> Path:
    """``path`` when it is a regular file (or a link to one); a FIFO, a device or a socket is refused before it is opened."""

    kind = file_kind(path)
    if kind == "missing":
        raise ModelFileError("missing from the model folder", file=path)
    if kind == "folder":
        raise ModelFileError("expected a file, found a folder", file=path)
    if kind != "file":
        raise ModelFileError(f"expected a regular file, found {kind}: refused before reading it", file=path)
    return path


def _looks_pickled(data: bytes) -> bool:
    return data[:1] == b"\x80" and len(data) > 1 and 2 <= data[1] <= 5


def read_json(path: Path, *, kind: type = dict) -> Any:
    """A JSON file of the given top-level type; a pickle or binary file is refused as "not JSON"."""
    data = require_file(path).read_bytes()
    if _looks_pickled(data):
        raise ModelFileError("not JSON: it looks like a Python pickle, which is refused (a model folder holds JSON, safetensors and .npz only)", file=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"not JSON: byte {exc.start} is not UTF-8 text (a binary file?)", file=path) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} column {exc.colno}", file=path) from None
    if not isinstance(value, kind):
        raise ModelFileError(f"expected a JSON {'object' if kind is dict else kind.__name__}, found {type(value).__name__}", file=path)
    return value


def load_npz(path: Path, names: dict[str, int]) -> dict[str, np.ndarray]:
    """Numeric arrays ``name -> ndim`` from an .npz read with ``allow_pickle=False``."""
    import zipfile

    data_head = require_file(path).read_bytes()[:8]
    if _looks_pickled(data_head):
        raise ModelFileError("not an .npz archive: it looks like a Python pickle, which is refused", file=path)
    if not data_head.startswith(ZIP_MAGIC):
        raise ModelFileError("not an .npz archive (corrupt, or another kind of file)", file=path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name, ndim in names.items():
                if name not in archive.files:
                    raise ModelFileError(f"the archive has no array {name!r} (it has {sorted(archive.files)})", file=path, field=name)
                value = archive[name]
                if not isinstance(value, np.ndarray):
                    raise ModelFileError("this member is not a numpy array (raw or pickled bytes are refused)", file=path, field=name)
                if value.dtype.kind not in "fiub":
                    raise ModelFileError(f"expected numbers, found dtype {value.dtype}", file=path, field=name)
                if value.ndim != ndim:
                    raise ModelFileError(f"expected a {ndim}-D array, found shape {value.shape}", file=path, field=name)
                arrays[name] = value
    except ModelFileError:
        raise
    except ValueError as exc:  # numpy refuses object arrays when allow_pickle=False
        reason = "it holds pickled (object) data, which is refused" if "pickle" in str(exc).lower() else str(exc)
        raise ModelFileError(f"cannot read the archive: {reason}", file=path) from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(f"cannot read the archive (truncated or corrupt?): {exc}", file=path) from None
    return arrays


def safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Check a safetensors file's structure without loading it: ``name -> (dtype, shape)``.

    The format is an 8-byte little-endian header length, a JSON header, then the tensor bytes; a
    pickle, a truncated file or a header pointing past the end of the file is refused.
    """
    size = require_file(path).stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if _looks_pickled(head) or head.startswith(ZIP_MAGIC):
            raise ModelFileError("not safetensors: it looks like a pickled or zipped PyTorch file, which is refused", file=path)
        if len(head) < 8:
            raise ModelFileError("not safetensors: the file is too short (truncated?)", file=path)
        (length,) = struct.unpack("<Q", head)
        if length > size - 8 or length > 100_000_000:
            raise ModelFileError("not safetensors: the header length is larger than the file (truncated or another format?)", file=path)
        try:
            header = json.loads(handle.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelFileError("not safetensors: the header is not JSON (corrupt?)", file=path) from None
    if not isinstance(header, dict):
        raise ModelFileError("not safetensors: the header is not a JSON object", file=path)
    body = size - 8 - length
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            tensors[name] = (str(info["dtype"]), tuple(int(d) for d in info["shape"]))
        except (TypeError, KeyError, ValueError):
            raise ModelFileError("not safetensors: a tensor entry is malformed", file=path, field=name) from None
        if not 0 <= start <= end <= body:
            raise ModelFileError("tensor data runs past the end of the file (truncated?)", file=path, field=name)
    return tensors


def no_pickled_weights(folder: Path, expected: str) -> None:
    """A weights file that must be safetensors: when missing, say whether a pickled one was (rightly) ignored."""
    path = folder / expected
    if path.exists():
        return
    pickled = [name for name in PICKLED_WEIGHTS if (folder / name).exists()]
    extra = f"; {pickled[0]} is there but pickled weights are refused (re-save with safetensors)" if pickled else ""
    raise ModelFileError(f"missing from the model folder{extra}", file=path)


def expect_shape(path: Path, name: str, shape: tuple[int, ...], expected: tuple[int | None, ...], what: str) -> None:
    """``shape`` must match ``expected`` (None = any size): a mismatch names the file, the array and the codes."""
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise ModelFileError(f"has shape {tuple(shape)}, expected {want} {what}", file=path, field=name)


def finite_numbers(values: Any, *, path: Path, field: str) -> list[float]:
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ModelFileError("expected a list of numbers", file=path, field=field)
    if not all(math.isfinite(v) for v in values):
        raise ModelFileError("holds a value that is not a finite number", file=path, field=field)
    return [float(v) for v in values]


TOKENIZER_VOCABS = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def check_hf_folder(folder: Path) -> dict[str, Any]:
    """A Hugging Face encoder folder: config and tokenizer files present and JSON, weights in intact safetensors.

    Without its tokenizer files ``transformers`` would quietly build an empty tokenizer (every word
    ``[UNK]``), so they are required. Returns the parsed config.json.
    """
    config = read_json(folder / "config.json")
    read_json(folder / "tokenizer_config.json")
    if (folder / "tokenizer.json").exists():
        read_json(folder / "tokenizer.json")
    if not any((folder / name).exists() for name in TOKENIZER_VOCABS):
        raise ModelFileError(f"the tokenizer's vocabulary is missing (none of {list(TOKENIZER_VOCABS)})", file=folder)
    for name in ("special_tokens_map.json", "config_sentence_transformers.json", "sentence_bert_config.json"):
        if (folder / name).exists():
            read_json(folder / name)
    no_pickled_weights(folder, "model.safetensors")
    safetensors_header(folder / "model.safetensors")
    check_onnx_exports(folder)
    return config


def read_component_meta(folder: str | Path, file_name: str, *, name_key: str, table: dict[str, str], kind: str,
                        format_version: int, required: tuple[str, ...] = ()) -> tuple[dict[str, Any], type]:
    """A saved component's metadata (``coder.json``, ``topic_model.json``) and its class, every part checked.

    The one reader coders and topic models share: the folder exists and holds the file; the file is
    JSON (never a pickle); ``required`` keys are present; its format version is one this package can
    read (files saved before versions were written count as version 1); the registered name is
    known; and the parameters are the class's own and accepted by its constructor. Anything else
    raises :class:`ModelFileError` naming the file and field, never a partial model.
    """

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError("not a saved model folder (no such folder)" if not folder.exists() else "not a saved model folder (a file)", file=folder)
    meta_path = folder / file_name
    if not meta_path.exists():
        raise ModelFileError(f"not a saved model folder (no {file_name})", file=folder)
    meta = read_json(meta_path)
    missing = [key for key in (name_key, "params", *required) if key not in meta]
    if missing:
        raise ModelFileError("a required key is missing", file=meta_path, field=missing[0])
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= format_version:
        raise ModelFileError(f"format version {shown(version)} is not one this lived-themes reads (1 to {format_version}); "
                             "a newer version saved it", file=meta_path, field="format_version")
    name = meta[name_key]
    if not isinstance(name, str) or name not in table:
        raise ModelFileError(f"unknown {kind} {shown(name)}; registered {kind}s: {sorted(table)}", file=meta_path, field=name_key)
    cls = _resolve(table, name, kind)
    params = meta["params"]
    if not isinstance(params, dict):
        raise ModelFileError("expected a JSON object of parameters", file=meta_path, field="params")
    unknown = sorted(set(params) - set(constructor_params(cls)))
    if unknown:
        raise ModelFileError(f"unknown parameter(s) {unknown} for {name}; it takes {constructor_params(cls)}", file=meta_path, field="params")
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"parameters rejected by {name}: {exc}", file=meta_path, field="params") from None
    return meta, cls
def check_onnx_exports(folder: Path, *, subfolder: str = "onnx") -> dict[str, Any] | None:
    """An encoder's ONNX exports (``coders/onnx_backend.py``): each file listed in ``export.json`` with its sha256.

    None when there is no export folder (exports are made on first use). A listed file that is missing
    or whose bytes changed, or an ``.onnx`` file the manifest does not list, is refused: a graph is
    only run when it is the one that was exported.
    """
    out = folder / subfolder
    if not out.exists():
        return None
    manifest_path = out / "export.json"
    manifest = read_json(manifest_path)
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ModelFileError("expected a JSON object of file name -> sha256", file=manifest_path, field="files")
    for name, expected in files.items():
        path = out / name
        if Path(name).name != name or not name.endswith(".onnx"):
            raise ModelFileError("a listed file must be a plain .onnx file name inside the export folder", file=manifest_path, field="files")
        if file_digest(require_file(path)) != expected:
            raise ModelFileError(f"does not match its sha256 in {subfolder}/export.json (changed or corrupt): delete the "
                                 f"{subfolder} folder to export again", file=path)
    unlisted = sorted(p.name for p in out.glob("*.onnx") if p.name not in files)
    if unlisted:
        raise ModelFileError(f"{unlisted[0]} is not listed in export.json, so it is not run: delete it or the {subfolder} folder",
                             file=out / unlisted[0])
    return manifest

"""What a model folder may hold, and the checksum that ties its codes to its weights. Standard library only.

- Only regular files and folders: a FIFO, a device or a socket (or a link to one) is refused before
  anything is read, and so is a symbolic link that leaves the folder (a model is its own files).
- ``coder.json`` records a SHA-256 of every file the coder saved (``files``) and one ``checksum`` over
  the coder name, parameters, codes, thresholds, single-label settings and those file hashes. A
  ``codes`` list reordered or edited by hand, or a weights file swapped, no longer matches and the
  model is refused: every prediction would otherwise carry the wrong code names.
- Settings that decide where text goes or is stored (:data:`RUNTIME_KEYS`) are the user's, given at run
  time; a saved model never holds them (:func:`without_runtime`), and one that does is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from lived_themes.errors import ModelFileError

#: Parameters that decide where quote text is sent or stored: run-time settings, never in a saved model.
RUNTIME_KEYS = ("allow_remote", "api_key_env", "base_url", "cache_dir")
#: What ``checksum`` covers in coder.json.
CHECKED_KEYS = ("coder", "params", "codes", "thresholds", "label_mode", "none_threshold", "files")
#: A folder with more entries than this is not a model folder (and is not walked further).
MAX_ENTRIES = 100_000


def file_kind(path: Path) -> str:
    """What ``path`` is, following links: "file", "folder", "missing", or a phrase for a special file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except (OSError, RuntimeError):
        return "a link that cannot be followed (a loop?)"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def check_model_files(folder: Path) -> None:
    """Refuse, before reading any of it, a folder holding a special file or a symbolic link that leaves it."""
    root = folder.resolve()
    stack, seen = [folder], 0
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            raise ModelFileError(f"cannot list this folder ({exc.strerror or type(exc).__name__})", file=current) from None
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                raise ModelFileError(f"holds more than {MAX_ENTRIES} files: not a saved model folder", file=folder)
            path = Path(entry.path)
            if entry.is_symlink():
                _check_link(path, root)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(path)
            elif not entry.is_file(follow_symlinks=False):
                raise ModelFileError(f"is {file_kind(path)}, not a regular file: refused before reading it", file=path)


def _check_link(path: Path, root: Path) -> None:
    kind = file_kind(path)
    if kind not in ("file", "folder", "missing"):
        target = os.readlink(path) if path.is_symlink() else "?"
        raise ModelFileError(f"is a symbolic link to {kind} ({target}), not a regular file: refused before reading it", file=path)
    try:
        target_path = path.resolve()
    except (OSError, RuntimeError):
        raise ModelFileError("is a symbolic link that cannot be followed (a loop?)", file=path) from None
    if kind != "missing" and not target_path.is_relative_to(root):
        raise ModelFileError(f"is a symbolic link to {target_path}, outside the model folder: refused (a model folder "
                             "must hold its own files; copy the file in instead)", file=path)


#: Digests of files whose stat has not changed since they were hashed in this process (see :func:`file_digest`).
_DIGESTS: dict[tuple[Any, ...], str] = {}
_MAX_DIGESTS = 4096
#: A file changed this recently is hashed again on every call: timestamps are coarse (a clock tick), so an edit of
#: the same size within one tick could keep its stat. git's "racy clean" rule.
RACY_SECONDS = 2.0


def file_digest(path: Path | str) -> str:
    """SHA-256 (hex) of a file's bytes; hashed once per process while its path, inode, size, mtime and ctime stay the same.

    Why: a model is verified on load and its exports again on first use, within the same second; a 90 MB
    encoder hashed three times cost more than coding a thousand comments on ONNX Runtime. Any write changes the
    size or a timestamp (ctime cannot be set back by a user), so a changed file is hashed again."""
    info = os.stat(path)
    key = (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    known = _DIGESTS.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if time.time() - max(info.st_mtime, info.st_ctime) > RACY_SECONDS:
        if len(_DIGESTS) >= _MAX_DIGESTS:
            _DIGESTS.clear()
        _DIGESTS[key] = value
    return value


def sha256_file(path: Path) -> str:
    return "sha256:" + file_digest(path)


def file_hashes(folder: Path, *, exclude: str) -> dict[str, str]:
    """``relative/posix/path -> sha256:...`` for every regular file under ``folder`` except ``exclude`` at its top."""
    out: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if name != exclude:
            out[name] = sha256_file(path)
    return out


def decision_checksum(meta: dict[str, Any]) -> str:
    """One SHA-256 over what decides the predictions' names and values (:data:`CHECKED_KEYS` of coder.json)."""
    covered = {key: meta.get(key) for key in CHECKED_KEYS}
    text = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(meta: dict[str, Any], folder: Path, *, exclude: str = "coder.json") -> dict[str, Any]:
    """``meta`` with ``files`` (a hash of each saved file) and the ``checksum`` over it, ready to write as coder.json."""
    sealed = {**meta, "files": file_hashes(folder, exclude=exclude)}
    sealed["checksum"] = decision_checksum(sealed)
    return sealed


def verify(meta: dict[str, Any], folder: Path, meta_path: Path) -> None:
    """Refuse a folder whose files or coder.json no longer match the checksum written when it was saved."""
    files, checksum = meta.get("files"), meta.get("checksum")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ModelFileError("expected a JSON object of file name -> sha256", file=meta_path, field="files")
    if not isinstance(checksum, str):
        raise ModelFileError("expected a sha256 checksum", file=meta_path, field="checksum")
    root = folder.resolve()
    for name, digest in sorted(files.items()):
        path = folder / name
        if not (folder / name).resolve().is_relative_to(root) or Path(name).is_absolute():
            raise ModelFileError(f"names a file outside the model folder ({name!r})", file=meta_path, field="files")
        if file_kind(path) != "file":
            raise ModelFileError("missing from the model folder (coder.json lists it among the saved files)", file=path)
        if sha256_file(path) != digest:
            raise ModelFileError("changed since the model was saved: its SHA-256 differs from the one in coder.json "
                                 "(re-save the model; never edit its files by hand)", file=path)
    if decision_checksum(meta) != checksum:
        raise ModelFileError("the codes, thresholds, parameters or single-label settings differ from those saved with the "
                             "weights (edited or reordered by hand?): refused, as every prediction would carry the wrong "
                             "code names or decisions; re-save the model from its run", file=meta_path, field="checksum")


def check_unchanged(folder: Path, digests: Mapping[str, str]) -> None:
    """Refuse files read after load (a lazily built network) that changed since the load checked them."""
    for name, digest in digests.items():
        if sha256_file(folder / name) != digest:
            raise ModelFileError("changed since the model was loaded: its SHA-256 differs from the one in coder.json "
                                 "(re-save the model; never edit its files by hand)", file=folder / name)


def runtime_key_in(params: Any, where: str = "") -> str | None:
    """The path of the first :data:`RUNTIME_KEYS` key anywhere in ``params`` (e.g. ``members[0].params.base_url``)."""
    if isinstance(params, dict):
        for key, value in params.items():
            path = f"{where}.{key}" if where else str(key)
            if key in RUNTIME_KEYS:
                return path
            found = runtime_key_in(value, path)
            if found:
                return found
    elif isinstance(params, list):
        for i, value in enumerate(params):
            found = runtime_key_in(value, f"{where}[{i}]")
            if found:
                return found
    return None


def without_runtime(params: Any) -> Any:
    """``params`` with every :data:`RUNTIME_KEYS` key removed, at any depth (an ensemble's members included)."""
    if isinstance(params, dict):
        return {k: without_runtime(v) for k, v in params.items() if k not in RUNTIME_KEYS}
    if isinstance(params, list):
        return [without_runtime(v) for v in params]
    return params

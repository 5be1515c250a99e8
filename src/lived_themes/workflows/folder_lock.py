"""One writer per folder: a lock file created with ``O_CREAT | O_EXCL``, holding the owner's pid and host.

Two ``review`` rounds started at once on the same folder would both read the same rounds log, both
become round N and overwrite each other's batch. The second is refused instead, with one line naming
the lock file and the process holding it. A lock left behind by a process that no longer runs on
this machine (a crash, a kill -9) is stale: it is removed and taken over, and that is logged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lived_themes.errors import InputError

log = logging.getLogger(__name__)

#: a lock file still empty after this many seconds belongs to a writer that died between create and write
EMPTY_GRACE_S = 10.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _owner(path: Path) -> dict[str, object] | None:
    """The lock's record, or None when the file is empty or unreadable (being written, or left half-written)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(path: Path) -> bool:
    owner = _owner(path)
    if owner is None:
        try:
            return time.time() - path.stat().st_mtime > EMPTY_GRACE_S
        except FileNotFoundError:
            return True
    if owner.get("host") != socket.gethostname():
        return False  # a process on another machine (a shared drive): cannot be checked, so it is respected
    pid = owner.get("pid")
    return not isinstance(pid, int) or not _alive(pid)


@contextmanager
def folder_lock(folder: Path, *, name: str = ".lock", what: str = "another process") -> Iterator[Path]:
    """Hold ``folder/name`` for the block; refused with an InputError naming the lock and its holder when taken."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
    for attempt in (1, 2):
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if attempt == 1 and _stale(path):
                log.warning("%s: removing a stale lock left by a process that no longer runs", path)
                path.unlink(missing_ok=True)
                continue
            owner = _owner(path) or {}
            holder = f"pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}" if owner else "a process starting up"
            raise InputError(f"{what} is running in this folder ({holder}); wait for it to finish, or delete the lock file "
                             "if that process is gone", file=path) from None
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(record)
        break
    try:
        yield path
    finally:
        if (_owner(path) or {}).get("pid") == os.getpid():  # never remove a lock another process took over
            path.unlink(missing_ok=True)

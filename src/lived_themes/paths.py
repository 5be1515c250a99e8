"""Input paths checked before anything is read from them.

A symlink loop, a broken symlink, a named pipe (which blocks forever when nobody writes to it), a
device (``/dev/zero`` never ends) or a folder the user may not list is named for what it is, with one
located line, instead of hanging, eating memory, or being reported as "file not found".
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from lived_themes.errors import InputError

_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _SPECIAL:
        if test(mode):
            return name
    return "not a regular file"


def _stat_error(path: Path, exc: OSError) -> InputError:
    """Why ``os.stat`` failed, in words: a loop and a dangling link are not "file not found"."""
    if exc.errno == errno.ELOOP:
        return InputError("is a symlink loop (the link leads back to itself); point it at a real file", file=path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InputError("permission denied: the file or one of its folders cannot be read; check the permissions", file=path)
    if os.path.islink(path):
        return InputError("is a broken symlink: its target does not exist", file=path)
    if exc.errno == errno.ENOTDIR:
        return InputError("file not found (a part of the path is a file, not a folder)", file=path)
    return InputError("file not found", file=path)


def input_file(source: str | Path, *, what: str = "a table file") -> Path:
    """``source`` as a regular file that may be read, or a located InputError that says what it is instead.

    Checked with ``stat`` only, so a FIFO or a device is refused before it is opened.
    """
    path = Path(source)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _stat_error(path, exc) from None
    except ValueError:  # an embedded NUL byte
        raise InputError("the path contains a NUL character", file=repr(str(path))) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"expected {what}, found a folder", file=path)
    if not stat.S_ISREG(info.st_mode):
        target = f" (a symlink to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise InputError(f"is {_kind(info.st_mode)}{target}, not a regular file; refused before reading: copy the data into a file",
                         file=path)
    return path


def input_folder(source: str | Path) -> set[str]:
    """The names in a folder that may be listed, or a located InputError (permission denied, a loop)."""
    folder = Path(source)
    try:
        return set(os.listdir(folder))
    except PermissionError:
        raise InputError("permission denied: the folder cannot be listed or read; check its permissions", file=folder) from None
    except OSError as exc:
        raise _stat_error(folder, exc) from None


def present(path: Path) -> bool:
    """True when something is at ``path``, even a symlink that leads nowhere (so it can be named, not skipped)."""
    return os.path.lexists(path)

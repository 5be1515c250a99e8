"""Errors that say where bad input is: the file, the row and the field.

Researchers fix spreadsheets by hand; an error that names the exact cell saves them a search.
"""

from __future__ import annotations

from pathlib import Path

#: ``row`` value for a problem in the header itself (a missing or unknown column): data rows start at 1.
HEADER_ROW = 0


class LivedThemesError(Exception):
    """Base class for every error the package raises on purpose."""


class InputError(LivedThemesError, ValueError):
    """Bad input data, located as precisely as we can: file, row (1-based, header excluded) and field.

    ``row=HEADER_ROW`` (0) places the problem in the header, for missing or unknown columns.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.reason = message
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if row is not None:
            where.append("header row" if row == HEADER_ROW else f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class ConfigError(LivedThemesError, ValueError):
    """An experiment configuration that cannot be run as written."""


class ParamError(ValueError):
    """A component parameter with a bad value; ``param`` names it, so a config error can give the full key path
    (``coders.1.params.C``)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        self.reason = message
        super().__init__(message)


class ModelFileError(LivedThemesError, ValueError):
    """A saved model folder that cannot be loaded as it is: names the file and what is wrong with it.

    Raised instead of loading a partial model: a missing file, a file that is not what it claims to
    be (a pickle where JSON is expected, a truncated safetensors file), or parts that disagree
    (thresholds or weights for a different number of codes).
    """

    def __init__(self, message: str, *, file: str | Path, field: str | None = None) -> None:
        self.file = str(file)
        self.field = field
        self.reason = message
        where = f"file {self.file}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


#: A cell is echoed in a message only when it is at most this long and holds no whitespace (an id or a
#: code name, not a sentence), so participants' words never reach a terminal or a log.
MAX_SHOWN_CHARS = 40


def shown(value: object) -> str:
    """How a cell value appears in an error message: ``'abc'`` when short and word-like, else a description.

    The one rule for echoing data in messages. A value longer than ``MAX_SHOWN_CHARS`` characters or
    holding whitespace may be quote text, so only its length is given: "a value of 87 characters".
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_SHOWN_CHARS and not any(ch.isspace() for ch in text):
        return repr(value) if isinstance(value, str) else text
    core = text.strip()
    if isinstance(value, str) and core and len(text) <= MAX_SHOWN_CHARS and not any(ch.isspace() for ch in core):
        # one word with stray spaces around it (' waiting'): an id or a code, shown so the space can be seen
        edges = [side for side, stray in (("leading", text[0].isspace()), ("trailing", text[-1].isspace())) if stray]
        return f"{value!r} (with a {' and a '.join(edges)} space)"
    return f"a value of {len(text)} characters (not shown: it may be quote text)"


def column_list(columns: object, *, limit: int = 20) -> str:
    """Column names for a "columns present" message: a name longer than ``MAX_SHOWN_CHARS`` is given by its length.

    A file read with the wrong encoding or delimiter turns a whole line, quotes and all, into one
    "column name"; the message then says how long it is and what to check, never what it says.
    """
    names = [str(c) for c in columns]  # type: ignore[attr-defined]
    parts = [repr(n) if len(n) <= MAX_SHOWN_CHARS else f"<a name of {len(n)} characters, not shown>" for n in names[:limit]]
    if len(names) > limit:
        parts.append(f"... {len(names) - limit} more")
    text = "[" + ", ".join(parts) + "]"
    if any(len(n) > MAX_SHOWN_CHARS for n in names):
        text += " (a very long column name usually means the file was read with the wrong encoding or delimiter)"
    return text

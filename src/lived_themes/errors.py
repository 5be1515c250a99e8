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

"""The versioned codebook: codes with definitions, inclusion/exclusion notes, examples and parents.

A run records the codebook's content hash, so a result can always be tied to the exact codebook
it was produced with, even when the version string was not bumped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lived_themes.errors import InputError
from lived_themes.files import load_yaml, write_text_atomic
from lived_themes.paths import input_file, present


class Theme(BaseModel):
    """A parent theme grouping several codes."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    definition: str = ""


class Code(BaseModel):
    """One code: what it means, what it includes and excludes, and examples of it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    definition: str = ""
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    parent: str | None = None

    @field_validator("id")
    @classmethod
    def _id_is_trimmed(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("code id has leading or trailing spaces")
        return value

    def description(self) -> str:
        """The text a zero-shot coder compares quotes against."""
        parts = [self.label, self.definition, *self.include]
        return ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip())


class Codebook(BaseModel):
    """A named, versioned list of codes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    codes: list[Code] = Field(min_length=1)
    themes: list[Theme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique_and_parents_known(self) -> Codebook:
        ids = [c.id for c in self.codes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate code ids: {dupes}")
        themes = {t.id for t in self.themes}
        for code in self.codes:
            if code.parent is not None and themes and code.parent not in themes:
                raise ValueError(f"code {code.id!r} names unknown parent theme {code.parent!r}")
        cycle = parent_cycle(self.codes)
        if cycle:
            raise ValueError(cycle)
        return self

    @property
    def code_ids(self) -> list[str]:
        return [c.id for c in self.codes]

    def code(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(f"no code {code_id!r} in codebook {self.name!r}")

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the content: stable across key order, YAML style and runs.

        Runs of whitespace count as one space and ends are trimmed, so re-wrapping a definition or
        choosing ``|``, ``>`` or ``>-`` block style does not make a "different" codebook.
        """
        canonical = json.dumps(_normalise(self.model_dump(mode="json")), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_markdown(self) -> str:
        """A Markdown table for papers and appendices."""

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ").strip()

        themes = {t.id: t.label for t in self.themes}
        lines = [
            f"**{cell(self.name)}** (version {cell(self.version)}, hash `{self.content_hash()[:12]}`)",
            "",
            "| Code | Label | Theme | Definition | Include | Exclude |",
            "|---|---|---|---|---|---|",
        ]
        for c in self.codes:
            theme = themes.get(c.parent or "", c.parent or "")
            lines.append(
                f"| `{cell(c.id)}` | {cell(c.label)} | {cell(theme)} | {cell(c.definition)} | "
                f"{cell('; '.join(c.include))} | {cell('; '.join(c.exclude))} |"
            )
        return "\n".join(lines) + "\n"

    @classmethod
    def from_codes(cls, codes: list[str], *, name: str = "codes", version: str = "0") -> Codebook:
        """A bare codebook for data that arrives with code names only (e.g. a one-hot file)."""
        return cls(name=name, version=version, codes=[Code(id=c, label=c) for c in codes])

    def to_yaml(self, path: str | Path) -> None:
        write_text_atomic(path, yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


def parent_cycle(codes: list[Code]) -> str | None:
    """Where code parents (a parent that is another code's id) loop back, in words with the key path; None when they do not.

    Followed iteratively, so a hierarchy thousands of levels deep is checked without recursion.
    """
    index = {c.id: i for i, c in enumerate(codes)}
    done: set[str] = set()
    for code in codes:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = code.id
        while current is not None and current in index and current not in done:
            if current in on_path:
                loop = path[path.index(current):] + [current]
                where = f"codes.{index[current]}.parent"
                if len(loop) == 2:
                    return f"{where}: code {current!r} is its own parent; remove the parent or name another code or theme"
                return f"{where}: code parents form a cycle ({' -> '.join(repr(c) for c in loop)}); a code cannot be its own ancestor"
            path.append(current)
            on_path.add(current)
            current = codes[index[current]].parent
        done.update(path)
    return None


def _normalise(value: object) -> object:
    """Whitespace-insensitive copy of dumped content, for hashing only."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook YAML file, naming the file and field on error."""
    path = Path(path)
    if present(path):
        input_file(path, what="a codebook YAML file")  # a FIFO, a device or a symlink loop is refused before reading
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))  # duplicate keys and alias bombs refused
    except FileNotFoundError:
        raise InputError("codebook file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("expected a codebook YAML file, found a folder", file=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"file is not UTF-8 (byte {exc.start})", file=path) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=path) from None
    if not isinstance(raw, dict):
        raise InputError("a codebook must be a YAML mapping with name, version and codes", file=path)
    try:
        return Codebook.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        msg = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{msg} ({exc.error_count()} problem(s) in all)", file=path, field=loc) from None

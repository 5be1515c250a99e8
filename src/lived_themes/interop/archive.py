"""Reading a REFI-QDA archive (.qdpx) safely: project files come from other people.

Nothing is extracted to disk. Members are read into memory under limits on count, size and
compression ratio (zip bombs); member names that climb out of the archive (zip-slip) and source
paths that point outside it (``file://``, absolute, ``..``) are refused with an error naming them.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lived_themes.errors import InputError

PROJECT_MEMBER = "project.qde"


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits that a real project stays far below (the NVivo 12 sample: 5 members, 2.5 MB, ratio 7.4)."""

    max_members: int = 10_000
    max_total_bytes: int = 1 << 30  # 1 GiB uncompressed in all
    max_member_bytes: int = 512 << 20
    max_ratio: float = 200.0  # uncompressed / compressed, checked on members over ratio_floor bytes
    ratio_floor: int = 1 << 20


DEFAULT_LIMITS = ArchiveLimits()
_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "climbs out of the archive with '..'"
    return None


class ProjectArchive:
    """An opened .qdpx: the project XML member and case-insensitive access to its sources."""

    def __init__(self, path: str | Path, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise InputError("project file not found", file=self.path) from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a REFI-QDA archive (.qdpx is a zip file): {exc}", file=self.path) from None
        self._check()
        self._by_lower = {info.filename.lower(): info for info in self._zip.infolist() if not info.is_dir()}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ProjectArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_members:
            raise InputError(f"archive holds {len(infos)} members, more than the limit {self.limits.max_members}", file=self.path)
        total = 0
        for info in infos:
            why = _unsafe_name(info.filename)
            if why:
                raise InputError(f"member {info.filename!r} {why} (zip-slip); refusing the archive", file=self.path, field=info.filename)
            if info.file_size > self.limits.max_member_bytes:
                raise InputError(f"member is {info.file_size} bytes uncompressed, over the limit {self.limits.max_member_bytes}", file=self.path, field=info.filename)
            if info.file_size > self.limits.ratio_floor:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > self.limits.max_ratio:
                    raise InputError(f"member compresses {ratio:.0f}:1, over the limit {self.limits.max_ratio:.0f}:1 (zip bomb?)", file=self.path, field=info.filename)
            total += info.file_size
            if total > self.limits.max_total_bytes:
                raise InputError(f"archive expands to more than {self.limits.max_total_bytes} bytes (zip bomb?)", file=self.path)

    def members(self) -> list[str]:
        """Names of the archive's files (folders left out)."""
        return [i.filename for i in self._zip.infolist() if not i.is_dir()]

    def project_member(self) -> str:
        """``project.qde`` per the standard; else the single ``.qde`` at the top (newer ATLAS.ti names it after the project)."""
        top = [i.filename for i in self._zip.infolist() if "/" not in i.filename.strip("/") and i.filename.lower().endswith(".qde")]
        exact = [n for n in top if n.lower() == PROJECT_MEMBER]
        if exact:
            return exact[0]
        if len(top) == 1:
            return top[0]
        if not top:
            raise InputError("no project.qde (or other .qde) at the top of the archive", file=self.path)
        raise InputError(f"several .qde files and none named project.qde: {sorted(top)}", file=self.path)

    def read(self, member: str) -> bytes:
        """A member's bytes, read in chunks so that a lying size header cannot exceed the limits."""
        info = self._by_lower.get(member.lower())
        if info is None:
            raise KeyError(member)
        chunks, size = [], 0
        with self._zip.open(info) as handle:
            while chunk := handle.read(1 << 20):
                size += len(chunk)
                if size > self.limits.max_member_bytes:
                    raise InputError("member expands past the size limit (zip bomb?)", file=self.path, field=info.filename)
                chunks.append(chunk)
        return b"".join(chunks)

    def source_member(self, uri: str, *, field: str) -> str | None:
        """The archive member an ``internal://`` path names (``Sources/`` or lowercase ``sources/``), or None if absent.

        Raises for paths that point outside the archive; returns None for ``relative://`` (external media by design).
        """
        kind, rel = classify_source_path(uri, archive=self.path, field=field)
        if kind == "external":
            return None
        for folder in ("sources/", ""):
            if (folder + rel).lower() in self._by_lower:
                return self._by_lower[(folder + rel).lower()].filename
        return None


def classify_source_path(uri: str, *, archive: Path, field: str) -> tuple[str, str]:
    """("internal", member path) or ("external", path); a path that escapes the archive is an InputError."""
    text = uri.strip()
    lower = text.lower()
    if lower.startswith("internal://"):
        rel = text[len("internal://"):]
        kind = "internal"
    elif lower.startswith("relative://"):
        rel = text[len("relative://"):].lstrip("/")
        kind = "external"
    elif "://" in text or lower.startswith("file:"):
        raise InputError(f"source path uses {text.split(':', 1)[0]!r}: sources must be inside the archive (internal://)", file=archive, field=field)
    else:
        rel = text
        kind = "internal"
    if rel.startswith(("/", "\\")) or _DRIVE.match(rel):
        raise InputError("source path is absolute: sources must be inside the archive", file=archive, field=field)
    parts = re.split(r"[\\/]", rel)
    if ".." in parts:
        raise InputError("source path climbs out of the archive with '..'", file=archive, field=field)
    rel = posixpath.normpath(str(PurePosixPath(*[p for p in parts if p not in ("", ".")]) if rel else ""))
    return kind, rel

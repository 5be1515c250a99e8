"""Small REFI-QDA files shaped like each vendor's, built in memory for the interop tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

#: ../shared beside the checkout (or beside the folder of worktrees that holds it)
SHARED_REFI = next((p for p in (Path(__file__).resolve().parents[n] / "shared" / "datasets" / "refi_qda" for n in (3, 4)) if p.exists()),
                   Path(__file__).resolve().parents[3] / "shared" / "datasets" / "refi_qda")
NS = "urn:QDA-XML:project:1.0"


def G(n: int) -> str:
    """A GUID, readable in tests."""
    return f"00000000-0000-4000-8000-{n:012d}"


def project_xml(body: str, *, origin: str = "NVivo for Windows 12.6", name: str = "study") -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{NS}" name="{name}" origin="{origin}">{body}</Project>'


def users(*names: str) -> str:
    return "<Users>" + "".join(f'<User guid="{G(900 + i)}" name="{n}"/>' for i, n in enumerate(names)) + "</Users>"


def user(i: int) -> str:
    return G(900 + i)


def codes(*names: str, nested: dict[str, list[str]] | None = None) -> str:
    """Flat codes G(100+i); ``nested`` puts children (G(200+j)) under a named code, NVivo style."""
    nested = nested or {}
    out, j = [], 0
    for i, n in enumerate(names):
        kids = ""
        for child in nested.get(n, []):
            kids += f'<Code guid="{G(200 + j)}" name="{child}" isCodable="true"/>'
            j += 1
        out.append(f'<Code guid="{G(100 + i)}" name="{n}" isCodable="true"><Description>about {n}</Description>{kids}</Code>')
    return "<CodeBook><Codes>" + "".join(out) + "</Codes></CodeBook>"


def selection(n: int, start: int, end: int, *codings: tuple[str, int]) -> str:
    """A PlainTextSelection with codings (code guid, user index)."""
    inner = "".join(f'<Coding guid="{G(5000 + n * 10 + k)}" creatingUser="{user(u)}"><CodeRef targetGUID="{c}"/></Coding>'
                    for k, (c, u) in enumerate(codings))
    return f'<PlainTextSelection guid="{G(3000 + n)}" startPosition="{start}" endPosition="{end}" creatingUser="{user(0)}">{inner}</PlainTextSelection>'


def text_source(n: int, name: str, selections: str = "", *, path: str | None = None, extra: str = "") -> str:
    path = path if path is not None else f"internal://{G(n)}.txt"
    return f'<TextSource guid="{G(n)}" name="{name}" plainTextPath="{path}">{extra}{selections}</TextSource>'


def encode(text: str, *, bom: bool, crlf: bool) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def write_qdpx(path: Path, xml: str, files: dict[str, bytes], *, member: str = "project.qde") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, xml.encode("utf-8"))
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def utf16_offset(text: str, index: int) -> int:
    """How NVivo counts: UTF-16 code units before ``index``."""
    return len(text[:index].encode("utf-16-le")) // 2


@pytest.fixture
def shared_refi() -> Path:
    if not SHARED_REFI.exists():
        pytest.skip("../shared/datasets/refi_qda is not present")
    return SHARED_REFI


@pytest.fixture
def refi():
    """These builders, as a module (tests run with --import-mode=importlib, so conftest is not importable)."""
    import sys

    return sys.modules[__name__]

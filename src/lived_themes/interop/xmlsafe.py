"""XML from other people's files, parsed with defusedxml: no DTDs, no entity expansion, no external entities.

Namespaces vary between vendors and versions (``urn:QDA-XML:codebook:1.0``, ``...:1:0``, ``...:0:4``),
so readers match elements on their local name: lenient on read, strict on write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from lived_themes.errors import InputError


def parse_xml(data: bytes, *, file: str | Path, member: str | None = None) -> Element:
    """The root element; hostile constructs and malformed XML become an InputError naming the file (and member)."""
    import defusedxml.ElementTree as safe_et
    from defusedxml import DefusedXmlException
    from xml.etree.ElementTree import ParseError

    try:
        return safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        kind = type(exc).__name__
        raise InputError(f"refused: the XML declares a DTD or entities ({kind}); REFI-QDA files need neither", file=file, field=member) from None
    except ParseError as exc:
        raise InputError(f"not well-formed XML ({exc})", file=file, field=member) from None


def local(tag: object) -> str:
    """``{namespace}Name`` -> ``Name``."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> list[Element]:
    return [c for c in element if local(c.tag) == name]


def child(element: Element, name: str) -> Element | None:
    for c in element:
        if local(c.tag) == name:
            return c
    return None


def child_text(element: Element, name: str) -> str:
    found = child(element, name)
    return (found.text or "") if found is not None else ""


def descendants(element: Element, name: str) -> Iterator[Element]:
    for e in element.iter():
        if local(e.tag) == name:
            yield e

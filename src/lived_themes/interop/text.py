"""Source text as the QDA program saw it, and its offsets.

NVivo counts ``startPosition``/``endPosition`` in UTF-16 code units of the ``.txt`` as shipped, BOM
removed, CRLF counted as two; a character outside the Basic Multilingual Plane (an emoji) is two units
there and one Python character. Other programs count characters. Offsets are converted to Python
positions once, here, so every segment is sliced verbatim from its source.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from pathlib import Path

from lived_themes.errors import InputError

OFFSET_UNITS = ("auto", "chars", "utf16")


def decode_source(data: bytes, *, file: str | Path, member: str) -> str:
    """Text of a source file: a BOM picks the encoding and is removed; otherwise UTF-8. Line endings are kept."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], "utf-8"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"source text is not {encoding.upper()} (byte {exc.start})", file=file, field=member) from None


def offset_unit_for(origin: str, requested: str) -> str:
    """The offset unit to read with: as requested, or from the program that wrote the file."""
    if requested not in OFFSET_UNITS:
        raise ValueError(f"offsets must be one of {OFFSET_UNITS}")
    if requested != "auto":
        return requested
    lowered = origin.lower()
    if lowered.startswith("lived-themes "):  # our own export says which unit it used (its codebook source may name NVivo)
        return "utf16" if "offsets=utf16" in lowered else "chars"
    return "utf16" if ("nvivo" in lowered or "offsets=utf16" in lowered) else "chars"


class OffsetMap:
    """Converts a program's offsets into Python string positions (and back, for writing)."""

    def __init__(self, text: str, unit: str) -> None:
        self.text = text
        self.unit = unit
        self._u16: list[int] | None = None
        if unit == "utf16" and any(ord(ch) > 0xFFFF for ch in text):
            positions, at = [0], 0
            for ch in text:
                at += 2 if ord(ch) > 0xFFFF else 1
                positions.append(at)
            self._u16 = positions

    @property
    def length(self) -> int:
        return self._u16[-1] if self._u16 is not None else len(self.text)

    def to_python(self, offset: int) -> int | None:
        """Python position, or None when the offset is outside the text or splits a character in two."""
        if offset < 0 or offset > self.length:
            return None
        if self._u16 is None:
            return offset
        index = bisect_left(self._u16, offset)
        return index if self._u16[index] == offset else None

    def from_python(self, index: int) -> int:
        return self._u16[index] if self._u16 is not None else index


def on_word_boundary(text: str, index: int) -> bool:
    """True at the ends of the text and wherever a letter or digit does not continue across ``index``."""
    return index <= 0 or index >= len(text) or not (text[index - 1].isalnum() and text[index].isalnum())


_LINE = re.compile(r"[^\r\n]+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(\s+)")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """One span per non-blank line, whitespace trimmed: Word, NVivo and MAXQDA write a paragraph per line."""
    spans = (_trimmed(text, m.start(), m.end()) for m in _LINE.finditer(text))
    return [s for s in spans if s is not None]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences inside each paragraph: a break after . ! ? or … (and closing quotes) followed by whitespace."""
    spans: list[tuple[int, int]] = []
    for p_start, p_end in paragraph_spans(text):
        start = p_start
        for m in _SENTENCE_END.finditer(text, p_start, p_end):
            piece = _trimmed(text, start, m.start(1))
            if piece:
                spans.append(piece)
            start = m.end(1)
        piece = _trimmed(text, start, p_end)
        if piece:
            spans.append(piece)
    return spans

"""Markdown structure of a consultation report: markup, headings as section paths, display quotes.

Reports reach us as PDF-to-Markdown conversions, so heading levels are unreliable (a numbered
chapter may appear as ``##`` and its sibling as ``###``). The section tracker therefore reads the
numbering and the document's title/contents headings rather than trusting ``#`` counts alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_LINE_RE = re.compile(r"^\s*(\*{2,3}|_{2,3})(?P<title>[^*_\s].{0,148}?)\1\s*$")
_NUMBERED_RE = re.compile(r"^(\d+)\.?\s+\S")
_CONTENTS_RE = re.compile(r"^(table of )?contents$", re.IGNORECASE)
_LEAD_RE = re.compile(r"^\s*(?:>\s*)*(?:(?:[-+*]|\d+[.)])\s+(?=\S))?")
_TAG_RE = re.compile(r"</?(?:b|i|em|strong|u)\s*>", re.IGNORECASE)
_ESCAPED_RE = re.compile(r"\\([\\`*_\[\]()#+\-.!\"'])")
_EMPHASIS_RE = re.compile(r"\*+|(?<!\w)_{1,3}(?=\S)|(?<=\S)_{1,3}(?!\w)")
FOOTNOTE_RE = re.compile(r"^\s*(?:\[\^[^\]]+\]:|<sup>)")
FENCE_RE = re.compile(r"^\s*(```|~~~)")

#: Opening quote mark -> the closing marks accepted for it (converted text mixes straight and curly).
QUOTE_PAIRS = {"“": "”\"", '"': '"”', "‘": "’'", "'": "'’"}
#: Closing quote marks (any of them may end a quotation; the pair is checked against QUOTE_PAIRS).
_CLOSERS = "”\"’'"
_PUNCT = ".,;:!?"
_WORD_RE = re.compile(r"\w")
_NOTE_ONLY_RE = re.compile(r"^\[(?P<note>[^\[\]]+)\]\s*$")


def strip_markup(text: str) -> str:
    """Remove emphasis (``*``, ``_``) and simple HTML tags but keep every character the speaker said."""
    escaped: list[str] = []

    def hide(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\uf000{len(escaped) - 1}\uf001"

    text = _ESCAPED_RE.sub(hide, text)
    text = _EMPHASIS_RE.sub("", _TAG_RE.sub("", text))
    return re.sub("\uf000(\\d+)\uf001", lambda m: escaped[int(m.group(1))], text)


def line_content(line: str) -> str:
    """A line without blockquote/list markers and markup, so a quote inside a list item is still seen."""
    return strip_markup(_LEAD_RE.sub("", line, count=1)).strip()


def clean_title(raw: str) -> str:
    """A heading's plain text: markup, surrounding space and a trailing colon removed."""
    return re.sub(r"\s+", " ", strip_markup(raw)).strip().rstrip(":").strip()


def bold_line_title(line: str) -> str | None:
    """The text of a paragraph that is only bold text (used in reports as an unmarked heading)."""
    match = _BOLD_LINE_RE.match(line)
    return clean_title(match.group("title")) if match else None


@dataclass
class DisplayQuote:
    """A paragraph that is a quotation from start to end, with the bracket that may follow it."""

    body: str
    note: str | None


def match_display_quote(text: str) -> DisplayQuote | None:
    """Match a whole paragraph (markup already stripped) as a quotation; prose with a quote inside fails.

    The shape is ``<open> body <close> [punctuation] [ [note] ]``. It is read from the end, once
    (linear time: a regex with a greedy body backtracked quadratically on a long line whose
    quotation is never closed): an optional trailing ``[note]``, then punctuation, then the closing
    mark, which must pair with the opening one; the body must hold a word character.
    """
    s = text.strip()
    if len(s) < 3 or s[0] not in QUOTE_PAIRS:
        return None
    end, note = len(s), None
    if s.endswith("]"):
        start = s.rfind("[")
        inner = s[start + 1 : -1] if start > 0 else ""
        if not inner or "]" in inner:
            return None
        note, end = inner, len(s[:start].rstrip())
    while end > 1 and s[end - 1] in _PUNCT:
        end -= 1
    close = end - 1
    if close < 1 or s[close] not in _CLOSERS or s[close] not in QUOTE_PAIRS[s[0]]:
        return None
    raw_body = s[1:close]
    if not _WORD_RE.search(raw_body):
        return None
    body = re.sub(r"\s+", " ", raw_body).strip()
    return DisplayQuote(body=body, note=note.strip() if note else None)


def match_note_line(text: str) -> str | None:
    """The bracket text of a line that holds only a bracket, e.g. a notation on the line after a quote."""
    match = _NOTE_ONLY_RE.match(text.strip())
    return match.group("note").strip() if match else None


@dataclass
class _Heading:
    level: int
    title: str
    numbered: bool = False
    pseudo: bool = False


@dataclass
class SectionTracker:
    """Keeps the heading path while the report is read top to bottom."""

    stack: list[_Heading] = field(default_factory=list)
    _seen_heading: bool = False
    _seq_level: int | None = None
    _seq_last: int = 0

    @property
    def path(self) -> str:
        return " > ".join(h.title for h in self.stack)

    def heading(self, md_level: int, raw: str) -> None:
        """Enter a ``#`` heading; the first level-1 heading is the document title and is left out of paths."""
        title = clean_title(raw)
        if not title:
            return
        first, self._seen_heading = not self._seen_heading, True
        if first and md_level == 1:
            return
        if _CONTENTS_RE.match(title):  # a table of contents is never a parent of real sections
            self._push(_Heading(7, title))
            return
        numbered = _NUMBERED_RE.match(title)
        if numbered:
            n = int(numbered.group(1))
            if self._seq_level is not None and n == self._seq_last + 1:
                level = self._seq_level  # numbered siblings share a level whatever their '#' count
            else:
                self._seq_level, level = md_level, md_level
            self._seq_last = n
            self._push(_Heading(level, title, numbered=True))
            return
        if self._seq_level is not None and md_level >= self._seq_level:
            self._push(_Heading(md_level + 1, title))  # an unnumbered heading inside a numbered chapter
            return
        self._seq_level = None
        self._push(_Heading(md_level, title))

    def pseudo_heading(self, title: str) -> None:
        """Enter a bold-only paragraph as a heading: sibling of a subheading, child of a chapter."""
        top = self.stack[-1] if self.stack else None
        if top is None:
            level = 2
        elif top.pseudo or (not top.numbered and top.level > 2 and top.level < 7):
            level = top.level
        else:
            level = min(top.level + 1, 7)
        self._push(_Heading(level, title, pseudo=True))

    def _push(self, heading: _Heading) -> None:
        while self.stack and self.stack[-1].level >= heading.level:
            self.stack.pop()
        self.stack.append(heading)

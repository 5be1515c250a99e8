"""Consultation report (Markdown) -> one row per verbatim quote, with section, line and speaker.

A verbatim quote is a *display* quotation: a paragraph (or a line of a list item) that is a
quotation from its opening mark to its closing mark, optionally followed by a bracketed speaker
notation on the same line or on the next non-blank line. Quoted phrases inside the author's prose,
footnotes or questions are therefore never extracted, which is what the issue asks: they are the
author's words around the participant's. Following the report's own convention, a quote without a
speaker notation is a survey response.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.extract.markdown import (
    FENCE_RE,
    FOOTNOTE_RE,
    HEADING_RE,
    QUOTE_PAIRS,
    SectionTracker,
    bold_line_title,
    clean_title,
    line_content,
    match_display_quote,
    match_note_line,
)
from lived_themes.extract.notation import NotationParser, Speaker, focus_group_aliases, load_pipeline
from lived_themes.files import atomic_output

__all__ = ["COLUMNS", "extract_quotes", "read_report", "write_quotes_jsonl"]

logger = logging.getLogger(__name__)

COLUMNS = ["quote_id", "text", "source", "section", "line", "speaker_notation", "gender", "focus_group", "group_detail"]
_GENERIC_STEMS = {"report", "index", "readme", "main", "document", "text", "consultation"}
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s+\S")


def read_report(path: str | Path) -> list[str]:
    """The report's lines; errors name the file, because a CLI user passes many paths."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"consultation report not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"consultation report {path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    return text.lstrip("\ufeff").splitlines()


def slugify(text: str) -> str:
    """A stable id prefix from a file stem: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "quote"


def default_prefix(report_path: str | Path) -> str:
    """The file stem as a slug, or the folder's name when the stem says nothing (``nsun2014/report.md``)."""
    path = Path(report_path)
    stem = slugify(path.stem)
    if stem in _GENERIC_STEMS and slugify(path.resolve().parent.name) != "quote":
        return slugify(path.resolve().parent.name)
    return stem


def extract_quotes(report_path: str | Path, *, pipeline: str | None = None, id_prefix: str | None = None) -> pd.DataFrame:
    """Every verbatim quote of a consultation report, in document order (see the module docstring).

    ``pipeline`` names an installed spaCy pipeline to tokenise notations with; by default a blank
    English pipeline is used, so nothing needs downloading. ``id_prefix`` defaults to the file stem
    (or its folder's name for a generic stem such as ``report``), so ids read e.g. ``nsun2014-001``.
    """
    lines = read_report(report_path)
    prefix = id_prefix if id_prefix is not None else default_prefix(report_path)
    headings = [(len(m.group(1)), clean_title(m.group(2))) for m in map(HEADING_RE.match, lines) if m]
    parser = NotationParser(load_pipeline(pipeline), focus_group_aliases(headings))
    rows = [_row(f"{prefix}-{n:03d}", *found) for n, found in enumerate(_scan(lines, parser), start=1)]
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # object keeps None as None (pandas 3 str would make NaN)
    frame["line"] = frame["line"].astype(int)
    n_survey = int((frame["source"] == "survey").sum()) if len(frame) else 0
    logger.info("extracted %d quotes (%d focus group, %d survey) from %s", len(frame), len(frame) - n_survey, n_survey, Path(report_path).name)
    return frame


def _scan(lines: list[str], parser: NotationParser) -> list[tuple[str, str, int, Speaker | None]]:
    """Walk the report once, tracking sections; yields (text, section, line, speaker) per quote."""
    tracker = SectionTracker()
    found: list[tuple[str, str, int, Speaker | None]] = []
    consumed: set[int] = set()
    in_fence = False
    for i, line in enumerate(lines):
        if FENCE_RE.match(line):
            in_fence = not in_fence
        if in_fence or i in consumed or not line.strip() or FOOTNOTE_RE.match(line):
            continue
        heading = HEADING_RE.match(line)
        if heading:
            tracker.heading(len(heading.group(1)), heading.group(2))
            continue
        content = line_content(line)
        if content[:1] not in QUOTE_PAIRS:
            title = bold_line_title(line)
            if title and _blank(lines, i - 1) and _blank(lines, i + 1):
                tracker.pseudo_heading(title)
            continue
        end = _paragraph_end(lines, i)
        quote = match_display_quote(" ".join(line_content(x) for x in lines[i:end]))
        if quote is None:
            continue
        consumed.update(range(i, end))
        speaker = parser.parse(quote.note) if quote.note else None
        if quote.note is None:
            speaker, used = _next_line_notation(lines, end, parser)
            consumed.update(used)
        found.append((quote.body, tracker.path, i + 1, speaker))
    return found


def _blank(lines: list[str], i: int) -> bool:
    return i < 0 or i >= len(lines) or not lines[i].strip()


def _paragraph_end(lines: list[str], start: int) -> int:
    """Index after the paragraph's last line: stops at a blank line, heading or new list item."""
    end = start + 1
    while end < len(lines) and lines[end].strip() and not HEADING_RE.match(lines[end]) and not _LIST_ITEM_RE.match(lines[end]):
        end += 1
    return end


def _next_line_notation(lines: list[str], start: int, parser: NotationParser) -> tuple[Speaker | None, list[int]]:
    """A notation printed on its own on the next non-blank line belongs to the quote above it."""
    j = start
    while j < len(lines) and not lines[j].strip():
        j += 1
    note = match_note_line(line_content(lines[j])) if j < len(lines) else None
    speaker = parser.parse(note) if note else None
    return (speaker, [j]) if speaker else (None, [])


def _row(quote_id: str, text: str, section: str, line: int, speaker: Speaker | None) -> dict[str, Any]:
    if speaker is None:
        return {"quote_id": quote_id, "text": text, "source": "survey", "section": section, "line": line,
                "speaker_notation": None, "gender": None, "focus_group": "survey", "group_detail": None}
    return {"quote_id": quote_id, "text": text, "source": "focus_group", "section": section, "line": line,
            "speaker_notation": speaker.notation, "gender": speaker.gender, "focus_group": speaker.group,
            "group_detail": speaker.detail}


def write_quotes_jsonl(df: pd.DataFrame, path: str | Path) -> None:
    """One JSON object per quote (UTF-8, readable non-ASCII), missing values as null, so diffs stay clean."""

    with atomic_output(path, newline="\n") as handle:  # a crash leaves the old file, never a partial one
        for record in df.to_dict(orient="records"):
            handle.write(json.dumps({k: _plain(v) for k, v in record.items()}, ensure_ascii=False) + "\n")


def _plain(value: Any) -> Any:
    """JSON-safe scalars: NaN/NA -> None, numpy numbers -> Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value

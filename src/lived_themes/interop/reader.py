"""``import``: a REFI-QDA project (.qdpx, or a bare .qde) -> a Corpus whose quotes are coded segments,
paragraphs, sentences or whole documents, coded per user (coder), with case variables as group columns.

Nothing is dropped silently: codings that cannot be placed (source text absent, offsets outside the
text, unknown code) go to ``corpus.set_aside`` with the reason, and the report counts everything read.
Texts never appear in the report or in errors; sources are named by their name and guid.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.corpus.model import NO_CODE, Corpus, LoadReport
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.errors import InputError
from lived_themes.interop.archive import DEFAULT_LIMITS, ArchiveLimits, ProjectArchive, classify_source_path
from lived_themes.interop.codes import codebook_from_refi
from lived_themes.interop.project import Note, Project, TextDoc, read_project
from lived_themes.interop.text import OffsetMap, decode_source, offset_unit_for, on_word_boundary, paragraph_spans, sentence_spans
from lived_themes.interop.xmlsafe import parse_xml

UNITS = ("segment", "paragraph", "sentence", "document")
#: codes with fewer coded quotes than this are named in the import's warning and report
SPARSE_BELOW = 5
#: columns every imported quote has; case variables follow them
BASE_COLUMNS = [QUOTE_ID, TEXT, "source", "source_guid", "start", "end"]


@dataclass
class ImportResult:
    """The corpus, the full source texts (for a faithful export back) and a text-free report."""

    corpus: Corpus
    sources: pd.DataFrame  # guid, name, text
    report: dict[str, Any] = field(default_factory=dict)
    #: what an export needs to merge back: GUIDs of users and codes, colours, source dates, memos (refi_project.json)
    ids: dict[str, Any] = field(default_factory=dict)


def origin_metadata(origin: str) -> dict[str, str]:
    """``key=value`` pairs in the origin of a project that lived-themes wrote (``codebook-version``, ``codebook-source``)."""
    from urllib.parse import unquote

    if not origin.startswith("lived-themes ") or "(" not in origin:
        return {}
    inside = origin[origin.index("(") + 1:].rstrip(")")
    pairs = (part.strip().partition("=") for part in inside.split(";"))
    return {key: unquote(value) for key, sep, value in pairs if sep and key}


def _is_zip(path: Path) -> bool:
    """A zip by its first bytes (a local header, or the end record of an empty archive); a .qdpx must be one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise InputError("project file not found", file=path) from None
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        return True
    if path.suffix.lower() == ".qdpx":
        raise InputError("not a REFI-QDA archive: a .qdpx is a zip file and this one does not start like one "
                         "(export the project again, or give the bare .qde XML)", file=path)
    return False


def _load_project(path: Path, limits: ArchiveLimits) -> tuple[Project, ProjectArchive | None]:
    if _is_zip(path):
        archive = ProjectArchive(path, limits=limits)
        if not archive.members():
            archive.close()
            raise InputError("the archive is empty: a .qdpx holds project.qde and its Sources/", file=path)
        member = archive.project_member()
        root = parse_xml(archive.read(member), file=path, member=member)
        return read_project(root, file=path), archive
    data = path.read_bytes()
    if len(data) > limits.max_member_bytes:
        raise InputError(f"project XML is {len(data)} bytes, over the limit {limits.max_member_bytes}", file=path)
    return read_project(parse_xml(data, file=path), file=path), None


def _doc_text(doc: TextDoc, archive: ProjectArchive | None, path: Path) -> tuple[str | None, str]:
    """(text, "") or (None, why it is missing). Paths that leave the archive raise."""
    if doc.content is not None and doc.path is None:
        return doc.content, ""
    if not doc.path:
        return None, "the source names no plainTextPath"
    kind, rel = classify_source_path(doc.path, archive=path, field=f"{doc.where}@plainTextPath")
    if kind == "external":
        return None, "external source (relative://), outside the archive: not read"
    if archive is None:
        return (doc.content, "") if doc.content is not None else (None, "project XML without its archive: source text absent")
    member = archive.source_member(doc.path, field=f"{doc.where}@plainTextPath")
    if member is None:
        return (doc.content, "") if doc.content is not None else (None, f"text file {rel!r} not in the archive")
    return decode_source(archive.read(member), file=path, member=member), ""


def _note_text(note: Note, archive: ProjectArchive | None, path: Path) -> str | None:
    """A memo's text, inline or from the archive; None when it cannot be read (the export then leaves it out)."""
    if note.content is not None:
        return note.content
    if not note.path or archive is None:
        return None
    try:
        kind, _ = classify_source_path(note.path, archive=path, field="Notes/Note@plainTextPath")
        member = archive.source_member(note.path, field="Notes/Note@plainTextPath") if kind != "external" else None
        return decode_source(archive.read(member), file=path, member=member) if member is not None else None
    except InputError:
        return None


def merge_ids(project: Project, code_ids: dict[str, str], archive: ProjectArchive | None, path: Path) -> dict[str, Any]:
    """The imported project's identities and what REFI-QDA lets an export write back, keyed as the corpus names things."""
    memos = []
    for note in project.memos:
        text = _note_text(note, archive, path)
        if note.guid and text is not None:
            memos.append({"guid": note.guid, "name": note.name, "attrs": note.attrs, "text": text})
    return {
        "project": project.attrs,
        "users": {name: guid for guid, name in project.users.items() if guid},
        "codes": {code_ids[c.guid]: {"guid": c.guid, "color": c.color, "notes": c.notes}
                  for c in project.codes if c.guid in code_ids},
        "sources": {d.guid: {"attrs": d.attrs, "notes": d.notes, "description": d.description} for d in project.docs if d.guid},
        "memos": memos,
    }


def _group_values(project: Project) -> tuple[dict[str, dict[str, object]], list[str], list[str]]:
    """Per source guid, its group columns: case name(s), case and source variables, and sets ('name: value' sets as variables)."""
    per: dict[str, dict[str, list[object]]] = {}
    notes: list[str] = []

    def add(guid: str | None, column: str, value: object) -> None:
        if guid is None or value is None:
            return
        values = per.setdefault(guid, {}).setdefault(column, [])
        if value not in values:
            values.append(value)

    for doc in project.docs:
        for name, value in doc.variables.items():
            add(doc.guid, name, value)
    for case in project.cases:
        for guid in case["sources"]:
            add(guid, "case", case["name"])
            for name, value in case["variables"].items():
                add(guid, name, value)
    set_vars = 0
    for item in project.sets:
        name = str(item["name"])
        match = re.match(r"^\s*([^:]+?)\s*:\s*(.+?)\s*$", name)
        for guid in item["sources"]:
            if match:
                add(guid, match.group(1), match.group(2))
            else:
                add(guid, "set", name)
        set_vars += bool(match and item["sources"])
    if set_vars:
        notes.append(f"{set_vars} set(s) named 'variable: value' read as variables")
    columns: list[str] = []
    flat: dict[str, dict[str, object]] = {}
    for guid, values in per.items():
        flat[guid] = {}
        for column, found in values.items():
            column = column if column not in BASE_COLUMNS else f"var_{column}"
            if column not in columns:
                columns.append(column)
            flat[guid][column] = found[0] if len(found) == 1 else "; ".join(sorted(str(v) for v in found))
    multi = sorted({c for v in per.values() for c, f in v.items() if len(f) > 1})
    if multi:
        notes.append(f"sources with several values of {multi} keep them joined with '; '")
    return flat, columns, notes


def _unit_spans(text: str, unit: str, selections: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if unit == "segment":
        return sorted(set(selections))
    if unit == "paragraph":
        return paragraph_spans(text)
    if unit == "sentence":
        return sentence_spans(text)
    return [(0, len(text))] if text.strip() else []


def import_project(path: str | Path, *, unit: str = "segment", offsets: str = "auto",
                   limits: ArchiveLimits = DEFAULT_LIMITS, name: str | None = None) -> ImportResult:
    """Read a REFI-QDA project into a Corpus (see the module docstring); ``offsets`` is auto, chars or utf16."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    path = Path(path)
    project, archive = _load_project(path, limits)
    try:
        result = _build(project, archive, path, unit=unit, offset_unit=offset_unit_for(project.origin, offsets), name=name)
        _, code_ids, _ = codebook_from_refi(project.codes, name=project.name, version="1")
        result.ids = merge_ids(project, code_ids, archive, path)
        return result
    finally:
        if archive is not None:
            archive.close()


def _build(project: Project, archive: ProjectArchive | None, path: Path, *, unit: str, offset_unit: str, name: str | None) -> ImportResult:
    meta = origin_metadata(project.origin)
    book, code_ids, notes = codebook_from_refi(project.codes, name=project.name, version=meta.get("codebook-version") or project.modified or "1",
                                                source=meta.get("codebook-source") or path.name, description=project.description)
    groups, group_columns, group_notes = _group_values(project)
    notes += project.notes + group_notes
    users = project.users
    requested = unit
    if unit == "segment" and not any(s.codings for d in project.docs for s in d.selections):
        # an uncoded project has no segments: its quotes are paragraphs, said in the report, never 0 quotes in silence
        unit = "paragraph"
        notes.append("the project has no coded text selections: quotes are paragraphs (unit paragraph), uncoded, "
                     "ready for review or a zero-shot coder")
    quotes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    aside: list[dict[str, Any]] = []
    sources: list[dict[str, str]] = []
    missing: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    doc_names: Counter[str] = Counter()
    for doc in project.docs:
        n_codings = sum(len(s.codings) for s in doc.selections)
        counts["selections"] += len(doc.selections)
        counts["codings"] += n_codings
        counts["selections_without_codings"] += sum(not s.codings for s in doc.selections)
        text, why = _doc_text(doc, archive, path)
        doc_names[doc.name] += 1
        label = doc.name if doc_names[doc.name] == 1 else f"{doc.name} #{doc_names[doc.name]}"
        where = {"source": label, "source_guid": doc.guid}
        if text is None:
            missing.append({**where, "reason": why, "selections": len(doc.selections), "codings": n_codings})
            aside += [{**where, "selection_guid": s.guid, "start": s.start, "end": s.end, "coder": _coder(users, c.user_guid, s.user_guid),
                       "code": code_ids.get(c.code_guid), "reason": f"source text missing: {why}"} for s in doc.selections for c in s.codings]
            continue
        sources.append({"guid": doc.guid, "name": label, "text": text})
        offsets = OffsetMap(text, offset_unit)
        placed: list[tuple[int, int, str, str]] = []  # start, end (Python), coder, code id
        for s in doc.selections:
            start, end = offsets.to_python(s.start), offsets.to_python(s.end)
            reason = None
            if start is None or end is None:
                reason = f"offsets {s.start}-{s.end} fall outside the text ({offsets.length} {offset_unit}) or inside a character"
            elif end <= start:
                reason = f"selection is empty or reversed ({s.start}-{s.end})"
            elif not text[start:end].strip():
                reason = "selected text is blank"
            for c in s.codings:
                coder = _coder(users, c.user_guid, s.user_guid)
                code = code_ids.get(c.code_guid)
                why_not = reason or (None if code is not None else f"coding names unknown code guid {c.code_guid!r}")
                if why_not:
                    aside.append({**where, "selection_guid": s.guid, "start": s.start, "end": s.end, "coder": coder, "code": code, "reason": why_not})
                    continue
                placed.append((start, end, coder, code))
                counts["codings_placed"] += 1
                counts["segment_ends_on_word_boundaries"] += on_word_boundary(text, start) and on_word_boundary(text, end)
        spans = _unit_spans(text, unit, [(a, b) for a, b, _, _ in placed])
        active = list(dict.fromkeys(coder for _, _, coder, _ in placed))
        for u_start, u_end in spans:
            qid = label if unit == "document" else f"{label}:{u_start}-{u_end}"
            quotes.append({QUOTE_ID: qid, TEXT: text[u_start:u_end], "source": label, "source_guid": doc.guid,
                           "start": u_start, "end": u_end, **groups.get(doc.guid, {})})
            if unit == "segment":  # a segment carries the codes applied to exactly that range
                hits = list(dict.fromkeys((coder, code) for a, b, coder, code in placed if (a, b) == (u_start, u_end)))
            else:  # a unit carries every code whose selection overlaps it
                hits = list(dict.fromkeys((coder, code) for a, b, coder, code in placed if a < u_end and u_start < b))
            annotations += [{QUOTE_ID: qid, CODER: coder, CODE: code} for coder, code in hits]
            if unit != "segment":  # a coder who coded this document read it: its other units are "seen, no code"
                coded = {coder for coder, _ in hits}
                annotations += [{QUOTE_ID: qid, CODER: coder, CODE: NO_CODE} for coder in active if coder not in coded]
    used = Counter(code for _, code in dict.fromkeys((a[QUOTE_ID], a[CODE]) for a in annotations if a[CODE] != NO_CODE))
    sparse = sorted(code for code, n in used.items() if n < SPARSE_BELOW)
    if sparse:
        notes.append(f"{len(sparse)} code(s) have fewer than {SPARSE_BELOW} coded quotes: too few to learn or score well "
                     "(data.min_code_count leaves them out of training and scoring)")
    columns = BASE_COLUMNS + group_columns
    quote_table = pd.DataFrame.from_records(quotes, columns=columns)
    ann = pd.DataFrame.from_records(annotations, columns=[QUOTE_ID, CODER, CODE])
    set_aside = pd.DataFrame.from_records(aside)
    report_rows = LoadReport(source=str(path), n_read=counts["codings"], n_kept=counts["codings_placed"],
                             set_aside=[{k: r[k] for k in ("source", "selection_guid", "reason")} for r in aside], notes=notes)
    corpus = Corpus(quotes=quote_table, annotations=ann, codebook=book, name=name or path.stem, set_aside=set_aside, reports=[report_rows])
    report = {
        "file": str(path), "origin": project.origin, "project": project.name, "unit": unit, "unit_requested": requested,
        "uncoded": not counts["codings"], "offsets": offset_unit,
        "users": sorted(set(users.values())), "coders": corpus.coders, "codes": len(book.codes) if book else 0,
        "text_sources": len(project.docs), "text_sources_read": len(sources), "missing_sources": missing,
        "text_selections": counts["selections"], "selections_without_codings": counts["selections_without_codings"],
        "text_codings": counts["codings"], "codings_imported": counts["codings_placed"],
        "segment_ends_on_word_boundaries": counts["segment_ends_on_word_boundaries"],
        "media_codings_not_imported": project.media_codings, "quotes": len(corpus), "annotation_rows": len(ann),
        "set_aside": dict(Counter(r["reason"].split(":")[0] for r in aside)), "group_columns": group_columns, "notes": notes,
        "sparse_below": SPARSE_BELOW, "sparse_codes": sparse,
    }
    return ImportResult(corpus=corpus, sources=pd.DataFrame.from_records(sources, columns=["guid", "name", "text"]), report=report)


def _coder(users: dict[str, str], *guids: str | None) -> str:
    """The user on the coding, else on the selection (NVivo's per-coding user is unreliable), by name."""
    for guid in guids:
        if guid:
            return users.get(guid) or guid
    return "unknown"

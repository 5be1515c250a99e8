"""``export``: a Corpus -> a REFI-QDA project (.qdpx), and a Codebook -> a codebook file (.qdc).

Every coder becomes a user, so a model's codes (coder ``model:<name>``) arrive in NVivo, ATLAS.ti,
MAXQDA or QualCoder as one more user's coding, to be reviewed beside the people's. When the corpus
came from ``import`` its source texts are written back whole and each quote is a selection at its
place in them; otherwise each quote becomes its own document, named by its quote id. Files are
strict: they validate against the standard's XSD (tested), GUIDs are stable across exports.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pandas as pd

from lived_themes.codebook import Codebook
from lived_themes.corpus.model import Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.errors import InputError
from lived_themes.interop.codes import SEP
from lived_themes.interop.reader import BASE_COLUMNS
from lived_themes.interop.text import OffsetMap
from lived_themes.files import atomic_output

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_NAMESPACE = uuid.UUID("6b1f2f8e-5d0a-4b7e-9d4c-2f6a1e3c9b10")  # fixed: the same input gives the same GUIDs
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def guid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _origin(offsets: str, book: Codebook | None = None) -> str:
    """``lived-themes <version> (offsets=chars; codebook-version=...; codebook-source=...)``: REFI-QDA has no place for a
    codebook's version and source, so they ride in the origin, where ``import`` reads them back (a round trip keeps them)."""
    from importlib.metadata import PackageNotFoundError, version
    from urllib.parse import quote

    try:
        ver = version("lived-themes")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ver = "dev"
    extra = ""
    if book is not None:
        extra = f"; codebook-version={quote(book.version, safe='')}" + (f"; codebook-source={quote(book.source, safe='')}" if book.source else "")
    return f"lived-themes {ver} (offsets={offsets}{extra})"


# ----- codes -------------------------------------------------------------------------------------
def _code_elements(book: Codebook) -> ET.Element:
    return _codes_with_guids(book)[0]


_RGB = re.compile(r"^#[0-9a-fA-F]{6}$")


def _kept(kept: dict[str, Any] | None, section: str, key: str) -> dict[str, Any]:
    """What import recorded of one user, code or source (``refi_project.json``), or {}."""
    found = ((kept or {}).get(section) or {}).get(key)
    return found if isinstance(found, dict) else {}


def _codes_with_guids(book: Codebook, kept: dict[str, Any] | None = None) -> tuple[ET.Element, dict[str, str]]:
    """(<Codes> nested by parent, code id -> GUID). A code's name is what makes ``import`` give back its id (:func:`_code_name`).
    A code imported from a project keeps its GUID, colour and memo links (``kept``), so the file merges back into it."""
    ids = set(book.code_ids)
    themes = {t.id: t for t in book.themes}
    codes_el = ET.Element("Codes")
    made: dict[str, ET.Element] = {}

    used: set[str] = set()

    def element(parent: ET.Element, key: str, name: str, codable: bool, definition: str, code_guid: str | None = None) -> ET.Element:
        was = _kept(kept, "codes", key)
        old_guid = str(was.get("guid") or "")
        if _GUID.match(old_guid) and old_guid not in used:
            code_guid = old_guid
        attrs = {"guid": code_guid or guid("code", key), "name": name, "isCodable": "true" if codable else "false"}
        used.add(attrs["guid"])
        if isinstance(was.get("color"), str) and _RGB.match(was["color"]):
            attrs["color"] = was["color"]
        el = ET.SubElement(parent, "Code", attrs)
        if definition.strip():
            ET.SubElement(el, "Description").text = definition
        for note in was.get("notes") or []:
            if note in _memo_guids(kept):
                ET.SubElement(el, "NoteRef", {"targetGUID": note})
        made[key] = el
        return el

    placing: list[str] = []

    def place(code_id: str) -> ET.Element:
        if code_id in made:
            return made[code_id]
        if code_id in placing:  # parents that lead back to the code: no nesting can hold them
            cycle = placing[placing.index(code_id):] + [code_id]
            raise InputError(f"the codebook's parents form a cycle ({' -> '.join(cycle)[:200]}): a code cannot be its own ancestor",
                             field=f"codes[{code_id}].parent")
        placing.append(code_id)
        code = book.code(code_id)
        parent_el, prefix = codes_el, ""
        if code.parent in ids and code.parent != code_id:
            parent_el, prefix = place(code.parent), f"{code.parent}{SEP}"
        elif code.parent in themes:
            theme_key = f"theme:{code.parent}"
            if theme_key not in made:
                element(codes_el, theme_key, themes[code.parent].label, False, themes[code.parent].definition)
            parent_el = made[theme_key]
        name, code_guid = _code_name(code.id, code.label, prefix)
        placing.pop()
        return element(parent_el, code_id, name, True, code.definition, code_guid)

    for code_id in book.code_ids:
        place(code_id)
    return codes_el, {key: str(el.get("guid")) for key, el in made.items()}


_SHORT_GUID = re.compile(r"^(?P<path>.+) \[(?P<hex>[0-9a-f]{8})\]$")


def _code_name(code_id: str, label: str, prefix: str) -> tuple[str, str | None]:
    """(name to write, GUID to use or None) so that ``import`` gives back ``code_id``.

    Import makes a code's id its path of names, so under a parent the name is the rest of the id after the
    parent's; an id that is not such a path is written whole. A code import told apart from another with
    the same path (``Waiting::Long wait [c0000000]``) is written under its plain name with a GUID that starts
    with those 8 digits, which is what import appends again.
    """
    if prefix and not code_id.startswith(prefix):
        return code_id, None
    rest = code_id[len(prefix):]
    if rest == label:
        return label, None
    short = _SHORT_GUID.match(rest)
    if short and short.group("path").split(SEP)[-1] == label:
        return short.group("path"), short.group("hex") + guid("code", code_id)[8:]
    return rest, None


def _memo_guids(kept: dict[str, Any] | None) -> set[str]:
    return {str(m.get("guid")) for m in (kept or {}).get("memos") or [] if isinstance(m, dict) and _GUID.match(str(m.get("guid")))}


def _memos(root: ET.Element, kept: dict[str, Any] | None) -> int:
    """The imported project's memos, written back inline (``PlainTextContent``) under their GUIDs."""
    memos = [m for m in (kept or {}).get("memos") or [] if isinstance(m, dict) and str(m.get("guid")) in _memo_guids(kept)]
    if not memos:
        return 0
    notes = ET.Element("Notes")
    for memo in memos:
        attrs = {"guid": str(memo["guid"]), "name": str(memo.get("name") or "")}
        attrs.update(_source_attrs(memo.get("attrs")))
        ET.SubElement(ET.SubElement(notes, "Note", attrs), "PlainTextContent").text = str(memo.get("text") or "")
    # <Notes> comes after <Sources> in the standard's sequence
    sources = [i for i, el in enumerate(root) if el.tag == "Sources"]
    root.insert(sources[0] + 1 if sources else len(root), notes)
    return len(memos)


def _source_attrs(attrs: object) -> dict[str, str]:
    """Creating and modifying users and dates, where they are valid (a GUID, an xsd:dateTime)."""
    out = {}
    for key, value in (attrs.items() if isinstance(attrs, dict) else []):
        value = str(value)
        if (key in ("creatingUser", "modifyingUser") and _GUID.match(value)) or (key.endswith("DateTime") and _ISO.match(value)):
            out[key] = value
    return out


def codebook_xml(book: Codebook) -> bytes:
    root = ET.Element("CodeBook", {"xmlns": CODEBOOK_NS, "origin": _origin("chars").split(" (")[0]})
    root.append(_code_elements(book))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_qdc(book: Codebook, path: str | Path) -> Path:
    """The codebook as a REFI-QDA codebook exchange file, written atomically."""
    return _atomic_write(Path(path), lambda handle: handle.write(codebook_xml(book)))


# ----- project -----------------------------------------------------------------------------------
def _documents(corpus: Corpus, sources: pd.DataFrame | None) -> tuple[list[dict[str, Any]], dict[str, tuple[str, int, int]]]:
    """(documents: guid, name, text; quote id -> (document guid, start, end))."""
    quotes = corpus.quotes
    if sources is not None and len(sources) and {"source_guid", "start", "end"} <= set(quotes.columns):
        docs = [{"guid": str(r["guid"]), "name": str(r["name"]), "text": str(r["text"])} for r in sources.to_dict("records")]
        by_guid = {d["guid"]: d for d in docs}
        place: dict[str, tuple[str, int, int]] = {}
        for row, (qid, text, src, start, end) in enumerate(zip(quotes[QUOTE_ID], quotes[TEXT], quotes["source_guid"], quotes["start"], quotes["end"]), start=1):
            doc = by_guid.get(str(src))
            if doc is None:
                raise InputError(f"quote's source_guid {src!r} is not among the corpus's sources", row=row, field="source_guid")
            start, end = int(start), int(end)
            if doc["text"][start:end] != text:
                raise InputError("quote text is not the source text at its start-end: the corpus and its sources disagree", row=row, field="text")
            place[str(qid)] = (doc["guid"], start, end)
        return _valid_guids(docs, place)
    docs = [{"guid": guid("source", q), "name": str(q), "text": str(t)} for q, t in zip(quotes[QUOTE_ID], quotes[TEXT])]
    return _valid_guids(docs, {d["name"]: (d["guid"], 0, len(d["text"])) for d in docs})


def _valid_guids(docs: list[dict[str, Any]], place: dict[str, tuple[str, int, int]]) -> tuple[list[dict[str, Any]], dict[str, tuple[str, int, int]]]:
    """Documents keep their GUID when it is one (a round trip keeps it); anything else gets a stable new one."""
    fixed = {d["guid"]: d["guid"] if _GUID.match(d["guid"]) else guid("source", d["guid"]) for d in docs}
    return [{**d, "guid": fixed[d["guid"]]} for d in docs], {q: (fixed[g], a, b) for q, (g, a, b) in place.items()}


def _variable_type(series: pd.Series) -> tuple[str, str]:
    if pd.api.types.is_bool_dtype(series):
        return "Boolean", "BooleanValue"
    if pd.api.types.is_integer_dtype(series):
        return "Integer", "IntegerValue"
    if pd.api.types.is_float_dtype(series):
        return "Float", "FloatValue"
    return "Text", "TextValue"


def _cases(root: ET.Element, corpus: Corpus, docs: list[dict[str, Any]], place: dict[str, tuple[str, int, int]],
           ) -> tuple[list[str], dict[str, list[ET.Element]]]:
    """Group columns as variables. A document with a ``case`` value goes into that case, which carries the variables;
    a document without one carries them itself (no case is invented for it, so a round trip adds none).
    Returns (notes, document guid -> its own VariableValue elements)."""
    quotes = corpus.quotes
    columns = [c for c in quotes.columns if c not in BASE_COLUMNS and c != "case"]
    if not len(quotes) or (not columns and "case" not in quotes.columns):
        return [], {}
    notes: list[str] = []
    doc_of = [place[str(q)][0] for q in quotes[QUOTE_ID]]
    per_doc: dict[str, dict[str, object]] = {}
    for column in [*columns, *(["case"] if "case" in quotes.columns else [])]:
        values = pd.DataFrame({"doc": doc_of, "v": quotes[column].to_numpy(dtype=object)}).dropna()
        varying = values.groupby("doc")["v"].nunique()
        if (varying > 1).any():
            notes.append(f"column {column!r} varies within a document: not exported")
            columns = [c for c in columns if c != column]
            continue
        for doc, value in zip(values["doc"], values["v"]):
            per_doc.setdefault(doc, {})[column] = value.item() if hasattr(value, "item") else value
    kinds = {c: _variable_type(quotes[c].dropna()) for c in columns}
    if columns:
        variables = ET.SubElement(root, "Variables")
        for c in columns:
            ET.SubElement(variables, "Variable", {"guid": guid("variable", c), "name": str(c), "typeOfVariable": kinds[c][0]})

    def value_elements(values: tuple[tuple[str, object], ...]) -> list[ET.Element]:
        out = []
        for column, value in values:
            if value is None:
                continue
            vv = ET.Element("VariableValue")
            ET.SubElement(vv, "VariableRef", {"targetGUID": guid("variable", column)})
            ET.SubElement(vv, kinds[column][1]).text = ("true" if value else "false") if kinds[column][0] == "Boolean" else str(value)
            out.append(vv)
        return out

    groups: dict[tuple, list[str]] = {}
    own: dict[str, list[ET.Element]] = {}
    for doc in dict.fromkeys(doc_of):
        values = per_doc.get(doc, {})
        row = tuple((c, values.get(c)) for c in columns)
        if values.get("case") is None:
            own[doc] = value_elements(row)
            continue
        groups.setdefault((str(values["case"]), row), []).append(doc)
    if groups:
        cases = ET.SubElement(root, "Cases")
        for (case_name, values), members in groups.items():
            case = ET.SubElement(cases, "Case", {"guid": guid("case", case_name, values), "name": case_name})
            case.extend(value_elements(values))
            for doc in members:
                ET.SubElement(case, "SourceRef", {"targetGUID": doc})
    return notes, own


def project_xml(corpus: Corpus, *, sources: pd.DataFrame | None = None, offsets: str = "chars",
                name: str | None = None, spans: dict[tuple[str, str, str], tuple[int, int]] | None = None,
                users: list[str] | None = None, kept: dict[str, Any] | None = None) -> tuple[bytes, list[dict[str, Any]], dict[str, Any]]:
    """(project.qde bytes, documents to ship, a summary without text).

    ``users`` are further users to declare beside the coders (the project's users who coded nothing, from the
    import report), so that a round trip keeps them.

    ``spans`` maps (quote id, coder, code) to a (start, end) inside the quote: that coding's segment is
    the span (a model's evidence) instead of the whole quote.

    ``kept`` is what ``import`` recorded of the project (``refi_project.json``): its users and codes keep their
    GUIDs, codes their colours, sources their dates and creating users, and memos come back, so the file merges
    back into the project it came from instead of duplicating its codes.
    """
    if offsets not in ("chars", "utf16"):
        raise ValueError("offsets must be 'chars' or 'utf16'")
    book = corpus.codebook or Codebook.from_codes(corpus.codes or ["(no codes)"], name=corpus.name)
    docs, place = _documents(corpus, sources)
    coded = corpus.annotations.dropna(subset=[CODE])
    coders = list(dict.fromkeys(coded[CODER].astype(str)))
    kept_users = [str(u) for u in ((kept or {}).get("users") or {})]  # every imported user, coder or not, keeps its GUID
    declared = list(dict.fromkeys([*coders, *(str(u) for u in users or []), *kept_users]))
    modified = book.version if _ISO.match(book.version) else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = ET.Element("Project", {"xmlns": PROJECT_NS, "name": name or book.name, "origin": _origin(offsets, book), "modifiedDateTime": modified})
    old_users = (kept or {}).get("users") or {}
    user_guid = {c: str(old_users[c]) if _GUID.match(str(old_users.get(c, ""))) else guid("user", c) for c in declared}
    if declared:
        users_el = ET.SubElement(root, "Users")
        for coder in declared:
            ET.SubElement(users_el, "User", {"guid": user_guid[coder], "name": coder})
    codes_el, code_guids = _codes_with_guids(book, kept)
    ET.SubElement(root, "CodeBook").append(codes_el)
    notes, doc_variables = _cases(root, corpus, docs, place)
    by_doc: dict[str, dict[tuple[int, int], list[tuple[str, str]]]] = {}
    for qid, coder, code in zip(coded[QUOTE_ID], coded[CODER], coded[CODE]):
        doc_guid, start, end = place[str(qid)]
        if spans and (str(qid), str(coder), str(code)) in spans:
            inner_start, inner_end = spans[(str(qid), str(coder), str(code))]
            if inner_end > end - start:
                raise InputError(f"evidence span ends at {inner_end}, past the end of its quote", field="evidence")
            start, end = start + inner_start, start + inner_end
        pairs = by_doc.setdefault(doc_guid, {}).setdefault((start, end), [])
        if (str(coder), str(code)) not in pairs:
            pairs.append((str(coder), str(code)))
    sources_el = ET.SubElement(root, "Sources") if docs else None
    n_sel = n_cod = 0
    for doc in docs:
        was = _kept(kept, "sources", doc["guid"])
        el = ET.SubElement(sources_el, "TextSource",  # type: ignore[arg-type]
                           {"guid": doc["guid"], "name": doc["name"], "plainTextPath": f"internal://{doc['guid']}.txt",
                            **_source_attrs(was.get("attrs"))})
        if str(was.get("description") or "").strip():
            ET.SubElement(el, "Description").text = str(was["description"])
        offsets_map = OffsetMap(doc["text"], offsets)
        for (start, end), pairs in sorted(by_doc.get(doc["guid"], {}).items()):
            sel_guid = guid("selection", doc["guid"], start, end)
            sel = ET.SubElement(el, "PlainTextSelection", {
                "guid": sel_guid, "startPosition": str(offsets_map.from_python(start)), "endPosition": str(offsets_map.from_python(end))})
            n_sel += 1
            for coder, code in pairs:
                coding = ET.SubElement(sel, "Coding", {"guid": guid("coding", sel_guid, coder, code), "creatingUser": user_guid[coder]})
                ET.SubElement(coding, "CodeRef", {"targetGUID": code_guids[code]})
                n_cod += 1
        for note in was.get("notes") or []:
            if note in _memo_guids(kept):
                ET.SubElement(el, "NoteRef", {"targetGUID": note})
        for vv in doc_variables.get(doc["guid"], []):  # a document in no case carries its variables itself
            el.append(vv)
    n_memos = _memos(root, kept)
    if book.description.strip():
        ET.SubElement(root, "Description").text = book.description
    summary = {"memos": n_memos, "kept_guids": bool(kept),
               "documents": len(docs), "selections": n_sel, "codings": n_cod, "users": coders, "codes": len(book.codes), "offsets": offsets, "notes": notes}
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), docs, summary


def export_project(corpus: Corpus, path: str | Path, *, sources: pd.DataFrame | None = None, offsets: str = "chars",
                   name: str | None = None, spans: dict[tuple[str, str, str], tuple[int, int]] | None = None,
                   users: list[str] | None = None, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``path`` (.qdpx): project.qde plus Sources/<guid>.txt (UTF-8, no BOM). Returns the summary."""
    unknown = sorted(set(corpus.annotations[CODE].dropna()) - set(corpus.codebook.code_ids)) if corpus.codebook else []
    if unknown:
        raise InputError(f"codes {unknown[:5]} are not in the corpus's codebook", field=CODE)
    xml, docs, summary = project_xml(corpus, sources=sources, offsets=offsets, name=name, spans=spans, users=users, kept=kept)

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.qde", xml)
            for doc in docs:
                archive.writestr(f"Sources/{doc['guid']}.txt", doc["text"].encode("utf-8"))

    _atomic_write(Path(path), write)
    return summary


def _atomic_write(path: Path, write: Any) -> Path:
    """The package's one atomic writer: a temporary file renamed into place, never over a device, FIFO or folder."""

    with atomic_output(path, mode="wb") as out:
        write(out)
    return path

"""``export``: a Corpus -> a REFI-QDA project (.qdpx), and a Codebook -> a codebook file (.qdc).

Every coder becomes a user, so a model's codes (coder ``model:<name>``) arrive in NVivo, ATLAS.ti,
MAXQDA or QualCoder as one more user's coding, to be reviewed beside the people's. When the corpus
came from ``import`` its source texts are written back whole and each quote is a selection at its
place in them; otherwise each quote becomes its own document, named by its quote id. Files are
strict: they validate against the standard's XSD (tested), GUIDs are stable across exports.
"""

from __future__ import annotations

import os
import re
import tempfile
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

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_NAMESPACE = uuid.UUID("6b1f2f8e-5d0a-4b7e-9d4c-2f6a1e3c9b10")  # fixed: the same input gives the same GUIDs
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def guid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _origin(offsets: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("lived-themes")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ver = "dev"
    return f"lived-themes {ver} (offsets={offsets})"


# ----- codes -------------------------------------------------------------------------------------
def _code_elements(book: Codebook) -> ET.Element:
    """<Codes> nested by parent. A code's name is its label when its id is the '::' path of labels, else its id."""
    ids = set(book.code_ids)
    themes = {t.id: t for t in book.themes}
    codes_el = ET.Element("Codes")
    made: dict[str, ET.Element] = {}

    def element(parent: ET.Element, key: str, name: str, codable: bool, definition: str) -> ET.Element:
        el = ET.SubElement(parent, "Code", {"guid": guid("code", key), "name": name, "isCodable": "true" if codable else "false"})
        if definition.strip():
            ET.SubElement(el, "Description").text = definition
        made[key] = el
        return el

    def place(code_id: str) -> ET.Element:
        if code_id in made:
            return made[code_id]
        code = book.code(code_id)
        parent_el, expected = codes_el, code.label
        if code.parent in ids and code.parent != code_id:
            parent_el, expected = place(code.parent), f"{code.parent}{SEP}{code.label}"
        elif code.parent in themes:
            theme_key = f"theme:{code.parent}"
            if theme_key not in made:
                element(codes_el, theme_key, themes[code.parent].label, False, themes[code.parent].definition)
            parent_el = made[theme_key]
        name = code.label if code.id == expected else code.id
        return element(parent_el, code_id, name, True, code.definition)

    for code_id in book.code_ids:
        place(code_id)
    return codes_el


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


def _cases(root: ET.Element, corpus: Corpus, docs: list[dict[str, Any]], place: dict[str, tuple[str, int, int]]) -> list[str]:
    """Group columns as case variables: one case per (case name, values), holding its documents. Returns notes."""
    quotes = corpus.quotes
    columns = [c for c in quotes.columns if c not in BASE_COLUMNS and c != "case"]
    if not len(quotes) or (not columns and "case" not in quotes.columns):
        return []
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
    names = {d["guid"]: d["name"] for d in docs}
    groups: dict[tuple, list[str]] = {}
    for doc in dict.fromkeys(doc_of):
        values = per_doc.get(doc, {})
        key = (str(values.get("case", names[doc])), tuple((c, values.get(c)) for c in columns))
        groups.setdefault(key, []).append(doc)
    cases = ET.SubElement(root, "Cases")
    for (case_name, values), members in groups.items():
        case = ET.SubElement(cases, "Case", {"guid": guid("case", case_name, values), "name": case_name})
        for column, value in values:
            if value is None:
                continue
            vv = ET.SubElement(case, "VariableValue")
            ET.SubElement(vv, "VariableRef", {"targetGUID": guid("variable", column)})
            text = ("true" if value else "false") if kinds[column][0] == "Boolean" else str(value)
            ET.SubElement(vv, kinds[column][1]).text = text
        for doc in members:
            ET.SubElement(case, "SourceRef", {"targetGUID": doc})
    return notes


def project_xml(corpus: Corpus, *, sources: pd.DataFrame | None = None, offsets: str = "chars",
                name: str | None = None, spans: dict[tuple[str, str, str], tuple[int, int]] | None = None,
                ) -> tuple[bytes, list[dict[str, Any]], dict[str, Any]]:
    """(project.qde bytes, documents to ship, a summary without text).

    ``spans`` maps (quote id, coder, code) to a (start, end) inside the quote: that coding's segment is
    the span (a model's evidence) instead of the whole quote.
    """
    if offsets not in ("chars", "utf16"):
        raise ValueError("offsets must be 'chars' or 'utf16'")
    book = corpus.codebook or Codebook.from_codes(corpus.codes or ["(no codes)"], name=corpus.name)
    docs, place = _documents(corpus, sources)
    coded = corpus.annotations.dropna(subset=[CODE])
    coders = list(dict.fromkeys(coded[CODER].astype(str)))
    modified = book.version if _ISO.match(book.version) else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = ET.Element("Project", {"xmlns": PROJECT_NS, "name": name or book.name, "origin": _origin(offsets), "modifiedDateTime": modified})
    if coders:
        users = ET.SubElement(root, "Users")
        for coder in coders:
            ET.SubElement(users, "User", {"guid": guid("user", coder), "name": coder})
    ET.SubElement(root, "CodeBook").append(_code_elements(book))
    notes = _cases(root, corpus, docs, place)
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
        el = ET.SubElement(sources_el, "TextSource",  # type: ignore[arg-type]
                           {"guid": doc["guid"], "name": doc["name"], "plainTextPath": f"internal://{doc['guid']}.txt"})
        offsets_map = OffsetMap(doc["text"], offsets)
        for (start, end), pairs in sorted(by_doc.get(doc["guid"], {}).items()):
            sel_guid = guid("selection", doc["guid"], start, end)
            sel = ET.SubElement(el, "PlainTextSelection", {
                "guid": sel_guid, "startPosition": str(offsets_map.from_python(start)), "endPosition": str(offsets_map.from_python(end))})
            n_sel += 1
            for coder, code in pairs:
                coding = ET.SubElement(sel, "Coding", {"guid": guid("coding", sel_guid, coder, code), "creatingUser": guid("user", coder)})
                ET.SubElement(coding, "CodeRef", {"targetGUID": guid("code", code)})
                n_cod += 1
    summary = {"documents": len(docs), "selections": n_sel, "codings": n_cod, "users": coders, "codes": len(book.codes), "offsets": offsets, "notes": notes}
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), docs, summary


def export_project(corpus: Corpus, path: str | Path, *, sources: pd.DataFrame | None = None, offsets: str = "chars",
                   name: str | None = None, spans: dict[tuple[str, str, str], tuple[int, int]] | None = None) -> dict[str, Any]:
    """Write ``path`` (.qdpx): project.qde plus Sources/<guid>.txt (UTF-8, no BOM). Returns the summary."""
    unknown = sorted(set(corpus.annotations[CODE].dropna()) - set(corpus.codebook.code_ids)) if corpus.codebook else []
    if unknown:
        raise InputError(f"codes {unknown[:5]} are not in the corpus's codebook", field=CODE)
    xml, docs, summary = project_xml(corpus, sources=sources, offsets=offsets, name=name, spans=spans)

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.qde", xml)
            for doc in docs:
                archive.writestr(f"Sources/{doc['guid']}.txt", doc["text"].encode("utf-8"))

    _atomic_write(Path(path), write)
    return summary


def _atomic_write(path: Path, write: Any) -> Path:
    """Write to a temporary file beside ``path``, then rename it into place: no half-written file is ever left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

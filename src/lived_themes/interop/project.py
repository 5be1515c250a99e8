"""The parts of a REFI-QDA project the package uses, read from its XML: users, codes, text sources
with their coded selections, cases, variables and sets.

Only text is read. Codings on pictures, PDF regions, audio and video are counted and reported, not
imported; so are sources whose text is absent (ATLAS.ti's standard project ships the XML only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from lived_themes.errors import InputError
from lived_themes.interop.xmlsafe import child, child_text, children, local

#: selection elements that are not text: their codings are counted, not imported
MEDIA_SELECTIONS = {"PictureSelection", "PDFSelection", "AudioSelection", "VideoSelection", "TranscriptSelection"}


@dataclass
class RefiCode:
    guid: str
    name: str
    description: str
    codable: bool
    parent_guid: str | None
    where: str = ""
    #: kept for export: colour (``color``) and memo GUIDs (``notes``), so a round trip merges back
    color: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Coding:
    code_guid: str
    user_guid: str | None


@dataclass
class Selection:
    guid: str
    start: int
    end: int
    user_guid: str | None
    codings: list[Coding]


@dataclass
class TextDoc:
    """A text source (or a PDF's text representation); ``path`` is its plainTextPath, ``content`` inline text."""

    guid: str
    name: str
    path: str | None
    content: str | None
    selections: list[Selection]
    variables: dict[str, object] = field(default_factory=dict)
    where: str = ""
    #: kept for export: creatingUser, creationDateTime, modifyingUser, modifiedDateTime; memo GUIDs; description
    attrs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    description: str = ""


#: a source's attributes an export writes back (REFI-QDA gives codes no dates)
SOURCE_ATTRS = ("creatingUser", "creationDateTime", "modifyingUser", "modifiedDateTime")


@dataclass
class Note:
    """A memo (REFI-QDA ``<Note>``): its text inline or in the archive, kept so that an export writes it back."""

    guid: str
    name: str
    content: str | None
    path: str | None
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    name: str
    origin: str
    modified: str
    description: str
    users: dict[str, str]
    codes: list[RefiCode]
    docs: list[TextDoc]
    variables: dict[str, str]  # guid -> name
    cases: list[dict[str, object]]  # name, variables, sources
    sets: list[dict[str, object]]  # name, sources
    media_codings: int = 0
    notes: list[str] = field(default_factory=list)
    memos: list[Note] = field(default_factory=list)
    #: creatingUserGUID, creationDateTime, ... of the project element
    attrs: dict[str, str] = field(default_factory=dict)


def _int(element: Element, attr: str, *, file: Path, where: str) -> int:
    raw = element.get(attr)
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise InputError(f"{attr} must be an integer, found {raw!r}", file=file, field=f"{where}@{attr}") from None


def _codes(parent: Element, parent_guid: str | None, out: list[RefiCode], where: str) -> None:
    for n, element in enumerate(children(parent, "Code"), start=1):
        guid = element.get("guid") or ""
        codable = (element.get("isCodable") or "true").strip().lower() in ("true", "1")
        at = f"{where}/Code[{n}]"
        out.append(RefiCode(guid=guid, name=(element.get("name") or "").strip(), description=child_text(element, "Description").strip(),
                            codable=codable, parent_guid=parent_guid, where=at, color=element.get("color"), notes=_note_refs(element)))
        _codes(element, guid, out, at)


def read_codes(codes_element: Element | None, *, file: Path | None = None, where: str = "CodeBook/Codes") -> list[RefiCode]:
    """Codes in document order, each with its parent's guid (nesting as NVivo and MAXQDA write it).

    Two codes with one GUID (a child sharing its parent's, or two unrelated codes) are refused: every
    coding names its code by GUID, so there is no telling which one a coding meant.
    """
    out: list[RefiCode] = []
    if codes_element is not None:
        _codes(codes_element, None, out, where)
    if file is not None:
        refuse_duplicate_guids([(c.guid, c.where) for c in out], file=file)
    return out


def refuse_duplicate_guids(items: list[tuple[str, str]], *, file: Path) -> None:
    """One located line for the first GUID used twice (REFI-QDA GUIDs identify users, codes, sources, ... uniquely)."""
    seen: dict[str, str] = {}
    for guid, where in items:
        if not guid:
            continue
        if guid in seen:
            raise InputError(f"GUID {guid[:40]!r} is used twice (first at {seen[guid]}); a REFI-QDA GUID names one thing, so "
                             "codings and references to it are ambiguous: fix the file in the program that wrote it",
                             file=file, field=f"{where}@guid")
        seen[guid] = where


def _users(root: Element, *, file: Path) -> tuple[dict[str, str], list[str]]:
    """guid -> coder name. Users are told apart by GUID: two users with one name become ``name [guid8]`` each."""
    found = [(u.get("guid") or "", (u.get("name") or u.get("guid") or "").strip(), f"Users/User[{n}]")
             for n, u in enumerate(_kids(root, "Users", "User"), start=1)]
    refuse_duplicate_guids([(g, w) for g, _, w in found], file=file)
    counts: dict[str, int] = {}
    for _, name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    users: dict[str, str] = {}
    clashes = sorted({name for name, k in counts.items() if k > 1})
    for guid, name, _ in found:
        if counts[name] > 1:
            short = guid.strip("{}").lower()[:8] or "no-guid"
            name = f"{name} [{short}]"
        users[guid] = name
    if len(set(users.values())) < len(users):  # GUIDs alike in their first 8 characters: use them whole
        users = {g: (f"{n} [{g}]" if n in clashes else n) for g, n, _ in found}
    notes = [f"{sum(counts[n] for n in clashes)} users share the name(s) {clashes}: kept apart as separate coders, "
             "each named with the start of its GUID"] if clashes else []
    return users, notes


def _value(vv: Element) -> object:
    for kind in ("TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue"):
        found = child(vv, kind)
        if found is not None:
            text = (found.text or "").strip()
            if kind == "BooleanValue":
                return text.lower() in ("true", "1")
            if kind == "IntegerValue":
                try:
                    return int(text)
                except ValueError:
                    return text
            if kind == "FloatValue":
                try:
                    return float(text)
                except ValueError:
                    return text
            return text
    return None


def _variable_values(element: Element, names: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for vv in children(element, "VariableValue"):
        ref = child(vv, "VariableRef")
        guid = ref.get("targetGUID") if ref is not None else None
        name = names.get(guid or "", guid or "variable")
        values[name] = _value(vv)
    return values


def _selections(element: Element, *, file: Path, where: str) -> list[Selection]:
    out = []
    for n, sel in enumerate(children(element, "PlainTextSelection"), start=1):
        at = f"{where}/PlainTextSelection[{n}]"
        codings = []
        for coding in children(sel, "Coding"):
            ref = child(coding, "CodeRef")
            codings.append(Coding(code_guid=(ref.get("targetGUID") if ref is not None else "") or "", user_guid=coding.get("creatingUser")))
        out.append(Selection(guid=sel.get("guid") or "", start=_int(sel, "startPosition", file=file, where=at),
                             end=_int(sel, "endPosition", file=file, where=at), user_guid=sel.get("creatingUser"), codings=codings))
    return out


def _note_refs(element: Element) -> list[str]:
    return [str(r.get("targetGUID")) for r in children(element, "NoteRef") if r.get("targetGUID")]


def _text_doc(element: Element, names: dict[str, str], *, file: Path, where: str, name: str | None = None) -> TextDoc:
    content = child(element, "PlainTextContent")
    return TextDoc(guid=element.get("guid") or "", name=(name or element.get("name") or element.get("guid") or "source").strip(),
                   path=element.get("plainTextPath"), content=content.text if content is not None else None,
                   selections=_selections(element, file=file, where=where), variables=_variable_values(element, names), where=where,
                   attrs={a: str(element.get(a)) for a in SOURCE_ATTRS if element.get(a)}, notes=_note_refs(element),
                   description=child_text(element, "Description"))


def _count_media_codings(element: Element) -> int:
    return sum(len(children(sel, "Coding")) for sel in element.iter() if local(sel.tag) in MEDIA_SELECTIONS)


#: namespaces the standard and its vendors use start with this (``urn:QDA-XML:project:1.0``, ``...:1:0``, ...)
QDA_NAMESPACE = "urn:qda-xml:"
PROJECT_NAMESPACE = "urn:QDA-XML:project:1.0"


def check_namespace(root: Element, *, file: Path, expected: str) -> None:
    """Lenient on versions, strict on the standard: a root in another namespace (``urn:evil``) is not a REFI-QDA file.
    A root with no namespace is read (hand-made files), as the element names say what it is."""
    tag = str(root.tag)
    namespace = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    if namespace and not namespace.lower().startswith(QDA_NAMESPACE):
        raise InputError(f"the XML namespace is {namespace[:60]!r}, not {expected!r} (or another urn:QDA-XML: version): "
                         "not a REFI-QDA file", file=file, field=f"<{local(tag)}>@xmlns")


def _refuse_shared_guids(root: Element, users: dict[str, str], codes: list[RefiCode], docs: list[TextDoc], *, file: Path) -> None:
    """Sources, cases, variables, sets and selections: each GUID once (users and codes are checked as they are read)."""
    items: list[tuple[str, str]] = []
    sources = child(root, "Sources")
    for n, source in enumerate(list(sources) if sources is not None else [], start=1):
        items.append((source.get("guid") or "", f"Sources/{local(source.tag)}[{n}]"))
    for container, name in (("Cases", "Case"), ("Variables", "Variable"), ("Sets", "Set")):
        items += [(e.get("guid") or "", f"{container}/{name}[{n}]") for n, e in enumerate(_kids(root, container, name), start=1)]
    for doc in docs:
        items += [(s.guid, f"{doc.where}/PlainTextSelection[{n}]") for n, s in enumerate(doc.selections, start=1)]
    refuse_duplicate_guids(items, file=file)


def _kids(root: Element, container: str, name: str) -> list[Element]:
    found = child(root, container)
    return children(found, name) if found is not None else []


def read_project(root: Element, *, file: Path) -> Project:
    """The project's users, codes, text documents, cases, variables and sets."""
    if local(root.tag) != "Project":
        raise InputError(f"the root element is <{local(root.tag)}>, not <Project>: not a REFI-QDA project", file=file)
    check_namespace(root, file=file, expected=PROJECT_NAMESPACE)
    users, notes = _users(root, file=file)
    book = child(root, "CodeBook")
    codes = read_codes(child(book, "Codes") if book is not None else None, file=file)
    var_names = {v.get("guid") or "": (v.get("name") or "").strip() for v in _kids(root, "Variables", "Variable")}
    docs: list[TextDoc] = []
    media = 0
    sources = child(root, "Sources")
    for n, source in enumerate(list(sources) if sources is not None else [], start=1):
        kind = local(source.tag)
        where = f"Sources/{kind}[{n}]"
        if kind == "TextSource":
            docs.append(_text_doc(source, var_names, file=file, where=where))
        elif kind == "PDFSource":
            rep = child(source, "Representation")
            if rep is not None:  # the PDF's text: selections on it are text selections
                doc = _text_doc(rep, var_names, file=file, where=f"{where}/Representation", name=source.get("name"))
                doc.variables = {**_variable_values(source, var_names), **doc.variables}
                docs.append(doc)
        media += _count_media_codings(source)
    cases = []
    for case in _kids(root, "Cases", "Case"):
        cases.append({"name": (case.get("name") or case.get("guid") or "").strip(), "variables": _variable_values(case, var_names),
                      "sources": [r.get("targetGUID") for r in children(case, "SourceRef")]})
    sets = []
    for item in _kids(root, "Sets", "Set"):
        sets.append({"name": (item.get("name") or "").strip(), "sources": [r.get("targetGUID") for r in children(item, "MemberSource")]})
    _refuse_shared_guids(root, users, codes, docs, file=file)
    memos = []
    for note in _kids(root, "Notes", "Note"):
        content = child(note, "PlainTextContent")
        memos.append(Note(guid=note.get("guid") or "", name=(note.get("name") or "").strip(), path=note.get("plainTextPath"),
                          content=content.text if content is not None else None,
                          attrs={a: str(note.get(a)) for a in SOURCE_ATTRS if note.get(a)}))
    project_attrs = {a: str(root.get(a)) for a in ("creatingUserGUID", "creationDateTime", "modifyingUserGUID") if root.get(a)}
    return Project(memos=memos, attrs=project_attrs,
                   name=(root.get("name") or file.stem).strip() or file.stem, origin=root.get("origin") or "", modified=root.get("modifiedDateTime") or "",
                   description=child_text(root, "Description"), users=users, codes=codes, docs=docs, variables=var_names,
                   cases=cases, sets=sets, media_codings=media, notes=notes)

"""REFI-QDA codes <-> the package's Codebook.

A code's id is its path from the top of the hierarchy joined with ``::`` (``Coke::diet Coke``), so ids
are unique even where two branches share a name, and ATLAS.ti's flat ``::`` names and NVivo's or
MAXQDA's nesting give the same ids. The label is the last part; the description is the definition.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.codebook import Code, Codebook
from lived_themes.errors import InputError
from lived_themes.interop.project import RefiCode, check_namespace, read_codes
from lived_themes.interop.xmlsafe import child, local, parse_xml

SEP = "::"


def short_guid(guid: str) -> str:
    """The first 8 hex digits of a GUID (braces and case aside): what tells apart two codes that share a path."""
    return guid.strip("{}").lower()[:8]


def codebook_from_refi(codes: list[RefiCode], *, name: str, version: str, source: str = "",
                       description: str = "") -> tuple[Codebook | None, dict[str, str], list[str]]:
    """(Codebook or None when there are no codes, code guid -> code id, notes on what was inferred)."""
    notes: list[str] = []
    by_guid = {c.guid: c for c in codes}
    paths: dict[str, list[str]] = {}

    def path_of(code: RefiCode, depth: int = 0) -> list[str]:
        if code.guid in paths:
            return paths[code.guid]
        if depth > 100:
            raise InputError("code hierarchy is cyclic or deeper than 100 levels", file=source, field=f"Code@guid={code.guid}")
        parent = by_guid.get(code.parent_guid or "")
        head = path_of(parent, depth + 1) if parent is not None else []
        parts = [p.strip() for p in code.name.split(SEP) if p.strip()] or [f"(unnamed {code.guid[:8]})"]
        paths[code.guid] = head + parts
        return paths[code.guid]

    entries: dict[str, Code] = {}
    guid_to_id: dict[str, str] = {}
    made_parents = 0
    renamed = 0
    real = {SEP.join(path_of(c)) for c in codes}
    for code in codes:
        path = path_of(code)
        for depth in range(1, len(path)):  # a parent known only from a '::' name becomes a code of its own
            prefix = SEP.join(path[:depth])
            if prefix not in entries and prefix not in real:
                entries[prefix] = Code(id=prefix, label=path[depth - 1], parent=SEP.join(path[:depth - 1]) or None)
                made_parents += 1
        code_id = SEP.join(path)
        if code_id in guid_to_id.values():
            code_id = f"{code_id} [{short_guid(code.guid)}]"
            renamed += 1
        entries[code_id] = Code(id=code_id, label=path[-1], definition=code.description, parent=SEP.join(path[:-1]) or None)
        guid_to_id[code.guid] = code_id
    if made_parents:
        notes.append(f"{made_parents} parent code(s) created from '::' names")
    if renamed:
        notes.append(f"{renamed} code(s) share a path with another and got their guid appended to the id")
    if not entries:
        return None, guid_to_id, ["the project has no codes"]
    book = Codebook(name=name, version=version or "1", description=description, source=source, codes=_tree_order(list(entries.values())))
    return book, guid_to_id, notes


def _tree_order(codes: list[Code]) -> list[Code]:
    """Parents before their children, depth first, siblings in the file's order: how the hierarchy reads, and the
    order an export nests them in, so that a round trip keeps the list (and the codebook's hash) as it was.
    ATLAS.ti writes ``Coke::diet Coke`` before ``Coke``; the tree is the same."""
    known = {c.id for c in codes}
    kids: dict[str | None, list[Code]] = {}
    for code in codes:
        kids.setdefault(code.parent if code.parent in known and code.parent != code.id else None, []).append(code)
    out: list[Code] = []
    stack = list(reversed(kids.get(None, [])))
    while stack:
        code = stack.pop()
        out.append(code)
        stack += list(reversed(kids.get(code.id, [])))
    done = {c.id for c in out}
    return out + [c for c in codes if c.id not in done]  # a cycle, if any, keeps its place (refused by the codebook checks)


def read_qdc(path: str | Path) -> tuple[Codebook, list[str]]:
    """A codebook exchange file (.qdc) on its own; any of the namespaces vendors write is accepted."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("codebook file not found", file=path) from None
    root = parse_xml(data, file=path)
    if local(root.tag) != "CodeBook":
        raise InputError(f"the root element is <{local(root.tag)}>, not <CodeBook>: not a REFI-QDA codebook", file=path)
    check_namespace(root, file=path, expected="urn:QDA-XML:codebook:1.0")
    book, _, notes = codebook_from_refi(read_codes(child(root, "Codes"), file=path, where="Codes"), name=path.stem, version="1", source=path.name)
    if book is None:
        raise InputError("the codebook has no codes", file=path, field="Codes")
    return book, notes

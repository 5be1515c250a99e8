"""Rolling child codes up into their parents (``data.code_level``), for hierarchical codebooks from NVivo or MAXQDA.

A project with 72 codes, 25 of them with one example, cannot be learned code by code; its parents often can.
``parent`` moves every code one level up (a code with no parent stays), ``top`` to the top of its tree. A parent
is a code of the codebook, or a theme (then it becomes a code, with the theme's label and definition). Each quote
keeps one row per (coder, rolled-up code); a quote coded with no code stays "seen, no code". The codebook keeps
the rolled-up codes only, each definition followed by the children it now stands for, so the report says so.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from lived_themes.codebook import Code, Codebook
from lived_themes.corpus.model import Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID

LEVELS = ("as_coded", "parent", "top")


def _target(book: Codebook, code_id: str, level: str) -> str:
    ids, themes = set(book.code_ids), {t.id for t in book.themes}
    if level == "as_coded":
        return code_id
    seen = {code_id}
    current = code_id
    while True:
        parent = book.code(current).parent if current in ids else None
        if parent is None or parent in seen or (parent not in ids and parent not in themes):
            return current
        if level == "parent" or parent in themes:
            return parent
        seen.add(parent)
        current = parent


def roll_up(corpus: Corpus, level: str) -> tuple[Corpus, dict[str, str]]:
    """(the corpus with codes at ``level``, code -> the code it became). ``as_coded`` returns it unchanged."""
    if level not in LEVELS:
        raise ValueError(f"data.code_level must be one of {LEVELS}, not {level!r}")
    book = corpus.codebook
    if level == "as_coded" or book is None:
        return corpus, {}
    mapping = {c: _target(book, c, level) for c in book.code_ids}
    themes = {t.id: t for t in book.themes}
    children: dict[str, list[str]] = {}
    for child, target in mapping.items():
        if child != target:
            children.setdefault(target, []).append(child)
    codes: list[Code] = []
    for target in dict.fromkeys(mapping.values()):
        if target in themes:
            base = Code(id=target, label=themes[target].label, definition=themes[target].definition)
        else:
            base = book.code(target).model_copy(update={"parent": None})
        kids = children.get(target, [])
        if kids:
            labels = ", ".join(book.code(k).label for k in kids)
            base = base.model_copy(update={"definition": (base.definition.rstrip() + " " if base.definition.strip() else "")
                                           + f"(rolled up from: {labels})"})
        codes.append(base)
    new_book = Codebook(name=book.name, version=book.version, description=book.description, source=book.source, codes=codes)
    ann = corpus.annotations.copy()
    ann[CODE] = ann[CODE].map(lambda c: mapping.get(c, c) if isinstance(c, str) else c)
    coded = ann[ann[CODE].notna()].drop_duplicates([QUOTE_ID, CODER, CODE])
    uncoded = ann[ann[CODE].isna()]
    # a "seen, no code" row stays only where the coder has no code left on the quote
    uncoded = uncoded[~uncoded.set_index([QUOTE_ID, CODER]).index.isin(coded.set_index([QUOTE_ID, CODER]).index)]
    merged = pd.concat([coded, uncoded]).sort_index()
    return replace(corpus, annotations=merged.reset_index(drop=True), codebook=new_book), mapping

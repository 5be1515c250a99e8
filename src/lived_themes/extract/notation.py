"""Speaker notations such as ``[Woman, Southwark]`` or ``[woman, NE – creative writing group]``.

A spaCy Matcher finds the gender term on tokens (case-insensitive, multi-word "transgender woman",
synonyms such as "Male"), which a regular expression would do with a long, brittle alternation.
Place codes are resolved with the report's own "Thumbnail sketches of the focus groups" section,
because only the report knows that "NE" means the Teesside group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language

_GENDER_WORDS = {"woman": "woman", "women": "woman", "female": "woman", "man": "man", "men": "man", "male": "man"}
_TRANS_WORDS = {"transgender", "trans"}
_NONBINARY = "non-binary"
_DASHES = {"–", "—", "-", "--"}


@dataclass(frozen=True)
class Speaker:
    """A parsed notation: who spoke (as far as the report says) and in which group."""

    notation: str
    gender: str | None
    place: str | None
    group: str | None
    detail: str | None


def group_key(name: str) -> str:
    """Compare place names without case, dots or spaces ("N.E." == "NE")."""
    return re.sub(r"[\W_]+", "", name).lower()


def focus_group_aliases(headings: Iterable[tuple[int, str]]) -> dict[str, str]:
    """Map place codes to group names from the focus-group sketch headings.

    ``headings`` are (markdown level, plain title) in document order. The sketch section starts at
    a heading mentioning "thumbnail sketch" and takes every following heading that names a single
    "focus group" (converted reports misplace some at the parent's level). Ambiguous aliases
    (e.g. "London" for two groups) are dropped.
    """
    candidates: dict[str, set[str]] = {}
    start_level: int | None = None
    for level, title in headings:
        lowered = title.lower()
        if start_level is None:
            if "thumbnail sketch" in lowered:
                start_level = level
            continue
        if not re.search(r"focus group(?!s)", lowered):
            if level <= start_level:
                break
            continue
        name = re.split(r"\(|focus group", title, maxsplit=1, flags=re.IGNORECASE)[0].strip(" ,–-")
        if not name:
            continue
        aliases = [name]
        for inner in re.findall(r"\(([^)]*)\)", title):
            aliases += [inner, inner.split()[0] if inner.split() else inner]
        for alias in aliases:
            if group_key(alias):
                candidates.setdefault(group_key(alias), set()).add(name)
    return {key: next(iter(names)) for key, names in candidates.items() if len(names) == 1}


@lru_cache(maxsize=4)
def load_pipeline(name: str | None) -> Language:
    """spaCy is imported only here, so importing the package stays light; pipelines are cached."""
    import spacy

    if name is None:
        return spacy.blank("en")
    try:
        return spacy.load(name)
    except OSError as exc:
        raise ValueError(f"spaCy pipeline {name!r} is not installed; omit it to use a blank English pipeline") from exc


class NotationParser:
    """Parse bracket notations; a bracket without a gender term or a known place is not a speaker."""

    def __init__(self, nlp: Language, groups: dict[str, str]) -> None:
        from spacy.matcher import Matcher

        self.nlp = nlp
        self.groups = groups
        self.matcher = Matcher(nlp.vocab)
        genders = sorted(_GENDER_WORDS)
        self.matcher.add("GENDER", [
            [{"LOWER": {"IN": sorted(_TRANS_WORDS)}}, {"LOWER": {"IN": genders}}],
            [{"LOWER": {"IN": genders}}],
            [{"LOWER": "non"}, {"ORTH": "-"}, {"LOWER": "binary"}],
            [{"LOWER": "nonbinary"}],
        ])

    def parse(self, note: str) -> Speaker | None:
        """Split ``gender, place – detail``; return None for an editorial bracket such as [quote needs completing]."""
        doc = self.nlp.make_doc(note.strip())
        starts = [(s, e) for _, s, e in self.matcher(doc) if s == 0]
        gender_end = max((e for _, e in starts), default=0)
        gender = _normalise_gender([t.lower_ for t in doc[:gender_end]]) if gender_end else None
        rest = [t for t in doc[gender_end:]]
        while rest and rest[0].text in {",", ";", ":"}:
            rest = rest[1:]
        cut = next((i for i, t in enumerate(rest) if _is_separator(t)), len(rest))
        place = _span_text(rest[:cut])
        detail = _span_text(rest[cut + 1:]) if cut < len(rest) else None
        group = self.groups.get(group_key(place)) if place else None
        if gender is None and group is None:
            return None
        return Speaker(notation=note.strip(), gender=gender, place=place, group=group or place, detail=detail)


def _normalise_gender(words: list[str]) -> str:
    if words[-1] == "binary" or words == ["nonbinary"]:
        return _NONBINARY
    base = _GENDER_WORDS[words[-1]]
    return f"transgender {base}" if words[0] in _TRANS_WORDS else base


def _is_separator(token: Any) -> bool:
    """A spaced dash (or a comma after the place) starts the detail; a hyphen inside a word does not."""
    if token.text == ",":
        return True
    return token.text in _DASHES and token.i > 0 and bool(token.doc[token.i - 1].whitespace_)


def _span_text(tokens: list[Any]) -> str | None:
    text = "".join(t.text_with_ws for t in tokens).strip(" ,;:–—-")
    return text or None

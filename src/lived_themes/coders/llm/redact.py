"""Redaction before anything is sent: e-mail addresses, phone numbers and names become placeholders.

Rules need no model: spaCy's blank English tokenizer marks e-mail-like tokens (``LIKE_EMAIL``) and URLs,
a regular expression finds phone numbers (UK and international forms), and a Matcher finds names after a
title ("Dr Patel", "Mrs J. Smith"). Names without a title need a named-entity model: give the name of an
installed spaCy pipeline (``pipeline="en_core_web_sm"``) and its PERSON entities are redacted too.
Rules miss things; redaction lowers the risk, it does not remove it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

EMAIL, PHONE, NAME, URL = "[EMAIL]", "[PHONE]", "[NAME]", "[URL]"
_PHONE = re.compile(r"(?<![\w+])(?:\+?\d{1,3}[\s.-]?)?(?:\(?\d{2,5}\)?[\s.-]?)\d{3,4}[\s.-]?\d{3,4}(?!\w)")
_TITLES = ["mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor", "nurse", "sister", "rev"]


@lru_cache(maxsize=4)
def _pipeline(name: str | None) -> tuple[Any, Any]:
    import spacy
    from spacy.matcher import Matcher

    if name:
        try:
            nlp = spacy.load(name)
        except OSError:
            raise ValueError(f"spaCy pipeline {name!r} is not installed; install it, or set redact_pipeline: null for rules only") from None
    else:
        nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    matcher.add("EMAIL", [[{"LIKE_EMAIL": True}]])
    matcher.add("URL", [[{"LIKE_URL": True}]])
    title = {"LOWER": {"IN": _TITLES}}
    dot = {"TEXT": ".", "OP": "?"}
    capital = {"IS_TITLE": True}
    initial = {"TEXT": {"REGEX": r"^[A-Z]\.?$"}, "OP": "?"}
    matcher.add("NAME", [[title, dot, initial, capital], [title, dot, initial, capital, capital]])
    return nlp, matcher


def check_pipeline(name: str | None) -> None:
    """Raise ValueError now when a named pipeline is not installed (at config load, not mid-run)."""
    _pipeline(name)


def redact(text: str, *, pipeline: str | None = None) -> str:
    """``text`` with e-mails, URLs, phone numbers and names replaced by ``[EMAIL]``, ``[URL]``, ``[PHONE]``, ``[NAME]``."""
    nlp, matcher = _pipeline(pipeline)
    doc = nlp(text)
    spans: list[tuple[int, int, str]] = []
    labels = {"EMAIL": EMAIL, "URL": URL, "NAME": NAME}
    for match_id, start, end in matcher(doc):
        span = doc[start:end]
        label = labels[nlp.vocab.strings[match_id]]
        if label == NAME:  # keep the title, hide the name
            first = next((t for t in span if t.is_title and t.lower_ not in _TITLES), None)
            if first is None:
                continue
            spans.append((first.idx, span.end_char, label))
        else:
            spans.append((span.start_char, span.end_char, label))
    for ent in getattr(doc, "ents", ()):
        if ent.label_ in ("PERSON", "PER"):
            spans.append((ent.start_char, ent.end_char, NAME))
    for m in _PHONE.finditer(text):
        if sum(ch.isdigit() for ch in m.group()) >= 9:
            spans.append((m.start(), m.end(), PHONE))
    out, last = [], 0
    for start, end, label in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < last:
            continue  # overlaps one already replaced
        out += [text[last:start], label]
        last = end
    out.append(text[last:])
    return "".join(out)

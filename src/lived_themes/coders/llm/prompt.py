"""The prompt an LLM coder sends, and the checks its answer must pass.

The prompt holds the codebook (labels, definitions, inclusion and exclusion notes, example quotes),
the ``k`` most similar labelled quotes with their codes, and the quote. The answer must be JSON:
``{"codes": [{"code": "<id>", "span": "<verbatim words from the quote>"}]}``. :func:`parse_answer`
keeps only codes of the codebook (an invented one is dropped and counted) and only spans that are a
verbatim substring of the quote as sent (a span that is not is rejected and counted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

Message = dict[str, str]

SYSTEM = (
    "You are a careful qualitative researcher applying a codebook to quotes from people with lived experience. "
    "Apply only the codes in the codebook, by their exact id. Give a code only when the quote clearly fits its "
    "definition and inclusion notes and none of its exclusion notes. For each code you give, copy a short span of "
    "the quote, word for word, that supports it. A quote may have several codes or none. "
    'Answer with JSON only, in this form: {"codes": [{"code": "<code id>", "span": "<exact words from the quote>"}]}. '
    'If no code applies, answer {"codes": []}.'
)


def codebook_text(book: Codebook, codes: Sequence[str], *, with_examples: bool = True) -> str:
    """The codebook as the model reads it: one block per code, in ``codes`` order."""
    lines = [f"Codebook: {book.name} (version {book.version})"]
    if book.description:
        lines.append(book.description.strip())
    for code_id in codes:
        code = book.code(code_id)
        lines.append("")
        lines.append(f"- id: {code.id}")
        lines.append(f"  label: {code.label}")
        if code.definition:
            lines.append(f"  definition: {' '.join(code.definition.split())}")
        for note in code.include:
            lines.append(f"  include: {note}")
        for note in code.exclude:
            lines.append(f"  exclude: {note}")
        if with_examples:
            for example in code.examples:
                lines.append(f"  example quote: {json.dumps(example, ensure_ascii=False)}")
    return "\n".join(lines)


def build_messages(codebook_block: str, examples: Sequence[tuple[str, Sequence[str]]], quote: str) -> list[Message]:
    """Chat messages for one quote: system rules, the codebook, the retrieved coded quotes, then the quote."""
    shown = [{"quote": text, "codes": list(codes)} for text, codes in examples]
    parts = [codebook_block]
    if shown:
        parts.append("Similar quotes, already coded by the research team (most similar first):\n"
                     + "\n".join(json.dumps(item, ensure_ascii=False) for item in shown))
    parts.append("Code this quote:\n" + json.dumps(quote, ensure_ascii=False))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


@dataclass
class Answer:
    """One checked answer: codes kept with their span offsets in the quote as sent, and what was refused."""

    codes: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    malformed: bool = False
    invented: int = 0
    rejected_spans: int = 0


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _json_object(text: str) -> Any:
    """The first JSON object in a model's answer (bare, or inside a ```json fence); ValueError when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in [i for i, ch in enumerate(candidate) if ch == "{"][:20]:
            try:
                value, _ = decoder.raw_decode(candidate[start:])
            except json.JSONDecodeError:
                continue
            except RecursionError:  # nested thousands deep: no answer of the asked-for form is
                raise ValueError("the answer's JSON is nested too deeply") from None
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object in the answer")


def parse_answer(text: str, quote: str, codes: Sequence[str], *, require_span: bool = True) -> Answer:
    """Check one answer against the codebook's ``codes`` and the ``quote`` as sent.

    Malformed (no JSON object, or no ``codes`` list): ``malformed`` and no codes. An id not in
    ``codes``: dropped, ``invented`` += 1. A span that is empty or not a verbatim substring of the quote:
    ``rejected_spans`` += 1, and the code is dropped too when ``require_span`` (a code needs evidence).
    """
    answer = Answer()
    try:
        data = _json_object(text)
    except ValueError:
        answer.malformed = True
        return answer
    items = data.get("codes")
    if not isinstance(items, list):
        answer.malformed = True
        return answer
    known = set(codes)
    for item in items:
        if isinstance(item, str):  # a bare id: no span given
            item = {"code": item}
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            answer.malformed = True
            continue
        code = item["code"].strip()
        if code not in known:
            answer.invented += 1
            continue
        span = item.get("span")
        where = _locate(span, quote)
        if where is None:
            answer.rejected_spans += 1
            if require_span:
                continue
        if code not in answer.codes or answer.codes[code] is None:
            answer.codes[code] = where
    return answer


def _locate(span: object, quote: str) -> tuple[int, int] | None:
    """(start, end) of ``span`` in ``quote`` when it is a verbatim substring (surrounding spaces and quote marks trimmed)."""
    if not isinstance(span, str):
        return None
    piece = span.strip().strip("\"'“”‘’").strip()
    if not piece:
        return None
    start = quote.find(piece)
    return None if start < 0 else (start, start + len(piece))

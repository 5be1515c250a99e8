"""The report's section on LLM coders' answers: how many were checked, failed, invented codes or gave non-verbatim spans.

Counts only (from ``metrics.json`` ``answer_checks``) and where text was sent (run.json ``text_sent_to``):
never a prompt or an answer, which hold quote text.
"""

from __future__ import annotations

from typing import Any, Mapping

from lived_themes.report.blocks import MISSING, Block, Table, records

COLUMNS = [("items", "quotes"), ("samples", "answers asked"), ("requests", "requests sent"), ("cached", "from cache"),
           ("failed_items", "quotes with no answer"), ("malformed", "malformed answers"), ("invented_codes", "invented codes dropped"),
           ("rejected_spans", "non-verbatim spans rejected")]


def _cell(value: Any) -> str:
    return str(int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else MISSING


def llm_blocks(metrics: Mapping, run_info: Mapping | None) -> list[Block]:
    """A table per scheme and coder of the answer checks, and a list of where text was sent; empty when no LLM coder ran."""
    rows = records(metrics.get("answer_checks"))
    if not rows:
        return []
    table = Table("answer-checks", ["scheme", "coder", *[label for _, label in COLUMNS]],
                  [[str(r.get("scheme", MISSING)), str(r.get("coder", MISSING)), *[_cell(r.get(key)) for key, _ in COLUMNS]] for r in rows])
    blocks: list[Block] = [
        ("h2", "LLM answer checks"),
        ("p", "Each answer is checked against the codebook and the quote: a code the codebook does not have is dropped, and "
              "a supporting span that is not word for word in the quote is rejected with its code. A quote with no usable "
              "answer (time-out, server error, malformed reply) is scored as no codes and carries an `error` in "
              "predictions.jsonl, so it counts against the coder rather than being left out."),
        table,
    ]
    sent = records((run_info or {}).get("text_sent_to"))
    if sent:
        items = []
        for d in sent:
            where = d.get("endpoint") or f"{d.get('backend')} model {d.get('model')} in this process"
            items.append(f"{d.get('coder')}: {where} ({'this machine' if d.get('local') else 'ANOTHER MACHINE (allow_remote)'}"
                         f"{', redacted' if d.get('redacted') else ''})")
        blocks += [("p", "Where quote text was sent:"), ("ul", items)]
    return blocks

"""The report's stand-in section: could the model replace each human coder?

Leave-one-coder-out: for each human, that human's agreement with the other coders beside the
model's agreement with the same coders on the same quotes, over all codes, with the interval and
p-value from :mod:`lived_themes.evaluation.standin`.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.report.blocks import MISSING, Block, Figure, Table, fmt
from lived_themes.report.standin_plot import plot_standin

MACRO = "(macro)"
EXPLAIN = (
    "Each row leaves one human coder out: their agreement with the other coders (human) beside the "
    "model's agreement with the same coders on the same quotes (model). A difference whose interval "
    "lies above −margin says the model could stand in for that coder on these codes."
)


def _overall_rows(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("code") == MACRO and r.get("group_column") == "overall" and r.get("others") == "all"]


def standin_blocks(scheme: str, results: list[dict], *, figure_dir: Path | None, slug: str) -> list[Block]:
    blocks: list[Block] = []
    for result in results:
        records = result.get("standin") or []
        rows = _overall_rows(records)
        if not rows:
            continue
        coder = str(result.get("coder", ""))
        cols = ["Human coder", "Coder group", "n quotes", "human κ", "model κ", "difference [95% CI]", "p", "could stand in"]
        table_rows = [[str(r.get("coder", MISSING)), str(r.get("coder_group") or MISSING), str(r.get("n_items", MISSING)),
                       fmt(r.get("human")), fmt(r.get("model")),
                       f"{fmt(r.get('difference'))} [{fmt(r.get('ci_low'))}, {fmt(r.get('ci_high'))}]",
                       fmt(r.get("p_value"), 3), "yes" if r.get("non_inferior") else "no"] for r in rows]
        blocks += [("h3", f"Can {coder} stand in for a human coder?"), ("p", EXPLAIN),
                   Table("standin", cols, table_rows, f"Leave-one-coder-out, over all codes, {scheme}, {coder}")]
        if figure_dir is not None:
            blocks += _figure(records, figure_dir / f"standin__{slug}__{coder}.png", f"Stand-in test, {scheme}, {coder}")
    return blocks


def _figure(records: list[dict], path: Path, title: str) -> list[Block]:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    plot_standin(pd.DataFrame(records), path=path, title=title)  # a stand-alone Figure: nothing to close
    return [Figure(path, title)] if path.exists() else []

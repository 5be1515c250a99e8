"""The report's single-label section: each coder's accuracy, Cohen's kappa and percent agreement with the
reference over codes + none (the human coders' own beside them), and confusion matrices (table and figure).

Why: in a single-label corpus a researcher reads the model as one more coder choosing one code per quote;
kappa and percent agreement are the figures a QDA program's coding comparison gives, and the confusion
matrix shows which codes are taken for which. Large codebooks get the most frequent confusions instead of
a table nobody can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.report.blocks import Block, Figure, Table, fmt
from lived_themes.report.figures import heatmap

SINGLE = ("Single-label mode: each quote gets one code or none, read as one choice among the codes and \"none\". "
          "Cohen's κ and % agreement compare that choice with the reference coder's (a coder that gave several codes "
          "never agrees); 'none' and 'more than one' are the shares of quotes given no code / several codes. "
          "The macro-F1 of the headline is over the codes; 'none' is not a code and is not in it. "
          "The floor (majority) gives every quote the most frequent code of its training quotes.")
#: beyond this many codes a confusion matrix is listed as its most frequent confusions, and not drawn
MAX_MATRIX_CODES = 20
TOP_CONFUSIONS = 15


def _is_floor(coder: str) -> bool:
    return "majority" in coder.lower()


def single_label_blocks(scheme: str, results: list[dict], *, humans: list[Mapping[str, Any]] | None = None,
                        figure_dir: Path | None, slug: str) -> list[Block]:
    single = [r for r in results if r.get("single_label")]
    if not single:
        return []
    cols = ["Coder", "% agreement with reference (accuracy)", "Cohen's κ with reference", "none", "more than one"]
    rows = [[str(r.get("coder", "")), fmt(r["single_label"].get("percent_agreement")), fmt(r["single_label"].get("kappa")),
             fmt(r["single_label"].get("none_rate")), fmt(r["single_label"].get("multi_rate"))] for r in single]
    rows += [[f"{h.get('coder')} (human)", fmt(h.get("percent_agreement")), fmt(h.get("kappa")), "", ""] for h in humans or []]
    blocks: list[Block] = [("h3", "Single-label scores"), ("p", SINGLE),
                           Table("single-label", cols, rows, f"One code or none per quote, against the reference, {scheme}")]
    for r in single:
        matrix = r["single_label"].get("confusion")
        coder = str(r.get("coder", ""))
        if not matrix or _is_floor(coder):
            continue
        blocks += _confusion_blocks(coder, matrix, scheme, figure_dir=figure_dir, slug=f"{slug}__{_slug(coder)}")
    return blocks


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_") or "coder"


def _confusion_blocks(coder: str, confusion: Mapping[str, Any], scheme: str, *, figure_dir: Path | None, slug: str) -> list[Block]:
    ref, pred = [str(x) for x in confusion["reference"]], [str(x) for x in confusion["predicted"]]
    counts = np.asarray(confusion["matrix"], dtype=int)
    caption = f"Confusion matrix of {coder}, {scheme}: reference (rows) × {coder} (columns), quotes"
    if len(ref) - 1 > MAX_MATRIX_CODES:
        off = [(int(counts[i, j]), ref[i], pred[j]) for i in range(len(ref)) for j in range(len(pred))
               if counts[i, j] and not (j < len(ref) and i == j)]
        off.sort(key=lambda x: (-x[0], x[1], x[2]))
        rows = [[a, b, str(n)] for n, a, b in off[:TOP_CONFUSIONS]]
        return [Table("confusion", ["Reference", coder, "quotes"], rows,
                      f"Most frequent confusions of {coder}, {scheme} ({len(ref) - 1} codes: the full matrix is in metrics.json)")]
    table = Table("confusion", ["Reference \\ coder", *pred], [[ref[i], *(str(v) for v in counts[i])] for i in range(len(ref))],
                  caption, bold={(i, i + 1) for i in range(len(ref))})
    blocks: list[Block] = [table]
    if figure_dir is not None:

        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / counts.sum(axis=1, keepdims=True)
        title = f"Confusion matrix of {coder} (share of each reference row), {scheme}"
        path = heatmap(share, ref, pred, figure_dir / f"confusion__{slug}.png", title=title, colorbar_label="share of the row")
        blocks.append(Figure(path, title))
    return blocks

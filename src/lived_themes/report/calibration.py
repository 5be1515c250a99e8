"""The report's calibration section (can a score be read as a probability?) and single-label figures.

Per coder: mean Brier score and expected calibration error over codes, and a reliability diagram of
all codes' scores pooled; in single-label runs, accuracy and macro-F1 over codes + none as well.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.report.blocks import Block, Figure, Table, fmt, records
from lived_themes.report.figures import reliability_diagram

EXPLAIN = (
    "Out-of-fold scores against the reference coder. Brier: mean squared gap between score and 0/1 "
    "(lower is better). ECE: how far, on average, the share of quotes that had a code is from the score "
    "given to them (0 = a score of 0.8 means the code applies 8 times in 10). A coder far above the "
    "diagonal of the diagram is under-confident, far below it over-confident."
)
SINGLE = ("Single-label mode: each quote gets one code or none. Accuracy and macro-F1 count \"none\" as one more class; "
          "'none' and 'more than one' are the shares of quotes the coder gave no code / several codes.")


def calibration_blocks(scheme: str, results: list[dict], *, figure_dir: Path | None, slug: str) -> list[Block]:
    blocks: list[Block] = []
    scored = [r for r in results if r.get("calibration")]
    if scored:
        rows = [[str(r.get("coder", "")), fmt(r["calibration"].get("mean_brier"), 3), fmt(r["calibration"].get("mean_ece"), 3)]
                for r in scored]
        blocks += [("h3", "Calibration"), ("p", EXPLAIN),
                   Table("calibration", ["Coder", "mean Brier", "mean ECE"], rows, f"Calibration of scores, {scheme}")]
        if figure_dir is not None:
            curves = {str(r.get("coder", "")): records(r["calibration"].get("reliability")) for r in scored}
            title = f"Reliability of scores, {scheme}"
            blocks.append(Figure(reliability_diagram(curves, figure_dir / f"reliability__{slug}.png", title=title), title))
    single = [r for r in results if r.get("single_label")]
    if single:
        rows = [[str(r.get("coder", "")), fmt(r["single_label"].get("accuracy")), fmt(r["single_label"].get("macro_f1_with_none")),
                 fmt(r["single_label"].get("none_rate")), fmt(r["single_label"].get("multi_rate"))] for r in single]
        blocks += [("h3", "Single-label scores"), ("p", SINGLE),
                   Table("single-label", ["Coder", "accuracy", "macro-F1 (codes + none)", "none", "more than one"], rows,
                         f"One code or none per quote, {scheme}")]
    return blocks

"""The report's calibration section (can a score be read as a probability?) and single-label figures.

Per coder: mean Brier score and expected calibration error over codes, and a reliability diagram of
all codes' scores pooled; in single-label runs, the single-label section (``report/single_label.py``) follows.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.report.blocks import Block, Figure, Table, fmt, records
from lived_themes.report.figures import reliability_diagram
from lived_themes.report.single_label import single_label_blocks

EXPLAIN = (
    "Out-of-fold scores against the reference coder. Brier: mean squared gap between score and 0/1 "
    "(lower is better). ECE: how far, on average, the share of quotes that had a code is from the score "
    "given to them (0 = a score of 0.8 means the code applies 8 times in 10). A coder far above the "
    "diagonal of the diagram is under-confident, far below it over-confident."
)


def calibration_blocks(scheme: str, results: list[dict], *, figure_dir: Path | None, slug: str,
                       humans: list[dict] | None = None) -> list[Block]:
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

    return blocks + single_label_blocks(scheme, results, humans=humans, figure_dir=figure_dir, slug=slug)

"""Matplotlib figures for the run report: per-code F1, per-group heatmaps, agreement matrix.

Each function takes plain tables (already shaped by ``report``) and writes one PNG, so the
figures can be regenerated or restyled without re-running an experiment. matplotlib is
imported inside the functions, and figures are ``matplotlib.figure.Figure`` objects saved
directly (no pyplot state), so drawing a report never changes the caller's backend (a notebook
keeps showing its own figures) and no display is needed; importing the package stays fast.
Missing values (NaN) are drawn grey and labelled "–", never dropped, so a coder that could not be
scored is visible as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

MISSING = "–"
_DPI = 110


def new_figure(figsize: tuple[float, float]):
    """A stand-alone Figure and its axes: no pyplot, so the user's backend and open figures are left alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def colormap(name: str):
    """A registered colormap by name, without pyplot."""
    import matplotlib

    return matplotlib.colormaps[name]


def _short(text: str, width: int = 38) -> str:
    """Shorten a tick label, keeping a trailing "(n=...)" so counts stay readable."""
    stem, sep, tail = text.rpartition(" (") if text.endswith(")") else (text, "", "")
    tail = sep + tail
    room = max(width - len(tail), 8)
    return (stem if len(stem) <= room else stem[: room - 1] + "…") + tail


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path


def per_code_f1_chart(
    f1: np.ndarray,
    code_names: Sequence[str],
    coders: Sequence[str],
    path: Path,
    *,
    title: str = "",
) -> Path:
    """Grouped horizontal bars: one group per code, one bar per coder.

    ``f1`` is (codes x coders); NaN bars are left empty and marked "–" so a code nobody
    could score is not mistaken for F1 = 0.
    """
    f1 = np.asarray(f1, dtype=float).reshape(len(code_names), len(coders))
    n_codes, n_coders = f1.shape
    height = 0.8 / max(n_coders, 1)
    fig, ax = new_figure((8, max(2.5, 0.35 * n_codes * max(n_coders, 2) ** 0.5 + 1.2)))
    y = np.arange(n_codes)
    colors = colormap("tab10")
    for j, coder in enumerate(coders):
        pos = y - 0.4 + height * (j + 0.5)
        values = f1[:, j]
        ax.barh(pos, np.nan_to_num(values), height=height, label=coder, color=colors(j % 10))
        for p, v in zip(pos, values):
            if np.isnan(v):
                ax.text(0.01, p, MISSING, va="center", fontsize=7)
    ax.set_yticks(y, [_short(c) for c in code_names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 against the reference coder")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    path: Path,
    *,
    title: str = "",
    colorbar_label: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
) -> Path:
    """Annotated heatmap (rows x columns); NaN cells are grey and labelled "–"."""
    data = np.asarray(values, dtype=float).reshape(len(rows), len(columns))
    fig, ax = new_figure((max(4.0, 1.3 * len(columns) + 2.5), max(2.2, 0.45 * len(rows) + 1.4)))
    colours = colormap(cmap).with_extremes(bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(data), cmap=colours, vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data[i, j]
            shade = (v - vmin) / (vmax - vmin) if np.isfinite(v) else 1.0
            text = MISSING if not np.isfinite(v) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if shade < 0.5 else "black")
    ax.set_xticks(range(len(columns)), [_short(c, 24) for c in columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [_short(r, 30) for r in rows], fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label=colorbar_label, fraction=0.05)
    return _save(fig, path)


def group_heatmap(values: np.ndarray, groups: Sequence[str], coders: Sequence[str], path: Path, *, title: str = "") -> Path:
    """Macro-F1 per group (rows) and coder (columns); small groups carry a "*" in their label."""
    return heatmap(values, groups, coders, path, title=title, colorbar_label="macro-F1")


def agreement_matrix(kappa: np.ndarray, coders: Sequence[str], path: Path, *, title: str = "") -> Path:
    """Coder x coder mean Cohen's kappa over codes; pairs never compared stay grey."""
    return heatmap(
        kappa, coders, coders, path, title=title, colorbar_label="mean Cohen's kappa", vmin=-1.0, vmax=1.0, cmap="RdYlBu"
    )


def reliability_diagram(curves: dict[str, list[dict]], path: Path, *, title: str = "") -> Path:
    """Mean score (x) against the share of quotes that had the code (y), one line per coder; marker size ~ bin count.

    ``curves`` maps a coder to its reliability bins (``mean_score``, ``observed``, ``n``); empty bins are skipped.
    """
    fig, ax = new_figure((5.2, 5.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for coder, bins in curves.items():
        pts = [(b["mean_score"], b["observed"], b["n"]) for b in bins if b.get("n") and b.get("mean_score") is not None
               and b.get("observed") is not None]
        if not pts:
            continue
        x, y, n = (np.array(v, dtype=float) for v in zip(*pts))
        ax.plot(x, y, marker="o", linewidth=1.2, markersize=3, label=_short(coder, 30))
        ax.scatter(x, y, s=10 + 60 * np.sqrt(n / n.max()), alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean score in bin")
    ax.set_ylabel("share of quotes with the code")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)

"""What a topic run leaves for researchers: a topic table with representative quotes, BERTopic's HTML plots, PNGs.

Quote text goes only into files in the run folder (the topic table, the plots' hover text), never
into logs: log lines name figures and counts only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lived_themes.topics.base import OUTLIER

if TYPE_CHECKING:
    from lived_themes.topics.base import TopicModel

log = logging.getLogger(__name__)


def topic_table(
    model: TopicModel,
    quote_ids: Sequence[str],
    texts: Sequence[str],
    *,
    n_words: int = 10,
    n_examples: int = 3,
    best: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per topic (outliers last): size, share, top words, representative quote ids and texts, best code."""
    topics = np.asarray(model.topics_)
    words = model.topic_words(n_words)
    examples = model.representative_docs(n_examples)
    rows = []
    for topic in [*model.topic_ids, *([OUTLIER] if (topics == OUTLIER).any() else [])]:
        picked = examples.get(topic, [])
        rows.append(
            {
                "topic": topic,
                "label": model.topic_label(topic),
                "size": int((topics == topic).sum()),
                "share": float((topics == topic).mean()),
                "words": " ".join(words.get(topic, [])),
                "code_from_codebook": model.topic_codes_.get(topic, ""),
                "representative_ids": " ".join(str(quote_ids[i]) for i in picked),
                "representative_quotes": " || ".join(texts[i] for i in picked),
            }
        )
    table = pd.DataFrame(rows)
    if best is not None and len(table):
        names = {"count": "best_code_count", "share": "best_code_share", "share_of_code": "share_of_best_code", "lift": "best_code_lift"}
        table = table.merge(best.rename(columns=names), on="topic", how="left")
    return table


#: Below this many quotes a topic run's figures are labelled too small to judge.
SMALL_CORPUS = 200


def small_corpus_note(n_quotes: int) -> str:
    """A warning line for corpora too small to judge topic models on ("" when large enough)."""
    if n_quotes >= SMALL_CORPUS:
        return ""
    return (
        f"**Too small to judge: {n_quotes} quotes.** Coherence, diversity and alignment on fewer than "
        f"{SMALL_CORPUS} quotes move with a handful of quotes; read these topics as a description of this "
        "corpus, not as evidence that one topic model is better than another."
    )


def _md_table(frame: pd.DataFrame) -> str:
    """A Markdown table; floats to two decimals, pipes in cells escaped."""
    def cell(v: object) -> str:
        text = f"{v:.2f}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)])


def readable_labels(topics: pd.DataFrame, code_labels: Mapping[str, str] | None = None, *, n_words: int = 4) -> dict[int, str]:
    """Topic id -> ``"3: wait hour time arrive · Timeliness of care"``: its top words, then the label of the code it
    matches best (when any of its quotes holds a code), so a reader sees what a topic says and which code it carries.

    ``topics`` is :func:`topic_table` with the best-code columns. A topic from the codebook (guided, zero-shot) keeps
    that code's label; a topic with no topic words (bertopic.v4's word-less quotes) keeps the model's own label.
    """
    code_labels = dict(code_labels or {})
    out: dict[int, str] = {}
    for row in topics.to_dict("records"):
        topic = int(row["topic"])
        if topic == OUTLIER:
            out[topic] = "outliers"
            continue
        words = " ".join(str(row.get("words") or "").split()[:n_words]) or str(row.get("label", "")).split(": ", 1)[-1]
        code = row.get("code_from_codebook") or ""
        best = row.get("best_code")
        carried = code or (best if isinstance(best, str) and (row.get("best_code_count") or 0) > 0 else "")
        out[topic] = f"{topic}: {words}" + (f" · {code_labels.get(carried, carried)}" if carried else "")
    return out


def alignment_markdown(label: str, topics: pd.DataFrame, coverage: pd.DataFrame, *, n_words: int = 5) -> str:
    """A model's alignment as a reader acts on it: topic -> best code, code -> topics, codes no topic captures.

    ``topics`` is :func:`topic_table` with the best-code columns; ``coverage`` is
    :func:`lived_themes.topics.alignment.code_coverage`. Quotes are named by id only.
    """
    rows = topics[topics["topic"] != OUTLIER]
    view = pd.DataFrame(
        {
            "topic": rows["topic"],
            "size": rows["size"],
            # a topic with no words (bertopic.v4's word-less quotes) shows its label instead of an empty cell
            "words": [" ".join(str(w).split()[:n_words]) or str(name).split(": ", 1)[-1].split(" · ")[0]
                      for w, name in zip(rows["words"].fillna(""), rows["label"])],
            "best code": rows.get("best_code", ""),
            "share of topic": rows.get("best_code_share", float("nan")),
            "share of code": rows.get("share_of_best_code", float("nan")),
            "lift": rows.get("best_code_lift", float("nan")),
            "quote ids": rows["representative_ids"],
        }
    )
    captured = coverage[coverage["captured"]]
    missing = coverage[~coverage["captured"] & (coverage["pairs"] > 0)]
    absent = coverage[coverage["pairs"] == 0]
    parts = [
        f"## {label}",
        "",
        "### Topics and the code each matches best",
        "",
        "share of topic = the topic's quotes (pairs) holding the code; share of code = the code's quotes that "
        "fall in this topic; lift = share of topic over the code's overall share.",
        "",
        _md_table(view),
        "",
        "### Codes and the topics that carry them",
        "",
        _md_table(captured[["code", "pairs", "carried_by", "share_carried"]].rename(columns={"carried_by": "topics", "share_carried": "share of code in them"}))
        if len(captured)
        else "No code is carried by any topic.",
        "",
        "### Codes no topic captures",
        "",
        ", ".join(f"{c} ({n})" for c, n in zip(missing["code"], missing["pairs"])) if len(missing) else "None: every code is carried by a topic.",
    ]
    if len(absent):
        parts += ["", "Codes with no quote in this corpus: " + ", ".join(map(str, absent["code"])) + "."]
    return "\n".join(parts) + "\n"


def topic_report(name: str, n_quotes: int, coder: str, quality: pd.DataFrame, scores: pd.DataFrame, sections: Sequence[str]) -> str:
    """The topic run's report.md: corpus size (flagged when too small), quality, alignment, then each model's section."""
    note = small_corpus_note(n_quotes)
    keep = [c for c in ("model", "n_topics", "outlier_share", "npmi", "diversity") if c in quality.columns]
    align = [c for c in ("model", "nmi", "ari", "purity", "inverse_purity", "outlier_share") if c in scores.columns]
    parts = [
        f"# Topics: {name}",
        "",
        f"{n_quotes} quotes; alignment against coder `{coder}`. Quotes are named by id; their texts are in each model's topics.csv.",
        "",
        *([note, ""] if note else []),
        "## Quality (NPMI: top 10 words, sliding window of 10 lemmas; diversity: top 25 words)",
        "",
        _md_table(quality[keep]),
        "",
        "## Alignment with the reference coder",
        "",
        _md_table(scores[align]),
        "",
        *sections,
    ]
    return "\n".join(parts)


def write_bertopic_figures(
    model: Any,
    folder: str | Path,
    *,
    texts: Sequence[str],
    embeddings: np.ndarray | None = None,
    classes: Mapping[str, Sequence[object]] | None = None,
    dates: Sequence[object] | None = None,
    max_documents: int = 5_000,
    seed: int = 0,
    self_contained: bool = False,
    labels: Mapping[int, str] | None = None,
) -> dict[str, str]:
    """BERTopic's own ``visualize_*`` plots as self-contained HTML; returns {figure: path or 'skipped: reason'}.

    ``labels`` (topic id -> :func:`readable_labels`) name the topics in every figure instead of BERTopic's
    "3_wait_hour_time" names.

    A plot that cannot be drawn (e.g. a topic map with fewer than three topics) is reported, not fatal.
    Offline either way: by default the figures share one ``plotly.min.js`` beside them (4.6 MB once,
    not per figure); ``self_contained=True`` embeds it in every file, for sending a single figure.
    The document map keeps about ``max_documents`` quotes (BERTopic's per-topic ``sample``) to keep the file small.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bt = model.model_
    texts = list(texts)
    n_topics = len(model.topic_ids)
    custom = bool(labels)
    if custom:  # a model that renumbered BERTopic's topics (bertopic.v4's zero-shot order) maps its ids back
        back = getattr(model, "bertopic_ids_", None) or {}
        named = {back.get(int(t), int(t)): str(name) for t, name in labels.items()}
        bt.set_topic_labels({t: name for t, name in named.items() if t in bt.topic_labels_})
    plots: dict[str, Any] = {
        "barchart": lambda: bt.visualize_barchart(top_n_topics=min(n_topics, 12), n_words=8, custom_labels=custom),
        "topics": lambda: bt.visualize_topics(custom_labels=custom),
        "heatmap": lambda: bt.visualize_heatmap(custom_labels=custom),
        "hierarchy": lambda: bt.visualize_hierarchy(custom_labels=custom),
        "documents": lambda: _documents(bt, model, texts, embeddings, fraction=min(1.0, max_documents / max(len(texts), 1)), seed=seed,
                                        custom_labels=custom),
    }
    for name, values in (classes or {}).items():
        group_labels = [str(v) for v in values]
        plots[f"per_class_{name}"] = lambda group_labels=group_labels: bt.visualize_topics_per_class(
            bt.topics_per_class(texts, classes=group_labels), top_n_topics=12, custom_labels=custom)
    if dates is not None:
        stamps = pd.to_datetime(pd.Series(list(dates), dtype=object), errors="coerce", format="mixed")
        ok = stamps.notna().to_numpy()
        if ok.sum() >= 2:
            docs = [t for t, good in zip(texts, ok) if good]
            plots["over_time"] = lambda: bt.visualize_topics_over_time(
                bt.topics_over_time(docs, stamps[ok].tolist(), nr_bins=min(20, int(ok.sum()))), top_n_topics=12, custom_labels=custom
            )
    written: dict[str, str] = {}
    for name, make in plots.items():
        if n_topics < (3 if name == "topics" else 2 if name in ("heatmap", "hierarchy") else 1):
            written[name] = f"skipped: {n_topics} topic(s)"
            continue
        try:
            path = folder / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".html")
            make().write_html(str(path), include_plotlyjs=True if self_contained else "directory", full_html=True)
            written[name] = str(path)
        except Exception as exc:  # one failing plot must not lose the others
            written[name] = f"skipped: {type(exc).__name__}"
            log.warning("figure %s not drawn: %s", name, type(exc).__name__)
    return written


def _documents(bt: Any, model: Any, texts: list[str], embeddings: np.ndarray | None, *, fraction: float, seed: int,
               custom_labels: bool = False) -> Any:
    """BERTopic's document map; it samples with NumPy's global generator, so seed that first."""
    np.random.seed(seed)
    vectors = model._embed(texts) if embeddings is None else np.asarray(embeddings)
    return bt.visualize_documents(texts, embeddings=vectors, sample=fraction, custom_labels=custom_labels)


def _figure(figsize: tuple[float, float], ncols: int = 1) -> Any:
    """A stand-alone matplotlib Figure (no pyplot), so the caller's backend is never changed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(1, ncols) if ncols > 1 else fig.subplots()


def plot_topic_sizes(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Horizontal bar chart of topic sizes, labelled by topic label."""
    fig, ax = _figure((7, 0.3 * max(len(table), 4) + 1))
    ax.barh([str(v)[:48] for v in table["label"]][::-1], table["size"].to_numpy()[::-1], color="#4C72B0")
    ax.set_xlabel("quotes")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    return Path(path)


def plot_heatmap(frame: pd.DataFrame, path: str | Path, *, title: str = "", xlabel: str = "", ylabel: str = "", fmt: str = "{:.2f}") -> Path:
    """A labelled heatmap (topics x codes, or groups x topics) with the value in each cell when small enough."""
    values = frame.to_numpy(dtype=float)
    fig, ax = _figure((min(2 + 0.45 * values.shape[1], 22), min(1.5 + 0.35 * values.shape[0], 22)))
    image = ax.imshow(values, aspect="auto", cmap="Blues")
    ax.set_xticks(range(values.shape[1]), [str(c)[:30] for c in frame.columns], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(values.shape[0]), [str(i)[:40] for i in frame.index], fontsize=7)
    if values.size <= 400:
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6, color="white" if v > np.nanmax(values) * 0.6 else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    return Path(path)


def plot_quality(quality: pd.DataFrame, path: str | Path) -> Path:
    """NPMI and diversity of every model side by side, for the paper's model comparison."""
    fig, axes = _figure((9, 3.2), ncols=2)
    for ax, column in zip(axes, ("npmi", "diversity")):
        ax.bar(quality["model"].astype(str), quality[column].to_numpy(dtype=float), color="#55A868")
        ax.set_title(column)
        ax.tick_params(axis="x", rotation=30)
        ax.axhline(0, color="grey", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    return Path(path)

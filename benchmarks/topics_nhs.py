"""Fit time, peak memory and topic quality of the default topic model vs BERTopic v1, LDA, NMF, KeyNMF, S³ and FASTopic on NHS feedback.

    HF_HUB_OFFLINE=1 python benchmarks/topics_nhs.py [--limit N] [--cache-dir runs/.embedding_cache] [--n-topics 15 25 40] [--no-v1] [--no-extra]

Every model is fitted at the same topic count (``n_topics``, 25 by default; give several counts to
compare at each), on the same embeddings (computed once) and the same lemma vocabulary rules;
``bertopic.v1`` keeps the topic count HDBSCAN finds. The package's default (the first model of a
topic experiment's default ``models``, :func:`lived_themes.config.topics._default_models`) is marked
``(default)``. KeyNMF and S³ (turftopic) and FASTopic need ``pip install 'lived-themes[topics-extra]'``;
without it their rows are skipped with a note. The printed table is the one docs/benchmarks.md quotes.

Embeddings are computed once and reused: the second request for the same encoder and texts is
served from the cache (memory, and disk when --cache-dir is set), which the "encode (repeat)" line
shows. Memory is the peak resident size of this process during each step (sampled every 20 ms),
minus the size before the step. Quality is NPMI (gensim's c_npmi definition: top 10 words, boolean
sliding window of 10 lemmas over all comments; see docs/topics.md) and topic diversity (unique share
of the top-25 words); alignment is NMI / ARI / purity against the NHS labeller, multi-label codes
expanded to (quote, code) pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

NHS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nhs_patient_experience" / "v6framework_train.csv"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Step:
    """Times a step and samples its peak memory in a background thread."""

    def __init__(self, name: str, rows: list[dict]) -> None:
        self.name, self.rows = name, rows

    def __enter__(self) -> Step:
        self.before, self.peak, self.running = rss_mb(), rss_mb(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.start = time.perf_counter()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.start
        self.running = False
        self.thread.join()
        self.rows.append({"step": self.name, "seconds": round(seconds, 2), "peak_extra_mb": round(self.peak - self.before, 1), "rss_mb": round(rss_mb(), 1)})


def load_nhs(path: Path, limit: int | None = None, *, sample_seed: int | None = None):
    """The NHS comments as a Corpus with the labeller's codes.

    ``limit``: the first ``limit`` comments, or with ``sample_seed`` a seeded random sample of that
    many (the file is ordered, so its head is not representative: a third of the first 300 comments
    are "Labelling not possible").
    """
    import numpy as np

    from lived_themes.corpus import load_wide

    corpus = load_wide(
        path, coder="nhs", code_columns_from="Not assigned", blank="zero",
        column_mapping={"Comment ID": "quote_id", "FFT answer": "text"}, on_invalid="set_aside",
    )
    if not limit or limit >= len(corpus):
        return corpus
    if sample_seed is None:
        return corpus.subset(corpus.quote_ids[:limit])
    ids = corpus.quote_ids
    picked = np.sort(np.random.default_rng(sample_seed).choice(len(ids), limit, replace=False))
    return corpus.subset([ids[i] for i in picked])


def score(models: dict, texts: list[str], labels, codes: list[str]):
    """One row per fitted model: topics, outlier share, NPMI, diversity, NMI, ARI, purity."""
    import pandas as pd

    from lived_themes.topics.alignment import alignment_scores
    from lived_themes.topics.quality import quality_table

    quality = quality_table(models, texts)
    align = pd.DataFrame([{"model": n, **alignment_scores(m.topics_, labels, codes)} for n, m in models.items()])
    table = quality.merge(align[["model", "nmi", "ari", "purity"]], on="model")
    return table.rename(columns={"n_topics": "topics", "outlier_share": "outliers"}).drop(columns=["topic_model"])


EXTRA_MODELS = {"keynmf.v1": "turftopic", "s3.v1": "turftopic", "fastopic.v1": "fastopic"}


def default_model() -> str:
    """The package's default topic model: the first of a topic experiment's default models (read, not restated)."""
    from lived_themes.config.topics import _default_models

    return _default_models()[0].name


def model_names(default: str, *, extra: bool = True) -> list[str]:
    """The default first, then BERTopic v2, LDA, NMF and (with their packages installed) the topics-extra comparators."""
    import importlib.util

    names = list(dict.fromkeys([default, "bertopic.v2", "lda.v1", "nmf.v1"]))
    for name, package in EXTRA_MODELS.items():
        if not extra:
            continue
        if importlib.util.find_spec(package) is None:
            print(f"note: {name} skipped: the package {package!r} is not installed (pip install 'lived-themes[topics-extra]')")
            continue
        names.append(name)
    return list(dict.fromkeys(names))


def mark_default(label: str, default: str) -> str:
    """``"bertopic.v2 k=25"`` -> ``"bertopic.v2 (default) k=25"`` when bertopic.v2 is the default."""
    name, _, rest = label.partition(" ")
    return f"{name} (default) {rest}".strip() if name == default else label


def markdown(table) -> str:
    """A Markdown table (three decimals), ready for the README."""
    digits = [1 if c == "fit_s" else 3 for c in table.columns]  # seconds to a tenth, scores to three decimals
    cells = [[f"{v:.{d}f}" if isinstance(v, float) else str(v) for v, d in zip(row, digits)] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NHS)
    parser.add_argument("--limit", type=int, default=None, help="first N comments only (quick check)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder (reused across runs)")
    parser.add_argument("--n-topics", type=int, nargs="+", default=[25], help="topic count(s), the same for every model")
    parser.add_argument("--no-v1", action="store_true", help="skip bertopic.v1 (fitted by default, at its own topic count)")
    parser.add_argument("--with-v1", action="store_true", help=argparse.SUPPRESS)  # the old flag: v1 is now fitted by default
    parser.add_argument("--no-extra", action="store_true", help="skip KeyNMF, S3 and FASTopic (the topics-extra comparators)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (see ../shared/datasets/README.md)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import pandas as pd

    from lived_themes.encoders.sentence import encode
    from lived_themes.topics.base import make_topic_model

    corpus = load_nhs(args.data, args.limit)
    texts, codes = corpus.texts, corpus.codes
    labels = corpus.label_matrix("nhs", codes)
    print(f"{corpus.describe()}")
    rows: list[dict] = []
    with Step("encode (first)", rows):
        embeddings = encode(texts, cache_dir=args.cache_dir)
    with Step("encode (repeat, same encoder and texts)", rows):
        again = encode(texts, cache_dir=args.cache_dir)
    assert (again == embeddings).all()
    default = default_model()
    names = model_names(default, extra=not args.no_extra)
    models = {} if args.no_v1 else {"bertopic.v1": make_topic_model("bertopic.v1", seed=args.seed)}
    for k in args.n_topics:
        for name in names:
            models[f"{name} k={k}"] = make_topic_model(name, n_topics=k, seed=args.seed)
    fit_seconds: dict[str, float] = {}
    for name, model in models.items():
        with Step(f"fit {name}", rows):
            model.fit(texts, embeddings=embeddings if model.uses_embeddings else None)
        fit_seconds[name] = rows[-1]["seconds"]
    with Step("quality and alignment", rows):
        table = score(models, texts, labels, codes)
    table["fit_s"] = table["model"].map(fit_seconds)
    table["model"] = [mark_default(m, default) for m in table["model"]]
    pd.set_option("display.width", 200)
    print("\nsteps (peak_extra_mb = peak resident memory above the level before the step):")
    print(pd.DataFrame(rows).to_string(index=False))
    print("\ntopic quality (NPMI: top 10 words, window 10; diversity: top 25), alignment with the NHS labeller, fit seconds:")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit time, peak memory and topic quality of BERTopic vs LDA and NMF on the NHS feedback file, in one run.

    HF_HUB_OFFLINE=1 python benchmarks/topics_nhs.py [--limit N] [--cache-dir runs/.embedding_cache]

Embeddings are computed once and reused: the second request for the same encoder and texts is
served from the cache (memory, and disk when --cache-dir is set), which the "encode (repeat)" line
shows. Memory is the peak resident size of this process during each step (sampled every 20 ms),
minus the size before the step. Quality is NPMI (gensim, on the spaCy lemmas) and topic diversity
(unique share of the top-25 words); alignment is NMI / ARI / purity against the NHS labeller.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NHS)
    parser.add_argument("--limit", type=int, default=None, help="first N comments only (quick check)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder (reused across runs)")
    parser.add_argument("--n-topics", type=int, default=25, help="topics for LDA and NMF")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (see ../shared/datasets/README.md)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import pandas as pd

    from lived_themes.corpus import load_wide
    from lived_themes.coders.embeddings import encode
    from lived_themes.topics.alignment import alignment_scores
    from lived_themes.topics.base import make_topic_model
    from lived_themes.topics.quality import quality_table

    corpus = load_wide(
        args.data, coder="nhs", code_columns_from="Not assigned", blank="zero",
        column_mapping={"Comment ID": "quote_id", "FFT answer": "text"}, on_invalid="set_aside",
    )
    if args.limit:
        corpus = corpus.subset(corpus.quote_ids[: args.limit])
    texts, codes = corpus.texts, corpus.codes
    labels = corpus.label_matrix("nhs", codes)
    print(f"{corpus.describe()}")
    rows: list[dict] = []
    with Step("encode (first)", rows):
        embeddings = encode(texts, cache_dir=args.cache_dir)
    with Step("encode (repeat, same encoder and texts)", rows):
        again = encode(texts, cache_dir=args.cache_dir)
    assert (again == embeddings).all()
    models = {
        "bertopic": make_topic_model("bertopic.v1", seed=args.seed),
        "lda": make_topic_model("lda.v1", n_topics=args.n_topics, seed=args.seed),
        "nmf": make_topic_model("nmf.v1", n_topics=args.n_topics, seed=args.seed),
    }
    for name, model in models.items():
        with Step(f"fit {name}", rows):
            model.fit(texts, embeddings=embeddings if model.uses_embeddings else None)
    with Step("quality (NPMI, diversity)", rows):
        quality = quality_table(models, texts)
    align = pd.DataFrame([{"model": n, **alignment_scores(m.topics_, labels, codes)} for n, m in models.items()])
    table = quality.merge(align[["model", "nmi", "ari", "purity"]], on="model")
    pd.set_option("display.width", 200)
    print("\nsteps (peak_extra_mb = peak resident memory above the level before the step):")
    print(pd.DataFrame(rows).to_string(index=False))
    print("\ntopic quality and alignment with the NHS labeller (multi-label codes expanded to (quote, code) pairs):")
    print(table.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

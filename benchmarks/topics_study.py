"""The BERTopic study behind ``bertopic.v2``: one table of configurations on the NHS comments, same embeddings.

    HF_HUB_OFFLINE=1 python benchmarks/topics_study.py --limit 1500 --cache-dir runs/.embedding_cache [--only NAME ...]

Each configuration changes one thing from the one above it (vectorizer, outliers, topic count,
clusterer, representation, codebook modes), so each row shows what that step buys. Embeddings are
computed once (and cached on disk with --cache-dir), then shared by every BERTopic fit. LDA and NMF
at the same topic count close the table. Scores as in benchmarks/topics_nhs.py; no timings, since
the study is meant to run on a subsample on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topics_nhs import NHS, load_nhs, markdown, score  # noqa: E402


def configurations(k: int) -> list[tuple[str, str, dict]]:
    """(label, registered model, params): a ladder from v1 to v2, then alternatives, then baselines."""
    # every row pins what it was measured with, so changing v2's defaults does not change the rows
    hdb = {"clusterer": "hdbscan", "umap": True, "n_topics": None, "outliers": None, "min_df": 1, "max_df": 1.0, "reduce_frequent_words": False}
    km = {"clusterer": "kmeans", "umap": True, "n_topics": k, "reduce_frequent_words": True}
    flat = {**km, "umap": False}
    return [
        ("v1 (as shipped)", "bertopic.v1", {}),
        ("hdbscan, every lemma (~v1)", "bertopic.v2", hdb),
        ("+ min_df auto, max_df .95", "bertopic.v2", {**hdb, "min_df": None, "max_df": 0.95}),
        ("+ min_df 5", "bertopic.v2", {**hdb, "min_df": 5, "max_df": 0.95}),
        ("+ reduce_frequent_words", "bertopic.v2", {**hdb, "min_df": 5, "max_df": 0.95, "reduce_frequent_words": True}),
        ("+ outliers -> nearest topic", "bertopic.v2", {**hdb, "min_df": 5, "max_df": 0.95, "reduce_frequent_words": True, "outliers": "embeddings"}),
        (f"+ reduce to {k} topics", "bertopic.v2", {**hdb, "min_df": 5, "max_df": 0.95, "reduce_frequent_words": True, "outliers": "embeddings", "n_topics": k}),
        (f"hdbscan mcs 10, reduce to {k}", "bertopic.v2", {**km, "clusterer": "hdbscan", "min_df": 5, "min_cluster_size": 10, "min_samples": 5}),
        (f"kmeans k={k} on UMAP", "bertopic.v2", {**km, "min_df": 5}),
        (f"kmeans k={k} on UMAP, min_df auto", "bertopic.v2", {**km}),
        (f"kmeans k={k}, no UMAP", "bertopic.v2", {**flat, "min_df": 5}),
        ("no UMAP, min_df auto", "bertopic.v2", {**flat}),
        ("no UMAP, min_df 10", "bertopic.v2", {**flat, "min_df": 10}),
        ("no UMAP, reduce_frequent_words off", "bertopic.v2", {**flat, "min_df": 5, "reduce_frequent_words": False}),
        ("no UMAP + bigrams", "bertopic.v2", {**flat, "min_df": 5, "ngram_range": [1, 2]}),
        ("no UMAP, rfw off, min_df auto", "bertopic.v2", {**flat, "reduce_frequent_words": False}),
        ("no UMAP, rfw off + bigrams", "bertopic.v2", {**flat, "min_df": 5, "reduce_frequent_words": False, "ngram_range": [1, 2]}),
        ("no UMAP + MMR .3", "bertopic.v2", {**flat, "min_df": 5, "representation": "mmr"}),
        ("no UMAP + KeyBERTInspired", "bertopic.v2", {**flat, "min_df": 5, "representation": "keybert"}),
        ("no UMAP, guided (codebook seeds)", "bertopic.v2", {**flat, "min_df": 5, "mode": "guided"}),
        ("no UMAP, zero-shot (codebook, 0.4)", "bertopic.v2", {**flat, "min_df": 5, "mode": "zeroshot"}),
        ("bertopic.v2 defaults", "bertopic.v2", {"n_topics": k}),
        ("words: v3 split (p(w|t) head 10, owned c-TF-IDF tail)", "bertopic.v3", {"n_topics": k, "words": "split"}),
        ("words: v3 with v2's c-TF-IDF words", "bertopic.v3", {"n_topics": k, "words": "ctfidf"}),
        (f"lda k={k}", "lda.v1", {"n_topics": k}),
        (f"nmf k={k}", "nmf.v1", {"n_topics": k}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NHS)
    parser.add_argument("--limit", type=int, default=1500, help="a seeded random sample of N comments (the study runs on a subsample)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder (reused across runs)")
    parser.add_argument("--n-topics", type=int, default=25)
    parser.add_argument("--only", nargs="*", default=None, help="run only configurations whose label contains one of these")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV here")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (see ../shared/datasets/README.md)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import pandas as pd

    from lived_themes.encoders.sentence import encode
    from lived_themes.topics.base import make_topic_model

    corpus = load_nhs(args.data, args.limit, sample_seed=args.seed)
    texts, codes = corpus.texts, corpus.codes
    labels = corpus.label_matrix("nhs", codes)
    embeddings = encode(texts, cache_dir=args.cache_dir)
    print(f"{len(texts)} comments, {len(codes)} codes; topic count {args.n_topics}", flush=True)
    rows = []
    for label, name, params in configurations(args.n_topics):
        if args.only and not any(o in label for o in args.only):
            continue
        model = make_topic_model(name, seed=args.seed, **params)
        model.fit(texts, embeddings=embeddings if model.uses_embeddings else None, codebook=corpus.codebook)
        row = score({label: model}, texts, labels, codes)
        rows.append(row)
        print(markdown(row.round(3)).splitlines()[-1], flush=True)
    table = pd.concat(rows, ignore_index=True)
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"\nBERTopic configurations vs LDA and NMF, {len(texts)} NHS comments (seeded sample), same embeddings:")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

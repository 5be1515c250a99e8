"""Can the default topic model pass LDA's ARI and S³'s diversity without losing its lead in NPMI? (issue 28)

    HF_HUB_OFFLINE=1 python benchmarks/topics_ari_study.py --cache-dir runs/.embedding_cache

On all NHS comments (25 topics, the embeddings ``bertopic.v2``/``v3``/``v4`` read), two studies:

- **Clustering, for ARI and NMI** with the labeller's codes: k-means on the normalised embeddings
  (v2/v3's clustering); k-means on the embeddings joined with an SVD of the lemma TF-IDF (weight beta);
  50 or 100 k-means clusters merged into 25 by agglomerative clustering of their centres; and v4's rule,
  k-means into 24 topics on the comments that hold a vocabulary word, the others (no word to describe
  them) in a 25th topic. Each row is the mean over seeds (with the range), and the ARI on two seeded
  halves of the comments, so that a setting is not picked on one lucky seed or on the comments that score it.
- **Topic words, for NPMI and diversity**, on v3's assignments and on v4's, for each seed: v3's split
  rule, with ``head_cap`` (the most topics a word may head), with ``head_min_lift`` (a head word must be at
  least that many times as common in the topic as overall) and with ``tail_skips_heads``
  (``lived_themes.topics.bertopic_v3.split_words``); each row is the mean over seeds, and the same rules
  on each half of the comments clustered on its own (seed 42), so that the chosen rule is checked on
  comments it was not chosen on.

Reads ../shared/datasets (never copied into the repo). Offline. Scores as in benchmarks/topics_nhs.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topics_nhs import NHS, load_nhs, markdown  # noqa: E402


def wordless_kmeans(x, wordless, seed: int, k: int):
    """v4's clustering: k - 1 k-means topics on comments with a vocabulary word, one topic for the rest."""
    from lived_themes.topics.bertopic_v4 import WordlessKMeans

    return WordlessKMeans(k, wordless, n_init=10, random_state=seed).fit(x).labels_


def clusterings(embeddings, counts, seed: int, k: int) -> dict:
    """Label per comment for each clustering, for one seed."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    x = normalize(embeddings)
    lexical = normalize(TruncatedSVD(100, random_state=0).fit_transform(normalize(TfidfTransformer(sublinear_tf=True).fit_transform(counts))))
    wordless = np.asarray(counts.sum(axis=1)).ravel() == 0
    out = {"k-means on embeddings (v2, v3)": KMeans(k, n_init=10, random_state=seed).fit(x).labels_,
           f"k-means {k - 1} on comments with a vocabulary word + 1 topic for the others (v4)": wordless_kmeans(x, wordless, seed, k)}
    for beta in (0.5, 0.7):
        out[f"k-means on embeddings + {beta} x TF-IDF SVD"] = KMeans(k, n_init=10, random_state=seed).fit(np.hstack([x, beta * lexical])).labels_
    for over in (50, 100):
        fine = KMeans(over, n_init=5, random_state=seed).fit(x)
        centres = normalize(fine.cluster_centers_)
        for linkage in ("ward", "average"):
            merge = AgglomerativeClustering(k, linkage=linkage, **({} if linkage == "ward" else {"metric": "cosine"}))
            out[f"k-means {over}, merged to {k} ({linkage})"] = merge.fit(centres).labels_[fine.labels_]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NHS)
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder (reused across runs)")
    parser.add_argument("--n-topics", type=int, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 42])
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N comments (quick checks)")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (see ../shared/datasets/README.md)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import pandas as pd

    from lived_themes.encoders.sentence import encode
    from lived_themes.topics.alignment import alignment_scores
    from lived_themes.topics.base import make_topic_model
    from lived_themes.topics.bertopic_v3 import split_words
    from lived_themes.topics.quality import npmi_coherence, topic_diversity, unigrams
    from lived_themes.topics.vectorizer import BLANK, LemmaTokenizer

    corpus = load_nhs(args.data, args.limit, sample_seed=42)
    texts, codes = corpus.texts, corpus.codes
    labels = corpus.label_matrix("nhs", codes)
    embeddings = encode(texts, cache_dir=args.cache_dir)
    v3 = make_topic_model("bertopic.v3", seed=42, n_topics=args.n_topics).fit(texts, embeddings=embeddings)
    vectorizer = v3.model_.vectorizer_model
    counts = vectorizer.transform(texts)
    half = np.random.default_rng(0).permutation(len(texts)) < len(texts) // 2
    print(f"{len(texts)} comments, {len(codes)} codes, {args.n_topics} topics, seeds {args.seeds}", flush=True)

    scores: dict[str, list[tuple[float, float, float, float]]] = {}
    for seed in args.seeds:
        for name, assigned in clusterings(embeddings, counts, seed, args.n_topics).items():
            full = alignment_scores(assigned, labels, codes)
            first = alignment_scores(assigned[half], labels[half], codes)
            second = alignment_scores(assigned[~half], labels[~half], codes)
            scores.setdefault(name, []).append((full["nmi"], full["ari"], first["ari"], second["ari"]))
    rows = []
    for name, values in scores.items():
        v = np.array(values)
        rows.append({"clustering": name, "nmi": v[:, 0].mean(), "ari": v[:, 1].mean(), "ari_min": v[:, 1].min(),
                     "ari_max": v[:, 1].max(), "ari_half_a": v[:, 2].mean(), "ari_half_b": v[:, 3].mean()})
    lda = make_topic_model("lda.v1", seed=42, n_topics=args.n_topics).fit(texts)
    lda_scores = alignment_scores(lda.topics_, labels, codes)
    print(f"\nClustering (mean over seeds; LDA at seed 42: NMI {lda_scores['nmi']:.3f}, ARI {lda_scores['ari']:.3f}):")
    print(markdown(pd.DataFrame(rows).round(3)))

    word_rules = {
        "v3 (split: p(w|t) head, owned c-TF-IDF tail)": {},
        "v3, a word heads at most 5 topics": {"head_cap": 5},
        "v3, head words with lift >= 1.5": {"head_min_lift": 1.5},
        "v3, head words with lift >= 2": {"head_min_lift": 2.0},
        "v3, tail skips head words": {"tail_skips_heads": True},
        "v3, lift >= 1.5, tail skips head words": {"head_min_lift": 1.5, "tail_skips_heads": True},
        "v3, lift >= 2, tail skips head words (v4's words)": {"head_min_lift": 2.0, "tail_skips_heads": True},
        "v3, lift >= 2.5, tail skips head words": {"head_min_lift": 2.5, "tail_skips_heads": True},
    }
    vocabulary = vectorizer.get_feature_names_out().tolist()

    def measure(part_counts, assigned, part_tokens, rule):
        words = split_words(part_counts, assigned, vocabulary, head=v3.head_words, top_n=v3.top_n_words, min_df=v3.word_min_df, **rule)
        ordered = [words[t] for t in sorted(words)]
        npmi, _ = npmi_coherence([unigrams(w) for w in ordered], part_tokens, topn=10)
        return npmi, topic_diversity(ordered, topk=25)

    from sklearn.cluster import KMeans
    from sklearn.preprocessing import normalize

    x = normalize(embeddings)
    wordless = np.asarray(counts.sum(axis=1)).ravel() == 0
    tokens = [t for t in LemmaTokenizer(BLANK).many(texts) if t]
    word_scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for seed in args.seeds:
        assigned = {"v3": KMeans(args.n_topics, n_init=10, random_state=seed).fit(x).labels_,
                    "v4": wordless_kmeans(x, wordless, seed, args.n_topics)}
        for clustering, topics in assigned.items():
            for name, rule in word_rules.items():
                word_scores.setdefault((clustering, name), []).append(measure(counts, topics, tokens, rule))
    halves = {}
    for part_name, part in (("a", half), ("b", ~half)):
        idx = np.flatnonzero(part)
        part_tokens = [t for t in LemmaTokenizer(BLANK).many([texts[i] for i in idx]) if t]
        topics = wordless_kmeans(x[idx], wordless[idx], 42, args.n_topics)
        for name, rule in word_rules.items():
            halves[(name, part_name)] = measure(counts[idx], topics, part_tokens, rule)
    word_rows = []
    for (clustering, name), values in word_scores.items():
        v = np.array(values)
        row = {"clustering": clustering, "topic words": name, "npmi": v[:, 0].mean(), "npmi_min": v[:, 0].min(),
               "diversity": v[:, 1].mean(), "diversity_min": v[:, 1].min()}
        if clustering == "v4":
            row |= {"npmi_half_a": halves[(name, "a")][0], "diversity_half_a": halves[(name, "a")][1],
                    "npmi_half_b": halves[(name, "b")][0], "diversity_half_b": halves[(name, "b")][1]}
        word_rows.append(row)
    print("\nTopic words (NPMI of the top 10, diversity of the top 25; mean and minimum over seeds; halves: v4's clustering"
          " of each half on its own, seed 42):")
    print(markdown(pd.DataFrame(word_rows).round(3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Can the default topic model pass LDA's ARI and S³'s diversity without losing its lead in NPMI? (issue 28)

    HF_HUB_OFFLINE=1 python benchmarks/topics_ari_study.py --cache-dir runs/.embedding_cache

On all NHS comments (25 topics, the embeddings ``bertopic.v2``/``v3`` read), two studies:

- **Clustering, for ARI and NMI** with the labeller's first code: k-means on the normalised embeddings
  (v2/v3's clustering); k-means on the embeddings joined with an SVD of the lemma TF-IDF (weight beta);
  and 50 or 100 k-means clusters merged into 25 by agglomerative clustering of their centres. Each row is
  the mean over seeds (with the range), and the ARI on two seeded halves of the comments, so that a
  setting is not picked on one lucky seed or on the comments that score it.
- **Topic words, for NPMI and diversity** on v3's assignments: v3's split rule with ``head_cap``, the
  most topics a word may head (``lived_themes.topics.bertopic_v3.split_words``).

Reads ../shared/datasets (never copied into the repo). Offline. Scores as in benchmarks/topics_nhs.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topics_nhs import NHS, load_nhs, markdown  # noqa: E402


def clusterings(embeddings, counts, seed: int, k: int) -> dict:
    """Label per comment for each clustering, for one seed."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    x = normalize(embeddings)
    lexical = normalize(TruncatedSVD(100, random_state=0).fit_transform(normalize(TfidfTransformer(sublinear_tf=True).fit_transform(counts))))
    out = {"k-means on embeddings (v2, v3)": KMeans(k, n_init=10, random_state=seed).fit(x).labels_}
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

    tokens = [t for t in LemmaTokenizer(BLANK).many(texts) if t]
    vocabulary = vectorizer.get_feature_names_out().tolist()
    word_rows = []
    for cap in (None, 8, 5, 4, 3):
        words = split_words(counts, np.asarray(v3.topics_), vocabulary, head=v3.head_words, top_n=v3.top_n_words,
                            min_df=v3.word_min_df, head_cap=cap)
        ordered = [words[t] for t in sorted(words)]
        npmi, _ = npmi_coherence([unigrams(w) for w in ordered], tokens, topn=10)
        word_rows.append({"head words": "v3 (no cap)" if cap is None else f"a word heads at most {cap} topics",
                          "npmi": npmi, "diversity": topic_diversity(ordered, topk=25)})
    print("\nTopic words on v3's assignments (NPMI of the top 10, diversity of the top 25):")
    print(markdown(pd.DataFrame(word_rows).round(3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit time of the per-code logistic regressions: tfidf-logreg.v1 (lbfgs) vs tfidf-logreg.v2 (liblinear), same data.

Prints seconds per solver and the mean absolute difference of the scores. Needs the NHS file
(see data/README.md). Run: python benchmarks/tfidf_solver.py [--path FILE]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lived_themes.coders.baselines import TfidfLogRegCoder
from lived_themes.corpus.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default=None)
    args = parser.parse_args()
    corpus = load_dataset("nhs", path=args.path)
    labels = corpus.label_matrix(corpus.coders[0])
    keep = np.nansum(labels, axis=0) >= 20
    labels, codes = labels[:, keep], [c for c, k in zip(corpus.codes, keep) if k]
    scores = {}
    for solver in ("lbfgs", "liblinear"):
        coder = TfidfLogRegCoder(min_df=2, tune=False, solver=solver)
        start = time.perf_counter()
        coder.fit(corpus.texts, labels, codes)
        print(f"{solver:10s} fit {time.perf_counter() - start:6.1f} s  ({len(corpus)} texts, {len(codes)} codes, no inner folds)")
        scores[solver] = coder.predict_proba(corpus.texts)
    print(f"mean |score difference| {np.abs(scores['lbfgs'] - scores['liblinear']).mean():.4f}")


if __name__ == "__main__":
    main()

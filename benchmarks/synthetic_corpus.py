"""Synthetic consortium-sized corpora drawn from the shared NHS feedback file, for the scale benchmarks.

    python benchmarks/synthetic_corpus.py --rows 200000 --out runs/synth_200k [--codes 35] [--second-coder 0.1]

Each synthetic quote is an NHS comment drawn with replacement (its labeller's codes come with it, so a
model has something real to learn), given a unique id, a ``site`` group (12 values), a ``participant``
cluster (about three quotes each) and a ``wave`` column. The reference coder is ``coder_a``; a share of
the quotes (``--second-coder``) also gets ``coder_b``, who flips each of ``coder_a``'s 0/1 codes with
probability 0.02, so human-vs-human agreement runs too. Written as a corpus folder (``quotes.parquet``,
``annotations.parquet``) that ``data.path`` can name, and ``inputs.parquet`` (quote_id, text, site)
for ``lived-themes predict``. Texts are never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

NHS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nhs_patient_experience" / "v6framework_train.csv"
#: Rows per Parquet row group in inputs.parquet.
ROW_GROUP = 65_536
#: Columns of the NHS file that are metadata, not codes.
_META = 11


def nhs_pool(n_codes: int) -> tuple[list[str], np.ndarray, list[str]]:
    """(texts, 0/1 labels, codes): the NHS comments with their ``n_codes`` most frequent codes."""
    if not NHS.exists():
        raise SystemExit(f"the shared NHS file is not at {NHS}")
    frame = pd.read_csv(NHS)
    texts = frame["FFT answer"].astype(str)
    keep = texts.str.strip().str.len() > 0
    code_cols = list(frame.columns[_META:])
    labels = frame.loc[keep, code_cols].fillna(0).to_numpy(dtype=float) > 0
    order = np.argsort(-labels.sum(axis=0), kind="stable")[:n_codes]
    codes = [f"c{j:02d}" for j in range(len(order))]
    return texts[keep].tolist(), labels[:, order], codes


def make(rows: int, *, n_codes: int = 35, second_coder: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(quotes, long annotations, codes) for ``rows`` synthetic quotes."""
    texts, labels, codes = nhs_pool(n_codes)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(texts), rows)
    pool = np.asarray(texts, dtype=object)
    quote_ids = np.char.add("q", np.arange(rows).astype(str)).astype(object)
    quotes = pd.DataFrame({
        "quote_id": quote_ids,
        "text": pool[pick],
        "site": np.char.add("site", rng.integers(0, 12, rows).astype(str)).astype(object),
        "participant": np.char.add("p", (np.arange(rows) // 3).astype(str)).astype(object),
        "wave": rng.integers(2019, 2024, rows),
    })
    coder_a = labels[pick]
    frames = [_long(quote_ids, coder_a, codes, "coder_a")]
    if second_coder > 0:
        both = np.flatnonzero(rng.random(rows) < second_coder)
        flip = rng.random((len(both), len(codes))) < 0.02
        frames.append(_long(quote_ids[both], coder_a[both] ^ flip, codes, "coder_b"))
    return quotes, pd.concat(frames, ignore_index=True), codes


def _long(ids: np.ndarray, matrix: np.ndarray, codes: list[str], coder: str) -> pd.DataFrame:
    """Long rows: one per (quote, code) assigned, one empty-code row for a quote with none."""
    rows, cols = np.nonzero(matrix)
    none = np.flatnonzero(~matrix.any(axis=1))
    code_arr = np.asarray(codes, dtype=object)
    frame = pd.DataFrame({"quote_id": np.concatenate([ids[rows], ids[none]]),
                          "coder": coder,
                          "code": np.concatenate([code_arr[cols], np.full(len(none), None, dtype=object)])})
    return frame


def write(out: Path, rows: int, *, n_codes: int = 35, second_coder: float = 0.1, seed: int = 0) -> Path:
    quotes, annotations, _ = make(rows, n_codes=n_codes, second_coder=second_coder, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    quotes.to_parquet(out / "quotes.parquet", index=False)
    annotations.to_parquet(out / "annotations.parquet", index=False)
    # row groups of 64k rows, as a cluster engine writes them: predict streams a row group at a time,
    # and pyarrow's default (one group up to 1M rows) would make the whole file one group
    quotes[["quote_id", "text", "site"]].to_parquet(out / "inputs.parquet", index=False, row_group_size=ROW_GROUP)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--codes", type=int, default=35)
    p.add_argument("--second-coder", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    folder = write(args.out, args.rows, n_codes=args.codes, second_coder=args.second_coder, seed=args.seed)
    print(f"wrote {args.rows} synthetic quotes to {folder}")


if __name__ == "__main__":
    main()

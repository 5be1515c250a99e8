"""Human–human agreement on the public corpora at hand: the tables in the README's agreement section.

How far coders agree with each other is the ceiling any model is read against. For each corpus
present (read from ``--root``, default ``../shared/datasets``) this prints, per code: Krippendorff's
alpha, Fleiss' kappa, mean pairwise Cohen's kappa (over coder pairs sharing at least
``--min-overlap`` quotes) and percent agreement; the same averaged over codes per quote group;
expert vs layperson agreement for the reflections; soft-label agreement for SAD's vote shares;
and, as a worked stand-in example, whether CrowS-Pairs' writers' labels could stand in for a validator.

Run from the repository root:  python benchmarks/agreement_tables.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lived_themes.corpus.datasets import DATASETS, GROUPS, DatasetNotFound, coder_groups, load_dataset
from lived_themes.evaluation import cohen_kappa, coder_group_agreement, fleiss_kappa, krippendorff_alpha, percent_agreement
from lived_themes.evaluation.standin import MACRO, standin_analysis
from lived_themes.evaluation.soft_labels import rater_agreement, soft_fleiss_kappa, soft_matrix

FILES = {
    "crows_pairs": "crows_pairs/crows_pairs_anonymized.csv",
    "reflections": "reflection_expert_vs_lay/annotations.csv",
    "mhstigma": "mhstigma_interview/train.csv",
    "sad": "sad_stress/SAD_v1.csv",
    "cams": "cams/cams_posts.csv",
    "nhs": "nhs_patient_experience/v6framework_train.csv",
}


def markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub Markdown table without extra dependencies."""
    cells = frame.map(lambda v: f"{v:.{digits}f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)


def coder_pairs(labels: dict[str, np.ndarray], coders: list[str], min_overlap: int) -> list[tuple[str, str]]:
    """Pairs of coders who saw at least ``min_overlap`` quotes in common (one matrix product)."""
    seen = np.stack([~np.isnan(labels[c]).any(axis=1) for c in coders]).astype(float)
    shared = seen @ seen.T
    a, b = np.nonzero(np.triu(shared >= min_overlap, k=1))
    return [(coders[i], coders[j]) for i, j in zip(a, b)]


def per_code_table(labels: dict[str, np.ndarray], codes: list[str], coders: list[str], *, min_overlap: int) -> pd.DataFrame:
    """Alpha, Fleiss' kappa, mean pairwise kappa and percent agreement per code, plus their mean."""
    pairs = coder_pairs(labels, coders, min_overlap)
    rows = []
    for j, code in enumerate(codes):
        stack = np.vstack([labels[c][:, j] for c in coders])
        kappas = [cohen_kappa(labels[a][:, j], labels[b][:, j]) for a, b in pairs]
        alpha = krippendorff_alpha(stack)
        rows.append({
            "code": code, "alpha": alpha.value, "fleiss_kappa": fleiss_kappa(stack).value,
            "mean_pairwise_kappa": float(np.nanmean(kappas)) if np.isfinite(kappas).any() else float("nan"),
            "percent_agreement": percent_agreement(stack), "positives": int(np.nansum(stack)),
            "n_units": alpha.n_units, "n_pairs": len(pairs),
        })
    table = pd.DataFrame(rows)
    macro = {c: float(table[c].mean()) for c in ("alpha", "fleiss_kappa", "mean_pairwise_kappa", "percent_agreement")}
    macro.update(code=MACRO, positives=int(table["positives"].sum()), n_units=int(table["n_units"].max()), n_pairs=len(pairs))
    return pd.concat([table, pd.DataFrame([macro])[table.columns]], ignore_index=True)


def by_group_table(corpus, labels, codes, coders, columns, *, min_overlap: int) -> pd.DataFrame:
    """The macro row of :func:`per_code_table` within each level of each quote group column."""
    rows = []
    for column in columns:
        values = corpus.quotes[column].fillna("unknown").astype(str)
        for level in sorted(values.unique()):
            mask = (values == level).to_numpy()[:, None]
            masked = {c: np.where(mask, labels[c], np.nan) for c in coders}
            table = per_code_table(masked, codes, coders, min_overlap=min_overlap)
            row = {"group_column": column, "group": level, **table.iloc[-1].drop("code").to_dict()}
            if level in codes:  # e.g. CrowS-Pairs by bias type: the group's own code is the one that matters
                row["own_code_alpha"] = float(table.loc[table["code"] == level, "alpha"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows)


def human_sections(name: str, corpus, *, min_overlap: int) -> None:
    codes, coders = corpus.codes, corpus.human_coders
    labels = corpus.label_matrices(coders, codes)
    print(f"\n### {name}: {len(corpus)} quotes, {len(coders)} coders, {len(codes)} codes\n")
    print(markdown(per_code_table(labels, codes, coders, min_overlap=min_overlap)))
    print("\nMean over codes, by quote group:\n")
    print(markdown(by_group_table(corpus, labels, codes, coders, GROUPS[name]["groups"], min_overlap=min_overlap)))
    groups = {c: g for c, g in coder_groups(corpus).items() if c in coders}
    if len(set(groups.values())) > 1:
        table = coder_group_agreement(labels, codes, groups)
        print("\nWithin and between coder groups (mean pairwise kappa; alpha and Fleiss within a group):\n")
        print(markdown(table))
        macro = table.groupby(["kind", "group_a", "group_b"], as_index=False)[["mean_kappa", "alpha", "fleiss_kappa"]].mean()
        print("\nMean over codes:\n")
        print(markdown(macro))


def sad_section(corpus) -> None:
    shares, n = soft_matrix(corpus, corpus.codes), corpus.quotes["votes"].to_numpy(float)
    print(f"\n### sad: {len(corpus)} quotes; vote shares of {int(n.min())}-{int(n.max())} votes per quote (soft labels)\n")
    rows = [{"code": c, "mean_share": float(shares[:, j].mean()),
             "rater_pair_agreement": float(rater_agreement(shares[:, [j]], n).mean()),
             "fleiss_kappa": soft_fleiss_kappa(np.column_stack([shares[:, j], 1 - shares[:, j]]), n)}
            for j, c in enumerate(corpus.codes)]
    rows.append({"code": "(all categories, one choice per rater)", "mean_share": float("nan"),
                 "rater_pair_agreement": float(rater_agreement(shares, n, multiclass=True).mean()),
                 "fleiss_kappa": soft_fleiss_kappa(shares, n)})
    print(markdown(pd.DataFrame(rows)))
    print("\nBy source (all categories):\n")
    src = corpus.quotes["source"].astype(str)
    print(markdown(pd.DataFrame([{"source": s, "n": int((src == s).sum()),
                                  "fleiss_kappa": soft_fleiss_kappa(shares[(src == s).to_numpy()], n[(src == s).to_numpy()])}
                                 for s in sorted(src.unique())])))


def writer_standin(corpus, *, n_boot: int) -> None:
    """Could the writer's own bias-type label stand in for a validator? (pooled kappa: sparse design)"""
    labels = corpus.label_matrices(corpus.human_coders, corpus.codes)
    labels["model:writer"] = pd.get_dummies(corpus.quotes["bias_type"]).reindex(columns=corpus.codes, fill_value=False).to_numpy(float)
    table = standin_analysis(labels, corpus.codes, model="model:writer", statistic="pooled_kappa",
                             clusters=corpus.quotes["writer"], n_boot=n_boot, n_perm=n_boot, per_coder=False)
    print("\nStand-in example: the writer's label in place of one validator (pooled kappa with the other validators, "
          "clusters = writers):\n")
    print(markdown(table[["code", "n_items", "human", "model", "difference", "ci_low", "ci_high", "p_value"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/datasets", help="folder holding the corpora (see data/README.md)")
    parser.add_argument("--min-overlap", type=int, default=10, help="pairs sharing fewer quotes are left out of mean pairwise kappa")
    parser.add_argument("--n-boot", type=int, default=500)
    args = parser.parse_args()
    start = time.perf_counter()
    print("## Human–human agreement on the public corpora\n")
    print(f"Generated by `python benchmarks/agreement_tables.py` (root {args.root}; min overlap {args.min_overlap}).")
    for name in DATASETS:
        try:
            corpus = load_dataset(name, Path(args.root) / FILES[name])
        except DatasetNotFound:
            print(f"\n### {name}: not present under {args.root}, skipped")
            continue
        if name == "sad":
            sad_section(corpus)
        elif len(corpus.human_coders) >= 2:
            human_sections(name, corpus, min_overlap=args.min_overlap)
            if name == "crows_pairs":
                writer_standin(corpus, n_boot=args.n_boot)
        else:
            print(f"\n### {name}: {len(corpus)} quotes, one coder ({corpus.human_coders[0]}): "
                  "no human–human agreement can be computed; the model is compared with that coder as reference")
    print(f"\n_{time.perf_counter() - start:.0f} s on this machine._")


if __name__ == "__main__":
    main()

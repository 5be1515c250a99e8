"""The report's agreement sections: the model's kappa with the humans beside the human–human ceiling,
per code, per group, with substitution alpha, and within and between coder groups."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from lived_themes.report.blocks import MISSING, Block, Table, first_key, fmt, nan_mean, records, report_codes, value_ci

ONE_HUMAN = (
    "One human coder: no human–human ceiling. Model–human agreement below cannot be compared "
    "with how far humans agree."
)
ALL_CODES = "(all codes)"


def _pair_kappa(kappa_rows: list[dict]) -> dict[tuple[str, str], dict[str, list]]:
    out: dict[tuple[str, str], dict[str, list]] = {}
    for x in kappa_rows:
        pair = (str(x.get("coder_a")), str(x.get("coder_b")))
        out.setdefault(pair, {}).setdefault(str(x.get("code")), []).append(x.get("kappa"))
    return out


def _is_human_pair(x: Mapping, humans: list[str]) -> bool:
    return str(x.get("coder_a")) in humans and str(x.get("coder_b")) in humans


def _is_model_pair(x: Mapping, humans: list[str]) -> bool:
    return (str(x.get("coder_a")) in humans) != (str(x.get("coder_b")) in humans)


def _kappa_per_code(kappa_rows: list[dict], codes: list[str]) -> dict[str, float]:
    """Mean Cohen's kappa per code over every coder pair in ``kappa_rows``."""
    pairs = _pair_kappa(kappa_rows).values()
    return {c: nan_mean(v for per_code in pairs for v in per_code.get(c, [])) for c in codes}


def agreement_section(metrics: Mapping, scheme: str, results: list[dict]) -> tuple[list[Block], np.ndarray, list[str]]:
    """Model–human kappa per code beside the human–human ceiling, and the coder x coder matrix."""
    humans = [str(h) for h in metrics.get("human_coders") or []]
    codes, labels = report_codes(metrics, results), metrics.get("code_labels") or {}
    human = metrics.get("human_agreement") or {}
    model_records = [records(r.get("agreement")) for r in results]
    hh_records = records(human.get("pairwise")) or [x for rs in model_records for x in rs if _is_human_pair(x, humans)]
    hh = _kappa_per_code(hh_records, codes)
    alpha = {str(x.get("code")): x.get("alpha") for x in records(human.get("alpha"))}
    mh = [_kappa_per_code([x for x in rs if _is_model_pair(x, humans)], codes) for rs in model_records]
    two = len(humans) >= 2
    cols = ["Code", "Label"] + (["human–human κ (ceiling)", "human α"] if two else [])
    cols += [f"{r.get('coder')} κ vs humans" for r in results]
    table = Table("agreement", cols, [], f"Cohen's kappa per code, mean over coder pairs, {scheme}")
    for code in codes:
        ceiling = [fmt(hh[code]), fmt(alpha.get(code))] if two else []
        table.rows.append([code, str(labels.get(code, "")), *ceiling, *(fmt(m[code]) for m in mh)])
    blocks: list[Block] = ([] if two else [("p", ONE_HUMAN)]) + [table]
    extra = [str(c) for c in human.get("codes") or [] if str(c) not in codes]
    if two and extra:  # codes a human used that no model learns (min_code_count, exclude_codes): agreement still counts
        hx = _kappa_per_code(hh_records, extra)
        rows = [[c, str(labels.get(c, "")), fmt(hx[c]), fmt(alpha.get(c))] for c in extra]
        blocks.append(Table("agreement-other-codes", ["Code", "Label", "human–human κ", "human α"], rows,
                            "Human agreement on codes the models were not trained on (too rare for the reference, or excluded)"))
    subs = [records(r.get("substitution_alpha")) for r in results]
    if any(subs):
        cols = ["Code", "α humans"] + [f"α with {r.get('coder')} substituted" for r in results]
        caption = (f"Krippendorff's alpha among humans, and with the model in place of each human in turn "
                   f"(mean), {scheme}")
        sub = Table("substitution-alpha", cols, [], caption)
        for code in codes:
            mine = [[x for x in s if str(x.get("code")) == code] for s in subs]
            base = nan_mean(x.get("alpha_humans") for m in mine for x in m)
            sub.rows.append([code, fmt(base), *(fmt(nan_mean(x.get("alpha_with_model") for x in m)) for m in mine)])
        blocks.append(sub)
    everything = hh_records + [x for rs in model_records for x in rs]
    coders = list(dict.fromkeys(humans + [str(x.get(k)) for x in everything for k in ("coder_a", "coder_b")]))
    matrix = np.full((len(coders), len(coders)), math.nan)
    np.fill_diagonal(matrix, 1.0)
    for (a, b), per_code in _pair_kappa(everything).items():
        i, j = coders.index(a), coders.index(b)
        matrix[i, j] = matrix[j, i] = nan_mean(v for vs in per_code.values() for v in vs)
    return blocks, matrix, coders


def _overall_kappa(kappa_rows: list[dict], comparison: str) -> dict[tuple[str, str], dict]:
    """(group column, group) -> the all-codes kappa record of one comparison."""
    return {
        (str(x.get("group_column")), str(x.get("group"))): x
        for x in kappa_rows
        if str(x.get("code", ALL_CODES)) == ALL_CODES
        and str(x.get("statistic", "kappa")) == "kappa"
        and str(x.get("comparison", comparison)) == comparison
    }


def group_agreement_tables(metrics: Mapping, scheme: str, results: list[dict]) -> list[Table]:
    """Kappa over all codes in each group: the human ceiling beside each model."""
    human = _overall_kappa(records((metrics.get("human_agreement") or {}).get("by_group")), "human-human")
    human = human or _overall_kappa([x for r in results for x in records(r.get("group_agreement"))], "human-human")
    models = [_overall_kappa(records(r.get("group_agreement")), "model-human") for r in results]
    cols = ["Group", "n units", "human–human κ [95% CI]"]
    cols += [f"{r.get('coder')} κ vs humans [95% CI]" for r in results] + ["Warning"]
    tables: dict[str, Table] = {}
    for column, group in dict.fromkeys([*human, *(k for m in models for k in m)]):
        caption = f"Agreement over all codes by {column}, {scheme}"
        table = tables.setdefault(column, Table("group-agreement", cols, [], caption))
        recs = [human.get((column, group))] + [m.get((column, group)) for m in models]
        cells = [value_ci(x) if x else MISSING for x in recs]
        some = next(x for x in recs if x)
        warning = next((str(x.get("warning")) for x in recs if x and x.get("warning")), "")
        table.rows.append([group, str(first_key(some, "n_units", "n", default=MISSING)), *cells, warning])
    return list(tables.values())


def coder_group_section(metrics: Mapping) -> list[Block]:
    """Agreement within and between coder groups (e.g. experts vs lay coders), averaged over codes."""
    summaries = records((metrics.get("human_agreement") or {}).get("coder_groups"))
    pairs: dict[tuple[str, str, str], list[dict]] = {}
    for x in summaries:
        pairs.setdefault((str(x.get("kind", "")), str(x.get("group_a", "")), str(x.get("group_b", ""))), []).append(x)
    cols = ["Kind", "Coder group", "Coder group", "Mean κ over codes", "Mean α over codes"]
    rows = [[*key, fmt(nan_mean(x.get("mean_kappa") for x in xs)), fmt(nan_mean(x.get("alpha") for x in xs))]
            for key, xs in pairs.items()]
    caption = "Human agreement within and between coder groups"
    return [("h2", "Coder groups"), Table("coder-groups", cols, rows, caption)] if rows else []

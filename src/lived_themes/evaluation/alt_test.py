"""The alternative annotator test (alt-test) of Calderon, Reichart and Dror (ACL 2025).

"The Alternative Annotator Test for LLM-as-a-Judge: How to Statistically Justify Replacing Human
Annotators with LLMs". This follows the authors' reference code (github.com/nitaytech/AltTest,
``alt_test`` in ``alt_test_example.ipynb``) step by step:

1. keep instances annotated by at least ``min_humans_per_instance`` (2) humans that the model coded;
2. leave one annotator h out; on each instance h annotated, score the model and h against the
   remaining annotators of that instance (``scoring``: mean score against each of them);
3. indicators W_model = [model score >= h score], W_h = [h score >= model score] (a tie counts for
   both), d = W_h - W_model;
4. one-sided one-sample t-test of H0: mean(d) >= epsilon against H1: mean(d) < epsilon
   (``scipy.stats.ttest_1samp(d, epsilon, alternative="less")``): rejecting it means the human's
   advantage is below epsilon, i.e. the model "wins" against h;
5. Benjamini-Yekutieli at q = 0.05 over the annotators' p-values; winning rate = share of
   annotators won; the model passes if the winning rate is >= 0.5;
6. advantage probability rho = mean over annotators of mean(W_model): the probability that the
   model is as good as or better than a random annotator (used to rank models).

Two documented differences from the reference code, both for small or degenerate samples:
- an annotator with fewer than ``min_instances_per_human`` (30) instances is skipped by the
  reference code; the paper's FAQ says to use a Wilcoxon signed-rank test instead, which is our
  default (``small_sample="wilcoxon"``: one-sided test that d - epsilon is centred below 0);
  ``small_sample="skip"`` reproduces the reference code. Annotators with fewer than
  ``min_wilcoxon_items`` instances are skipped either way (and listed).
- when d is constant (zero variance) the t statistic is undefined: the reference code gets NaN
  and silently counts a loss. We decide it exactly (p = 0 if the constant is below epsilon, else
  1) and flag the row ``degenerate``.

Several groups (domains, coder groups): :func:`alt_test_families` applies the FDR procedure to
all comparisons together and reports each family's winning rate, as the FAQ asks ("the LLM
passes the alt-test in X out of Y domains").

Scoring functions for multi-label codes (an annotation is a 0/1 vector over the codes):
- ``"hamming"`` (default): per-code accuracy, the share of codes on which two coders agree;
- ``"kappa"``: per-code agreement rescaled by that code's chance agreement, as in kappa:
  (agree_j - pe_j) / (1 - pe_j) averaged over codes, with pe_j = p_j^2 + (1 - p_j)^2 from the
  pooled human prevalence p_j. An agreement earns 1 on every code; a disagreement costs
  pe_j / (1 - pe_j), so on a rare code (pe_j near 1) it costs many times more than on a balanced
  one. Under ``hamming`` a coder that never gives a rare code loses little; under ``kappa`` it does;
- ``"jaccard"``: |A ∩ B| / |A ∪ B| of the two code sets (1 when both are empty);
- ``"exact"``: 1 if the two code sets are identical (the reference ``accuracy`` on the whole set).
For scalar annotations the reference's ``"accuracy"`` and ``"neg_rmse"`` are available too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lived_themes.evaluation.agreement import float_view

EPSILON_PRESETS = {"expert": 0.2, "skilled": 0.15, "crowd": 0.1}
MULTI_LABEL_SCORINGS = ("hamming", "kappa", "jaccard", "exact")
SCALAR_SCORINGS = ("accuracy", "neg_rmse")
COLUMNS = ["family", "annotator", "n_items", "test", "rho_model", "rho_human", "mean_diff", "statistic",
           "p_value", "p_adjusted", "won", "degenerate"]


def resolve_epsilon(value: float | str) -> float:
    """A number, or one of the paper's presets: expert 0.2, skilled 0.15, crowd 0.1."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key not in EPSILON_PRESETS:
            try:
                return float(key)
            except ValueError:
                raise ValueError(f"epsilon must be a number or one of {sorted(EPSILON_PRESETS)}, not {value!r}") from None
        return EPSILON_PRESETS[key]
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"epsilon must lie in [0, 1), not {value}")
    return value


# ---- FDR ---------------------------------------------------------------------------------

def by_procedure(p_values: Sequence[float], q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Yekutieli step-up: (rejected mask, adjusted p-values), in input order.

    Rejects the k smallest p-values where k is the largest rank with p_(k) <= k/m * q / H_m,
    H_m = 1 + 1/2 + ... + 1/m (as the reference ``by_procedure``). NaN p-values count in m and
    are never rejected. Adjusted p: min over ranks j >= i of m H_m p_(j) / j, capped at 1, so that
    ``p_adjusted <= q`` is exactly the rejection rule.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    rejected = np.zeros(m, dtype=bool)
    adjusted = np.full(m, np.nan)
    if m == 0:
        return rejected, adjusted
    h_m = float(np.sum(1.0 / np.arange(1, m + 1)))
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    ranked = p[order]
    thresholds = np.arange(1, m + 1) / m * (q / h_m)
    passing = np.flatnonzero(ranked <= thresholds)
    if passing.size:
        rejected[order[: passing.max() + 1]] = True
    with np.errstate(invalid="ignore"):
        raw = ranked * m * h_m / np.arange(1, m + 1)
    finite = np.where(np.isnan(raw), np.inf, raw)
    step = np.minimum(np.minimum.accumulate(finite[::-1])[::-1], 1.0)
    adjusted[order] = np.where(np.isnan(ranked), np.nan, step)
    return rejected, adjusted


# ---- scoring -----------------------------------------------------------------------------

def _pair_scores(scoring: str, pe: np.ndarray | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """f(a, b) -> per-row score of a against b, for (n, k) 0/1 arrays (multi-label) or (n,) scalars."""
    if scoring == "hamming":
        return lambda a, b: np.mean(a == b, axis=1)
    if scoring == "exact":
        return lambda a, b: np.all(a == b, axis=1).astype(float)
    if scoring == "jaccard":
        def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            inter = np.sum((a > 0.5) & (b > 0.5), axis=1)
            union = np.sum((a > 0.5) | (b > 0.5), axis=1)
            return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        return jaccard
    if scoring == "kappa":
        assert pe is not None
        keep = pe < 1.0
        if not keep.any():
            raise ValueError("kappa scoring: every code has chance agreement 1 (no code varies among the humans)")
        def kappa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            agree = (a[:, keep] == b[:, keep]).astype(float)
            return np.mean((agree - pe[keep]) / (1.0 - pe[keep]), axis=1)
        return kappa
    if scoring == "accuracy":
        return lambda a, b: (a == b).astype(float)
    if scoring == "neg_rmse":  # per pair the root of one squared difference; averaged below like the reference
        return lambda a, b: (a - b) ** 2
    raise ValueError(f"unknown scoring {scoring!r}; use one of {MULTI_LABEL_SCORINGS + SCALAR_SCORINGS}")


@dataclass
class AltTestResult:
    """One family's verdict and its per-annotator table."""

    family: str
    epsilon: float
    scoring: str
    q: float
    table: pd.DataFrame
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_annotators(self) -> int:
        return int(len(self.table))

    @property
    def winning_rate(self) -> float:
        return float(self.table["won"].mean()) if len(self.table) else float("nan")

    @property
    def advantage_probability(self) -> float:
        return float(self.table["rho_model"].mean()) if len(self.table) else float("nan")

    @property
    def passed(self) -> bool:
        return bool(len(self.table)) and self.winning_rate >= 0.5

    def summary(self) -> dict[str, Any]:
        return {"family": self.family, "epsilon": self.epsilon, "scoring": self.scoring, "q": self.q,
                "n_annotators": self.n_annotators, "n_won": int(self.table["won"].sum()) if len(self.table) else 0,
                "winning_rate": self.winning_rate, "advantage_probability": self.advantage_probability,
                "passed": self.passed, "n_skipped": len(self.skipped)}


def _one_sided_p(d: np.ndarray, epsilon: float, use_wilcoxon: bool) -> tuple[str, float, float, bool]:
    """(test name, statistic, p-value of H0 mean(d) >= epsilon, degenerate) for one annotator."""
    from scipy import stats

    if np.all(d == d[0]):  # zero variance: decided exactly rather than NaN (see module doc)
        return ("constant", float("nan"), 0.0 if d[0] < epsilon else 1.0, True)
    if use_wilcoxon:
        # d takes three values, so d - epsilon is full of ties: scipy's "auto" would fall back to a slow
        # permutation test; the exact null holds only without ties, otherwise the tie-corrected normal one
        x = d - epsilon
        method = "exact" if len(np.unique(np.abs(x))) == len(x) else "approx"
        res = stats.wilcoxon(x, alternative="less", method=method)
        return ("wilcoxon", float(res.statistic), float(res.pvalue), False)
    res = stats.ttest_1samp(d, epsilon, alternative="less")
    return ("t", float(res.statistic), float(res.pvalue), False)


def annotator_comparisons(
    model: Mapping[Any, Any],
    humans: Mapping[str, Mapping[Any, Any]],
    *,
    scoring: str = "hamming",
    epsilon: float | str = 0.2,
    min_humans_per_instance: int = 2,
    min_instances_per_human: int = 30,
    small_sample: str = "wilcoxon",
    min_wilcoxon_items: int = 5,
    pe: np.ndarray | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Steps 1-4 for one family: per annotator, n, rho (model and human), the test and its p-value.

    ``model`` maps instance -> annotation; ``humans`` maps annotator -> {instance -> annotation}.
    Annotations are scalars (``accuracy``/``neg_rmse``) or equal-length 0/1 vectors (multi-label).
    """
    if small_sample not in ("wilcoxon", "skip"):
        raise ValueError(f"small_sample must be 'wilcoxon' or 'skip', not {small_sample!r}")
    eps = resolve_epsilon(epsilon)
    instance_humans: dict[Any, list[str]] = {}
    for h, anns in humans.items():
        for i in anns:
            instance_humans.setdefault(i, []).append(h)
    keep = {i for i, hs in instance_humans.items() if len(hs) >= min_humans_per_instance and i in model}
    if scoring == "kappa" and pe is None:
        pe = chance_agreement(humans)
    pair = _pair_scores(scoring, pe)
    rows, skipped = [], []
    for h, anns in humans.items():
        items = [i for i in anns if i in keep]
        n = len(items)
        use_wilcoxon = n < min_instances_per_human
        if use_wilcoxon and (small_sample == "skip" or n < min_wilcoxon_items):
            why = (f"{n} instance(s) < {min_instances_per_human}" if small_sample == "skip"
                   else f"{n} instance(s) < {min_wilcoxon_items}, too few even for the Wilcoxon test")
            skipped.append({"annotator": h, "n_items": n, "reason": why})
            continue
        h_score, m_score = _scores_against_others(items, h, humans, instance_humans, model, pair, scoring)
        w_model = (m_score >= h_score).astype(float)
        w_human = (h_score >= m_score).astype(float)
        d = w_human - w_model
        test, stat, p, degenerate = _one_sided_p(d, eps, use_wilcoxon)
        rows.append({"annotator": h, "n_items": n, "test": test, "rho_model": float(w_model.mean()),
                     "rho_human": float(w_human.mean()), "mean_diff": float(d.mean()), "statistic": stat,
                     "p_value": p, "degenerate": degenerate})
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("family", "p_adjusted", "won")]), skipped


def _scores_against_others(items, h, humans, instance_humans, model, pair, scoring) -> tuple[np.ndarray, np.ndarray]:
    """Per item, mean score of h and of the model against the remaining annotators of that item."""
    h_total = np.zeros(len(items))
    m_total = np.zeros(len(items))
    count = np.zeros(len(items))
    position = {i: j for j, i in enumerate(items)}
    by_other: dict[str, list[Any]] = {}
    for i in items:
        for o in instance_humans[i]:
            if o != h:
                by_other.setdefault(o, []).append(i)
    for o, its in by_other.items():  # vectorised per other annotator: fast for sparse designs too
        idx = np.array([position[i] for i in its])
        a_h = _array([humans[h][i] for i in its])
        a_m = _array([model[i] for i in its])
        a_o = _array([humans[o][i] for i in its])
        np.add.at(h_total, idx, pair(a_h, a_o))
        np.add.at(m_total, idx, pair(a_m, a_o))
        np.add.at(count, idx, 1.0)
    h_mean, m_mean = h_total / count, m_total / count
    if scoring == "neg_rmse":  # -sqrt(mean squared difference), exactly the reference neg_rmse
        h_mean, m_mean = -np.sqrt(h_mean), -np.sqrt(m_mean)
    return h_mean, m_mean


def _array(values: list[Any]) -> np.ndarray:
    """Numbers and 0/1 vectors as float; categorical labels (strings) as objects, compared with ==."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out


def chance_agreement(humans: Mapping[str, Mapping[Any, Any]]) -> np.ndarray:
    """Per code, pe_j = p_j^2 + (1 - p_j)^2 with p_j the share of human annotations that carry code j."""
    vectors = [np.asarray(v, dtype=float) for anns in humans.values() for v in anns.values()]
    if not vectors:
        raise ValueError("no human annotation to estimate chance agreement from")
    p = np.mean(np.vstack(vectors), axis=0)
    return p**2 + (1 - p) ** 2


def alt_test_families(
    families: Mapping[str, tuple[Mapping[Any, Any], Mapping[str, Mapping[Any, Any]], float | str]],
    *,
    scoring: str = "hamming",
    q: float = 0.05,
    **options: Any,
) -> list[AltTestResult]:
    """The alt-test in several families (domains, coder groups) with one FDR over all comparisons.

    ``families`` maps a name to (model annotations, human annotations, epsilon). Each family's
    winning rate is the share of its annotators whose null was rejected by the joint procedure.
    """
    parts = []
    for name, (model, humans, eps) in families.items():
        table, skipped = annotator_comparisons(model, humans, scoring=scoring, epsilon=eps, **options)
        table.insert(0, "family", name)
        parts.append((name, resolve_epsilon(eps), table, skipped))
    frames = [t for _, _, t, _ in parts if len(t)]
    joint = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    rejected, adjusted = by_procedure(joint["p_value"].to_numpy(dtype=float), q)
    joint["p_adjusted"] = adjusted
    joint["won"] = rejected
    joint = joint[COLUMNS]
    return [AltTestResult(name, eps, scoring, q, joint[joint["family"] == name].reset_index(drop=True), skipped)
            for name, eps, _, skipped in parts]


def alt_test(
    model: Mapping[Any, Any],
    humans: Mapping[str, Mapping[Any, Any]],
    *,
    scoring: str = "hamming",
    epsilon: float | str = 0.2,
    q: float = 0.05,
    **options: Any,
) -> AltTestResult:
    """The alt-test in one family: ``result.winning_rate``, ``.advantage_probability``, ``.passed``, ``.table``."""
    return alt_test_families({"all": (model, humans, epsilon)}, scoring=scoring, q=q, **options)[0]


def passes_in(results: Sequence[AltTestResult]) -> str:
    """'passes in X of Y' over families that had at least one annotator tested."""
    tested = [r for r in results if r.n_annotators]
    return f"passes in {sum(r.passed for r in tested)} of {len(tested)}"


# ---- from label matrices -------------------------------------------------------------------

def annotations_from_matrices(labels: Mapping[str, np.ndarray], coders: Sequence[str],
                              item_ids: Sequence[Any] | None = None, rows: np.ndarray | None = None) -> dict[str, dict[Any, tuple]]:
    """coder -> {item -> 0/1 tuple over codes} from (n, k) matrices with NaN rows for unseen items."""
    out: dict[str, dict[Any, tuple]] = {}
    for c in coders:
        m = float_view(labels[c])  # 0/1/NaN: float32 rows give the same Python floats
        ids = list(item_ids) if item_ids is not None else list(range(len(m)))
        sel = np.arange(len(m)) if rows is None else np.flatnonzero(rows)
        sel = sel[~np.isnan(m[sel]).any(axis=1)]  # one vectorised pass, not one check per row
        # one tuple per distinct row, shared by every quote coded alike (a few hundred patterns, not a million tuples)
        patterns, which = np.unique(m[sel], axis=0, return_inverse=True)
        shared = [tuple(row) for row in patterns.tolist()]
        out[c] = {ids[i]: shared[u] for i, u in zip(sel.tolist(), np.ravel(which).tolist())}
    return out


def alt_test_from_matrices(
    labels: Mapping[str, np.ndarray],
    *,
    model: str,
    humans: Sequence[str],
    coder_groups: Mapping[str, str] | None = None,
    epsilon: float | str | Mapping[str, float | str] = "expert",
    groups: pd.DataFrame | None = None,
    scoring: str = "hamming",
    q: float = 0.05,
    **options: Any,
) -> dict[str, Any]:
    """Alt-test tables for a coding run: per coder group (FDR across them), and per quote group.

    ``epsilon`` is one value, or a mapping coder group -> value/preset (``"all"`` for the whole
    set of humans). Families: each coder group when ``coder_groups`` is given (otherwise all
    humans as one). ``by_group`` repeats the families within each level of each ``groups``
    column, with one FDR over all of those comparisons.
    """
    coder_groups = {h: g for h, g in (coder_groups or {}).items() if h in humans}
    family_members: dict[str, list[str]] = {}
    if coder_groups:
        for h in humans:
            if h in coder_groups:
                family_members.setdefault(coder_groups[h], []).append(h)
    else:
        family_members["all"] = list(humans)

    def eps_for(name: str) -> float | str:
        if isinstance(epsilon, Mapping):
            if name in epsilon:
                return epsilon[name]
            if "default" in epsilon:
                return epsilon["default"]
            raise ValueError(f"alt_test.epsilon gives no value for coder group {name!r} (and no 'default'); has {sorted(epsilon)}")
        return epsilon

    scoring_pe = None
    if scoring == "kappa":
        scoring_pe = chance_agreement(annotations_from_matrices(labels, humans))

    # Only instances the test can use (the model's and at least ``min_humans_per_instance`` of the family's
    # humans' codes) become Python tuples: the others were never compared, and a million quotes of 35 codes
    # as tuples of floats take over a GB per coder.
    seen = {c: ~np.isnan(float_view(labels[c])).any(axis=1) for c in [model, *humans]}
    min_humans = int(options.get("min_humans_per_instance", 2))
    usable = {name: seen[model] & (np.sum([seen[h] for h in members], axis=0) >= min_humans)
              for name, members in family_members.items()}

    def families_for(rows: np.ndarray | None, prefix: str = "") -> dict[str, tuple]:
        out = {}
        for name, members in family_members.items():
            use = usable[name] if rows is None else usable[name] & rows
            model_ann = annotations_from_matrices(labels, [model], rows=use)[model]
            out[prefix + name] = (model_ann, annotations_from_matrices(labels, members, rows=use), eps_for(name))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        overall = alt_test_families(families_for(None), scoring=scoring, q=q, pe=scoring_pe, **options)
        by_group: list[AltTestResult] = []
        if groups is not None and len(groups.columns):
            fams: dict[str, tuple] = {}
            for column in groups.columns:
                values = groups[column].astype(object).where(groups[column].notna(), "unknown").astype(str).to_numpy()
                for level in sorted(set(values)):
                    fams.update(families_for(values == level, prefix=f"{column}={level} | "))
            by_group = alt_test_families(fams, scoring=scoring, q=q, pe=scoring_pe, **options)
    return {
        "scoring": scoring, "q": q,
        "summary": [r.summary() for r in overall],
        "verdict": passes_in(overall),
        "annotators": _records(pd.concat([r.table for r in overall], ignore_index=True)) if overall else [],
        "skipped": [{"family": r.family, **s} for r in overall for s in r.skipped],
        "by_group": [r.summary() for r in by_group],
        "by_group_verdict": passes_in(by_group) if by_group else "",
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")]

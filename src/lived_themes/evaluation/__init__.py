"""Evaluation as plain functions: metrics, inter-coder agreement, and breakdowns by group.

Only numpy, pandas, scikit-learn and scipy load here; fairlearn and krippendorff are imported
inside the functions that need them.
"""

from lived_themes.evaluation.agreement import (
    Agreement,
    alpha_per_code,
    coder_group_agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    percent_agreement,
    substitution_alpha,
)
from lived_themes.evaluation.metrics import (
    code_f1,
    macro_average_precision,
    macro_f1,
    macro_precision,
    macro_recall,
    micro_f1,
    per_code_scores,
    summary_scores,
)
from lived_themes.evaluation.groups import agreement_by_group, max_gap, metric_by_group

__all__ = [
    "Agreement",
    "agreement_by_group",
    "alpha_per_code",
    "code_f1",
    "coder_group_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "macro_average_precision",
    "macro_f1",
    "macro_precision",
    "macro_recall",
    "max_gap",
    "metric_by_group",
    "micro_f1",
    "pairwise_kappa",
    "per_code_scores",
    "percent_agreement",
    "substitution_alpha",
    "summary_scores",
]

"""The report's reliability sections: alt-test verdicts, AC1 / Brennan-Prediger beside kappa, the
adjudication queue's top items per code (by quote id only), and stability across seeds."""

from __future__ import annotations

from typing import Any, Mapping

from lived_themes.report.blocks import MISSING, Block, Table, fmt, fmt_ci, records
from lived_themes.report.render import md_table

MAX_ANNOTATOR_ROWS = 30
ALT_TEST_NOTE = (
    "Alternative annotator test (Calderon, Reichart & Dror, ACL 2025): each human is left out in turn; the model "
    "and that human are scored against the remaining humans on each quote the human coded. The model wins against "
    "the human when a one-sided test rejects 'the human's advantage is at least ε' after Benjamini–Yekutieli "
    "correction over all comparisons in the table; it passes when it wins against at least half of them. The "
    "advantage probability is the chance the model is as good as or better than a random human (to rank models)."
)
CHANCE_NOTE = (
    "Gwet's AC1 and Brennan–Prediger beside Fleiss' kappa. On a rare code (prevalence index near 1) kappa "
    "collapses even when coders agree on nearly every quote; AC1 and Brennan–Prediger do not. The bias index is "
    "how differently coders use the code (mean over coder pairs of |b − c| / n). Intervals: Gwet's variance, t-based."
)


def _alt_summary(summary: list[dict], caption: str) -> Table:
    cols = ["Coder group", "ε", "Humans tested", "Won", "Winning rate", "Advantage probability", "Verdict"]
    rows = [[str(s.get("family")), fmt(s.get("epsilon")), str(s.get("n_annotators", MISSING)), str(s.get("n_won", MISSING)),
             fmt(s.get("winning_rate")), fmt(s.get("advantage_probability")),
             ("passes" if s.get("passed") else "fails") if s.get("n_annotators") else "not tested"] for s in summary]
    return Table("alt-test", cols, rows, caption)


def alt_test_blocks(scheme: str, results: list[dict]) -> list[Block]:
    blocks: list[Block] = []
    for result in results:
        alt = result.get("alt_test") or {}
        if not alt.get("summary"):
            continue
        coder = str(result.get("coder", ""))
        blocks += [("h3", f"Alt-test: can {coder} replace a human coder?"), ("p", ALT_TEST_NOTE),
                   ("p", f"Scoring: {alt.get('scoring')}; q = {alt.get('q')}. {coder} {alt.get('verdict')} coder group(s)."),
                   _alt_summary(records(alt.get("summary")), f"Alt-test per coder group, {scheme}, {coder}")]
        annotators = records(alt.get("annotators"))
        if 0 < len(annotators) <= MAX_ANNOTATOR_ROWS:
            cols = ["Coder group", "Human", "n quotes", "Test", "ρ model", "ρ human", "p", "p (BY)", "Model wins"]
            rows = [[str(a.get("family")), str(a.get("annotator")), str(a.get("n_items")), str(a.get("test")),
                     fmt(a.get("rho_model")), fmt(a.get("rho_human")), fmt(a.get("p_value"), 3), fmt(a.get("p_adjusted"), 3),
                     "yes" if a.get("won") else "no"] for a in annotators]
            blocks.append(Table("alt-test-humans", cols, rows, f"Alt-test per human, {scheme}, {coder}"))
        elif annotators:
            blocks.append(("p", f"{len(annotators)} humans tested: the per-human rows are in metrics.json (alt_test.annotators)."))
        skipped = records(alt.get("skipped"))
        if skipped:
            blocks.append(("p", f"{len(skipped)} human(s) not tested (too few quotes): see metrics.json (alt_test.skipped)."))
        if alt.get("by_group"):
            blocks.append(_alt_summary(records(alt.get("by_group")), f"Alt-test within each quote group (one FDR over all), {scheme}, "
                                                                       f"{coder}: {alt.get('by_group_verdict')}"))
    return blocks


def chance_corrected_blocks(metrics: Mapping, *, max_group_rows: int = 60) -> list[Block]:
    rows_in = records((metrics.get("human_agreement") or {}).get("chance_corrected"))
    if not rows_in:
        return []
    cols = ["Group", "Code", "n quotes", "Prevalence", "% agreement", "Fleiss κ", "AC1 [95% CI]", "Brennan–Prediger [95% CI]",
            "Prevalence index", "Bias index"]

    def row(x: dict) -> list[str]:
        group = "overall" if x.get("group_column") == "overall" else f"{x.get('group_column')}={x.get('group')}"
        return [group, str(x.get("code")), str(x.get("n_units", MISSING)), fmt(x.get("prevalence")), fmt(x.get("percent_agreement")),
                fmt(x.get("fleiss_kappa")), fmt_ci(x.get("ac1"), low=x.get("ac1_ci_low"), high=x.get("ac1_ci_high")),
                fmt_ci(x.get("bp"), low=x.get("bp_ci_low"), high=x.get("bp_ci_high")), fmt(x.get("prevalence_index")),
                fmt(x.get("bias_index"))]

    overall = [x for x in rows_in if x.get("group_column") == "overall"]
    grouped = [x for x in rows_in if x.get("group_column") != "overall"]
    blocks: list[Block] = [("h3", "Chance-corrected agreement among the human coders"), ("p", CHANCE_NOTE),
                           Table("chance-corrected", cols, [row(x) for x in overall], "AC1 and Brennan–Prediger per code, human coders")]
    if grouped:
        shown = grouped[:max_group_rows]
        note = f" (first {max_group_rows} of {len(grouped)} rows; all in metrics.json)" if len(grouped) > max_group_rows else ""
        blocks.append(Table("chance-corrected-groups", cols, [row(x) for x in shown], f"Per group, human coders{note}"))
    return blocks


def adjudication_blocks(metrics: Mapping) -> list[Block]:
    adj = metrics.get("adjudication") or {}
    if not adj:
        return []
    text = (f"{adj.get('n_items', 0)} (quote, code) disagreements among {len(adj.get('humans') or [])} human coder(s) and "
            f"{adj.get('coder')} ({adj.get('scheme')}) are listed in {adj.get('file')}, most informative first (split votes "
            "first, then where the model's score contradicts the humans most). Fill its decision column and run "
            "`lived-themes adjudicate <run folder>` to make the decisions a coder named adjudicated.")
    cols = ["Code", "Rank", "Quote id", "Yes", "No", "Vote entropy", "Model said", "Model score"]
    rows = [[str(x.get("code")), str(x.get("rank_in_code")), str(x.get("quote_id")), str(x.get("n_yes")), str(x.get("n_no")),
             fmt(x.get("vote_entropy")), fmt(x.get("model_said"), 0), fmt(x.get("model_score"))] for x in records(adj.get("top"))]
    blocks: list[Block] = [("h2", "Adjudication queue"), ("p", text)]
    if rows:
        blocks.append(Table("adjudication", cols, rows, "Top items per code (ids only)"))
    return blocks


def stability_blocks(metrics: Mapping) -> list[Block]:
    stab = metrics.get("stability") or {}
    if not stab:
        return []
    cols = ["Coder", "Code", "α across seeds", "Share of quotes that changed", "Stable"]
    rows = [[str(x.get("coder")), str(x.get("code")), fmt(x.get("alpha_across_seeds")), fmt(x.get("share_changed")),
             "no" if x.get("unstable") else "yes"] for x in records(stab.get("per_code"))]
    flagged = stab.get("unstable") or []
    text = (f"Each coder retrained with seeds {stab.get('seeds')} ({stab.get('scheme')}; folds reshuffled, the coder's own seed "
            f"varied where it has one). Krippendorff's α of its out-of-fold codes across seeds; below {stab.get('min_alpha')} "
            "the model cannot code that code consistently. " + (f"Flagged: {', '.join(flagged)}." if flagged else "None flagged."))
    return [("h2", "Stability across seeds"), ("p", text), Table("stability", cols, rows, "Agreement of each coder with itself")]


def reliability_blocks(metrics: Mapping[str, Any]) -> list[Block]:
    """Run-level sections (not per scheme): chance-corrected human agreement, adjudication, stability."""
    return chance_corrected_blocks(metrics) + adjudication_blocks(metrics) + stability_blocks(metrics)


def alt_test_table(metrics: Mapping[str, Any]) -> str:
    """Markdown: the alt-test per coder and coder group, with the range of BY-adjusted p over its humans (for the README)."""

    cols = ["Scheme", "Coder", "Coder group", "ε", "Humans tested", "Won", "Winning rate", "Advantage probability",
            "BY-adjusted p (min–max)", "Verdict"]
    table = Table("alt-test-summary", cols, [], "Alt-test per coder group")
    for r in records(metrics.get("results")):
        alt = r.get("alt_test") or {}
        for s in records(alt.get("summary")):
            ps = [a.get("p_adjusted") for a in records(alt.get("annotators")) if a.get("family") == s.get("family")
                  and a.get("p_adjusted") is not None]
            span = f"{fmt(min(ps), 3)}–{fmt(max(ps), 3)}" if ps else MISSING
            table.rows.append([str(r.get("scheme")), str(r.get("coder")), str(s.get("family")), fmt(s.get("epsilon")),
                               str(s.get("n_annotators")), str(s.get("n_won")), fmt(s.get("winning_rate")),
                               fmt(s.get("advantage_probability")), span,
                               ("passes" if s.get("passed") else "fails") if s.get("n_annotators") else "not tested"])
    return md_table(table)

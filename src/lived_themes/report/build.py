"""The run report: ``metrics.json`` -> ``report.md``, a self-contained ``report.html`` and figures.

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and
rendered twice, so Markdown and HTML can never disagree. It only renders whitelisted fields
(ids, counts, scores), never extra columns, so quote text cannot leak into a report that may be
mailed. Missing values render as "–" because a corpus-wide report must not stop on one
undefined statistic. Figures are drawn by ``figures``; the HTML embeds them as base64 PNG.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from lived_themes.report.agreement import (
    ALL_CODES,
    ONE_HUMAN,
    agreement_section,
    coder_group_section,
    group_agreement_tables,
)
from lived_themes.report.blocks import (
    MISSING,
    Block,
    Figure,
    Table,
    first_key,
    fmt,
    fmt_ci,
    num,
    records,
    report_codes,
    value_ci,
)
from lived_themes.report.render import md_table, render_html, render_markdown
from lived_themes.report.reliability import alt_test_blocks, reliability_blocks
from lived_themes.report import figures as fig
from lived_themes.report.calibration import calibration_blocks
from lived_themes.report.llm import llm_blocks
from lived_themes.report.standin import standin_blocks
from lived_themes.report.reading import how_to_read

__all__ = ["ALL_CODES", "MISSING", "ONE_HUMAN", "build_blocks", "headline", "headline_table", "is_floor", "write_report"]

MAX_MATRIX_CODERS = 25
SMALL_GROUP_NOTE = ("Too small (see note): the highest or lowest group named there is too small to support a claim, so that "
                    "gap may be noise; compare groups that are not named.")
NO_FLOOR = "No majority baseline in this run, so there is no floor to compare against."
FLOOR_NOTE = (
    "Bold: best macro-F1 in each scheme. The floor is the majority baseline; a coder whose interval "
    "overlaps it has not shown that it learned the codes."
)


def is_floor(coder: str) -> bool:
    """The majority baseline (or, for topic models, the base-rate coder) is the floor every other coder must clear."""
    return "majority" in str(coder).lower() or str(coder).endswith("base-rates")


def _schemes(metrics: Mapping) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records(metrics.get("results")):
        out.setdefault(str(r.get("scheme", "")), []).append(r)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:60] or "x"


# ---- sections -----------------------------------------------------------------------------


def headline(metrics: Mapping) -> Table:
    """Scheme x coder: macro-F1 and micro-F1 with 95% intervals, the floor, n tested and codes averaged."""
    cols = ["Scheme", "Coder", "Macro-F1 [95% CI]", "Micro-F1 [95% CI]", "Macro AP", "Δ macro-F1 vs floor", "n tested",
            "Codes averaged"]
    table = Table("headline", cols, [], "Headline: every coder under every split scheme")
    for scheme, results in _schemes(metrics).items():
        macro = [num((r.get("summary") or {}).get("macro_f1")) for r in results]
        floor = next((m for m, r in zip(macro, results) if is_floor(r.get("coder", ""))), math.nan)
        best = np.nanmax(macro) if np.isfinite(macro).any() else math.nan
        for m, r in zip(macro, results):
            s, ci, coder = r.get("summary") or {}, r.get("summary_ci") or {}, str(r.get("coder", ""))
            if m == best:
                table.bold.add((len(table.rows), 2))
            table.rows.append([
                scheme,
                coder + (" (floor)" if is_floor(coder) else ""),
                fmt_ci(m, ci.get("macro_f1")),
                fmt_ci(s.get("micro_f1"), ci.get("micro_f1")),
                fmt(s.get("macro_average_precision")),
                MISSING if is_floor(coder) else fmt(m - floor),
                str(r.get("n_tested", MISSING)),
                str(s.get("n_codes", MISSING)),
            ])
    return table


def untested_codes(metrics: Mapping) -> str:
    """The line under the headline: per scheme, the codes with no test examples (so no score)."""
    parts = []
    for scheme, results in _schemes(metrics).items():
        lists = [r.get("codes_without_test_examples") for r in results if r.get("codes_without_test_examples") is not None]
        if lists:
            codes = list(dict.fromkeys(str(c) for c in lists[0]))
            parts.append(f"{scheme}: " + (", ".join(codes) + f" ({len(codes)} of {len(metrics.get('codes') or [])})" if codes else "none"))
    if not parts:
        return ""
    return ("Codes with no test examples (left out of the macro averages unless a coder predicted them): "
            + "; ".join(parts) + ". Macro figures average over the codes that occur (\"Codes averaged\").")


def privacy_note(metrics: Mapping) -> str:
    """How many groups the privacy floor hid, per group column (never which)."""
    privacy = metrics.get("privacy") or {}
    notes = [str(n) for n in privacy.get("notes") or []]
    return ("Privacy floor: " + "; ".join(notes) + ".") if notes else ""


def headline_table(metrics: Mapping) -> str:
    """The headline table as Markdown, for the README section regenerated from a run."""
    return md_table(headline(metrics))


def _per_code(metrics: Mapping, scheme: str, results: list[dict]) -> tuple[Table, np.ndarray, list[str]]:
    labels = metrics.get("code_labels") or {}
    codes = report_codes(metrics, results)
    coders = [str(r.get("coder", "")) for r in results]
    by = [{str(p.get("code")): p for p in records(r.get("per_code"))} for r in results]
    f1 = np.array([[num(b.get(c, {}).get("f1")) for b in by] for c in codes], dtype=float)
    f1 = f1.reshape(len(codes), len(coders))
    cols = ["Code", "Label", "Support"] + [f"{c} P / R / F1" for c in coders]
    table = Table("per-code", cols, [], f"Per-code precision / recall / F1, {scheme} (best F1 per code in bold)")
    for i, code in enumerate(codes):
        support = next((b[code]["support"] for b in by if code in b and "support" in b[code]), None)
        cells = [" / ".join(fmt(b.get(code, {}).get(k)) for k in ("precision", "recall", "f1")) for b in by]
        support = MISSING if math.isnan(num(support)) else str(int(num(support)))
        table.rows.append([code, str(labels.get(code, "")), support, *cells])
        if np.isfinite(f1[i]).any() and np.nanmax(f1[i]) > 0:
            table.bold |= {(i, 3 + j) for j in np.flatnonzero(f1[i] == np.nanmax(f1[i]))}
    return table, f1, [f"{labels.get(c) or c} (n={row[2]})" for c, row in zip(codes, table.rows)]


def _by_group(scheme: str, results: list[dict], *, n_codes: int = 0) -> list[tuple[str, Table, np.ndarray, list[str]]]:
    """One table per group column: macro-F1 [CI] per coder, n, clusters and small-group warnings."""
    coders = [str(r.get("coder", "")) for r in results]
    recs = [records(r.get("by_group")) for r in results]
    metric_names = [str(x.get("metric")) for rs in recs for x in rs]
    metric = "macro_f1" if "macro_f1" in metric_names else (metric_names[0] if metric_names else "")
    columns = list(dict.fromkeys(str(x.get("group_column")) for rs in recs for x in rs))
    out = []
    for column in columns:
        cells: dict[str, dict[int, dict]] = {}
        for j, rs in enumerate(recs):
            for x in rs:
                if str(x.get("group_column")) == column and str(x.get("metric")) == metric:
                    cells.setdefault(str(x.get("group")), {})[j] = x
        cols = (["Group", "n quotes (clusters)"] + [f"{c} {metric} [95% CI]" for c in coders]
                + [_codes_header(coders, n_codes), "Codes absent", "Warning"])
        table = Table("by-group", cols, [], f"{metric} by {column}, {scheme}")
        values = np.full((len(cells), len(coders)), math.nan)
        names = []
        for i, (group, per) in enumerate(cells.items()):
            any_rec = next(iter(per.values()))
            warning = next((str(x.get("warning")) for x in per.values() if x.get("warning")), "")
            values[i] = [num(per[j].get("value")) if j in per else math.nan for j in range(len(coders))]
            n = f"{first_key(any_rec, 'n', 'n_units', default=MISSING)} ({any_rec.get('n_clusters', MISSING)})"
            scores = [value_ci(per[j]) if j in per else MISSING for j in range(len(coders))]
            table.rows.append([group, n, *scores, *_codes_cells(per), warning])
            names.append(group + (" *" if warning else ""))
        out.append((column, table, values, names))
    return out


def _codes_header(coders: list[str], n_codes: int) -> str:
    """Says what "10 / 12 / 13" means: codes each coder's macro figure averages over, in column order, of how many."""
    of = f", of {n_codes}" if n_codes else ""
    return f"Codes averaged{of} (per coder, in column order)" if len(coders) > 1 else f"Codes averaged{of}"


def _codes_cells(per: Mapping[int, dict]) -> list[str]:
    """Codes averaged per coder (one number when they agree) and the codes absent for every coder."""
    counts = list(dict.fromkeys(str(x.get("n_codes", MISSING)) for x in per.values()))
    absent_lists = [x.get("codes_absent") for x in per.values() if isinstance(x.get("codes_absent"), list)]
    absent = [c for c in (absent_lists[0] if absent_lists else []) if all(c in a for a in absent_lists)]
    return [" / ".join(counts), ", ".join(map(str, absent)) if absent_lists else MISSING]


def _gaps(scheme: str, results: list[dict]) -> Table:
    """Largest gap per coder, group column and metric; says when an extreme is a too-small group."""
    cols = ["Coder", "Group column", "Metric", "Gap", "Highest group", "Lowest group", "Too small (see note)"]
    table = Table("max-gap", cols, [], f"Largest gap between groups, {scheme}")
    for r in results:
        by_group = records(r.get("by_group"))
        small = {(str(x.get("group_column")), str(x.get("group"))) for x in by_group if x.get("warning")}
        for g in records(r.get("max_gap")):
            high = first_key(g, "group_high", "highest_group", default=MISSING)
            low = first_key(g, "group_low", "lowest_group", default=MISSING)
            flagged = list(dict.fromkeys(str(x) for x in (high, low) if (str(g.get("group_column")), str(x)) in small))
            warning = ", ".join(flagged)  # the warning itself is said once, under the table
            where = [str(g.get(k, MISSING)) for k in ("group_column", "metric")]
            hi, lo = f"{high} ({fmt(g.get('value_high'))})", f"{low} ({fmt(g.get('value_low'))})"
            table.rows.append([str(r.get("coder", "")), *where, fmt(g.get("gap")), hi, lo, warning])
    return table


def _corpus(metrics: Mapping) -> list[Block]:
    missing = records(metrics.get("not_evaluated"))
    n_quotes, n_evaluated, reference = (metrics.get(k, MISSING) for k in ("n_quotes", "n_evaluated", "reference"))
    humans = ", ".join(map(str, metrics.get("human_coders") or [])) or MISSING
    text = (f"{n_quotes} quotes in the corpus; {n_evaluated} evaluated; {len(missing)} not evaluated. "
            f"Reference coder: {reference}. Human coders: {humans}.")
    blocks: list[Block] = [("p", text)]
    if missing:
        reasons: dict[str, list[str]] = {}
        for x in missing:
            reasons.setdefault(str(x.get("reason", "")), []).append(str(x.get("quote_id", "")))
        t = Table("not-evaluated", ["Reason", "Quotes", "Quote ids"], [], "Quotes not evaluated, and why")
        t.rows = [[k, str(len(v)), ", ".join(v[:12]) + (" …" if len(v) > 12 else "")] for k, v in reasons.items()]
        blocks.append(t)
    excluded = records(metrics.get("excluded_codes"))
    if excluded:
        rows = [[str(x.get("code")), str(x.get("count", MISSING)), str(x.get("reason", ""))] for x in excluded]
        blocks.append(Table("excluded-codes", ["Code", "Count", "Reason"], rows, "Codes excluded, and why"))
    return blocks


def _provenance(metrics: Mapping, config: Mapping | None, run_info: Mapping | None) -> list[Block]:
    blocks: list[Block] = [("h2", "Run")]
    timing = [[s, str(r.get("coder")), *(fmt((r.get("seconds") or {}).get(k), 1) for k in ("fit", "predict"))]
              for s, rs in _schemes(metrics).items() for r in rs]
    blocks.append(Table("timing", ["Scheme", "Coder", "Fit (s)", "Predict (s)"], timing, "Time taken"))
    if run_info:
        flat = {f"{k}.{k2}" if isinstance(v, Mapping) else k: v2 for k, v in run_info.items()
                for k2, v2 in (v.items() if isinstance(v, Mapping) else [(None, v)])}
        rows = [[str(k), str(v)] for k, v in flat.items() if not isinstance(v, (dict, list))]
        blocks.append(Table("provenance", ["Field", "Value"], rows, "Provenance"))
    if config:
        import yaml

        dumped = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
        blocks += [("h3", "Resolved configuration"), ("pre", dumped)]
    return blocks


# ---- assembling and rendering ---------------------------------------------------------------


def build_blocks(metrics: Mapping, *, config: Mapping | None = None, run_info: Mapping | None = None,
                 figure_dir: Path | None = None) -> list[Block]:
    """The whole report as blocks; figures are drawn into ``figure_dir`` when it is given."""

    def figure(name: str, alt: str, draw: Any, *args: Any) -> list[Block]:
        return [Figure(draw(*args, figure_dir / name, title=alt), alt)] if figure_dir is not None else []

    blocks: list[Block] = [("h1", f"Run report: {metrics.get('experiment', MISSING)}")]
    blocks += [("p", str(metrics["description"]))] if metrics.get("description") else []

    blocks += how_to_read(metrics)
    blocks += [("h2", "Corpus"), *_corpus(metrics), ("h2", "Headline"), headline(metrics)]
    floor = any(is_floor(r.get("coder", "")) for r in records(metrics.get("results")))
    blocks.append(("p", FLOOR_NOTE if floor else NO_FLOOR))
    if metrics.get("codes"):
        blocks.append(("p", f'"Codes averaged": how many of the run\'s {len(metrics["codes"])} codes each macro figure '
                            "averages over (a code with no test examples has no F1, so it is left out)."))
    blocks += [("p", line) for line in (untested_codes(metrics), privacy_note(metrics)) if line]
    blocks += coder_group_section(metrics)
    if metrics.get("warnings"):
        blocks += [("h3", "Warnings"), ("ul", [str(w) for w in metrics["warnings"]])]
    for scheme, results in _schemes(metrics).items():
        s = _slug(scheme)
        blocks.append(("h2", f"Scheme: {scheme}"))
        table, f1, names = _per_code(metrics, scheme, results)
        coders = [str(r.get("coder", "")) for r in results]
        blocks += [("h3", "Per code"), table]
        title = f"Per-code F1 by coder, {scheme}"
        blocks += figure(f"per_code_f1__{s}.png", title, fig.per_code_f1_chart, f1, names, coders)
        blocks.append(("h3", "By group"))
        for column, gtable, values, groups in _by_group(scheme, results, n_codes=len(metrics.get("codes") or [])):
            blocks.append(gtable)
            blocks += figure(f"group_heatmap__{s}__{_slug(column)}.png", f"Macro-F1 by {column} and coder, {scheme}"
                             " (* = group too small to support a claim)", fig.group_heatmap, values, groups, coders)
        gaps = _gaps(scheme, results)
        if gaps.rows:
            blocks += [gaps, *([("p", SMALL_GROUP_NOTE)] if any(row[-1] for row in gaps.rows) else [])]
        ablocks, matrix, all_coders = agreement_section(metrics, scheme, results)
        blocks += [("h3", "Agreement with human coders"), *ablocks, *group_agreement_tables(metrics, scheme, results)]
        if len(all_coders) > MAX_MATRIX_CODERS:
            blocks.append(("p", f"{len(all_coders)} coders: the coder × coder agreement matrix is drawn only up to "
                                f"{MAX_MATRIX_CODERS}; see the stand-in analysis for each coder."))
        elif len(all_coders) >= 2:
            blocks += figure(f"agreement__{s}.png", f"Mean Cohen's kappa across codes between coders, {scheme}",
                             fig.agreement_matrix, matrix, all_coders)

        blocks += calibration_blocks(scheme, results, figure_dir=figure_dir, slug=s,
                                     humans=records((metrics.get("human_agreement") or {}).get("single_label")))
        blocks += standin_blocks(scheme, results, figure_dir=figure_dir, slug=s)
        blocks += alt_test_blocks(scheme, results)
    model = (run_info or {}).get("model")
    if isinstance(model, Mapping):  # the saved final model, and how to use it
        blocks += [("h2", "Saved model"), ("p", f"The final {model.get('coder')} model, trained on every evaluated quote, is saved in "
                                               f"`{model.get('folder')}/`. Code new text with: `{model.get('use')}`")]
    blocks += _evidence_examples(metrics)

    blocks += llm_blocks(metrics, run_info)
    return blocks + reliability_blocks(metrics) + _provenance(metrics, config, run_info)


def _evidence_examples(metrics: Mapping) -> list[Block]:
    """Where the model found each code: quote ids and character offsets only, never the text (look it up in the corpus)."""
    rows = records(metrics.get("evidence_examples"))
    if not rows:
        return []
    table = Table("evidence-examples", ["scheme", "coder", "code", "quote id", "start", "end"],
                  [[str(r.get("scheme", MISSING)), str(r.get("coder", MISSING)), str(r.get("code", MISSING)),
                    str(r.get("quote_id", MISSING)), fmt(r.get("start"), 0), fmt(r.get("end"), 0)] for r in rows])
    return [("h2", "Evidence examples"),
            ("p", "For each code, a quote the model coded correctly and the span (characters start to end) it found most "
                  "supportive: read it in the corpus. The report prints no quote text."), table]


def write_report(run_dir: Path, metrics: dict, *, config: dict | None = None, run_info: dict | None = None,
                 figures: bool = True, html: bool = True) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into the run folder.

    Returns the written paths keyed by their path relative to ``run_dir``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    figure_dir = run_dir / "figures" if figures else None
    blocks = build_blocks(metrics, config=config, run_info=run_info, figure_dir=figure_dir)
    written = {f.path.relative_to(run_dir).as_posix(): f.path for f in blocks if isinstance(f, Figure)}
    (md := run_dir / "report.md").write_text(render_markdown(blocks, base=run_dir), encoding="utf-8")
    written["report.md"] = md
    if html:
        (page := run_dir / "report.html").write_text(render_html(blocks), encoding="utf-8")
        written["report.html"] = page
    return written

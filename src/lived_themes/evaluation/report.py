"""The run report: ``metrics.json`` -> ``report.md``, a self-contained ``report.html`` and figures.

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and
rendered twice, so Markdown and HTML can never disagree. It only renders whitelisted fields
(ids, counts, scores), never extra columns, so quote text cannot leak into a report that may be
mailed. Missing values render as "–" because a corpus-wide report must not stop on one
undefined statistic. Figures are drawn by ``figures``; the HTML embeds them as base64 PNG.
"""

from __future__ import annotations

import base64
import html as _html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

MISSING = "–"
MAX_MATRIX_CODERS = 25
ALL_CODES = "(all codes)"
ONE_HUMAN = (
    "One human coder: no human–human ceiling. Model–human agreement below cannot be compared "
    "with how far humans agree."
)
NO_FLOOR = "No majority baseline in this run, so there is no floor to compare against."
FLOOR_NOTE = (
    "Bold: best macro-F1 in each scheme. The floor is the majority baseline; a coder whose interval "
    "overlaps it has not shown that it learned the codes."
)


@dataclass
class Table:
    """A rendered-agnostic table; ``kind`` becomes the HTML id (``headline``, ``per-code``...)."""

    kind: str
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class Figure:
    path: Path
    alt: str


Block = tuple[str, Any] | Table | Figure


def num(x: Any) -> float:
    """Any JSON value as a float; None, strings and non-finite values become NaN."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def fmt(x: Any, digits: int = 2) -> str:
    value = num(x)
    return MISSING if math.isnan(value) else f"{value:.{digits}f}"


def fmt_ci(x: Any, ci: Any = None, low: Any = None, high: Any = None) -> str:
    """``0.52 [0.44, 0.60]``; the interval is left out when it is missing."""
    if ci is not None and isinstance(ci, (list, tuple)) and len(ci) == 2:
        low, high = ci
    if math.isnan(num(x)) or (math.isnan(num(low)) and math.isnan(num(high))):
        return fmt(x)
    return f"{fmt(x)} [{fmt(low)}, {fmt(high)}]"


def _records(x: Any) -> list[dict]:
    if x is None:
        return []
    if hasattr(x, "to_dict"):
        return x.to_dict("records")
    return [r for r in x if isinstance(r, Mapping)]


def _value_ci(x: Mapping) -> str:
    return fmt_ci(x.get("value"), low=x.get("ci_low"), high=x.get("ci_high"))


def _first(record: Mapping, *keys: str, default: Any = None) -> Any:
    return next((record[k] for k in keys if k in record), default)


def _mean(values: Iterable[Any]) -> float:
    arr = np.array([num(v) for v in values], dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan


def is_floor(coder: str) -> bool:
    """The majority baseline is the floor every other coder must clear."""
    return "majority" in str(coder).lower()


def _schemes(metrics: Mapping) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in _records(metrics.get("results")):
        out.setdefault(str(r.get("scheme", "")), []).append(r)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:60] or "x"


def _codes(metrics: Mapping, results: list[dict]) -> list[str]:
    codes = [str(c) for c in metrics.get("codes") or []]
    for r in results:
        codes += [str(p["code"]) for p in _records(r.get("per_code")) if str(p.get("code")) not in codes]
    return codes


# ---- sections -----------------------------------------------------------------------------


def headline(metrics: Mapping) -> Table:
    """Scheme x coder: macro-F1 and micro-F1 with 95% intervals, the floor and n tested."""
    cols = ["Scheme", "Coder", "Macro-F1 [95% CI]", "Micro-F1 [95% CI]", "Macro AP", "Δ macro-F1 vs floor", "n tested"]
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
            ])
    return table


def headline_table(metrics: Mapping) -> str:
    """The headline table as Markdown, for the README section regenerated from a run."""
    return _md_table(headline(metrics))


def _per_code(metrics: Mapping, scheme: str, results: list[dict]) -> tuple[Table, np.ndarray, list[str]]:
    labels = metrics.get("code_labels") or {}
    codes = _codes(metrics, results)
    coders = [str(r.get("coder", "")) for r in results]
    by = [{str(p.get("code")): p for p in _records(r.get("per_code"))} for r in results]
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


def _by_group(scheme: str, results: list[dict]) -> list[tuple[str, Table, np.ndarray, list[str]]]:
    """One table per group column: macro-F1 [CI] per coder, n, clusters and small-group warnings."""
    coders = [str(r.get("coder", "")) for r in results]
    recs = [_records(r.get("by_group")) for r in results]
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
        cols = ["Group", "n quotes (clusters)"] + [f"{c} {metric} [95% CI]" for c in coders] + ["Warning"]
        table = Table("by-group", cols, [], f"{metric} by {column}, {scheme}")
        values = np.full((len(cells), len(coders)), math.nan)
        names = []
        for i, (group, per) in enumerate(cells.items()):
            any_rec = next(iter(per.values()))
            warning = next((str(x.get("warning")) for x in per.values() if x.get("warning")), "")
            values[i] = [num(per[j].get("value")) if j in per else math.nan for j in range(len(coders))]
            n = f"{_first(any_rec, 'n', 'n_units', default=MISSING)} ({any_rec.get('n_clusters', MISSING)})"
            scores = [_value_ci(per[j]) if j in per else MISSING for j in range(len(coders))]
            table.rows.append([group, n, *scores, warning])
            names.append(group + (" *" if warning else ""))
        out.append((column, table, values, names))
    return out


def _gaps(scheme: str, results: list[dict]) -> Table:
    """Largest gap per coder, group column and metric; says when an extreme is a too-small group."""
    cols = ["Coder", "Group column", "Metric", "Gap", "Highest group", "Lowest group", "Warning"]
    table = Table("max-gap", cols, [], f"Largest gap between groups, {scheme}")
    for r in results:
        by_group = _records(r.get("by_group"))
        small = {(str(x.get("group_column")), str(x.get("group"))) for x in by_group if x.get("warning")}
        for g in _records(r.get("max_gap")):
            high = _first(g, "group_high", "highest_group", default=MISSING)
            low = _first(g, "group_low", "lowest_group", default=MISSING)
            flagged = list(dict.fromkeys(str(x) for x in (high, low) if (str(g.get("group_column")), str(x)) in small))
            warning = f"too small to support a claim: {', '.join(flagged)}" if flagged else ""
            where = [str(g.get(k, MISSING)) for k in ("group_column", "metric")]
            hi, lo = f"{high} ({fmt(g.get('value_high'))})", f"{low} ({fmt(g.get('value_low'))})"
            table.rows.append([str(r.get("coder", "")), *where, fmt(g.get("gap")), hi, lo, warning])
    return table


def _pair_kappa(records: list[dict]) -> dict[tuple[str, str], dict[str, list]]:
    out: dict[tuple[str, str], dict[str, list]] = {}
    for x in records:
        pair = (str(x.get("coder_a")), str(x.get("coder_b")))
        out.setdefault(pair, {}).setdefault(str(x.get("code")), []).append(x.get("kappa"))
    return out


def _is_human_pair(x: Mapping, humans: list[str]) -> bool:
    return str(x.get("coder_a")) in humans and str(x.get("coder_b")) in humans


def _is_model_pair(x: Mapping, humans: list[str]) -> bool:
    return (str(x.get("coder_a")) in humans) != (str(x.get("coder_b")) in humans)


def _kappa_per_code(records: list[dict], codes: list[str]) -> dict[str, float]:
    """Mean Cohen's kappa per code over every coder pair in ``records``."""
    pairs = _pair_kappa(records).values()
    return {c: _mean(v for per_code in pairs for v in per_code.get(c, [])) for c in codes}


def _agreement(metrics: Mapping, scheme: str, results: list[dict]) -> tuple[list[Block], np.ndarray, list[str]]:
    """Model–human kappa per code beside the human–human ceiling, and the coder x coder matrix."""
    humans = [str(h) for h in metrics.get("human_coders") or []]
    codes, labels = _codes(metrics, results), metrics.get("code_labels") or {}
    human = metrics.get("human_agreement") or {}
    model_records = [_records(r.get("agreement")) for r in results]
    hh_records = _records(human.get("pairwise")) or [x for rs in model_records for x in rs if _is_human_pair(x, humans)]
    hh = _kappa_per_code(hh_records, codes)
    alpha = {str(x.get("code")): x.get("alpha") for x in _records(human.get("alpha"))}
    mh = [_kappa_per_code([x for x in rs if _is_model_pair(x, humans)], codes) for rs in model_records]
    two = len(humans) >= 2
    cols = ["Code", "Label"] + (["human–human κ (ceiling)", "human α"] if two else [])
    cols += [f"{r.get('coder')} κ vs humans" for r in results]
    table = Table("agreement", cols, [], f"Cohen's kappa per code, mean over coder pairs, {scheme}")
    for code in codes:
        ceiling = [fmt(hh[code]), fmt(alpha.get(code))] if two else []
        table.rows.append([code, str(labels.get(code, "")), *ceiling, *(fmt(m[code]) for m in mh)])
    blocks: list[Block] = ([] if two else [("p", ONE_HUMAN)]) + [table]
    subs = [_records(r.get("substitution_alpha")) for r in results]
    if any(subs):
        cols = ["Code", "α humans"] + [f"α with {r.get('coder')} substituted" for r in results]
        caption = (f"Krippendorff's alpha among humans, and with the model in place of each human in turn "
                   f"(mean), {scheme}")
        sub = Table("substitution-alpha", cols, [], caption)
        for code in codes:
            mine = [[x for x in s if str(x.get("code")) == code] for s in subs]
            base = _mean(x.get("alpha_humans") for m in mine for x in m)
            sub.rows.append([code, fmt(base), *(fmt(_mean(x.get("alpha_with_model") for x in m)) for m in mine)])
        blocks.append(sub)
    everything = hh_records + [x for rs in model_records for x in rs]
    coders = list(dict.fromkeys(humans + [str(x.get(k)) for x in everything for k in ("coder_a", "coder_b")]))
    matrix = np.full((len(coders), len(coders)), math.nan)
    np.fill_diagonal(matrix, 1.0)
    for (a, b), per_code in _pair_kappa(everything).items():
        i, j = coders.index(a), coders.index(b)
        matrix[i, j] = matrix[j, i] = _mean(v for vs in per_code.values() for v in vs)
    return blocks, matrix, coders


def _overall_kappa(records: list[dict], comparison: str) -> dict[tuple[str, str], dict]:
    """(group column, group) -> the all-codes kappa record of one comparison."""
    return {
        (str(x.get("group_column")), str(x.get("group"))): x
        for x in records
        if str(x.get("code", ALL_CODES)) == ALL_CODES
        and str(x.get("statistic", "kappa")) == "kappa"
        and str(x.get("comparison", comparison)) == comparison
    }


def _group_agreement(metrics: Mapping, scheme: str, results: list[dict]) -> list[Table]:
    """Kappa over all codes in each group: the human ceiling beside each model."""
    human = _overall_kappa(_records((metrics.get("human_agreement") or {}).get("by_group")), "human-human")
    human = human or _overall_kappa([x for r in results for x in _records(r.get("group_agreement"))], "human-human")
    models = [_overall_kappa(_records(r.get("group_agreement")), "model-human") for r in results]
    cols = ["Group", "n units", "human–human κ [95% CI]"]
    cols += [f"{r.get('coder')} κ vs humans [95% CI]" for r in results] + ["Warning"]
    tables: dict[str, Table] = {}
    for column, group in dict.fromkeys([*human, *(k for m in models for k in m)]):
        caption = f"Agreement over all codes by {column}, {scheme}"
        table = tables.setdefault(column, Table("group-agreement", cols, [], caption))
        recs = [human.get((column, group))] + [m.get((column, group)) for m in models]
        cells = [_value_ci(x) if x else MISSING for x in recs]
        some = next(x for x in recs if x)
        warning = next((str(x.get("warning")) for x in recs if x and x.get("warning")), "")
        table.rows.append([group, str(_first(some, "n_units", "n", default=MISSING)), *cells, warning])
    return list(tables.values())


def _coder_groups(metrics: Mapping) -> list[Block]:
    """Agreement within and between coder groups (e.g. experts vs lay coders), averaged over codes."""
    records = _records((metrics.get("human_agreement") or {}).get("coder_groups"))
    pairs: dict[tuple[str, str, str], list[dict]] = {}
    for x in records:
        pairs.setdefault((str(x.get("kind", "")), str(x.get("group_a", "")), str(x.get("group_b", ""))), []).append(x)
    cols = ["Kind", "Coder group", "Coder group", "Mean κ over codes", "Mean α over codes"]
    rows = [[*key, fmt(_mean(x.get("mean_kappa") for x in xs)), fmt(_mean(x.get("alpha") for x in xs))]
            for key, xs in pairs.items()]
    caption = "Human agreement within and between coder groups"
    return [("h2", "Coder groups"), Table("coder-groups", cols, rows, caption)] if rows else []


def _corpus(metrics: Mapping) -> list[Block]:
    missing = _records(metrics.get("not_evaluated"))
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
    excluded = _records(metrics.get("excluded_codes"))
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
    from lived_themes.evaluation import figures as fig

    def figure(name: str, alt: str, draw: Any, *args: Any) -> list[Block]:
        return [Figure(draw(*args, figure_dir / name, title=alt), alt)] if figure_dir is not None else []

    blocks: list[Block] = [("h1", f"Run report: {metrics.get('experiment', MISSING)}")]
    blocks += [("p", str(metrics["description"]))] if metrics.get("description") else []
    blocks += [("h2", "Corpus"), *_corpus(metrics), ("h2", "Headline"), headline(metrics)]
    floor = any(is_floor(r.get("coder", "")) for r in _records(metrics.get("results")))
    blocks.append(("p", FLOOR_NOTE if floor else NO_FLOOR))
    blocks += _coder_groups(metrics)
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
        for column, gtable, values, groups in _by_group(scheme, results):
            blocks.append(gtable)
            blocks += figure(f"group_heatmap__{s}__{_slug(column)}.png", f"Macro-F1 by {column} and coder, {scheme}"
                             " (* = group too small to support a claim)", fig.group_heatmap, values, groups, coders)
        gaps = _gaps(scheme, results)
        blocks += [gaps] if gaps.rows else []
        ablocks, matrix, all_coders = _agreement(metrics, scheme, results)
        blocks += [("h3", "Agreement with human coders"), *ablocks, *_group_agreement(metrics, scheme, results)]
        if len(all_coders) > MAX_MATRIX_CODERS:
            blocks.append(("p", f"{len(all_coders)} coders: the coder × coder agreement matrix is drawn only up to "
                                f"{MAX_MATRIX_CODERS}; see the stand-in analysis for each coder."))
        elif len(all_coders) >= 2:
            blocks += figure(f"agreement__{s}.png", f"Mean Cohen's kappa across codes between coders, {scheme}",
                             fig.agreement_matrix, matrix, all_coders)
        from lived_themes.evaluation.report_standin import standin_blocks

        blocks += standin_blocks(scheme, results, figure_dir=figure_dir, slug=s)
    return blocks + _provenance(metrics, config, run_info)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    rows = [[f"**{_md_cell(c)}**" if (i, j) in t.bold and c != MISSING else _md_cell(c) for j, c in enumerate(r)]
            for i, r in enumerate(t.rows)]
    lines = ["| " + " | ".join(map(_md_cell, t.columns)) + " |", "|" + "---|" * len(t.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def render_markdown(blocks: list[Block], *, base: Path) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Table):
            out.append((f"*{b.caption}*\n\n" if b.caption else "") + (_md_table(b) if b.rows else "_No rows._\n"))
        elif isinstance(b, Figure):
            out.append(f"![{b.alt}]({b.path.relative_to(base).as_posix()})\n")
        elif b[0] in ("h1", "h2", "h3"):
            out.append("#" * int(b[0][1]) + " " + b[1] + "\n")
        elif b[0] == "ul":
            out.append("\n".join(f"- {x}" for x in b[1]) + "\n")
        elif b[0] == "pre":
            out.append("```yaml\n" + b[1].rstrip() + "\n```\n")
        else:
            out.append(b[1] + "\n")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#f0f0f0}
caption{text-align:left;font-style:italic;padding:.3em 0}td.best{font-weight:bold;background:#e8f4e8}
img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}h2{border-bottom:1px solid #ddd}"""


def render_html(blocks: list[Block]) -> str:
    """Self-contained HTML: inline CSS, figures as base64 PNG data URIs, every string escaped."""
    e, seen, body = _html.escape, {}, []
    for b in blocks:
        if isinstance(b, Table):
            seen[b.kind] = seen.get(b.kind, 0) + 1
            tid = b.kind if seen[b.kind] == 1 else f"{b.kind}-{seen[b.kind]}"
            head = "".join(f"<th>{e(c)}</th>" for c in b.columns)
            best = ' class="best"'
            rows = "".join("<tr>" + "".join(f"<td{best if (i, j) in b.bold else ''}>{e(c)}</td>"
                                            for j, c in enumerate(r)) + "</tr>" for i, r in enumerate(b.rows))
            body.append(f'<table id="{tid}" class="report-table {b.kind}"><caption>{e(b.caption)}</caption>'
                        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{e(b.alt)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{e(b.alt)}</figcaption></figure>")
        elif b[0] in ("h1", "h2", "h3"):
            body.append(f"<{b[0]}>{e(b[1])}</{b[0]}>")
        elif b[0] == "ul":
            items = "<ul>" + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>"
            long = len(b[1]) > 5  # fold long warning lists; the group tables repeat the small-group ones
            body.append(f"<details><summary>{len(b[1])} items</summary>{items}</details>" if long else items)
        else:
            body.append(f"<pre>{e(b[1])}</pre>" if b[0] == "pre" else f"<p>{e(b[1])}</p>")
    title = next((b[1] for b in blocks if isinstance(b, tuple) and b[0] == "h1"), "Run report")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


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

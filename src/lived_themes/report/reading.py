"""The report's "How to read this report" section, written from the run's own figures.

A reader who opens ``report.html`` should learn in a few sentences what the run says: the best
coder and how sure we are of it, how far it clears the floor, which groups were hidden or too
small, whether a human ceiling exists, and what the alt-test says (with the warning that a
majority baseline that "passes" has learned nothing). Every number here is read from
``metrics.json``, never typed in, so the reading cannot drift from the tables below it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from lived_themes.report.blocks import MISSING, Block, fmt, nan_mean, num, records

HEADING = "How to read this report"
MAJORITY_CAVEAT = (
    "The majority baseline predicts the most common answer for every code (here: no code at all), so it has learned "
    "nothing about the quotes. It is the floor: a coder is only worth something where it clears it."
)
ALT_CAVEAT = (
    "A majority baseline that 'passes' the alt-test has still learned nothing: a pass then says the humans disagree "
    "with each other about as often as the baseline disagrees with them, so the test cannot separate coders here."
)


def _floor(coder: str) -> bool:
    return "majority" in coder.lower() or coder.endswith("base-rates")


def _scheme_line(scheme: str, results: list[dict]) -> str:
    """Best coder, its interval and width, and how far it is from the floor, for one split scheme."""
    scored = [(num((r.get("summary") or {}).get("macro_f1")), r) for r in results]
    trained = [(m, r) for m, r in scored if not _floor(str(r.get("coder", ""))) and math.isfinite(m)]
    floor = next(((m, r) for m, r in scored if _floor(str(r.get("coder", "")))), None)
    if not trained:
        return f"Under {scheme}, no coder other than the floor has a macro-F1."
    best, r = max(trained, key=lambda x: x[0])
    ci = (r.get("summary_ci") or {}).get("macro_f1")
    low, high = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    width = num(high) - num(low)
    text = f"Under {scheme}, the best coder is {r.get('coder')}: macro-F1 {fmt(best)}"
    if math.isfinite(width):
        text += (f" (95% interval {fmt(low)} to {fmt(high)}, {fmt(width)} wide: coders closer than about that cannot "
                 "be told apart on this corpus)")
    if floor is None:
        return text + ". There is no majority baseline in this run, so no floor to compare against."
    f, fr = floor
    clears = math.isfinite(num(low)) and num(low) > f
    verdict = "its whole interval lies above the floor" if clears else "its interval reaches down to the floor, so it has not shown it learned the codes"
    return text + f". The floor ({fr.get('coder')}) scores {fmt(f)}; {verdict}."


def _groups_line(metrics: Mapping) -> str:
    privacy = metrics.get("privacy") or {}
    hidden = {str(k): int(num(v)) for k, v in (privacy.get("suppressed_groups") or {}).items() if math.isfinite(num(v))}
    small = {(str(x.get("group_column")), str(x.get("group"))) for r in records(metrics.get("results"))
             for x in records(r.get("by_group")) if x.get("warning")}
    parts = []
    if sum(hidden.values()):
        where = ", ".join(f"{k}: {v}" for k, v in hidden.items() if v)
        parts.append(f"{sum(hidden.values())} group(s) had fewer than {privacy.get('min_report_group_size', MISSING)} people "
                     f"or quotes and are reported together as 'suppressed' ({where}), so no one can be singled out")
    else:
        parts.append("no group was hidden by the privacy floor")
    if small:
        parts.append(f"{len(small)} group(s) are too small to support a claim (marked * in the figures and flagged in "
                     "the tables): read their scores as anecdotes")
    return "Groups: " + "; ".join(parts) + "."


def _ceiling_line(metrics: Mapping) -> str:
    humans = [str(h) for h in metrics.get("human_coders") or []]
    if len(humans) < 2:
        who = f" ({humans[0]})" if humans else ""
        return (f"Human ceiling: none can be computed, because the run has one human coder{who}. F1 here is agreement "
                "with that one person, not with 'the truth'.")
    kappa = nan_mean(x.get("kappa") for x in records((metrics.get("human_agreement") or {}).get("pairwise")))
    return (f"Human ceiling: the {len(humans)} human coders agree with each other at a mean Cohen's kappa of {fmt(kappa)} "
            "over codes; a model near that agrees with the humans about as well as they agree among themselves.")


def _alt_lines(metrics: Mapping) -> list[str]:
    lines, floor_passed = [], False
    for r in records(metrics.get("results")):
        alt = r.get("alt_test") or {}
        if not alt.get("summary"):
            continue
        coder = str(r.get("coder", ""))
        floor = _floor(coder)
        floor_passed |= floor and any(s.get("passed") for s in records(alt.get("summary")))
        lines.append(f"{coder}{' (the majority baseline)' if floor else ''}, {r.get('scheme')}: {alt.get('verdict')} coder group(s)")
    if not lines:
        return [("Alt-test: not run here (it needs several human coders on the same quotes), so nothing says whether a "
                 "model could replace a human coder.")]
    text = "Alt-test (can the model replace a human coder?): " + "; ".join(lines) + ". " + ALT_CAVEAT
    return [text + (" Here the majority baseline passes in at least one group: treat every pass with that in mind."
                    if floor_passed else "")]


def how_to_read(metrics: Mapping) -> list[Block]:
    """A heading, one sentence on what macro-F1 is, and one point per finding, all from the run's metrics."""
    by_scheme: dict[str, list[dict]] = {}
    for r in records(metrics.get("results")):
        by_scheme.setdefault(str(r.get("scheme", "")), []).append(r)
    intro = (f"Scores are agreement with the reference coder ({metrics.get('reference', MISSING)}). Macro-F1 averages F1 "
             "over codes, so a rare code counts as much as a common one: 0 is a coder that never finds a code, 1 is "
             "perfect agreement. Each figure below comes with a 95% interval; a wide interval means few quotes.")
    points = [_scheme_line(s, rs) for s, rs in by_scheme.items()]
    if any(_floor(str(r.get("coder", ""))) for rs in by_scheme.values() for r in rs):
        points.append(MAJORITY_CAVEAT)
    points += [_groups_line(metrics), _ceiling_line(metrics), *_alt_lines(metrics)]
    return [("h2", HEADING), ("p", intro), ("points", points)]

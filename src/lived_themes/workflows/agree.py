"""``lived-themes agree``: how far the human coders agree, per code and per source or group, training nothing.

Reads a corpus folder (or a quotes file with its annotations) or a REFI-QDA project (through the
importer), compares every independent human coder (never a model, a consensus or an adjudicated
reference) over every code any of them used, and writes a short Markdown report and the same
figures as JSON, atomically, beside each other. Groups smaller than the privacy floor are pooled and
never named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lived_themes.corpus import Corpus
from lived_themes.errors import InputError
from lived_themes.corpus import load_corpus
from lived_themes.evaluation.coding_comparison import coding_comparison, pairwise_table
from lived_themes.evaluation.disclosure import suppress_small_groups, suppression_notes
from lived_themes.corpus.model import agreement_codes
from lived_themes.corpus.free_text import TEXT_COLUMN, check_corpus_groups, looks_like_free_text
from lived_themes.jsonutil import jsonable
from lived_themes.files import write_text_atomic
from lived_themes.interop import import_project

QDA_SUFFIXES = (".qdpx", ".qde")
FIGURES = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")
HOW_TO_READ = ("How to read it: percent agreement is the share of units the coders coded alike; Cohen's κ (mean over "
               "coder pairs) and Krippendorff's α subtract the agreement expected by chance and collapse on rare codes; "
               "Gwet's AC1 estimates chance differently and does not (its interval is Gwet's, units independent). "
               "A unit counts when two or more of the coders saw it.")
HEADERS = ["Code", "n units", "% agreement", "Cohen's κ", "Krippendorff's α", "Gwet's AC1 [95% CI]"]


def load_for_agreement(source: str | Path, *, annotations: str | Path | None = None, codebook: str | Path | None = None,
                       unit: str = "paragraph", column_mapping: dict[str, str] | None = None,
                       annotation_mapping: dict[str, str] | None = None) -> tuple[Corpus, list[str]]:
    """The corpus, and the group columns a QDA project brings (``source`` first)."""
    path = Path(source)
    if path.suffix.lower() in QDA_SUFFIXES:

        result = import_project(path, unit=unit)
        return result.corpus, ["source", *result.report.get("group_columns", [])]

    corpus = load_corpus(path, annotations, codebook=codebook, column_mapping=column_mapping, annotation_mapping=annotation_mapping)
    return corpus, []


def checked_groups(corpus: Corpus, chosen: list[str], defaults: list[str], *,
                   allowed: list[str] | tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(group columns to report, notes): quote text must never become a group name in the report or the terminal.

    A column the user chose (``--group``) that is the text column or looks like free text is refused with one
    located line, as ``evaluate --group`` and ``describe --by`` do; a default group of a QDA project (a variable
    holding open answers, say) is left out with a note instead, so the defaults never stop the command.
    """
    if chosen:
        check_corpus_groups(corpus, chosen, role="a group (--group)", allowed=allowed)
        return list(chosen), []
    kept, notes = [], []
    for column in defaults:
        values = corpus.quotes[column].tolist() if column in corpus.quotes.columns else []
        if column == TEXT_COLUMN or (column not in allowed and looks_like_free_text(values)):
            notes.append(f"group column '{column}' left out: its values look like free text and would print quote text "
                         "(--group it with --allow-free-text-column if it is meant that way)")
        else:
            kept.append(column)
    return kept, notes


def agreement_document(corpus: Corpus, *, coders: list[str] | None = None, groups: list[str] | None = None,
                       min_report_group_size: int = 5, ci: float = 0.95, source: str = "") -> dict[str, Any]:
    """The figures as a JSON-ready document: coders, codes, per-code rows (overall and per group), coder pairs."""

    independent = corpus.human_coders
    chosen = list(coders) if coders else independent
    unknown = [c for c in chosen if c not in corpus.coders]
    if unknown:
        raise InputError(f"coder(s) {unknown} do not occur; coders: {corpus.coders}", field="coder")
    derived = [c for c in chosen if c in corpus.derived_coders]
    if derived:
        raise InputError(f"{derived} are not independent human coders (a model, a consensus or an adjudicated reference)", field="coder")
    if len(chosen) < 2:
        raise InputError(f"agreement needs two or more human coders; found {chosen or 'none'}", field="coder")
    codes = agreement_codes(corpus, chosen, [])
    if not codes:
        raise InputError(f"the coders {chosen} used no code", field="code")
    missing = [g for g in groups or [] if g not in corpus.quotes.columns]
    if missing:
        raise InputError(f"group column(s) {missing} are not quotes columns; columns: {list(corpus.quotes.columns)}", field="group")
    frame, hidden = (None, {})
    if groups:
        frame, hidden = suppress_small_groups(corpus.quotes[list(groups)].reset_index(drop=True), min_report_group_size)
    labels = corpus.label_matrices(chosen, codes)
    table = coding_comparison(labels, codes, chosen, groups=frame, ci=ci)
    pairs = pairwise_table(labels, codes, chosen)
    book = corpus.codebook
    return jsonable({
        "source": source, "coders": chosen, "codes": codes,
        "code_labels": {c: (book.code(c).label if book is not None and c in book.code_ids else c) for c in codes},
        "not_compared": [c for c in corpus.coders if c not in chosen],
        "n_quotes": len(corpus), "groups": list(groups or []), "ci": ci,
        "privacy": {"min_report_group_size": min_report_group_size, "suppressed_groups": hidden,
                    "notes": suppression_notes(hidden, min_report_group_size)},
        "per_code": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
        "pairwise": pairs.astype(object).where(pairs.notna(), None).to_dict(orient="records"),
    })


def _fmt(x: Any) -> str:
    import math

    return "–" if x is None or math.isnan(float(x)) else f"{float(x):.2f}"


def table_rows(document: dict[str, Any], group_column: str = "overall") -> list[list[str]]:
    """Rows of the printed and Markdown tables for one group column (``overall``: per code; else per group level)."""
    rows = []
    for r in document["per_code"]:
        if r["group_column"] != group_column or (group_column != "overall" and r["code"] != "(mean over codes)"):
            continue
        label = r["code"] if group_column == "overall" else str(r["group"])
        ci = f" [{_fmt(r['ac1_ci_low'])}, {_fmt(r['ac1_ci_high'])}]" if r.get("ac1_ci_low") is not None else ""
        rows.append([label, str(r["n_units"]), _fmt(r["percent_agreement"]), _fmt(r["cohen_kappa"]),
                     _fmt(r["krippendorff_alpha"]), _fmt(r["gwet_ac1"]) + ci])
    return rows


def markdown(document: dict[str, Any]) -> str:
    """A short report: who was compared, the per-code table, one table per group column, how to read it."""
    def table(head: list[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]

    intro = (f"Coders compared: {', '.join(document['coders'])}; {len(document['codes'])} code(s) (every code any of them used); "
             f"{document['n_quotes']} quote(s). No model was trained.")
    lines = ["# Human–human agreement", "", intro, ""]
    if document["not_compared"]:
        lines += [f"Not compared (not independent human coders, or not chosen): {', '.join(map(str, document['not_compared']))}.", ""]
    lines += ["## Per code", ""] + table(HEADERS, table_rows(document)) + [""]
    for column in document["groups"]:
        lines += [f"## By {column} (mean over codes)", ""] + table([column, *HEADERS[1:]], table_rows(document, column)) + [""]
    lines += [f"- {note}" for note in document["privacy"]["notes"]]
    lines += ["", HOW_TO_READ, ""]
    return "\n".join(lines)


def report_paths(output: str | Path) -> tuple[Path, Path]:
    """The Markdown report and its JSON twin (same name, ``.json``)."""
    output = Path(output)
    if output.suffix.lower() == ".json":
        raise InputError("give the Markdown report's path (e.g. agreement.md); the JSON is written beside it", file=output)
    return output, output.with_suffix(".json")


def write_agreement(document: dict[str, Any], output: str | Path) -> tuple[Path, Path]:
    """``output`` (Markdown) and the same name with ``.json``, each written atomically."""
    import json


    output = Path(output)
    json_path = report_paths(output)[1]
    write_text_atomic(json_path, json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    write_text_atomic(output, markdown(document))
    return output, json_path

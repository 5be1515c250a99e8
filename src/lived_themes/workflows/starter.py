"""``lived-themes init``: a starter experiment YAML and codebook from a user's CSV, each choice explained in a comment.

The guesses are read from the header and the cells: the id column (unique values, a name like ``id``),
the text column (the longest cells), code columns (only 0/1 cells) or else a label column (few distinct
values), group columns (other columns with a few repeated values) and a person column (a name such as
``participant`` or ``respondent_id`` with repeated values: the cluster of the intervals and the group of
the split, never a label column or a group). Every guess is written as a
comment next to its key, so the researcher can check it before running; nothing here is hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from lived_themes.corpus.tables import MIXED, read_table
from lived_themes.errors import InputError
from lived_themes.evaluation.leakage import is_person_id_column
from lived_themes.coders.cost import Estimate, estimate_seconds
from lived_themes.corpus.columns import SITE_NAME, dependency, is_context, noise, readable_names

#: label values taken to mean "seen, no code" (mapped to null); the comment says so, so it can be undone
NO_CODE_VALUE = re.compile(r"^(0|none|no|nothing|n/?a|neutral|no[ _-].*|not[ _-].*)$", re.IGNORECASE)
LABEL_NAME = re.compile(r"label|code|theme|categor|class|cause|type|stigma|sentiment|topic|tag", re.IGNORECASE)
ID_NAME = re.compile(r"(^|[^a-z])id$|^id|identifier|^key$"  # row_index, row_no, record_number, index, Unnamed: 0 (a saved index)
                     r"|^(row|record|response|comment|line|entry)[ _-]?(index|idx|no|nr|num|number)$|^index$|^unnamed: ?0$", re.IGNORECASE)
BINARY = {"0", "1", "0.0", "1.0", "true", "false"}
SEPARATORS = (";", "|")
MAX_LABELS = 50
MAX_GROUP_VALUES = 30
#: a person-id column with fewer distinct values is taken for roles, not people
MIN_PEOPLE = 3


@dataclass
class Layout:
    """What was found in the file, with one line of reasoning per choice."""

    encoding: str = "utf-8"
    id_column: str | None = None
    text_column: str | None = None
    code_columns: list[str] = field(default_factory=list)
    label_column: str | None = None
    label_separator: str | None = None
    label_values: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    person_column: str | None = None
    n_people: int = 0
    n_rows: int = 0
    empty_text: int = 0
    n_folds: int = 5
    n_split_groups: int = 0
    context_counts: dict[str, int] = field(default_factory=dict)
    #: a column groups may be split by (leave one out): a site-like column that passed the checks below
    split_group: str | None = None
    #: column -> why it is never offered as a split or group (a function of the labels, or junk values)
    refused: dict[str, str] = field(default_factory=dict)
    #: readable code names: label value -> name, from a column that maps one-to-one to the labels
    label_names: dict[str, str] = field(default_factory=dict)
    label_names_column: str | None = None
    #: columns with a few sentence-long values (the survey question): offered as context for coders
    context_columns: list[str] = field(default_factory=list)
    #: every row has at most one code
    single_label: bool = False
    why: dict[str, str] = field(default_factory=dict)


def _cells(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].dropna().astype(str).str.strip().loc[lambda s: s.ne("")]


def _sorted_values(values: list[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values, key=str.lower)


def read_header(path: Path) -> tuple[pd.DataFrame, str]:
    """The table, read as UTF-8, or per line as UTF-8 with a cp1252 fallback when it is not UTF-8."""
    try:
        frame, _ = read_table(path)
        return frame, "utf-8"
    except InputError as exc:
        if "not UTF-8" not in exc.reason:
            raise
    frame, _ = read_table(path, encoding=MIXED)
    return frame, MIXED


def detect_layout(frame: pd.DataFrame, *, text_column: str | None = None, label_column: str | None = None,
                  groups: list[str] | None = None, encoding: str = "utf-8") -> Layout:
    """Guess the columns' roles; explicit choices win over guesses."""
    layout = Layout(encoding=encoding, n_rows=len(frame))
    columns = [str(c) for c in frame.columns]
    for given in [text_column, label_column, *(groups or [])]:
        if given is not None and given not in columns:
            raise InputError(f"column {given!r} not found; columns present: {columns}", row=0, field=given)
    cells = {c: _cells(frame, c) for c in columns}
    unique = {c: cells[c].nunique() for c in columns}
    mean_len = {c: float(cells[c].str.len().mean()) if len(cells[c]) else 0.0 for c in columns}
    if encoding != "utf-8":
        layout.why["encoding"] = "some lines are not UTF-8: they are read as Windows cp1252 and counted in the load report"

    taken: set[str] = set()
    ids = [c for c in columns if c not in (text_column, label_column) and len(cells[c]) == len(frame) and unique[c] == len(frame)
           and ID_NAME.search(c) and mean_len[c] < 40]
    if ids:
        layout.id_column = ids[0]
        layout.why["id"] = f"{ids[0]!r}: every row has a value and no value repeats"
        taken.add(ids[0])
    else:
        layout.why["id"] = "no id column found: ids are generated from row numbers (row-1, row-2, ... in file order)"


    # a person-id column (quotes from one participant repeat its value) is the cluster, never a code or a group;
    # two values are more likely roles (interviewer / participant) than people: not a cluster, still never a label
    named = [c for c in columns if c not in (text_column, label_column) and is_person_id_column(c)]
    people = [c for c in named if c not in taken and MIN_PEOPLE <= unique[c] < len(cells[c])]
    if people:
        layout.person_column, layout.n_people = people[0], int(unique[people[0]])
        layout.why["person"] = (f"{people[0]!r}: a person id ({unique[people[0]]} people with several quotes each): intervals "
                                "resample whole people and the split keeps each person's quotes on one side")
        taken.add(people[0])

    if text_column is None:
        candidates = [c for c in columns if c not in taken and c != label_column]
        varied = [c for c in candidates if unique[c] > 0.5 * len(cells[c])]  # not a question repeated on every row
        text_column = max(varied or candidates, key=lambda c: mean_len[c]) if candidates else None
        if text_column is None:
            raise InputError("no column left to hold the text", row=0)
        layout.why["text"] = f"{text_column!r}: the longest cells (mean {mean_len[text_column]:.0f} characters)"
    else:
        layout.why["text"] = f"{text_column!r}: chosen with --text-column"
    layout.text_column = text_column
    taken.add(text_column)
    layout.empty_text = len(frame) - len(cells[text_column])

    binary = [c for c in columns if c not in taken and c != label_column and len(cells[c]) and set(cells[c].str.lower()) <= BINARY]
    if label_column is None and binary:
        layout.code_columns = binary
        layout.why["codes"] = f"{len(binary)} column(s) hold only 0/1: one code each (the wide layout)"
        taken.update(binary)
    else:
        if label_column is None:
            short = [c for c in columns if c not in taken and c not in named and 1 < unique[c] <= MAX_LABELS and unique[c] < len(frame)]
            named = [c for c in short if LABEL_NAME.search(c)]
            pool = named or short
            label_column = max(pool, key=lambda c: unique[c]) if pool else None
            if label_column is None:
                raise InputError("found neither 0/1 code columns nor a column with a few repeated values to read as labels; "
                                 "name it with --label-column", row=0)
            layout.why["codes"] = f"{label_column!r}: a label column ({unique[label_column]} distinct values)"
        else:
            layout.why["codes"] = f"{label_column!r}: chosen with --label-column"
        layout.label_column = label_column
        taken.add(label_column)
        values = cells[label_column]
        for sep in SEPARATORS:
            if values.str.contains(sep, regex=False).mean() > 0.05:
                layout.label_separator = sep
                values = values.str.split(sep, regex=False).explode().str.strip().loc[lambda s: s.ne("")]
                layout.why["codes"] += f"; cells hold several labels separated by {sep!r}"
                break
        layout.label_values = _sorted_values(list(values.unique()))

    keys = _label_keys(frame, layout)
    layout.single_label = _single_label(frame, layout)
    if layout.label_column:
        for c in columns:
            if c in taken or is_person_id_column(c):
                continue
            names = readable_names(keys, frame[c].astype(object).where(frame[c].notna(), None))
            if names:
                layout.label_names, layout.label_names_column = names, c
                layout.why["names"] = f"{c!r}: maps one-to-one to the labels and reads better: used as the codes' labels"
                taken.add(c)
                break
    given = groups is not None
    pool = groups if given else [c for c in columns if c not in taken and 1 < unique[c] <= MAX_GROUP_VALUES and unique[c] < len(frame) / 2]
    safe = []
    for c in pool:
        why_not = dependency(keys, frame[c].astype(object).where(frame[c].notna(), None)) or noise(c, cells[c], len(frame))
        if why_not:
            layout.refused[c] = why_not
        else:
            safe.append(c)
        if not given and is_context(cells[c], MAX_GROUP_VALUES):
            layout.context_columns.append(c)
            layout.context_counts[c] = int(unique[c])
    groups = pool if given else safe
    if given:
        layout.why["groups"] = f"{groups}: chosen with --group"
    else:
        layout.why["groups"] = (f"{groups}: a few repeated values each" if groups else
                                "no column with a few repeated values that is safe to group by: results are not broken down by group")
    sites = [c for c in safe if SITE_NAME.search(c)] or ([safe[0]] if given and safe else [])
    layout.split_group = sites[0] if sites else None
    layout.n_split_groups = int(unique[layout.split_group]) if layout.split_group else 0
    layout.groups = groups
    return layout


def _label_keys(frame: pd.DataFrame, layout: Layout) -> pd.Series:
    """Each row's coding as one text key ('<none>' for no code), for the dependency tests."""
    if layout.code_columns:
        return frame[layout.code_columns].astype(str).agg("|".join, axis=1)
    return frame[layout.label_column].astype(object).where(frame[layout.label_column].notna(), "<none>").astype(str).str.strip()


def _single_label(frame: pd.DataFrame, layout: Layout) -> bool:
    if layout.code_columns:
        ones = frame[layout.code_columns].astype(str).apply(lambda col: col.str.strip().str.lower().isin({"1", "1.0", "true"}))
        return bool((ones.sum(axis=1) <= 1).all())
    if layout.label_separator:
        cells = _cells(frame, layout.label_column)
        return not bool(cells.str.split(layout.label_separator, regex=False).map(lambda v: len([x for x in v if x.strip()]) > 1).any())
    return True


def code_id(value: str, *, prefix: str) -> str:
    """A code id from a label value: 'Stigma: fear' -> 'stigma_fear'; a number gets the column name in front."""
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    if not slug or slug[0].isdigit():
        base = re.sub(r"[^a-z0-9]+", "_", prefix.lower()).strip("_") or "code"
        return f"{base}_{slug or 'value'}"
    return slug


def label_map(layout: Layout) -> dict[str, str | None]:
    prefix = layout.label_column or "code"
    return {v: (None if NO_CODE_VALUE.match(v) else code_id(v, prefix=prefix)) for v in layout.label_values}


def _yaml_value(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def starter_files(data_path: str, layout: Layout, *, name: str, codebook_path: str, coder: str = "annotator") -> tuple[str, str]:
    """(experiment YAML, codebook YAML) as text, every choice commented."""
    lines = [
        f"# Starter experiment written by `lived-themes init` from {Path(data_path).name} ({layout.n_rows} rows).",
        "# Each guess is explained beside its key: check them, then `lived-themes run` this file.",
        "# Every key: docs/configuration.md. Keys not given take their defaults (configs/defaults.yaml).",
        "kind: coding",
        f"name: {_yaml_value(name)}",
        "data:",
        f"  path: {_yaml_value(data_path)}        # read from the working directory, then from this file's folder",
        "  format: wide              # one row per quote, its codes in the same row",
    ]
    if layout.encoding != "utf-8":
        lines.append(f"  encoding: {layout.encoding}   # {layout.why['encoding']}")
    mapping = {layout.text_column: "text"}
    if layout.id_column:
        mapping[layout.id_column] = "quote_id"
    lines.append(f"  column_mapping: {_yaml_value(mapping)}   # your column -> the package's")
    lines.append(f"  # text: {layout.why['text']}")
    lines.append(f"  # id: {layout.why['id']}")
    book_codes: list[tuple[str, str]]
    if layout.empty_text:
        lines.append(f"  on_invalid: set_aside     # {layout.empty_text} row(s) have no text: set aside, with their row, and listed in the run")
    if layout.code_columns:
        lines.append(f"  code_columns: {_yaml_value(layout.code_columns)}   # {layout.why['codes']}")
        book_codes = [(c, c) for c in layout.code_columns]
        single = False
    else:
        lines.append(f"  label_column: {_yaml_value(layout.label_column)}   # {layout.why['codes']}")
        if layout.label_separator:
            lines.append(f"  label_separator: {_yaml_value(layout.label_separator)}")
        mapped = label_map(layout)
        lines.append("  label_map:                # each label value -> a code id of the codebook; null = 'seen, no code'")
        for value, code in mapped.items():
            note = "   # guessed to mean 'no code': give it a code id if it is a code" if code is None else ""
            lines.append(f"    {_yaml_value(value)}: {_yaml_value(code)}{note}")
        column = layout.label_column or "label"
        book_codes = list(dict.fromkeys((code, layout.label_names.get(value) or (f"{column} {value}" if value[:1].isdigit() else value))
                                        for value, code in mapped.items() if code is not None))
        single = not layout.label_separator
    lines += [
        f"  codebook: {_yaml_value(codebook_path)}   # code ids, labels and definitions: fill in the definitions",
        f"  coder: {coder}           # the name your file's coding goes by",
    ]
    if single or layout.single_label:
        lines.append("  label_mode: auto          # one label per row (single-label data): each coder gives each quote its top code or none")
    if layout.label_names_column:
        lines.append(f"  # code labels: {layout.why['names']}")
    for column in layout.context_columns:
        lines.append(f"  # context: {column!r} has {layout.context_counts.get(column, 0)} sentence-long values (a survey question?): "
                     f"a coder can read it with each text: give tfidf-logreg.v2 below params: {{context_columns: [{column}]}}")
    lines += [
        "reference:",
        f"  coder: {coder}           # the coding the models learn from and are scored against",
        "splits:",
    ]
    if layout.person_column:
        n_splits = max(2, min(5, layout.n_people))
        layout.n_folds = n_splits
        lines += [
            f"  - kind: group_kfold       # {n_splits}-fold cross-validation; each {layout.person_column}'s quotes stay on one side",
            f"    group: {_yaml_value(layout.person_column)}",
            f"    n_splits: {n_splits}",
        ]
    else:
        lines += [
            "  - kind: kfold             # 5-fold cross-validation over quotes",
            "    n_splits: 5",
        ]
    if layout.split_group:
        lines += [
            f"  - kind: leave_one_group_out   # the honest test for a new {layout.split_group}: train on the others, test on it",
            f"    group: {_yaml_value(layout.split_group)}",
        ]
    elif layout.groups:
        lines.append(f"  # no leave-one-group-out split: no site-like column ({', '.join(layout.groups)} may be added by hand "
                     "if it is a setting to generalise to)")
    for column, why_not in layout.refused.items():
        lines.append(f"  # never split or grouped by {column!r}: {why_not}")
    lines += [
        "coders:                     # fast coders: the majority floor, and TF-IDF + logistic regression",
        "  - name: majority.v1",
        "  - name: tfidf-logreg.v2",
        "  # - name: setfit.v1       # a fine-tuned sentence encoder: better, minutes to hours on a CPU",
        "evaluation:",
        f"  groups: {_yaml_value(layout.groups)}   # {layout.why['groups']}",
        *([f"  cluster: {_yaml_value(layout.person_column)}   # {layout.why['person']}"] if layout.person_column else []),
        "  n_boot: 200               # bootstrap resamples for the intervals (1000 for a paper)",
        "final_model:",
        "  coder: tfidf-logreg.v2    # trained on every coded quote and saved under model/, for `lived-themes predict`",
    ]
    estimate = starter_estimate(layout, n_codes=len(book_codes))
    lines.insert(2, f"# Estimated run time: {estimate.text()}; `lived-themes run --dry-run` prints the plan.")
    book = {
        "name": name,
        "version": "1",
        "description": f"Starter codebook written by `lived-themes init` from {Path(data_path).name}; write each code's definition.",
        "codes": [{"id": cid, "label": label, "definition": ""} for cid, label in book_codes],
    }
    header = "# Codebook: one entry per code. Keys: docs/codebook.md. Definitions appear in the report and feed zero-shot coders.\n"
    return "\n".join(lines) + "\n", header + yaml.safe_dump(book, sort_keys=False, allow_unicode=True)


#: the coders a starter lists, for its time estimate
STARTER_CODERS = ("majority.v1", "tfidf-logreg.v2")


def starter_estimate(layout: Layout, *, n_codes: int) -> Estimate:
    """The starter's run time by the documented cost model (lived_themes.coders.cost), from its splits and coders."""
    n = layout.n_rows - layout.empty_text
    sizes = [int(n * (layout.n_folds - 1) / layout.n_folds)] * layout.n_folds
    if layout.split_group and layout.n_split_groups > 1:
        sizes += [int(n * (layout.n_split_groups - 1) / layout.n_split_groups)] * layout.n_split_groups
    return estimate_seconds(STARTER_CODERS, sizes, n_codes=n_codes, n_rows=n, n_boot=200, final_coder="tfidf-logreg.v2",
                            n_schemes=1 + bool(layout.split_group))

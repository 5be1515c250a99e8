"""Counselling reflections judged by 9 experts and 9 laypeople (Wu et al., ACL 2023, on AnnoMI).

The file has one row per (reflection, annotator). One quote is one reflection in one study
stage (the same text can recur across stages and is then a different item); each has three
experts and three laypeople. Codes are the file's yes/no columns, kept under their own names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lived_themes.corpus import NO_CODE, Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, build_corpus, make_codebook, read_csv_text, resolve_path
from lived_themes.errors import InputError

FOLDER, FILE = "reflection_expert_vs_lay", "annotations.csv"
ITEM_KEY = ["annomi_dialogue_id", "stage", "reflection_source", "reflection"]

CODES: list[tuple[str, str, str]] = [
    ("coherent_and_context_consistent", "Coherent and consistent with context", "The reflection reads well and fits the dialogue."),
    ("dialogue_contradicting", "Contradicts the dialogue", "States something the client's words contradict."),
    ("malformed", "Malformed", "Ungrammatical, truncated or otherwise not a well-formed utterance."),
    ("off_topic", "Off topic", "Unrelated to what the client said."),
    ("on_topic_but_unverifiable", "On topic but unverifiable", "Plausible, but adds content the dialogue cannot confirm."),
    ("parroting", "Parroting", "Repeats the client's words without reflecting them."),
]
YES = {"yes", "y", "true", "1"}


def _group_of(annotator: str) -> str:
    """'Expert 3' -> 'Expert', 'Layperson 7' -> 'Layperson'."""
    return annotator.rsplit(" ", 1)[0] if " " in annotator else annotator


def load_reflections(path: str | Path | None = None) -> Corpus:
    """Load the expert-vs-lay reflection judgements.

    Quote columns: ``annomi_dialogue_id`` (cluster), ``stage``, ``reflection_source`` (BART, GPT-2,
    GPT-3, Human), ``context`` (the preceding dialogue, JSON). Coders are the real annotator ids
    (``Expert 1`` ... ``Layperson 9``); their group (Expert / Layperson) is the ``coder_group``
    column of the annotations (see :func:`lived_themes.corpus.datasets.coder_groups`).
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="reflections")
    frame, repaired = read_csv_text(source)
    missing = [c for c in ITEM_KEY + ["annotator"] + [c for c, _, _ in CODES] if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}; columns present: {list(frame.columns)}", file=source, field=missing[0])
    keys = frame[ITEM_KEY].astype(str).agg("\x1f".join, axis=1)
    order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    frame[QUOTE_ID] = [f"refl-{order[k]:04d}" for k in keys]
    duplicated = frame.duplicated([QUOTE_ID, "annotator"])
    if duplicated.any():
        pos = int(duplicated.to_numpy().argmax())
        raise InputError("the same annotator judged this reflection twice", file=source, row=pos + 1, field="annotator")
    quotes = frame.drop_duplicates(QUOTE_ID).rename(columns={"reflection": TEXT, "dialogue_context": "context"})
    quotes = quotes[[QUOTE_ID, TEXT, "annomi_dialogue_id", "stage", "reflection_source", "context"]]
    records: list[dict[str, Any]] = []
    for row in frame.itertuples(index=False):
        values = row._asdict()
        coder = str(values["annotator"]).strip()
        hits = [cid for cid, _, _ in CODES if str(values[cid]).strip().lower() in YES]
        for code in hits or [NO_CODE]:
            records.append({QUOTE_ID: values[QUOTE_ID], CODER: coder, CODE: code, CODER_GROUP: _group_of(coder)})
    book = make_codebook("reflection_quality", CODES, source="Wu et al. 2023, expert vs lay judgements of reflections")
    notes = [f"{repaired} line(s) decoded as cp1252"] if repaired else []
    return build_corpus(quotes, records, codebook=book, name="reflections", source=source, n_read=len(frame), notes=notes)

"""MHStigmaInterview (Meng et al., ACL 2025): interview answers coded with the attribution model of stigma.

One expert-adjudicated label per answer. ``Non-stigmatized`` is the absence of a code (the
coder saw the answer and assigned none), so the seven stigma types are the codes.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.corpus import NO_CODE, Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, build_corpus, make_codebook, read_csv_text, resolve_path
from lived_themes.errors import InputError

FOLDER, FILE = "mhstigma_interview", "train.csv"
CODER_NAME = "expert_adjudicated"
NONE_LABEL = "Non-stigmatized"

#: file label -> (code id, label, definition)
STIGMA_TYPES: dict[str, tuple[str, str, str]] = {
    "Stigmatized (responsibility)": ("responsibility", "Responsibility", "Holds the person responsible for their condition."),
    "Stigmatized (social distance)": ("social_distance", "Social distance", "Wants to keep away from the person (work, home, friendship)."),
    "Stigmatized (anger)": ("anger", "Anger", "Feels irritated or angry at the person."),
    "Stigmatized (helping)": ("helping", "Withholding help", "Is unwilling to help the person."),
    "Stigmatized (pity)": ("pity", "Lack of pity", "Shows no sympathy or concern for the person."),
    "Stigmatized (coercion segregation)": ("coercive_segregation", "Coercive segregation", "Wants the person forced into treatment or kept apart."),
    "Stigmatized (fear/dangerousness)": ("fear_dangerousness", "Fear / dangerousness", "Sees the person as dangerous or frightening."),
}


def load_mhstigma(path: str | Path | None = None, *, label_column: str = "ground_truth") -> Corpus:
    """Load MHStigmaInterview: text = ``displayed_text``; one coder, ``expert_adjudicated``.

    Quote ids are ``mhs-<row>`` (the file has none). Quote columns: ``participant_id`` (684 people;
    use it as the cluster for splits and bootstraps), ``question_type``, ``conversations``.
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="mhstigma")
    frame, repaired = read_csv_text(source)
    if label_column not in frame.columns:
        raise InputError(f"no label column {label_column!r}; columns present: {list(frame.columns)}", file=source, field=label_column)
    unknown = sorted(set(frame[label_column].dropna()) - set(STIGMA_TYPES) - {NONE_LABEL})
    if unknown:
        pos = int(frame[label_column].isin(unknown).to_numpy().argmax())
        raise InputError(f"unknown label(s) {unknown}", file=source, row=pos + 1, field=label_column)
    quotes = frame.rename(columns={"displayed_text": TEXT})
    quotes.insert(0, QUOTE_ID, [f"mhs-{i + 1:05d}" for i in range(len(frame))])
    records = []
    for qid, label in zip(quotes[QUOTE_ID], frame[label_column]):
        if isinstance(label, str):  # a missing label means nobody coded the answer: no row at all
            code = STIGMA_TYPES[label][0] if label in STIGMA_TYPES else NO_CODE
            records.append({QUOTE_ID: qid, CODER: CODER_NAME, CODE: code, CODER_GROUP: "expert"})
    notes = []
    if "label" in frame.columns and label_column != "label":
        n_diff = int((frame["label"].fillna("") != frame[label_column].fillna("")).sum())
        notes.append(f"'label' differs from '{label_column}' on {n_diff} row(s)")
    if repaired:
        notes.append(f"{repaired} line(s) decoded as cp1252")
    book = make_codebook("mhstigma_attribution", list(STIGMA_TYPES.values()), source="Meng et al. 2025, MHStigmaInterview")
    keep = [QUOTE_ID, TEXT, "participant_id", "question_type", "conversations"]
    return build_corpus(quotes[[c for c in keep if c in quotes.columns]], records, codebook=book, name="mhstigma", source=source, n_read=len(frame), notes=notes)

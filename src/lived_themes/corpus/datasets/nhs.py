"""NHS Friends-and-Family-Test feedback (pxtextmining, phase 2 framework): 50 one-hot codes, one labeller.

A thin wrapper over :func:`lived_themes.corpus.load_wide`: the code columns are everything after
``Comment sentiment`` and blank cells mean 0 (the file marks only the 1s). Code ids are the
file's column names, so figures line up with pxtextmining's own.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.corpus import Corpus, load_wide
from lived_themes.corpus.validate import QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, read_csv_text, resolve_path
from lived_themes.errors import InputError

FOLDER, FILE = "nhs_patient_experience", "v6framework_train.csv"
CODER_NAME = "nhs_labeller"
RENAME = {
    "Comment ID": QUOTE_ID,
    "FFT answer": TEXT,
    "Trust": "trust",
    "Respondent ID": "respondent_id",
    "Date": "date",
    "Service type 1": "service_type_1",
    "Service type 2": "service_type_2",
    "FFT categorical answer": "fft_categorical_answer",
    "FFT question": "fft_question",
    "Person identifiable info?": "person_identifiable",
    "Comment sentiment": "sentiment",
}


def load_nhs(path: str | Path | None = None, *, not_assigned_as_code: bool = True) -> Corpus:
    """Load the NHS framework file: quote ids from ``Comment ID``, text from ``FFT answer``.

    Group columns: ``trust``, ``service_type_1``, ``service_type_2``, ``fft_question``;
    ``respondent_id`` is the cluster (one person's answers). Empty answers are set aside with
    their codes. ``Not assigned`` is the labeller's explicit "no framework code"; with
    ``not_assigned_as_code=False`` it becomes the absence of a code instead.
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="nhs")
    frame, repaired = read_csv_text(source)
    if "Comment sentiment" not in frame.columns:
        raise InputError("no 'Comment sentiment' column: the code columns are the ones after it", file=source, field="Comment sentiment")
    columns = list(frame.columns)
    codes = columns[columns.index("Comment sentiment") + 1 :]
    if not not_assigned_as_code and "Not assigned" in codes:
        frame = frame.drop(columns=["Not assigned"])
        codes.remove("Not assigned")
    frame = frame.rename(columns=RENAME)
    corpus = load_wide(frame, coder=CODER_NAME, code_columns=codes, blank="zero", on_invalid="set_aside", name="nhs")
    corpus.annotations[CODER_GROUP] = "labeller"
    report = corpus.reports[0]
    report.source = str(source)
    if repaired:
        report.notes.append(f"{repaired} line(s) decoded as cp1252")
    return corpus

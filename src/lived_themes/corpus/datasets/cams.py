"""CAMS (Garg et al., LREC 2022): causes of mental-health distress in first-person Reddit posts.

One final label per post (one coder). Cause 0, "no reason", is the absence of a code. The
annotators' evidence span (``inference``) is kept on the annotation row as ``evidence``.
The file mixes UTF-8 with a few cp1252 lines; those are decoded as cp1252 and counted.
"""

from __future__ import annotations

from pathlib import Path

from lived_themes.corpus import NO_CODE, Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, build_corpus, make_codebook, read_csv_text, resolve_path
from lived_themes.errors import InputError

FOLDER, FILE = "cams", "cams_posts.csv"
CODER_NAME = "cams_final"

#: file value -> (code id, label, definition); 0 ("no reason") maps to no code.
CAUSES: dict[str, tuple[str, str, str]] = {
    "1": ("bias_or_abuse", "Bias or abuse", "Bullying, discrimination, abuse or violence the poster suffered."),
    "2": ("jobs_and_career", "Jobs and careers", "Work, unemployment, study or career worries."),
    "3": ("medication", "Medication", "Medicines, drugs, treatment or their side effects; physical illness."),
    "4": ("relationship", "Relationship", "Partners, family or friends: conflict, loss, break-up."),
    "5": ("alienation", "Alienation", "Loneliness, meaninglessness, feeling cut off from others."),
}
NO_REASON = "0"


def load_cams(path: str | Path | None = None) -> Corpus:
    """Load CAMS: text = ``selftext``, quote ids ``cams-<row>``; one coder, ``cams_final``.

    Annotation rows carry ``evidence`` (the ``inference`` span; missing on some rows).
    Posts with empty text are set aside with their reason.
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="cams")
    frame, repaired = read_csv_text(source)
    if "cause" not in frame.columns or "selftext" not in frame.columns:
        raise InputError(f"expected columns selftext, cause, inference; found {list(frame.columns)}", file=source)
    cause = frame["cause"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    bad = ~cause.isin(set(CAUSES) | {NO_REASON})
    if bad.any():
        pos = int(bad.to_numpy().argmax())
        raise InputError(f"cause must be 0-5, found {frame['cause'].iloc[pos]!r}", file=source, row=pos + 1, field="cause")
    quotes = frame[["selftext"]].rename(columns={"selftext": TEXT})
    quotes.insert(0, QUOTE_ID, [f"cams-{i + 1:05d}" for i in range(len(frame))])
    evidence = frame["inference"] if "inference" in frame.columns else [None] * len(frame)
    records = [
        {QUOTE_ID: qid, CODER: CODER_NAME, CODE: CAUSES[c][0] if c in CAUSES else NO_CODE, CODER_GROUP: "annotators", "evidence": ev}
        for qid, c, ev in zip(quotes[QUOTE_ID], cause, evidence)
    ]
    notes = [f"{repaired} line(s) not valid UTF-8, decoded as cp1252"] if repaired else []
    book = make_codebook("cams_causes", list(CAUSES.values()), source="Garg et al. 2022, CAMS")
    return build_corpus(quotes, records, codebook=book, name="cams", source=source, n_read=len(frame), notes=notes)

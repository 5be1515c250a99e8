"""SAD, the Stress Annotated Dataset (Mauriello et al., CHI EA 2021): stressor statements with vote shares.

Raters' votes over nine stressor categories are published only as shares (rounded to 0.1), so
they stay soft: quote columns ``share:<code>`` hold them and ``votes`` the number of votes.
Nothing is thresholded here. The file's own ``top_label`` is kept as one coder, ``sad:top_label``,
so hard-label tools have something to read, clearly named as the file's choice, not ours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lived_themes.corpus import Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, build_corpus, make_codebook, read_csv_text, resolve_path, slug
from lived_themes.errors import InputError

FOLDER, FILE = "sad_stress", "SAD_v1.csv"
CODER_NAME = "sad:top_label"
SHARE_PREFIX = "share:"

CATEGORIES: list[tuple[str, str]] = [
    ("Financial Problem", "Money worries: bills, debt, income."),
    ("Other", "A stressor that fits none of the other categories."),
    ("Everyday Decision Making", "Small daily choices and chores."),
    ("Emotional Turmoil", "Feelings such as anxiety, sadness or loneliness as the stressor."),
    ("School", "Studies, exams, coursework."),
    ("Family Issues", "Relatives and family relationships."),
    ("Social Relationships", "Friends, partners, colleagues as people."),
    ("Work", "Job, workload, employment."),
    ("Health, Fatigue, or Physical Pain", "Illness, tiredness, pain, one's own or others' health."),
]


def load_sad(path: str | Path | None = None) -> Corpus:
    """Load SAD: text = ``sentence``, quote ids ``sad-<sID>``.

    Quote columns: ``share:<code>`` (vote share per category, rows sum to 1), ``votes``,
    ``source`` (the file's ``Source``), ``is_stressor``, ``is_covid``, ``avg_severity``,
    ``median_severity``, ``sd_severity``. Read the shares with
    :func:`lived_themes.evaluation.soft_labels.soft_matrix`.
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="sad")
    frame, repaired = read_csv_text(source)
    labels = [label for label, _ in CATEGORIES]
    missing = [c for c in ["sID", "sentence", "Votes", "top_label", *labels] if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=source, field=missing[0])
    codes = [(slug(label), label, definition) for label, definition in CATEGORIES]
    shares = frame[labels].astype(float).to_numpy()
    if np.isnan(shares).any() or (shares < 0).any() or (shares > 1).any():
        pos = int((np.isnan(shares) | (shares < 0) | (shares > 1)).any(axis=1).argmax())
        raise InputError("vote shares must be numbers in [0, 1]", file=source, row=pos + 1)
    quotes = frame.rename(columns={"sentence": TEXT, "Source": "source", "Votes": "votes", "SD_severity": "sd_severity"})
    quotes.insert(0, QUOTE_ID, "sad-" + frame["sID"].astype(str))
    for j, (cid, _, _) in enumerate(codes):
        quotes[SHARE_PREFIX + cid] = shares[:, j]
    quotes["votes"] = quotes["votes"].astype(int)
    for col in ("is_stressor", "is_covid", "median_severity"):
        quotes[col] = quotes[col].astype(int)
    for col in ("avg_severity", "sd_severity"):
        quotes[col] = quotes[col].astype(float)
    to_id = {label: cid for cid, label, _ in codes}
    unknown = sorted(set(frame["top_label"].dropna()) - set(to_id))
    if unknown:
        raise InputError(f"unknown top_label value(s) {unknown}", file=source, field="top_label")
    records = [
        {QUOTE_ID: q, CODER: CODER_NAME, CODE: to_id[t], CODER_GROUP: "aggregate"}
        for q, t in zip(quotes[QUOTE_ID], frame["top_label"]) if isinstance(t, str)
    ]
    keep = [QUOTE_ID, TEXT, "source", "votes", "is_stressor", "is_covid", "avg_severity", "median_severity", "sd_severity"]
    keep += [SHARE_PREFIX + cid for cid, _, _ in codes]
    book = make_codebook("sad_stressors", codes, source="Mauriello et al. 2021, SAD")
    notes = [f"{repaired} line(s) decoded as cp1252"] if repaired else []
    notes.append("vote shares kept soft in share:<code> columns; coder sad:top_label is the file's top_label")
    return build_corpus(quotes[keep], records, codebook=book, name="sad", source=source, n_read=len(frame), notes=notes)

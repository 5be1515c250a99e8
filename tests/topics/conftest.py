"""A tiny in-memory corpus with three clear themes, so topic models have something to find in seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

THEMES = {
    "staff": [
        "The nurses were kind and listened to me",
        "Staff listened carefully and the nurse was kind",
        "Kind nurses who listen make all the difference",
        "The staff were caring, kind and listening",
        "A nurse listened to my worries and was kind",
        "Caring staff and kind nurses listened",
        "My nurse was kind, she listened every day",
        "Staff were so kind and always listened",
    ],
    "waiting": [
        "The waiting time for an appointment was far too long",
        "Long waiting lists and appointments cancelled",
        "I waited months for an appointment, the wait was long",
        "Waiting too long for appointments is stressful",
        "The appointment waiting list is very long",
        "Long wait, appointment delayed again",
        "Months of waiting for an appointment letter",
        "Waiting times for appointments are too long",
    ],
    "medication": [
        "The medication side effects made me ill",
        "Tablets and medication were changed without asking",
        "Side effects of the tablets were awful",
        "My medication dose was too high, bad side effects",
        "Doctors only offered medication and tablets",
        "The tablets gave me side effects",
        "Medication changes and side effects worried me",
        "Too much medication, too many tablets",
    ],
}
CODES = ["staff", "waiting", "medication"]


@pytest.fixture
def tiny_texts() -> list[str]:
    return [t for texts in THEMES.values() for t in texts]


@pytest.fixture
def tiny_labels() -> np.ndarray:
    """(24, 3) 0/1 matrix: each quote holds its theme's code."""
    rows = [[1.0 if code == theme else 0.0 for code in CODES] for theme, texts in THEMES.items() for _ in texts]
    return np.array(rows)


@pytest.fixture
def tiny_theme_ids() -> np.ndarray:
    return np.repeat(np.arange(3), 8)


@pytest.fixture
def tiny_corpus():
    """A Corpus with a codebook, one coder, a group column and a date column."""
    from lived_themes.codebook import Code, Codebook
    from lived_themes.corpus import Corpus

    texts = [t for texts in THEMES.values() for t in texts]
    themes = [theme for theme, texts in THEMES.items() for _ in texts]
    quotes = pd.DataFrame(
        {
            "quote_id": [f"q{i:02d}" for i in range(len(texts))],
            "text": texts,
            "site": ["north" if i % 2 else "south" for i in range(len(texts))],
            "date": pd.date_range("2020-01-01", periods=len(texts), freq="15D").strftime("%Y-%m-%d"),
        }
    )
    annotations = pd.DataFrame({"quote_id": quotes["quote_id"], "coder": "human", "code": themes})
    book = Codebook(
        name="tiny",
        version="1",
        codes=[
            Code(id="staff", label="Kind staff who listen", definition="Nurses and staff being kind and listening", include=["nurse", "caring"]),
            Code(id="waiting", label="Waiting times", definition="Long waits for appointments", include=["waiting list"]),
            Code(id="medication", label="Medication", definition="Tablets, doses and side effects of medication"),
        ],
    )
    return Corpus(quotes=quotes, annotations=annotations, codebook=book, name="tiny")


@pytest.fixture
def tiny_codes() -> list[str]:
    return list(CODES)

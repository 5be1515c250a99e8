"""The NHS framework file read as a wide one-hot table: every row accounted for, 50 code columns.

Reads ``../shared/datasets/nhs_patient_experience/v6framework_train.csv`` when it is present (it is not
part of the repository: its licence forbids committing it), else skips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.corpus import load_wide, save_corpus, load_corpus

NHS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nhs_patient_experience" / "v6framework_train.csv"
pytestmark = pytest.mark.skipif(not NHS.exists(), reason=f"shared NHS corpus not found at {NHS}; see ../shared/datasets/README.md")
MAPPING = {"Comment ID": "quote_id", "FFT answer": "text"}


@pytest.fixture(scope="module")
def corpus():
    return load_wide(NHS, coder="nhs", code_columns_from="Not assigned", blank="zero", column_mapping=MAPPING, on_invalid="set_aside")


def test_every_row_is_read_and_accounted_for(corpus) -> None:
    report = corpus.reports[0]
    assert report.source == str(NHS)
    assert report.n_read == 6329
    assert report.n_kept == len(corpus) and len(report.set_aside) == len(corpus.set_aside)
    assert report.n_kept + len(report.set_aside) == report.n_read
    assert set(corpus.set_aside["reason"]) == {"text is empty"}  # set aside only for an empty comment
    kept_and_aside = set(corpus.quote_ids) | set(corpus.set_aside["quote_id"])
    assert len(kept_and_aside) == report.n_read


def test_fifty_code_columns_in_file_order(corpus) -> None:
    header = pd.read_csv(NHS, nrows=0).columns.tolist()
    codes = header[header.index("Comment sentiment") + 1:]
    assert len(codes) == 50
    assert corpus.codes == codes
    assert not set(codes) & set(corpus.quotes.columns)


def test_labels_match_the_file(corpus) -> None:
    """Check the one-hot matrix against an independent pandas read of the same cells."""
    raw = pd.read_csv(NHS, dtype=str, keep_default_na=False)
    raw = raw[raw["FFT answer"].str.strip() != ""].set_index("Comment ID").loc[corpus.quote_ids]
    expected = (raw[corpus.codes].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0).astype(float)
    np.testing.assert_array_equal(corpus.label_matrix("nhs"), expected)
    assert corpus.seen_by("nhs").all()  # blank="zero": one labeller saw every comment


def test_set_aside_rows_keep_their_codes(corpus) -> None:
    assert len(corpus.set_aside) > 0
    assert {"row", "reason", "quote_id", "codes"} <= set(corpus.set_aside.columns)
    assert all(isinstance(codes, list) for codes in corpus.set_aside["codes"])


def test_parquet_round_trip(corpus, tmp_path: Path) -> None:
    back = load_corpus(save_corpus(corpus, tmp_path, format="parquet"))
    assert back.quote_ids == corpus.quote_ids and len(back.set_aside) == len(corpus.set_aside)
    np.testing.assert_array_equal(back.label_matrix("nhs"), corpus.label_matrix("nhs"))

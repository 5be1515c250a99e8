"""SAD adapter: vote shares stay soft in share:<code> columns; nothing thresholded."""

from pathlib import Path

import numpy as np
import pytest

from lived_themes.corpus.datasets import load_sad
from lived_themes.evaluation.soft_labels import soft_matrix

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "sad_stress" / "SAD_v1.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"SAD not present at {SHARED} (not bundled; see data/README.md)")
CATS = ["Financial Problem", "Other", "Everyday Decision Making", "Emotional Turmoil", "School", "Family Issues",
        "Social Relationships", "Work", "Health, Fatigue, or Physical Pain"]


def test_tiny_file_keeps_shares(tmp_path: Path) -> None:
    header = "sID,sentence,is_stressor,is_covid,top_label,avg_severity,median_severity,SD_severity,Votes," + ",".join(f'"{c}"' for c in CATS) + ",Source\n"
    shares = [0, 0.3, 0.6, 0.1, 0, 0, 0, 0, 0]
    row = "7,Too many choices.,1,0,Everyday Decision Making,5.4,5,2.65,7," + ",".join(map(str, shares)) + ",mTurk\n"
    path = tmp_path / "s.csv"
    path.write_text(header + row, encoding="utf-8")
    corpus = load_sad(path)
    assert corpus.quote_ids == ["sad-7"]
    np.testing.assert_allclose(soft_matrix(corpus), [shares])
    assert corpus.label_matrix("sad:top_label")[0].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert corpus.quotes.loc[0, "votes"] == 7 and corpus.quotes.loc[0, "source"] == "mTurk"


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_sad(SHARED)
    assert len(corpus) == 6850
    shares = soft_matrix(corpus)
    assert shares.shape == (6850, 9)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-6)
    assert ((shares > 0) & (shares < 1)).any()  # genuinely soft: kept, not thresholded

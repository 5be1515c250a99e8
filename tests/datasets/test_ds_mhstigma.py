"""MHStigmaInterview adapter: Non-stigmatized is 'no code'; participants and question types kept."""

from pathlib import Path

import numpy as np
import pytest

from lived_themes.corpus.datasets import load_mhstigma
from lived_themes.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "mhstigma_interview" / "train.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"MHStigmaInterview not present at {SHARED} (not bundled; see data/README.md)")
HEADER = "participant_id,question_type,displayed_text,label,ground_truth,conversations\n"


def test_tiny_file(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        HEADER
        + "p1,anger,I'd be annoyed.,Stigmatized (anger),Stigmatized (anger),[]\n"
        + "p1,pity,I feel for them.,Non-stigmatized,Non-stigmatized,[]\n",
        encoding="utf-8",
    )
    corpus = load_mhstigma(path)
    m = corpus.label_matrix("expert_adjudicated")
    assert m.shape == (2, 7)
    assert m[0, corpus.codes.index("anger")] == 1 and m[0].sum() == 1
    assert not np.isnan(m[1]).any() and m[1].sum() == 0
    assert corpus.quotes["participant_id"].tolist() == ["p1", "p1"]


def test_unknown_label_is_located(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(HEADER + "p1,anger,x,Stigmatized (rage),Stigmatized (rage),[]\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1"):
        load_mhstigma(path)


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_mhstigma(SHARED)
    assert len(corpus) == 3312
    assert corpus.quotes["participant_id"].nunique() == 684
    assert len(corpus.codes) == 7  # 8 classes = 7 stigma types + non-stigmatized
    assert int(corpus.annotations["code"].isna().sum()) == 1791

"""CAMS adapter: cause 0 is 'no code', evidence kept, cp1252 lines repaired and counted."""

from pathlib import Path

import pytest

from lived_themes.corpus.datasets import load_cams
from lived_themes.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "cams" / "cams_posts.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"CAMS not present at {SHARED} (not bundled; see data/README.md)")


def test_tiny_file_with_mixed_encoding(tmp_path: Path) -> None:
    data = (
        "selftext,cause,inference\n".encode()
        + "I can\u2019t sleep on my meds,3,meds\n".encode("utf-8")
        + "I don\x92t know why,0,\n".encode("latin-1")  # a cp1252 apostrophe, as in the real file
        + b",4,empty post\n"
    )
    path = tmp_path / "c.csv"
    path.write_bytes(data)
    corpus = load_cams(path)
    assert len(corpus) == 2 and len(corpus.set_aside) == 1
    assert corpus.texts[1] == "I don\u2019t know why"
    assert corpus.label_matrix("cams_final", ["medication"]).ravel().tolist() == [1, 0]
    assert corpus.annotations.loc[0, "evidence"] == "meds"
    assert "cp1252" in corpus.reports[0].summary()


def test_bad_cause_is_located(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("selftext,cause,inference\nhello,9,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1"):
        load_cams(path)


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_cams(SHARED)
    assert len(corpus) + len(corpus.set_aside) == 3155
    assert len(corpus.set_aside) == 2  # two posts with no text
    assert corpus.annotations["code"].value_counts()["medication"] == 410

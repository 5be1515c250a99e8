"""CrowS-Pairs adapter: validators' raw labels become coders; counts match the shared README."""

from pathlib import Path

import numpy as np
import pytest

from lived_themes.corpus.datasets import coder_groups, load_crows_pairs
from lived_themes.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "crows_pairs" / "crows_pairs_anonymized.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"CrowS-Pairs not present at {SHARED} (not bundled; see data/README.md)")

HEADER = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
ROWS = [
    '0,He is poor.,He is rich.,stereo,socioeconomic,"[[\'socioeconomic\'], [\'socioeconomic\'], [], [\'race-color\'], [\'socioeconomic\']]",a0,"[\'a7\', \'a8\', \'a9\', \'a10\', \'a11\']"\n',
    '1,She cries.,He cries.,antistereo,gender,"[[\'gender\'], [\'gender\'], [\'gender\'], [\'gender\'], [\'gender\']]",a1,"[\'a7\', \'a12\', \'a9\', \'a13\', \'a14\']"\n',
]


def test_tiny_file_maps_validators_to_coders(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    corpus = load_crows_pairs(path)
    assert corpus.quote_ids == ["crows-0", "crows-1"]
    assert corpus.texts[0] == "He is poor."
    assert set(corpus.coders) == {"a7", "a8", "a9", "a10", "a11", "a12", "a13", "a14"}
    m = corpus.label_matrix("a9", ["socioeconomic", "gender"])
    np.testing.assert_array_equal(m, [[0, 0], [0, 1]])  # empty list = saw it, assigned nothing
    assert np.isnan(corpus.label_matrix("a8", ["gender"])[1]).all()  # a8 never saw pair 1
    assert set(coder_groups(corpus).values()) == {"validator"}
    with_writer = load_crows_pairs(path, writer_as_coder=True)
    assert with_writer.label_matrix("writer", ["socioeconomic", "gender"]).tolist() == [[1, 0], [0, 1]]


def test_mismatched_lists_are_located(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_text(HEADER + ROWS[0].replace("'a11'", "").replace(", ]", "]"), encoding="utf-8")
    with pytest.raises(InputError, match="row 1"):
        load_crows_pairs(path)


def test_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="data/README.md"):
        load_crows_pairs(tmp_path / "absent.csv")


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_crows_pairs(SHARED)
    assert len(corpus) == 1508
    assert len(corpus.coders) == 287 and len(corpus.codes) == 9
    per_quote = corpus.annotations.groupby("quote_id")["coder"].nunique()
    assert (per_quote == 5).all()  # five validators per pair
    assert corpus.quotes["bias_type"].value_counts()["race-color"] == 516

"""NHS adapter and the dataset table: codes after 'Comment sentiment', groups and clusters kept."""

from pathlib import Path

import pytest

from lived_themes.corpus.datasets import DATASETS, GROUPS, DatasetNotFound, load_dataset, load_nhs

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "nhs_patient_experience" / "v6framework_train.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"NHS file not present at {SHARED} (not bundled; see data/README.md)")


def test_tiny_file(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text(
        "Comment ID,Trust,Respondent ID,Date,Service type 1,Service type 2,FFT categorical answer,FFT question,"
        "FFT answer,Person identifiable info?,Comment sentiment,Not assigned,Parking,Staff\n"
        "c1,NEAS,r1,01/01/2021,111,,1,Why?,Kind staff,,1,,,1\n"
        "c2,NHFT,r2,01/01/2021,MH,,2,Why?,,,2,1,,\n",
        encoding="utf-8",
    )
    corpus = load_nhs(path)
    assert corpus.codes == ["Not assigned", "Parking", "Staff"]
    assert corpus.quote_ids == ["c1"] and len(corpus.set_aside) == 1
    assert corpus.quotes.loc[0, "trust"] == "NEAS"
    assert load_nhs(path, not_assigned_as_code=False).codes == ["Parking", "Staff"]


def test_registry_is_complete_and_errors_are_clear(tmp_path: Path) -> None:
    assert set(DATASETS) == set(GROUPS) == {"crows_pairs", "reflections", "mhstigma", "sad", "cams", "nhs"}
    with pytest.raises(KeyError, match="known"):
        load_dataset("nope")
    for name in DATASETS:
        with pytest.raises(DatasetNotFound):
            load_dataset(name, tmp_path / "absent.csv")


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_dataset("nhs", SHARED)
    assert len(corpus) + len(corpus.set_aside) == 6329
    assert len(corpus.codes) == 50
    assert set(corpus.quotes["trust"]) == {"NEAS", "NHFT"}
    for column in GROUPS["nhs"]["groups"] + [GROUPS["nhs"]["cluster"]]:
        assert column in corpus.quotes.columns

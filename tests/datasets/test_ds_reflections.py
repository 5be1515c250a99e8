"""Reflections adapter: one quote per reflection and stage, 3 experts + 3 laypeople each."""

from pathlib import Path

import numpy as np
import pytest

from lived_themes.corpus.datasets import coder_groups, load_reflections

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "reflection_expert_vs_lay" / "annotations.csv"
needs_file = pytest.mark.skipif(not SHARED.exists(), reason=f"reflections file not present at {SHARED} (not bundled; see data/README.md)")

COLS = "annomi_dialogue_id,stage,dialogue_context,reflection_source,reflection,annotator,coherent_and_context_consistent,dialogue_contradicting,malformed,off_topic,on_topic_but_unverifiable,parroting\n"


def test_tiny_file(tmp_path: Path) -> None:
    rows = [
        '5,GPT-2 stage,"[{""t"": ""hi""}]",BART,You feel stuck.,Expert 1,No,,,,,Yes\n',
        '5,GPT-2 stage,"[{""t"": ""hi""}]",BART,You feel stuck.,Layperson 2,Yes,,,,,\n',
        '5,GPT-3 stage,"[{""t"": ""hi""}]",BART,You feel stuck.,Expert 1,Yes,,,,,\n',  # same text, other stage: other item
    ]
    path = tmp_path / "r.csv"
    path.write_text(COLS + "".join(rows), encoding="utf-8")
    corpus = load_reflections(path)
    assert len(corpus) == 2
    assert coder_groups(corpus) == {"Expert 1": "Expert", "Layperson 2": "Layperson"}
    codes = ["coherent_and_context_consistent", "parroting"]
    np.testing.assert_array_equal(corpus.label_matrix("Expert 1", codes), [[0, 1], [1, 0]])
    assert np.isnan(corpus.label_matrix("Layperson 2", codes)[1]).all()
    assert corpus.quotes["reflection_source"].tolist() == ["BART", "BART"]


@needs_file
def test_counts_match_the_shared_readme() -> None:
    corpus = load_reflections(SHARED)
    assert len(corpus.annotations.drop_duplicates(["quote_id", "coder"])) == 1788  # one row per item x annotator
    assert len(corpus) == 298 and len(corpus.coders) == 18
    groups = coder_groups(corpus)
    assert sorted(set(groups.values())) == ["Expert", "Layperson"]
    assert sum(g == "Expert" for g in groups.values()) == 9
    ann = corpus.annotations.assign(group=corpus.annotations["coder"].map(groups)).drop_duplicates(["quote_id", "coder"])
    assert (ann.groupby(["quote_id", "group"]).size() == 3).all()

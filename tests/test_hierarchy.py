"""data.code_level: child codes rolled up into their parents (or the top of their tree), one row per rolled-up code."""

from __future__ import annotations

import pandas as pd
import pytest

from lived_themes.codebook import Code, Codebook, Theme
from lived_themes.corpus.hierarchy import roll_up
from lived_themes.corpus.model import Corpus
from lived_themes.config.base import DataConfig


def _corpus(themes: bool = False) -> Corpus:
    if themes:
        book = Codebook(name="b", version="1", themes=[Theme(id="care", label="Care", definition="about care")],
                        codes=[Code(id="wait", label="Waiting", parent="care"), Code(id="staff", label="Staff", parent="care"),
                               Code(id="other", label="Other")])
    else:
        book = Codebook(name="b", version="1", codes=[
            Code(id="Access", label="Access", definition="getting care"), Code(id="Access::Waiting", label="Waiting", parent="Access"),
            Code(id="Access::Waiting::Long", label="Long", parent="Access::Waiting"), Code(id="Staff", label="Staff")])
    quotes = pd.DataFrame({"quote_id": ["q1", "q2", "q3"], "text": ["a", "b", "c"]})
    first = "wait" if themes else "Access::Waiting::Long"
    second = "staff" if themes else "Access::Waiting"
    ann = pd.DataFrame({"quote_id": ["q1", "q1", "q2", "q3"], "coder": ["ana"] * 4, "code": [first, second, "other" if themes else "Staff", None]})
    return Corpus(quotes=quotes, annotations=ann, codebook=book)


def test_parent_moves_each_code_one_level_up_and_top_to_the_root() -> None:
    parent, mapping = roll_up(_corpus(), "parent")
    assert mapping["Access::Waiting::Long"] == "Access::Waiting" and mapping["Access::Waiting"] == "Access" and mapping["Staff"] == "Staff"
    assert parent.codebook.code_ids == ["Access", "Access::Waiting", "Staff"]
    top, _ = roll_up(_corpus(), "top")
    assert top.codebook.code_ids == ["Access", "Staff"]
    rows = sorted(map(tuple, top.annotations.fillna("-")[["quote_id", "code"]].values.tolist()))
    assert rows == [("q1", "Access"), ("q2", "Staff"), ("q3", "-")]  # q1's two children: one Access row
    assert "rolled up from: Waiting, Long" in top.codebook.code("Access").definition


def test_themes_become_codes() -> None:
    rolled, _ = roll_up(_corpus(themes=True), "parent")
    assert rolled.codebook.code_ids == ["care", "other"] and rolled.codebook.code("care").label == "Care"


def test_as_coded_is_unchanged_and_bad_level_refused() -> None:
    corpus = _corpus()
    assert roll_up(corpus, "as_coded")[0] is corpus
    with pytest.raises(ValueError, match="code_level"):
        roll_up(corpus, "grandparent")
    assert DataConfig().code_level == "as_coded"


def test_the_experiment_loader_rolls_up(tmp_path) -> None:
    from lived_themes.corpus.io import save_corpus
    from lived_themes.experiment.data import load_from_config

    save_corpus(_corpus(), tmp_path / "c", format="csv")
    loaded = load_from_config(DataConfig(path=str(tmp_path / "c"), code_level="top"))
    assert loaded.codebook.code_ids == ["Access", "Staff"] and set(loaded.annotations["code"].dropna()) == {"Access", "Staff"}

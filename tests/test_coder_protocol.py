"""One conformance test, run against every registered coder that builds offline in seconds."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from lived_themes.codebook import Code, Codebook
from lived_themes.coders import Coder, load_coder
from lived_themes.corpus import Corpus
from lived_themes.registry import CODERS, make_coder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUOTES = [
    ("q1", "I waited months for a therapy appointment and nobody called back", ["access"]),
    ("q2", "The waiting list for counselling was over a year long", ["access"]),
    ("q3", "I could not get a GP appointment when I was in crisis", ["access", "crisis"]),
    ("q4", "My nurse really listened to me and I felt understood", ["relationship"]),
    ("q5", "The psychiatrist was kind and took time to explain everything", ["relationship"]),
    ("q6", "Staff treated me with respect and warmth", ["relationship"]),
    ("q7", "When I was suicidal the crisis team never came", ["crisis", "access"]),
    ("q8", "I ended up in A&E at night because there was nowhere else to go", ["crisis"]),
    ("q9", "The crisis line helped me through the worst night", ["crisis", "relationship"]),
    ("q10", "My support worker has been with me for years and I trust her", ["relationship"]),
    ("q11", "Referral letters got lost and I was passed between services", ["access"]),
    ("q12", "I like walking my dog in the park", []),
]
CODES = ["access", "relationship", "crisis"]


def tiny_codebook(*, examples: bool = True) -> Codebook:
    return Codebook(
        name="tiny",
        version="1",
        codes=[
            Code(id="access", label="Access to care", definition="Waiting times, referrals and getting appointments",
                 examples=["I was on a waiting list for two years"] if examples else []),
            Code(id="relationship", label="Therapeutic relationship", definition="Feeling listened to and respected by staff",
                 examples=["She listened without judging me"] if examples else []),
            Code(id="crisis", label="Crisis care", definition="Help when in acute crisis or suicidal",
                 examples=["I called the crisis team at 3am"] if examples else []),
        ],
    )


def tiny_corpus() -> Corpus:
    quotes = pd.DataFrame({"quote_id": [q for q, _, _ in QUOTES], "text": [t for _, t, _ in QUOTES]})
    rows = [(q, "coder_a", c) for q, _, codes in QUOTES for c in (codes or [None])]
    annotations = pd.DataFrame(rows, columns=["quote_id", "coder", "code"])
    return Corpus(quotes=quotes, annotations=annotations, codebook=tiny_codebook())


FAST_CODERS = ["majority.v1", "tfidf-logreg.v1", "codebook-similarity.v1", "knn.v1", "ensemble.v1", "calibrated.v1"]


def test_fast_coders_are_registered() -> None:
    assert set(FAST_CODERS) <= set(CODERS)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return tiny_corpus()


@pytest.mark.parametrize("name", FAST_CODERS)
def test_coder_conformance(name: str, corpus: Corpus, tmp_path) -> None:
    coder = make_coder(name)
    assert isinstance(coder, Coder) and coder.name == name
    params = coder.get_params()
    json.dumps(params)  # config keys are JSON-serialisable constructor arguments
    assert type(coder)(**params).get_params() == params

    labels = corpus.label_matrix("coder_a", CODES)
    assert not np.isnan(labels).any()
    coder.fit(corpus.texts, labels, CODES, codebook=corpus.codebook)
    assert coder.codes_ == CODES and coder.thresholds_.shape == (len(CODES),)

    texts = corpus.texts + ["A sentence the coder has never seen about nothing"]
    scores = coder.predict_proba(texts)
    assert scores.shape == (len(texts), len(CODES))
    assert np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0
    predicted = coder.predict(texts)
    assert set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, (scores >= coder.thresholds_[None, :]).astype(int))

    folder = coder.save(tmp_path / "model")
    assert not [p.name for p in folder.rglob("*") if p.suffix in {".pkl", ".pickle", ".joblib", ".pt", ".bin"}]
    for npy in folder.rglob("*.np[yz]"):
        np.load(npy, allow_pickle=False)  # raises if anything needs pickle
    loaded = load_coder(folder)
    assert type(loaded) is type(coder)
    assert loaded.get_params() == params
    assert loaded.codes_ == CODES
    np.testing.assert_array_equal(loaded.thresholds_, coder.thresholds_)
    np.testing.assert_allclose(loaded.predict_proba(texts), scores, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(texts), predicted)


@pytest.mark.parametrize("name", FAST_CODERS)
def test_model_joins_corpus_as_one_more_coder(name: str, corpus: Corpus) -> None:
    coder = make_coder(name).fit(corpus.texts, corpus.label_matrix("coder_a", CODES), CODES, codebook=corpus.codebook)
    with_model = corpus.with_coder(f"model:{name}", coder.predict(corpus.texts), CODES)
    np.testing.assert_array_equal(with_model.label_matrix(f"model:{name}", CODES), coder.predict(corpus.texts))


@pytest.mark.parametrize("name", ["majority.v1", "tfidf-logreg.v1", "knn.v1", "ensemble.v1"])
def test_supervised_coders_refuse_missing_or_nan_labels(name: str, corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="needs training labels"):
        make_coder(name).fit(corpus.texts, None, CODES)
    labels = corpus.label_matrix("coder_a", CODES)
    labels[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_coder(name).fit(corpus.texts, labels, CODES)

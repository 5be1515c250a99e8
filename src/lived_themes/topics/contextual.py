"""Shared ground for the comparator topic models from other packages (KeyNMF, S³, FASTopic).

They all read the run's sentence embeddings and the package's lemma vocabulary, so they are
compared with BERTopic, LDA and NMF on the same inputs: the packaged offline encoder (through
:func:`lived_themes.encoders.sentence.encode`, so word and quote vectors share its cache), and the
vocabulary rules of the other models (lemmas seen in at least ``min_df`` quotes, :func:`auto_min_df`
when not given, and at most ``max_df`` of them). Their own packages are imported only when a model
is fitted, with one clear line when the extra is missing. After fitting, a model keeps only plain
arrays and word lists, so ``transform`` and a saved model need neither the extra nor pickle.
"""

from __future__ import annotations

import contextlib
import io
import json
import numbers
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.encoders.sentence import encode
from lived_themes.topics.base import OUTLIER, TopicModel
from lived_themes.topics.vectorizer import BLANK, auto_min_df, make_vectorizer

EXTRA = "topics-extra"
STATE_FILE = "state.npz"
WORDS_FILE = "topic_words.json"
VOCAB_FILE = "vocabulary.json"


def require(module: str, model: str) -> Any:
    """Import ``module`` for ``model``, or raise one ImportError line naming the extra to install."""
    import importlib

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="JAX not found")  # turftopic's optional speed-up, noted on import
            return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"topic model {model!r} needs the package {module!r}: pip install 'lived-themes[{EXTRA}]'") from exc


class PackageEncoder:
    """The package's encoder with the ``encode`` method other libraries call (normalised float32, cached)."""

    def __init__(self, name: str | None = None, device: str | None = None) -> None:
        self.name, self.device = name, device

    def encode(self, sentences: Sequence[str] | str, **_: Any) -> np.ndarray:
        single = isinstance(sentences, str)
        texts = [sentences] if single else [str(s) for s in sentences]
        out = encode(texts, encoder=self.name, device=self.device) if texts else np.zeros((0, 0), np.float32)
        return out[0] if single else out


@contextlib.contextmanager
def quiet(*modules: Any) -> Iterator[None]:
    """Keep other libraries' progress output off the CLI's stdout: rich spinners, and the tqdm bars of ``modules``.

    tqdm reads ``TQDM_DISABLE`` only when it is imported, so each module's ``tqdm`` name is swapped for
    a silent one while the block runs (and put back after).
    """
    import functools

    saved = [(m, m.tqdm) for m in modules if hasattr(m, "tqdm")]
    try:
        for module, bar in saved:
            module.tqdm = functools.partial(bar, disable=True)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for module, bar in saved:
            module.tqdm = bar


def check_whole(value: Any, least: int, label: str, kind: type = int) -> None:
    """Refuse a count that is not a whole number of at least ``least`` (bools are not counts)."""
    if isinstance(value, bool) or not isinstance(value, kind) or value < least:
        raise ValueError(f"{label} must be a whole number of at least {least}, got {value!r}")


class ContextualTopicModel(TopicModel):
    """Base: topic count, encoder, vocabulary rules, seeded fit, and a pickle-free saved state.

    Subclasses implement ``_fit_package`` (set ``topics_``, ``doc_scores_``, ``words_`` and the arrays
    ``transform`` needs in ``state_``) and ``_topic_weights`` (document-topic weights of new quotes).
    """

    uses_embeddings = True

    def __init__(
        self,
        n_topics: int = 10,
        *,
        encoder: str | None = None,
        min_df: int | float | None = None,
        max_df: int | float = 0.95,
        top_n_words: int = 25,
        spacy_pipeline: str = BLANK,
        seed: int | None = 42,
        device: str | None = None,
    ) -> None:
        check_whole(n_topics, 2, "n_topics", numbers.Integral)
        self.n_topics = n_topics
        self.encoder = encoder
        self.min_df = min_df
        self.max_df = max_df
        self.top_n_words = top_n_words
        self.spacy_pipeline = spacy_pipeline
        self.seed = seed
        self.device = device

    # ----- fitting -----------------------------------------------------------------------------
    def _vectorizer(self, n_docs: int, vocabulary: Sequence[str] | None = None) -> Any:
        """The lemma CountVectorizer with the other models' document-frequency rules."""
        if vocabulary is not None:
            return make_vectorizer(pipeline=self.spacy_pipeline, vocabulary=vocabulary)
        min_df = self.min_df if self.min_df is not None else auto_min_df(n_docs)
        max_df = self.max_df if n_docs >= 20 else 1.0  # on a handful of quotes every word is "frequent"
        return make_vectorizer(pipeline=self.spacy_pipeline, min_df=min_df, max_df=max_df)

    def _fitted_vectorizer(self, texts: list[str]) -> Any:
        """The vectorizer fitted on ``texts``, or a clear error when no word survives the rules."""
        vectorizer = self._vectorizer(len(texts))
        try:
            vectorizer.fit(texts)
        except ValueError as exc:
            raise ValueError(f"{self.name}: no words left after removing stop words (min_df={self.min_df}, max_df={self.max_df})") from exc
        return vectorizer

    def _check_vocabulary(self, texts: list[str]) -> list[str]:
        """The fitted vocabulary, or a clear error when no word survives the rules."""
        return self._fitted_vectorizer(texts).get_feature_names_out().tolist()

    def _package_encoder(self) -> PackageEncoder:
        """The run's encoder for the other package to call."""
        return PackageEncoder(self.encoder, self.device)

    def _fit(self, texts: list[str], *, embeddings: np.ndarray | None, codebook: Any, labels: Any) -> None:
        if len(texts) <= self.n_topics:
            raise ValueError(f"{self.name}: {self.n_topics} topics need more than {len(texts)} quotes")
        self._check_vocabulary(texts)
        emb = encode(texts, encoder=self.encoder, device=self.device) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        self.state_: dict[str, np.ndarray] = {}
        self._fit_package(texts, emb)

    def _fit_package(self, texts: list[str], embeddings: np.ndarray) -> None:
        raise NotImplementedError

    def _words_from(self, components: np.ndarray, vocabulary: Sequence[str]) -> dict[int, list[str]]:
        """Top ``top_n_words`` words per topic row, best first (ties in vocabulary order)."""
        vocab = np.asarray(vocabulary, dtype=object)
        return {t: [str(w) for w in vocab[np.argsort(-row, kind="stable")[: self.top_n_words]]] for t, row in enumerate(components)}

    @staticmethod
    def _assign(weights: np.ndarray, empty: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Highest-weight topic per quote; ``empty`` rows (no signal at all) are outliers."""
        weights = np.asarray(weights, dtype=float)
        if weights.shape[0] == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        topics = weights.argmax(axis=1).astype(int)
        scores = weights.max(axis=1)
        if empty is not None:
            topics = np.where(empty, OUTLIER, topics)
            scores = np.where(empty, 0.0, scores)
        return topics, scores

    # ----- using -------------------------------------------------------------------------------
    def _embed(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is not None:
            return np.asarray(embeddings, dtype=np.float32)
        return encode(list(texts), encoder=self.encoder, device=self.device) if len(texts) else np.zeros((0, 0), np.float32)

    def _topic_weights(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(document-topic weights, outlier mask or None) of new quotes, from ``state_`` alone."""
        raise NotImplementedError

    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros(0, dtype=int)
        weights, empty = self._topic_weights(texts, self._embed(texts, embeddings))
        return self._assign(weights, empty)[0]

    def topic_words(self, n: int = 10) -> dict[int, list[str]]:
        return {t: words[:n] for t, words in self.words_.items()}

    # ----- persistence -------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        np.savez(folder / STATE_FILE, **self.state_)
        (folder / WORDS_FILE).write_text(json.dumps({str(k): v for k, v in self.words_.items()}, ensure_ascii=False), encoding="utf-8")
        (folder / VOCAB_FILE).write_text(json.dumps(self.vocabulary_, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        with np.load(folder / STATE_FILE, allow_pickle=False) as data:
            self.state_ = {k: data[k] for k in data.files}
        self.words_ = {int(k): v for k, v in json.loads((folder / WORDS_FILE).read_text(encoding="utf-8")).items()}
        self.vocabulary_ = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))

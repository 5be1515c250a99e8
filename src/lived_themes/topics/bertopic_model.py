"""BERTopic with the local sentence encoder, size-aware UMAP/HDBSCAN, spaCy lemmas, and codebook-driven modes.

Modes (``mode=``):

- ``unsupervised``: clusters of quote embeddings, nothing from the codebook.
- ``guided``: seed words per code (lemmas of the code's label and include notes) pull quotes toward codes.
- ``zeroshot``: each code's description is a candidate topic; quotes at cosine >= ``zeroshot_min_similarity``
  join it, the rest are clustered. With MiniLM, BERTopic's default 0.7 assigns almost nothing, so the
  default here is 0.4 (0.3-0.5 works on short quotes).
- ``supervised``: topics are the reference coder's codes (first code per quote; no code = its own class).
- ``semisupervised``: the codes steer UMAP; quotes with no code or unseen are unlabelled (-1).

Size rule (n = number of quotes): ``n_neighbors = clip(n // 5, 2, 15)``,
``min_cluster_size = clip(round(sqrt(n) / 2), 3, 500)``, ``min_samples = clip(min_cluster_size // 2, 1, 50)``,
UMAP ``low_memory`` above 100,000 quotes. So 50 quotes -> 10 neighbours, clusters of >= 4; 6,000 -> 15, 39;
300,000 -> 15, 274. A fixed ``seed`` makes UMAP reproducible (it then runs single-threaded).

``transform`` assigns a new quote to the topic whose embedding is most similar (cosine), as BERTopic
does after a safetensors round trip, so predictions are the same before and after saving.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.topics.base import OUTLIER, TopicModel, primary_codes
from lived_themes.topics.vectorizer import BLANK, LemmaTokenizer, make_vectorizer
from lived_themes.encoders.sentence import HashingEncoder, encode, load_sentence_encoder, resolve_encoder
from lived_themes.coders.onnx_backend import OnnxSentenceEncoder

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

MODES = ("unsupervised", "guided", "zeroshot", "supervised", "semisupervised")
STATE_FILE = "topic_embeddings.npz"
WORDS_FILE = "topic_words.json"
BERTOPIC_DIR = "bertopic"


def size_rule(n: int) -> dict[str, int]:
    """UMAP / HDBSCAN sizes that behave from fifty quotes to hundreds of thousands (see module docstring)."""
    min_cluster = int(min(500, max(3, round(math.sqrt(n) / 2))))
    return {
        "n_neighbors": int(min(15, max(2, n // 5))),
        "min_cluster_size": min_cluster,
        "min_samples": int(min(50, max(1, min_cluster // 2))),
    }


def seed_words(codebook: Codebook, *, pipeline: str = BLANK, max_words: int = 10) -> list[list[str]]:
    """Lemmas of each code's label and include notes (definition too when those give < 3 words)."""
    tokenizer = LemmaTokenizer(pipeline)
    seeds = []
    for code in codebook.codes:
        words = list(dict.fromkeys(tokenizer(" ".join([code.label, *code.include]))))
        if len(words) < 3:
            words = list(dict.fromkeys(words + tokenizer(code.definition)))
        seeds.append(words[:max_words] or [code.id.lower()])
    return seeds


class BERTopicModel(TopicModel):
    """BERTopic behind the topic-model interface; the fitted ``BERTopic`` object is ``model_`` (in session)."""

    name = "bertopic.v1"
    uses_embeddings = True

    def __init__(
        self,
        encoder: str | None = None,
        *,
        mode: str = "unsupervised",
        n_neighbors: int | None = None,
        n_components: int = 5,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        nr_topics: int | str | None = None,
        top_n_words: int = 25,
        zeroshot_min_similarity: float = 0.4,
        spacy_pipeline: str = BLANK,
        seed: int | None = 42,
        device: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.encoder = encoder
        self.mode = mode
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.nr_topics = nr_topics
        self.top_n_words = top_n_words
        self.zeroshot_min_similarity = zeroshot_min_similarity
        self.spacy_pipeline = spacy_pipeline
        self.seed = seed
        self.device = device

    # ----- building ----------------------------------------------------------------------------
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return encode(list(texts), encoder=self.encoder, device=self.device)

    def _components(self, n: int, labels_y: list[int] | None) -> dict[str, Any]:
        if self.mode == "supervised":
            from bertopic.dimensionality import BaseDimensionalityReduction
            from sklearn.linear_model import LogisticRegression

            return {"umap_model": BaseDimensionalityReduction(), "hdbscan_model": LogisticRegression(max_iter=1000, class_weight="balanced")}
        sizes = size_rule(n)
        return {"umap_model": self._umap(n, sizes), "hdbscan_model": self._hdbscan(sizes)}

    def _umap(self, n: int, sizes: dict[str, int]) -> Any:
        """UMAP as the size rule sets it (``n_neighbors`` unless given); one place for v1 and v2."""
        from umap import UMAP

        return UMAP(
            n_neighbors=self.n_neighbors or sizes["n_neighbors"],
            n_components=max(2, min(self.n_components, n - 2)),
            min_dist=0.0,
            metric="cosine",
            init="spectral" if n > 50 else "random",
            random_state=self.seed,
            low_memory=n > 100_000,
        )

    def _hdbscan(self, sizes: dict[str, int]) -> Any:
        """HDBSCAN as the size rule sets it (``min_cluster_size`` / ``min_samples`` unless given)."""
        from hdbscan import HDBSCAN

        return HDBSCAN(
            min_cluster_size=self.min_cluster_size or sizes["min_cluster_size"],
            min_samples=self.min_samples or sizes["min_samples"],
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        )

    def _fit(self, texts: list[str], *, embeddings: np.ndarray | None, codebook: Codebook | None, labels: np.ndarray | None) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.mode in ("guided", "zeroshot") and codebook is None:
            raise ValueError(f"mode {self.mode!r} needs a codebook")
        y = self._targets(labels)
        from bertopic import BERTopic

        embeddings = np.array(self._embed(texts) if embeddings is None else embeddings, dtype=np.float32)  # a copy: guided mode edits it
        needs_encoder = self.mode in ("guided", "zeroshot") or self._needs_encoder()
        model = BERTopic(
            embedding_model=_backend(load_sentence_encoder(self.encoder, self.device)) if needs_encoder else None,
            top_n_words=self.top_n_words,
            seed_topic_list=seed_words(codebook, pipeline=self.spacy_pipeline) if self.mode == "guided" else None,
            zeroshot_topic_list=[c.description() for c in codebook.codes] if self.mode == "zeroshot" else None,
            zeroshot_min_similarity=self.zeroshot_min_similarity,
            **self._representation(texts),
            **self._components(len(texts), y),
        )
        if self.mode == "supervised":
            from bertopic.vectorizers import ClassTfidfTransformer

            model.ctfidf_model = ClassTfidfTransformer(reduce_frequent_words=True)
        topics, _ = model.fit_transform(texts, embeddings=embeddings, y=y)
        topics = self._after_fit(model, texts, topics, embeddings)
        self.model_ = model
        self.topics_ = np.asarray(topics, dtype=int)
        self._set_topic_state(model, embeddings)
        if self.mode == "zeroshot":
            self.topic_codes_ = self._zeroshot_codes(model, embeddings, codebook)

    def _needs_encoder(self) -> bool:
        """Whether the topic words need the encoder itself (not just document embeddings)."""
        return False

    def _representation(self, texts: list[str]) -> dict[str, Any]:
        """BERTopic's vectorizer and topic-count arguments (v1: every lemma, no reduction unless asked)."""
        return {"vectorizer_model": make_vectorizer(pipeline=self.spacy_pipeline), "nr_topics": self.nr_topics}

    def _after_fit(self, model: Any, texts: list[str], topics: Any, embeddings: np.ndarray) -> Any:
        """Hook for steps after fitting (v2 reassigns outliers); v1 keeps BERTopic's topics."""
        return topics

    def _zeroshot_codes(self, model: Any, embeddings: np.ndarray, codebook: Codebook) -> dict[int, str]:
        """Topic id -> code for topics that came from a code description.

        BERTopic keeps that link only when some quotes were clustered; when every quote matched a
        description, each topic's quotes share one best description, which gives the link back.
        """
        descriptions = {c.description(): c.id for c in codebook.codes}
        found = {int(t): descriptions[label] for t, label in model.topic_labels_.items() if label in descriptions}
        if found:
            return found
        sims = _unit(embeddings) @ _unit(self._embed(list(descriptions))).T
        if (sims.max(axis=1) < self.zeroshot_min_similarity).any():
            return {}
        best = sims.argmax(axis=1)
        ids = list(descriptions.values())
        return {int(t): ids[int(np.bincount(best[self.topics_ == t]).argmax())] for t in set(self.topics_.tolist()) if t != OUTLIER}

    def _targets(self, labels: np.ndarray | None) -> list[int] | None:
        """Class per quote for the (semi-)supervised modes, from the first code each quote holds."""
        if self.mode not in ("supervised", "semisupervised"):
            return None
        if labels is None:
            raise ValueError(f"mode {self.mode!r} needs labels from a reference coder")
        first = primary_codes(labels)
        if self.mode == "supervised":
            if (first == -2).any():
                raise ValueError("supervised mode needs every quote seen by the reference coder (NaN rows found)")
            return np.where(first == -1, labels.shape[1], first).tolist()  # "no code" is a class of its own
        return np.where(first < 0, -1, first).tolist()

    def _set_topic_state(self, model: Any, embeddings: np.ndarray) -> None:
        ids = sorted(model.get_topics())
        self.topic_embedding_ids_ = np.asarray(ids, dtype=int)
        self.topic_embeddings_ = np.asarray(model.topic_embeddings_, dtype=np.float32)
        self.words_ = {int(t): [w for w, _ in model.get_topic(t) if w] for t in ids if t != OUTLIER}
        unit = _unit(embeddings) @ _unit(self.topic_embeddings_).T
        col = {t: j for j, t in enumerate(ids)}
        self.doc_scores_ = np.array([unit[i, col[t]] if t != OUTLIER else 0.0 for i, t in enumerate(self.topics_)])

    # ----- using -------------------------------------------------------------------------------
    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        emb = self._embed(texts) if embeddings is None else np.asarray(embeddings)
        if not len(emb):
            return np.zeros(0, dtype=int)
        sims = _unit(emb) @ _unit(self.topic_embeddings_).T
        return self.topic_embedding_ids_[sims.argmax(axis=1)].astype(int)

    def topic_words(self, n: int = 10) -> dict[int, list[str]]:
        return {t: words[:n] for t, words in self.words_.items()}

    # ----- persistence -------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        np.savez(folder / STATE_FILE, ids=self.topic_embedding_ids_, embeddings=self.topic_embeddings_)
        (folder / WORDS_FILE).write_text(json.dumps({str(k): v for k, v in self.words_.items()}, ensure_ascii=False), encoding="utf-8")
        if getattr(self, "model_", None) is not None:  # BERTopic's own safetensors folder, for its plots and tools

            self.model_.save(
                str(folder / BERTOPIC_DIR), serialization="safetensors", save_ctfidf=True, save_embedding_model=resolve_encoder(self.encoder)
            )

    def _load_state(self, folder: Path) -> None:
        with np.load(folder / STATE_FILE, allow_pickle=False) as data:
            self.topic_embedding_ids_ = data["ids"].astype(int)
            self.topic_embeddings_ = data["embeddings"]
        words = json.loads((folder / WORDS_FILE).read_text(encoding="utf-8"))
        self.words_ = {int(k): v for k, v in words.items()}
        self.model_ = None


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _backend(encoder: Any) -> Any:
    """BERTopic recognises sentence-transformers models; other encoders (the hashing one) go in its embedder wrapper."""

    if not isinstance(encoder, (HashingEncoder, OnnxSentenceEncoder)):
        return encoder
    from bertopic.backend import BaseEmbedder

    class _Embedder(BaseEmbedder):
        def embed(self, documents: Any, verbose: bool = False) -> np.ndarray:
            return encoder.encode(list(documents))

    return _Embedder()

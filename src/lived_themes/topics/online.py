"""``bertopic-online.v1``: BERTopic fitted chunk by chunk, for corpora too large for ``bertopic.v2`` in one go.

Why a separate mode: ``bertopic.v2`` clusters every quote's embedding at once (k-means with ten
restarts on the full n x 384 matrix, or UMAP + HDBSCAN, whose cost grows faster than n), so time and
memory grow with the whole corpus. This mode uses BERTopic's documented online API instead:

- ``IncrementalPCA(n_components)`` in place of UMAP, ``MiniBatchKMeans(n_topics)`` in place of
  HDBSCAN and ``OnlineCountVectorizer(decay, delete_min_df)`` over spaCy lemmas, each updated by
  ``BERTopic.partial_fit`` on one chunk of ``chunk_size`` quotes at a time.
- Embeddings are made one chunk at a time with the package's encoder, so at most one chunk of
  embeddings is held (plus one topic id and one score per quote). With ``embedding_cache`` each
  chunk is stored on disk as one .npy keyed by the encoder and the chunk's texts (a million quotes
  in chunks of 10,000 are 100 files, not a million); without it a temporary folder holds them
  during ``fit`` only, so the final pass does not encode twice.
- BERTopic's ``partial_fit`` keeps the topics of the last chunk only, so a final pass assigns every
  quote: project with the final PCA, nearest k-means centre. ``transform`` applies the same rule, so
  the training quotes get the same topic from it, before and after saving.
- Topic words are BERTopic's c-TF-IDF over the bag of words accumulated while fitting (older chunks
  weighted down by ``decay`` when set; leave it ``None`` for a fixed corpus, where every quote counts
  the same). ``n_topics=None`` uses bertopic.v2's rule, ``clip(round(sqrt(n) / 2), 2, 25)``.
- Unsupervised only. No BERTopic object is kept after fitting (``model_`` is None), because its
  figures re-read every quote: the run writes tables, not BERTopic's HTML figures, for this mode.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.topics.base import TopicModel
from lived_themes.topics.bertopic_v2 import auto_topics
from lived_themes.topics.vectorizer import BLANK, LemmaTokenizer
from lived_themes.encoders.sentence import encode_chunk

if TYPE_CHECKING:
    from lived_themes.codebook import Codebook

STATE_FILE = "online_state.npz"
WORDS_FILE = "topic_words.json"


def chunk_bounds(n: int, chunk_size: int, minimum: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk; a last chunk smaller than ``minimum`` joins the one before.

    IncrementalPCA and MiniBatchKMeans refuse a first batch with fewer rows than components or
    clusters, and a tiny last batch would pull the centres toward a handful of quotes.
    """
    bounds = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < minimum:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def _one_blas_thread() -> Any:
    """BLAS on one thread for the small per-chunk products and PCA updates.

    OpenBLAS's idle threads spin-wait: on a busy two-core machine its second thread made the chunked
    fit many times slower (docs/scaling.md gives the measurement), and one thread also makes the
    result independent of the machine's thread count.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class OnlineBERTopicModel(TopicModel):
    """BERTopic's online mode (IncrementalPCA, MiniBatchKMeans, OnlineCountVectorizer) over chunks (module docstring)."""

    name = "bertopic-online.v1"
    #: False on purpose: a runner must not build the whole embedding matrix for this mode; it embeds chunk by chunk.
    uses_embeddings = False

    def __init__(
        self,
        encoder: str | None = None,
        *,
        n_topics: int | None = None,
        chunk_size: int = 10_000,
        n_components: int = 5,
        decay: float | None = None,
        delete_min_df: float | None = None,
        top_n_words: int = 25,
        spacy_pipeline: str = BLANK,
        embedding_cache: str | None = None,
        seed: int | None = 42,
        device: str | None = None,
    ) -> None:
        if n_topics is not None and int(n_topics) < 2:
            raise ValueError(f"n_topics must be at least 2 (or None), got {n_topics}")
        if int(chunk_size) < 2:
            raise ValueError(f"chunk_size must be at least 2, got {chunk_size}")
        if int(n_components) < 1:
            raise ValueError(f"n_components must be at least 1, got {n_components}")
        if decay is not None and not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"decay must be between 0 and 1 (or None), got {decay}")
        self.encoder = encoder
        self.n_topics = n_topics
        self.chunk_size = chunk_size
        self.n_components = n_components
        self.decay = decay
        self.delete_min_df = delete_min_df
        self.top_n_words = top_n_words
        self.spacy_pipeline = spacy_pipeline
        self.embedding_cache = embedding_cache
        self.seed = seed
        self.device = device

    # ----- embeddings, one chunk at a time ----------------------------------------------------
    def _chunk_embeddings(self, texts: list[str], embeddings: Any, start: int, stop: int, cache: Path | None) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts[start:stop]``: sliced from ``embeddings`` when given, else encoded (or read from ``cache``)."""
        if embeddings is not None:
            block = np.asarray(embeddings[start:stop], dtype=np.float32)
        else:
            block = encode_chunk(texts[start:stop], encoder=self.encoder, cache_dir=cache, device=self.device)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        return block / np.where(norms > 0, norms, 1.0)

    # ----- fitting ---------------------------------------------------------------------------
    def _fit(self, texts: list[str], *, embeddings: Any, codebook: Codebook | None, labels: np.ndarray | None) -> None:
        n = len(texts)
        k = max(1, min(int(self.n_topics) if self.n_topics is not None else auto_topics(n), n))
        if int(self.chunk_size) < k:
            raise ValueError(f"chunk_size ({self.chunk_size}) must be at least the number of topics ({k}): k-means starts from the first chunk")
        bounds = chunk_bounds(n, int(self.chunk_size), max(k, int(self.n_components)))
        with tempfile.TemporaryDirectory(prefix="lived-themes-online-") as spill, _one_blas_thread():
            cache = Path(self.embedding_cache) if self.embedding_cache else Path(spill)
            model = None
            for start, stop in bounds:
                block = self._chunk_embeddings(texts, embeddings, start, stop, cache)
                if model is None:  # fewer components than rows or dimensions is all PCA can give
                    model = self._online_bertopic(k, max(1, min(int(self.n_components), block.shape[1], stop - start)))
                # float64 throughout: IncrementalPCA's output dtype changes after its first update, and MiniBatchKMeans needs the one it started with
                model.partial_fit(texts[start:stop], embeddings=block.astype(np.float64))
            self._keep_state(model)
            topics = np.empty(n, dtype=int)
            scores = np.empty(n, dtype=float)
            for start, stop in bounds:  # partial_fit kept only the last chunk's topics: assign every quote
                topics[start:stop], distance = self._assign(self._chunk_embeddings(texts, embeddings, start, stop, cache))
                scores[start:stop] = 1.0 / (1.0 + distance)
        self.topics_ = topics
        self.doc_scores_ = scores  # closer to the topic's k-means centre = more representative
        self.model_ = None

    def _online_bertopic(self, k: int, components: int) -> Any:
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer, OnlineCountVectorizer
        from sklearn.cluster import MiniBatchKMeans
        from sklearn.decomposition import IncrementalPCA

        vectorizer = OnlineCountVectorizer(
            decay=self.decay, delete_min_df=self.delete_min_df, tokenizer=LemmaTokenizer(self.spacy_pipeline), lowercase=False, token_pattern=None
        )
        return BERTopic(
            embedding_model=None,
            umap_model=IncrementalPCA(n_components=components),
            hdbscan_model=MiniBatchKMeans(n_clusters=k, random_state=self.seed),
            vectorizer_model=vectorizer,
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=False),
            top_n_words=self.top_n_words,
            language="multilingual",  # "english" would strip accents and apostrophes before c-TF-IDF (see bertopic.v2)
        )

    def _keep_state(self, model: Any) -> None:
        """The projection, the centres that became topics, and each topic's words: all transform and topic_words need."""
        mapping = {int(c): int(t) for c, t in model.topic_mapper_.get_mappings().items()}
        centres = np.asarray(model.hdbscan_model.cluster_centers_, dtype=np.float64)
        used = [c for c in range(len(centres)) if c in mapping]  # a centre no chunk ever labelled has no topic
        self.pca_mean_ = np.asarray(model.umap_model.mean_, dtype=np.float64)
        self.pca_components_ = np.asarray(model.umap_model.components_, dtype=np.float64)
        self.centres_ = centres[used]
        self.centre_topics_ = np.asarray([mapping[c] for c in used], dtype=int)
        self.words_ = {int(t): [w for w, _ in (model.get_topic(int(t)) or []) if w] for t in self.centre_topics_}

    def _assign(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Topic of the nearest centre in the PCA space, and the distance to it."""
        z = (np.asarray(unit, dtype=np.float64) - self.pca_mean_) @ self.pca_components_.T
        d2 = (z**2).sum(axis=1)[:, None] - 2.0 * z @ self.centres_.T + (self.centres_**2).sum(axis=1)[None, :]
        nearest = d2.argmin(axis=1)
        return self.centre_topics_[nearest], np.sqrt(np.maximum(d2[np.arange(len(z)), nearest], 0.0))

    # ----- using -------------------------------------------------------------------------------
    def transform(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        texts = list(texts)
        out = np.zeros(len(texts), dtype=int)
        cache = Path(self.embedding_cache) if self.embedding_cache else None
        with _one_blas_thread():
            for start, stop in chunk_bounds(len(texts), int(self.chunk_size), 1):
                out[start:stop] = self._assign(self._chunk_embeddings(texts, embeddings, start, stop, cache))[0]
        return out

    def topic_words(self, n: int = 10) -> dict[int, list[str]]:
        return {t: words[:n] for t, words in self.words_.items()}

    # ----- persistence -------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        np.savez(folder / STATE_FILE, pca_mean=self.pca_mean_, pca_components=self.pca_components_, centres=self.centres_,
                 centre_topics=self.centre_topics_)
        (folder / WORDS_FILE).write_text(json.dumps({str(k): v for k, v in self.words_.items()}, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        with np.load(folder / STATE_FILE, allow_pickle=False) as data:
            self.pca_mean_ = data["pca_mean"]
            self.pca_components_ = data["pca_components"]
            self.centres_ = data["centres"]
            self.centre_topics_ = data["centre_topics"].astype(int)
        self.words_ = {int(k): v for k, v in json.loads((folder / WORDS_FILE).read_text(encoding="utf-8")).items()}
        self.model_ = None


"""``knn.v1``: retrieval coding. A quote gets the codes of its most similar labelled quotes.

Each quote is embedded with a sentence encoder (:mod:`lived_themes.encoders.sentence`); its ``k``
nearest labelled quotes by cosine similarity vote for their codes, each vote weighted by its
similarity (``weighting="similarity"``) or by a softmax of similarities (``"softmax"``). A code's
score is the weighted share of neighbours that carry it, so it lies in [0, 1].

Useful from tens of labels and cheap to refit (only new quotes are encoded). Thresholds are tuned
per code on leave-one-out scores: each training quote is scored by its neighbours other than itself,
which is exact out-of-sample retrieval at no extra cost. :meth:`KnnCoder.neighbours` exposes the
retrieval itself (quote ids and similarities) for other coders, e.g. an LLM prompted with examples.

Saved without pickle: embeddings and labels in ``index.safetensors``, quote ids in ``index.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from lived_themes.coders._context import with_context
from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.encoders.sentence import encode

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
INDEX_TENSORS = "index.safetensors"
INDEX_JSON = "index.json"
WEIGHTINGS = ("similarity", "softmax")
#: Queries are scored in blocks so the similarity matrix stays small for large corpora.
BLOCK = 2048


class KnnCoder(Coder):
    """The ``k`` most similar labelled quotes vote for their codes, weighted by similarity."""

    name: ClassVar[str] = "knn.v1"
    zero_shot: ClassVar[bool] = False

    def __init__(
        self,
        encoder: str | None = None,
        k: int = 10,
        weighting: str = "similarity",
        temperature: float = 0.05,
        tune: bool = True,
        context_columns: list[str] | None = None,
        id_column: str = "quote_id",
        device: str | None = None,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.encoder = encoder
        self.k = k
        self.weighting = weighting
        self.temperature = temperature
        self.tune = tune
        self.context_columns = context_columns
        self.id_column = id_column
        self.device = device

    def _check_params(self) -> None:
        super()._check_params()
        if int(self.k) < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    def _embed(self, texts: Sequence[str], metadata: pd.DataFrame | None) -> np.ndarray:
        inputs = with_context(list(texts), metadata, self.context_columns)
        if not inputs:
            return np.zeros((0, self.embeddings_.shape[1] if hasattr(self, "embeddings_") else 0), dtype=np.float32)
        vectors = encode(inputs, encoder=self.encoder, device=self.device, normalize=True)
        return _unit(vectors.astype(np.float32))

    # ----- fitting ---------------------------------------------------------------------------------
    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        self._check_params()
        if not texts:
            raise ValueError("knn.v1 needs at least one labelled quote")
        self.embeddings_ = self._embed(texts, metadata)
        self.labels_ = labels.astype(np.float32)
        if metadata is not None and self.id_column in metadata.columns:
            self.ids_ = [str(v) for v in metadata[self.id_column].tolist()]
        else:
            self.ids_ = [str(i) for i in range(len(texts))]
        if self.tune and len(texts) >= 3:
            loo = self._scores_from(*self._search(self.embeddings_, exclude_self=True))
            self.tuning_ = (labels, loo)
            self.thresholds_ = tune_thresholds(labels, loo)
        log.info("knn: %d labelled quotes indexed, k=%d", len(texts), min(int(self.k), len(texts)))

    # ----- retrieval -------------------------------------------------------------------------------
    def _search(self, queries: np.ndarray, *, k: int | None = None, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(positions (n, k'), similarities (n, k')) of the nearest labelled quotes, most similar first."""
        n_index = len(self.embeddings_) - (1 if exclude_self else 0)
        kk = max(0, min(int(self.k if k is None else k), n_index))
        positions = np.zeros((len(queries), kk), dtype=np.int64)
        similarities = np.zeros((len(queries), kk), dtype=np.float32)
        if kk == 0:
            return positions, similarities
        index = self.embeddings_.astype(np.float32)
        for start in range(0, len(queries), BLOCK):
            sim = queries[start:start + BLOCK].astype(np.float32) @ index.T
            if exclude_self:
                rows = np.arange(start, start + len(sim))
                sim[np.arange(len(sim)), rows] = -np.inf
            part = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
            part_sim = np.take_along_axis(sim, part, axis=1)
            order = np.argsort(-part_sim, axis=1, kind="stable")
            positions[start:start + len(sim)] = np.take_along_axis(part, order, axis=1)
            similarities[start:start + len(sim)] = np.take_along_axis(part_sim, order, axis=1)
        return positions, similarities

    def neighbours(self, texts: Sequence[str], k: int | None = None, *, metadata: pd.DataFrame | None = None) -> tuple[list[list[str]], np.ndarray]:
        """For each text, the ids of its ``k`` most similar labelled quotes and their cosine similarities (n, k)."""
        positions, similarities = self._search(self._embed(texts, metadata), k=k)
        return [[self.ids_[p] for p in row] for row in positions], similarities

    def _scores_from(self, positions: np.ndarray, similarities: np.ndarray) -> np.ndarray:
        if positions.shape[1] == 0:
            return np.zeros((len(positions), self.labels_.shape[1]))
        if self.weighting == "softmax":
            logits = similarities.astype(np.float64) / self.temperature
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        else:  # negative similarity is "unrelated": such a neighbour gets (almost) no vote
            weights = np.clip(similarities.astype(np.float64), 1e-6, None)
        weights /= weights.sum(axis=1, keepdims=True)
        votes = self.labels_.astype(np.float64)[positions]  # (n, k', codes)
        return np.clip(np.einsum("nk,nkc->nc", weights, votes), 0.0, 1.0)

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.codes_)))
        return self._scores_from(*self._search(self._embed(texts, metadata)))

    # ----- persistence -----------------------------------------------------------------------------
    def training_text(self) -> str | None:
        return (f"sentence embeddings of the training quotes ({INDEX_TENSORS}) and their quote ids ({INDEX_JSON}): "
                "no words, but an embedding can be matched to a quote that is known")

    def _save_state(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"embeddings": np.ascontiguousarray(self.embeddings_, dtype=np.float32),
                   "labels": np.ascontiguousarray(self.labels_, dtype=np.float32)}, str(folder / INDEX_TENSORS))
        (folder / INDEX_JSON).write_text(json.dumps({"ids": self.ids_}, ensure_ascii=False), encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        from safetensors.numpy import load_file

        state = load_file(str(folder / INDEX_TENSORS))
        self.embeddings_, self.labels_ = state["embeddings"], state["labels"]
        self.ids_ = [str(v) for v in json.loads((folder / INDEX_JSON).read_text(encoding="utf-8"))["ids"]]
        if self.labels_.shape != (len(self.ids_), len(self.codes_)) or len(self.embeddings_) != len(self.ids_):
            raise ValueError(f"{folder / INDEX_TENSORS}: index shapes do not match {len(self.ids_)} quotes and {len(self.codes_)} codes")


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)

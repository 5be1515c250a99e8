"""Zero-shot coding: how close is a quote, in sentence-embedding space, to each code's description?

Each code is represented by the embedding of ``code.description()`` (label, definition, include
notes) and, when ``use_examples``, of each of its example quotes. A quote's raw similarity to a
code is the cosine with those vectors, combined by ``aggregate`` ("max" or "mean"). It becomes
a score in [0, 1] by ``scoring``:

* ``"cosine"``: the cosine clipped at 0 (negative similarity means "unrelated", not "opposite");
  scores of different codes are independent, as fits multi-label coding.
* ``"softmax"``: a softmax of the cosines across codes with ``temperature``; the scores of one
  quote sum to 1, so it suits codebooks where a quote usually carries one code.

Leakage: when the codebook's examples are quotes from the corpus being evaluated, the coder has
seen those answers (an example quote scores cosine 1 with its own code). Set
``use_examples=False`` for an honest zero-shot figure, or drop those quotes from the test set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.codebook import Codebook
from lived_themes.coders._modelfiles import expect_shape, safetensors_header
from lived_themes.encoders.sentence import encode
from lived_themes.errors import ModelFileError

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)

VECTORS = "code_vectors.safetensors"
AGGREGATES = ("max", "mean")
SCORINGS = ("cosine", "softmax")


class CodebookSimilarityCoder(Coder):
    """Scores quotes by sentence-embedding similarity to the codebook's descriptions and examples; needs no labels."""

    name = "codebook-similarity.v1"
    zero_shot = True

    def __init__(
        self,
        encoder: str | None = None,
        threshold: float = 0.3,
        top_k: int | None = None,
        aggregate: str = "max",
        scoring: str = "cosine",
        temperature: float = 0.05,
        use_examples: bool = True,
        tune: bool = False,
        device: str | None = None,
        label_mode: str = "multi",
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.encoder = encoder
        self.threshold = threshold
        self.aggregate = aggregate
        self.scoring = scoring
        self.temperature = temperature
        self.use_examples = use_examples
        self.tune = tune
        self.device = device

    def _check_params(self) -> None:
        super()._check_params()
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    def _encode(self, texts: list[str]) -> np.ndarray:
        return encode(texts, encoder=self.encoder, device=self.device)

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        self._check_params()
        book = codebook if codebook is not None else Codebook.from_codes(self.codes_)
        missing = [c for c in self.codes_ if c not in book.code_ids]
        if missing:
            raise ValueError(f"codes {missing} are not in codebook {book.name!r}; it has {book.code_ids}")
        rows: list[str] = []
        owners: list[int] = []
        for j, code_id in enumerate(self.codes_):
            code = book.code(code_id)
            for text in [code.description(), *(code.examples if self.use_examples else [])]:
                rows.append(text)
                owners.append(j)
        self.code_vectors_ = self._encode(rows).astype(np.float32)
        self.owners_ = np.asarray(owners, dtype=np.int64)
        self.thresholds_ = np.full(len(self.codes_), float(self.threshold))
        if self.tune and labels is not None and len(texts):
            scores = self.predict_proba(texts)  # zero-shot: nothing was learned from these quotes, so they act as held out
            self.thresholds_ = tune_thresholds(labels, scores, default=float(self.threshold))
            self.tuning_ = (labels, scores)  # single-label mode tunes its none-threshold on these
        log.info("codebook-similarity: %d code vectors for %d codes", len(rows), len(self.codes_))

    def predict_proba(self, texts: Any, *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        texts = list(texts)
        k = len(self.codes_)
        if not texts:
            return np.zeros((0, k))
        cosine = self._encode(texts).astype(np.float64) @ self.code_vectors_.astype(np.float64).T
        similarity = np.empty((len(texts), k))
        for j in range(k):
            columns = cosine[:, self.owners_ == j]
            similarity[:, j] = columns.max(axis=1) if self.aggregate == "max" else columns.mean(axis=1)
        if self.scoring == "cosine":
            return np.clip(similarity, 0.0, 1.0)
        logits = similarity / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def _save_state(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"vectors": np.ascontiguousarray(self.code_vectors_), "owners": self.owners_}, str(folder / VECTORS))

    def _load_state(self, folder: Path) -> None:
        """Code vectors from safetensors, checked: every code owns at least one vector."""
        from safetensors.numpy import load_file

        path = folder / VECTORS
        header = safetensors_header(path)
        for name in ("vectors", "owners"):
            if name not in header:
                raise ModelFileError("the tensor is missing", file=path, field=name)
        expect_shape(path, "vectors", header["vectors"][1], (None, None), "(vectors x dimensions)")
        expect_shape(path, "owners", header["owners"][1], (header["vectors"][1][0],), "(one code index per vector)")
        state = load_file(str(path))
        owners = state["owners"]
        if owners.dtype.kind not in "iu" or (len(owners) and (owners.min() < 0 or owners.max() >= len(self.codes_))):
            raise ModelFileError(f"code indexes must be integers in 0..{len(self.codes_) - 1}", file=path, field="owners")
        without = [c for j, c in enumerate(self.codes_) if not (owners == j).any()]
        if without:
            raise ModelFileError(f"code(s) {without} have no vector, so they could never be scored", file=path, field="owners")
        self.code_vectors_, self.owners_ = state["vectors"], owners

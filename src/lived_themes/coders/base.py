"""The coder protocol: every coder fits on (texts, 0/1 label matrix, codes) and predicts probabilities.

Constructors only store parameters; learned state ends in ``_``. A coder is saved as a folder:
``coder.json`` (registered name, parameters, codes, thresholds) plus the coder's own state files,
in formats that never execute code on load (JSON, safetensors, ``np.load(allow_pickle=False)``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from lived_themes.coders._modelfiles import finite_numbers, read_json
from lived_themes.coders.single_label import LABEL_MODES, tune_none_threshold, argmax_or_none
from lived_themes.errors import ModelFileError, shown
from lived_themes.registry import CODERS, constructor_params, get_coder_class

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

CODER_FILE = "coder.json"
FORMAT_VERSION = 1


class Coder(ABC):
    """Base class for coders. Subclasses implement ``_fit``, ``predict_proba``, ``_save_state``, ``_load_state``."""

    #: The registered, versioned name (e.g. ``"tfidf-logreg.v1"``), set by subclasses.
    name: ClassVar[str] = ""
    #: Whether the coder can produce codes with no training labels (zero-shot).
    zero_shot: ClassVar[bool] = False

    codes_: list[str]
    thresholds_: np.ndarray
    #: Single-label mode when set: the top code is given only if its score reaches this; None = multi-label.
    none_threshold_: float | None = None

    # ----- parameters (sklearn-style: constructor arguments are the parameters) ------------------
    def get_params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in constructor_params(type(self))}

    def input_columns(self) -> list[str]:
        """Metadata columns the coder reads with each text when predicting (its ``context_columns``).

        ``lived-themes predict`` checks them against the input's header before coding anything.
        """
        return list(getattr(self, "context_columns", None) or [])

    # ----- fitting and predicting ------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: np.ndarray | None,
        codes: Sequence[str],
        *,
        codebook: Codebook | None = None,
        metadata: pd.DataFrame | None = None,
        label_mode: str = "multi",
    ) -> Coder:
        """Learn from texts and an (n, k) 0/1 matrix over ``codes``. ``labels`` may be None for zero-shot coders.

        ``label_mode="single"``: the coder will give each quote its top code or none, with a none-threshold
        tuned on the held-out scores a coder keeps in ``tuning_`` (labels, scores) while fitting (0.5 without).
        """

        if label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
        if labels is not None:
            labels = np.asarray(labels, dtype=float)
            if labels.shape != (len(texts), len(codes)):
                raise ValueError(f"labels must have shape ({len(texts)}, {len(codes)}), got {labels.shape}")
            if np.isnan(labels).any():
                raise ValueError("labels contain NaN rows: train only on quotes the reference coder saw")
        elif not self.zero_shot:
            raise ValueError(f"{self.name} needs training labels")
        self.codes_ = list(codes)
        self.thresholds_ = np.full(len(self.codes_), 0.5)
        self.none_threshold_ = None
        self.tuning_: tuple[np.ndarray, np.ndarray] | None = None
        self._fit(list(texts), labels, codebook=codebook, metadata=metadata)
        if label_mode == "single":
            self.none_threshold_ = tune_none_threshold(*self.tuning_) if self.tuning_ is not None else 0.5
        return self

    @abstractmethod
    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        """Learn state; may set ``self.thresholds_`` (one per code)."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """(n, k) scores in [0, 1], one column per code in ``codes_`` order."""

    def predict(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """(n, k) 0/1 codes: ``codes_from_scores(predict_proba(texts))``. Subclasses change the rule there, not here."""
        return self.codes_from_scores(self.predict_proba(texts, metadata=metadata))

    def codes_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """(n, k) 0/1 codes from (n, k) scores: each score compared with its code's threshold, or, in single-label
        mode, the top code when it clears the none-threshold.

        The one rule that turns scores into codes. ``predict`` uses it, and so does every path that
        already holds the scores (cross-validation, ``lived-themes predict``, topic scoring), so a
        coder's own rule (e.g. ``top_k``) applies everywhere.
        """
        scores = np.asarray(scores, dtype=float)
        if self.none_threshold_ is not None:
            return argmax_or_none(scores, self.none_threshold_)
        return (scores >= self.thresholds_[None, :]).astype(int)

    # ----- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "coder": self.name,
            "params": self.get_params(),
            "codes": self.codes_,
            "thresholds": [float(t) for t in self.thresholds_],
        }
        if self.none_threshold_ is not None:
            meta["label_mode"], meta["none_threshold"] = "single", float(self.none_threshold_)
        (folder / CODER_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        self._save_state(folder)
        return folder

    @abstractmethod
    def _save_state(self, folder: Path) -> None:
        """Write learned state next to coder.json in a format that runs no code when read."""

    @abstractmethod
    def _load_state(self, folder: Path) -> None:
        """Read back what ``_save_state`` wrote."""

    @classmethod
    def _from_meta(cls, meta: dict[str, Any], folder: Path) -> Coder:
        coder = cls(**meta["params"])
        coder.codes_ = list(meta["codes"])
        coder.thresholds_ = np.asarray(meta["thresholds"], dtype=float)
        coder.none_threshold_ = float(meta["none_threshold"]) if meta.get("none_threshold") is not None else None
        coder._load_state(folder)
        return coder


def load_coder(directory: str | Path) -> Coder:
    """Load any saved coder: reads coder.json, looks its registered name up, and restores its state.

    Everything is checked first (see ``coders/_modelfiles.py``): a missing, corrupt, pickled or
    mismatched file raises :class:`~lived_themes.errors.ModelFileError` naming the file, never
    a partial model.
    """

    folder = Path(directory)
    if not folder.is_dir():
        raise ModelFileError("not a saved model folder (no such folder)" if not folder.exists() else "not a saved model folder (a file)", file=folder)
    meta_path = folder / CODER_FILE
    if not meta_path.exists():
        raise ModelFileError(f"not a saved model folder (no {CODER_FILE})", file=folder)
    meta = read_json(meta_path)
    missing = [key for key in ("coder", "params", "codes", "thresholds") if key not in meta]
    if missing:
        raise ModelFileError("a required key is missing", file=meta_path, field=missing[0])
    name = meta["coder"]
    if not isinstance(name, str) or name not in CODERS:
        raise ModelFileError(f"unknown coder {shown(name)}; registered coders: {sorted(CODERS)}", file=meta_path, field="coder")
    codes = meta["codes"]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
        raise ModelFileError("expected a non-empty list of code names", file=meta_path, field="codes")
    if len(set(codes)) != len(codes):
        raise ModelFileError("a code is listed twice", file=meta_path, field="codes")
    thresholds = finite_numbers(meta["thresholds"], path=meta_path, field="thresholds")
    if len(thresholds) != len(codes):
        raise ModelFileError(f"{len(thresholds)} thresholds for {len(codes)} codes", file=meta_path, field="thresholds")
    cls = get_coder_class(name)
    params = meta["params"]
    if not isinstance(params, dict):
        raise ModelFileError("expected a JSON object of parameters", file=meta_path, field="params")
    unknown = sorted(set(params) - set(constructor_params(cls)))
    if unknown:
        raise ModelFileError(f"unknown parameter(s) {unknown} for {name}; it takes {constructor_params(cls)}", file=meta_path, field="params")
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"parameters rejected by {name}: {exc}", file=meta_path, field="params") from None
    try:
        return cls._from_meta(meta, folder)
    except (ModelFileError, ImportError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a state file no reader check caught: still located, never a traceback
        raise ModelFileError(f"cannot load the model state ({type(exc).__name__}: {exc})", file=folder) from None


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray, *, grid: np.ndarray | None = None, default: float = 0.5) -> np.ndarray:
    """Per-code threshold that maximises F1 on held-out data; codes with no positives keep ``default``.

    Shared by every coder that tunes thresholds, so they all tune them the same way.
    """
    grid = np.linspace(0.05, 0.95, 19) if grid is None else grid
    y_true = np.asarray(y_true, dtype=bool)
    thresholds = np.full(y_true.shape[1], default)
    for j in range(y_true.shape[1]):
        if not y_true[:, j].any():
            continue
        predicted = scores[:, j][:, None] >= grid[None, :]
        tp = (predicted & y_true[:, j][:, None]).sum(0)
        fp = (predicted & ~y_true[:, j][:, None]).sum(0)
        fn = (~predicted & y_true[:, j][:, None]).sum(0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        thresholds[j] = grid[int(np.argmax(f1))]
    return thresholds

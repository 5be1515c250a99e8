"""The coder protocol: every coder fits on (texts, 0/1 label matrix, codes) and predicts probabilities.

Constructors only store parameters; learned state ends in ``_``. A coder is saved as a folder:
``coder.json`` (registered name, parameters, codes, thresholds) plus the coder's own state files,
in formats that never execute code on load (JSON, safetensors, ``np.load(allow_pickle=False)``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from lived_themes.coders._integrity import RUNTIME_KEYS, check_model_files, runtime_key_in, seal, verify, without_runtime
from lived_themes.coders._modelfiles import finite_numbers, read_json
from lived_themes.errors import ConfigError, LivedThemesError, ModelFileError, shown
from lived_themes.files import write_text_atomic
from lived_themes.registry import CODERS, constructor_params, get_coder_class

from lived_themes.coders.decision import Decision, check_decision_params, tune_none_threshold, tune_thresholds

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

__all__ = ["CODER_FILE", "Coder", "Decision", "load_coder", "tune_thresholds"]

CODER_FILE = "coder.json"
#: 2: coder.json carries a SHA-256 of each saved file and a checksum over codes, thresholds and parameters.
FORMAT_VERSION = 2
#: How ``lived-themes predict`` takes each run-time setting (named in messages).
SETTING_OPTIONS = {"base_url": "--llm-base-url", "allow_remote": "--allow-remote", "cache_dir": "--llm-cache-dir",
                   "api_key_env": "--llm-api-key-env"}


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
    #: Constructor parameters that decide where text is sent or stored: the user's run-time settings, never saved.
    runtime_params: ClassVar[tuple[str, ...]] = ()

    def required_settings(self) -> tuple[str, ...]:
        """Run-time settings a saved model of this coder cannot be loaded without (``llm.v1`` over http: ``base_url``)."""
        return ()

    def training_text(self) -> str | None:
        """What of the training quotes' text the saved state holds, said in coder.json (``contains_training_text``); None: none."""
        return None
    #: The decision parameters every coder takes (constructor arguments, so ``get_params`` and config.yaml record them):
    #: ``label_mode`` (multi / single / auto) and ``top_k`` (at most this many codes per quote; None = any number).
    label_mode: str = "multi"
    top_k: int | None = None

    # ----- parameters (sklearn-style: constructor arguments are the parameters) ------------------
    def get_params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in constructor_params(type(self))}

    def set_params(self, **params: Any) -> Coder:
        """Change constructor parameters of an unfitted coder (scikit-learn style); unknown names are an error."""

        unknown = sorted(set(params) - set(constructor_params(type(self))))
        if unknown:
            raise ValueError(f"{self.name} takes no parameter(s) {unknown}")
        for key, value in params.items():
            setattr(self, key, value)
        check_decision_params(self.label_mode, self.top_k)
        return self

    def _check_params(self) -> None:
        """Check every parameter value without loading anything; raises ValueError naming the parameter.

        The one place a coder checks its parameters: ``registry.check_params`` runs it at config load
        (so a bad value fails there, with its key path) and ``fit`` runs it again before training.
        Subclasses extend it (calling ``super()._check_params()``).
        """
        check_decision_params(self.label_mode, self.top_k)

    def _set_decision_params(self, label_mode: str, top_k: int | None) -> None:
        """Store and check the decision parameters: a bad value fails when the coder is built (at config load)."""
        check_decision_params(label_mode, top_k)
        self.label_mode = label_mode
        self.top_k = top_k

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
        label_mode: str | None = None,
    ) -> Coder:
        """Learn from texts and an (n, k) 0/1 matrix over ``codes``. ``labels`` may be None for zero-shot coders.

        With the ``label_mode`` parameter ``"single"`` (or ``"auto"`` on labels with at most one code per
        quote) the coder gives each quote its top code or none, with a none-threshold tuned on the held-out
        scores a coder keeps in ``tuning_`` (labels, scores) while fitting (0.5 without). ``label_mode``
        here is the older way to set that parameter, kept so existing callers work.
        """
        if label_mode is not None:
            self._set_decision_params(label_mode, self.top_k)
        self._check_params()
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
        if self._single_label(labels):
            self.none_threshold_ = tune_none_threshold(*self.tuning_) if self.tuning_ is not None else 0.5
        return self

    def _single_label(self, labels: np.ndarray | None) -> bool:
        """Whether this fit decides single-label: asked for, or ``auto`` on labels with at most one code per quote."""
        if self.label_mode == "auto":
            from lived_themes.evaluation.single_label import is_single_label

            return labels is not None and is_single_label(labels)
        return self.label_mode == "single"

    @abstractmethod
    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        """Learn state; may set ``self.thresholds_`` (one per code)."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """(n, k) scores in [0, 1], one column per code in ``codes_`` order."""

    def predict(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """(n, k) 0/1 codes: ``codes_from_scores(predict_proba(texts))``."""
        return self.codes_from_scores(self.predict_proba(texts, metadata=metadata))

    @property
    def decision(self) -> Decision:
        """The fitted coder's rule from scores to codes: its thresholds, ``top_k``, or single-label none-threshold."""
        return Decision(np.asarray(self.thresholds_, dtype=float), top_k=getattr(self, "top_k", None), none_threshold=self.none_threshold_)

    def codes_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """(n, k) 0/1 codes from (n, k) scores: ``self.decision.codes_from_scores``.

        The one rule that turns scores into codes. ``predict`` uses it, and so does every path that
        already holds the scores (cross-validation, evidence, review, ``lived-themes predict``, topic
        scoring), so a coder's own rule (``top_k``, single-label) applies everywhere.
        """
        return self.decision.codes_from_scores(scores)

    # ----- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """The state files, then coder.json: parameters without run-time settings, and a checksum tying codes to weights."""

        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_state(folder)
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "coder": self.name,
            "params": without_runtime(self.get_params()),
            "codes": self.codes_,
            "thresholds": [float(t) for t in self.thresholds_],
        }
        if self.none_threshold_ is not None:
            meta["label_mode"], meta["none_threshold"] = "single", float(self.none_threshold_)
        meta["contains_training_text"] = self.training_text() or False
        write_text_atomic(folder / CODER_FILE, json.dumps(seal(meta, folder, exclude=CODER_FILE), indent=2, ensure_ascii=False))
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
        if coder.none_threshold_ is not None and "label_mode" not in meta["params"]:
            coder.label_mode = "single"  # saved before label_mode was a parameter: the mode it was fitted in
        coder._load_state(folder)
        return coder


@dataclass
class _Settings:
    """Run-time settings of one top-level load, shared with the nested loads of its members (an ensemble's)."""

    values: dict[str, Any]
    used: set[str] = field(default_factory=set)


_SETTINGS: ContextVar[_Settings | None] = ContextVar("lived_themes_runtime_settings", default=None)


def _checked_settings(settings: dict[str, Any] | None) -> dict[str, Any]:

    out: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if key not in RUNTIME_KEYS:
            raise ConfigError(f"unknown run-time setting {key!r}; the run-time settings are {list(RUNTIME_KEYS)}")
        if key == "allow_remote":
            if not isinstance(value, bool):
                raise ConfigError(f"run-time setting allow_remote must be true or false, got {value!r}")
        elif value is not None and not isinstance(value, (str, Path)):
            raise ConfigError(f"run-time setting {key} must be text, got {type(value).__name__}")
        out[key] = str(value) if isinstance(value, Path) else value
    return out


def load_coder(directory: str | Path, settings: dict[str, Any] | None = None) -> Coder:
    """Load any saved coder: reads coder.json, looks its registered name up, and restores its state.

    Everything is checked (see ``coders/_modelfiles.py`` and ``coders/_integrity.py``): a missing, corrupt,
    pickled, special or linked-from-outside file, an unknown ``format_version``, a checksum that no longer
    matches the codes and weights, or a setting that decides where text goes raises
    :class:`~lived_themes.errors.ModelFileError` naming the file, never a partial model.

    ``settings`` are the user's run-time settings (``base_url``, ``allow_remote``, ``cache_dir``,
    ``api_key_env``): where text may be sent or stored is decided here, never by the model folder. A setting
    that no coder of the model takes is refused, and so is a model that needs one it was not given.
    """

    folder = Path(directory)
    outer = _SETTINGS.get()
    if settings is None and outer is not None:  # a member of a model being loaded: the same settings
        return _load(folder, outer)
    state = _Settings(_checked_settings(settings))
    token = _SETTINGS.set(state)
    try:
        coder = _load(folder, state)
    finally:
        _SETTINGS.reset(token)
    unused = [key for key in state.values if key not in state.used]
    if unused:
        raise ConfigError(f"run-time setting {unused[0]} was given, but this model ({coder.name}) sends no text anywhere and "
                          "keeps no cache: leave it out")
    return coder


def _load(folder: Path, state: _Settings) -> Coder:

    if not folder.is_dir():
        raise ModelFileError("not a saved model folder (no such folder)" if not folder.exists() else "not a saved model folder (a file)", file=folder)
    meta_path = folder / CODER_FILE
    if not meta_path.exists() and not meta_path.is_symlink():
        raise ModelFileError(f"not a saved model folder (no {CODER_FILE})", file=folder)
    check_model_files(folder)  # special files and links out of the folder: refused before anything is read
    meta = read_json(meta_path)
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        older = isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION
        raise ModelFileError(f"format_version {shown(version)} is not supported: this lived-themes reads format_version {FORMAT_VERSION} "
                             + ("(saved by an older version, without a checksum of its codes: re-train and save it)" if older
                                else "(saved by a newer version, or edited: upgrade lived-themes, or re-save the model)"),
                             file=meta_path, field="format_version")
    missing = [key for key in ("coder", "params", "codes", "thresholds", "files", "checksum") if key not in meta]
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
    carried = runtime_key_in(params)
    if carried:
        key = carried.rsplit(".", 1)[-1]
        raise ModelFileError(f"{key} decides where quote text is sent or stored, which is the user's choice at run time, never a "
                             f"saved model's: refused (remove it from {CODER_FILE}; give it to predict as {SETTING_OPTIONS.get(key, key)})",
                             file=meta_path, field=f"params.{carried}")
    unknown = sorted(set(params) - set(constructor_params(cls)))
    if unknown:
        raise ModelFileError(f"unknown parameter(s) {unknown} for {name}; it takes {constructor_params(cls)}", file=meta_path, field="params")
    try:
        _checked(cls(**params))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"parameters rejected by {name}: {exc}", file=meta_path, field="params") from None
    taken = {key: value for key, value in state.values.items() if key in cls.runtime_params}
    state.used.update(taken)
    try:
        configured = _checked(cls(**params, **taken))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"run-time settings rejected by {name}: {exc}") from None
    needed = [key for key in configured.required_settings() if key not in taken]
    if needed:
        raise ConfigError(f"this {name} model ({folder}) sends each text to a server, and which one is the user's choice, not the "
                          f"model's: give {needed[0]} at run time (predict {SETTING_OPTIONS.get(needed[0], needed[0])} ...)")
    try:
        coder = cls._from_meta({**meta, "params": {**params, **taken}}, folder)
    except (LivedThemesError, ImportError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a state file no reader check caught: still located, never a traceback
        raise ModelFileError(f"cannot load the model state ({type(exc).__name__}: {exc})", file=folder) from None
    verify(meta, folder, meta_path)  # last, so a broken file is named by its own reader first
    return coder


def _checked(coder: Coder) -> Coder:
    check = getattr(coder, "_check_params", None)
    if callable(check):
        check()
    return coder


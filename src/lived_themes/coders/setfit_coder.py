"""``setfit.v1``: SetFit few-shot coding, for corpora of tens of quotes.

SetFit first tunes the sentence encoder contrastively on pairs of quotes (two quotes sharing a
code are pulled together), then fits one logistic regression per code on the embeddings. Pairs
grow with the square of the corpus, so a few dozen labelled quotes already give thousands of
training signals, where fine-tuning a classifier would overfit.

Saved without pickle: the body with ``SentenceTransformer.save`` (safetensors + JSON), the heads
as coefficient arrays in ``head.npz``. SetFit's own ``model_head.pkl`` is never written or read.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lived_themes.coders._context import with_context
from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.encoders.sentence import pick_device, resolve_encoder
from lived_themes.coders._modelfiles import check_hf_folder, no_pickled_weights, read_json, safetensors_header, expect_shape, load_npz
from lived_themes.coders.transformer import inner_validation_split
from lived_themes.errors import ModelFileError
from lived_themes.coders.onnx_backend import current_backend, setfit_body

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
BODY_DIR = "body"
HEAD_FILE = "head.npz"


class SetFitCoder(Coder):
    """Contrastively tuned encoder + one-vs-rest logistic regression; codes with no positives score a constant."""

    name: ClassVar[str] = "setfit.v1"
    zero_shot: ClassVar[bool] = False

    def __init__(
        self,
        encoder: str = "all-MiniLM-L6-v2",
        *,
        num_iterations: int = 20,
        num_epochs: int = 1,
        batch_size: int = 16,
        body_learning_rate: float = 2e-5,
        max_length: int = 128,
        class_weight: str | None = "balanced",
        C: float = 1.0,
        context_columns: list[str] | None = None,
        mixed_precision: bool = True,
        seed: int = 0,
        device: str | None = None,
        max_steps: int = -1,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.encoder = encoder
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_length = max_length
        self.class_weight = class_weight
        self.C = C
        self.context_columns = context_columns
        self.mixed_precision = mixed_precision
        self.seed = seed
        self.device = device
        self.max_steps = max_steps

    def _check_params(self) -> None:
        """Values checked without loading anything, so config load (registry.check_params) stops a bad one."""
        super()._check_params()
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        for name in ("num_iterations", "num_epochs", "batch_size", "max_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.C <= 0 or self.body_learning_rate < 0:
            raise ValueError("C must be positive and body_learning_rate not negative")

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        self._train(texts, labels, metadata, max_steps=self.max_steps)

    def _train(self, texts: list[str], labels: np.ndarray, metadata: pd.DataFrame | None, *, max_steps: int) -> None:
        """Contrastive body tuning then the heads, on these quotes; sets ``body_`` and the head arrays."""
        from datasets import Dataset
        from sentence_transformers import SentenceTransformer
        from setfit import SetFitModel, Trainer, TrainingArguments
        from setfit import logging as setfit_logging
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        setfit_logging.set_verbosity_warning()
        device = pick_device(self.device)
        body = SentenceTransformer(resolve_encoder(self.encoder), device=device)
        body.max_seq_length = self.max_length
        head = OneVsRestClassifier(LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000))
        model = SetFitModel(model_body=body, model_head=head, multi_target_strategy="one-vs-rest")
        inputs = with_context(texts, metadata, self.context_columns)
        data = Dataset.from_dict({"text": inputs, "label": labels.astype(int).tolist()})
        log.info("SetFit on %d quotes, %d codes, device %s", len(texts), labels.shape[1], device)
        with tempfile.TemporaryDirectory(prefix="lived-themes-setfit-") as scratch:
            args = TrainingArguments(
                output_dir=scratch,  # SetFit would otherwise write checkpoints to ./checkpoints
                save_strategy="no",
                report_to="none",
                batch_size=self.batch_size,
                num_epochs=self.num_epochs,
                num_iterations=self.num_iterations,
                body_learning_rate=self.body_learning_rate,
                max_length=self.max_length,
                max_steps=max_steps,
                use_amp=bool(self.mixed_precision and device.startswith("cuda")),
                seed=self.seed,
                show_progress_bar=False,
                logging_strategy="no",  # the runner reports progress; per-step loss lines would flood the terminal
            )
            with warnings.catch_warnings():  # sklearn warns for each code that is always or never present
                warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
                warnings.filterwarnings("ignore", message=".*pin_memory.*")  # harmless on a CPU-only machine
                trainer = Trainer(model=model, args=args, train_dataset=data)
                with contextlib.redirect_stdout(io.StringIO()) as printed:  # transformers prints loss dicts per log step
                    trainer.train()
                log.debug("SetFit training log: %s", printed.getvalue().strip())
        self.body_ = model.model_body
        self.coef_, self.intercept_, self.constant_ = _head_arrays(model.model_head, labels, body_dim=self._dim())

    def _dim(self) -> int:
        getter = getattr(self.body_, "get_embedding_dimension", None) or self.body_.get_sentence_embedding_dimension
        return int(getter())

    def _embed(self, texts: Sequence[str], metadata: pd.DataFrame | None) -> np.ndarray:
        inputs = with_context(list(texts), metadata, self.context_columns)
        if not inputs:
            return np.zeros((0, self._dim()), dtype=np.float32)

        body = self.body_ if current_backend() == "torch" else setfit_body(self, current_backend())
        return body.encode(inputs, batch_size=64, convert_to_numpy=True, show_progress_bar=len(inputs) >= 2000)

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        """Each code's logistic regression on the tuned embeddings (what sklearn's predict_proba computes)."""
        emb = self._embed(texts, metadata).astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-(emb @ self.coef_.T + self.intercept_[None, :])))
        fixed = ~np.isnan(self.constant_)
        scores[:, fixed] = self.constant_[fixed][None, :]
        return scores

    def _save_state(self, folder: Path) -> None:
        self.body_.save(str(folder / BODY_DIR), create_model_card=False, safe_serialization=True)
        np.savez(folder / HEAD_FILE, coef=self.coef_, intercept=self.intercept_, constant=self.constant_)

    def _load_state(self, folder: Path) -> None:
        """Body and head files checked first (no custom modules, no pickles, shapes per code), then loaded."""

        _check_body(folder / BODY_DIR)
        head_path = folder / HEAD_FILE
        head = load_npz(head_path, {"coef": 2, "intercept": 1, "constant": 1})
        k = len(self.codes_)
        expect_shape(head_path, "coef", head["coef"].shape, (k, None), f"({k} codes x embedding width)")
        expect_shape(head_path, "intercept", head["intercept"].shape, (k,), f"(one per code, {k} codes)")
        expect_shape(head_path, "constant", head["constant"].shape, (k,), f"(one per code, {k} codes)")
        from sentence_transformers import SentenceTransformer

        device = pick_device(None if self.device and self.device.startswith("cuda") else self.device)
        # use_safetensors: a pickled weights file in the folder is refused rather than unpickled
        self.body_ = SentenceTransformer(str(folder / BODY_DIR), device=device, model_kwargs={"use_safetensors": True},
                                         local_files_only=True)
        self.coef_, self.intercept_, self.constant_ = (head[n].astype(float) for n in ("coef", "intercept", "constant"))
        self.folder_ = folder  # the ONNX backends export the body into body/onnx (checked above)
        expect_shape(head_path, "coef", self.coef_.shape, (k, self._dim()), f"({k} codes x the body's {self._dim()} dimensions)")


def _check_body(body: Path) -> None:
    """The SetFit body: sentence-transformers modules only (no custom code), every weight file safetensors."""

    modules_path = body / "modules.json"
    modules = read_json(modules_path, kind=list)
    root = body.resolve()
    for i, module in enumerate(modules):
        kind = module.get("type") if isinstance(module, dict) else None
        if not isinstance(kind, str) or not kind.startswith("sentence_transformers."):
            raise ModelFileError("only sentence_transformers modules are loaded; custom or other classes are refused",
                                 file=modules_path, field=f"{i}.type")
        sub = (body / str(module.get("path", ""))).resolve()
        if sub != root and root not in sub.parents:
            raise ModelFileError("a module path points outside the model folder", file=modules_path, field=f"{i}.path")
        if sub != root and sub.is_dir():
            for name in sub.iterdir():
                if name.suffix == ".json":
                    read_json(name)
            if any((sub / n).exists() for n in ("pytorch_model.bin", "model.safetensors")):
                no_pickled_weights(sub, "model.safetensors")
                safetensors_header(sub / "model.safetensors")
    check_hf_folder(body)


class SetFitCoderV2(SetFitCoder):
    """``setfit.v2``: thresholds tuned on an inner validation split, and a budget of contrastive pairs.

    v1 kept every threshold at 0.5 and generated ``2 * num_iterations * n`` pairs, which made it the
    slowest coder on thousands of quotes. v2 trains the body on ``1 - validation_fraction`` of the
    quotes (grouped by ``validation_group`` when set), tunes one threshold per code on the held-out
    rest (as ``transformer.v1`` does), then refits the heads on all quotes' embeddings. At most
    ``max_pairs`` pairs are seen (a cap of pairs / batch size steps, passed only when tighter than the
    steps the quotes give anyway). Too few quotes for a validation
    split (fewer than 5 on a side) means training on all of them with thresholds at 0.5.
    """

    name: ClassVar[str] = "setfit.v2"

    def __init__(
        self,
        encoder: str = "all-MiniLM-L6-v2",
        *,
        num_iterations: int = 20,
        num_epochs: int = 1,
        batch_size: int = 16,
        body_learning_rate: float = 2e-5,
        max_length: int = 128,
        class_weight: str | None = "balanced",
        C: float = 1.0,
        context_columns: list[str] | None = None,
        mixed_precision: bool = True,
        seed: int = 0,
        device: str | None = None,
        max_steps: int = -1,
        max_pairs: int | None = 4000,
        validation_fraction: float = 0.2,
        validation_group: str | None = None,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        super().__init__(encoder, num_iterations=num_iterations, num_epochs=num_epochs, batch_size=batch_size,
                         body_learning_rate=body_learning_rate, max_length=max_length, class_weight=class_weight, C=C,
                         context_columns=context_columns, mixed_precision=mixed_precision, seed=seed, device=device,
                         max_steps=max_steps, label_mode=label_mode, top_k=top_k)
        self.max_pairs = max_pairs
        self.validation_fraction = validation_fraction
        self.validation_group = validation_group

    def _step_budget(self, n_train: int) -> int:
        """SetFit's max_steps: a cap only when tighter than the steps the pairs would take anyway (-1 = no cap).

        SetFit's ``max_steps`` overrides ``num_epochs``: passed when the natural number of steps is smaller
        (few quotes, few iterations) it would make training *longer*, so it is only passed as a cap.
        """
        natural = math.ceil(2 * int(self.num_iterations) * n_train / int(self.batch_size)) * int(self.num_epochs)
        caps = [int(self.max_steps)] if self.max_steps and self.max_steps > 0 else []
        if self.max_pairs:
            caps.append(max(1, math.ceil(int(self.max_pairs) / int(self.batch_size))))
        cap = min(caps) if caps else -1
        return cap if 0 < cap < natural else -1

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if self.max_pairs is not None and int(self.max_pairs) < 1:
            raise ValueError(f"max_pairs must be at least 1 or null, got {self.max_pairs!r}")

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        assert labels is not None
        train_idx, val_idx = inner_validation_split(labels, metadata, fraction=self.validation_fraction,
                                                    group=self.validation_group, seed=self.seed)
        sub = (lambda idx: None if metadata is None else metadata.iloc[idx].reset_index(drop=True))
        self._train([texts[i] for i in train_idx], labels[train_idx], sub(train_idx), max_steps=self._step_budget(len(train_idx)))
        if not len(val_idx):
            return
        val_scores = self.predict_proba([texts[i] for i in val_idx], metadata=sub(val_idx))
        self.thresholds_ = tune_thresholds(labels[val_idx], val_scores)
        self.tuning_ = (labels[val_idx], val_scores)
        self._refit_heads(self._embed(texts, metadata), labels)

    def _refit_heads(self, embeddings: np.ndarray, labels: np.ndarray) -> None:
        """Heads on every quote's embedding (the body stays as trained), so no label is wasted."""
        from sklearn.linear_model import LogisticRegression

        k = labels.shape[1]
        coef, intercept, constant = np.zeros((k, embeddings.shape[1])), np.zeros(k), np.full(k, np.nan)
        for j in range(k):
            y = labels[:, j].astype(int)
            if y.min() == y.max():
                constant[j] = float(y.mean() > 0.5)
                continue
            model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000).fit(embeddings.astype(np.float64), y)
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        self.coef_, self.intercept_, self.constant_ = coef, intercept, constant


def _head_arrays(head: Any, labels: np.ndarray, *, body_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients of each fitted logistic regression; NaN-free constants for codes seen always or never."""
    from sklearn.linear_model import LogisticRegression

    k = labels.shape[1]
    coef, intercept, constant = np.zeros((k, body_dim)), np.zeros(k), np.full(k, np.nan)
    for j, estimator in enumerate(head.estimators_):
        if isinstance(estimator, LogisticRegression):
            coef[j], intercept[j] = estimator.coef_[0], estimator.intercept_[0]
        else:  # sklearn fits a constant predictor when a code has one class only
            constant[j] = float(labels[:, j].mean() > 0.5)
    return coef, intercept, constant

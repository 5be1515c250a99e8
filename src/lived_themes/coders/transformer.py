"""``transformer.v1``: an encoder fine-tuned for multi-label coding (mean pooling + linear head, sigmoid).

Any encoder ``transformers`` can load (HF id or local path) works; the default is the packaged
all-MiniLM-L6-v2, loaded offline. Training is a small plain-PyTorch loop: separate learning rates
for encoder and head, AdamW with linear warm-up and decay, BCE or focal loss with positive
weights for rare codes, gradient accumulation, AMP on CUDA only, early stopping on macro-F1 of an
inner validation split, on which one threshold per code is then tuned. Saved as safetensors with
the tokenizer, so a model folder needs neither the training data nor pickle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.coders._context import with_context
from lived_themes.encoders.sentence import pick_device, resolve_encoder
from lived_themes.coders._inference import tokenize, score_token_ids
from lived_themes.coders._integrity import check_unchanged
from lived_themes.coders._modelfiles import check_hf_folder, expect_shape, safetensors_header
from lived_themes.errors import ModelFileError
from lived_themes.splits import validation_split
from lived_themes.coders.onnx_backend import current_backend, transformer_scores

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook
    from lived_themes.coders._training import TrainingArguments

log = logging.getLogger(__name__)
HEAD_FILE = "head.safetensors"


class TransformerCoder(Coder):
    """Fine-tunes an encoder end to end; the strongest coder when there are hundreds of labelled quotes or more."""

    name: ClassVar[str] = "transformer.v1"
    zero_shot: ClassVar[bool] = False

    def __init__(
        self,
        encoder: str = "all-MiniLM-L6-v2",
        *,
        max_length: int = 128,
        batch_size: int = 16,
        predict_batch_size: int = 64,
        epochs: int = 3,
        lr_encoder: float = 1e-4,
        lr_head: float = 2e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.1,
        loss: str = "bce",
        focal_gamma: float = 2.0,
        class_weight: str | None = "balanced",
        max_pos_weight: float = 10.0,
        grad_accumulation: int = 1,
        patience: int = 1,
        validation_fraction: float = 0.1,
        validation_group: str | None = None,
        context_columns: list[str] | None = None,
        mixed_precision: bool = True,
        seed: int = 0,
        device: str | None = None,
        max_steps: int | None = None,
        layer_decay: float = 1.0,
        tune: bool = True,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.encoder = encoder
        self.max_length = max_length
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.epochs = epochs
        self.lr_encoder = lr_encoder
        self.lr_head = lr_head
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.max_pos_weight = max_pos_weight
        self.grad_accumulation = grad_accumulation
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_group = validation_group
        self.context_columns = context_columns
        self.mixed_precision = mixed_precision
        self.seed = seed
        self.device = device
        self.max_steps = max_steps
        self.layer_decay = layer_decay  # < 1: lower encoder layers learn more slowly (1.0 = off, v1's default)
        self.tune = tune  # False: every threshold stays at 0.5 (the ablation's "tuned vs 0.5" row)

    # ----- training ------------------------------------------------------------------------------
    def training_arguments(self) -> TrainingArguments:
        """The loop's arguments from this coder's parameters, checked (a bad value raises ValueError)."""
        from lived_themes.coders._training import TrainingArguments

        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        return TrainingArguments(
            batch_size=self.batch_size, epochs=self.epochs, lr_encoder=self.lr_encoder, lr_head=self.lr_head,
            weight_decay=self.weight_decay, warmup_fraction=self.warmup_fraction, loss=self.loss, focal_gamma=self.focal_gamma,
            grad_accumulation=self.grad_accumulation, patience=self.patience, mixed_precision=self.mixed_precision, seed=self.seed,
            max_steps=self.max_steps, layer_decay=self.layer_decay)

    def _check_params(self) -> None:
        """Every parameter checked without loading anything: config load calls this (registry.check_params)."""
        super()._check_params()
        self.training_arguments()
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")

    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from lived_themes.coders import _torch_utils as tu
        from lived_themes.coders._training import train_loop

        args = self.training_arguments()
        assert labels is not None
        tu.seed_everything(self.seed)
        device = pick_device(self.device)
        path = resolve_encoder(self.encoder)
        log.info("fine-tuning %s on %d quotes, %d codes, device %s", path, len(texts), labels.shape[1], device)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)
        encoder = AutoModel.from_pretrained(path)
        self.net_ = tu.MeanPoolClassifier(encoder, labels.shape[1]).to(device)
        token_ids = self._token_ids(texts, metadata)
        train_idx, val_idx = self._inner_split(labels, metadata)
        weights = tu.pos_weights(labels[train_idx], cap=self.max_pos_weight) if self.class_weight else None
        best_scores, self.train_examples_per_second_ = train_loop(
            args, self.net_, token_ids, labels, train_idx, val_idx, device=device, pos_weight=weights,
            pad_id=int(self.tokenizer_.pad_token_id or 0), score=lambda ids: self._score(ids, device=device, progress=False))
        if best_scores is not None:
            self.tuning_ = (labels[val_idx], best_scores)
            if self.tune:
                self.thresholds_ = tune_thresholds(labels[val_idx], best_scores)
        self.net_.eval()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()

    def _inner_split(self, labels: np.ndarray, metadata: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        return inner_validation_split(labels, metadata, fraction=self.validation_fraction, group=self.validation_group, seed=self.seed)

    # ----- predicting ----------------------------------------------------------------------------
    def _token_ids(self, texts: Sequence[str], metadata: pd.DataFrame | None) -> list[list[int]]:
        return tokenize(self.tokenizer_, with_context(texts, metadata, self.context_columns), max_length=self.max_length)

    def _score(self, token_ids: list[list[int]], *, device: str, progress: bool | None = None) -> np.ndarray:
        return score_token_ids(
            self.net_,
            token_ids,
            pad_id=int(self.tokenizer_.pad_token_id or 0),
            n_outputs=len(self.codes_),
            batch_size=self.predict_batch_size,
            device=device,
            mixed_precision=self.mixed_precision,
            progress=progress,
        )

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:

        if current_backend() != "torch":  # the encoder on ONNX Runtime, exported next to the weights on first use
            return transformer_scores(self, self._token_ids(list(texts), metadata), current_backend())
        self.net_.eval()
        device = str(next(self.net_.parameters()).device)
        return self._score(self._token_ids(list(texts), metadata), device=device)

    # ----- persistence ---------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        """Encoder via ``save_pretrained`` (model.safetensors + config.json), tokenizer beside it, head in safetensors."""
        from safetensors.torch import save_file

        self.net_.encoder.save_pretrained(folder)
        self.tokenizer_.save_pretrained(folder)
        head = {k: v.detach().cpu().contiguous() for k, v in self.net_.head.state_dict().items()}
        save_file(head, str(folder / HEAD_FILE))

    def _load_state(self, folder: Path) -> None:
        """Reads safetensors and JSON only, each file checked first (before torch is even imported)."""

        config = check_hf_folder(folder)
        head_path = folder / HEAD_FILE
        header = safetensors_header(head_path)
        if set(header) != {"weight", "bias"}:
            raise ModelFileError(f"expected tensors ['bias', 'weight'], found {sorted(header)}", file=head_path)
        hidden = config.get("hidden_size")
        k = len(self.codes_)
        expect_shape(head_path, "weight", header["weight"][1], (k, hidden if isinstance(hidden, int) else None), f"({k} codes x encoder width)")
        expect_shape(head_path, "bias", header["bias"][1], (k,), f"(one per code, {k} codes)")
        from safetensors.numpy import load_file
        from transformers import AutoTokenizer

        self.tokenizer_ = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        head = load_file(str(head_path))
        self.head_arrays_ = (np.asarray(head["weight"], dtype=np.float32), np.asarray(head["bias"], dtype=np.float32))
        self.folder_ = folder  # where the ONNX backends export this encoder (onnx/, checked above)
        if current_backend() == "torch":  # else ONNX Runtime runs the encoder: _from_meta defers PyTorch's copy
            self.net_ = self._build_net()

    @classmethod
    def _from_meta(cls, meta: dict[str, Any], folder: Path) -> TransformerCoder:
        """As every coder; loaded for ONNX Runtime, it keeps the sha256 of the network's files from this very coder.json
        (which the load verifies next), so a network built later is built only from the files the load checked."""
        coder = super()._from_meta(meta, folder)
        if "net_" not in vars(coder):
            files = meta.get("files")
            if not isinstance(files, dict) or not all(isinstance(files.get(n), str) for n in NET_FILES):
                raise ModelFileError(f"lists no sha256 for {list(NET_FILES)}", file=folder / "coder.json", field="files")
            coder._net_digests = {n: files[n] for n in NET_FILES}
        return coder  # type: ignore[return-value]

    def _build_net(self) -> Any:
        """The PyTorch network from the folder's encoder and the head read at load."""
        import torch
        from transformers import AutoModel

        from lived_themes.coders._torch_utils import MeanPoolClassifier

        encoder = AutoModel.from_pretrained(self.folder_, use_safetensors=True, local_files_only=True)
        net = MeanPoolClassifier(encoder, len(self.codes_))
        weight, bias = self.head_arrays_
        net.head.load_state_dict({"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy())})
        return net.to(_available(self.device)).eval()

    def __getattr__(self, name: str) -> Any:
        """``net_`` of a coder loaded for an ONNX backend, built on first use from files checked again first."""
        digests = self.__dict__.get("_net_digests")
        if name != "net_" or digests is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        check_unchanged(self.folder_, digests)
        self.net_ = self._build_net()
        del self.__dict__["_net_digests"]
        return self.net_


def inner_validation_split(labels: np.ndarray, metadata: pd.DataFrame | None, *, fraction: float, group: str | None,
                           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation positions, multilabel-stratified (and group-aware when ``group`` names a metadata column).

    Too few quotes for a validation set (fewer than 5 on a side) means all quotes train and none validate:
    no early stopping and thresholds left at 0.5.
    """

    n = len(labels)
    n_val = int(round(n * fraction))
    if n_val < 5 or n - n_val < 5:
        return np.arange(n), np.arange(0)
    groups = None
    if group:
        if metadata is None or group not in metadata.columns:
            raise ValueError(f"validation_group {group!r} is not a metadata column")
        groups = metadata[group].astype(str).to_numpy()
    return validation_split(labels, groups=groups, size=fraction, seed=seed)


#: the files the PyTorch network is built from after load (the head is read at load)
NET_FILES = ("model.safetensors", "config.json")


def _available(device: str | None) -> str:
    """The saved device when this machine has it; a model trained on a GPU still loads on a laptop."""
    import torch

    if device and device.startswith("cuda") and not torch.cuda.is_available():
        log.warning("model was set to run on %s, which this machine lacks; using the CPU", device)
        return "cpu"
    return pick_device(device)

"""Private PyTorch pieces for the fine-tuned coder: the mean-pooling network, losses, batching, schedule.

Kept apart from :mod:`lived_themes.coders.transformer` so the training loop reads as a loop. This
module imports torch at the top, so only code that already needs torch may import it.
"""

from __future__ import annotations

import math
import random
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    """Python, numpy and torch (CPU and CUDA) seeds, so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class MeanPoolClassifier(nn.Module):
    """Encoder + attention-masked mean pooling + one linear layer giving one logit per code.

    Mean pooling rather than BERT's pooler output: sentence encoders such as MiniLM were trained
    with it, and with the pooler the NHS codes were learned far more slowly (see DESIGN.md).
    """

    def __init__(self, encoder: nn.Module, n_codes: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), n_codes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))


def pos_weights(labels: np.ndarray, *, cap: float) -> torch.Tensor:
    """Per-code weight of positives: negatives/positives, between 1 and ``cap`` (rare codes count more)."""
    positives = labels.sum(0)
    negatives = len(labels) - positives
    ratio = np.divide(negatives, positives, out=np.ones_like(positives, dtype=float), where=positives > 0)
    return torch.tensor(np.clip(ratio, 1.0, cap), dtype=torch.float32)


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, *, kind: str, pos_weight: torch.Tensor | None, gamma: float) -> torch.Tensor:
    """BCE with logits, or focal loss (Lin et al. 2017) that down-weights easy examples; both take ``pos_weight``."""
    logits = logits.float()
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    if kind == "bce":
        return bce.mean()
    if kind == "focal":
        prob = torch.sigmoid(logits)
        p_true = prob * targets + (1 - prob) * (1 - targets)
        return (((1 - p_true) ** gamma) * bce).mean()
    raise ValueError(f"loss must be 'bce' or 'focal', got {kind!r}")


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, *, bucket: int = 50) -> list[np.ndarray]:
    """Shuffled training batches of similar length: shuffle, sort inside chunks of ``bucket`` batches, shuffle batches.

    Keeps the randomness of shuffling while most of the padding (and its compute) disappears.
    """
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    chunk = batch_size * bucket
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


def pad_batch(input_ids: list[list[int]], pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic padding: pad to the longest sequence in this batch, not to ``max_length``."""
    width = max(len(ids) for ids in input_ids)
    ids = torch.full((len(input_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(input_ids), width), dtype=torch.long)
    for i, row in enumerate(input_ids):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


def linear_schedule(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then linear decay to zero, the usual schedule for fine-tuning encoders."""
    warmup = max(1, int(math.ceil(total_steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def param_groups(net: MeanPoolClassifier, *, lr_encoder: float, lr_head: float, weight_decay: float,
                 layer_decay: float = 1.0) -> list[dict[str, Any]]:
    """Separate learning rates for encoder and head; no weight decay on biases and norms.

    ``layer_decay`` < 1: layer-wise learning-rate decay, the top encoder layer at ``lr_encoder`` and each
    layer below it (then the embeddings) ``layer_decay`` times slower, so the general features of the lower
    layers move least. 1.0 gives one encoder learning rate, as before.
    """
    if layer_decay != 1.0:
        return _layerwise_groups(net, lr_encoder=lr_encoder, lr_head=lr_head, weight_decay=weight_decay, layer_decay=layer_decay)
    groups = []
    for module, lr in ((net.encoder, lr_encoder), (net.head, lr_head)):
        decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim <= 1]
        groups.append({"params": decay, "lr": lr, "weight_decay": weight_decay})
        groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def encoder_depth(name: str, n_layers: int) -> int:
    """How far below the top a parameter sits: 0 for the top layer (and pooler), n_layers for the embeddings."""
    import re

    match = re.search(r"(?:^|\.)layers?\.(\d+)\.", name)
    if match:
        return n_layers - 1 - int(match.group(1))
    if "embed" in name:
        return n_layers
    return 0


def _layerwise_groups(net: MeanPoolClassifier, *, lr_encoder: float, lr_head: float, weight_decay: float,
                      layer_decay: float) -> list[dict[str, Any]]:
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    named = [(n, p) for n, p in net.encoder.named_parameters() if p.requires_grad]
    n_layers = int(getattr(getattr(net.encoder, "config", None), "num_hidden_layers", 0) or 0)
    buckets: dict[tuple[int, bool], list[Any]] = {}
    for name, param in named:
        buckets.setdefault((encoder_depth(name, n_layers), param.ndim > 1), []).append(param)
    groups = [{"params": params, "lr": lr_encoder * layer_decay ** depth, "weight_decay": weight_decay if decays else 0.0}
              for (depth, decays), params in sorted(buckets.items())]
    for decays in (True, False):
        params = [p for p in net.head.parameters() if p.requires_grad and (p.ndim > 1) == decays]
        if params:
            groups.append({"params": params, "lr": lr_head, "weight_decay": weight_decay if decays else 0.0})
    return groups


def adamw(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where torch has one: on the CPU the default per-tensor loop
    spends more time updating MiniLM's 12M embedding weights than the forward pass takes."""
    try:
        return torch.optim.AdamW(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, foreach=True)


def autocast(device: str, enabled: bool) -> Any:
    """bf16 (or fp16) autocast on CUDA when asked; a no-op on the CPU, where it would only slow things down."""
    if not enabled or not str(device).startswith("cuda"):
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def needs_grad_scaler(device: str, enabled: bool) -> bool:
    """fp16 needs loss scaling; bf16 and fp32 do not."""
    return enabled and str(device).startswith("cuda") and not torch.cuda.is_bf16_supported()


def cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the weights, to restore the best epoch after early stopping."""
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}

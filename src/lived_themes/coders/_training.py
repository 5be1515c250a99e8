"""The fine-tuning loop of ``transformer.v1``: epochs of bucketed batches, early stopping on validation macro-F1.

A plain loop rather than ``transformers.Trainer``: the model is not a ``*ForSequenceClassification``
(mean pooling + linear head), the encoder and head need separate learning rates, and the thing to
stop on is macro-F1 at tuned thresholds, none of which the Trainer does without subclassing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lived_themes.coders import _torch_utils as tu
from lived_themes.coders.decision import tuned_macro_f1
from lived_themes.coders._inference import PROGRESS_FROM, progress_bar

log = logging.getLogger(__name__)

LOSSES = ("bce", "focal")


@dataclass(frozen=True)
class TrainingArguments:
    """What the fine-tuning loop needs, apart from the coder (as transformers and setfit keep ``TrainingArguments``).

    Built from the coder's parameters by ``TransformerCoder.training_arguments()``, which config load calls,
    so a bad value (``loss: hinge``) fails there with its key path rather than at the first fold.
    """

    batch_size: int = 16
    epochs: int = 3
    lr_encoder: float = 1e-4
    lr_head: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    loss: str = "bce"
    focal_gamma: float = 2.0
    grad_accumulation: int = 1
    patience: int = 1
    mixed_precision: bool = True
    seed: int = 0
    max_steps: int | None = None
    layer_decay: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'bce' or 'focal', got {self.loss!r}")
        for name in ("batch_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_steps is not None and int(self.max_steps) < 0:
            raise ValueError(f"max_steps must be at least 0 or null, got {self.max_steps!r}")
        if min(self.lr_encoder, self.lr_head, self.weight_decay) < 0:
            raise ValueError("lr_encoder, lr_head and weight_decay must not be negative")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must be between 0 and 1, got {self.warmup_fraction!r}")
        if self.layer_decay <= 0:
            raise ValueError(f"layer_decay must be positive, got {self.layer_decay!r}")


def train_loop(
    args: TrainingArguments,
    net: torch.nn.Module,
    token_ids: list[list[int]],
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    device: str,
    pos_weight: torch.Tensor | None,
    pad_id: int,
    score: Callable[[list[list[int]]], np.ndarray],
) -> tuple[np.ndarray | None, float]:
    """Train ``net`` in place; keep the best epoch's weights.

    ``score(token_ids)`` gives the net's (n, k) scores in eval mode. Returns the best epoch's validation
    scores (None without validation) and the training speed in examples per second.
    """
    if not len(train_idx):
        raise ValueError("no quotes to train on")
    accumulation = max(1, int(args.grad_accumulation))
    lengths = np.array([len(t) for t in token_ids])
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = math.ceil(math.ceil(len(train_idx) / args.batch_size) / accumulation)
    total = steps_per_epoch * args.epochs
    if args.max_steps is not None:
        total = min(total, int(args.max_steps))
    groups = tu.param_groups(net, lr_encoder=args.lr_encoder, lr_head=args.lr_head, weight_decay=args.weight_decay,
                             layer_decay=float(args.layer_decay))
    optimizer = tu.adamw(groups)
    scheduler = tu.linear_schedule(optimizer, total_steps=max(total, 1), warmup_fraction=args.warmup_fraction)
    scaler = torch.amp.GradScaler("cuda") if tu.needs_grad_scaler(device, args.mixed_precision) else None
    weight = pos_weight.to(device) if pos_weight is not None else None
    targets_all = torch.tensor(labels, dtype=torch.float32)
    best_f1, best_state, best_scores, stale, step = -1.0, None, None, 0, 0

    for epoch in range(args.epochs):
        net.train()
        started, seen, running = time.perf_counter(), 0, 0.0
        batches = [train_idx[b] for b in tu.bucketed_batches(lengths[train_idx], args.batch_size, rng)]
        bar = progress_bar(len(train_idx), show=len(train_idx) >= PROGRESS_FROM, desc=f"epoch {epoch + 1}", unit="quote")
        for i, batch in enumerate(batches):
            ids, mask = tu.pad_batch([token_ids[j] for j in batch], pad_id, device)
            with tu.autocast(device, args.mixed_precision):
                logits = net(ids, mask)
            loss = tu.multilabel_loss(
                logits, targets_all[batch].to(device), kind=args.loss, pos_weight=weight, gamma=args.focal_gamma
            )
            (scaler.scale(loss / accumulation) if scaler else loss / accumulation).backward()
            seen, running = seen + len(batch), running + float(loss.detach())
            bar.update(len(batch))
            if (i + 1) % accumulation == 0 or i + 1 == len(batches):
                if scaler:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                step += 1
                if step >= total:
                    break
        bar.close()
        elapsed = time.perf_counter() - started
        log.info("epoch %d: mean loss %.4f, %.1f examples/s", epoch + 1, running / max(1, i + 1), seen / max(elapsed, 1e-9))
        if not len(val_idx):
            if step >= total:
                break
            continue
        net.eval()
        scores = score([token_ids[j] for j in val_idx])
        f1 = tuned_macro_f1(labels[val_idx], scores)
        log.info("epoch %d: validation macro-F1 %.4f", epoch + 1, f1)
        if f1 > best_f1:
            best_f1, best_state, best_scores, stale = f1, tu.cpu_state(net), scores, 0
        else:
            stale += 1
        if stale >= max(1, args.patience) or step >= total:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return best_scores, seen / max(elapsed, 1e-9)

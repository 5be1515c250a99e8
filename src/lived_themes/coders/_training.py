"""The fine-tuning loop of ``transformer.v1``: epochs of bucketed batches, early stopping on validation macro-F1.

A plain loop rather than ``transformers.Trainer``: the model is not a ``*ForSequenceClassification``
(mean pooling + linear head), the encoder and head need separate learning rates, and the thing to
stop on is macro-F1 at tuned thresholds, none of which the Trainer does without subclassing.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

import numpy as np
import torch

from lived_themes.coders import _torch_utils as tu
from lived_themes.coders.base import tune_thresholds
from lived_themes.coders._inference import PROGRESS_FROM, progress_bar
from lived_themes.evaluation.metrics import macro_f1

log = logging.getLogger(__name__)


class Trainee(Protocol):
    """What the loop reads off the coder it trains (``TransformerCoder``), named here so this module needs not import it."""

    net_: Any
    tokenizer_: Any
    seed: int
    epochs: int
    batch_size: int
    grad_accumulation: int
    max_steps: int | None
    lr_encoder: float
    lr_head: float
    weight_decay: float
    warmup_fraction: float
    mixed_precision: bool
    loss: str
    focal_gamma: float
    patience: int
    train_examples_per_second_: float

    def _score(self, token_ids: list[list[int]], *, device: str, progress: bool | None = None) -> np.ndarray: ...


def validation_macro_f1(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Macro-F1 at per-code thresholds tuned on these scores: the figure the saved model will be used at."""

    predicted = (scores >= tune_thresholds(y_true, scores)[None, :]).astype(float)
    return float(macro_f1(y_true, predicted))


def train_loop(
    coder: Trainee,
    token_ids: list[list[int]],
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    device: str,
    pos_weight: torch.Tensor | None,
) -> np.ndarray | None:
    """Train ``coder.net_`` in place; keep the best epoch's weights. Returns its validation scores (None without validation)."""
    if not len(train_idx):
        raise ValueError("no quotes to train on")
    net = coder.net_
    accumulation = max(1, int(coder.grad_accumulation))
    lengths = np.array([len(t) for t in token_ids])
    rng = np.random.default_rng(coder.seed)
    steps_per_epoch = math.ceil(math.ceil(len(train_idx) / coder.batch_size) / accumulation)
    total = steps_per_epoch * coder.epochs
    if coder.max_steps is not None:
        total = min(total, int(coder.max_steps))
    groups = tu.param_groups(net, lr_encoder=coder.lr_encoder, lr_head=coder.lr_head, weight_decay=coder.weight_decay,
                             layer_decay=float(getattr(coder, "layer_decay", 1.0)))
    optimizer = tu.adamw(groups)
    scheduler = tu.linear_schedule(optimizer, total_steps=max(total, 1), warmup_fraction=coder.warmup_fraction)
    scaler = torch.amp.GradScaler("cuda") if tu.needs_grad_scaler(device, coder.mixed_precision) else None
    weight = pos_weight.to(device) if pos_weight is not None else None
    pad_id = int(coder.tokenizer_.pad_token_id or 0)
    targets_all = torch.tensor(labels, dtype=torch.float32)
    best_f1, best_state, best_scores, stale, step = -1.0, None, None, 0, 0

    for epoch in range(coder.epochs):
        net.train()
        started, seen, running = time.perf_counter(), 0, 0.0
        batches = [train_idx[b] for b in tu.bucketed_batches(lengths[train_idx], coder.batch_size, rng)]
        bar = progress_bar(len(train_idx), show=len(train_idx) >= PROGRESS_FROM, desc=f"epoch {epoch + 1}", unit="quote")
        for i, batch in enumerate(batches):
            ids, mask = tu.pad_batch([token_ids[j] for j in batch], pad_id, device)
            with tu.autocast(device, coder.mixed_precision):
                logits = net(ids, mask)
            loss = tu.multilabel_loss(
                logits, targets_all[batch].to(device), kind=coder.loss, pos_weight=weight, gamma=coder.focal_gamma
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
        scores = coder._score([token_ids[j] for j in val_idx], device=device, progress=False)
        f1 = validation_macro_f1(labels[val_idx], scores)
        log.info("epoch %d: validation macro-F1 %.4f", epoch + 1, f1)
        if f1 > best_f1:
            best_f1, best_state, best_scores, stale = f1, tu.cpu_state(net), scores, 0
        else:
            stale += 1
        if stale >= max(1, coder.patience) or step >= total:
            break
    coder.train_examples_per_second_ = seen / max(elapsed, 1e-9)
    if best_state is not None:
        net.load_state_dict(best_state)
    return best_scores

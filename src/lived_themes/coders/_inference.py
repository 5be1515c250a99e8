"""Batched inference made for throughput: sorted-by-length batches, dynamic padding, inference mode.

Sorting by length before batching means a batch of short quotes is not padded to the length of
one long quote; on a CPU most of the time of a naive pipeline goes on those pad tokens. The
batch size halves itself when a GPU runs out of memory, so a too-large setting does not fail a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Above this many texts a progress bar is shown (when stderr is a terminal).
PROGRESS_FROM = 2000


def tokenize(tokenizer: Any, texts: Sequence[str], *, max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` and not padded (padding is done per batch)."""
    if not len(texts):
        return []
    return list(tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)["input_ids"])


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices in batches of similar length, longest first, so an out-of-memory error shows up at once."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def score_token_ids(
    forward: Callable[[Any, Any], Any],
    token_ids: list[list[int]],
    *,
    pad_id: int,
    n_outputs: int,
    batch_size: int = 64,
    device: str = "cpu",
    mixed_precision: bool = True,
    progress: bool | None = None,
) -> np.ndarray:
    """(n, n_outputs) sigmoid scores of ``forward(input_ids, attention_mask) -> logits``, in input order."""
    import torch

    from lived_themes.coders._torch_utils import autocast, pad_batch

    scores = np.zeros((len(token_ids), n_outputs), dtype=np.float32)
    if not token_ids:
        return scores
    show = progress if progress is not None else len(token_ids) >= PROGRESS_FROM
    bar = progress_bar(len(token_ids), show=show, desc="coding", unit="quote")
    pending = length_sorted_batches([len(t) for t in token_ids], batch_size)
    with torch.inference_mode():
        while pending:
            batch = pending.pop(0)
            try:
                ids, mask = pad_batch([token_ids[i] for i in batch], pad_id, device)
                with autocast(device, mixed_precision):
                    logits = forward(ids, mask)
            except torch.cuda.OutOfMemoryError:
                if len(batch) == 1:
                    raise
                torch.cuda.empty_cache()
                half = len(batch) // 2
                log.warning("out of GPU memory at batch size %d; trying %d", len(batch), half)
                pending[:0] = [batch[:half], batch[half:]]
                continue
            scores[batch] = torch.sigmoid(logits.float()).cpu().numpy()
            bar.update(len(batch))
    bar.close()
    return scores


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, *, show: bool, desc: str, unit: str) -> Any:
    """A tqdm bar on stderr when asked and available (tqdm hides itself when stderr is not a terminal)."""
    if not show:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with transformers
        return _NoBar()
    return tqdm(total=total, unit=unit, desc=desc, disable=None)

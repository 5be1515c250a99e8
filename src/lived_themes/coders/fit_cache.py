"""One run's fit cache: a coder fitted on exactly the same rows with the same parameters is fitted once.

Why: a run fits the same model more than once by construction. The standalone ``transformer.v1`` of a
fold and an ``ensemble.v1`` member trained on all of that fold's training rows are the same fit when
their parameters are equal; so are two wrappers' members on the same inner folds, and a stability
rerun with the run's own seed. A transformer fit costs minutes, so each is done once and reused.

The cache is used only inside :meth:`FitCache.active` (the run opens it); elsewhere :func:`fit_coder`
just fits, so library callers see no change. The key is the coder's name, its complete parameters
(seed, context columns and label mode included) and a fingerprint of the training data (every text,
label, code, metadata value and the codebook's content hash), so a fit is reused only on exactly the
same data. Entries live in memory for one run (the run forgets them after each split scheme); nothing
is written to disk, so nothing is ever reused across runs. Every fit and every reuse is recorded, with
where it happened and its seconds, for ``run.json``.

A reused coder is the same object as the first fit: fitted coders are read, never changed, after ``fit``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lived_themes.jsonutil import jsonable

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook
    from lived_themes.coders.base import Coder

_ACTIVE: ContextVar[FitCache | None] = ContextVar("lived_themes_fit_cache", default=None)
_WHERE: ContextVar[tuple[str, ...]] = ContextVar("lived_themes_fit_where", default=())
#: characters of the key shown in run.json and on the console (the full sha256 is 64)
SHORT_KEY = 12


@contextmanager
def where(label: str) -> Iterator[None]:
    """Name the step the fits inside belong to (scheme, fold, ensemble member), for the record; nests."""
    token = _WHERE.set((*_WHERE.get(), label))
    try:
        yield
    finally:
        _WHERE.reset(token)


def current_where() -> str:
    return " > ".join(_WHERE.get()) or "(top level)"


def _digest(update: Callable[[Any], None], value: Any) -> None:
    update(json.dumps(jsonable(value), sort_keys=True, default=repr).encode("utf-8"))
    update(b"\x00")


def fit_key(coder: Coder, texts: Sequence[str], labels: np.ndarray | None, codes: Sequence[str], *,
            codebook: Codebook | None = None, metadata: pd.DataFrame | None = None) -> str | None:
    """sha256 of (coder name, parameters, training texts, labels, codes, metadata, codebook); None if the data cannot be hashed."""
    h = hashlib.sha256()
    try:
        _digest(h.update, {"coder": coder.name, "params": coder.get_params(), "codes": list(codes)})
        for text in texts:
            data = str(text).encode("utf-8")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        if labels is None:
            h.update(b"no labels")
        else:
            array = np.ascontiguousarray(np.asarray(labels, dtype=float))
            h.update(repr(array.shape).encode())
            h.update(array.tobytes())
        if metadata is not None:
            import pandas as pd

            _digest(h.update, [str(c) for c in metadata.columns])
            h.update(pd.util.hash_pandas_object(metadata.reset_index(drop=True), index=False).to_numpy().tobytes())
        _digest(h.update, codebook.content_hash() if codebook is not None else None)
    except (TypeError, ValueError):  # a value that cannot be hashed: fitted, never reused
        return None
    return h.hexdigest()


@dataclass
class _Entry:
    coder: Any
    where: str
    seconds: float


class FitCache:
    """Fitted coders by :func:`fit_key`, and the record of every fit and reuse; ``report`` hears each reuse."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self.events: list[dict[str, Any]] = []
        self._report = report

    @contextmanager
    def active(self) -> Iterator[FitCache]:
        """Fits through :func:`fit_coder` use this cache until the block ends."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def fit(self, coder: Coder, texts: Sequence[str], labels: np.ndarray | None, codes: Sequence[str], *,
            codebook: Codebook | None = None, metadata: pd.DataFrame | None = None) -> Coder:
        key = fit_key(coder, texts, labels, codes, codebook=codebook, metadata=metadata)
        place = current_where()
        hit = self._entries.get(key) if key is not None else None
        if hit is not None:
            self.events.append({"coder": coder.name, "where": place, "key": key[:SHORT_KEY], "status": "reused",
                                "rows": len(texts), "seconds": 0.0, "saved_seconds": round(hit.seconds, 3),
                                "first_fitted": hit.where})
            if self._report is not None:
                self._report(f"reused the {coder.name} fit {key[:SHORT_KEY]} ({len(texts)} rows, {hit.seconds:.1f} s saved) "
                             f"from {hit.where} for {place}")
            return hit.coder
        started = time.perf_counter()
        coder.fit(texts, labels, list(codes), codebook=codebook, metadata=metadata)
        seconds = time.perf_counter() - started
        if key is not None:
            self._entries[key] = _Entry(coder, place, seconds)
        self.events.append({"coder": coder.name, "where": place, "key": key[:SHORT_KEY] if key else None, "status": "fitted",
                            "rows": len(texts), "seconds": round(seconds, 3)})
        return coder

    def forget(self) -> None:
        """Drop the fitted coders (the record stays): called when no later step can train on the same rows."""
        self._entries.clear()

    def summary(self) -> dict[str, Any]:
        """For run.json: counts, seconds, and every fit and reuse in order (an ensemble's seconds include its members')."""
        fitted = [e for e in self.events if e["status"] == "fitted"]
        reused = [e for e in self.events if e["status"] == "reused"]
        return {"n_fitted": len(fitted), "n_reused": len(reused),
                "fitted_by_coder": {name: sum(e["coder"] == name for e in fitted) for name in dict.fromkeys(e["coder"] for e in fitted)},
                "reused_seconds_saved": round(sum(e["saved_seconds"] for e in reused), 3),
                "note": "one fit per coder, parameters and training rows; a reused fit is the same fitted model. "
                        "Nested fits (an ensemble's members) are listed before the ensemble, whose seconds include theirs",
                "log": list(self.events)}


def fit_coder(coder: Coder, texts: Sequence[str], labels: np.ndarray | None, codes: Sequence[str], *,
              codebook: Codebook | None = None, metadata: pd.DataFrame | None = None) -> Coder:
    """``coder.fit(...)``, or the same fit from the active :class:`FitCache` when one was already done; returns the fitted coder."""
    cache = _ACTIVE.get()
    if cache is None:
        return coder.fit(texts, labels, list(codes), codebook=codebook, metadata=metadata)
    return cache.fit(coder, texts, labels, codes, codebook=codebook, metadata=metadata)

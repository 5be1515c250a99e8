"""``llm.v1``: an LLM reads the codebook, the ``k`` most similar labelled quotes and the quote, and answers in JSON.

The prompt and its checks are in :mod:`.prompt`, where text goes in :mod:`.backends`, redaction in :mod:`.redact`.
``fit`` stores the labelled pool and indexes it with ``knn.v1``'s retrieval (the same sentence encoder);
``predict_proba`` asks the model ``n_samples`` times per quote and scores each code by the share of samples
that gave it with a verbatim span. With one sample at temperature 0 the scores are 0 or 1; with several,
thresholds are tuned on the pool (each pool quote coded with its own neighbours, itself left out) when ``tune``.

Every quote gets a row. A quote whose every sample failed (timeout, HTTP error, malformed answer) is scored
as no codes and its error is kept in :attr:`last_notes_` (``errors``), which the run writes to
predictions.jsonl and counts in the report, with the invented codes and rejected spans.

The saved model holds the labelled pool's text (``pool.json``): the examples are part of the prompt.
Treat the model folder as you treat the corpus. It never holds where text goes (``base_url``,
``allow_remote``, ``api_key_env``, ``cache_dir``): those are the user's run-time settings, and a model
folder that carries them is refused (see :func:`lived_themes.coders.base.load_coder`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lived_themes.coders.base import Coder, tune_thresholds
from lived_themes.coders.llm.backends import BACKENDS, AnswerCache, Backend, check_endpoint, is_local_url, HttpBackend, TransformersBackend
from lived_themes.coders.llm.prompt import Message, build_messages, codebook_text, parse_answer
from lived_themes.coders.llm.transport import RULE, check_timeout
from lived_themes.codebook import Codebook
from lived_themes.coders._modelfiles import read_json
from lived_themes.coders.knn import KnnCoder
from lived_themes.coders.llm.redact import redact, check_pipeline
from lived_themes.errors import ModelFileError
from lived_themes.files import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from lived_themes.codebook import Codebook

log = logging.getLogger(__name__)
POOL_JSON = "pool.json"
CODEBOOK_JSON = "codebook.json"
RETRIEVAL = "retrieval"
COUNTS = ("items", "samples", "requests", "cached", "failed_items", "failed_samples", "malformed", "invented_codes", "rejected_spans")


class LlmCoder(Coder):
    """Codes each quote by prompting an LLM with the codebook and similar coded quotes; answers checked, spans verbatim."""

    name: ClassVar[str] = "llm.v1"
    zero_shot: ClassVar[bool] = True
    #: Where text goes or is stored: the user's settings at run time (experiment params, or ``predict``'s options), never saved.
    runtime_params: ClassVar[tuple[str, ...]] = ("base_url", "allow_remote", "api_key_env", "cache_dir")

    def __init__(
        self,
        backend: str = "http",
        model: str | None = None,
        base_url: str = "http://127.0.0.1:8080/v1",
        allow_remote: bool = False,
        api_key_env: str | None = None,
        k: int = 8,
        encoder: str | None = None,
        codebook_examples: bool = True,
        n_samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        require_span: bool = True,
        tune: bool = True,
        timeout: float = 60.0,
        max_retries: int = 2,
        batch_size: int = 4,
        cache_dir: str | None = None,
        redact: bool = False,
        redact_pipeline: str | None = None,
        device: str | None = None,
        seed: int = 0,
        label_mode: str = "multi",
        top_k: int | None = None,
    ) -> None:
        self._set_decision_params(label_mode, top_k)
        self.backend = backend
        self.model = model
        self.base_url = base_url
        self.allow_remote = allow_remote
        self.api_key_env = api_key_env
        self.k = k
        self.encoder = encoder
        self.codebook_examples = codebook_examples
        self.n_samples = n_samples
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.require_span = require_span
        self.tune = tune
        self.timeout = timeout
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.redact = redact
        self.redact_pipeline = redact_pipeline
        self.device = device
        self.seed = seed

    def _check_params(self) -> None:
        """Run at config load: a remote endpoint without ``allow_remote`` stops here, before any data is read."""
        super()._check_params()
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "http":
            check_endpoint(self.base_url, allow_remote=bool(self.allow_remote))
        elif not self.model:
            raise ValueError("backend 'transformers' needs model: a local folder or a Hugging Face id in the local cache")
        if int(self.k) < 0 or int(self.n_samples) < 1 or int(self.max_new_tokens) < 1 or int(self.batch_size) < 1:
            raise ValueError("k must be >= 0; n_samples, max_new_tokens and batch_size must be >= 1")
        if self.temperature < 0 or (int(self.n_samples) > 1 and self.temperature == 0):
            raise ValueError("temperature must be >= 0, and above 0 when n_samples > 1 (identical samples say nothing)")
        check_timeout(self.timeout)
        if int(self.max_retries) < 0:
            raise ValueError("max_retries must be >= 0")
        if self.redact_pipeline and not self.redact:
            raise ValueError("redact_pipeline is set but redact is false")

    # ----- where text goes -----------------------------------------------------------------------
    def destination(self) -> dict[str, Any]:
        """Where this coder sends text (recorded in run.json before anything is sent); no text in it."""
        self._check_params()
        where = ({"backend": "http", "endpoint": f"{self.base_url.rstrip('/')}/chat/completions", "model": self.model}
                 if self.backend == "http" else {"backend": "transformers", "model": self.model})

        where["local"] = self.backend == "transformers" or is_local_url(self.base_url)
        where["allow_remote"] = bool(self.allow_remote)
        where["redacted"] = bool(self.redact)
        where["cache_dir"] = self.cache_dir
        if self.backend == "http":
            where["network"] = {**RULE, "allowed_addresses": "any (allow_remote)" if self.allow_remote else "loopback only"}
        return where

    def required_settings(self) -> tuple[str, ...]:
        """Run-time settings a loaded model must be given: where an ``http`` model sends text is the user's choice."""
        return ("base_url",) if self.backend == "http" else ()

    def training_text(self) -> str | None:
        return f"the labelled training quotes, verbatim ({POOL_JSON}): they are the prompt's examples"

    def _backend(self) -> Backend:
        if getattr(self, "_backend_obj", None) is None:
            common = {"model": self.model, "temperature": float(self.temperature), "max_new_tokens": int(self.max_new_tokens),
                      "seed": int(self.seed), "cache": AnswerCache(self.cache_dir)}
            if self.backend == "http":
                self._backend_obj: Backend | None = HttpBackend(base_url=self.base_url, allow_remote=bool(self.allow_remote),
                                                                timeout=float(self.timeout), max_retries=int(self.max_retries),
                                                                api_key_env=self.api_key_env, **common)
            else:
                self._backend_obj = TransformersBackend(batch_size=int(self.batch_size), device=self.device, **common)
        return self._backend_obj

    # ----- fitting ---------------------------------------------------------------------------------
    def _fit(self, texts: list[str], labels: np.ndarray | None, *, codebook: Codebook | None, metadata: pd.DataFrame | None) -> None:
        self._check_params()
        if self.redact:
            check_pipeline(self.redact_pipeline)
        book = codebook if codebook is not None else Codebook.from_codes(self.codes_)
        missing = [c for c in self.codes_ if c not in book.code_ids]
        if missing:
            raise ValueError(f"codes {missing} are not in codebook {book.name!r}; it has {book.code_ids}")
        self.codebook_ = book
        self.pool_texts_ = list(texts) if labels is not None else []
        self.pool_labels_ = (np.asarray(labels, dtype=np.float32) if labels is not None
                             else np.zeros((0, len(self.codes_)), dtype=np.float32))
        self._index()
        self.counts_ = dict.fromkeys(COUNTS, 0)
        if self.tune and int(self.n_samples) > 1 and labels is not None and len(texts) >= 3:
            scores = self._score(texts, leave_out=list(range(len(texts))))
            self.thresholds_ = tune_thresholds(labels, scores)
            self.tuning_ = (labels, scores)

    def _index(self) -> None:
        """The retrieval index over the pool: knn.v1 with this coder's encoder (no thresholds needed)."""
        self.retriever_ = None
        if int(self.k) > 0 and len(self.pool_texts_):
            self.retriever_ = KnnCoder(encoder=self.encoder, k=int(self.k), tune=False, device=self.device)
            self.retriever_.fit(self.pool_texts_, self.pool_labels_, self.codes_)

    # ----- prompts -----------------------------------------------------------------------------------
    def _sent_text(self, text: str) -> str:
        if not self.redact:
            return text

        return redact(text, pipeline=self.redact_pipeline)

    def prompts(self, texts: Sequence[str], *, leave_out: Sequence[int | None] | None = None) -> list[list[Message]]:
        """The exact messages that would be sent for each text (after redaction); sends nothing.

        ``leave_out[i]`` is a pool position kept out of text ``i``'s examples (the quote itself, when tuning).
        """
        texts = list(texts)
        block = codebook_text(self.codebook_, self.codes_, with_examples=bool(self.codebook_examples))
        if self.codebook_examples and self.redact:
            block = self._sent_text(block)
        examples: list[list[tuple[str, list[str]]]] = [[] for _ in texts]
        if self.retriever_ is not None and texts:
            ids, _ = self.retriever_.neighbours(texts, k=int(self.k) + (1 if leave_out is not None else 0))
            for i, row in enumerate(ids):
                chosen = [int(p) for p in row if leave_out is None or int(p) != leave_out[i]][: int(self.k)]
                examples[i] = [(self._sent_text(self.pool_texts_[p]),
                                [c for c, v in zip(self.codes_, self.pool_labels_[p]) if v > 0.5]) for p in chosen]
        return [build_messages(block, ex, self._sent_text(t)) for t, ex in zip(texts, examples)]

    # ----- predicting --------------------------------------------------------------------------------
    def _score(self, texts: list[str], *, leave_out: list[int] | None = None) -> np.ndarray:
        """Scores, and ``last_notes_``: per-text errors and evidence offsets, and the counts of this call."""
        n, k = len(texts), len(self.codes_)
        counts = dict.fromkeys(COUNTS, 0)
        counts["items"] = n
        votes = np.zeros((n, k))
        errors: list[list[str]] = [[] for _ in texts]
        evidence: list[dict[str, dict[str, int]]] = [{} for _ in texts]
        column = {c: j for j, c in enumerate(self.codes_)}
        if n:
            prompts = self.prompts(texts, leave_out=leave_out)
            sent = [self._sent_text(t) for t in texts]
            backend = self._backend()
            before = backend.requests
            for sample in range(int(self.n_samples)):
                for i, reply in enumerate(backend.complete(prompts, sample)):
                    counts["samples"] += 1
                    counts["cached"] += int(reply.cached)
                    if reply.text is None:
                        counts["failed_samples"] += 1
                        errors[i].append(reply.error or "no reply")
                        continue
                    answer = parse_answer(reply.text, sent[i], self.codes_, require_span=bool(self.require_span))
                    counts["malformed"] += int(answer.malformed)
                    counts["invented_codes"] += answer.invented
                    counts["rejected_spans"] += answer.rejected_spans
                    if answer.malformed and not answer.codes:
                        counts["failed_samples"] += 1
                        errors[i].append("the answer was not the JSON asked for")
                        continue
                    for code, where in answer.codes.items():
                        votes[i, column[code]] += 1
                        if where is not None and code not in evidence[i] and sent[i] == texts[i]:
                            evidence[i][code] = {"start": where[0], "end": where[1]}
            counts["requests"] = backend.requests - before
        failed = [len(e) == int(self.n_samples) for e in errors]
        counts["failed_items"] = int(sum(failed))
        scores = votes / int(self.n_samples)
        self.last_notes_ = {"counts": counts, "errors": [f"{e[0]} ({len(e)} of {self.n_samples} samples)" if bad else None
                                                         for e, bad in zip(errors, failed)],
                            "evidence": evidence}
        totals = getattr(self, "counts_", None) or dict.fromkeys(COUNTS, 0)
        self.counts_ = {key: totals.get(key, 0) + counts[key] for key in COUNTS}
        if counts["failed_items"]:
            log.warning("llm.v1: %d of %d quote(s) got no answer; scored as no codes (see predictions 'error')", counts["failed_items"], n)
        return scores

    def predict_proba(self, texts: Sequence[str], *, metadata: pd.DataFrame | None = None) -> np.ndarray:
        return self._score(list(texts))

    # ----- persistence -----------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        write_text_atomic(folder / POOL_JSON, json.dumps({"texts": self.pool_texts_, "labels": self.pool_labels_.astype(int).tolist()},
                                                         ensure_ascii=False))
        write_text_atomic(folder / CODEBOOK_JSON, json.dumps(self.codebook_.model_dump(mode="json"), ensure_ascii=False))

    def _load_state(self, folder: Path) -> None:
        pool = read_json(folder / POOL_JSON)
        texts, labels = pool.get("texts") if isinstance(pool, dict) else None, pool.get("labels") if isinstance(pool, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ModelFileError("expected a list of texts", file=folder / POOL_JSON, field="texts")
        matrix = np.asarray(labels if labels else np.zeros((0, len(self.codes_))), dtype=np.float32)
        if matrix.shape != (len(texts), len(self.codes_)):
            raise ModelFileError(f"labels must be {len(texts)} rows of {len(self.codes_)} codes", file=folder / POOL_JSON, field="labels")
        self.codebook_ = Codebook.model_validate(read_json(folder / CODEBOOK_JSON))
        self.pool_texts_, self.pool_labels_ = texts, matrix
        self.counts_ = dict.fromkeys(COUNTS, 0)
        self._index()

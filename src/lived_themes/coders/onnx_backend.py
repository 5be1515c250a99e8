"""The encoder backend: PyTorch, or the same encoder exported to ONNX and run by ONNX Runtime (float or int8) or OpenVINO.

Every path that runs a sentence encoder (the fine-tuned ``transformer`` coder at predict time,
``setfit``, ``embedding-logreg``, ``knn``, ``codebook-similarity``, evidence spans, topic models'
embeddings) asks :func:`current_backend` which one to use. A run sets it from ``encoder_backend`` in
its config, ``lived-themes predict`` from ``--encoder-backend``; code sets it with
``with encoder_backend("onnx-int8"): ...``. It is a context variable, so nothing global changes.

Why not sentence-transformers' ``backend="onnx"``: it goes through ``optimum-onnx``, whose releases
pin ``transformers<4.58`` while this package runs on transformers 5. The export here is the small,
well-trodden part of that path done directly: ``torch.onnx.export`` of the encoder (token ids and
attention mask in, last hidden states out) and ``onnxruntime.quantization.quantize_dynamic`` for
int8 weights. Pooling, normalisation and the coder's head stay in numpy, exactly as in PyTorch.

``openvino`` runs the same export (without ONNX Runtime's fusions) in OpenVINO at the CPU's fastest native
precision: bfloat16 where the CPU has it (AMX or AVX-512 BF16: recent Xeons), float32 elsewhere
(:func:`openvino_precision`). OpenVINO is used through ``Core.read_model`` / ``compile_model`` only, never its
model-conversion tools, which are the part of OpenVINO that carries telemetry.

Exports live next to the weights they come from (``<model>/onnx/``, or ``<model>/body/onnx/`` for
SetFit), written on first use (or by :func:`export_saved_model` when a run saves its model), and are
listed with their sha256 in ``onnx/export.json`` together with the hash of the safetensors file they
were exported from: the model check on load verifies them, and weights that changed since the
export are exported again rather than silently paired with an old graph. Encoders that are not
part of a saved model (the packaged MiniLM) are exported once into a local cache folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lived_themes.coders.onnx_export import (EXPORT_DIR, FILES, cache_folder, cache_root, ensure_export, require_onnxruntime,
                                             require_openvino, sha256_file)
from lived_themes.errors import ConfigError
from lived_themes.coders._inference import length_sorted_batches
from lived_themes.coders._inference import tokenize

__all__ = ["BACKENDS", "EXPORT_DIR", "FILES", "FLOAT_TOLERANCE", "OnnxEncoder", "OnnxSentenceEncoder", "OpenVinoEncoder", "current_backend",
           "backend_precision", "encoder_backend", "export_saved_model", "make_encoder", "openvino_precision", "sentence_encoder", "setfit_body",
           "transformer_scores"]
log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
#: Scores from ONNX (float) agree with PyTorch's to about 1e-5; the tests hold them to this.
FLOAT_TOLERANCE = 1e-4

#: Rows per ONNX Runtime call, whatever batch the caller asks for: small batches keep a layer's activations in the
#: cores' caches. On the NHS model (2 cores, comments of 27 tokens on average) per-token int8 coded 3.2x PyTorch's
#: rate in calls of 16 rows, 3.6x in 32, 3.3x in 64 and 2.7x in 128 (one run; the per-tensor int8 of before: 2.0x in
#: 64, 2.4x in 16): benchmarks/onnx_int8_variants.py, docs/encoder-backends.md.
ONNX_BATCH_ROWS = 16
#: ONNX Runtime graph rewrites left off when a session is made. SkipLayerNormFusion would fuse the export's
#: residual Add + LayerNormalization back into SkipLayerNormalization, whose CPU kernel (ONNX Runtime 1.32) was
#: the slowest op of the int8 graph: 0.31 s of 1.01 s on 1,200 NHS comments; unfused, 0.74 s in all.
UNFUSED = ["SkipLayerNormFusion"]

#: OpenVINO's inference precision: "auto" (bf16 where the CPU runs it natively, else f32), "bf16" or "f32".
OPENVINO_PRECISION_ENV = "LIVED_THEMES_OPENVINO_PRECISION"

#: OpenVINO prepares each new input shape on first sight, so its batches are padded to a multiple of this many
#: tokens (padding is masked out: the same vectors) and a few dozen lengths become a handful of shapes.
OPENVINO_LENGTH_STEP = 8

#: The backend when no caller chose one: lets child processes (a benchmark's steps, Dask workers) inherit a choice.
BACKEND_ENV = "LIVED_THEMES_ENCODER_BACKEND"

_BACKEND: ContextVar[str | None] = ContextVar("lived_themes_encoder_backend", default=None)


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"encoder backend must be one of {list(BACKENDS)}, got {name!r}")
    return name


def current_backend() -> str:
    """The encoder backend in force here: the caller's choice, else ``$LIVED_THEMES_ENCODER_BACKEND``, else ``torch``."""
    chosen = _BACKEND.get()
    if chosen is not None:
        return chosen
    from_env = os.environ.get(BACKEND_ENV, "").strip()
    if from_env and from_env not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={from_env!r}: expected one of {list(BACKENDS)}")
    return from_env or "torch"


@contextmanager
def encoder_backend(name: str | None) -> Iterator[str]:
    """Run the block with this encoder backend (None keeps the one in force)."""
    token = _BACKEND.set(check_backend(name)) if name is not None else None
    try:
        yield current_backend()
    finally:
        if token is not None:
            _BACKEND.reset(token)


# ----- running -----------------------------------------------------------------------------------

class OnnxEncoder:
    """An exported encoder on ONNX Runtime: token ids in, pooled vectors out (length-sorted batches, no padding waste)."""

    def __init__(self, path: Path) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=_providers(ort), disabled_optimizers=UNFUSED)

    def pooled(self, token_ids: list[list[int]], *, pad_id: int, batch_size: int = 64, mode: str = "mean") -> np.ndarray:
        """(n, width) pooled last hidden states, in input order."""

        out: np.ndarray | None = None
        for batch in length_sorted_batches([len(t) for t in token_ids], min(batch_size, ONNX_BATCH_ROWS)):
            ids, mask = padded([token_ids[i] for i in batch], pad_id)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            vectors = pool(hidden, mask, mode)
            if out is None:
                out = np.zeros((len(token_ids), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


class OpenVinoEncoder:
    """The same interface as :class:`OnnxEncoder`, run by OpenVINO on the CPU (the unfused export)."""

    def __init__(self, path: Path, *, precision: str | None = None) -> None:
        core = _openvino_core()
        self.precision = openvino_precision(core, precision)
        self.path = Path(path)
        # OpenVINO's compiled-model cache, in this user's local cache, one folder per exact graph (by its sha256, which the
        # export manifest holds and the load verified) and precision: a compiled model is reused only for the bytes and the
        # arithmetic it was compiled for (OpenVINO 2026.4 gave an f32 and a bf16 compile of one file the same cache entry,
        # and the bf16 run then read NaN from it: tests/test_onnx_backend.py)
        cache = cache_root() / "openvino" / f"{sha256_file(self.path)[:24]}-{self.precision}"
        cache.mkdir(parents=True, exist_ok=True)
        # LATENCY: one request at a time on all cores, as predict calls it; the precision is stated, never left to the default
        self.compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY",
                                                              "CACHE_DIR": str(cache)})
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.output(0)

    def pooled(self, token_ids: list[list[int]], *, pad_id: int, batch_size: int = 64, mode: str = "mean") -> np.ndarray:
        """(n, width) pooled last hidden states, in input order."""
        out: np.ndarray | None = None
        for batch in length_sorted_batches([len(t) for t in token_ids], min(batch_size, ONNX_BATCH_ROWS)):
            ids, mask = padded([token_ids[i] for i in batch], pad_id, multiple=OPENVINO_LENGTH_STEP)
            hidden = self.request.infer({"input_ids": ids, "attention_mask": mask})[self.output]
            vectors = pool(np.asarray(hidden), mask, mode)
            if out is None:
                out = np.zeros((len(token_ids), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def openvino_precision(core: Any, precision: str | None = None) -> str:
    """``bf16`` where the CPU runs bfloat16 natively (OpenVINO lists BF16 among its capabilities), else ``f32``.

    ``precision`` (or ``$LIVED_THEMES_OPENVINO_PRECISION``) may force ``f32`` (scores within float tolerance of
    PyTorch's) or ``bf16``; ``auto`` or None chooses."""
    chosen = (precision or os.environ.get(OPENVINO_PRECISION_ENV, "") or "auto").strip().lower()
    if chosen not in ("auto", "bf16", "f32"):
        raise ValueError(f"{OPENVINO_PRECISION_ENV}={chosen!r}: expected auto, bf16 or f32")
    if chosen != "auto":
        return chosen
    return "bf16" if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32"


@lru_cache(maxsize=1)
def _openvino_core() -> Any:
    """One OpenVINO Core per process (reading the CPU's capabilities is not free)."""
    return require_openvino().Core()


def backend_precision(backend: str) -> str:
    """The arithmetic a backend runs the encoder in, for run.json and predict's last line."""
    if backend == "openvino":
        return openvino_precision(_openvino_core())
    return "int8 (dynamic)" if backend == "onnx-int8" else "f32"


def make_encoder(path: Path, backend: str) -> OnnxEncoder | OpenVinoEncoder:
    """The runner for an exported file: OpenVINO for ``openvino``, ONNX Runtime for ``onnx`` and ``onnx-int8``."""
    return OpenVinoEncoder(path) if backend == "openvino" else OnnxEncoder(path)


def padded(rows: list[list[int]], pad_id: int, *, multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded to the longest row (rounded up to ``multiple``), and the attention mask: the int64 inputs the graph takes."""
    longest = max(len(r) for r in rows)
    width = -(-longest // multiple) * multiple if multiple > 0 else max(16, 1 << (longest - 1).bit_length())
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def _providers(ort: Any) -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available] or available


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' pooling modes over real tokens only: mean, cls, max."""
    hidden = hidden.astype(np.float32, copy=False)
    weights = mask[..., None].astype(np.float32)
    if mode == "mean":
        return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(1)

    raise ConfigError(f"pooling {mode!r} is not supported by the onnx encoder backend (mean, cls, max are); use encoder_backend: torch")


class OnnxSentenceEncoder:
    """A sentence-transformers model's ``encode`` on ONNX Runtime.

    Only the plain layout is taken: Transformer, Pooling (mean, cls or max) and an optional Normalize;
    other modules (Dense, ...) are refused with a clear error rather than skipped.
    """

    def __init__(self, model: Any, *, folder: Path, backend: str, source: Path | None) -> None:
        kinds = [type(m).__name__ for m in model]
        if not kinds or kinds[0] != "Transformer" or kinds[1:2] != ["Pooling"] or any(k != "Normalize" for k in kinds[2:]):

            raise ConfigError(f"the onnx encoder backend takes Transformer + Pooling (+ Normalize) models; this one has {kinds}: "
                              "use encoder_backend: torch")
        self.tokenizer = model.tokenizer
        self.max_length = int(model[0].max_seq_length or 512)
        self.lower = bool(getattr(model[0], "do_lower_case", False))
        config = model[1].get_config_dict()
        self.mode = str(config.get("pooling_mode", "mean"))
        self.normalize = "Normalize" in kinds
        self.dim = int(config.get("embedding_dimension") or model.get_embedding_dimension())
        hf = getattr(model, "transformers_model", None) or model[0].auto_model
        self.encoder = make_encoder(ensure_export(folder, backend, model=lambda: hf, source=source), backend)
        self.backend = backend

    def get_embedding_dimension(self) -> int:
        return self.dim

    get_sentence_embedding_dimension = get_embedding_dimension

    def encode(self, sentences: Sequence[str] | str, batch_size: int = 64, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, show_progress_bar: bool = False, **_: Any) -> np.ndarray:

        single = isinstance(sentences, str)
        texts = [sentences] if single else [str(s) for s in sentences]
        if self.lower:
            texts = [t.lower() for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = tokenize(self.tokenizer, texts, max_length=self.max_length)
        vectors = self.encoder.pooled(ids, pad_id=int(self.tokenizer.pad_token_id or 0), batch_size=batch_size, mode=self.mode)
        if self.normalize or normalize_embeddings:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors[0] if single else vectors


def sentence_encoder(model: Any, path: str | Path, backend: str) -> OnnxSentenceEncoder:
    """An encoder loaded by name (not part of a saved model): exported into the local cache folder."""
    source = Path(path) / "model.safetensors"
    if not source.exists():

        raise ConfigError(f"the onnx encoder backend needs the encoder's weights as model.safetensors in {path}")
    return OnnxSentenceEncoder(model, folder=cache_folder(source), backend=backend, source=source)


# ----- coders' own encoders ----------------------------------------------------------------------

def _scratch(coder: Any) -> Path:
    """A temporary export folder for a coder that has not been saved (removed with the coder)."""
    if getattr(coder, "_onnx_scratch", None) is None:
        coder._onnx_scratch = tempfile.TemporaryDirectory(prefix="lived-themes-onnx-")
    return Path(coder._onnx_scratch.name)


def _coder_folder(coder: Any, sub: str = "") -> tuple[Path, Path | None]:
    """Where a coder's exports go: its saved folder (next to the weights), else a scratch folder.

    A saved folder that cannot be written (a read-only shared mount) exports into the local cache instead.
    """
    saved = getattr(coder, "folder_", None)
    if saved is not None:
        folder = Path(saved) / sub if sub else Path(saved)
        source = folder / "model.safetensors"
        exports = folder / EXPORT_DIR
        usable = os.access(exports if exports.exists() else folder, os.W_OK) or (exports / "export.json").exists()
        return (folder if usable else cache_folder(source)), source
    return _scratch(coder), None


def transformer_scores(coder: Any, token_ids: list[list[int]], backend: str) -> np.ndarray:
    """``transformer.v1`` scores with the encoder on ONNX Runtime: mean pooling and the linear head in numpy."""
    cache = getattr(coder, "_onnx_encoders", None)
    if cache is None:
        cache = coder._onnx_encoders = {}
    if backend not in cache:
        folder, source = _coder_folder(coder)
        cache[backend] = make_encoder(ensure_export(folder, backend, model=lambda: coder.net_.encoder, source=source), backend)
    n_codes = len(coder.codes_)
    if not token_ids:
        return np.zeros((0, n_codes), dtype=np.float32)
    pooled = cache[backend].pooled(token_ids, pad_id=int(coder.tokenizer_.pad_token_id or 0), batch_size=coder.predict_batch_size)
    if "net_" in vars(coder):  # a fitted (or torch-loaded) coder: its head as it is now
        weight = coder.net_.head.weight.detach().cpu().numpy().astype(np.float32)
        bias = coder.net_.head.bias.detach().cpu().numpy().astype(np.float32)
    else:  # loaded for ONNX Runtime: the head read at load, no PyTorch network
        weight, bias = coder.head_arrays_
    logits = pooled @ weight.T + bias
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def setfit_body(coder: Any, backend: str) -> OnnxSentenceEncoder:
    """A SetFit coder's tuned body on ONNX Runtime, exported into ``<model>/body/onnx``."""
    cache = getattr(coder, "_onnx_encoders", None)
    if cache is None:
        cache = coder._onnx_encoders = {}
    if backend not in cache:
        folder, source = _coder_folder(coder, "body")
        cache[backend] = OnnxSentenceEncoder(coder.body_, folder=folder, backend=backend, source=source)
    return cache[backend]


def export_saved_model(coder: Any, folder: Path, backend: str) -> list[Path]:
    """Export a just-saved coder's own encoder into its folder (``transformer``, ``setfit``, an ensemble's members)."""
    if backend == "torch":
        return []
    folder = Path(folder)
    if hasattr(coder, "members_") and hasattr(coder, "_member_folder"):  # ensemble.v1, calibrated.v1: each member's folder
        return [path for i, member in enumerate(coder.members_)
                for path in export_saved_model(member, folder / coder._member_folder(i, member.name), backend)]
    if ("net_" in vars(coder) or "head_arrays_" in vars(coder)) and (folder / "model.safetensors").exists():
        return [ensure_export(folder, backend, model=lambda: coder.net_.encoder, source=folder / "model.safetensors")]
    if hasattr(coder, "body_") and (folder / "body" / "model.safetensors").exists():
        body = folder / "body"
        hf = getattr(coder.body_, "transformers_model", None) or coder.body_[0].auto_model
        return [ensure_export(body, backend, model=lambda: hf, source=body / "model.safetensors")]
    return []

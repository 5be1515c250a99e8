"""The encoder backend: PyTorch, or the same encoder exported to ONNX and run by ONNX Runtime (float or int8).

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

Exports live next to the weights they come from (``<model>/onnx/``, or ``<model>/body/onnx/`` for
SetFit), written on first use (or by :func:`export_saved_model` when a run saves its model), and are
listed with their sha256 in ``onnx/export.json`` together with the hash of the safetensors file they
were exported from: the model check on load verifies them, and weights that changed since the
export are exported again rather than silently paired with an old graph. Encoders that are not
part of a saved model (the packaged MiniLM) are exported once into a local cache folder.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
EXPORT_DIR = "onnx"
MANIFEST = "export.json"
FORMAT = "lived-themes.onnx.v1"
FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
OPSET = 17
#: Where exports of encoders that belong to no saved model go (one folder per weights hash).
CACHE_ENV = "LIVED_THEMES_CACHE_DIR"
#: Scores from ONNX (float) agree with PyTorch's to about 1e-5; the tests hold them to this.
FLOAT_TOLERANCE = 1e-4

_BACKEND: ContextVar[str] = ContextVar("lived_themes_encoder_backend", default="torch")


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"encoder backend must be one of {list(BACKENDS)}, got {name!r}")
    return name


def current_backend() -> str:
    """The encoder backend in force here: ``torch`` unless a caller chose another."""
    return _BACKEND.get()


@contextmanager
def encoder_backend(name: str | None) -> Iterator[str]:
    """Run the block with this encoder backend (None keeps the one in force)."""
    token = _BACKEND.set(check_backend(name)) if name is not None else None
    try:
        yield current_backend()
    finally:
        if token is not None:
            _BACKEND.reset(token)


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("the onnx encoder backends need onnxruntime and onnx: pip install 'lived-themes[onnx]'") from exc
    return onnxruntime


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----- export ------------------------------------------------------------------------------------

def _export_float(model: Any, target: Path) -> None:
    """``torch.onnx.export`` (TorchScript exporter: no extra dependency) with dynamic batch and length."""
    import torch

    net = copy.deepcopy(model).to("cpu").float().eval()  # the exporter may leave a module in training mode

    class _Hidden(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[101, 2000, 2001, 2002, 2003, 102], [101, 2004, 102, 0, 0, 0]], dtype=torch.long)
    ids = ids.clamp(max=int(getattr(net.config, "vocab_size", 30522)) - 1)
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript-exporter deprecation and tracer notes, not actionable here
        torch.onnx.export(_Hidden(net), (ids, mask), str(target), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the weights (activations quantized on the fly): no calibration data needed.

    The float graph is pre-processed first (shape inference and graph fusions), as ONNX Runtime's
    quantization guide asks, so more of it is quantized.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_name(target.stem + ".prepared.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)
    prepared.unlink()


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The checked manifest of an export folder, or None when there is none yet."""
    from lived_themes.coders._modelfiles import check_onnx_exports

    return check_onnx_exports(out.parent, subfolder=out.name)


def ensure_export(folder: Path, backend: str, *, model: Callable[[], Any], source: Path | None) -> Path:
    """The ONNX file for ``backend`` under ``folder/onnx``, exported now if missing or made from other weights.

    ``model`` gives the PyTorch encoder (only called when exporting); ``source`` is the safetensors
    file it was loaded from (None for weights that live only in memory).
    """
    require_onnxruntime()
    name = FILES[check_backend(backend)] if backend != "torch" else None
    if name is None:
        raise ValueError("the torch backend has no ONNX file")
    out = folder / EXPORT_DIR
    source_hash = sha256_file(source) if source is not None else None
    manifest = read_manifest(out)
    if manifest is not None and manifest.get("source_sha256") != source_hash:
        log.warning("%s was exported from other weights than %s; exporting again", out, source)
        for stale in [*manifest["files"], MANIFEST]:
            (out / stale).unlink(missing_ok=True)
        manifest = None
    files = dict(manifest["files"]) if manifest else {}
    if name in files:
        return out / name
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        float_path = out / FILES["onnx"] if FILES["onnx"] in files else scratch / FILES["onnx"]
        if FILES["onnx"] not in files:
            log.info("exporting the encoder to ONNX in %s", out)
            _export_float(model(), float_path)
        if name == FILES["onnx-int8"]:
            log.info("quantizing the ONNX encoder to int8 in %s", out)
            _quantize(float_path, scratch / name)
        new = [p for p in scratch.iterdir() if p.suffix == ".onnx"]
        for path in new:
            files[path.name] = sha256_file(path)
        for path in new:
            os.replace(path, out / path.name)
        _write_manifest(out, files, source, source_hash)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out / name


def _write_manifest(out: Path, files: dict[str, str], source: Path | None, source_hash: str | None) -> None:
    import onnxruntime
    import torch

    from lived_themes.files import write_text_atomic

    manifest = {
        "format": FORMAT,
        "source": source.name if source is not None else None,
        "source_sha256": source_hash,
        "files": dict(sorted(files.items())),
        "inputs": ["input_ids", "attention_mask"],
        "output": "last_hidden_state",
        "opset": OPSET,
        "quantization": {FILES["onnx-int8"]: "dynamic, int8 weights (onnxruntime.quantization.quantize_dynamic)"},
        "exported_with": {"torch": torch.__version__.split("+")[0], "onnxruntime": onnxruntime.__version__},
    }
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def cache_folder(source: Path) -> Path:
    """A local folder for the exports of an encoder that is not part of a saved model, named by its weights' hash."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lived-themes") / "onnx"
    return root / sha256_file(source)[:24]


# ----- running -----------------------------------------------------------------------------------

class OnnxEncoder:
    """An exported encoder on ONNX Runtime: token ids in, pooled vectors out (length-sorted batches, no padding waste)."""

    def __init__(self, path: Path) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=_providers(ort))

    def pooled(self, token_ids: list[list[int]], *, pad_id: int, batch_size: int = 64, mode: str = "mean") -> np.ndarray:
        """(n, width) pooled last hidden states, in input order."""
        from lived_themes.coders._inference import length_sorted_batches

        out: np.ndarray | None = None
        for batch in length_sorted_batches([len(t) for t in token_ids], batch_size):
            rows = [token_ids[i] for i in batch]
            width = max(len(r) for r in rows)
            ids = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                ids[i, : len(row)] = row
                mask[i, : len(row)] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            vectors = pool(hidden, mask, mode)
            if out is None:
                out = np.zeros((len(token_ids), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


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
    raise ValueError(f"pooling {mode!r} is not supported by the onnx encoder backend (mean, cls, max are); use encoder_backend: torch")


class OnnxSentenceEncoder:
    """A sentence-transformers model's ``encode`` on ONNX Runtime.

    Only the plain layout is taken: Transformer, Pooling (mean, cls or max) and an optional Normalize;
    other modules (Dense, ...) are refused with a clear error rather than skipped.
    """

    def __init__(self, model: Any, *, folder: Path, backend: str, source: Path | None) -> None:
        kinds = [type(m).__name__ for m in model]
        if not kinds or kinds[0] != "Transformer" or kinds[1:2] != ["Pooling"] or any(k != "Normalize" for k in kinds[2:]):
            raise ValueError(f"the onnx encoder backend takes Transformer + Pooling (+ Normalize) models; this one has {kinds}")
        self.tokenizer = model.tokenizer
        self.max_length = int(model[0].max_seq_length or 512)
        self.lower = bool(getattr(model[0], "do_lower_case", False))
        config = model[1].get_config_dict()
        self.mode = str(config.get("pooling_mode", "mean"))
        self.normalize = "Normalize" in kinds
        self.dim = int(config.get("embedding_dimension") or model.get_embedding_dimension())
        hf = getattr(model, "transformers_model", None) or model[0].auto_model
        self.encoder = OnnxEncoder(ensure_export(folder, backend, model=lambda: hf, source=source))
        self.backend = backend

    def get_embedding_dimension(self) -> int:
        return self.dim

    get_sentence_embedding_dimension = get_embedding_dimension

    def encode(self, sentences: Sequence[str] | str, batch_size: int = 64, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, show_progress_bar: bool = False, **_: Any) -> np.ndarray:
        from lived_themes.coders._inference import tokenize

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
        raise ValueError(f"the onnx encoder backend needs the encoder's weights as model.safetensors in {path}")
    return OnnxSentenceEncoder(model, folder=cache_folder(source), backend=backend, source=source)


# ----- coders' own encoders ----------------------------------------------------------------------

def _scratch(coder: Any) -> Path:
    """A temporary export folder for a coder that has not been saved (removed with the coder)."""
    if getattr(coder, "_onnx_scratch", None) is None:
        coder._onnx_scratch = tempfile.TemporaryDirectory(prefix="lived-themes-onnx-")
    return Path(coder._onnx_scratch.name)


def _coder_folder(coder: Any, sub: str = "") -> tuple[Path, Path | None]:
    """Where a coder's exports go: its saved folder (next to the weights), else a scratch folder."""
    saved = getattr(coder, "folder_", None)
    if saved is not None:
        folder = Path(saved) / sub if sub else Path(saved)
        return folder, folder / "model.safetensors"
    return _scratch(coder), None


def transformer_scores(coder: Any, token_ids: list[list[int]], backend: str) -> np.ndarray:
    """``transformer.v1`` scores with the encoder on ONNX Runtime: mean pooling and the linear head in numpy."""
    cache = getattr(coder, "_onnx_encoders", None)
    if cache is None:
        cache = coder._onnx_encoders = {}
    if backend not in cache:
        folder, source = _coder_folder(coder)
        cache[backend] = OnnxEncoder(ensure_export(folder, backend, model=lambda: coder.net_.encoder, source=source))
    n_codes = len(coder.codes_)
    if not token_ids:
        return np.zeros((0, n_codes), dtype=np.float32)
    pooled = cache[backend].pooled(token_ids, pad_id=int(coder.tokenizer_.pad_token_id or 0), batch_size=coder.predict_batch_size)
    weight = coder.net_.head.weight.detach().cpu().numpy().astype(np.float32)
    bias = coder.net_.head.bias.detach().cpu().numpy().astype(np.float32)
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
    """Export a just-saved coder's own encoder into its folder (``transformer``, ``setfit``); others have none."""
    if backend == "torch":
        return []
    folder = Path(folder)
    if hasattr(coder, "net_") and (folder / "model.safetensors").exists():
        return [ensure_export(folder, backend, model=lambda: coder.net_.encoder, source=folder / "model.safetensors")]
    if hasattr(coder, "body_") and (folder / "body" / "model.safetensors").exists():
        body = folder / "body"
        hf = getattr(coder.body_, "transformers_model", None) or coder.body_[0].auto_model
        return [ensure_export(body, backend, model=lambda: hf, source=body / "model.safetensors")]
    return []

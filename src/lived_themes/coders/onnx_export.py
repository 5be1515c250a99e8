"""Exporting an encoder to ONNX (float and int8) next to its weights, listed with sha256 in ``onnx/export.json``.

Kept apart from :mod:`lived_themes.coders.onnx_backend`, which runs the exports. ``torch.onnx.export``
(the TorchScript exporter: no extra dependency) writes the encoder with token ids and attention mask in
and last hidden states out, batch and length dynamic, with eager attention so that ONNX Runtime's
transformer fusions apply (:func:`_fuse`); :mod:`lived_themes.coders.onnx_quantize` makes the int8 file
from the fused float one (int8 weights per channel, int8 activations per token). The ``openvino`` backend
reads a third file, the same export without ONNX Runtime's fusions (``model_plain.onnx``: standard ONNX
operators only, which OpenVINO's reader takes). Files are written in a scratch folder and renamed into
place, the manifest last.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from lived_themes.coders._integrity import file_digest
from lived_themes.coders._modelfiles import check_onnx_exports
from lived_themes.coders.onnx_quantize import quantize_per_token
from lived_themes.files import write_text_atomic

log = logging.getLogger(__name__)

EXPORT_DIR = "onnx"
MANIFEST = "export.json"
FORMAT = "lived-themes.onnx.v1"
#: backend -> file name in the export folder
FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx", "openvino": "model_plain.onnx"}
OPSET = 17
#: The kind of graph exported; exports made before (unfused, SkipLayerNormalization, one Attention op, int8 per tensor) are made again.
GRAPH = "fused.v4"
#: Where exports of encoders that belong to no saved model go (one folder per weights hash).
CACHE_ENV = "LIVED_THEMES_CACHE_DIR"

def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("the onnx encoder backends need onnxruntime and onnx: pip install 'lived-themes[onnx]'") from exc
    return onnxruntime


def require_openvino() -> Any:
    try:
        import onnx  # noqa: F401 - torch.onnx.export writes the graph OpenVINO reads
        import openvino
    except ImportError as exc:
        raise ImportError("the openvino encoder backend needs openvino and onnx: pip install 'lived-themes[openvino]'") from exc
    return openvino


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file (hashed once per process while unchanged: :func:`lived_themes.coders._integrity.file_digest`)."""
    return file_digest(path)



def _export_float(model: Any, target: Path, *, fuse: bool = True) -> None:
    """``torch.onnx.export`` (TorchScript exporter: no extra dependency) with dynamic batch and length.

    ``fuse=False`` keeps standard ONNX operators only (for OpenVINO), without ONNX Runtime's contrib fusions."""
    import torch

    net = copy.deepcopy(model).to("cpu").float().eval()  # the exporter may leave a module in training mode
    try:  # eager attention exports the MatMul/Softmax pattern ONNX Runtime fuses into Attention (SDPA's does not fuse)
        net.set_attn_implementation("eager")
    except Exception:  # noqa: BLE001 - an encoder without the switch exports as it is
        log.debug("encoder has no eager attention switch; exporting as it is")

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
    if fuse:
        _fuse(target, net.config)


def _fuse(target: Path, config: Any) -> None:
    """ONNX Runtime's transformer fusions (MultiHeadAttention, BiasGelu, EmbedLayerNormalization), in place.

    Why: the unfused graph ran no faster than PyTorch on short comments. Python-level fusions only
    (opt_level 0), so the file stays portable across CPUs; an encoder they do not fit keeps its plain graph.
    Attention is fused as MultiHeadAttention after separate query, key and value MatMuls (not one Attention
    op holding their weights), so that int8 can quantize those projections per token like every other MatMul.
    Residual + LayerNorm is left as Add and LayerNormalization, not fused into SkipLayerNormalization: on
    ONNX Runtime 1.32's CPU kernels that op took 30% of the int8 graph's time, and the plain pair runs the
    int8 NHS encoder about 1.4x faster (:data:`lived_themes.coders.onnx_backend.UNFUSED`).
    """
    if getattr(config, "model_type", "") not in {"bert", "roberta", "xlm-roberta", "mpnet", "distilbert", "electra"}:
        return
    try:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions("bert")
        options.enable_skip_layer_norm = options.enable_bias_skip_layer_norm = False
        options.use_multi_head_attention = True
        fused = optimize_model(str(target), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                               hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=0,
                               optimization_options=options)
        fused.save_model_to_file(str(target))
    except Exception as exc:  # noqa: BLE001 - fusion is a speed-up, never a reason to fail an export
        log.warning("ONNX Runtime's transformer fusions did not apply (%s); keeping the plain graph", exc)


def _quantize(source: Path, target: Path) -> None:
    """int8 weights per output channel and int8 activations per token (:mod:`lived_themes.coders.onnx_quantize`).

    No calibration data: each token's scale is taken from its own activations at run time, so a comment's
    scores do not depend on the comments it is batched with.
    """
    if quantize_per_token(source, target) == 0:
        raise ValueError(f"{source.name}: no MatMul with a float weight to quantize; use the onnx backend for this encoder")


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The checked manifest of an export folder, or None when there is none yet."""

    return check_onnx_exports(out.parent, subfolder=out.name)


def ensure_export(folder: Path, backend: str, *, model: Callable[[], Any], source: Path | None) -> Path:
    """The ONNX file for ``backend`` under ``folder/onnx``, exported now if missing or made from other weights.

    ``model`` gives the PyTorch encoder (only called when exporting); ``source`` is the safetensors
    file it was loaded from (None for weights that live only in memory).
    """
    if backend not in FILES:
        raise ValueError(f"no ONNX file for encoder backend {backend!r}; exported backends: {sorted(FILES)}")
    if backend == "openvino":
        require_openvino()
    else:
        require_onnxruntime()
    name = FILES[backend]
    out = folder / EXPORT_DIR
    source_hash = sha256_file(source) if source is not None else None
    manifest = read_manifest(out)
    if manifest is not None and (manifest.get("source_sha256") != source_hash or manifest.get("graph") != GRAPH):
        log.warning("%s was exported from other weights than %s, or by an older export; exporting again", out, source)
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
        if name == FILES["openvino"]:
            log.info("exporting the encoder to ONNX (standard operators, for OpenVINO) in %s", out)
            _export_float(model(), scratch / name, fuse=False)
        elif FILES["onnx"] not in files:
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
    import torch

    versions = {"torch": torch.__version__.split("+")[0]}
    for runtime in ("onnxruntime", "openvino"):
        try:
            versions[runtime] = __import__(runtime).__version__.split("-")[0]
        except ImportError:  # only the runtime of the backend in use need be installed
            pass

    manifest = {
        "format": FORMAT,
        "source": source.name if source is not None else None,
        "source_sha256": source_hash,
        "files": dict(sorted(files.items())),
        "inputs": ["input_ids", "attention_mask"],
        "output": "last_hidden_state",
        "opset": OPSET,
        "graph": GRAPH,
        "quantization": {FILES["onnx-int8"]: "dynamic: int8 weights per output channel, int8 activations per token (lived_themes.coders.onnx_quantize)"},
        "unfused": [FILES["openvino"]],
        "exported_with": versions,
    }
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def cache_root() -> Path:
    """This user's local cache folder for lived-themes (``$LIVED_THEMES_CACHE_DIR``, else ``~/.cache/lived-themes``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lived-themes")


def cache_folder(source: Path) -> Path:
    """A local folder for the exports of an encoder that is not part of a saved model, named by its weights' hash."""
    return cache_root() / "onnx" / sha256_file(source)[:24]

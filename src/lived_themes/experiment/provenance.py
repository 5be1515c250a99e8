"""What a run was made with: seed, package versions, git commit, codebook hash, machine.

Recorded so a figure in a paper can be traced back to exactly what produced it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "lived-themes", "numpy", "pandas", "scikit-learn", "scipy", "krippendorff", "fairlearn",
    "iterative-stratification", "spacy", "torch", "transformers", "sentence-transformers",
    "setfit", "bertopic", "gensim", "pydantic", "onnxruntime", "onnx",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: str | Path = ".") -> dict[str, Any]:
    """The commit of the checkout holding ``path`` and whether it had uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def run_info(*, seed: int, codebook_hash: str | None, started: datetime) -> dict[str, Any]:
    return {
        "started_utc": started.isoformat(timespec="seconds"),
        "seed": seed,
        "codebook_hash": codebook_hash,
        "git": git_commit(Path(__file__).resolve().parent),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }

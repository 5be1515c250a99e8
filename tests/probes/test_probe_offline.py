"""Offline by default (probes N04-N06): a hub id that is not on this machine fails at once with a clear message,
without a single network connection, unless downloads were allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lived_themes.encoders.sentence import resolve_encoder
from lived_themes.errors import InputError

from .conftest import assert_located, invoke

HUB_ID = "sentence-transformers/paraphrase-MiniLM-L3-v2"
REPO = Path(__file__).resolve().parents[2]

#: runs the CLI with every socket connect turned into a failure that names itself
NO_NETWORK = """
import socket, sys
def refuse(self, *args, **kwargs):
    sys.stderr.write('NETWORK CONNECT ATTEMPTED\\n')
    raise OSError('network disabled by the test')
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = lambda *a, **k: (_ for _ in ()).throw(OSError('NETWORK DNS ATTEMPTED'))
from lived_themes.cli import app
sys.exit(app(sys.argv[1:]))
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
                                                            "LIVED_THEMES_ALLOW_DOWNLOAD")}
    env.update(HF_HOME=str(tmp_path / "hf_home"), PYTHONPATH=str(REPO / "src"), **extra)
    return env


def test_n04_a_hub_encoder_fails_offline_with_a_clear_message(experiment: Path, tmp_path: Path) -> None:
    """With the hub variables unset, as on a researcher's machine (N05, offline set, is the in-process test below)."""
    pytest.importorskip("huggingface_hub")
    args = ["run", "-q", str(experiment), "--set", f"coders=[{{name: codebook-similarity.v1, params: {{encoder: {HUB_ID}}}}}]"]
    done = subprocess.run([sys.executable, "-c", NO_NETWORK, *args], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "NETWORK" not in done.stderr and "Traceback" not in done.stderr
    assert f"model '{HUB_ID}' is not on this machine" in done.stderr and "--allow-download" in done.stderr


def test_n06_an_encoder_path_that_does_not_exist(experiment: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "encoder"
    line = assert_located(invoke("run", "-q", experiment, "--set", f"coders=[{{name: codebook-similarity.v1, params: {{encoder: {missing}}}}}]"))
    assert "encoder folder not found" in line and str(missing) in line


def test_n05_the_library_resolves_hub_ids_only_from_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("LIVED_THEMES_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(InputError, match="downloads are off"):
        resolve_encoder("someone/not-cached-model")
    assert resolve_encoder(str(tmp_path)) == str(tmp_path)  # a local folder is used as it is
    monkeypatch.setenv("LIVED_THEMES_ALLOW_DOWNLOAD", "1")
    assert resolve_encoder("someone/not-cached-model") == "someone/not-cached-model"  # handed to the hub library


def test_the_cli_turns_offline_mode_on_unless_downloads_are_allowed(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LIVED_THEMES_ALLOW_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)
    assert invoke("codebook", tiny_corpus / "codebook.yaml").exit_code == 0
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert invoke("--allow-download", "codebook", tiny_corpus / "codebook.yaml").exit_code == 0
    assert os.environ.get("LIVED_THEMES_ALLOW_DOWNLOAD") == "1" and "HF_HUB_OFFLINE" not in os.environ

"""Fixtures for the adversarial probes (../shared/reliability/probe-failures.md): a tiny saved model, tiny inputs,
and a CLI runner whose results can be checked for "one located line, exit 2, no traceback"."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app

CODES = ["staff", "medication", "waiting"]
TEXTS = [
    "The staff listened to me", "Nurses were kind and listened", "I never got my medication",
    "The tablets made me sick", "I waited months for an appointment", "The waiting list was long",
    "Staff explained my medication", "Long wait but lovely staff", "They changed my medication", "Waited hours in the corridor",
]
LABELS = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], float)
#: a participant-like sentence: no message may ever contain it
SECRET = "Nobody ever asked me what I needed when I was at my lowest point"


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_located(result: object, *needles: str) -> str:
    """Exit 2, no traceback, the error is one line starting ``error:``; returns that line."""
    output = result.output  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert SECRET not in output
    return lines[0]


@pytest.fixture(scope="session")
def tfidf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lived_themes.coders.baselines import TfidfLogRegCoder

    folder = tmp_path_factory.mktemp("models") / "tfidf"
    TfidfLogRegCoder(tune=False).fit(TEXTS, LABELS, CODES).save(folder)
    return folder


@pytest.fixture()
def model_copy(tfidf_model: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model, free to corrupt."""
    return Path(shutil.copytree(tfidf_model, tmp_path / "model"))


@pytest.fixture()
def pred_csv(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    pd.DataFrame({"quote_id": [f"q{i}" for i in range(1, 6)], "text": TEXTS[:5]}).to_csv(path, index=False)
    return path


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """A corpus folder (quotes.csv, annotations.csv, codebook.yaml) and an experiment YAML beside it."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    pd.DataFrame({"quote_id": [str(i) for i in range(1, 11)], "text": TEXTS, "site": ["a", "b"] * 5}).to_csv(folder / "quotes.csv", index=False)
    rows = [(str(i + 1), "report", CODES[j]) for i in range(10) for j in range(3) if LABELS[i, j]]
    pd.DataFrame(rows, columns=["quote_id", "coder", "code"]).to_csv(folder / "annotations.csv", index=False)
    (folder / "codebook.yaml").write_text(
        "name: tiny\nversion: '1'\ncodes:\n" + "".join(f"  - id: {c}\n    label: {c.title()}\n" for c in CODES), encoding="utf-8"
    )
    return folder


@pytest.fixture()
def experiment(tmp_path: Path, tiny_corpus: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"name: tiny\nseed: 0\ndata:\n  path: {tiny_corpus}\nreference:\n  coder: report\n"
        "splits:\n  - kind: holdout\n    test_size: 0.3\ncoders:\n  - name: majority.v1\n"
        f"evaluation:\n  n_boot: 0\noutput:\n  dir: {tmp_path / 'runs'}\n  html: false\n  figures: false\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture()
def no_hang() -> Iterator[None]:
    """Fail within 60 s instead of hanging on a FIFO or running for hours (the bugs C43 and G46 were)."""
    def fail(*_: object) -> None:
        raise TimeoutError("the command hung or ran too long")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)

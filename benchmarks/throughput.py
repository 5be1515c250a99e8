"""Throughput: ``lived-themes predict`` against a plain ``transformers`` text-classification pipeline.

Same model (a saved transformer.v1 folder), same texts (NHS comments in their natural length
mix), same machine, in one run; the two sides alternate ``--repeats`` times and the median is
kept, so load from other processes hits both alike. Our side is timed exactly as the CLI runs it
(``lived_themes.predict.predict_records``: ``load_coder`` then ``predict_proba`` in chunks); the
pipeline side loads the same weights behind a ``PreTrainedModel`` wrapper. Both timings include
loading the model. Also checks that both give the same scores, and measures training examples/s.

    python benchmarks/throughput.py --n-texts 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/datasets/nhs_patient_experience/v6framework_train.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--model-dir", type=Path, default=None, help="a saved transformer.v1 folder; else one is trained")
    p.add_argument("--n-texts", type=int, default=2000, help="texts to code on each side")
    p.add_argument("--train-quotes", type=int, default=512, help="quotes to train on (for the model and examples/s)")
    p.add_argument("--batch-size", type=int, default=64, help="inference batch size of the trained model (a given --model-dir keeps its own); the pipeline uses the same")
    p.add_argument("--repeats", type=int, default=2)
    return p.parse_args(argv)


def load_nhs(path: Path) -> Any:
    from lived_themes.corpus import load_wide

    return load_wide(
        path, coder="nhs", code_columns_from="Not assigned", blank="zero",
        column_mapping={"Comment ID": "quote_id", "FFT answer": "text"}, on_invalid="set_aside",
    )


def train_model(corpus: Any, folder: Path, *, n: int, batch_size: int) -> float:
    """Train one epoch on ``n`` quotes; returns training examples per second of the training loop."""
    from lived_themes.coders.transformer import TransformerCoder

    codes = [c for c in corpus.codes if corpus.label_matrix("nhs", [c]).sum() >= 20]
    y = corpus.label_matrix("nhs", codes)
    idx = np.random.default_rng(0).choice(len(corpus), n, replace=False)
    coder = TransformerCoder(epochs=1, validation_fraction=0.0, predict_batch_size=batch_size)
    coder.fit([corpus.texts[i] for i in idx], y[idx], codes)
    coder.save(folder)
    return float(coder.train_examples_per_second_)


def pipeline_for(model_dir: Path, *, device: str) -> Any:
    """A text-classification pipeline over the very weights of the saved coder (mean pooling + linear head)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer, PreTrainedModel, pipeline
    from transformers.modeling_outputs import SequenceClassifierOutput

    codes = json.loads((model_dir / "coder.json").read_text(encoding="utf-8"))["codes"]
    encoder = AutoModel.from_pretrained(model_dir, use_safetensors=True)
    config = encoder.config
    config.id2label = dict(enumerate(codes))
    config.label2id = {c: i for i, c in enumerate(codes)}
    config.problem_type = "multi_label_classification"

    class MeanPoolForSequenceClassification(PreTrainedModel):
        config_class = type(config)
        base_model_prefix = "encoder"
        _supports_sdpa = True  # attention runs inside the wrapped encoder, which already uses SDPA

        def __init__(self, cfg: Any) -> None:
            super().__init__(cfg)
            self.encoder = encoder
            self.classifier = torch.nn.Linear(cfg.hidden_size, len(codes))
            self.classifier.load_state_dict(load_file(str(model_dir / "head.safetensors")))

        def forward(self, input_ids: Any = None, attention_mask: Any = None, **kwargs: Any) -> SequenceClassifierOutput:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return SequenceClassifierOutput(logits=self.classifier(pooled))

    # the pipeline logs an error for any class outside its list; the wrapper is deliberate, so quiet that logger
    logging.getLogger("transformers.pipelines.base").setLevel(logging.CRITICAL)
    model = MeanPoolForSequenceClassification(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return pipeline("text-classification", model=model, tokenizer=tokenizer, device=device)


def run_ours(model_dir: Path, frame: Any) -> tuple[float, np.ndarray]:
    from lived_themes.predict import predict_records

    started = time.perf_counter()
    records = list(predict_records(model_dir, frame))
    elapsed = time.perf_counter() - started
    codes = list(records[0]["scores"])
    return elapsed, np.array([[r["scores"][c] for c in codes] for r in records])


def run_pipeline(model_dir: Path, texts: list[str], codes: list[str], *, batch_size: int, max_length: int, device: str) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    pipe = pipeline_for(model_dir, device=device)
    out = pipe(texts, batch_size=batch_size, truncation=True, max_length=max_length, top_k=None, function_to_apply="sigmoid")
    elapsed = time.perf_counter() - started
    return elapsed, np.array([[{d["label"]: d["score"] for d in row}[c] for c in codes] for row in out])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import pandas as pd
    import torch

    from lived_themes.encoders.sentence import pick_device

    if not args.data.exists():
        print(f"NHS file not found at {args.data}; see data/README.md", file=sys.stderr)
        return 2
    corpus = load_nhs(args.data)
    device = pick_device(None)
    with tempfile.TemporaryDirectory(prefix="lt-throughput-") as scratch:
        model_dir = args.model_dir or Path(scratch) / "model"
        train_eps = None
        if args.model_dir is None:
            train_eps = train_model(corpus, model_dir, n=args.train_quotes, batch_size=args.batch_size)
        meta = json.loads((model_dir / "coder.json").read_text(encoding="utf-8"))
        batch_size = int(meta["params"]["predict_batch_size"])  # the pipeline gets the batch size the model uses
        idx = np.random.default_rng(1).choice(len(corpus), min(args.n_texts, len(corpus)), replace=False)
        texts = [corpus.texts[i] for i in idx]
        frame = pd.DataFrame({"quote_id": [f"q{i}" for i in range(len(texts))], "text": texts})
        ours, theirs = [], []
        for _ in range(args.repeats):
            t_ours, s_ours = run_ours(model_dir, frame)
            t_pipe, s_pipe = run_pipeline(model_dir, texts, meta["codes"], batch_size=batch_size,
                                          max_length=int(meta["params"]["max_length"]), device=device)
            ours.append(t_ours)
            theirs.append(t_pipe)
    q_ours, q_pipe = len(texts) / statistics.median(ours), len(texts) / statistics.median(theirs)
    print(f"# throughput on {device} ({torch.get_num_threads()} torch threads), {len(texts)} NHS comments, "
          f"batch size {batch_size}, {args.repeats} alternating repeats, model load included")
    print(f"lived-themes predict (predict_records, as the CLI): {q_ours:.1f} quotes/s  (runs: {', '.join(f'{t:.1f}s' for t in ours)})")
    print(f"transformers text-classification pipeline:          {q_pipe:.1f} quotes/s  (runs: {', '.join(f'{t:.1f}s' for t in theirs)})")
    print(f"ratio (ours / pipeline): {q_ours / q_pipe:.2f}")
    print(f"max |score difference|: {np.abs(s_ours - s_pipe).max():.2e}")
    if train_eps is not None:
        print(f"training: {train_eps:.1f} examples/s (one epoch over {args.train_quotes} quotes, batch 16, max_length 128)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``lived-themes predict`` against a plain ``transformers`` text-classification pipeline on the same weights.

Used by ``benchmarks/throughput.py --pipeline``: the same saved transformer.v1 folder, the same texts,
the two sides alternating, model loading included; also checks that both give the same scores.
The pipeline reads what the model reads (the context columns joined to the text as the coder joins them).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


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


def run_pipeline(model_dir: Path, texts: list[str], codes: list[str], *, batch_size: int, max_length: int, device: str) -> tuple[float, np.ndarray]:

    started = time.perf_counter()
    pipe = pipeline_for(model_dir, device=device)
    out = pipe(texts, batch_size=batch_size, truncation=True, max_length=max_length, top_k=None, function_to_apply="sigmoid")
    elapsed = time.perf_counter() - started
    return elapsed, np.array([[{d["label"]: d["score"] for d in row}[c] for c in codes] for row in out])


def compare(model_dir: Path, frame: Any, *, repeats: int) -> None:
    """Print quotes/s of ``predict_records`` (torch backend) and of the pipeline, and their largest score difference."""
    from lived_themes.coders._context import with_context
    from lived_themes.encoders.sentence import pick_device
    from lived_themes.predict import predict_records

    meta = json.loads((model_dir / "coder.json").read_text(encoding="utf-8"))
    if meta["coder"] != "transformer.v1":
        print(f"--pipeline compares transformer.v1 models only; this one is {meta['coder']}")
        return
    params, codes = meta["params"], meta["codes"]
    texts = with_context(frame["text"].tolist(), frame, params.get("context_columns"))
    ours, theirs = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        records = list(predict_records(model_dir, frame, evidence=False))
        ours.append(time.perf_counter() - started)
        s_ours = np.array([[r["scores"][c] for c in codes] for r in records])
        t_pipe, s_pipe = run_pipeline(model_dir, texts, codes, batch_size=int(params["predict_batch_size"]),
                                      max_length=int(params["max_length"]), device=pick_device(None))
        theirs.append(t_pipe)
    q_ours, q_pipe = len(texts) / statistics.median(ours), len(texts) / statistics.median(theirs)
    print(f"\nlived-themes predict (torch): {q_ours:.1f} quotes/s; transformers pipeline: {q_pipe:.1f} quotes/s; "
          f"ratio {q_ours / q_pipe:.2f}; max |score difference| {np.abs(s_ours - s_pipe).max():.2e}")

"""Wall time and peak memory of predict, evaluation and describe at 10k, 100k and 1M synthetic quotes.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/scale.py [--sizes 10000 100000 1000000]
        [--steps predict-tfidf predict-transformer evaluate describe] [--transformer-max 10000] [--n-boot 1000]

Quotes come from ``benchmarks/synthetic_corpus.py`` (NHS comments drawn with replacement, 35 codes, 12
sites, participants of three quotes, a second coder on 10%). Every step runs in its own Python process
and reports that process's peak resident memory (``ru_maxrss``, the high-water mark), so the peaks are
separate. Steps:

* ``predict-tfidf`` / ``predict-transformer``: ``lived-themes predict`` on ``inputs.parquet`` to Parquet,
  with ``tfidf-logreg.v2`` (trained on 10k synthetic quotes) or ``transformer.v1`` (the packaged MiniLM,
  one epoch on 1,000 quotes: its speed, not its quality, is measured). The transformer runs only up
  to ``--transformer-max`` quotes; larger sizes are left out of the table (extrapolate from the rate).
* ``evaluate``: the run's scorer (``evaluate_predictions`` + ``human_agreement``) on every quote with
  a model that flips 3% of the reference coder's decisions: per-code and headline metrics, by site,
  cluster bootstrap by participant (``--n-boot``), alt-test, chance-corrected agreement.
* ``describe``: ``lived-themes describe`` on the corpus folder.

Timings on a shared machine are wall times: say so beside any table made while other jobs ran.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STEPS = ("predict-tfidf", "predict-transformer", "evaluate", "describe")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def step_train(kind: str, data: Path, out: Path) -> None:
    import numpy as np

    sys.path.insert(0, str(HERE))
    from synthetic_corpus import make

    from lived_themes.registry import make_coder

    n = 10_000 if kind == "tfidf" else 1_000
    quotes, annotations, codes = make(n, second_coder=0.0, seed=1)
    from lived_themes.corpus import Corpus

    corpus = Corpus(quotes=quotes, annotations=annotations)
    labels = corpus.label_matrix("coder_a", codes)
    keep = labels.sum(axis=0) >= 2
    codes = [c for c, k in zip(codes, keep) if k]
    labels = labels[:, keep]
    coder = make_coder("tfidf-logreg.v2") if kind == "tfidf" else make_coder("transformer.v1", epochs=1)
    coder.fit(corpus.texts, labels, codes)
    coder.save(out)
    del np


def step_predict(model: Path, data: Path, out: Path) -> dict:
    from lived_themes.predict import predict_file

    rows = predict_file(model, data / "inputs.parquet", out)
    return {"rows": rows}


def step_evaluate(data: Path, n_boot: int) -> dict:
    import numpy as np

    from lived_themes.corpus import load_corpus
    from lived_themes.experiment.config import EvaluationConfig
    from lived_themes.experiment.scoring import evaluate_predictions, human_agreement

    corpus = load_corpus(data)
    codes = corpus.codes
    labels = corpus.label_matrix("coder_a", codes)
    rng = np.random.default_rng(1)
    predicted = np.where(rng.random(labels.shape) < 0.03, 1 - labels, labels)
    scores = np.clip(0.8 * predicted + 0.2 * rng.random(labels.shape), 0, 1)
    out = {"scores": scores, "predicted": predicted, "fold": np.full(len(labels), "holdout", object), "seconds": {}}
    evaluation = EvaluationConfig(groups=["site"], cluster="participant", n_boot=n_boot)
    t0 = time.perf_counter()
    result = evaluate_predictions(corpus, labels, out, codes=codes, scheme="holdout", coder="model", reference="coder_a",
                                  evaluation=evaluation, seed=0)
    humans = human_agreement(corpus, codes, ["coder_a", "coder_b"], evaluation, seed=0)
    return {"rows": len(labels), "codes": len(codes), "n_boot": n_boot, "scoring_s": round(time.perf_counter() - t0, 1),
            "macro_f1": round(result["summary"]["macro_f1"], 4), "human_groups": len(humans["by_group"])}


def step_describe(data: Path) -> dict:
    from typer.testing import CliRunner

    from lived_themes.cli import app

    result = CliRunner().invoke(app, ["describe", str(data)])
    if result.exit_code != 0:
        raise SystemExit(result.output[-2000:])
    return {}


def child(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    name, rest = args.child[0], args.child[1:]
    if name == "train":
        info = step_train(rest[0], Path(rest[1]), Path(rest[2])) or {}
    elif name == "predict":
        info = step_predict(Path(rest[0]), Path(rest[1]), Path(rest[2]))
    elif name == "evaluate":
        info = step_evaluate(Path(rest[0]), int(rest[1]))
    else:
        info = step_describe(Path(rest[0]))
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1), "peak_mb": round(_peak_mb()), **info}))


def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"failed": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    p.add_argument("--transformer-max", type=int, default=10_000)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--work", type=Path, default=REPO / "runs" / "scale")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    sys.path.insert(0, str(HERE))
    from synthetic_corpus import write

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    models = {}
    for kind in ("tfidf", "transformer"):
        if f"predict-{kind}" in args.steps:
            folder = work / f"model_{kind}"
            if not (folder / "coder.json").exists() and not folder.exists():
                info = run_child("train", kind, str(work), str(folder))
                print(f"trained {kind}: {info}", flush=True)
            models[kind] = folder
    print("| step | quotes | seconds | peak RSS (MB) | notes |\n|---|---|---|---|---|", flush=True)
    for n in args.sizes:
        data = work / f"synth_{n}"
        if not (data / "quotes.parquet").exists():
            write(data, n)
        for step in args.steps:
            if step.startswith("predict"):
                kind = step.split("-", 1)[1]
                if kind == "transformer" and n > args.transformer_max:
                    print(f"| {step} | {n:,} | – | – | not run (> --transformer-max {args.transformer_max:,}) |", flush=True)
                    continue
                out = work / f"pred_{kind}_{n}.parquet"
                out.unlink(missing_ok=True)
                info = run_child("predict", str(models[kind]), str(data), str(out))
            elif step == "evaluate":
                info = run_child("evaluate", str(data), str(args.n_boot))
            else:
                info = run_child("describe", str(data))
            notes = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("seconds", "peak_mb"))
            print(f"| {step} | {n:,} | {info.get('seconds', '–')} | {info.get('peak_mb', '–')} | {notes} |", flush=True)


if __name__ == "__main__":
    main()

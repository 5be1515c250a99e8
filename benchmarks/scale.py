"""Wall time and peak memory of predict, evaluation, describe and topic models at 10k, 100k and 1M synthetic quotes.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/scale.py [--sizes 10000 100000 1000000]
        [--steps predict-tfidf predict-transformer evaluate describe topics] [--transformer-max 10000] [--n-boot 1000]
        [--topics-v2-max 100000]

Quotes come from ``benchmarks/synthetic_corpus.py`` (NHS comments drawn with replacement, 35 codes, 12
sites, participants of three quotes, a second coder on 10%). Every step runs in its own Python process
and reports that process's own peak resident memory (``VmHWM`` in ``/proc/self/status``, the high-water
mark of its address space), so the peaks are separate. Not ``ru_maxrss``: Linux carries it across
``fork`` + ``exec``, so a child's ``ru_maxrss`` is at least the parent's resident size when it started it,
and the parent here holds the synthetic corpus it has just written (a 1M-row corpus made ``predict``
look twice as big as it is). Steps:

* ``predict-tfidf`` / ``predict-transformer``: ``lived-themes predict`` on ``inputs.parquet`` to Parquet,
  with ``tfidf-logreg.v2`` (trained on 10k synthetic quotes) or ``transformer.v1`` (the packaged MiniLM,
  one epoch on 1,000 quotes: its speed, not its quality, is measured). The transformer runs only up
  to ``--transformer-max`` quotes; larger sizes are left out of the table (extrapolate from the rate).
* ``evaluate``: the run's scorer (``evaluate_predictions`` + ``human_agreement``) on every quote with
  a model that flips 3% of the reference coder's decisions: per-code and headline metrics, by site,
  cluster bootstrap by participant (``--n-boot``), alt-test, chance-corrected agreement. Its notes
  split the peak: ``inputs_mb`` is what the step holds before scoring starts (the corpus and the
  reference, predicted and score matrices), ``scoring_peak_mb`` the high-water mark from there on
  (``VmHWM`` restarted through ``/proc/self/clear_refs``); ``peak_mb`` is the larger of that and
  the loading peak.
* ``describe``: ``lived-themes describe`` on the corpus folder.
* ``topics``: fit ``bertopic.v2`` and ``bertopic-online.v1`` (registered defaults: 25 topics from
  2,500 quotes on) on every quote. **What is timed:** the synthetic quotes repeat the 4,417 distinct
  NHS comments, and encoding a million quotes with MiniLM on two cores would take hours, so every
  distinct comment is embedded once (the ``encoder`` line, printed before the table, gives that rate
  in texts/s: multiply to get the encoding cost of a real corpus of distinct quotes), and each fit is
  handed those embeddings gathered per quote. The table therefore measures reduction + clustering +
  topic words + assigning every quote, not encoding. ``bertopic.v2`` gets the whole n x 384 matrix
  (as the topic runner gives it); ``bertopic-online.v1`` gets a view that gathers one chunk's rows
  at a time, as it would read them from its chunk cache, so its peak memory is the chunk's and not
  the corpus's. ``bertopic.v2`` runs only up to ``--topics-v2-max`` quotes (k-means with ten restarts
  on the full matrix; see the note in the table). ``seconds`` is the whole child process (imports and
  reading the quotes included), ``fit_s`` the fit alone (BERTopic already imported); ``nmi_code`` is the normalised mutual
  information between topics and coder_a's first code per quote (a rough check that the topics still
  follow the codes, not a quality study; see docs/topics.md for those).

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
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STEPS = ("predict-tfidf", "predict-transformer", "evaluate", "describe", "topics")
TOPIC_MODELS = ("bertopic.v2", "bertopic-online.v1")
POOL = "nhs_pool_minilm"


def _peak_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` (its own address space, reset by ``exec``).

    ``ru_maxrss`` is the fallback where there is no /proc (macOS: bytes there, and inherited as on Linux).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _rss_mb() -> float:
    """This process's resident memory now (``VmRSS``), in MB; NaN where there is no /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return float("nan")


def _reset_peak() -> bool:
    """Restart ``VmHWM`` from the current resident size (Linux >= 4.0: ``5`` into ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


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
    from lived_themes.config.base import EvaluationConfig
    from lived_themes.experiment.scoring import evaluate_predictions, human_agreement

    corpus = load_corpus(data)
    codes = corpus.codes
    labels = corpus.label_matrix("coder_a", codes)
    rng = np.random.default_rng(1)
    # codes as cross_val_scores holds them (float32: 0, 1 and NaN exact); scores float64, as a coder gives them
    predicted = np.where(rng.random(labels.shape) < 0.03, 1 - labels, labels).astype(np.float32)
    scores = np.clip(0.8 * predicted + 0.2 * rng.random(labels.shape), 0, 1)
    out = {"scores": scores, "predicted": predicted, "fold": np.full(len(labels), "holdout", object), "seconds": {}}
    evaluation = EvaluationConfig(groups=["site"], cluster="participant", n_boot=n_boot)
    loading_peak, inputs = _peak_mb(), _rss_mb()  # the corpus and the (n, codes) reference, codes and scores
    reset = _reset_peak()
    t0 = time.perf_counter()
    result = evaluate_predictions(corpus, labels, out, codes=codes, scheme="holdout", coder="model", reference="coder_a",
                                  evaluation=evaluation, seed=0)
    humans = human_agreement(corpus, codes, ["coder_a", "coder_b"], evaluation, seed=0)
    scoring_peak = _peak_mb()
    extra = {"inputs_mb": round(inputs), "scoring_peak_mb": round(scoring_peak)} if reset else {}
    return {"rows": len(labels), "codes": len(codes), "n_boot": n_boot, "scoring_s": round(time.perf_counter() - t0, 1),
            "macro_f1": round(result["summary"]["macro_f1"], 4), "human_groups": len(humans["by_group"]),
            "peak_mb": round(max(loading_peak, scoring_peak)), **extra}


def step_describe(data: Path) -> dict:
    from typer.testing import CliRunner

    from lived_themes.cli import app

    result = CliRunner().invoke(app, ["describe", str(data)])
    if result.exit_code != 0:
        raise SystemExit(result.output[-2000:])
    return {}


def _pool_texts() -> tuple[list[str], Any]:
    """The distinct NHS comments in a fixed order, and coder_a's first code of each (as synthetic_corpus draws them)."""

    sys.path.insert(0, str(HERE))
    from synthetic_corpus import nhs_pool

    from lived_themes.topics.base import primary_codes

    texts, labels, _ = nhs_pool(35)
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    unique = list(first)
    return unique, primary_codes(labels[[first[t] for t in unique]].astype(float))


def step_embed_pool(work: Path) -> dict:
    """MiniLM embeddings of every distinct NHS comment, once; the encoder's rate is measured here, apart from the fits."""
    import hashlib

    import numpy as np

    from lived_themes.encoders.sentence import encode_chunk, load_sentence_encoder

    unique, _ = _pool_texts()
    load_sentence_encoder(None)  # loading is not encoding
    t0 = time.perf_counter()
    vectors = encode_chunk(unique)
    seconds = time.perf_counter() - t0
    partial = work / f"{POOL}.npy.partial"
    with open(partial, "wb") as handle:
        np.save(handle, vectors, allow_pickle=False)
    partial.replace(work / f"{POOL}.npy")
    info = {"texts": len(unique), "encode_s": round(seconds, 1), "texts_per_s": round(len(unique) / seconds, 1),
            "sha256": hashlib.sha256("\x00".join(unique).encode("utf-8")).hexdigest()}
    (work / f"{POOL}.json").write_text(json.dumps(info), encoding="utf-8")
    return info


class Rows:
    """``pool[pick[start:stop]]`` on slicing: one chunk's embeddings at a time, never the n x d matrix."""

    def __init__(self, pool: Any, pick: Any) -> None:
        self.pool, self.pick = pool, pick

    def __len__(self) -> int:
        return len(self.pick)

    def __getitem__(self, rows: slice) -> Any:
        return self.pool[self.pick[rows]]


def step_topics(name: str, data: Path, work: Path) -> dict:
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.metrics import normalized_mutual_info_score

    from lived_themes.topics.base import make_topic_model

    unique, first_code = _pool_texts()
    row = {t: i for i, t in enumerate(unique)}
    column = pq.read_table(data / "quotes.parquet", columns=["text"]).column("text").combine_chunks().dictionary_encode()
    pick = np.array([row[t] for t in column.dictionary.to_pylist()], dtype=np.int64)[column.indices.to_numpy()]
    del column
    texts = [unique[i] for i in pick]  # the pool's string objects, shared: the text column is not held twice
    pool = np.load(work / f"{POOL}.npy")
    embeddings = pool[pick] if name == "bertopic.v2" else Rows(pool, pick)
    import bertopic  # noqa: F401  (its import, about ten seconds here, is in ``seconds``, not in ``fit_s``)

    t0 = time.perf_counter()
    model = make_topic_model(name).fit(texts, embeddings=embeddings)
    fit_s = time.perf_counter() - t0
    return {"fit_s": round(fit_s, 1), "topics": len(model.topic_ids),
            "nmi_code": round(float(normalized_mutual_info_score(first_code[pick], model.topics_)), 3)}


def child(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    name, rest = args.child[0], args.child[1:]
    if name == "train":
        info = step_train(rest[0], Path(rest[1]), Path(rest[2])) or {}
    elif name == "predict":
        info = step_predict(Path(rest[0]), Path(rest[1]), Path(rest[2]))
    elif name == "evaluate":
        info = step_evaluate(Path(rest[0]), int(rest[1]))
    elif name == "embed-pool":
        info = step_embed_pool(Path(rest[0]))
    elif name == "topics":
        info = step_topics(rest[0], Path(rest[1]), Path(rest[2]))
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
    p.add_argument("--topics-v2-max", type=int, default=100_000,
                   help="largest corpus bertopic.v2 is fitted on (k-means with ten restarts on the whole n x 384 matrix)")
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
    if "topics" in args.steps:
        if not (work / f"{POOL}.npy").exists():
            info = run_child("embed-pool", str(work))
        else:
            info = {**json.loads((work / f"{POOL}.json").read_text(encoding="utf-8")), "recorded": "when the pool was embedded"}
        print(f"encoder (packaged all-MiniLM-L6-v2, every distinct NHS comment once; the topic fits below do not encode): {info}", flush=True)
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
            elif step == "topics":
                for name in TOPIC_MODELS:
                    if name == "bertopic.v2" and n > args.topics_v2_max:
                        print(f"| topics {name} | {n:,} | – | – | not run (> --topics-v2-max {args.topics_v2_max:,}): k-means with ten "
                              "restarts over the whole matrix; use bertopic-online.v1 |", flush=True)
                        continue
                    info = run_child("topics", name, str(data), str(work))
                    notes = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("seconds", "peak_mb"))
                    print(f"| topics {name} | {n:,} | {info.get('seconds', '–')} | {info.get('peak_mb', '–')} | {notes} |", flush=True)
                continue
            else:
                info = run_child("describe", str(data))
            notes = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("seconds", "peak_mb"))
            print(f"| {step} | {n:,} | {info.get('seconds', '–')} | {info.get('peak_mb', '–')} | {notes} |", flush=True)


if __name__ == "__main__":
    main()

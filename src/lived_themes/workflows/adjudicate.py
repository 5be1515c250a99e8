"""``lived-themes adjudicate``: the researcher's decisions in disagreements.csv become a coder.

The run folder's resolved config says where its corpus came from; the corpus is reloaded, the
decisions are read (the ``decision`` column of ``disagreements.csv``, or another table with
quote_id, code, decision), and a corpus folder is written with every original annotation plus a
coder ``adjudicated``. Undecided disagreements are filled only by a strict human majority; a tie (1-1, 2-2)
is never filled: it is listed in ``undecided.csv`` in the output folder, and its quote is left uncoded
by the new coder until someone decides it. A next run uses it as its reference with
``--set data.format=corpus --set data.path=<folder> --set reference.coder=adjudicated``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from lived_themes.corpus import read_table, save_corpus
from lived_themes.errors import InputError
from lived_themes.evaluation.adjudication import NO, YES, adjudicated_matrix, undecided_ties
from lived_themes.files import unescape_columns
from lived_themes.config.coding import ExperimentConfig
from lived_themes.experiment.data import load_from_config
from lived_themes.corpus.model import agreement_codes
from lived_themes.corpus.model import ADJUDICATED, CODER, DERIVED


def read_decisions(path: str | Path) -> pd.DataFrame:
    """A filled queue (or any table with quote_id, code, decision): rows with a decision, as 0/1.

    Unreadable decisions raise an InputError naming the file, row and field; blank means undecided.
    """
    path = Path(path)
    table, _ = read_table(path)
    unescape_columns(table, ["quote_id", "code"])  # disagreements.csv escapes formula-leading cells for spreadsheets
    for column in ("quote_id", "code", "decision"):
        if column not in table.columns:
            raise InputError(f"no {column!r} column (found {list(table.columns)})", file=path, row=0, field=column)
    out = []
    for pos, (qid, code, raw) in enumerate(zip(table["quote_id"], table["code"], table["decision"]), start=1):
        text = "" if pd.isna(raw) else str(raw).strip().lower()
        if not text:
            continue
        if text not in YES | NO:
            raise InputError("decision must be 1/0, yes/no or true/false (blank = not decided)", file=path, row=pos, field="decision")
        if pd.isna(qid) or pd.isna(code):
            raise InputError("a decision needs its quote_id and code", file=path, row=pos, field="quote_id" if pd.isna(qid) else "code")
        out.append((str(qid), str(code), 1.0 if text in YES else 0.0, pos))
    decided = pd.DataFrame(out, columns=["quote_id", "code", "decision", "row"])
    dup = decided[decided.duplicated(["quote_id", "code"], keep=False)]
    if len(dup):
        first = dup.iloc[1]
        raise InputError(f"a second decision for quote {first['quote_id']} and code {first['code']}", file=path,
                         row=int(first["row"]), field="decision")
    return decided


#: the ties no one has decided yet, written beside the adjudicated corpus for a person to decide
UNDECIDED = "undecided.csv"


def decidable_codes(corpus: Any, humans: list[str], metrics: dict[str, Any]) -> list[str]:
    """Every code a decision may name: the run's codes, the codebook's, and any code a coder used
    (``min_code_count`` only decides what a model learns, never what a person may decide)."""

    known = list(metrics.get("codes") or []) + list((metrics.get("human_agreement") or {}).get("codes") or [])
    if corpus.codebook is not None:
        known += list(corpus.codebook.code_ids)
    return agreement_codes(corpus, [*humans, *corpus.coders], list(dict.fromkeys(known)))


def mark_derived(corpus: Any, coder: str) -> Any:
    """The adjudicated coder's rows flagged in the ``derived`` column: a later run never counts it as a human."""
    from dataclasses import replace

    import pandas as pd


    ann = corpus.annotations.copy()
    flag = ann[DERIVED].astype(object) if DERIVED in ann.columns else pd.Series([None] * len(ann), index=ann.index, dtype=object)
    ann[DERIVED] = flag.where(ann[CODER] != coder, ADJUDICATED)
    return replace(corpus, annotations=ann)


def adjudicate_run(run_dir: str | Path, output: str | Path, *, decisions: str | Path | None = None, coder: str = "adjudicated",
                   undecided: str = "majority", base_dir: Path | None = None) -> dict[str, Any]:
    """Write ``output`` (a corpus folder) with the adjudicated coder; return counts for the message."""
    import json

    import yaml

    run_dir = Path(run_dir)
    config_path, metrics_path = run_dir / "config.yaml", run_dir / "metrics.json"
    for path in (config_path, metrics_path):
        if not path.exists():
            raise InputError("not found: is this a run folder written by `lived-themes run`?", file=path)
    config = ExperimentConfig.model_validate(yaml.safe_load(config_path.read_text(encoding="utf-8")))
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    source = Path(decisions) if decisions else run_dir / "disagreements.csv"
    decided = read_decisions(source)
    corpus = load_from_config(config.data, base_dir=base_dir)
    if coder in corpus.coders:
        raise InputError(f"the corpus already has a coder named {coder!r}; choose another with --coder", file=source)
    derived = corpus.derived_coders  # an earlier adjudicated reference never votes as a human
    humans = [h for h in ((metrics.get("adjudication") or {}).get("humans") or
                          [h for h in corpus.human_coders if h in set(metrics.get("human_coders") or corpus.human_coders)])
              if h not in derived]
    codes = decidable_codes(corpus, humans, metrics)
    matrices = corpus.label_matrices(humans, codes)
    matrix, counts = adjudicated_matrix(matrices, codes, corpus.quote_ids, decided, humans=humans, undecided=undecided, source=source)
    ties = undecided_ties(matrices, codes, corpus.quote_ids, decided, humans=humans)
    adjudicated = mark_derived(corpus.with_coder(coder, matrix, codes), coder)
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise InputError("the output folder exists and is not empty; choose a new one", file=output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}."))
    try:
        save_corpus(adjudicated, tmp, format="csv")
        if len(ties):
            ties.to_csv(tmp / UNDECIDED, index=False)  # ids, codes and coder names only
        if output.exists():
            output.rmdir()
        tmp.rename(output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return {**counts, "coder": coder, "output": str(output), "humans": humans,
            "undecided_file": str(output / UNDECIDED) if len(ties) else None}

"""``lived-themes review``: the active-learning loop around a researcher who codes in batches.

One call is one round, in a review folder:

1. read the codes the researcher returned (the batch CSV filled in, or a ``.qdpx`` coded in their QDA
   program) and add them to ``labels.jsonl``; the corpus itself is never changed;
2. retrain the coder on every coded quote except the fixed held-out set, and score it on that set;
3. propose the next batch of uncoded quotes (``active.select_batch``) as ``round-NNN/batch.csv``
   (ids, text, empty code columns: the researcher's own working file) and ``round-NNN/batch.qdpx``;
   optionally propose coded quotes for a second coder (``round-NNN/recode.csv``);
4. append the round to ``rounds.jsonl``: labels used, macro-F1 on the held-out set, what was read and proposed.

Settings live in ``review.json``, written by the first round; later rounds reuse them unless told
otherwise. Logs and the rounds log hold ids and counts, never quote text.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from lived_themes.coders.decision import Decision
from lived_themes.corpus import Corpus, load_corpus
from lived_themes.corpus.model import MODEL_PREFIX, NO_CODE
from lived_themes.corpus.tables import read_table
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.errors import InputError, shown
from lived_themes.jsonutil import jsonable
from lived_themes.files import csv_for_people, unescape_cell, unescape_columns, write_text_atomic
from lived_themes.active import select_batch, text_features, choose_recodes, out_of_fold_scores, disagreement, STRATEGIES
from lived_themes.active.strategies import NEEDS_FEATURES
from lived_themes.codebook import Codebook
from lived_themes.coders.cross_validation import person_groups
from lived_themes.evaluation import summary_scores
from lived_themes.evaluation.groups import OVERALL, metric_by_group
from lived_themes.evaluation.metrics import macro_f1, micro_f1
from lived_themes.evaluation.single_label import is_single_label, single_label_scores
from lived_themes.evaluation.leakage import person_columns
from lived_themes.interop import import_project
from lived_themes.interop.writer import export_project
from lived_themes.registry import make_coder, CODERS
from lived_themes.workflows.folder_lock import folder_lock
from lived_themes.corpus.model import CONSENSUS_PREFIX

SETTINGS = "review.json"
LABELS = "labels.jsonl"
ROUNDS = "rounds.jsonl"
HELD_OUT = "held_out.json"
LOCK = "review.lock"
MODEL = "model"
#: columns of a batch file that are not codes
BATCH_COLUMNS = [QUOTE_ID, TEXT, CODER, "no_code"]
RECODE_COLUMNS = [QUOTE_ID, TEXT, CODER, "first_coder", "disagreement", "no_code"]
#: the model's suggestion in a batch: mark ``accept`` to take ``suggested`` as your codes, or fill the code columns instead
SUGGEST_COLUMNS = ["accept", "suggested", "suggested_scores"]
NONE_SUGGESTED = "(no code)"
_YES = {"1", "1.0", "x", "y", "yes", "true"}
_NO = {"0", "0.0", "n", "no", "false"}
LABEL_MODES = ("multi", "single", "auto")
#: resamples of the held-out quotes for the interval of each round's held-out figures
N_BOOT = 1000
CI = 0.95
#: strategy used before any quote is coded: there is no model yet, only the texts
COLD_START = "kmeans"


@dataclass
class ReviewSettings:
    corpus: str
    coder: str = "tfidf-logreg.v1"
    params: dict[str, Any] = field(default_factory=dict)
    strategy: str = "weighted-kmeans"
    batch_size: int = 50
    features: str = "tfidf"
    reviewer: str = "reviewer"
    reference: str | None = None
    held_out_fraction: float = 0.0
    recode: int = 0
    seed: int = 0
    #: multi, single (each quote its top code or none) or auto (single when every coded quote has at most one code),
    #: as a run's ``data.label_mode``; the coder's own ``params.label_mode`` wins when set
    label_mode: str = "multi"

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {list(STRATEGIES)}")
        if self.coder not in CODERS:
            raise ValueError(f"unknown coder {self.coder!r}; registered coders: {sorted(CODERS)}")
        if self.batch_size < 1 or self.recode < 0:
            raise ValueError("batch size must be at least 1 and recode at least 0")
        if not 0.0 <= self.held_out_fraction < 1.0:
            raise ValueError("held-out fraction must be in [0, 1)")
        if self.features not in ("tfidf", "embeddings"):
            raise ValueError("features must be 'tfidf' or 'embeddings'")
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"label mode must be one of {list(LABEL_MODES)}, got {self.label_mode!r}")
        if str(self.reviewer).startswith(MODEL_PREFIX):
            raise ValueError(f"the reviewer's name must not start with {MODEL_PREFIX!r}")


def load_settings(folder: Path, given: dict[str, Any]) -> ReviewSettings:
    """The folder's saved settings, updated by the options given (None = not given)."""
    given = {k: v for k, v in given.items() if v is not None}
    path = folder / SETTINGS
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    names = {f.name for f in fields(ReviewSettings)}
    merged = {k: v for k, v in {**saved, **given}.items() if k in names}
    if "corpus" not in merged:
        raise ValueError(f"{folder} has no {SETTINGS} yet: name the corpus to review (--corpus)")
    settings = ReviewSettings(**merged)
    settings.check()
    return settings


# ----- reading the researcher's codes back -----------------------------------------------------------
def read_returned_codes(path: str | Path, codes: list[str], *, default_coder: str) -> tuple[pd.DataFrame, int]:
    """Long (quote_id, coder, code) rows from a filled batch CSV or a coded .qdpx; also the number of rows left uncoded."""
    path = Path(path)
    if path.suffix.lower() in (".qdpx", ".qde"):
        return _read_qdpx(path), 0
    frame, name = read_table(path)
    frame.columns = [unescape_cell(c) for c in frame.columns]  # batch.csv escapes formula-leading cells for spreadsheets
    unescape_columns(frame, [QUOTE_ID, CODER])
    if QUOTE_ID not in frame.columns:
        raise InputError(f"no {QUOTE_ID!r} column", file=name, field=QUOTE_ID)
    known = set(codes)
    extra = [c for c in frame.columns if c not in known and c not in RECODE_COLUMNS and c not in SUGGEST_COLUMNS]
    if extra:
        raise InputError(f"column(s) {extra[:5]} are neither codes of the codebook nor batch columns", file=name, field=str(extra[0]))
    code_columns = [c for c in frame.columns if c in known]
    rows: list[dict[str, Any]] = []
    uncoded = 0
    first: dict[tuple[str, str], tuple[int, set[str]]] = {}  # (quote, coder) -> (row, codes) of its first coded row
    for row_no, record in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        marks = {c: _mark(record.get(c), file=name, row=row_no, field=c) for c in [*code_columns, "no_code", "accept"] if c in frame.columns}
        if all(v is None for v in marks.values()):
            uncoded += 1
            continue
        given = [c for c in code_columns if marks.get(c)]
        if marks.get("accept"):  # the model's suggestion taken as this coder's codes
            if given or marks.get("no_code"):
                raise InputError("marked accept and also codes or no_code: keep one", file=name, row=row_no, field="accept")
            suggested = [c.strip() for c in str(record.get("suggested") or "").split(";") if c.strip() and c.strip() != NONE_SUGGESTED]
            unknown = [c for c in suggested if c not in known]
            if unknown:
                raise InputError(f"suggested code(s) {unknown[:3]} are not in the codebook", file=name, row=row_no, field="suggested")
            given = suggested
            if not given:
                marks["no_code"] = True
        if marks.get("no_code") and given:
            raise InputError("marked no_code and also a code", file=name, row=row_no, field="no_code")
        qid = record.get(QUOTE_ID)
        if qid is None or (isinstance(qid, float) and np.isnan(qid)):
            raise InputError("empty quote id", file=name, row=row_no, field=QUOTE_ID)
        coder = record.get(CODER)
        coder = str(coder) if isinstance(coder, str) and coder.strip() else default_coder
        if coder.startswith(MODEL_PREFIX):
            raise InputError(f"a person's codes cannot be filed under a model's name ({MODEL_PREFIX}...)", file=name, row=row_no, field=CODER)
        key = (str(qid), coder)
        if key in first:  # the same quote twice from one coder: the same codes are one coding, different ones a conflict
            if first[key][1] != set(given):
                raise InputError(f"quote {shown(str(qid))} is coded twice by {shown(coder)} with different codes (rows {first[key][0]} "
                                 f"and {row_no}); keep one row", file=name, row=row_no, field=QUOTE_ID)
            continue
        first[key] = (row_no, set(given))
        rows += [{QUOTE_ID: str(qid), CODER: coder, CODE: c} for c in given] or [{QUOTE_ID: str(qid), CODER: coder, CODE: NO_CODE}]
    return pd.DataFrame.from_records(rows, columns=[QUOTE_ID, CODER, CODE]), uncoded


def _mark(value: object, *, file: str, row: int, field: str) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise InputError("expected 1 (or x, yes, true) for a code that applies, 0 or empty otherwise", file=file, row=row, field=field)


def _read_qdpx(path: Path) -> pd.DataFrame:
    """A batch project coded in a QDA program: each document is a quote (named by its id), each user a coder."""

    result = import_project(path, unit="document")
    ann = result.corpus.annotations
    return ann[~ann[CODER].astype(str).str.startswith(MODEL_PREFIX)][[QUOTE_ID, CODER, CODE]].reset_index(drop=True)


def merge_labels(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """New codes replace a coder's earlier codes for the same quote (a corrected batch wins)."""
    if not len(new):
        return old
    replaced = pd.MultiIndex.from_frame(new[[QUOTE_ID, CODER]].drop_duplicates())
    keep = ~pd.MultiIndex.from_frame(old[[QUOTE_ID, CODER]]).isin(replaced) if len(old) else np.zeros(0, dtype=bool)
    return pd.concat([old[keep], new], ignore_index=True)


# ----- the training labels -----------------------------------------------------------------------------
def training_labels(corpus: Corpus, codes: list[str], reference: str | None) -> tuple[np.ndarray, list[str | None]]:
    """(n, k) labels with NaN rows for uncoded quotes, and who coded each row.

    A quote coded by several people trains on the reference coder's codes, else on the first coder's
    (in order of appearance) who saw it.
    """

    humans = corpus.human_coders
    adjudicated = [c for c in corpus.derived_coders if not str(c).startswith((MODEL_PREFIX, CONSENSUS_PREFIX))]
    order = ([reference] if reference in humans or reference in adjudicated else []) + [c for c in humans if c != reference]
    y = np.full((len(corpus), len(codes)), np.nan)
    who: list[str | None] = [None] * len(corpus)
    for coder in order:
        m = corpus.label_matrix(coder, codes)
        fill = np.isnan(y).all(axis=1) & ~np.isnan(m).all(axis=1)
        y[fill] = m[fill]
        for i in np.flatnonzero(fill):
            who[i] = coder
    return y, who


# ----- writing -------------------------------------------------------------------------------------------
def _atomic_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)  # the one atomic writer: never over a device, FIFO or folder


def _batch_frame(corpus: Corpus, idx: np.ndarray, codes: list[str], coder: str, extra: dict[str, list[Any]] | None = None) -> pd.DataFrame:
    ids, texts = np.asarray(corpus.quote_ids, dtype=object), np.asarray(corpus.texts, dtype=object)  # each property builds a list
    frame = pd.DataFrame({QUOTE_ID: ids[np.asarray(idx, dtype=int)].tolist(), TEXT: texts[np.asarray(idx, dtype=int)].tolist(),
                          CODER: [coder] * len(idx)})
    for name, values in (extra or {}).items():
        frame[name] = values
    frame["no_code"] = ""
    for code in codes:
        frame[code] = ""
    return frame


def _save_model(coder: Any, folder: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=folder))
    try:
        coder.save(tmp)
        old = folder / MODEL
        if old.exists():
            shutil.rmtree(old)
        tmp.rename(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----- one round ---------------------------------------------------------------------------------------
def review_round(folder: str | Path, *, returned: str | Path | None = None, base_dir: Path | None = None,
                 progress: Callable[[str], None] | None = None, **options: Any) -> dict[str, Any]:
    """Read returned codes (if any), retrain, score on the held-out set, propose the next batch; returns the round record.

    The round holds the folder's lock (``review.lock``) from reading the rounds log to appending to it: a second
    round started meanwhile is refused with one line, never numbered the same.
    """
    folder = Path(folder)
    created = not folder.exists()
    try:
        with folder_lock(folder, name=LOCK, what="another review round"):  # two rounds at once would both be round N
            return _locked_round(folder, returned=returned, base_dir=base_dir, progress=progress, **options)
    finally:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a first round that failed on its inputs leaves nothing behind


def _locked_round(folder: Path, *, returned: str | Path | None, base_dir: Path | None,
                  progress: Callable[[str], None] | None, **options: Any) -> dict[str, Any]:

    say = progress or (lambda message: None)
    settings = load_settings(folder, options)
    corpus_path = Path(settings.corpus)
    if not corpus_path.is_absolute() and base_dir is not None and not corpus_path.exists():
        corpus_path = base_dir / corpus_path
    corpus = load_corpus(corpus_path)
    codes = corpus.codes
    if not codes:
        raise InputError("the corpus has no codes (no codebook and no codes in its annotations): nothing to learn", file=corpus_path)

    # inputs first: everything is read and checked before anything is written
    labels_path = folder / LABELS
    labels = read_table(labels_path)[0] if labels_path.exists() else pd.DataFrame(columns=[QUOTE_ID, CODER, CODE])
    if len(labels):
        labels = labels.astype({QUOTE_ID: str, CODER: str})
        labels[CODE] = labels[CODE].astype(object).where(labels[CODE].notna(), None)
    new = pd.DataFrame(columns=[QUOTE_ID, CODER, CODE])
    uncoded = 0
    if returned is not None:
        new, uncoded = read_returned_codes(returned, codes, default_coder=settings.reviewer)
        unknown_ids = sorted(set(new[QUOTE_ID]) - set(corpus.quote_ids))
        if unknown_ids:
            raise InputError(f"{len(unknown_ids)} returned quote id(s) are not in the corpus (first: {unknown_ids[0]!r})", file=returned, field=QUOTE_ID)
        bad = sorted(set(new[CODE].dropna()) - set(codes))
        if bad:
            raise InputError(f"code(s) {bad[:5]} are not in the corpus's codebook", file=returned, field=CODE)
    labels = merge_labels(labels, new)
    reviewed = replace(corpus, annotations=pd.concat([corpus.annotations, labels], ignore_index=True))
    y, who = training_labels(reviewed, codes, settings.reference)
    coded = ~np.isnan(y).all(axis=1)

    held_path = folder / HELD_OUT
    if held_path.exists():
        held_ids = set(json.loads(held_path.read_text(encoding="utf-8"))["quote_ids"])
    else:
        candidates = np.flatnonzero(coded)
        n_held = int(round(settings.held_out_fraction * len(candidates)))
        rng = np.random.default_rng(settings.seed)
        all_ids = corpus.quote_ids
        held_ids = {all_ids[i] for i in rng.choice(candidates, n_held, replace=False)} if n_held else set()
    held = np.array([q in held_ids for q in corpus.quote_ids], dtype=bool)
    train = coded & ~held
    pool = np.flatnonzero(~coded)

    folder.mkdir(parents=True, exist_ok=True)
    rounds_path = folder / ROUNDS
    round_no = 1 + (sum(1 for line in rounds_path.read_text(encoding="utf-8").splitlines() if line.strip()) if rounds_path.exists() else 0)
    _atomic_text(folder / SETTINGS, json.dumps(asdict(settings), indent=2) + "\n")
    if not held_path.exists():
        _atomic_text(held_path, json.dumps({"quote_ids": sorted(held_ids)}) + "\n")
    if len(new):
        out = labels.copy()
        _atomic_text(labels_path, "".join(json.dumps({QUOTE_ID: q, CODER: c, CODE: k if isinstance(k, str) else None}, ensure_ascii=False) + "\n"
                                          for q, c, k in zip(out[QUOTE_ID], out[CODER], out[CODE])))
    say(f"round {round_no}: {int(train.sum())} coded quotes to train on, {int(held.sum())} held out, {len(pool)} uncoded")

    label_mode = resolve_label_mode(settings, y[coded])

    def make() -> Any:  # the round's label mode, so held-out figures, suggestions and recodes follow one decision
        return make_coder(settings.coder, **{**settings.params, "label_mode": label_mode})

    record: dict[str, Any] = {"round": round_no, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "coder": settings.coder,
                              "strategy": settings.strategy, "returned": None, "labels_used": int(train.sum()),
                              "labels_by_coder": {}, "held_out": int(held.sum()), "macro_f1": None, "micro_f1": None,
                              "label_mode": label_mode}
    if returned is not None:
        record["returned"] = {"file": str(returned), "quotes": int(new[QUOTE_ID].nunique()) if len(new) else 0,
                              "coders": sorted(set(new[CODER])), "rows_left_uncoded": uncoded}
    record["labels_by_coder"] = {c: sum(1 for i in np.flatnonzero(train) if who[i] == c) for c in dict.fromkeys(w for w in who if w)}
    texts = corpus.texts
    coder = None
    if train.any():
        idx = np.flatnonzero(train)
        coder = make().fit([texts[i] for i in idx], y[idx], codes, codebook=corpus.codebook)
        _save_model(coder, folder)
        if held.any():
            h = np.flatnonzero(held & coded)
            scores = coder.predict_proba([texts[i] for i in h])
            given = coder.codes_from_scores(scores).astype(float)  # the coder's own decision (single-label: one code or none)
            summary = summary_scores(y[h], given, scores)
            record["macro_f1"], record["micro_f1"] = float(summary["macro_f1"]), float(summary["micro_f1"])
            record.update(held_out_intervals(y[h], given, seed=settings.seed))
            if label_mode == "single":
                record["single_label"] = jsonable(single_label_scores(y[h], given))  # kappa is NaN (null) when one class only

    round_dir = folder / f"round-{round_no:03d}"
    round_dir.mkdir(exist_ok=True)
    strategy = settings.strategy if coder is not None else COLD_START
    record["strategy_used"] = strategy
    files: list[str] = []
    if len(pool):
        features = text_features(texts, kind=settings.features, seed=settings.seed) if strategy in NEEDS_FEATURES else None
        proba = coder.predict_proba([texts[i] for i in pool]) if coder is not None else np.zeros((len(pool), len(codes)))
        decision = coder.decision if coder is not None else Decision(np.full(len(codes), 0.5))
        chosen = select_batch(strategy, settings.batch_size, proba=proba, decision=decision,
                              features=None if features is None else features[pool],
                              labelled_features=None if features is None else features[train],
                              labelled_y=y[train], seed=settings.seed * 1000 + round_no)
        picked = pool[chosen]
        batch = _batch_frame(corpus, picked, codes, settings.reviewer)
        suggested = _suggestions(proba[chosen], decision.chosen(proba[chosen], codes), codes) if coder is not None else None
        if suggested is not None:
            batch["accept"] = ""
            batch["suggested"], batch["suggested_scores"] = suggested
        _atomic_text(round_dir / "batch.csv", csv_for_people(batch))  # opened in a spreadsheet: formulas escaped
        _export_batch(corpus, picked, round_dir / "batch.qdpx",
                      suggested=None if suggested is None else suggested[0], model=f"{MODEL_PREFIX}{settings.coder}")
        record["proposed"] = np.asarray(corpus.quote_ids, dtype=object)[np.asarray(picked, dtype=int)].tolist()
        files += [str(round_dir / "batch.csv"), str(round_dir / "batch.qdpx")]
    else:
        record["proposed"] = []
    if settings.recode and coder is not None:
        record["recode"] = _propose_recodes(corpus, y, who, train, codes, make, settings, round_dir, files)
    record["files"] = files
    with rounds_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


def resolve_label_mode(settings: ReviewSettings, coded_labels: np.ndarray) -> str:
    """The round's label mode: the coder's ``params.label_mode`` when set, else the review's; ``auto`` read on the coded quotes."""
    mode = settings.params.get("label_mode") or settings.label_mode
    if mode == "auto":
        return "single" if is_single_label(coded_labels) else "multi"
    return str(mode)


def held_out_intervals(y_true: np.ndarray, y_pred: np.ndarray, *, seed: int = 0, n_boot: int = N_BOOT, ci: float = CI) -> dict[str, Any]:
    """Bootstrap intervals of the held-out macro- and micro-F1, resampling held-out quotes (evaluation's cluster
    bootstrap with each quote its own cluster): ``macro_f1_ci``, ``micro_f1_ci`` as [low, high], with ``ci`` and ``n_boot``."""
    frame = metric_by_group({"macro_f1": macro_f1, "micro_f1": micro_f1}, y_true, y_pred,
                            pd.Series(["held out"] * len(y_true), name="held_out"), n_boot=n_boot, ci=ci, seed=seed)
    overall = frame[frame["group"] == OVERALL].set_index("metric")
    out: dict[str, Any] = {"ci": ci, "n_boot": n_boot}
    for name in ("macro_f1", "micro_f1"):
        low, high = float(overall.loc[name, "ci_low"]), float(overall.loc[name, "ci_high"])
        out[f"{name}_ci"] = None if np.isnan(low) or np.isnan(high) else [low, high]
    return out


def _suggestions(proba: np.ndarray, chosen: list[list[str]], codes: list[str]) -> tuple[list[str], list[str]]:
    """Per quote: the codes the coder's own decision chose ('a; b', or '(no code)') and its three highest scores
    ('a 0.91; b 0.40; c 0.12')."""
    given, scores = [], []
    for row, picked in zip(np.asarray(proba, dtype=float), chosen):
        given.append("; ".join(picked) or NONE_SUGGESTED)
        top = np.argsort(-row, kind="stable")[:3]
        scores.append("; ".join(f"{codes[j]} {row[j]:.2f}" for j in top))
    return given, scores


def _export_batch(corpus: Corpus, picked: np.ndarray, path: Path, *, suggested: list[str] | None = None, model: str = "") -> None:
    """The batch as a REFI-QDA project: one document per quote (named by its id), the codebook, and the model's
    suggested codes as codings by user ``model:<coder>`` (a reviewer's own codings are read back, the model's never)."""

    quotes = corpus.quotes.iloc[picked][[QUOTE_ID, TEXT]].reset_index(drop=True)
    book = corpus.codebook or Codebook.from_codes(corpus.codes, name=corpus.name)
    rows = [{QUOTE_ID: qid, CODER: model, CODE: code.strip()} for qid, codes in zip(quotes[QUOTE_ID], suggested or [])
            for code in codes.split(";") if code.strip() and code.strip() != NONE_SUGGESTED]
    annotations = pd.DataFrame.from_records(rows, columns=[QUOTE_ID, CODER, CODE])
    export_project(Corpus(quotes=quotes, annotations=annotations, codebook=book, name=corpus.name), path)


def _propose_recodes(corpus: Corpus, y: np.ndarray, who: list[str | None], train: np.ndarray, codes: list[str],
                     make: Callable[[], Any], settings: ReviewSettings, round_dir: Path, files: list[str]) -> list[str]:
    """Coded quotes seen by one person only, where that person and an out-of-fold model disagree most."""

    seen_by = {c: reviewed for c, reviewed in ((c, corpus.seen_by(c)) for c in corpus.human_coders)}
    n_seen = np.sum([m for m in seen_by.values()], axis=0) if seen_by else np.zeros(len(corpus))
    idx = np.flatnonzero(train)
    if len(idx) < 2:
        return []
    texts = corpus.texts
    quotes = corpus.quotes.iloc[idx].reset_index(drop=True)
    groups = person_groups(quotes, person_columns(quotes.columns))  # one person's quotes never on both sides of a fold
    scores, predicted = out_of_fold_scores(make, [texts[i] for i in idx], y[idx], codes, seed=settings.seed, groups=groups)
    single = np.array([n_seen[i] <= 1 for i in idx])
    order = choose_recodes(y[idx][single], scores[single], settings.recode, predicted[single])
    chosen = idx[single][order]
    score = {int(i): s for i, s in zip(idx[single], _disagreements(y[idx][single], scores[single], predicted[single]))}
    people = [c for c in corpus.human_coders] + ([settings.reviewer] if settings.reviewer not in corpus.human_coders else [])
    second: list[str] = []
    for k, i in enumerate(chosen):
        others = [p for p in people if p != who[i]]
        second.append(others[k % len(others)] if others else "")
    frame = _batch_frame(corpus, chosen, codes, "", {"first_coder": [who[i] for i in chosen],
                                                     "disagreement": [round(float(score[int(i)]), 4) for i in chosen]})
    frame[CODER] = second
    _atomic_text(round_dir / "recode.csv", csv_for_people(frame[[*RECODE_COLUMNS, *codes]]))
    files.append(str(round_dir / "recode.csv"))
    return np.asarray(corpus.quote_ids, dtype=object)[np.asarray(chosen, dtype=int)].tolist()


def _disagreements(y: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return disagreement(y, scores, predicted)

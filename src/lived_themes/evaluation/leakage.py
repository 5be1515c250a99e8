"""Leakage checks: a person on both sides of a split, and a model scored on its own training data.

Both make a model look better than it is, and neither shows in the numbers, so they are
warned about in the log, in ``metrics.json`` and in the report.

Which columns name a person. ``evaluation.cluster`` when it names a column (the researcher
said quotes sharing it are not independent), plus any quotes column whose name, split into
words (``participant_id``, ``RespondentID``, ``speaker-no``), has a person word
(participant, respondent, speaker, interviewee, informant, person, patient, author, user,
subject, member) and either nothing else or an id word (id, ids, code, no, num, number, key).
``speaker_notation`` or ``author_role`` do not match: they describe a person, not identify one.

Training ids are stored with the model as salted SHA-256 hashes, never as raw ids: an id may
be a text fragment or a name, and a model folder is the thing most often shared.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

PERSON_WORDS = {"participant", "respondent", "speaker", "interviewee", "informant", "person", "patient", "author",
                "user", "subject", "member"}
ID_WORDS = {"id", "ids", "code", "no", "num", "number", "key"}
HASH_SCHEME = "sha256(salt + ':' + id)"


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    out: list[str] = []
    for w in words:  # "participantid" written as one word
        stem = next((p for p in PERSON_WORDS if w.startswith(p) and w[len(p):] in ID_WORDS), None)
        out += [stem, w[len(stem):]] if stem else [w]
    return out


def is_person_id_column(name: str) -> bool:
    """True for column names that identify a person (see the module note for the rule)."""
    words = _words(name)
    persons = [w for w in words if w in PERSON_WORDS or (w.endswith("s") and w[:-1] in PERSON_WORDS)]
    rest = [w for w in words if w not in persons]
    return bool(persons) and all(w in ID_WORDS for w in rest)


def person_columns(columns: Iterable[str], cluster: str | None = None) -> list[str]:
    """``cluster`` (when it is a column) and every person-id column, in column order."""
    columns = [str(c) for c in columns]
    found = [c for c in columns if (cluster is not None and c == cluster) or is_person_id_column(c)]
    return found


def split_leaks(folds: Sequence[Any], meta: pd.DataFrame, columns: Sequence[str], *, split_label: str) -> list[str]:
    """A warning per person column whose values fall on both sides of some fold.

    ``folds`` carry ``train_idx`` and ``test_idx`` (positions into ``meta``). Missing values are
    not a person and are ignored. Names the number of people, never an id.
    """
    warnings = []
    for column in columns:
        values = meta[column].astype(object).reset_index(drop=True)
        known = values.notna().to_numpy()
        shared: set[str] = set()
        for fold in folds:
            train = {str(v) for v in values.iloc[np.asarray(fold.train_idx)][known[np.asarray(fold.train_idx)]]}
            test_idx = np.asarray(fold.test_idx)
            shared |= train & {str(v) for v in values.iloc[test_idx][known[test_idx]]}
        if shared:
            people = len({str(v) for v in values[known]})
            warnings.append(
                f"{split_label}: {len(shared)} of {people} {column} value(s) have quotes in both the training and the test "
                f"side of a fold, so scores are optimistic; split by that column (kind: group_kfold or "
                f"leave_one_group_out, group: {column})"
            )
    return warnings


def hash_ids(ids: Iterable[Any], salt: str) -> list[str]:
    """Salted SHA-256 hex digest of each id (ids compared as stripped strings)."""
    return [hashlib.sha256(f"{salt}:{str(i).strip()}".encode("utf-8")).hexdigest() for i in ids]


def training_ids_record(ids: Iterable[Any], *, salt: str | None = None) -> dict[str, Any]:
    """What a model folder stores about its training quotes: a salt and sorted hashes, no raw ids."""
    salt = salt if salt is not None else secrets.token_hex(16)
    hashes = sorted(set(hash_ids(ids, salt)))
    return {"hash": HASH_SCHEME, "salt": salt, "n": len(hashes), "ids": hashes}


def training_overlap(record: dict[str, Any], ids: Iterable[Any]) -> int:
    """How many of ``ids`` (distinct) the model was trained on, per its stored record."""
    if record.get("hash") != HASH_SCHEME or not isinstance(record.get("salt"), str) or not isinstance(record.get("ids"), list):
        raise ValueError(f"training ids record: expected hash {HASH_SCHEME!r} with a salt and a list of ids")
    known = set(record["ids"])
    return sum(h in known for h in set(hash_ids(ids, record["salt"])))


def overlap_warning(n_overlap: int, n_ids: int, source: str) -> str:
    return (f"{n_overlap} of {n_ids} evaluated quote(s) were in the training data of the model at {source}: "
            "these scores are not out-of-sample and overstate how well the model codes new quotes")

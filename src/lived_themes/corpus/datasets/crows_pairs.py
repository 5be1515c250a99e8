"""CrowS-Pairs (Nangia et al., EMNLP 2020): stereotype sentence pairs with five validators' bias-type labels.

Each validator's raw label list becomes that validator's annotations (an empty list means the
validator saw the pair and assigned no bias type), so agreement is computed on raw labels, not on
the writer's final ``bias_type``. The authors ask that the data be used for evaluation only.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from lived_themes.corpus import NO_CODE, Corpus
from lived_themes.corpus.validate import CODE, CODER, QUOTE_ID, TEXT
from lived_themes.corpus.datasets._common import CODER_GROUP, build_corpus, make_codebook, read_csv_text, resolve_path
from lived_themes.errors import InputError

FOLDER, FILE = "crows_pairs", "crows_pairs_anonymized.csv"

BIAS_TYPES: list[tuple[str, str, str]] = [
    ("race-color", "Race / colour", "The pair contrasts racial or skin-colour groups."),
    ("gender", "Gender / gender identity", "The pair contrasts genders or gender identities."),
    ("socioeconomic", "Socioeconomic status / occupation", "The pair contrasts income, class or occupation."),
    ("nationality", "Nationality", "The pair contrasts nationalities or citizenship."),
    ("religion", "Religion", "The pair contrasts religions or religious people."),
    ("age", "Age", "The pair contrasts age groups."),
    ("sexual-orientation", "Sexual orientation", "The pair contrasts sexual orientations."),
    ("physical-appearance", "Physical appearance", "The pair contrasts body type, looks or physical features."),
    ("disability", "Disability", "The pair contrasts disabled and non-disabled people, including mental illness."),
]


def _parse_list(value: str, *, row: int, field: str, path: Path) -> list[Any]:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise InputError("expected a Python-style list", file=path, row=row, field=field) from None
    if not isinstance(parsed, list):
        raise InputError("expected a list", file=path, row=row, field=field)
    return parsed


def load_crows_pairs(path: str | Path | None = None, *, writer_as_coder: bool = False) -> Corpus:
    """Load CrowS-Pairs: text = ``sent_more``; coders = the anonymised validators (``a77`` ...).

    Quote columns: ``sent_less``, ``bias_type`` (the writer's label), ``stereo_antistereo``, ``writer``.
    With ``writer_as_coder`` the writer's ``bias_type`` is added as one more coder named ``writer``.
    """
    source = resolve_path(path, folder=FOLDER, file=FILE, dataset="crows_pairs")
    frame, repaired = read_csv_text(source)
    index_col = "Unnamed: 0" if "Unnamed: 0" in frame.columns else frame.columns[0]
    quotes = frame.rename(columns={index_col: QUOTE_ID, "sent_more": TEXT, "anon_writer": "writer"})
    quotes[QUOTE_ID] = "crows-" + quotes[QUOTE_ID].astype(str)
    records: list[dict[str, Any]] = []
    for pos, (qid, labels, coders) in enumerate(zip(quotes[QUOTE_ID], frame["annotations"], frame["anon_annotators"])):
        label_lists = _parse_list(labels, row=pos + 1, field="annotations", path=source)
        coder_ids = _parse_list(coders, row=pos + 1, field="anon_annotators", path=source)
        if len(label_lists) != len(coder_ids):
            raise InputError(f"{len(label_lists)} label lists for {len(coder_ids)} validators", file=source, row=pos + 1, field="annotations")
        for coder, codes in zip(coder_ids, label_lists):
            codes = codes if isinstance(codes, list) else [codes]
            for code in codes or [NO_CODE]:
                records.append({QUOTE_ID: qid, CODER: str(coder), CODE: code, CODER_GROUP: "validator"})
    if writer_as_coder:
        records += [{QUOTE_ID: q, CODER: "writer", CODE: b, CODER_GROUP: "writer"} for q, b in zip(quotes[QUOTE_ID], quotes["bias_type"])]
    keep = [QUOTE_ID, TEXT, "sent_less", "bias_type", "stereo_antistereo", "writer"]
    book = make_codebook("crows_pairs_bias_type", BIAS_TYPES, source="Nangia et al. 2020, CrowS-Pairs")
    notes = [f"{repaired} line(s) decoded as cp1252"] if repaired else []
    return build_corpus(quotes[keep], records, codebook=book, name="crows_pairs", source=source, n_read=len(frame), notes=notes)

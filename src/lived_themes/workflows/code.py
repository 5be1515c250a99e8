"""``lived-themes code``: zero-shot coding of an uncoded project from its codebook alone, no reference coder.

A zero-shot coder (``codebook-similarity.v1``, or ``llm.v1``) is built from the codebook's definitions
and applied with ``predict``'s writer and guards: one output row per input row, in order, no row
dropped, the output refused when it is an input, written atomically. The input is a table of texts,
or a corpus folder (an imported REFI-QDA project), whose ``codebook.yaml`` is then used unless
another is named. The output is ``predict``'s, so ``lived-themes export --predictions`` sends the
model's codes back to the QDA program as codings by user ``model:<name>``, for the researcher to review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.coders.base import Coder
from lived_themes.corpus.validate import QUOTE_ID, TEXT
from lived_themes.errors import InputError
from lived_themes.files import refuse_overwrite
from lived_themes.predict import predict_file
from lived_themes.registry import CODERS, check_params, get_coder_class, make_coder

DEFAULT_CODER = "codebook-similarity.v1"
QUOTE_STEMS = ("quotes.jsonl", "quotes.parquet", "quotes.csv", "quotes.tsv")


def zero_shot_coders() -> list[str]:
    """Registered coders that can code from a codebook alone (no training labels)."""
    return sorted(name for name in CODERS if getattr(get_coder_class(name), "zero_shot", False))


def zero_shot_coder(codebook: Codebook, name: str = DEFAULT_CODER, params: dict[str, Any] | None = None) -> Coder:
    """A zero-shot coder fitted on the codebook alone: every code of the codebook, no labels, no quotes."""
    params = dict(params or {})
    if name not in CODERS:
        raise ValueError(f"unknown coder {name!r}; zero-shot coders: {zero_shot_coders()}")
    if not getattr(get_coder_class(name), "zero_shot", False):
        raise ValueError(f"{name} needs training labels; coders that code from a codebook alone: {zero_shot_coders()}")
    if not codebook.code_ids:
        raise ValueError(f"codebook {codebook.name!r} has no codes: nothing to code")
    check_params(name, params)
    return make_coder(name, **params).fit([], None, codebook.code_ids, codebook=codebook)


def _inputs(source: Path, codebook: str | Path | None) -> tuple[Path, Path]:
    """(table of texts, codebook file): a corpus folder gives its quotes file and, unless named, its codebook.yaml."""
    if source.is_dir():
        table = next((source / stem for stem in QUOTE_STEMS if (source / stem).is_file()), None)
        if table is None:
            raise InputError("no quotes.jsonl/.parquet/.csv/.tsv in the folder (a corpus folder, e.g. from `lived-themes import`)",
                             file=source)
        if codebook is None and (source / "codebook.yaml").is_file():
            codebook = source / "codebook.yaml"
    else:
        table = source
    if codebook is None:
        raise InputError("no codebook: name one with --codebook (the input is not a corpus folder with a codebook.yaml)", file=source)
    return table, Path(codebook)


def code_uncoded(source: str | Path, output: str | Path, *, codebook: str | Path | None = None, coder: str = DEFAULT_CODER,
                 params: dict[str, Any] | None = None, text_column: str = TEXT, id_column: str | None = QUOTE_ID,
                 evidence: bool = True) -> dict[str, Any]:
    """Code every row of ``source`` (a table or a corpus folder) with a zero-shot coder; returns what was done.

    The output is checked against every input (the table, the folder, the codebook) before anything is
    read; the codebook and coder are checked before the output is opened.
    """
    source = Path(source)
    refuse_overwrite(output, [source, codebook])
    table, book_path = _inputs(source, codebook)
    refuse_overwrite(output, [table, book_path])
    book = load_codebook(book_path)
    model = zero_shot_coder(book, coder, params)
    rows = predict_file(model, table, output, text_column=text_column, id_column=id_column, evidence=evidence)
    return {"rows": rows, "coder": coder, "codes": len(model.codes_), "codebook": str(book_path), "input": str(table),
            "label_mode": "single" if model.none_threshold_ is not None else "multi"}


__all__ = ["DEFAULT_CODER", "code_uncoded", "zero_shot_coder", "zero_shot_coders"]

"""The annotated corpus: a quotes table plus a long annotations table (quote_id, coder, code).

A coder who saw a quote and assigned no code has one row with an empty code; a coder who did
not see a quote has no row for it. Model output is stored the same way, as one more coder.
"""

from lived_themes.corpus.model import NO_CODE, Corpus, LoadReport
from lived_themes.corpus.io import (
    load_annotations,
    load_corpus,
    load_quotes,
    load_wide,
    read_table,
    save_corpus,
    write_table,
)
from lived_themes.corpus.labels import load_labelled
from lived_themes.corpus.consensus import consensus

__all__ = [
    "NO_CODE",
    "Corpus",
    "LoadReport",
    "consensus",
    "load_annotations",
    "load_corpus",
    "load_labelled",
    "load_quotes",
    "load_wide",
    "read_table",
    "save_corpus",
    "write_table",
]

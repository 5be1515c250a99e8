"""with_context reads rows without a pandas Series per quote; the text it builds must stay what iterrows built,
so a saved model reads the same "question: ... | comment" it was trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders._context import SEPARATOR, _present, with_context


def _as_iterrows_built_it(texts: list[str], metadata: pd.DataFrame, columns: list[str]) -> list[str]:
    out = []
    for text, (_, row) in zip(texts, metadata[columns].iterrows()):
        parts = [f"{c}: {str(v).strip()}" for c, v in row.items() if _present(v)]
        out.append(SEPARATOR.join([*parts, text]))
    return out


FRAMES = [
    pd.DataFrame({"q": ["What went well?", None, "  ", np.nan, 3], "r": pd.Series(["a", "b", None, "d", "e"], dtype="str")}),
    pd.DataFrame({"wave": [1, 2, 3, 4, 5], "score": [0.5, np.nan, 2.0, 3.0, 1.0]}),  # ints beside floats print as floats
    pd.DataFrame({"wave": [1, 2, 3, 4, 5], "site": ["x", "y", None, "z", "u"]}),
    pd.DataFrame({"c": pd.Categorical(["a", "b", None, "a", "b"]), "flag": [True, False, True, None, False]}),
    pd.DataFrame({"day": pd.to_datetime(["2020-01-01", None, "2021-02-03", "2020-01-01", "2020-01-01"])}),
    pd.DataFrame({"n": pd.array([1, None, 3, 4, 5], dtype="Int64"), "q": ["a"] * 5}, index=[10, 11, 12, 13, 14]),
]


@pytest.mark.parametrize("frame", FRAMES, ids=[",".join(f.columns) for f in FRAMES])
def test_context_text_is_what_iterrows_built(frame: pd.DataFrame) -> None:
    texts = [f"comment {i}" for i in range(len(frame))]
    columns = list(frame.columns)
    assert with_context(texts, frame, columns) == _as_iterrows_built_it(texts, frame, columns)


def test_no_columns_leaves_the_texts_and_a_missing_column_is_named() -> None:
    assert with_context(["a", "b"], None, None) == ["a", "b"]
    with pytest.raises(ValueError, match="not in metadata"):
        with_context(["a"], pd.DataFrame({"x": [1]}), ["question"])

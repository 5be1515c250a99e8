"""X07: a long line with an opening quote that is never closed is read in linear time."""

from __future__ import annotations

import re
import time
from pathlib import Path

from lived_themes.extract import extract_quotes
from lived_themes.extract.markdown import QUOTE_PAIRS, DisplayQuote, match_display_quote

#: the pattern that backtracked quadratically, kept here to show the linear reader accepts exactly the same paragraphs
OLD = re.compile(r"^(?P<open>[“\"‘'])(?P<body>.*\w.*)(?P<close>[”\"’'])(?P<punct>[.,;:!?]*)\s*(?:\[(?P<note>[^\[\]]+)\])?\s*$", re.DOTALL)


def _old(text: str) -> DisplayQuote | None:
    match = OLD.match(text.strip())
    if match is None or match.group("close") not in QUOTE_PAIRS[match.group("open")]:
        return None
    note = match.group("note")
    return DisplayQuote(body=re.sub(r"\s+", " ", match.group("body")).strip(), note=note.strip() if note else None)


def test_the_linear_reader_matches_the_old_pattern_on_every_short_paragraph() -> None:
    import random

    rng = random.Random(0)
    alphabet = list("ab “”\"‘’'[].,!? \n")
    for _ in range(20000):
        text = rng.choice("“\"‘'x") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert match_display_quote(text) == _old(text), repr(text)
    assert match_display_quote('"I was not heard." [Woman, 40s]') == DisplayQuote("I was not heard.", "Woman, 40s")


def test_x07_an_unclosed_quote_on_a_long_line_scales_linearly(tmp_path: Path) -> None:
    def seconds(words: int) -> float:
        line = "“" + " ".join(["word"] * words)
        start = time.perf_counter()
        for _ in range(5):
            assert match_display_quote(line) is None
        return time.perf_counter() - start

    small, large = seconds(10_000), seconds(40_000)
    assert large < 1.0 and large < 16 * max(small, 1e-4)  # quadratic growth would be 16x; the old pattern took minutes
    report = tmp_path / "longline.md"
    report.write_text("# Report\n\n“" + " ".join(["word"] * 40_000) + "\n", encoding="utf-8")
    start = time.perf_counter()
    extract_quotes(report)
    assert time.perf_counter() - start < 20  # includes loading spaCy once; the old code took 263 s

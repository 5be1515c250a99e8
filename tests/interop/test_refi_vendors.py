"""Each vendor quirk the importer handles, on a small file shaped like that vendor's."""

from __future__ import annotations

import pytest

from lived_themes.errors import InputError
from lived_themes.interop import import_project, read_qdc


def _quote(result, start_text: str) -> dict:
    rows = [r for r in result.corpus.quotes.to_dict("records") if r["text"].startswith(start_text)]
    assert len(rows) == 1, rows
    return rows[0]


def test_nvivo_offsets_are_utf16_units_past_emoji(tmp_path, refi):
    """NVivo Windows: BOM, CRLF, offsets in UTF-16 units; emoji are two units, so Python positions drift without the conversion."""
    text = "Intro 😀😀 line.\nThe jab made me ill 😷 for days.\nI trust my nurse."
    wanted = ["The jab made me ill 😷 for days.", "I trust my nurse."]
    shipped = text.replace("\n", "\r\n")
    spans = [(shipped.index(w), shipped.index(w) + len(w)) for w in wanted]
    sels = "".join(refi.selection(i, refi.utf16_offset(shipped, a), refi.utf16_offset(shipped, b), (refi.G(100 + i), 0))
                   for i, (a, b) in enumerate(spans))
    xml = refi.project_xml(refi.users("ana") + refi.codes("side effects", "trust") + "<Sources>" + refi.text_source(1, "interview", sels) + "</Sources>")
    path = refi.write_qdpx(tmp_path / "nvivo.qdpx", xml, {f"Sources/{refi.G(1)}.txt": refi.encode(text, bom=True, crlf=True)})
    result = import_project(path)
    assert result.report["offsets"] == "utf16"
    assert sorted(result.corpus.texts) == sorted(wanted)
    for row in result.corpus.quotes.to_dict("records"):
        source = result.sources.set_index("guid").loc[row["source_guid"], "text"]
        assert source[row["start"]:row["end"]] == row["text"]
    assert set(result.corpus.annotations["code"]) == {"side effects", "trust"}
    assert set(result.corpus.coders) == {"ana"}
    # counting Python characters instead puts both segments in the wrong place: the conversion matters
    shifted = import_project(path, offsets="chars")
    assert sorted(shifted.corpus.texts) != sorted(wanted)


def test_offset_inside_a_surrogate_pair_is_set_aside_not_crashed_on(tmp_path, refi):
    text = "a😀b"
    xml = refi.project_xml(refi.users("ana") + refi.codes("x") + "<Sources>" + refi.text_source(1, "d", refi.selection(0, 2, 4, (refi.G(100), 0))) + "</Sources>")
    path = refi.write_qdpx(tmp_path / "p.qdpx", xml, {f"Sources/{refi.G(1)}.txt": text.encode()})
    result = import_project(path)
    assert len(result.corpus) == 0
    assert "inside a character" in result.corpus.set_aside["reason"].iloc[0]


def test_atlas_project_member_named_after_the_project(tmp_path, refi):
    """Newer ATLAS.ti names the XML member <ProjectName>.qde; hierarchy arrives as '::' names."""
    text = "Coke for breakfast. Then diet Coke at noon."
    body = (refi.users("ATLAS.ti", "fm") + '<CodeBook><Codes>'
            f'<Code guid="{refi.G(101)}" name="Coke::diet Coke" isCodable="true"/>'
            f'<Code guid="{refi.G(102)}" name="Coke" isCodable="true"><Description>the drink</Description></Code>'
            f'<Code guid="{refi.G(103)}" name="Food::Cereal::cornflakes" isCodable="true"/>'
            '</Codes></CodeBook><Sources>'
            + refi.text_source(1, "Mabel.txt", refi.selection(0, 25, 43, (refi.G(101), 1)) + refi.selection(1, 0, 18, (refi.G(102), 1), (refi.G(103), 1)))
            + "</Sources>")
    xml = refi.project_xml(body, origin="ATLAS.ti 23.0 Windows")
    path = refi.write_qdpx(tmp_path / "study.qdpx", xml, {f"Sources/{refi.G(1)}.txt": text.encode()}, member="Breakfast Study.qde")
    result = import_project(path)
    book = result.corpus.codebook
    assert book.code("Coke::diet Coke").parent == "Coke" and book.code("Coke::diet Coke").label == "diet Coke"
    assert book.code("Coke").definition == "the drink"
    # a parent known only from a '::' name becomes a code of its own, and the note says so
    assert book.code("Food::Cereal").parent == "Food" and book.code("Food").parent is None
    assert any("created from '::' names" in n for n in result.report["notes"])
    assert result.report["offsets"] == "chars"
    assert sorted(result.corpus.texts) == ["Coke for breakfast", "diet Coke at noon."]
    assert set(result.corpus.coders) == {"fm"}


def test_several_qde_members_and_none_standard_is_a_clear_error(tmp_path, refi):
    path = refi.write_qdpx(tmp_path / "p.qdpx", refi.project_xml(""), {"other.qde": b"<Project/>"}, member="a.qde")
    with pytest.raises(InputError, match="several .qde"):
        import_project(path)


def test_lowercase_sources_folder_no_bom_lf_and_root_marker(tmp_path, refi):
    """NVivo Mac / MAXQDA 24: lowercase sources/, an empty sources/.root, UTF-8 without BOM, LF endings."""
    text = "First para about waiting.\n\nSecond para about staff. They listened!\n"
    a = text.index("waiting")
    sel = refi.selection(0, a, a + len("waiting"), (refi.G(100), 0)) + refi.selection(1, text.index("They"), len(text) - 1, (refi.G(101), 1))
    xml = refi.project_xml(refi.users("mx", "qc") + refi.codes("waits", "listening") + "<Sources>" + refi.text_source(1, "doc", sel) + "</Sources>",
                           origin="MAXQDA 24")
    path = refi.write_qdpx(tmp_path / "m.qdpx", xml, {f"sources/{refi.G(1)}.txt": text.encode(), "sources/.root": b""})
    result = import_project(path, unit="sentence")
    texts = result.corpus.texts
    assert texts == ["First para about waiting.", "Second para about staff.", "They listened!"]
    ann = result.corpus.annotations
    coded = {(q, c, k) for q, c, k in zip(ann["quote_id"], ann["coder"], ann["code"]) if isinstance(k, str)}
    ids = result.corpus.quote_ids
    assert coded == {(ids[0], "mx", "waits"), (ids[2], "qc", "listening")}
    # each coder read the document: the units they did not code are "seen, no code", not unseen
    assert result.corpus.label_matrix("mx", ["waits"]).tolist() == [[1.0], [0.0], [0.0]]
    paragraphs = import_project(path, unit="paragraph")
    assert paragraphs.corpus.texts == ["First para about waiting.", "Second para about staff. They listened!"]


def test_variables_as_sets_cases_and_source_variables(tmp_path, refi):
    """ATLAS.ti/Quirkos encode variables as sets named 'gender: male'; MAXQDA turns document groups into sets; NVivo uses cases."""
    docs = "".join(refi.text_source(i, f"d{i}", refi.selection(i, 0, 5, (refi.G(100), 0))) for i in (1, 2, 3))
    sets = ("<Sets>"
            f'<Set guid="{refi.G(601)}" name="gender: female"><MemberSource targetGUID="{refi.G(1)}"/><MemberSource targetGUID="{refi.G(2)}"/></Set>'
            f'<Set guid="{refi.G(602)}" name="gender: male"><MemberSource targetGUID="{refi.G(3)}"/></Set>'
            f'<Set guid="{refi.G(603)}" name="Ward B"><MemberSource targetGUID="{refi.G(3)}"/></Set>'
            f'<Set guid="{refi.G(604)}" name="Feelings"><MemberCode targetGUID="{refi.G(100)}"/></Set>'
            "</Sets>")
    variables = f'<Variables><Variable guid="{refi.G(701)}" name="age" typeOfVariable="Integer"/></Variables>'
    cases = (f'<Cases><Case guid="{refi.G(801)}" name="P1"><VariableValue><VariableRef targetGUID="{refi.G(701)}"/><IntegerValue>34</IntegerValue>'
             f'</VariableValue><SourceRef targetGUID="{refi.G(1)}"/><SourceRef targetGUID="{refi.G(2)}"/></Case></Cases>')
    xml = refi.project_xml(refi.users("u") + refi.codes("x") + variables + cases + "<Sources>" + docs + "</Sources>" + sets)
    files = {f"Sources/{refi.G(i)}.txt": b"hello world" for i in (1, 2, 3)}
    quotes = import_project(refi.write_qdpx(tmp_path / "v.qdpx", xml, files)).corpus.quotes.set_index("source")
    assert quotes.loc["d1", "gender"] == "female" and quotes.loc["d3", "gender"] == "male"
    assert quotes.loc["d3", "set"] == "Ward B" and quotes.loc["d1", "case"] == "P1" and quotes.loc["d2", "age"] == 34
    assert quotes["case"].isna()["d3"]


def test_missing_source_text_is_reported_and_its_codings_set_aside(tmp_path, refi):
    """ATLAS.ti's standard project ships without its texts: report them, keep what can be read."""
    docs = refi.text_source(1, "present", refi.selection(0, 0, 5, (refi.G(100), 0))) + refi.text_source(2, "absent", refi.selection(1, 0, 5, (refi.G(100), 0)))
    docs += f'<AudioSource guid="{refi.G(9)}" name="a.m4a" path="relative:///x.m4a"><AudioSelection guid="{refi.G(10)}" begin="1" end="2"><Coding guid="{refi.G(11)}"><CodeRef targetGUID="{refi.G(100)}"/></Coding></AudioSelection></AudioSource>'
    xml = refi.project_xml(refi.users("u") + refi.codes("x") + "<Sources>" + docs + "</Sources>", origin="ATLAS.ti 8")
    result = import_project(refi.write_qdpx(tmp_path / "m.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"}))
    assert result.corpus.texts == ["hello"]
    assert [m["source"] for m in result.report["missing_sources"]] == ["absent"]
    assert "not in the archive" in result.report["missing_sources"][0]["reason"]
    assert result.report["media_codings_not_imported"] == 1
    aside = result.corpus.set_aside
    assert list(aside["source"]) == ["absent"] and aside["reason"].iloc[0].startswith("source text missing")
    # the bare XML, without its archive, imports too: every source is reported missing
    bare = tmp_path / "bare.qde"
    bare.write_text(xml, encoding="utf-8")
    bare_result = import_project(bare)
    assert len(bare_result.report["missing_sources"]) == 2 and len(bare_result.corpus) == 0


def test_qdc_read_on_its_own_with_any_namespace(tmp_path):
    for ns in ("urn:QDA-XML:codebook:1.0", "urn:QDA-XML:codebook:1:0", "urn:QDA-XML:codebook:0:4"):
        path = tmp_path / "book.qdc"
        path.write_text(
            f'<?xml version="1.0"?><CodeBook xmlns="{ns}"><Codes>'
            '<Code guid="00000000-0000-4000-8000-000000000001" name="Access" isCodable="false"><Description>getting care</Description>'
            '<Code guid="00000000-0000-4000-8000-000000000002" name="Waiting" isCodable="true"/></Code>'
            '</Codes><Sets/></CodeBook>', encoding="utf-8")  # an empty <Sets/> is invalid by the XSD but found in the wild
        book, _ = read_qdc(path)
        assert book.code_ids == ["Access", "Access::Waiting"]
        assert book.code("Access::Waiting").parent == "Access" and book.code("Access").definition == "getting care"


def test_unknown_code_and_out_of_range_offsets_are_set_aside_with_reasons(tmp_path, refi):
    sels = refi.selection(0, 0, 5, (refi.G(999), 0)) + refi.selection(1, 3, 500, (refi.G(100), 0)) + refi.selection(2, 6, 11, (refi.G(100), 0))
    xml = refi.project_xml(refi.users("u") + refi.codes("x") + "<Sources>" + refi.text_source(1, "d", sels) + "</Sources>", origin="QualCoder 3.5")
    result = import_project(refi.write_qdpx(tmp_path / "p.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"}))
    assert result.corpus.texts == ["world"]
    reasons = list(result.corpus.set_aside["reason"])
    assert any("unknown code guid" in r for r in reasons) and any("outside the text" in r for r in reasons)
    assert result.report["text_codings"] == 3 and result.report["codings_imported"] == 1

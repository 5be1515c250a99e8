"""Nothing imported is silently changed (probe-failures-2.md R10, R11, R11b, R16, R17, R17e, R17g, R17h, R18, R19, R21, C34c):
users kept apart by GUID, duplicate GUIDs refused, and import -> export -> import changes nothing, on small in-memory
projects (always) and on every shared vendor file (when ../shared is present)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Code, Codebook
from lived_themes.corpus import Corpus
from lived_themes.errors import InputError
from lived_themes.interop import import_project
from lived_themes.interop.writer import export_project

TEXT_1 = "I waited months for a bed.\nThe nurse listened to me.\n"
TEXT_2 = "Nobody called back. The wait was long.\n"
FLAT = "c0000000-0000-4000-8000-000000000001"  # a code whose name is the same path as another's


def _invoke(*args: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def _located(result: object, *needles: str) -> str:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def _rich_project(tmp_path: Path, refi, *, name: str = "valid.qdpx") -> Path:
    """Two users both named 'ana' (R17e), a code path shared by a nested and a flat code (R17c/g), a case holding one
    of two documents (R17d/h), source variables, a set read as a variable, and a project description."""
    users = f'<Users><User guid="{refi.G(900)}" name="ana"/><User guid="{refi.G(901)}" name="ana"/><User guid="{refi.G(902)}" name="ben"/></Users>'
    codes = (f'<CodeBook><Codes><Code guid="{refi.G(100)}" name="Waiting" isCodable="true"><Description>delays</Description>'
             f'<Code guid="{refi.G(200)}" name="Long wait" isCodable="true"/></Code>'
             f'<Code guid="{FLAT}" name="Waiting::Long wait" isCodable="true"/>'
             f'<Code guid="{refi.G(101)}" name="Staff" isCodable="true"/></Codes></CodeBook>')
    variables = f'<Variables><Variable guid="{refi.G(701)}" name="age" typeOfVariable="Integer"/><Variable guid="{refi.G(702)}" name="site" typeOfVariable="Text"/></Variables>'
    cases = (f'<Cases><Case guid="{refi.G(801)}" name="P1"><VariableValue><VariableRef targetGUID="{refi.G(701)}"/><IntegerValue>41</IntegerValue>'
             f'</VariableValue><SourceRef targetGUID="{refi.G(1)}"/></Case></Cases>')

    def sel(n: int, text: str, words: str, *codings: tuple[str, int]) -> str:
        return refi.selection(n, *_span(text, words), *codings)

    doc1 = refi.text_source(1, "doc1", sel(0, TEXT_1, "I waited months for a bed.", (refi.G(200), 0), (FLAT, 1))
                            + sel(1, TEXT_1, "The nurse listened to me.", (refi.G(101), 0), (refi.G(101), 2)))
    doc2_vars = f'<VariableValue><VariableRef targetGUID="{refi.G(702)}"/><TextValue>North</TextValue></VariableValue>'
    doc2 = (f'<TextSource guid="{refi.G(2)}" name="doc2" plainTextPath="internal://{refi.G(2)}.txt">'
            + sel(2, TEXT_2, "The wait was long.", (refi.G(100), 1), (FLAT, 2)) + doc2_vars + "</TextSource>")
    sets = f'<Sets><Set guid="{refi.G(601)}" name="ward: B"><MemberSource targetGUID="{refi.G(2)}"/></Set></Sets>'
    xml = refi.project_xml(users + codes + variables + cases + "<Sources>" + doc1 + doc2 + "</Sources>" + sets
                           + "<Description>a study of waiting</Description>", origin="MAXQDA 2022")
    files = {f"Sources/{refi.G(1)}.txt": TEXT_1.encode("utf-8"), f"Sources/{refi.G(2)}.txt": TEXT_2.encode("utf-8")}
    return refi.write_qdpx(tmp_path / name, xml, files)


def _book(corpus: Corpus) -> dict:
    return corpus.codebook.model_dump() if corpus.codebook is not None else {}


def _quotes(corpus: Corpus) -> list[dict]:
    frame = corpus.quotes[sorted(corpus.quotes.columns)]
    return json.loads(frame.to_json(orient="records"))


def _annotations(corpus: Corpus) -> list[tuple]:
    return sorted(map(tuple, corpus.annotations[["quote_id", "coder", "code"]].astype(str).values.tolist()))


def _assert_same(first, second) -> None:
    """Same codes (all fields, in order), users, cases and variables, sources and segments."""
    assert _book(first.corpus) == _book(second.corpus)
    if len(first.corpus.quotes):
        assert _quotes(first.corpus) == _quotes(second.corpus)
    else:
        assert not len(second.corpus.quotes)
    assert _annotations(first.corpus) == _annotations(second.corpus)
    assert first.corpus.coders == second.corpus.coders
    assert sorted(first.report["users"]) == sorted(second.report["users"])
    pd.testing.assert_frame_equal(first.sources.reset_index(drop=True), second.sources.reset_index(drop=True))


def _round_trip(path: Path, tmp_path: Path, *, unit: str = "segment"):
    first = import_project(path, unit=unit)
    back = tmp_path / f"back-{unit}.qdpx"
    export_project(first.corpus, back, sources=first.sources, offsets=first.report["offsets"], users=first.report["users"])
    return first, import_project(back, unit=unit)


# ----- R17e: users told apart by GUID ----------------------------------------------------------------------------------------

def test_r17e_two_users_with_one_name_stay_two_coders(tmp_path, refi):
    result = import_project(_rich_project(tmp_path, refi))
    coders = result.corpus.coders
    # both GUIDs start 00000000: the whole GUID tells them apart
    assert sorted(coders) == [f"ana [{refi.G(900)}]", f"ana [{refi.G(901)}]", "ben"]
    assert result.corpus.label_matrix(f"ana [{refi.G(901)}]", ["Waiting::Long wait [c0000000]"]).tolist()[0] == [1.0]
    assert any("share the name" in note for note in result.corpus.reports[0].notes)
    # deterministic: the same file gives the same names
    assert import_project(_rich_project(tmp_path, refi, name="again.qdpx")).corpus.coders == coders


def test_r17e_names_use_the_guid_start_and_fall_back_to_the_whole_guid(tmp_path, refi):
    users = '<Users><User guid="ABCDEF01-0000-4000-8000-000000000001" name="ana"/><User guid="{abcdef02-0000-4000-8000-000000000002}" name="ana"/></Users>'
    doc = refi.text_source(1, "d", '<PlainTextSelection guid="' + refi.G(3000) + '" startPosition="0" endPosition="5">'
                           '<Coding guid="' + refi.G(5000) + '" creatingUser="ABCDEF01-0000-4000-8000-000000000001"><CodeRef targetGUID="' + refi.G(100) + '"/></Coding>'
                           '<Coding guid="' + refi.G(5001) + '" creatingUser="{abcdef02-0000-4000-8000-000000000002}"><CodeRef targetGUID="' + refi.G(100) + '"/></Coding>'
                           "</PlainTextSelection>")
    xml = refi.project_xml(users + refi.codes("x") + "<Sources>" + doc + "</Sources>")
    result = import_project(refi.write_qdpx(tmp_path / "u.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"}))
    assert sorted(result.corpus.coders) == ["ana [abcdef01]", "ana [abcdef02]"]


# ----- R10, R11, R11b: duplicate GUIDs ------------------------------------------------------------------------------------------

def _one_doc(refi, codes: str, extra_sources: str = "") -> str:
    doc = refi.text_source(1, "doc1", refi.selection(0, 0, 5, (refi.G(100), 0)))
    return refi.project_xml(refi.users("ana") + codes + "<Sources>" + doc + extra_sources + "</Sources>")


def test_r10_a_child_code_with_its_parents_guid_is_refused(tmp_path, refi):
    codes = f'<CodeBook><Codes><Code guid="{refi.G(100)}" name="Waiting" isCodable="true"><Code guid="{refi.G(100)}" name="Long" isCodable="true"/></Code></Codes></CodeBook>'
    path = refi.write_qdpx(tmp_path / "r10.qdpx", _one_doc(refi, codes), {f"Sources/{refi.G(1)}.txt": b"hello world"})
    with pytest.raises(InputError, match="used twice") as info:
        import_project(path)
    assert info.value.field == "CodeBook/Codes/Code[1]/Code[1]@guid"
    _located(_invoke("import", path, "-o", tmp_path / "out"), "used twice", str(path))
    assert not (tmp_path / "out").exists()


def test_r11_two_codes_sharing_a_guid_are_refused(tmp_path, refi):
    codes = f'<CodeBook><Codes><Code guid="{refi.G(100)}" name="Waiting" isCodable="true"/><Code guid="{refi.G(100)}" name="Other" isCodable="true"/></Codes></CodeBook>'
    path = refi.write_qdpx(tmp_path / "r11.qdpx", _one_doc(refi, codes), {f"Sources/{refi.G(1)}.txt": b"hello world"})
    _located(_invoke("import", path, "-o", tmp_path / "out"), "used twice", "Code[2]")


def test_r11_a_qdc_with_a_duplicate_code_guid_is_refused(tmp_path, refi):
    qdc = tmp_path / "dup.qdc"
    qdc.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="{refi.G(1)}" name="a" isCodable="true"/>'
                   f'<Code guid="{refi.G(1)}" name="b" isCodable="true"/></Codes></CodeBook>', encoding="utf-8")
    _located(_invoke("import", qdc, "-o", tmp_path / "out"), "used twice")


def test_r11b_two_sources_sharing_a_guid_are_refused(tmp_path, refi):
    second = refi.text_source(1, "doc2")  # same GUID, same file
    path = refi.write_qdpx(tmp_path / "r11b.qdpx", _one_doc(refi, refi.codes("x"), second), {f"Sources/{refi.G(1)}.txt": b"hello world"})
    _located(_invoke("import", path, "-o", tmp_path / "out"), "used twice", "Sources/TextSource[2]")


def test_duplicate_user_guids_are_refused(tmp_path, refi):
    users = f'<Users><User guid="{refi.G(900)}" name="ana"/><User guid="{refi.G(900)}" name="ben"/></Users>'
    doc = refi.text_source(1, "doc1", refi.selection(0, 0, 5, (refi.G(100), 0)))
    xml = refi.project_xml(users + refi.codes("x") + "<Sources>" + doc + "</Sources>")
    with pytest.raises(InputError, match="used twice"):
        import_project(refi.write_qdpx(tmp_path / "u.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"}))


# ----- R18, R19, R21: not a REFI-QDA file -----------------------------------------------------------------------------------------

def test_r18_a_qdpx_that_is_not_a_zip_says_so(tmp_path):
    path = tmp_path / "r18.qdpx"
    path.write_bytes(b"\x89garbage bytes, not a zip at all" * 4)
    line = _located(_invoke("import", path, "-o", tmp_path / "out"), "not a REFI-QDA archive", "zip")
    assert "well-formed" not in line


def test_r19_an_empty_zip_says_it_is_empty(tmp_path):
    path = tmp_path / "r19.qdpx"
    with zipfile.ZipFile(path, "w"):
        pass
    line = _located(_invoke("import", path, "-o", tmp_path / "out"), "archive is empty")
    assert "well-formed" not in line


def test_r21_a_project_in_another_namespace_is_refused(tmp_path, refi):
    xml = _one_doc(refi, refi.codes("x")).replace(refi.NS, "urn:evil")
    path = refi.write_qdpx(tmp_path / "r21.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"})
    _located(_invoke("import", path, "-o", tmp_path / "out"), "namespace", "urn:evil")
    qdc = tmp_path / "evil.qdc"
    qdc.write_text(f'<CodeBook xmlns="urn:evil"><Codes><Code guid="{refi.G(1)}" name="a" isCodable="true"/></Codes></CodeBook>', encoding="utf-8")
    _located(_invoke("import", qdc, "-o", tmp_path / "out2"), "namespace")


def test_vendor_namespace_versions_are_still_read(tmp_path, refi):
    for ns in ("urn:QDA-XML:project:1:0", "urn:QDA-XML:project:0:4"):
        xml = _one_doc(refi, refi.codes("x")).replace(refi.NS, ns)
        result = import_project(refi.write_qdpx(tmp_path / "v.qdpx", xml, {f"Sources/{refi.G(1)}.txt": b"hello world"}))
        assert result.report["codings_imported"] == 1


# ----- R17, R17g, R17h: a round trip changes nothing ------------------------------------------------------------------------------

def test_r17g_a_shared_code_path_comes_back_without_a_phantom_code(tmp_path, refi):
    first, second = _round_trip(_rich_project(tmp_path, refi), tmp_path)
    ids = first.corpus.codebook.code_ids
    assert ids == ["Waiting", "Waiting::Long wait", "Waiting::Long wait [c0000000]", "Staff"]
    assert not any(i.startswith("Waiting::Waiting") for i in second.corpus.codebook.code_ids)
    _assert_same(first, second)


def test_r17h_a_document_in_no_case_comes_back_in_no_case(tmp_path, refi):
    first, second = _round_trip(_rich_project(tmp_path, refi), tmp_path)
    for result in (first, second):
        cases = dict(zip(result.corpus.quotes["source"], result.corpus.quotes["case"]))
        assert cases["doc1"] == "P1" and pd.isna(cases["doc2"])
        sites = dict(zip(result.corpus.quotes["source"], result.corpus.quotes["site"]))
        assert sites["doc2"] == "North" and pd.isna(sites["doc1"])
    _assert_same(first, second)


@pytest.mark.parametrize("unit", ["segment", "paragraph", "sentence", "document"])
def test_round_trip_of_a_rich_project_changes_nothing(tmp_path, refi, unit):
    first, second = _round_trip(_rich_project(tmp_path, refi), tmp_path, unit=unit)
    _assert_same(first, second)
    assert first.corpus.codebook.description == "a study of waiting"


def _lines(path: Path) -> list:
    if path.suffix == ".jsonl":
        return sorted(json.dumps(json.loads(line), sort_keys=True) for line in path.read_text(encoding="utf-8").splitlines())
    return sorted(path.read_text(encoding="utf-8").splitlines())


def test_r17_cli_import_export_import_gives_back_the_same_files(tmp_path, refi):
    """The probe's check: quotes, annotations, codebook (version and source too) and sources come back as they were."""
    a, b = tmp_path / "R17a", tmp_path / "R17b"
    assert _invoke("import", _rich_project(tmp_path, refi), "-o", a).exit_code == 0
    done = _invoke("export", a, "-o", tmp_path / "rt.qdpx", "--codebook", tmp_path / "rt.qdc")
    assert done.exit_code == 0, done.output
    done = _invoke("import", tmp_path / "rt.qdpx", "-o", b)
    assert done.exit_code == 0, done.output
    for name in ("quotes.jsonl", "annotations.jsonl", "codebook.yaml", "refi_sources.jsonl"):
        assert _lines(a / name) == _lines(b / name), name
    book = (b / "codebook.yaml").read_text(encoding="utf-8")
    assert "version: '1'" in book and "source: valid.qdpx" in book
    reports = [json.loads((f / "import_report.json").read_text(encoding="utf-8")) for f in (a, b)]
    assert sorted(reports[0]["users"]) == sorted(reports[1]["users"]) == [f"ana [{refi.G(900)}]", f"ana [{refi.G(901)}]", "ben"]


def test_r17_codebook_version_and_source_of_a_plain_corpus_travel(tmp_path):
    book = Codebook(name="nhs", version="2.1; beta", source="our wiki (2024)", description="why", codes=[Code(id="access", label="Access")])
    corpus = Corpus(quotes=pd.DataFrame({"quote_id": ["q1"], "text": ["no slot"]}),
                    annotations=pd.DataFrame({"quote_id": ["q1"], "coder": ["h"], "code": ["access"]}), codebook=book)
    export_project(corpus, tmp_path / "p.qdpx", offsets="utf16")
    back = import_project(tmp_path / "p.qdpx")
    assert back.report["offsets"] == "utf16"
    assert (back.corpus.codebook.version, back.corpus.codebook.source, back.corpus.codebook.description) == ("2.1; beta", "our wiki (2024)", "why")
    assert "case" not in back.corpus.quotes.columns


# ----- R16: export never writes over the project it came from -------------------------------------------------------------------

def test_r16_export_over_the_original_project_is_refused(tmp_path, refi):
    original = _rich_project(tmp_path, refi, name="orig_copy.qdpx")
    corpus = tmp_path / "R16src"
    assert _invoke("import", original, "-o", corpus).exit_code == 0
    before = original.read_bytes()
    _located(_invoke("export", corpus, "-o", original), "imported from")
    copy = tmp_path / "moved" / "orig.qdpx"  # the same project elsewhere: recognised by its content
    copy.parent.mkdir()
    copy.write_bytes(before)
    _located(_invoke("export", corpus, "-o", copy), "imported from")
    _located(_invoke("export", corpus, "-o", tmp_path / "ok.qdpx", "--codebook", original), "imported from")
    assert original.read_bytes() == before and copy.read_bytes() == before
    done = _invoke("export", corpus, "-o", tmp_path / "ok.qdpx")  # any other file is fine
    assert done.exit_code == 0, done.output


# ----- C34c: export of a codebook with cyclic parents -----------------------------------------------------------------------------

def test_c34c_export_of_a_cyclic_codebook_is_one_located_line(tmp_path):
    folder = tmp_path / "c34"
    folder.mkdir()
    pd.DataFrame({"quote_id": ["1", "2"], "text": ["waited long", "kind staff"]}).to_csv(folder / "quotes.csv", index=False)
    pd.DataFrame({"quote_id": ["1", "2"], "coder": ["ana", "ana"], "code": ["waiting", "peer"]}).to_csv(folder / "annotations.csv", index=False)
    (folder / "codebook.yaml").write_text(
        "name: c\nversion: '1'\ncodes:\n  - id: waiting\n    label: W\n    parent: peer\n  - id: peer\n    label: P\n    parent: waiting\n"
        "  - id: medication\n    label: M\n    parent: medication\n", encoding="utf-8")
    line = _located(_invoke("export", folder, "-o", tmp_path / "c34.qdpx", "--codebook", tmp_path / "c34.qdc"), "cycl")
    assert len(line) < 400
    assert not (tmp_path / "c34.qdpx").exists() and not (tmp_path / "c34.qdc").exists()


def test_c34c_the_writer_itself_refuses_a_cycle(tmp_path):
    codes = [Code(id="waiting", label="W", parent="peer"), Code(id="peer", label="P", parent="waiting")]
    book = Codebook.model_construct(name="c", version="1", description="", source="", codes=codes, themes=[])  # however it was built
    from lived_themes.interop.writer import codebook_xml

    with pytest.raises(InputError, match="cycle"):
        codebook_xml(book)


# ----- every shared vendor file ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["segment", "document"])
def test_round_trip_of_every_shared_vendor_file_changes_nothing(shared_refi, tmp_path, unit):
    names = sorted(p.name for p in shared_refi.iterdir() if p.suffix.lower() in (".qdpx", ".qde"))
    assert names, "no vendor files in ../shared/datasets/refi_qda"
    for name in names:  # counts and comparisons only: the NVivo 12 file's text is public comments and is never printed
        first, second = _round_trip(shared_refi / name, tmp_path, unit=unit)
        try:
            _assert_same(first, second)
        except AssertionError:
            raise AssertionError(f"{name} ({unit}) changed in a round trip") from None

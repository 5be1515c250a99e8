"""import -> export -> import loses nothing; exports validate against the standard's XSD; model codes travel as a user."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.codebook import Code, Codebook
from lived_themes.corpus import Corpus, load_corpus
from lived_themes.interop import import_project, read_qdc
from lived_themes.interop.folder import read_sources
from lived_themes.interop.writer import export_project, write_qdc

TEXT = "Waited 6 hours 😩 in A&E.\nThe nurse <listened> to me.\n\nStaff were rude. I felt ignored.\n"


def _fixture(tmp_path, refi):
    """NVivo-shaped: two coders, nested codes, case variables, an emoji before later segments, overlapping selections."""
    shipped = TEXT.replace("\n", "\r\n")

    def span(word: str, until: str) -> tuple[int, int]:
        a = shipped.index(word)
        return refi.utf16_offset(shipped, a), refi.utf16_offset(shipped, shipped.index(until, a) + len(until))

    sels = (refi.selection(0, *span("Waited", "A&E."), (refi.G(100), 0), (refi.G(100), 1))
            + refi.selection(1, *span("The nurse", "me."), (refi.G(200), 0))
            + refi.selection(2, *span("Staff", "ignored."), (refi.G(201), 1), (refi.G(101), 0))
            + refi.selection(3, *span("Staff", "rude."), (refi.G(201), 0)))
    variables = f'<Variables><Variable guid="{refi.G(701)}" name="age" typeOfVariable="Integer"/><Variable guid="{refi.G(702)}" name="site" typeOfVariable="Text"/></Variables>'
    cases = (f'<Cases><Case guid="{refi.G(801)}" name="P1">'
             f'<VariableValue><VariableRef targetGUID="{refi.G(701)}"/><IntegerValue>41</IntegerValue></VariableValue>'
             f'<VariableValue><VariableRef targetGUID="{refi.G(702)}"/><TextValue>North</TextValue></VariableValue>'
             f'<SourceRef targetGUID="{refi.G(1)}"/></Case></Cases>')
    xml = refi.project_xml(refi.users("ana", "ben") + refi.codes("waiting", "staff", nested={"staff": ["listening", "rudeness"]})
                           + variables + cases + "<Sources>" + refi.text_source(1, "P1 interview", sels) + "</Sources>")
    return refi.write_qdpx(tmp_path / "nvivo.qdpx", xml, {f"Sources/{refi.G(1)}.txt": refi.encode(TEXT, bom=True, crlf=True)})


def _same(a: Corpus, b: Corpus) -> None:
    pd.testing.assert_frame_equal(a.quotes, b.quotes, check_dtype=False)
    key = lambda c: sorted(map(tuple, c.annotations[["quote_id", "coder", "code"]].astype(str).values.tolist()))  # noqa: E731
    assert key(a) == key(b)
    book = lambda c: sorted((x.id, x.label, x.definition, x.parent) for x in c.codebook.codes)  # noqa: E731
    assert book(a) == book(b)


@pytest.mark.parametrize("unit", ["segment", "paragraph", "sentence"])
@pytest.mark.parametrize("offsets", ["chars", "utf16"])
def test_round_trip_loses_nothing(tmp_path, refi, unit, offsets):
    first = import_project(_fixture(tmp_path, refi), unit=unit)
    assert first.report["codings_imported"] == first.report["text_codings"] == 6
    out = tmp_path / "back.qdpx"
    export_project(first.corpus, out, sources=first.sources, offsets=offsets)
    second = import_project(out, unit=unit)
    assert second.report["offsets"] == offsets
    _same(first.corpus, second.corpus)
    assert set(first.corpus.quotes["age"]) == {41} and set(first.corpus.quotes["site"]) == {"North"}


def test_segments_carry_exactly_their_codes(tmp_path, refi):
    corpus = import_project(_fixture(tmp_path, refi)).corpus
    assert len(corpus) == 4 and len(corpus.annotations) == 6
    by = corpus.annotations.merge(corpus.quotes[["quote_id", "text"]])
    rude = by[by["text"] == "Staff were rude."]
    assert list(zip(rude["coder"], rude["code"])) == [("ana", "staff::rudeness")]
    first = by[by["text"].str.startswith("Waited")]
    assert sorted(first["coder"]) == ["ana", "ben"]


def _xsd(_unused, name):
    """The XSDs shipped with the package (lived_themes/interop/schemas), so this runs without ../shared."""
    from lived_themes.interop.schemas import schema_path

    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(schema_path("project" if name == "Project.xsd" else "codebook")))


def test_exports_validate_against_the_standard_xsd(tmp_path, refi):
    result = import_project(_fixture(tmp_path, refi))
    out = export_project(result.corpus, tmp_path / "back.qdpx", sources=result.sources) and tmp_path / "back.qdpx"
    _xsd(None, "Project.xsd").validate(zipfile.ZipFile(out).read("project.qde").decode("utf-8"))
    write_qdc(result.corpus.codebook, tmp_path / "book.qdc")
    _xsd(None, "Codebook.xsd").validate(str(tmp_path / "book.qdc"))
    assert read_qdc(tmp_path / "book.qdc")[0].code_ids == result.corpus.codebook.code_ids


def test_plain_corpus_exports_one_document_per_quote_and_comes_back_by_document(tmp_path):
    book = Codebook(name="nhs", version="3", codes=[Code(id="access", label="Access", definition="getting care"), Code(id="staff", label="Staff")])
    quotes = pd.DataFrame({"quote_id": ["q1", "q2", "q3"], "text": ["Could not get a slot 😞", "Kind nurse", "Fine"], "trust": ["A", "B", "A"]})
    ann = pd.DataFrame({"quote_id": ["q1", "q2", "q2", "q1"], "coder": ["h1", "h1", "h2", "h2"], "code": ["access", "staff", "staff", "access"]})
    corpus = Corpus(quotes=quotes, annotations=ann, codebook=book)
    out = tmp_path / "plain.qdpx"
    summary = export_project(corpus, out, offsets="utf16")
    assert summary["documents"] == 3 and summary["codings"] == 4
    _xsd(None, "Project.xsd").validate(zipfile.ZipFile(out).read("project.qde").decode("utf-8"))
    back = import_project(out, unit="document").corpus
    assert back.quote_ids == ["q1", "q2", "q3"] and back.texts == list(quotes["text"])
    assert dict(zip(back.quotes["quote_id"], back.quotes["trust"])) == {"q1": "A", "q2": "B", "q3": "A"}
    assert sorted(map(tuple, back.annotations.astype(str).values.tolist())) == sorted(map(tuple, ann.astype(str).values.tolist()))
    # ids that are not '::' paths travel as names; the definitions travel as descriptions
    assert {c.id: c.definition for c in back.codebook.codes} == {"access": "getting care", "staff": ""}


def test_cli_import_export_with_model_codes_as_a_user(tmp_path, refi):
    runner = CliRunner()
    corpus_dir = tmp_path / "corpus"
    done = runner.invoke(app, ["import", str(_fixture(tmp_path, refi)), "-o", str(corpus_dir)])
    assert done.exit_code == 0, done.output
    assert "6 text codings in 4 selections -> 4 quotes" in done.output
    report = json.loads((corpus_dir / "import_report.json").read_text(encoding="utf-8"))
    assert TEXT.split()[0] not in json.dumps(report)  # the report carries counts and names, never text
    loaded = load_corpus(corpus_dir)
    assert len(loaded) == 4 and read_sources(corpus_dir) is not None
    preds = tmp_path / "pred.jsonl"
    preds.write_text("".join(json.dumps({"id": q, "codes": ["waiting"] if i == 0 else [], "scores": {}}) + "\n"
                             for i, q in enumerate(loaded.quote_ids)), encoding="utf-8")
    out = tmp_path / "review.qdpx"
    done = runner.invoke(app, ["export", str(corpus_dir), "-o", str(out), "--predictions", str(preds), "--model-name", "setfit",
                               "--codebook", str(tmp_path / "book.qdc")])
    assert done.exit_code == 0, done.output
    assert "model:setfit" in done.output
    _xsd(None, "Project.xsd").validate(zipfile.ZipFile(out).read("project.qde").decode("utf-8"))
    _xsd(None, "Codebook.xsd").validate(str(tmp_path / "book.qdc"))
    back = import_project(out).corpus
    model = back.annotations[back.annotations["coder"] == "model:setfit"]
    assert list(model["code"]) == ["waiting"] and model["quote_id"].iloc[0] == loaded.quote_ids[0]
    humans = back.annotations[back.annotations["coder"] != "model:setfit"]
    assert len(humans) == len(loaded.annotations)


def test_export_refuses_predictions_for_unknown_quotes_or_codes(tmp_path, refi):
    corpus_dir = tmp_path / "corpus"
    assert CliRunner().invoke(app, ["import", str(_fixture(tmp_path, refi)), "-o", str(corpus_dir)]).exit_code == 0
    for record, message in [({"id": "nope", "codes": []}, "not in the corpus"), ({"id": load_corpus(corpus_dir).quote_ids[0], "codes": ["bogus"]}, "not in the corpus's codebook")]:
        preds = tmp_path / "pred.jsonl"
        preds.write_text(json.dumps(record) + "\n", encoding="utf-8")
        done = CliRunner().invoke(app, ["export", str(corpus_dir), "-o", str(tmp_path / "x.qdpx"), "--predictions", str(preds)])
        assert done.exit_code == 2 and message in done.output and str(preds) in done.output
        assert not (tmp_path / "x.qdpx").exists()


def test_import_refuses_a_folder_that_is_not_empty(tmp_path, refi):
    target = tmp_path / "corpus"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    done = CliRunner().invoke(app, ["import", str(_fixture(tmp_path, refi)), "-o", str(target)])
    assert done.exit_code == 2 and "not empty" in done.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]

"""Zero-shot coding of an uncoded project: import it, code it from its codebook alone (no reference coder),
export the model's codes as codings by user ``model:<name>``, and read them back."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.corpus.tables import read_table

TEXT = "I waited weeks for an appointment.\n\nThe nurse listened to me and I felt heard."
CODEBOOK = """name: study
version: "1"
codes:
  - id: Access
    label: Access
    definition: waited weeks for an appointment
  - id: Staff
    label: Staff
    definition: the nurse listened and I felt heard
"""


def _uncoded(tmp_path: Path, refi) -> Path:
    G = refi.G
    codes = ("<CodeBook><Codes>"
             f'<Code guid="{G(100)}" name="Access" isCodable="true"><Description>waited weeks for an appointment</Description></Code>'
             f'<Code guid="{G(101)}" name="Staff" isCodable="true"><Description>the nurse listened and I felt heard</Description></Code>'
             "</Codes></CodeBook>")
    xml = refi.project_xml(refi.users("ana") + codes
                           + f'<Sources><TextSource guid="{G(1)}" name="doc1" plainTextPath="internal://{G(1)}.txt"/></Sources>',
                           origin="MAXQDA 24")
    return refi.write_qdpx(tmp_path / "u.qdpx", xml, {f"sources/{G(1)}.txt": TEXT.encode("utf-8")})


def _table(folder: Path, stem: str):
    return read_table(next(folder.glob(f"{stem}.*")))[0]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_uncoded_project_is_coded_zero_shot_and_exported_for_review(tmp_path: Path, refi) -> None:
    runner = CliRunner()
    corpus = tmp_path / "corpus"
    assert runner.invoke(app, ["import", str(_uncoded(tmp_path, refi)), "-o", str(corpus), "--unit", "paragraph"]).exit_code == 0
    out = tmp_path / "codes.jsonl"
    coded = runner.invoke(app, ["code", str(corpus), "-o", str(out), "--param", "encoder=hashing", "--param", "threshold=0.2"])
    assert coded.exit_code == 0, coded.output
    assert "2 rows coded by codebook-similarity.v1" in coded.output and "no reference coder" in coded.output
    rows = _lines(out)
    quotes = _table(corpus, "quotes").to_dict("records")
    assert [r["id"] for r in rows] == [q["quote_id"] for q in quotes]  # every input row, in order
    by_text = {q["text"]: r["codes"] for q, r in zip(quotes, rows)}
    assert by_text["I waited weeks for an appointment."] == ["Access"]
    assert by_text["The nurse listened to me and I felt heard."] == ["Staff"]

    project = tmp_path / "review.qdpx"
    exported = runner.invoke(app, ["export", str(corpus), "-o", str(project), "--predictions", str(out), "--model-name", "codebook-similarity"])
    assert exported.exit_code == 0, exported.output
    back = tmp_path / "back"
    assert runner.invoke(app, ["import", str(project), "-o", str(back)]).exit_code == 0
    ann = _table(back, "annotations")
    assert set(zip(ann["coder"], ann["code"])) == {("model:codebook-similarity", "Access"), ("model:codebook-similarity", "Staff")}


def test_code_takes_a_table_and_a_codebook_in_single_label_mode(tmp_path: Path) -> None:
    (tmp_path / "cb.yaml").write_text(CODEBOOK, encoding="utf-8")
    table = tmp_path / "texts.csv"
    table.write_text("row,text\na,I waited weeks for an appointment\nb,\nc,the nurse listened and I felt heard\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["code", str(table), "--codebook", str(tmp_path / "cb.yaml"), "-o", str(out), "--id-column", "row",
                                      "--param", "encoder=hashing", "--param", "threshold=0.0", "--param", "label_mode=single"])
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert [r["id"] for r in rows] == ["a", "b", "c"] and rows[1]["codes"] == [] and rows[1]["error"] == "empty text"
    assert rows[0]["codes"] == ["Access"] and rows[2]["codes"] == ["Staff"]
    assert all(len(r["codes"]) <= 1 for r in rows)


def test_code_refuses_a_coder_that_needs_labels_an_overwrite_and_no_codebook(tmp_path: Path) -> None:
    (tmp_path / "cb.yaml").write_text(CODEBOOK, encoding="utf-8")
    table = tmp_path / "texts.csv"
    table.write_text("quote_id,text\n1,hello\n", encoding="utf-8")
    runner = CliRunner()
    needs = runner.invoke(app, ["code", str(table), "--codebook", str(tmp_path / "cb.yaml"), "-o", str(tmp_path / "o.jsonl"),
                                "--coder", "tfidf-logreg.v1"])
    assert needs.exit_code == 2 and "needs training labels" in needs.output and "codebook-similarity.v1" in needs.output
    same = runner.invoke(app, ["code", str(table), "--codebook", str(tmp_path / "cb.yaml"), "-o", str(table)])
    assert same.exit_code == 2 and "also an input" in same.output
    assert table.read_text(encoding="utf-8") == "quote_id,text\n1,hello\n"
    none = runner.invoke(app, ["code", str(table), "-o", str(tmp_path / "o.jsonl")])
    assert none.exit_code == 2 and "--codebook" in none.output
    assert not (tmp_path / "o.jsonl").exists()


def test_code_with_a_local_llm_from_the_codebook_alone(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_llm", Path(__file__).parents[1] / "fake_llm.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    (tmp_path / "cb.yaml").write_text("""name: tiny
version: "1"
codes:
  - id: meds
    label: Medication
    definition: pills and doses
  - id: heard
    label: Being heard
    definition: listened to or ignored
""", encoding="utf-8")
    table = tmp_path / "texts.csv"
    table.write_text("quote_id,text\n1,the medication made me numb\n2,nothing relevant\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with fake.fake_server() as (url, _):
        result = CliRunner().invoke(app, ["code", str(table), "--codebook", str(tmp_path / "cb.yaml"), "-o", str(out), "--coder", "llm.v1",
                                          "--param", f"base_url={url}", "--param", "encoder=hashing", "--param", "timeout=1.0",
                                          "--param", "max_retries=1", "--no-evidence"])
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert [r["id"] for r in rows] == ["1", "2"] and rows[0]["codes"] == ["meds"] and rows[1]["codes"] == []

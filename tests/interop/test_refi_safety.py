"""Hostile project files: each gets a clear error, and nothing is written outside (or into) the target folder."""

from __future__ import annotations

import zipfile

import pytest
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.errors import InputError
from lived_themes.interop import ArchiveLimits, import_project


def _plain_project(refi, path: str | None = None) -> str:
    doc = refi.text_source(1, "d", refi.selection(0, 0, 5, (refi.G(100), 0)), path=path)
    return refi.project_xml(refi.users("u") + refi.codes("x") + "<Sources>" + doc + "</Sources>")


@pytest.mark.parametrize("member", ["../../evil.txt", "Sources/../../evil.txt", "/etc/evil.txt", "C:/evil.txt", "Sources\\..\\..\\evil.txt"])
def test_zip_slip_member_is_refused(tmp_path, refi, member):
    path = refi.write_qdpx(tmp_path / "slip.qdpx", _plain_project(refi), {member: b"x", f"Sources/{refi.G(1)}.txt": b"hello"})
    with pytest.raises(InputError, match="zip-slip"):
        import_project(path)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&c;"/>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&secret;"/>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_entities_are_refused(tmp_path, refi, xml):
    path = refi.write_qdpx(tmp_path / "x.qdpx", xml, {})
    with pytest.raises(InputError, match="DTD or entities"):
        import_project(path)
    bare = tmp_path / "x.qde"
    bare.write_text(xml, encoding="utf-8")
    with pytest.raises(InputError, match="DTD or entities"):
        import_project(bare)


def test_zip_bomb_ratio_and_total_size_are_refused(tmp_path, refi):
    bomb = refi.write_qdpx(tmp_path / "bomb.qdpx", _plain_project(refi), {f"Sources/{refi.G(1)}.txt": b"\0" * (4 << 20)})
    assert zipfile.ZipFile(bomb).getinfo(f"Sources/{refi.G(1)}.txt").compress_size < 20_000
    with pytest.raises(InputError, match="zip bomb"):
        import_project(bomb)
    fine = refi.write_qdpx(tmp_path / "fine.qdpx", _plain_project(refi), {f"Sources/{refi.G(1)}.txt": b"hello world"})
    assert len(import_project(fine).corpus) == 1
    with pytest.raises(InputError, match="expands to more than"):
        import_project(fine, limits=ArchiveLimits(max_total_bytes=100))
    with pytest.raises(InputError, match="members, more than the limit"):
        import_project(fine, limits=ArchiveLimits(max_members=1))


@pytest.mark.parametrize("source_path, message", [
    ("file:///etc/passwd", "sources must be inside the archive"),
    ("/etc/passwd", "absolute"),
    ("internal://../../etc/passwd", "climbs out"),
    ("internal://Sources/../../x.txt", "climbs out"),
])
def test_sources_pointing_outside_the_archive_are_refused(tmp_path, refi, source_path, message):
    path = refi.write_qdpx(tmp_path / "out.qdpx", _plain_project(refi, source_path), {})
    with pytest.raises(InputError, match=message) as info:
        import_project(path)
    assert info.value.field and "plainTextPath" in info.value.field


def test_not_a_zip_and_not_xml_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.qdpx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="not a REFI-QDA archive"):
        import_project(bad)
    junk = tmp_path / "junk.qde"
    junk.write_text("<Project><unclosed></Project>", encoding="utf-8")
    with pytest.raises(InputError, match="not well-formed"):
        import_project(junk)
    other = tmp_path / "other.qde"
    other.write_text("<Thing/>", encoding="utf-8")
    with pytest.raises(InputError, match="not <Project>"):
        import_project(other)


def test_cli_refuses_hostile_archives_and_writes_nothing(tmp_path, refi):
    hostile = [
        refi.write_qdpx(tmp_path / "slip.qdpx", _plain_project(refi), {"../evil.txt": b"x"}),
        refi.write_qdpx(tmp_path / "xxe.qdpx", EXTERNAL, {}),
        refi.write_qdpx(tmp_path / "bomb.qdpx", _plain_project(refi), {f"Sources/{refi.G(1)}.txt": b"\0" * (4 << 20)}),
        refi.write_qdpx(tmp_path / "file.qdpx", _plain_project(refi, "file:///etc/passwd"), {}),
    ]
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for path in hostile:
        result = CliRunner().invoke(app, ["import", str(path), "-o", str(work / "corpus")])
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and str(path) in result.output
        assert not (work / "corpus").exists() or not any((work / "corpus").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path.parent / "evil.txt").exists() and list(work.iterdir()) in ([], [work / "corpus"])

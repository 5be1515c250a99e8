"""The codebook: validated YAML, a content hash that ignores formatting but not content, Markdown export."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lived_themes.codebook import Codebook, load_codebook
from lived_themes.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "nsun2014"

BLOCK_STYLE = """\
# a comment that must not change the hash
name: tiny-codebook
version: "1.0"
description: Two codes for tests.
themes:
- id: barriers
  label: Barriers to care
codes:
- id: housing
  label: Housing
  definition: >-
    Talk of housing, homelessness or
    unsafe accommodation.
  include:
  - no fixed address
  exclude:
  - "money worries only (finance)"
  examples:
  - I had nowhere to sleep.
  parent: barriers
- id: racism
  label: Racism | discrimination
  definition: Being treated worse because of race.
  parent: barriers
"""

FLOW_STYLE = """\
{codes: [
  {parent: barriers, examples: ['I had nowhere to sleep.'], exclude: ['money worries only (finance)'],
   include: ['no fixed address'], definition: 'Talk of housing, homelessness or unsafe accommodation.',
   label: "Housing", id: housing},
  {label: 'Racism | discrimination', id: racism, parent: barriers,
   definition: "Being treated worse because of race.\\n"}],
 themes: [{label: Barriers to care, id: barriers}],
 version: '1.0', description: "Two codes for tests.", name: tiny-codebook}
"""


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_every_field(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, BLOCK_STYLE))
    assert (book.name, book.version, book.code_ids) == ("tiny-codebook", "1.0", ["housing", "racism"])
    housing = book.code("housing")
    assert housing.definition == "Talk of housing, homelessness or unsafe accommodation."
    assert (housing.include, housing.exclude, housing.examples, housing.parent) == (
        ["no fixed address"], ["money worries only (finance)"], ["I had nowhere to sleep."], "barriers")
    assert "no fixed address" in housing.description()


def test_hash_ignores_key_order_and_yaml_style(tmp_path: Path) -> None:
    block = load_codebook(write(tmp_path, BLOCK_STYLE, "a.yaml"))
    flow = load_codebook(write(tmp_path, FLOW_STYLE, "b.yaml"))
    assert block.content_hash() == flow.content_hash()
    assert len(block.content_hash()) == 64
    for style in ("|", ">", "|-"):  # literal and clipped block styles keep newlines; still the same content
        text = BLOCK_STYLE.replace("definition: >-", f"definition: {style}")
        assert load_codebook(write(tmp_path, text, "c.yaml")).content_hash() == block.content_hash()


def test_hash_does_not_change_the_stored_text(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, BLOCK_STYLE.replace("definition: >-", "definition: |")))
    assert book.code("housing").definition == "Talk of housing, homelessness or\nunsafe accommodation.\n"


def test_hash_survives_save_and_reload(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, BLOCK_STYLE))
    book.to_yaml(tmp_path / "again.yaml")
    again = load_codebook(tmp_path / "again.yaml")
    assert again == book and again.content_hash() == book.content_hash()


def test_hash_is_a_fixed_function_of_content(tmp_path: Path) -> None:
    """Same content from a fresh dict (another process would build it the same way) -> same hash."""
    book = load_codebook(write(tmp_path, BLOCK_STYLE))
    rebuilt = Codebook.model_validate(yaml.safe_load(BLOCK_STYLE))
    assert rebuilt.content_hash() == book.content_hash()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Being treated worse because of race.", "Being treated worse because of race or religion."),
        ("no fixed address", "sofa surfing"),
        ("label: Housing", "label: Housing need"),
        ('version: "1.0"', 'version: "1.1"'),
        ("  parent: barriers\n- id: racism", "- id: racism"),
    ],
)
def test_hash_changes_when_content_changes(tmp_path: Path, old: str, new: str) -> None:
    assert old in BLOCK_STYLE
    before = load_codebook(write(tmp_path, BLOCK_STYLE, "a.yaml")).content_hash()
    after = load_codebook(write(tmp_path, BLOCK_STYLE.replace(old, new), "b.yaml")).content_hash()
    assert before != after


def test_code_order_is_content(tmp_path: Path) -> None:
    """Code order fixes matrix columns, so reordering codes is a different codebook."""
    raw = yaml.safe_load(BLOCK_STYLE)
    reordered = dict(raw, codes=list(reversed(raw["codes"])))
    assert Codebook.model_validate(reordered).content_hash() != Codebook.model_validate(raw).content_hash()


def test_markdown_table(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, BLOCK_STYLE))
    markdown = book.to_markdown()
    lines = markdown.splitlines()
    assert book.content_hash()[:12] in lines[0] and "1.0" in lines[0]
    assert lines[2] == "| Code | Label | Theme | Definition | Include | Exclude |"
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == 2
    assert "Barriers to care" in rows[0] and "no fixed address" in rows[0]
    assert "Racism \\| discrimination" in rows[1]  # a pipe in a label must not break the table
    assert all(row.count(" | ") == 5 for row in rows)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda raw: raw.pop("version"), "version"),
        (lambda raw: raw["codes"][1].pop("label"), "codes.1.label"),
        (lambda raw: raw["codes"][1].update(id="housing"), None),
        (lambda raw: raw["codes"][1].update(parent="nowhere"), None),
        (lambda raw: raw["codes"][0].update(colour="red"), "codes.0.colour"),
        (lambda raw: raw["codes"][0].update(id=" housing"), "codes.0.id"),
        (lambda raw: raw.update(codes=[]), "codes"),
    ],
)
def test_invalid_codebooks_name_file_and_field(tmp_path: Path, change, field: str | None) -> None:
    raw = yaml.safe_load(BLOCK_STYLE)
    change(raw)
    path = write(tmp_path, yaml.safe_dump(raw))
    with pytest.raises(InputError) as info:
        load_codebook(path)
    assert info.value.file == str(path) and str(path) in str(info.value)
    if field is not None:
        assert info.value.field == field


def test_unreadable_codebook_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_codebook(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_codebook(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(InputError, match="mapping"):
        load_codebook(write(tmp_path, "- just\n- a list\n"))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(BLOCK_STYLE.replace("Housing", "Logement caf\xe9").encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        load_codebook(bad)


def test_from_codes_and_bundled_codebook() -> None:
    bare = Codebook.from_codes(["x", "y"], name="wide")
    assert bare.code_ids == ["x", "y"] and bare.code("y").label == "y"
    with pytest.raises(KeyError):
        bare.code("z")
    bundled = load_codebook(DATA / "codebook.yaml")
    assert len(bundled.codes) >= 2 and bundled.content_hash() == load_codebook(DATA / "codebook.yaml").content_hash()

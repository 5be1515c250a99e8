"""Notebooks are tested for what they show: each is executed top to bottom (small settings, LT_NOTEBOOK_SMALL=1)
and its outputs are checked: the tables it promises, with their columns, a figure in the output of every cell
meant to draw (tagged "figure"), and a last section "What to conclude" whose cell prints numbers it computed.
A notebook whose shared corpus is absent must stop at its data cell with a message saying where to get it.
Committed notebooks carry no outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))

#: per notebook: column sets some HTML table output must show, and the least number of inline PNG figures
EXPECTED: dict[str, tuple[list[set[str]], int]] = {
    "01_corpus_and_codebook.ipynb": ([{"quote_id", "source", "focus_group", "gender", "text"}, {"coder", "code", "evidence"},
                                      {"id", "label", "theme", "definition"}], 2),
    "02_coders_against_the_author.ipynb": ([{"scheme", "coder", "macro_f1", "ci_low", "ci_high"},
                                            {"group_column", "group", "value", "ci_low", "ci_high"}], 3),
    "03_topics.ipynb": ([{"model", "n_topics", "ari"}, {"model", "npmi", "diversity"}, {"focus_group", "topic", "share"}], 10),
    "04_human_coders_and_the_standin_test.ipynb": ([{"coder_a", "coder_b", "kappa"}, {"coder", "coder_group", "difference", "ci_low", "ci_high"}], 3),
    "05_from_quotes_to_a_trained_model.ipynb": ([{"coder", "code", "f1"}, {"id", "codes"}], 2),
}
FAST = {"01_corpus_and_codebook.ipynb"}
#: a code cell that draws must be tagged, so the executed check below can find it
DRAWS = re.compile(r"plt\.show\(|display\(Image\(|\bshow\(png\)|lc\.plot\(|\.imshow\(|iframe|IFrame")
CONCLUDE = "## What to conclude"
#: the README's caveats each notebook's conclusion must carry (lower case)
CAVEATS: dict[str, list[str]] = {
    "01_corpus_and_codebook.ipynb": ["one human coder"],
    "02_coders_against_the_author.ipynb": ["majority baseline", "learned nothing"],
    "03_topics.ipynb": ["48 quotes are too few to judge topic models"],
    "04_human_coders_and_the_standin_test.ipynb": ["majority baseline has learned nothing", "alt-test"],
    "05_from_quotes_to_a_trained_model.ipynb": ["majority baseline", "learned nothing"],
}


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_that_draw_are_tagged(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    untagged = [i for i, c in code if DRAWS.search(c.source) and not _tags(c) & {"figure", "interactive"}]
    assert not untagged, f"{path.name}: cells {untagged} draw but are not tagged 'figure' (or 'interactive')"
    assert any("figure" in _tags(c) for _, c in code), f"{path.name}: no cell is tagged 'figure'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_last_section_is_what_to_conclude_with_the_caveats(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    cells = nbformat.read(path, as_version=4).cells
    headed = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and re.search(r"^##? ", c.source, flags=re.MULTILINE)]
    last = headed[-1]
    assert cells[last].source.startswith(CONCLUDE), f"{path.name}: the last section is not '{CONCLUDE}'"
    text = cells[last].source.lower()
    assert all(caveat in text for caveat in CAVEATS[path.name]), f"{path.name}: the conclusion lacks {CAVEATS[path.name]}"
    after = [c for c in cells[last + 1:] if c.cell_type == "code"]
    assert after and all("conclusion" in _tags(c) for c in after), "the numbers are computed by a tagged cell, not typed in"
    assert re.search(r"\{[^}]+\}", after[0].source), "the conclusion reads its numbers from variables (f-strings)"


def _outputs(notebook) -> list[dict]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def _table_headers(notebook) -> list[set[str]]:
    """The header cells of every HTML table a notebook displayed."""
    headers = []
    for output in _outputs(notebook):
        html = output.get("data", {}).get("text/html", "")
        for table in re.findall(r"<thead>(.*?)</thead>", html, flags=re.DOTALL):
            headers.append({re.sub(r"<.*?>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, flags=re.DOTALL)})
    return headers


def test_every_notebook_has_expectations() -> None:
    assert {p.name for p in NOTEBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("LT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    needs = notebook.metadata.get("lived_themes", {}).get("needs")
    client = nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    if needs and not (REPO / needs).exists():
        with pytest.raises(nbclient.exceptions.CellExecutionError) as stopped:
            client.execute()
        message = str(stopped.value)
        assert "not found" in message and "data/README.md" in message, "without its corpus the notebook must say where to get it"
        pytest.skip(f"{needs} absent: the notebook stopped at its data cell with the message")
    client.execute()
    return notebook


def _check(path: Path, notebook) -> None:
    columns, figures = EXPECTED[path.name]
    headers = _table_headers(notebook)
    for wanted in columns:
        assert any(wanted <= h for h in headers), f"{path.name}: no table with columns {sorted(wanted)}; tables shown: {headers}"
    pngs = sum("image/png" in o.get("data", {}) for o in _outputs(notebook))
    assert pngs >= figures, f"{path.name}: {pngs} inline figure(s), expected at least {figures}"
    for i, cell in enumerate(notebook.cells):
        data = [o.get("data", {}) for o in cell.get("outputs", [])] if cell.cell_type == "code" else []
        if "figure" in _tags(cell):
            assert any("image/png" in d for d in data), f"{path.name}: cell {i} is meant to draw but shows no figure"
        if "interactive" in _tags(cell):
            assert any("<iframe" in d.get("text/html", "") for d in data) or any(
                "no interactive figure" in o.get("text", "") for o in cell.outputs), f"{path.name}: cell {i}: no interactive figure"
        if "conclusion" in _tags(cell):
            shown = " ".join(d.get("text/markdown", "") + d.get("text/plain", "") for d in data)
            assert re.search(r"\d\.\d\d|\d+ ", shown), f"{path.name}: the conclusion shows no number"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name in FAST], ids=lambda p: p.name)
def test_fast_notebook_shows_its_tables_and_figures(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(path, _execute(path, monkeypatch))


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name not in FAST], ids=lambda p: p.name)
def test_notebook_shows_its_tables_and_figures(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(path, _execute(path, monkeypatch))

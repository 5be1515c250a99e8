"""Notebooks are tested for what they show: each is executed top to bottom (small settings, LT_NOTEBOOK_SMALL=1)
and its outputs are checked: the tables it promises, with their columns, and its figures as inline PNGs.
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


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name in FAST], ids=lambda p: p.name)
def test_fast_notebook_shows_its_tables_and_figures(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(path, _execute(path, monkeypatch))


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name not in FAST], ids=lambda p: p.name)
def test_notebook_shows_its_tables_and_figures(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(path, _execute(path, monkeypatch))

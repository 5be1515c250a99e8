"""The notebook gallery: the executed notebooks, with their figures, published as pages of the site.

An mkdocs hook (``hooks:`` in mkdocs.yml). ``make docs`` first executes every notebook
(``notebooks/run_notebooks.py``, which exits non-zero when one fails); this hook then publishes the
executed copies from ``notebooks/_executed/`` as ``gallery/NAME.ipynb`` pages (rendered by
mkdocs-jupyter, outputs as they were, nothing re-executed), each with a thumbnail taken from its first
figure, and fills the ``<!-- gallery-index -->`` marker of ``gallery.md`` with the index.

The build fails when an executed copy holds an error, or a cell tagged "figure" that shows no figure:
a gallery must not publish a notebook that broke. A notebook with no executed copy (its shared corpus
was absent, so ``run_notebooks.py`` skipped it) gets a short page saying so and how to run it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXECUTED = NOTEBOOKS / "_executed"
MARKER = "<!-- gallery-index -->"  # not "generated:": that syntax belongs to reference.py
NAV_TITLE = "Notebook gallery"
_STAGE = Path()  # the staging folder, made by on_config and removed by on_shutdown (importing makes nothing)


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def _title(notebook: dict[str, Any], fallback: str) -> str:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell.get("source", "")), flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def _problems(notebook: dict[str, Any]) -> list[str]:
    """Why an executed notebook must not be published: errors, or figure cells with no figure."""
    out = []
    for i, cell in enumerate(notebook.get("cells", [])):
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            out.append(f"cell {i} raised {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:200]}")
        tags = cell.get("metadata", {}).get("tags", [])
        if "figure" in tags and not any("image/png" in o.get("data", {}) for o in outputs):
            out.append(f"cell {i} is meant to draw but shows no figure")
    return out


def _thumbnail(notebook: dict[str, Any]) -> bytes | None:
    """The first figure of a cell tagged "figure" (else any figure), as PNG bytes."""
    cells = notebook.get("cells", [])
    tagged = [c for c in cells if "figure" in c.get("metadata", {}).get("tags", [])]
    for cell in tagged + cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode("".join(png) if isinstance(png, list) else png)
    return None


def _stage() -> list[dict[str, Any]]:
    """Copy every executed notebook (and its thumbnail) into the staging folder; one entry per notebook."""
    shutil.rmtree(_STAGE / "gallery", ignore_errors=True)
    (_STAGE / "gallery" / "thumbs").mkdir(parents=True)
    entries = []
    for source in _notebooks():
        executed = EXECUTED / source.name
        entry = {"name": source.stem, "title": source.stem, "page": f"gallery/{source.stem}.md", "thumb": None}
        if executed.exists():
            notebook = json.loads(executed.read_text(encoding="utf-8"))
            problems = _problems(notebook)
            if problems:
                raise PluginError(f"notebook {source.name} failed, so the gallery cannot publish it: " + "; ".join(problems))
            shutil.copyfile(executed, _STAGE / "gallery" / source.name)
            entry.update(title=_title(notebook, source.stem), page=f"gallery/{source.name}")
            png = _thumbnail(notebook)
            if png:
                (_STAGE / "gallery" / "thumbs" / f"{source.stem}.png").write_bytes(png)
                entry["thumb"] = f"gallery/thumbs/{source.stem}.png"
        else:
            notebook = json.loads(source.read_text(encoding="utf-8"))
            entry["title"] = _title(notebook, source.stem)
            (_STAGE / "gallery" / f"{source.stem}.md").write_text(
                f"# {entry['title']}\n\nNot executed in this build: the notebook needs a shared corpus that was not on "
                "the machine that built these pages (`notebooks/run_notebooks.py` skips it and says which). Run it with "
                f"`make notebooks` once the corpus is in place (see `data/README.md`); the source is "
                f"`notebooks/{source.name}`.\n", encoding="utf-8")
        entries.append(entry)
    return entries


_ENTRIES: list[dict[str, Any]] = []


def on_config(config: Any) -> Any:
    """Stage the notebooks and list them in the navigation under the gallery entry."""
    global _STAGE
    if _STAGE == Path():
        _STAGE = Path(tempfile.mkdtemp(prefix="lived-themes-gallery-"))
    _ENTRIES[:] = _stage()
    pages = [{e["title"]: e["page"]} for e in _ENTRIES]
    for item in config["nav"] or []:
        if isinstance(item, dict) and NAV_TITLE in item:
            item[NAV_TITLE] = ["gallery.md", *pages]
    return config


@event_priority(50)  # before mkdocs-jupyter's on_files, so it turns the staged notebooks into pages
def on_files(files: Files, config: Any) -> Files:
    for path in sorted((_STAGE / "gallery").rglob("*")):
        if path.is_file():
            files.append(File(path.relative_to(_STAGE).as_posix(), src_dir=str(_STAGE), dest_dir=config["site_dir"],
                              use_directory_urls=config["use_directory_urls"]))
    return files


def gallery_index() -> str:
    """A thumbnail per notebook, linking its page, and what the notebook shows (from ``gallery.md``'s list)."""
    cards = []
    for e in _ENTRIES:
        image = f"[![{e['title']}]({e['thumb']}){{ width=240 }}]({e['page']})" if e["thumb"] else "(not executed here)"
        cards.append(f"| {image} | [{e['title']}]({e['page']}) |")
    return "| | notebook |\n|---|---|\n" + "\n".join(cards) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return markdown.replace(MARKER, gallery_index()) if MARKER in markdown else markdown


def on_shutdown() -> None:
    """Remove the staging folder (the published copies are in the site by now)."""
    global _STAGE
    if _STAGE != Path():
        shutil.rmtree(_STAGE, ignore_errors=True)
        _STAGE = Path()

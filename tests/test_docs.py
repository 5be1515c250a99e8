"""The documentation cannot drift from the code.

- "Bring your own data" (docs/own-data.md): every ``lived-themes`` command in its bash blocks is run,
  in order, on the example files it shows (docs/examples/own-data/), and the headline table the
  page prints is the one the run produces.
- The generated references (docs/hooks/reference.py, run by mkdocs at build time) cover every
  command, option and config key; the hand-written configuration page names every key.
- Every file a page includes (``--8<--``) exists.

The site itself is built in strict mode by ``make docs`` and in CI (.ci/run).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXAMPLE = DOCS / "examples" / "own-data"


def _reference_module():
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_commands(page: Path) -> list[list[str]]:
    """The ``lived-themes ...`` lines of a page's bash blocks, in order, as argument lists."""
    blocks = re.findall(r"^```bash\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "lived-themes":
                commands.append(words[1:])
    return commands


def _table_after(text: str, header_start: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.strip())
    return table


def test_own_data_page_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.cli import app

    page = DOCS / "own-data.md"
    commands = documented_commands(page)
    assert [c[0] for c in commands] == ["codebook", "run", "predict", "describe", "run", "init", "run"], commands
    work = tmp_path / "own-data"
    shutil.copytree(EXAMPLE, work)
    write_cams_like(work / "cams_posts.csv")  # the second example's file is shared, not bundled: a stand-in with its shape
    monkeypatch.chdir(work)
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"lived-themes {' '.join(args)} failed:\n{result.output}"

    survey = work / "runs" / "survey"
    assert (survey / "report.html").stat().st_size > 0
    assert (survey / "model" / "coder.json").exists()
    metrics = json.loads((survey / "metrics.json").read_text(encoding="utf-8"))
    rows = (EXAMPLE / "survey.csv").read_text(encoding="utf-8").strip().splitlines()
    assert metrics["n_quotes"] == len(rows) - 1 == 36

    from lived_themes.report.build import headline_table

    shown = _table_after(page.read_text(encoding="utf-8"), "| Scheme | Coder |")
    produced = _table_after(headline_table(metrics), "| Scheme | Coder |")
    assert shown == produced, "the headline table on docs/own-data.md is not what the run prints now; paste:\n" + "\n".join(produced)

    coded = [json.loads(line) for line in (work / "coded.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in coded] == ["N1", "N2", "N3"]
    assert coded[2]["codes"] == [] and coded[2].get("error")  # the empty answer is reported, not dropped

    cams = json.loads((work / "runs" / "cams" / "run.json").read_text(encoding="utf-8"))
    assert (work / "runs" / "cams" / "report.html").stat().st_size > 0
    assert any("ids generated from row numbers" in r and "decoded as cp1252" in r for r in cams["load_reports"]), cams["load_reports"]
    starter = (work / "cams_posts.yaml").read_text(encoding="utf-8")
    assert "label_column: cause" in starter and "'0': null" in starter and "on_invalid: set_aside" in starter

    long_metrics = json.loads((work / "runs" / "long" / "metrics.json").read_text(encoding="utf-8"))
    assert long_metrics["human_coders"] == ["ana", "ben"]
    assert long_metrics["human_agreement"]["pairwise"], "two coders: the page promises a human-human ceiling"
    assert any(r["standin"] for r in long_metrics["results"]), "the page promises the stand-in test"


def write_cams_like(path: Path) -> None:
    """The CAMS file's shape: no id column, text in ``selftext``, one ``cause`` label 0-5 (0 = no reason), an evidence
    span in ``inference``, a line that is not UTF-8 and two rows with no text."""
    words = ["fine day", "bullied abused", "job boss career", "pills medication doctor", "girlfriend family breakup", "alone lonely nobody"]
    lines = ["selftext,cause,inference"]
    for i in range(72):
        cause = i % 6
        lines.append(f"{words[cause]} post {i},{cause},{words[cause].split()[0]}")
    lines[5] = ",2,job"
    lines[9] = ",0,"
    data = "\n".join(lines).encode("utf-8") + "\ncaf\xe9 alone lonely,5,alone\n".encode("cp1252")
    path.write_bytes(data)


def test_included_files_exist() -> None:
    missing = []
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r'--8<--\s+"([^":]+)', page.read_text(encoding="utf-8")):
            if not (DOCS / "examples" / target).exists():
                missing.append(f"{page.relative_to(REPO)}: {target}")
    assert not missing


def test_cli_reference_has_every_command_and_option() -> None:
    import typer

    from lived_themes.cli import app

    reference = _reference_module()
    helps = dict(reference.cli_commands())
    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="lived-themes")
    names = group.list_commands(ctx)
    assert set(helps) == {"lived-themes"} | {f"lived-themes {n}" for n in names}
    for name in names:
        text = helps[f"lived-themes {name}"]
        assert "╭" not in text and "\x1b[" not in text, "help must be plain text, not rich boxes or colours"
        for param in group.get_command(ctx, name).params:
            flags = [o for o in param.opts if o.startswith("-")]
            assert not flags or any(f in text for f in flags), f"{name}: {param.name} missing from the reference"
    page = reference.expand((DOCS / "reference" / "cli.md").read_text(encoding="utf-8"))
    assert "<!-- generated" not in page and "### `lived-themes run`" in page


def test_unknown_generated_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown generated block"):
        _reference_module().expand("<!-- generated: no-such-block -->\n")


def _backticked_words(text: str) -> set[str]:
    return {word for span in re.findall(r"`([^`]+)`", text) for word in re.findall(r"\w+", span)}


@pytest.mark.parametrize("model_path", ["lived_themes.config.coding:ExperimentConfig",
                                        "lived_themes.config.topics:TopicExperimentConfig"])
def test_every_config_key_is_in_the_reference_and_explained(model_path: str) -> None:
    module, name = model_path.split(":")
    model = getattr(importlib.import_module(module), name)
    reference = _reference_module()
    keys = reference.config_keys(model)
    generated = reference.schema_reference(model)
    assert not [k for k in keys if f"`{k}`" not in generated]
    explained = _backticked_words((DOCS / "configuration.md").read_text(encoding="utf-8"))
    missing = [k for k in keys if k.split(".")[-1].removesuffix("[]") not in explained]
    assert not missing, f"docs/configuration.md does not explain {missing}: add a row to its key table"


def test_codebook_schema_reference_has_every_field() -> None:
    from lived_themes.codebook import Code, Codebook, Theme

    generated = _reference_module().codebook_schema_reference()
    for prefix, model in (("", Codebook), ("codes[].", Code), ("themes[].", Theme)):
        for field in model.model_fields:
            assert f"`{prefix}{field}`" in generated


def test_registered_reference_lists_every_component_with_its_params() -> None:
    from lived_themes.registry import CODERS, TOPIC_MODELS

    generated = _reference_module().registered_reference()
    assert all(f"| `{name}` |" in generated for name in [*CODERS, *TOPIC_MODELS])
    assert "`C=1.0`" in generated  # tfidf-logreg.v1's regularisation, with its default


def test_quick_start_is_first_runs_as_the_tested_page_does_and_shows_the_report() -> None:
    import yaml

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert nav[0] == {"Quick start": "quickstart.md"}, "the quick start comes first in the navigation"
    page = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    first = re.search(r"^```bash\n(.*?)^```", page, flags=re.MULTILINE | re.DOTALL).group(1)
    steps = [line for line in first.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(steps) == 5, f"five commands, from a CSV to report.html: {steps}"
    tested = documented_commands(DOCS / "own-data.md")
    assert all(c in tested for c in documented_commands(DOCS / "quickstart.md")), "its commands are the ones test_own_data runs"
    shot = re.search(r"!\[[^\]]+\]\((images/[^)]+\.png)\)", page).group(1)
    assert (DOCS / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "(quickstart.md)" in home and "(gallery.md)" in home, "the home page links the quick start and the gallery"


def _gallery_hook():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_gallery", DOCS / "hooks" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_refuses_a_broken_notebook() -> None:
    hook = _gallery_hook()
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}}
    good = {"cells": [{"cell_type": "code", "metadata": {"tags": ["figure"]}, "outputs": [png]}]}
    assert hook._problems(good) == [] and hook._thumbnail(good)[:4] == b"\x89PNG"
    blank = {"cells": [{"cell_type": "code", "metadata": {"tags": ["figure"]}, "outputs": []}]}
    failed = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [
        {"output_type": "error", "ename": "KeyError", "evalue": "'coder'", "traceback": []}]}]}
    assert "cell 0 is meant to draw but shows no figure" in hook._problems(blank)
    assert hook._problems(failed) == ["cell 0 raised KeyError: 'coder'"]


def test_readme_fits_on_a_screen_and_keeps_the_two_commands_and_the_headline() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 220
    assert "make main" in readme and "make test" in readme and "<!-- headline:nsun2014 -->" in readme
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / page).exists(), f"README links {page}, which does not exist"


def test_api_examples_run_and_their_imports_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API page's examples: the first two run as written; every import of the third resolves."""
    monkeypatch.chdir(REPO)
    blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / "api" / "index.md").read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 3
    scope: dict = {}
    exec(blocks[0] + blocks[1], scope)  # noqa: S102 - the page's own example code
    assert scope["macro_f1"](scope["truth"], scope["never"]) == 0.0
    exec("\n".join(line for line in blocks[2].splitlines() if line.startswith("from ")), {})  # noqa: S102

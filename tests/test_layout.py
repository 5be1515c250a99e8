"""The layout shows the flow: each folder is one stage, and only the application layer (``config/``, ``experiment/``,
``workflows/`` and ``cli.py``) knows about configs and run folders. Library modules take plain arguments, so they can
be used from a notebook or a cluster job. The layering itself is held by import-linter (contracts in pyproject.toml),
and the habits by ruff; both run here, so ``make test`` and CI run them."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import lived_themes

PACKAGE = Path(lived_themes.__file__).parent

REPO = PACKAGE.parents[1]

#: the stages and the few top-level modules the architecture doc names; anything else is a stray module
STAGES = {"corpus", "extract", "coders", "topics", "evaluation", "report", "experiment", "predict", "interop", "active",
          "config", "workflows", "encoders"}
TOP_LEVEL = {"__init__.py", "cli.py", "codebook.py", "registry.py", "errors.py", "splits.py", "jsonutil.py", "files.py", "paths.py"}
APPLICATION = {"experiment", "workflows", "config", "cli.py"}

#: old module names that were merged or moved: they must not come back
GONE = ["predictions.py", "inference.py", "extract.py", "extraction", "evaluation_pipeline.py", "config.py",
        "external.py", "data_loading.py", "provenance.py", "describe.py", "distributed.py", "embeddings.py",
        "soft_labels.py", "datasets", "predict.py", "experiment.py"]

#: each room holds one kind of thing: the run pipeline, command bodies, or shared infrastructure
ROOMS = {
    "experiment": {"__init__.py", "run.py", "coding.py", "scoring.py", "reliability.py", "data.py", "predictions.py",
                   "provenance.py", "run_folder.py", "topics"},
    "experiment/topics": {"__init__.py", "pipeline.py", "scoring.py"},
    "workflows": {"__init__.py", "starter.py", "review.py", "evaluate.py", "adjudicate.py", "llm_prompt.py", "agree.py", "code.py", "folder_lock.py"},
    "config": {"__init__.py", "base.py", "coding.py", "topics.py", "load.py"},
    "encoders": {"__init__.py", "sentence.py", "offline.py"},
}

#: third-party packages too heavy to load before they are needed: a package module whose import (at module level,
#: directly or through other package modules) loads one of them may be imported inside a function
OPTIONAL_HEAVY = {"torch", "transformers", "sentence_transformers", "setfit", "bertopic", "spacy", "matplotlib", "dask",
                  "distributed", "pyspark", "onnxruntime", "onnx", "gensim", "umap", "hdbscan", "datasets", "accelerate",
                  "safetensors", "huggingface_hub", "tokenizers", "turftopic", "fastopic", "lightgbm"}
#: the CLI loads only typer before a command runs (``--help`` stays fast), so there the core scientific stack counts too
STARTUP_HEAVY = OPTIONAL_HEAVY | {"numpy", "pandas", "scipy", "sklearn", "pyarrow", "pydantic", "yaml", "krippendorff",
                                  "fairlearn", "iterstrat", "defusedxml", "rich"}


#: modules that must load without the scientific stack, so they may defer a package module that loads it: the CLI
#: (``--help`` loads typer only) and what ``load_coder``'s checks and ``lived-themes model-info`` import (no pandas)
LIGHT_MODULES = {"lived_themes.cli", "lived_themes.coders.base", "lived_themes.coders.decision"}


#: the one import up the layers, named in pyproject's stage contract too: a sentence encoder asks the coders' ONNX
#: runtime (which shares their tokenizing helpers) for its session only when a backend other than torch is chosen
DEFERRED_ACROSS_LAYERS = {"lived_themes.encoders.sentence": {"lived_themes.coders.onnx_backend"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_top_level_holds_only_stages_and_named_modules():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and p.name != "py.typed"}
    assert entries == STAGES | TOP_LEVEL


def test_old_twin_names_are_gone():
    assert not [name for name in GONE if (PACKAGE / name).exists()]


def test_only_the_application_layer_reads_configs_or_writes_run_folders():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in APPLICATION:
            continue
        for name in _imports(path):
            if name.split(".")[:2] in (["lived_themes", "experiment"], ["lived_themes", "workflows"], ["lived_themes", "config"],
                                       ["lived_themes", "cli"]):
                offenders.append(f"{rel}: imports {name}")
    assert not offenders, offenders


def test_library_stages_do_not_import_each_others_applications():
    """Evaluation is plain metric functions: it renders nothing and reads no corpus files."""
    offenders = []
    for path in (PACKAGE / "evaluation").rglob("*.py"):
        for name in _imports(path):
            if name.startswith(("lived_themes.report", "lived_themes.corpus.io", "lived_themes.predict")):
                offenders.append(f"{path.name}: imports {name}")
    assert not offenders, offenders


def test_each_room_holds_one_kind_of_thing():
    """The run pipeline, the command bodies and the configs each have their own folder (issue 23)."""
    found = {room: {p.name for p in (PACKAGE / room).iterdir() if p.name != "__pycache__"} for room in ROOMS}
    assert found == ROOMS


# ----- imports: no circles, the layering held, no package import hidden in a function ---------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_functions(tree: ast.AST) -> set[int]:
    return {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}


def _type_checking(tree: ast.AST) -> set[int]:
    return {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block) if isinstance(node, (ast.Import, ast.ImportFrom))}


def _targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> list[str]:
    """The modules a statement imports; a name imported from a package is its submodule when there is one."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]


def _parsed() -> dict[str, ast.AST]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _heavy(trees: dict[str, ast.AST], roots: set[str]) -> set[str]:
    """Package modules whose import loads one of ``roots``, at module level, directly or through other package modules."""
    modules = set(trees)
    loads: dict[str, set[str]] = {}
    for name, tree in trees.items():
        skip = _in_functions(tree) | _type_checking(tree)
        parts = name.split(".")
        loads[name] = {".".join(parts[:i]) for i in range(2, len(parts))}  # importing a module runs its packages too
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                loads[name].update(_targets(node, modules))
    heavy = {m for m, targets in loads.items() if any(t.split(".")[0] in roots for t in targets)}
    grew = True
    while grew:
        grew = False
        for m, targets in loads.items():
            if m not in heavy and targets & heavy:
                heavy.add(m)
                grew = True
    return heavy


def _imports_inside_functions(trees: dict[str, ast.AST]) -> list[tuple[str, int, list[str]]]:
    modules = set(trees)
    found = []
    for name, tree in trees.items():
        inside = _in_functions(tree)
        for node in ast.walk(tree):
            if id(node) in inside:
                targets = [t for t in _targets(node, modules) if t.split(".")[0] == "lived_themes"]
                if targets:
                    found.append((name, node.lineno, targets))
    return found


def test_package_imports_inside_functions_only_defer_heavy_dependencies():
    """A package import inside a function hides an import circle from the reader; it is kept only where the imported
    module loads a heavy optional dependency (torch, transformers, spaCy, matplotlib, ...), and in ``cli.py`` where it
    loads the scientific stack (``--help`` loads typer only). Before issue 23: 205 such imports in 48 files."""
    trees = _parsed()
    optional, startup = _heavy(trees, OPTIONAL_HEAVY), _heavy(trees, STARTUP_HEAVY)
    found = _imports_inside_functions(trees)
    offenders = [f"{name}:{line} imports {targets}" for name, line, targets in found
                 if not set(targets) <= (startup if name in LIGHT_MODULES else optional)
                 and not set(targets) <= DEFERRED_ACROSS_LAYERS.get(name, set())]
    assert not offenders, "move these imports to the top of the module:\n" + "\n".join(offenders)
    # 51 after issues 25-26: the CLI commands (agree, model-info, --dry-run...) and the modules that load torch
    assert len(found) <= 55, f"{len(found)} deferred package imports: were heavy dependencies added?"


def test_the_cli_loads_no_scientific_stack_before_a_command_runs():
    code = ("import sys, lived_themes.cli; heavy = {'numpy', 'pandas', 'sklearn', 'torch', 'pydantic', 'matplotlib'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONPATH": str(PACKAGE.parent), "PATH": ""})
    assert out.stdout.strip() == "[]"


def test_import_linter_contracts_hold(capsys: pytest.CaptureFixture[str]):
    """The contracts in pyproject.toml: the stage layers, no import circles, metrics and data know no models."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]'): the layering contracts are not checked")
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_ruff_finds_nothing():
    """The lint configured in pyproject.toml ([tool.ruff]) over the package, tests, benchmarks and docs hooks."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]'): the lint is not run")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks", "docs"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_large_or_model_files_are_tracked():
    """Model graphs and weights never belong in the repository (a tool once left a 90 MB weights file in the root)."""
    listed = subprocess.run(["git", "ls-files", "-z"], capture_output=True, cwd=REPO)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = [REPO / name for name in listed.stdout.decode().split("\0") if name]
    heavy = [str(p.relative_to(REPO)) for p in tracked if p.is_file() and p.stat().st_size > 2_000_000]
    graphs = [str(p.relative_to(REPO)) for p in tracked if p.suffix in {".onnx", ".safetensors", ".bin", ".data", ".pt"}]
    assert not heavy and not graphs, f"large or model files tracked: {heavy + graphs}"

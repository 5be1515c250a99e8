"""The layout shows the flow: each folder is one stage, and only ``experiment/`` and ``cli.py`` know about configs
and run folders. Library modules take plain arguments, so they can be used from a notebook or a cluster job."""

from __future__ import annotations

import ast
from pathlib import Path

import lived_themes

PACKAGE = Path(lived_themes.__file__).parent

#: the stages and the few top-level modules the architecture doc names; anything else is a stray module
STAGES = {"corpus", "extract", "coders", "topics", "evaluation", "report", "experiment", "predict", "interop", "active",
          "config", "workflows", "encoders"}
TOP_LEVEL = {"__init__.py", "cli.py", "codebook.py", "registry.py", "errors.py", "splits.py", "jsonutil.py", "files.py"}
APPLICATION = {"experiment", "workflows", "config", "cli.py"}

#: old module names that were merged or moved: they must not come back
GONE = ["predictions.py", "inference.py", "extract.py", "extraction", "evaluation_pipeline.py", "config.py",
        "external.py", "data_loading.py", "provenance.py", "describe.py", "distributed.py", "embeddings.py",
        "soft_labels.py", "datasets", "predict.py", "experiment.py"]


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
            if name == "lived_themes.experiment" or name.startswith("lived_themes.experiment.") or name.startswith("lived_themes.cli"):
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

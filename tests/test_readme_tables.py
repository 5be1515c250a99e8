"""The README's headline tables are what the current code renders for the recorded run metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_headline_block_has_recorded_metrics_and_matches_them():
    script = _script()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [m["name"] for m in script.BLOCK.finditer(text)]
    assert "nsun2014" in names, "the main job's headline table must be regenerated from its recorded metrics"
    for name in names:
        script.recorded_metrics(name)  # raises when a table has no recorded run behind it
    assert script.render(text) == text, "README headline tables are stale: run `make readme`"


def test_render_replaces_only_the_marked_block(tmp_path):
    script = _script()
    metrics = {"results": [{"scheme": "kfold-2", "coder": "majority.v1", "summary": {"macro_f1": 0.0}, "summary_ci": {}, "n_tested": 4}]}
    (tmp_path / "x.metrics.json").write_text(__import__("json").dumps(metrics), encoding="utf-8")
    text = "before\n<!-- headline:x -->\nold table\n<!-- /headline:x -->\nafter\n"
    out = script.render(text, tmp_path)
    assert out.startswith("before\n<!-- headline:x -->\n| Scheme") and out.endswith("<!-- /headline:x -->\nafter\n")
    assert "old table" not in out and "majority.v1 (floor)" in out

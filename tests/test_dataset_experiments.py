"""Each public-corpus experiment runs through the real runner and writes its report (slow; needs ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lived_themes.config.load import load_config
from lived_themes.experiment.coding import run_experiment

REPO = Path(__file__).resolve().parents[1]
SMALL = ["evaluation.n_boot=20", "evaluation.standin.n_perm=20", "data.max_quotes=400"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reflections_expert_lay", "crows_pairs", "mhstigma", "cams"])
def test_dataset_experiment_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(REPO / "experiments" / f"{name}.yaml", overrides=SMALL)
    data = (REPO / config.data.path).resolve() if not Path(config.data.path).is_absolute() else Path(config.data.path)
    if not data.exists():
        pytest.skip(f"{data} not present: the public corpora are not bundled (see data/README.md)")
    monkeypatch.chdir(REPO)
    run_dir = run_experiment(config, out_dir=tmp_path / name, base_dir=REPO / "experiments")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert (run_dir / "report.html").exists()
    assert metrics["n_evaluated"] + len(metrics["not_evaluated"]) == metrics["n_quotes"]
    if len(metrics["human_coders"]) >= 2:
        trained = [r for r in metrics["results"] if r["coder"] != "majority.v1"]
        assert all(r["standin"] for r in trained), "stand-in analysis missing"
        assert metrics["human_agreement"]["alpha"]

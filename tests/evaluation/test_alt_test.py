"""The alt-test: the published numbers of the reference code, hand-worked cases, simulated coders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lived_themes.evaluation.alt_test import (
    alt_test,
    alt_test_families,
    alt_test_from_matrices,
    by_procedure,
    passes_in,
    resolve_epsilon,
)

# Output of the authors' notebook (github.com/nitaytech/AltTest, alt_test_example.ipynb, cell 4):
# dataset -> (scoring, epsilon, {llm: (winning rate, advantage probability)}), rounded to 2 places.
PUBLISHED = {
    "wax": ("accuracy", 0.1, {"gemini_flash": (0.38, 0.69), "gemini_pro": (0.50, 0.74), "gpt-4o": (0.50, 0.73),
                              "llama-31": (0.00, 0.57), "gpt-4o-mini": (0.00, 0.59), "mistral-v03": (0.00, 0.50)}),
    "lgbteen": ("accuracy", 0.2, {"gemini_flash": (0.25, 0.71), "gemini_pro": (0.00, 0.67), "gpt-4o": (0.75, 0.77),
                                  "llama-31": (0.00, 0.72), "gpt-4o-mini": (0.75, 0.76), "mistral-v03": (0.25, 0.75)}),
    "mtbench": ("accuracy", 0.2, {"gemini_flash": (0.00, 0.72), "gemini_pro": (0.00, 0.76), "gpt-4o": (0.00, 0.77),
                                  "llama-31": (0.00, 0.69), "gpt-4o-mini": (0.00, 0.74), "mistral-v03": (0.00, 0.68)}),
    "framing": ("accuracy", 0.15, {"gemini_flash": (1.00, 0.83), "gemini_pro": (1.00, 0.91), "gpt-4o": (1.00, 0.92),
                                   "llama-31": (0.50, 0.80), "gpt-4o-mini": (1.00, 0.87), "mistral-v03": (0.25, 0.80)}),
    "cebab_aspects": ("accuracy", 0.1, {"gemini_flash": (0.70, 0.91), "gemini_pro": (0.90, 0.94), "gpt-4o": (0.90, 0.93),
                                        "llama-31": (0.60, 0.89), "gpt-4o-mini": (0.50, 0.90), "mistral-v03": (0.10, 0.81)}),
    "summeval": ("neg_rmse", 0.2, {"gemini_flash": (0.00, 0.46), "gemini_pro": (0.00, 0.44), "gpt-4o": (0.00, 0.48),
                                   "llama-31": (0.00, 0.58), "gpt-4o-mini": (0.00, 0.54), "mistral-v03": (0.00, 0.62)}),
    "10k_prompts": ("neg_rmse", 0.15, {"gemini_flash": (0.31, 0.67), "gemini_pro": (0.08, 0.63), "gpt-4o": (0.69, 0.76),
                                       "llama-31": (0.15, 0.67), "gpt-4o-mini": (0.92, 0.80), "mistral-v03": (0.15, 0.67)}),
    "cebab_stars": ("neg_rmse", 0.1, {"gemini_flash": (0.60, 0.82), "gemini_pro": (0.80, 0.87), "gpt-4o": (0.90, 0.90),
                                      "llama-31": (0.60, 0.85), "gpt-4o-mini": (0.90, 0.89), "mistral-v03": (0.50, 0.83)}),
    "lesion": ("neg_rmse", 0.15, {"gemini_flash": (0.17, 0.71), "gemini_pro": (1.00, 0.81), "gpt-4o": (0.00, 0.62),
                                  "gpt-4o-mini": (0.67, 0.73)}),
}
MIRROR = Path("/work/.mirror/nitaytech+AltTest/repo")


def _reference_json(dataset: str, name: str) -> dict | None:
    """The paper's data: a folder in $ALT_TEST_DATA (data/<dataset>/<name>.json), else a git mirror of the repo."""
    folder = os.environ.get("ALT_TEST_DATA")
    if folder and (Path(folder) / dataset / f"{name}.json").exists():
        return json.loads((Path(folder) / dataset / f"{name}.json").read_text())
    if MIRROR.exists() and shutil.which("git"):
        out = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"HEAD:data/{dataset}/{name}.json"], capture_output=True)
        if out.returncode == 0:
            return json.loads(out.stdout)
    return None


@pytest.mark.parametrize("dataset", sorted(PUBLISHED))
def test_reproduces_the_published_reference_numbers(dataset):
    humans = _reference_json(dataset, "human_annotations")
    llms = _reference_json(dataset, "llm_annotations")
    if humans is None or llms is None:
        pytest.skip("the paper's data is not here: set ALT_TEST_DATA to a copy of github.com/nitaytech/AltTest/data")
    scoring, epsilon, expected = PUBLISHED[dataset]
    for llm, (wr, ap) in expected.items():
        # the reference code skips annotators with < 30 instances; small_sample="skip" reproduces it
        result = alt_test(llms[llm], humans, scoring=scoring, epsilon=epsilon, small_sample="skip")
        assert round(result.winning_rate, 2) == pytest.approx(wr), llm
        assert round(result.advantage_probability, 2) == pytest.approx(ap), llm
        assert result.passed == (wr >= 0.5)


def test_by_procedure_worked_example():
    rejected, adjusted = by_procedure([0.5, 0.011, 0.001, 0.03], q=0.05)  # H_4 = 25/12; m H_4 = 8.333
    assert rejected.tolist() == [False, True, True, False]
    assert adjusted == pytest.approx([1.0, 0.011 * 8.3333333 / 2, 0.001 * 8.3333333, 0.03 * 8.3333333 / 3], rel=1e-6)
    assert ((adjusted <= 0.05) == rejected).all()
    rejected, adjusted = by_procedure([np.nan, 0.0001], q=0.05)
    assert rejected.tolist() == [False, True] and np.isnan(adjusted[0])


def test_epsilon_presets_and_errors():
    assert resolve_epsilon("expert") == 0.2 and resolve_epsilon("skilled") == 0.15 and resolve_epsilon("crowd") == 0.1
    assert resolve_epsilon(0.05) == 0.05
    with pytest.raises(ValueError, match="expert"):
        resolve_epsilon("guru")


def test_hand_worked_indicators_and_t_test():
    # three annotators, four items; annotator a is left out: the model matches b and c everywhere, a never does
    humans = {"a": {1: "x", 2: "x", 3: "x", 4: "x"}, "b": {1: "y", 2: "y", 3: "y", 4: "z"},
              "c": {1: "y", 2: "y", 3: "y", 4: "z"}}
    model = {1: "y", 2: "y", 3: "y", 4: "z"}
    result = alt_test(model, humans, scoring="accuracy", epsilon=0.2, min_instances_per_human=1)
    row = result.table.set_index("annotator").loc["a"]
    assert row["rho_model"] == 1.0 and row["rho_human"] == 0.0 and row["mean_diff"] == -1.0
    assert row["degenerate"] and row["p_value"] == 0.0  # constant d = -1 < epsilon: decided exactly
    # b left out: b and the model tie on every item (both agree with c), so d = 0 everywhere, also below epsilon
    assert result.table.set_index("annotator").loc["b", "mean_diff"] == 0.0


def _simulate(n_items=120, n_humans=6, k=5, flip=0.1, seed=0):
    """Humans = a latent truth with independent flips; returns truth and coder -> (n, k) matrices."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n_items, k)) < 0.3).astype(float)
    humans = {f"h{i}": np.abs(truth - (rng.random(truth.shape) < flip)) for i in range(n_humans)}
    return truth, humans, rng


@pytest.mark.parametrize("scoring", ["hamming", "kappa", "jaccard", "exact"])
def test_consensus_model_passes_and_random_model_fails(scoring):
    truth, humans, rng = _simulate()
    consensus = (np.mean(np.stack(list(humans.values())), axis=0) > 0.5).astype(float)
    labels = {**humans, "model:consensus": consensus, "model:random": (rng.random(truth.shape) < 0.3).astype(float)}
    good = alt_test_from_matrices(labels, model="model:consensus", humans=list(humans), scoring=scoring, epsilon="expert")
    bad = alt_test_from_matrices(labels, model="model:random", humans=list(humans), scoring=scoring, epsilon="expert")
    assert good["summary"][0]["passed"] and good["summary"][0]["winning_rate"] == 1.0
    assert not bad["summary"][0]["passed"] and bad["summary"][0]["winning_rate"] == 0.0
    assert good["summary"][0]["advantage_probability"] > bad["summary"][0]["advantage_probability"]


def test_missing_ratings_small_samples_use_wilcoxon():
    truth, humans, rng = _simulate(n_items=60, n_humans=4)
    humans["h0"][25:] = np.nan  # h0 saw 25 items only: below 30, so the Wilcoxon test
    labels = {**humans, "m": truth}
    out = alt_test_from_matrices(labels, model="m", humans=list(humans), epsilon=0.2)
    tests = {r["annotator"]: r["test"] for r in out["annotators"]}
    assert tests["h0"] in ("wilcoxon", "constant") and tests["h1"] in ("t", "constant")
    assert next(r for r in out["annotators"] if r["annotator"] == "h0")["n_items"] == 25
    skipping = alt_test_from_matrices(labels, model="m", humans=list(humans), epsilon=0.2, small_sample="skip")
    assert [s["annotator"] for s in skipping["skipped"]] == ["h0"]


def test_coder_groups_share_one_fdr_and_report_x_of_y():
    truth, humans, rng = _simulate(n_items=80, n_humans=6)
    groups = {h: ("Expert" if i < 3 else "Layperson") for i, h in enumerate(humans)}
    labels = {**humans, "m": truth}
    out = alt_test_from_matrices(labels, model="m", humans=list(humans), coder_groups=groups,
                                 epsilon={"Expert": "expert", "Layperson": "crowd"})
    assert [s["family"] for s in out["summary"]] == ["Expert", "Layperson"]
    assert [s["epsilon"] for s in out["summary"]] == [0.2, 0.1]
    assert out["verdict"] == "passes in 2 of 2"
    # one procedure over all six comparisons: m = 6 in the BY correction
    p = np.array([r["p_value"] for r in out["annotators"]])
    assert np.array([r["p_adjusted"] for r in out["annotators"]]) == pytest.approx(by_procedure(p)[1])


def test_families_fdr_is_joint_not_per_family():
    # alone (m=1) p=0.03 is rejected at q=0.05; beside a second comparison (m=2, H_2=1.5) it needs p <= 0.0167
    assert by_procedure([0.03])[0].all()
    assert not by_procedure([0.03, 0.5])[0].any()


def test_passes_in_counts_tested_families_only():
    truth, humans, rng = _simulate(n_items=60, n_humans=3)
    fam = {"A": ({i: tuple(truth[i]) for i in range(60)}, {h: {i: tuple(m[i]) for i in range(60)} for h, m in humans.items()}, 0.2),
           "B": ({}, {"x": {}}, 0.2)}
    results = alt_test_families(fam)
    assert passes_in(results) == "passes in 1 of 1"


def test_from_matrices_keeps_only_usable_instances_with_the_same_result():
    """Instances with fewer than two of a family's humans (or no model code) are not turned into tuples: same tables."""
    import pandas as pd

    from lived_themes.evaluation.alt_test import _records, annotations_from_matrices

    rng = np.random.default_rng(8)
    truth = (rng.random((400, 4)) < 0.3).astype(float)
    labels = {f"h{i}": np.abs(truth - (rng.random(truth.shape) < 0.1)) for i in range(4)}
    for i in range(1, 4):
        labels[f"h{i}"][rng.random(400) < 0.6] = np.nan  # many quotes seen by one human only
    labels["m"] = np.where(rng.random(400)[:, None] < 0.1, np.nan, truth)
    humans = [f"h{i}" for i in range(4)]
    groups = {"h0": "E", "h1": "E", "h2": "L", "h3": "L"}
    out = alt_test_from_matrices(labels, model="m", humans=humans, coder_groups=groups, epsilon=0.2)
    model = annotations_from_matrices(labels, ["m"])["m"]
    everything = {g: (model, annotations_from_matrices(labels, [h for h in humans if groups[h] == g]), 0.2) for g in ("E", "L")}
    reference = alt_test_families(everything)
    assert out["summary"] == [r.summary() for r in reference]
    assert out["annotators"] == _records(pd.concat([r.table for r in reference], ignore_index=True))
    assert out["skipped"] == [{"family": r.family, **s} for r in reference for s in r.skipped]

"""`init` cannot mislead: no split or group by a column that is a function of the labels or of junk values; readable
names, context, single-label data and a time estimate are offered; `run --dry-run` prints the plan and fits nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lived_themes.cli import app
from lived_themes.coders.cost import estimate_seconds
from lived_themes.corpus.columns import dependency, noise
from lived_themes.workflows.starter import detect_layout

PARENTS = {"Care": ["CA", "CB", "CC"], "Staff": ["SA", "SB", "SC"], "Access": ["AA", "AB"]}
NAMES = {"CA": "Care plan", "CB": "Care quality", "CC": "Continuity", "SA": "Staff attitude", "SB": "Staff numbers",
         "SC": "Communication", "AA": "Waiting times", "AB": "Appointments"}
@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


QUESTIONS = ["What was good about the service you received?", "Is there anything we could have done better?"]


def nhs_like(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Shaped like the issue's file: a two-letter code, its parent category, a readable name, junk, a site, the question."""
    rng = np.random.default_rng(seed)
    codes = list(NAMES)
    parent = {c: p for p, cs in PARENTS.items() for c in cs}
    rows = []
    for i in range(n):
        code = codes[int(rng.integers(len(codes)))]
        rows.append({"comment_id": i, "comment": f"{NAMES[code].lower()} was mentioned in comment number {i} with words",
                     "code": code, "category": parent[code], "sub_category": NAMES[code],
                     "flag": ["-o", "SS", "A", "x-", "?"][int(rng.integers(5))],
                     "trust": ["Trust North", "Trust South", "Trust East"][int(rng.integers(3))],
                     "question": QUESTIONS[int(rng.integers(2))]})
    return pd.DataFrame(rows)


def test_init_never_splits_by_the_parent_category_or_junk_and_says_why(runner: CliRunner, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    nhs_like().to_csv("nhs.csv", index=False)
    result = runner.invoke(app, ["init", "nhs.csv"])
    assert result.exit_code == 0, result.output
    text = Path("nhs.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["data"]["label_column"] == "code" and raw["data"]["column_mapping"] == {"comment": "text", "comment_id": "quote_id"}
    groups_split = [s.get("group") for s in raw["splits"]]
    assert "category" not in groups_split and "flag" not in groups_split
    assert {"kind": "leave_one_group_out", "group": "trust"} in raw["splits"]
    assert "category" not in raw["evaluation"]["groups"] and "flag" not in raw["evaluation"]["groups"]
    assert "trust" in raw["evaluation"]["groups"]
    # why, in the YAML and on screen
    assert "never split or grouped by 'category': the code determines it" in text
    assert "never split or grouped by 'flag'" in text and "markers" in text
    assert "'category'" in result.output and "'flag'" in result.output
    # readable names, the question as context, single-label, an estimate
    book = yaml.safe_load(Path("nhs.codebook.yaml").read_text(encoding="utf-8"))
    assert {c["id"]: c["label"] for c in book["codes"]}["sa"] == "Staff attitude"
    assert "context: 'question'" in text and "label_mode: auto" in text and "Estimated run time" in text
    assert "single-label" in result.output and "Estimated run time" in result.output
    # the plan, fitting nothing
    plan = runner.invoke(app, ["run", "nhs.yaml", "--dry-run", "--set", "data.min_code_count=1000"])
    assert plan.exit_code != 0  # every code dropped: the run's own error, before any fit
    plan = runner.invoke(app, ["run", "nhs.yaml", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "split kfold-5: 5 fold(s)" in plan.output and "leave-one-trust-out: 3 fold(s)" in plan.output
    assert "codes kept (8" in plan.output and "estimated time" in plan.output
    assert not Path("runs").exists()


def test_with_the_parent_category_as_the_code_the_finer_columns_and_junk_are_refused() -> None:
    frame = nhs_like(200).drop(columns=["trust"])
    layout = detect_layout(frame, text_column="comment", label_column="category")
    assert set(layout.refused) == {"code", "sub_category", "flag"} and "determines the code" in layout.refused["code"]
    assert "flag" not in layout.groups and "code" not in layout.groups and "sub_category" not in layout.groups
    assert layout.split_group is None


def test_dependency_and_noise_rules() -> None:
    rng = np.random.default_rng(1)
    labels = pd.Series(rng.choice(["a", "b", "c", "d"], 200))
    parent = labels.map({"a": "x", "b": "x", "c": "y", "d": "y"})
    assert dependency(labels, parent) is not None
    assert dependency(labels, pd.Series(rng.choice(["s1", "s2", "s3"], 200))) is None
    assert noise("flag", pd.Series(rng.choice(["-o", "SS", "A"], 200)), 200) is not None
    assert noise("site", pd.Series(rng.choice(["A", "B"], 200)), 200) is None
    assert noise("ward", pd.Series(rng.choice(["north", "south"], 200)), 200) is None


def test_estimate_grows_with_rows_codes_and_coders() -> None:
    small = estimate_seconds(["tfidf-logreg.v2"], [800] * 5, n_codes=10, n_rows=1000)
    big = estimate_seconds(["tfidf-logreg.v2", "setfit.v1"], [8000] * 5, n_codes=10, n_rows=10000)
    assert big.seconds > 10 * small.seconds and small.fits == 5 and "fit" in big.text()


def test_encoder_coders_cost_by_rows_and_epochs_not_codes_and_ensembles_reuse_listed_fits() -> None:
    """A transformer's time is its encoder: 35 codes cost what 5 do; epochs multiply it. An ensemble adds only the
    members' inner-fold fits when the run lists the same coders (their full fits are reused)."""
    from lived_themes.coders.cost import fit_seconds

    tr = ("transformer.v1", {"epochs": 6})
    assert fit_seconds(tr, 4000, 35) == fit_seconds(tr, 4000, 5) == 2 * fit_seconds(("transformer.v1", {"epochs": 3}), 4000, 5)
    assert fit_seconds("tfidf-logreg.v2", 4000, 35) == pytest.approx(7 * fit_seconds("tfidf-logreg.v2", 4000, 5))
    members = [{"name": "tfidf-logreg.v2", "params": {"min_df": 2}}, {"name": "transformer.v1", "params": {"epochs": 6}}]
    ens = ("ensemble.v1", {"members": members, "inner_folds": 2})
    inner = 2 * (fit_seconds(("tfidf-logreg.v2", {"min_df": 2}), 2000, 35) + fit_seconds(tr, 2000, 35))
    listed = [("tfidf-logreg.v2", {"min_df": 2}), tr, ens]
    assert abs(fit_seconds(ens, 4000, 35, listed=listed) - inner) < 1e-9
    alone = fit_seconds(ens, 4000, 35, listed=[ens])
    assert abs(alone - inner - fit_seconds(("tfidf-logreg.v2", {"min_df": 2}), 4000, 35) - fit_seconds(tr, 4000, 35)) < 1e-9
    run = estimate_seconds(listed, [4000], n_codes=35, n_rows=5000)
    assert run.fits == 3 and 60 < run.seconds < 3600

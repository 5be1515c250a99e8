"""The run report: files, tables, NaN handling, the human ceiling, no quote text, and Chromium.

The metrics dict is built with the real evaluation functions on a small random corpus, so the
report is tested against the column names those functions actually produce.
"""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lived_themes.evaluation.agreement import alpha_per_code, coder_group_agreement, pairwise_kappa, substitution_alpha
from lived_themes.evaluation.groups import agreement_by_group, max_gap, metric_by_group
from lived_themes.evaluation.metrics import macro_f1, micro_f1, per_code_scores, summary_scores
from lived_themes.report.build import MISSING, ONE_HUMAN, headline_table, write_report

CODES = ["access", "stigma", "peer"]
SECRET = "I was told to wait six months and nobody called me back"
ROOT = Path(__file__).resolve().parents[1]


def _json(x: object) -> object:
    """What json.dump/json.load of metrics.json does: NaN becomes null."""
    if isinstance(x, dict):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    return x.item() if isinstance(x, np.generic) else x


def make_metrics(n_humans: int) -> dict:
    rng = np.random.default_rng(3)
    n = 60
    humans = ["report", "coder_b"][:n_humans]
    truth = (rng.random((n, 3)) < [0.4, 0.2, 0.3]).astype(float)
    labels = {"report": truth}
    if n_humans == 2:
        flip = rng.random(truth.shape) < 0.15
        labels["coder_b"] = np.where(flip, 1 - truth, truth)
        labels["coder_b"][:5] = np.nan  # coder_b did not see five quotes
    groups = pd.DataFrame({"site": np.where(np.arange(n) < 54, np.where(np.arange(n) % 2, "north", "south"), "east")})
    noisy = np.where(rng.random(truth.shape) < 0.25, 1 - truth, truth)
    preds = {"majority.v1": np.zeros_like(truth), "tfidf-logreg.v1": noisy}
    results = []
    for coder, pred in preds.items():
        model = f"model:{coder}"
        lab = {**labels, model: pred}
        by_group = metric_by_group({"macro_f1": macro_f1, "micro_f1": micro_f1}, truth, pred, groups, n_boot=30)
        per_code = per_code_scores(truth, pred, CODES, y_score=pred)
        per_code["example_text"] = SECRET  # an extra column the report must not render
        results.append({
            "scheme": "leave-one-site-out", "coder": coder, "n_tested": n,
            "summary": summary_scores(truth, pred), "summary_ci": {"macro_f1": [0.1, 0.9], "micro_f1": [math.nan, math.nan]},
            "per_code": per_code.to_dict("records"), "by_group": by_group.to_dict("records"),
            "max_gap": max_gap(by_group).to_dict("records"),
            "agreement": pairwise_kappa(lab, CODES, coders=[model, *humans]).to_dict("records"),
            "substitution_alpha": substitution_alpha(lab, CODES, humans, model).to_dict("records") if n_humans > 1 else [],
            "group_agreement": agreement_by_group(lab, CODES, humans, groups, model_coder=model, n_boot=20).to_dict("records"),
            "seconds": {"fit": 0.5, "predict": 0.1},
        })
    human = {"pairwise": [], "alpha": [], "by_group": []}
    if n_humans == 2:
        human = {"pairwise": pairwise_kappa(labels, CODES).to_dict("records"),
                 "alpha": alpha_per_code(labels, CODES, humans).to_dict("records"),
                 "by_group": agreement_by_group(labels, CODES, humans, groups, n_boot=20).to_dict("records"),
                 "coder_groups": coder_group_agreement(labels, CODES, {"report": "expert", "coder_b": "lay"}).to_dict("records")}
    return _json({
        "experiment": "nsun-<demo>", "description": "Synthetic run for the report tests.", "reference": "report",
        "n_quotes": 63, "n_evaluated": n, "not_evaluated": [{"quote_id": f"q{i}", "reason": "empty text", "text": SECRET}
                                                            for i in range(3)],
        "codes": CODES, "code_labels": {"access": "Access to services", "stigma": "Stigma", "peer": "Peer | support"},
        "excluded_codes": [{"code": "rare", "count": 1, "reason": "fewer than 2 positives"}],
        "human_coders": humans, "groups": ["site"], "results": results, "human_agreement": human,
        "warnings": ["group east is small"],
    })


@pytest.fixture(scope="module", params=[1, 2], ids=["one-human", "two-humans"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    metrics = make_metrics(request.param)
    run_dir = tmp_path_factory.mktemp(f"run{request.param}")
    paths = write_report(run_dir, metrics, config={"experiment": "demo", "seed": 0}, run_info={"git": {"commit": "abc"}})
    return metrics, paths, run_dir


def test_files_and_embedded_figures(report: tuple[dict, dict, Path]) -> None:
    metrics, paths, run_dir = report
    figures = sorted(k for k in paths if k.startswith("figures/"))
    # per-code chart + one heatmap for the one group column + agreement matrix
    assert len(figures) == 3 and all(paths[f].stat().st_size > 1000 for f in figures)
    page = paths["report.html"].read_text(encoding="utf-8")
    sources = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) == len(figures)
    assert all(base64.b64decode(s)[:8] == b"\x89PNG\r\n\x1a\n" for s in sources)
    for table in ("headline", "per-code", "by-group", "agreement", "max-gap", "group-agreement", "not-evaluated"):
        assert re.search(rf'<table id="{table}"[^>]*>.*?<tbody><tr>', page), table
    md = paths["report.md"].read_text(encoding="utf-8")
    assert all(f"]({f})" in md for f in figures)


def test_no_quote_text_and_html_escaped(report: tuple[dict, dict, Path]) -> None:
    _, paths, _ = report
    for name in ("report.md", "report.html"):
        text = paths[name].read_text(encoding="utf-8")
        assert SECRET not in text and "q0, q1, q2" in text
    page = paths["report.html"].read_text(encoding="utf-8")
    assert "nsun-&lt;demo&gt;" in page and "<demo>" not in page
    assert "Peer \\| support" in paths["report.md"].read_text(encoding="utf-8")  # a "|" must not break the table


def test_headline_values_and_floor(report: tuple[dict, dict, Path]) -> None:
    metrics, _, _ = report
    md = headline_table(metrics)
    rows = {r.split("|")[2].strip(): r for r in md.splitlines()[2:]}
    assert set(rows) == {"majority.v1 (floor)", "tfidf-logreg.v1"}
    f1 = {r["coder"]: r["summary"]["macro_f1"] for r in metrics["results"]}
    assert f"{f1['tfidf-logreg.v1']:.2f} [0.10, 0.90]" in rows["tfidf-logreg.v1"]
    assert f"| {f1['tfidf-logreg.v1'] - f1['majority.v1']:.2f} |" in rows["tfidf-logreg.v1"]
    assert f"{metrics['results'][1]['summary']['micro_f1']:.2f} |" in rows["tfidf-logreg.v1"]  # NaN CI: value only


def test_human_ceiling_or_plain_sentence(report: tuple[dict, dict, Path]) -> None:
    metrics, paths, _ = report
    md = paths["report.md"].read_text(encoding="utf-8")
    if len(metrics["human_coders"]) == 1:
        assert ONE_HUMAN in md and "ceiling)" not in md
        return
    assert ONE_HUMAN not in md and "human–human κ (ceiling)" in md
    pairs = pd.DataFrame(metrics["human_agreement"]["pairwise"])
    stigma = pairs.loc[pairs["code"] == "stigma", "kappa"].iloc[0]
    agreement = md.split("*Cohen's kappa per code")[1]
    row = next(line for line in agreement.splitlines() if line.startswith("| stigma | Stigma |"))
    assert row.split("|")[3].strip() == f"{stigma:.2f}"


def test_gaps_flag_small_groups_and_coder_groups_shown(report: tuple[dict, dict, Path]) -> None:
    metrics, paths, _ = report
    md = paths["report.md"].read_text(encoding="utf-8")
    gaps = [r.split("|") for r in md.split("*Largest gap between groups")[1].split("\n\n")[1].splitlines()[2:]]
    assert len(gaps) == 4  # two coders x two metrics, one group column
    for cells in gaps:
        small = "east (" in cells[5] or "east (" in cells[6]
        assert (cells[7].strip() == "east") == small
    section = md.split("*Largest gap between groups")[1].split("### ")[0]
    assert section.count("too small to support a claim") == 1, "the small-group warning is said once, under the gaps table"
    assert ('<table id="coder-groups"' in paths["report.html"].read_text(encoding="utf-8")) == (len(metrics["human_coders"]) == 2)


def test_contents_and_how_to_read_from_the_runs_figures(report: tuple[dict, dict, Path]) -> None:
    metrics, paths, _ = report
    page = paths["report.html"].read_text(encoding="utf-8")
    toc = re.search(r'<nav id="contents" class="toc">(.*?)</nav>', page, flags=re.DOTALL)
    assert toc, "report.html has no table of contents"
    links = re.findall(r'href="#([^"]+)"', toc.group(1))
    headings = re.findall(r'<h2 id="([^"]+)">', page)
    assert links == headings and len(links) >= 5, "the contents link every section, in order"
    assert links[0] == "sec-how-to-read-this-report" and page.index("<nav") < page.index('<h2 id="sec-how-to-read')
    reading = re.search(r'<ul class="reading">(.*?)</ul>', page, flags=re.DOTALL).group(1)
    best = next(r for r in metrics["results"] if r["coder"] == "tfidf-logreg.v1")
    assert f"the best coder is tfidf-logreg.v1: macro-F1 {best['summary']['macro_f1']:.2f}" in reading
    assert "0.10 to 0.90, 0.80 wide" in reading and "The floor (majority.v1) scores 0.00" in reading
    assert "learned nothing" in reading and "too small to support a claim" in reading
    ceiling = "none can be computed" if len(metrics["human_coders"]) == 1 else "agree with each other at a mean Cohen&#x27;s kappa"
    assert ceiling in reading and "Alt-test: not run here" in reading
    md = paths["report.md"].read_text(encoding="utf-8")
    assert "**Contents**" in md and "- [How to read this report](#sec-how-to-read-this-report)" in md
    assert '<a id="sec-how-to-read-this-report"></a>\n\n## How to read this report' in md
    assert f"of {len(CODES)} (per coder, in column order)" in md, "the by-group table says what '10 / 12 / 13' counts"


def test_how_to_read_warns_when_the_majority_baseline_passes_the_alt_test() -> None:
    from lived_themes.report.reading import ALT_CAVEAT, how_to_read

    metrics = make_metrics(2)
    metrics["results"][0]["alt_test"] = {"verdict": "passes in 1 of 2", "summary": [
        {"family": "expert", "passed": True, "n_annotators": 2}, {"family": "lay", "passed": False, "n_annotators": 2}]}
    points = how_to_read(metrics)[-1][1]
    alt = next(p for p in points if p.startswith("Alt-test"))
    assert "majority.v1 (the majority baseline), leave-one-site-out: passes in 1 of 2 coder group(s)" in alt
    assert ALT_CAVEAT in alt and "the majority baseline passes in at least one group" in alt


def test_nan_and_missing_fields_render_as_dash(tmp_path: Path) -> None:
    metrics = {"experiment": "bare", "results": [{"scheme": "random", "coder": "setfit.v1", "summary": {"macro_f1": None},
                                                  "per_code": [{"code": "a", "f1": None, "support": 3}],
                                                  "by_group": [{"group_column": "age", "group": "overall", "metric": "macro_f1",
                                                                "value": float("nan"), "warning": ""},
                                                               {"group_column": "age", "group": "70+", "metric": "macro_f1",
                                                                "value": 0.1, "warning": "too small"}],
                                                  "max_gap": [{"group_column": "age", "metric": "macro_f1", "gap": 0.3,
                                                               "group_high": "18-30", "group_low": "70+"},
                                                              {"group_column": "age", "metric": "micro_f1", "gap": None,
                                                               "group_high": "18-30", "group_low": "31-69"}]}]}
    paths = write_report(tmp_path, metrics)
    md = paths["report.md"].read_text(encoding="utf-8")
    assert f"| setfit.v1 | age | macro_f1 | 0.30 | 18-30 ({MISSING}) | 70+ ({MISSING}) | 70+ |" in md
    assert f"| setfit.v1 | age | micro_f1 | {MISSING} | 18-30 ({MISSING}) | 31-69 ({MISSING}) |  |" in md
    assert f"| random | setfit.v1 | {MISSING} | {MISSING} |" in md
    assert "no floor to compare against" in md and ONE_HUMAN in md
    assert (tmp_path / "report.html").exists()


def test_without_figures_or_html(tmp_path: Path) -> None:
    paths = write_report(tmp_path, make_metrics(1), figures=False, html=False)
    assert set(paths) == {"report.md"} and not (tmp_path / "figures").exists()


def test_import_stays_light() -> None:
    code = "import sys, lived_themes.report.build; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                    reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_chromium(report: tuple[dict, dict, Path]) -> None:
    """Tables, figures, the table of contents (links to sections that exist) and "How to read" render in a browser."""
    _, _, run_dir = report
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "check_report_html.py"), str(run_dir)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK")


def test_drawing_never_changes_the_callers_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook that draws a report must keep showing its own figures: no matplotlib.use, no pyplot figures left open."""
    import matplotlib
    import matplotlib.pyplot as plt

    from lived_themes.report import topic_outputs
    from lived_themes.report.standin_plot import plot_standin

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("report code called matplotlib.use: it would change the user's backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    paths = write_report(tmp_path, make_metrics(2))
    assert any(k.startswith("figures/") for k in paths)
    topics = pd.DataFrame({"label": ["waiting", "stigma"], "size": [5, 3]})
    topic_outputs.plot_topic_sizes(topics, tmp_path / "sizes.png")
    topic_outputs.plot_heatmap(pd.DataFrame([[0.1, 0.9]], index=["t0"], columns=["a", "b"]), tmp_path / "heat.png")
    topic_outputs.plot_quality(pd.DataFrame({"model": ["m"], "npmi": [0.1], "diversity": [0.8]}), tmp_path / "quality.png")
    standin = pd.DataFrame({"code": "macro", "group_column": "overall", "group": "overall", "others": "all",
                            "coder": ["all coders", "coder_b"], "coder_group": ["", "lay"], "difference": [0.0, -0.1],
                            "ci_low": [-0.1, -0.2], "ci_high": [0.1, 0.0], "statistic": "kappa"})
    from lived_themes.evaluation.standin import ALL_CODERS, MACRO, OVERALL

    standin = standin.assign(code=MACRO, group_column=OVERALL, group=OVERALL, coder=[ALL_CODERS, "coder_b"])
    figure = plot_standin(standin, path=tmp_path / "standin.png")
    assert type(figure).__name__ == "Figure" and (tmp_path / "standin.png").stat().st_size > 1000
    assert matplotlib.get_backend() == backend and plt.get_fignums() == open_figures

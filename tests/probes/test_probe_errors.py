"""One error path (probes C06, P10, E03-E06, E09, E13-E15, S06, S09, S11, D01): a located line, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_located, invoke


def test_c06_empty_quotes_file_names_the_file(tiny_corpus: Path) -> None:
    (tiny_corpus / "quotes.csv").write_bytes(b"")
    assert_located(invoke("describe", tiny_corpus), "quotes.csv", "empty")


def test_p10_predict_on_an_empty_csv(tfidf_model: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert_located(invoke("predict", tfidf_model, empty, "-o", tmp_path / "o.jsonl"), "empty.csv", "empty")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("probe", "text", "needle"),
    [
        ("E03", "name: x\ncoders: [\n", "not valid YAML"),
        ("E04", "- a\n- b\n", "must be a YAML mapping"),
        ("E05", "name: !!python/object/apply:os.system ['touch PWNED']\n", "not valid YAML"),
        ("B16-config", "name: a\nname: b\n", "twice"),
    ],
)
def test_e03_e05_bad_experiment_yaml(tmp_path: Path, probe: str, text: str, needle: str) -> None:
    path = tmp_path / f"{probe}.yaml"
    path.write_text(text, encoding="utf-8")
    assert_located(invoke("run", "-q", path), needle)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_e06_missing_experiment_file(tmp_path: Path) -> None:
    assert_located(invoke("run", tmp_path / "does_not_exist.yaml"), "not found")


def test_e09_unknown_coder_parameter_fails_before_any_fitting(experiment: Path) -> None:
    line = assert_located(invoke("run", "-q", experiment, "--set", "coders=[{name: tfidf-logreg.v1, params: {not_a_param: 1}}]"))
    assert "not_a_param" in line and "coders.0" in line
    assert not (experiment.parent / "runs").exists()


def test_e13_alias_bomb_in_params_is_refused(experiment: Path, tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        experiment.read_text(encoding="utf-8").replace("coders:\n  - name: majority.v1\n", "")
        + "bombs:\n" + "".join(f"  {line}\n" for line in levels)
        + "coders:\n  - name: tfidf-logreg.v1\n    params: {C: *a8}\n",
        encoding="utf-8",
    )
    assert_located(invoke("run", "-q", bomb), "alias")


@pytest.mark.parametrize("name", ["../../escaped_name", "/tmp/abs_name_escape", "a/b", ".."])
def test_e14_e15_run_names_cannot_leave_the_output_folder(experiment: Path, name: str) -> None:
    assert_located(invoke("run", "-q", experiment, "--set", f"name={name}"), "name")
    assert not (experiment.parent / "runs").exists()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("seed.x=1", "seed is a single value"),
        ("data.path=[unclosed", "not valid YAML"),
        ("name=!!python/object/apply:os.system ['touch PWNED_set']", "not valid YAML"),
    ],
)
def test_s06_s09_s11_bad_set_values(experiment: Path, override: str, needle: str) -> None:
    assert_located(invoke("run", "-q", experiment, "--set", override), needle)
    assert not Path("PWNED_set").exists()


def test_d01_describe_by_a_missing_column(tiny_corpus: Path) -> None:
    assert_located(invoke("describe", tiny_corpus, "--by", "no_such_col"), "no_such_col", "quotes.csv")


def test_verbose_shows_the_traceback_and_real_bugs_keep_theirs(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verbose = invoke("--verbose", "describe", tiny_corpus, "--by", "no_such_col")
    assert verbose.exit_code == 2 and "Traceback" in verbose.output and "error:" in verbose.output
    import lived_themes.corpus as corpus

    def bug(*args, **kwargs):  # noqa: ANN002, ANN003
        raise ZeroDivisionError("a real bug")

    monkeypatch.setattr(corpus, "load_corpus", bug)
    result = invoke("describe", tiny_corpus)
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)


def test_a_config_error_with_several_problems_is_one_line(experiment: Path) -> None:
    line = assert_located(invoke("run", "-q", experiment, "--set", "seed=x", "--set", "evaluation.n_boot=-1"))
    assert "seed" in line and "evaluation.n_boot" in line

"""Configs: every shipped file loads, errors are clear, overrides and merging behave."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from lived_themes.config.coding import ExperimentConfig
from lived_themes.config.load import apply_override, deep_merge, dump_config, is_topic_experiment, load_config, parse_override, resolved_params
from lived_themes.registry import make_coder
from lived_themes.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted((REPO / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_experiment_file_loads(path: Path) -> None:
    config = load_config(path, defaults_dir=REPO / "configs")  # one loader for coding and topic experiments
    if is_topic_experiment(path):
        assert config.models and config.data
        return
    assert config.name and config.coders


def test_defaults_file_matches_the_model_defaults() -> None:
    raw = yaml.safe_load((REPO / "configs" / "defaults.yaml").read_text(encoding="utf-8"))
    expected = ExperimentConfig().model_dump(mode="json")
    expected.pop("name"), expected.pop("description"), expected.pop("kind")  # per file, not a default
    assert raw == expected


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("data:\n  pathh: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.pathh: unknown key"):
        load_config(path, defaults_dir=REPO / "configs")


def test_wrong_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("evaluation:\n  n_boot: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evaluation\.n_boot"):
        load_config(path, defaults_dir=REPO / "configs")


def test_unregistered_coder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("coders:\n  - name: my.module.Coder\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown coder 'my.module.Coder'"):
        load_config(path, defaults_dir=REPO / "configs")


def test_group_split_needs_a_group_column() -> None:
    with pytest.raises(ConfigError, match="needs 'group'"):
        load_config(None, overrides=["splits=[{kind: leave_one_group_out}]"], defaults_dir=REPO / "configs")


def test_experiment_holds_differences_and_set_overrides_win() -> None:
    config = load_config(REPO / "experiments" / "nsun2014.yaml", overrides=["evaluation.n_boot=7", "coders.1.params.C=0.5", "seed=3"])
    assert config.name == "nsun2014"
    assert config.evaluation.n_boot == 7
    assert config.coders[1].params == {"C": 0.5}
    assert config.seed == 3
    assert config.output.dir == "runs"  # from configs/defaults.yaml, not repeated in the experiment


def test_set_rejects_bad_syntax_and_bad_index() -> None:
    with pytest.raises(ConfigError, match="key.sub=value"):
        parse_override("seed")
    with pytest.raises(ConfigError, match="not an index"):
        apply_override({"coders": [{}]}, ["coders", "4", "name"], "x")


def test_deep_merge_replaces_lists_and_merges_mappings() -> None:
    base = {"a": {"x": 1, "y": 2}, "l": [1, 2]}
    assert deep_merge(base, {"a": {"y": 3}, "l": [9]}) == {"a": {"x": 1, "y": 3}, "l": [9]}
    assert base == {"a": {"x": 1, "y": 2}, "l": [1, 2]}


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(REPO / "experiments" / "nsun2014.yaml")
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config), encoding="utf-8")
    again = load_config(path, defaults_dir=REPO / "configs")
    assert resolved_params(again) == resolved_params(config)  # the written config is the run's full record
    assert again.coders[1].params == make_coder(again.coders[1].name).get_params()  # every constructor param, not {}
    assert again.source == path and config.source == REPO / "experiments" / "nsun2014.yaml"


def test_unknown_coder_param_stops_at_load_with_the_key_path(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("coders:\n  - name: majority.v1\n  - name: tfidf-logreg.v1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, overrides=["coders.1.params.Cee=0.5"], defaults_dir=REPO / "configs")
    assert "  coders.1.params: tfidf-logreg.v1 takes no parameter 'Cee'" in str(err.value).splitlines()
    with pytest.raises(ConfigError, match=r"coders\.0\.params\.top_k: codebook-similarity\.v1: top_k must be at least 1"):
        load_config(path, overrides=["coders=[{name: codebook-similarity.v1, params: {top_k: 0}}]"], defaults_dir=REPO / "configs")


def test_topic_experiments_use_the_same_loader_and_defaults(tmp_path: Path) -> None:
    from lived_themes.config.topics import TopicExperimentConfig

    defaults = tmp_path / "configs"
    defaults.mkdir()
    (defaults / "defaults.yaml").write_text("seed: 7\noutput: {dir: elsewhere}\nevaluation: {n_boot: 11}\ncoders: [{name: majority.v1}]\n", encoding="utf-8")
    (tmp_path / "exp").mkdir()
    path = tmp_path / "exp" / "topics.yaml"
    path.write_text("data: corpus\nmodels: [{name: lda.v1, params: {n_topic: 3}}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\.0\.params: lda\.v1 takes no parameter 'n_topic'"):
        load_config(path, defaults_dir=defaults)
    config = load_config(path, overrides=["models.0.params={n_topics: 3}"], defaults_dir=defaults)
    assert isinstance(config, TopicExperimentConfig)
    assert (config.seed, config.output.dir, config.evaluation.n_boot) == (7, "elsewhere", 11)  # shared keys come from defaults
    assert config.source == path and config.base_dir == path.parent.resolve()
    assert TopicExperimentConfig(data="x").seed == ExperimentConfig().seed == 0


def test_the_kind_key_names_the_experiment_and_a_missing_one_is_guessed_with_a_warning(tmp_path):
    """``kind:`` says coding or topics; old files without it are read by the old guess, with a deprecation warning."""
    (tmp_path / "topics.yaml").write_text("kind: topics\ndata: {path: x}\nmodels: [{name: lda.v1}]\n", encoding="utf-8")
    assert is_topic_experiment(tmp_path / "topics.yaml")
    (tmp_path / "old.yaml").write_text("data: {path: x}\nmodels: [{name: lda.v1}]\n", encoding="utf-8")
    with pytest.warns(FutureWarning, match="kind: topics"):
        assert load_config(tmp_path / "old.yaml", defaults_dir=REPO / "configs").kind == "topics"
    (tmp_path / "bad.yaml").write_text("kind: topic\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="kind: 'topic' is not one of"):
        load_config(tmp_path / "bad.yaml", defaults_dir=REPO / "configs")


def test_the_cli_shows_the_kind_guess_as_one_warning_line(tmp_path):
    from typer.testing import CliRunner

    from lived_themes.cli import app

    (tmp_path / "old.yaml").write_text("data: {path: nowhere}\nmodels: [{name: lda.v1}]\n", encoding="utf-8")
    with warnings.catch_warnings():  # pyproject's test filter hides this warning; here it is the subject
        warnings.simplefilter("always", FutureWarning)
        result = CliRunner().invoke(app, ["run", str(tmp_path / "old.yaml")])
    lines = result.output.splitlines()
    assert result.exit_code == 2 and any(line.startswith("warning: ") and "add 'kind: topics'" in line for line in lines), result.output
    assert "FutureWarning" not in result.output

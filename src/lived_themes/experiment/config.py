"""Experiment configuration: YAML validated on load, defaults + differences, --set overrides.

Components are named by registered, versioned strings (``tfidf-logreg.v1``), never by import path.
The resolved config, with every default filled in, is written into each run folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lived_themes.errors import ConfigError


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to its default."""

    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the annotated quotes come from and how their columns map to the package's."""

    path: str = "data/nsun2014"
    format: Literal["corpus", "wide", "dataset"] = "corpus"
    dataset: str | None = None
    codebook: str | None = None
    column_mapping: dict[str, str] = Field(default_factory=dict)
    annotation_mapping: dict[str, str] = Field(default_factory=dict)
    coder: str = "annotator"
    code_columns: list[str] | None = None
    code_columns_from: str | None = None
    code_columns_to: str | None = None
    blank: Literal["error", "zero"] = "error"
    on_invalid: Literal["raise", "set_aside"] = "raise"
    min_code_count: int = Field(default=1, ge=0)
    exclude_codes: list[str] = Field(default_factory=list)
    max_quotes: int | None = Field(default=None, ge=1)


class ReferenceConfig(_Strict):
    """The human coding the model is trained on and scored against: a coder, or a consensus rule."""

    coder: str = "report"


class SplitConfig(_Strict):
    kind: Literal["kfold", "group_kfold", "leave_one_group_out", "holdout"]
    n_splits: int = Field(default=5, ge=2)
    group: str | None = None
    exclude: list[str] = Field(default_factory=list)
    test_size: float = Field(default=0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _group_needed(self) -> SplitConfig:
        if self.kind in ("group_kfold", "leave_one_group_out") and not self.group:
            raise ValueError(f"split kind {self.kind!r} needs 'group' (the column that holds participants or groups)")
        return self

    @property
    def label(self) -> str:
        if self.kind == "leave_one_group_out":
            return f"leave-one-{self.group}-out"
        if self.kind == "holdout":
            return f"holdout-{self.group or 'rows'}"
        return f"{self.kind}-{self.n_splits}" + (f"-by-{self.group}" if self.group else "")


class CoderConfig(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from lived_themes.registry import CODERS

        if value not in CODERS:
            raise ValueError(f"unknown coder {value!r}; registered coders: {sorted(CODERS)}")
        return value


class StandinConfig(_Strict):
    """Can the model stand in for a human coder? (leave-one-coder-out; needs at least two human coders)."""

    enabled: bool = False
    statistic: Literal["mean_kappa", "pooled_kappa"] = "mean_kappa"
    min_overlap: int = Field(default=10, ge=1)
    n_perm: int = Field(default=1000, ge=0)
    margin: float = Field(default=0.1, ge=0)


class EvaluationConfig(_Strict):
    groups: list[str] = Field(default_factory=list)
    cluster: str | None = None
    n_boot: int = Field(default=1000, ge=0)
    ci: float = Field(default=0.95, gt=0, lt=1)
    min_group_size: int = Field(default=10, ge=1)
    human_coders: list[str] | None = None
    coder_groups: dict[str, str] | Literal["from_data"] = Field(default_factory=dict)
    max_dense_coders: int = Field(default=30, ge=2)
    standin: StandinConfig = Field(default_factory=StandinConfig)


class FinalModelConfig(_Strict):
    coder: str | None = None


class OutputConfig(_Strict):
    dir: str = "runs"
    html: bool = True
    figures: bool = True
    evidence: bool = False


class ExperimentConfig(_Strict):
    name: str = "experiment"
    description: str = ""
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    splits: list[SplitConfig] = Field(default_factory=lambda: [SplitConfig(kind="kfold", n_splits=5)])
    coders: list[CoderConfig] = Field(default_factory=lambda: [CoderConfig(name="majority.v1"), CoderConfig(name="tfidf-logreg.v1")])
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    final_model: FinalModelConfig = Field(default_factory=FinalModelConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _final_model_is_a_coder(self) -> ExperimentConfig:
        names = [c.name for c in self.coders]
        if self.final_model.coder is not None and self.final_model.coder not in names:
            raise ValueError(f"final_model.coder {self.final_model.coder!r} is not among the coders {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"each coder may be listed once; got {names}")
        return self


# ----- loading, merging and overrides -----------------------------------------------------------

def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; lists and scalars in ``override`` replace those in ``base``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    return raw


def find_defaults_dir(start: Path) -> Path | None:
    """The nearest ``configs/`` folder at or above ``start`` (the project's defaults)."""
    for folder in [start, *start.parents]:
        if (folder / "configs" / "defaults.yaml").exists():
            return folder / "configs"
    return None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.0.c=value`` -> (['a', 'b', '0', 'c'], value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key.sub=value, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"--set expects key.sub=value, got {text!r}")
    return key.strip().split("."), yaml.safe_load(value)


def apply_override(raw: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = raw
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            node = node[_index(node, part, path)]
        else:
            node = node.setdefault(part, {})
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, path)] = value
    else:
        node[last] = value


def _index(node: list[Any], part: str, path: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {'.'.join(path)}: {part!r} is not an index of a list with {len(node)} item(s)")
    return int(part)


def load_config(
    path: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    defaults_dir: str | Path | None = None,
) -> ExperimentConfig:
    """Resolve model defaults <- configs/defaults.yaml <- experiment file <- --set overrides, then validate."""
    exp_path = Path(path) if path is not None else None
    raw: dict[str, Any] = {}
    defaults = Path(defaults_dir) if defaults_dir else find_defaults_dir((exp_path.parent if exp_path else Path.cwd()).resolve())
    if defaults is not None:
        raw = deep_merge(raw, _read_yaml(defaults / "defaults.yaml"))
    if exp_path is not None:
        experiment = _read_yaml(exp_path)
        raw = deep_merge(raw, experiment)
        raw.setdefault("name", exp_path.stem)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, str(exp_path) if exp_path else "config") from None


def config_error(exc: ValidationError, where: str) -> ConfigError:
    """One line per problem, each naming the key path ("models.1.params: ..."), for any config model."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {loc}: {msg}")
    return ConfigError(f"{where}: {exc.error_count()} problem(s):\n" + "\n".join(lines))


def is_topic_experiment(path: str | Path) -> bool:
    """Topic experiments list ``models`` (topic models); coding experiments list ``coders``."""
    raw = _read_yaml(Path(path))
    return "models" in raw and "coders" not in raw


def read_yaml_with_overrides(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """A YAML mapping with --set overrides applied (for configs validated elsewhere, e.g. topic experiments)."""
    raw = _read_yaml(Path(path))
    raw.setdefault("name", Path(path).stem)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    return raw


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

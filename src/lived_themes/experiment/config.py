"""Experiment configuration: YAML validated on load, defaults + differences, --set overrides.

Components are named by registered, versioned strings (``tfidf-logreg.v1``), never by import path.
The resolved config, with every default filled in, is written into each run folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from lived_themes.errors import ConfigError


def check_run_name(value: str) -> str:
    """A run name becomes a folder under output.dir: no separators, no '..', not absolute, so a run stays inside it."""
    if not value.strip() or "/" in value or "\\" in value or value.strip() in (".", "..") or Path(value).is_absolute():
        raise ValueError("name must be a plain folder name (no '/', '\\' or '..', not absolute): it names the run folder under output.dir")
    return value


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to its default."""

    model_config = ConfigDict(extra="forbid")


class _Experiment(_Strict):
    """What coding and topic experiments share: where the config came from, so relative paths resolve beside it."""

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The experiment file this config was read from (None when built in code)."""
        return self._source

    @property
    def base_dir(self) -> Path | None:
        """The folder relative data paths are resolved against after the working directory."""
        return self._source.resolve().parent if self._source is not None else None


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
    #: single: each quote gets its top code or none; auto: single when every reference-coded quote has at most one code
    label_mode: Literal["multi", "single", "auto"] = "multi"
    #: as_coded; parent: each code counts as its parent (one level up); top: as the top of its tree (lived_themes.corpus.hierarchy)
    code_level: Literal["as_coded", "parent", "top"] = "as_coded"
    #: format corpus: a long annotations file read instead of the folder's annotations.* (data.path may then be a quotes file)
    annotations: str | None = None
    #: format wide: the column holding each quote's code(s), instead of 0/1 code columns
    label_column: str | None = None
    #: split a label cell into several codes on this string (e.g. ";"); null: one label per cell
    label_separator: str | None = None
    #: raw label value -> code id; null means "seen, no code"; without a map each value is its own code
    label_map: dict[str, str | None] | None = None
    #: text encoding of CSV/TSV/JSONL files: utf-8, utf-8-or-cp1252 (per line, counted), or a Python codec name
    encoding: str = "utf-8"
    #: columns whose values look like free text but are meant as codes, groups or ids (lived_themes.corpus.free_text)
    allow_free_text_columns: list[str] = Field(default_factory=list)

    @field_validator("label_map", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> object:
        """YAML reads an unquoted ``0: null`` key as a number; label cells are read as text, so keys are too."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _label_column_fits(self) -> DataConfig:
        if self.label_column is None:
            if self.label_separator is not None or self.label_map is not None:
                raise ValueError("data.label_separator and data.label_map need data.label_column")
            return self
        if self.format != "wide":
            raise ValueError("data.label_column needs data.format: wide (one row per quote)")
        if self.code_columns is not None or self.code_columns_from is not None:
            raise ValueError("give either data.label_column or code columns (data.code_columns / code_columns_from), not both")
        return self

    @model_validator(mode="after")
    def _annotations_fit(self) -> DataConfig:
        if self.annotations is not None and self.format != "corpus":
            raise ValueError("data.annotations needs data.format: corpus (quotes and long annotations)")
        return self


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

    @field_validator("params")
    @classmethod
    def _known_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return checked_params(value, info, kind="coder")


def checked_params(params: dict[str, Any], info: ValidationInfo, *, kind: str) -> dict[str, Any]:
    """Params of a component config, checked by the registry's one function (skipped when the name was refused)."""
    from lived_themes.registry import check_params

    name = info.data.get("name")
    if name is not None:
        check_params(name, params, kind=kind)
    return params


class StandinConfig(_Strict):
    """Can the model stand in for a human coder? (leave-one-coder-out; needs at least two human coders)."""

    enabled: bool = False
    statistic: Literal["mean_kappa", "pooled_kappa"] = "mean_kappa"
    min_overlap: int = Field(default=10, ge=1)
    n_perm: int = Field(default=1000, ge=0)
    margin: float = Field(default=0.1, ge=0)


class AltTestConfig(_Strict):
    """The alternative annotator test (Calderon, Reichart & Dror 2025; needs two or more human coders).

    ``epsilon``: a number, a preset (expert 0.2, skilled 0.15, crowd 0.1), or a mapping coder group
    -> number/preset (``default`` for groups not named). ``scoring``: see lived_themes.evaluation.alt_test.
    """

    enabled: bool = True
    scoring: Literal["hamming", "kappa", "jaccard", "exact"] = "hamming"
    epsilon: float | str | dict[str, float | str] = "expert"
    q: float = Field(default=0.05, gt=0, lt=1)
    min_instances: int = Field(default=30, ge=1)
    small_sample: Literal["wilcoxon", "skip"] = "wilcoxon"
    by_group: bool = True


class AdjudicationConfig(_Strict):
    """disagreements.csv: where coders (the model included) disagree, most informative first."""

    enabled: bool = True
    coder: str | None = None  # default: the first coder that is not the majority baseline
    top_n: int = Field(default=5, ge=0)


class EvaluationConfig(_Strict):
    groups: list[str] = Field(default_factory=list)
    cluster: str | None = None
    n_boot: int = Field(default=1000, ge=0)
    ci: float = Field(default=0.95, gt=0, lt=1)
    min_group_size: int = Field(default=10, ge=1)
    min_report_group_size: int = Field(default=5, ge=1)  # privacy floor: smaller groups are never named
    human_coders: list[str] | None = None
    coder_groups: dict[str, str] | Literal["from_data"] = Field(default_factory=dict)
    max_dense_coders: int = Field(default=30, ge=2)
    standin: StandinConfig = Field(default_factory=StandinConfig)
    alt_test: AltTestConfig = Field(default_factory=AltTestConfig)
    chance_corrected: bool = True
    adjudication: AdjudicationConfig = Field(default_factory=AdjudicationConfig)
    stability_seeds: list[int] = Field(default_factory=list)
    stability_min_alpha: float = Field(default=0.8, ge=-1, le=1)


class FinalModelConfig(_Strict):
    #: a listed coder, or "best": the coder with the highest out-of-fold macro-F1 under the first split scheme
    coder: str | None = None


class OutputConfig(_Strict):
    dir: str = "runs"
    html: bool = True
    figures: bool = True
    evidence: bool = False


class ExperimentConfig(_Experiment):
    name: str = "experiment"
    description: str = ""
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    splits: list[SplitConfig] = Field(default_factory=lambda: [SplitConfig(kind="kfold", n_splits=5)])
    coders: list[CoderConfig] = Field(default_factory=lambda: [CoderConfig(name="majority.v1"), CoderConfig(name="tfidf-logreg.v2")])
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    final_model: FinalModelConfig = Field(default_factory=FinalModelConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_run_name(value)

    @model_validator(mode="after")
    def _final_model_is_a_coder(self) -> ExperimentConfig:
        names = [c.name for c in self.coders]
        if self.final_model.coder not in (None, "best") and self.final_model.coder not in names:
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
    from lived_themes.files import load_yaml

    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}  # duplicate keys and alias bombs refused
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: expected a YAML file, found a folder") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
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
    from lived_themes.files import load_yaml

    try:
        parsed = load_yaml(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key.strip()}: the value is not valid YAML: {' '.join(str(exc).split())}") from None
    return key.strip().split("."), parsed


def apply_override(raw: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = raw
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            node = node[_index(node, part, path)]
        elif isinstance(node, dict):
            if node.get(part) is None:  # absent, or an empty YAML key
                node[part] = {}
            node = node[part]
        else:
            raise ConfigError(f"--set {'.'.join(path)}: {'.'.join(path[:i])} is a single value, not a mapping")
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, path)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {'.'.join(path)}: {'.'.join(path[:-1])} is a single value, not a mapping")


def _index(node: list[Any], part: str, path: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {'.'.join(path)}: {part!r} is not an index of a list with {len(node)} item(s)")
    return int(part)


#: Keys of configs/defaults.yaml that topic experiments share with coding experiments.
SHARED_KEYS = ("seed", "data", "evaluation", "output")


def load_config(
    path: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    defaults_dir: str | Path | None = None,
) -> Any:
    """The one config loader: model defaults <- configs/defaults.yaml <- experiment file <- --set overrides, validated.

    Returns an :class:`ExperimentConfig`, or a ``TopicExperimentConfig`` when the file lists topic
    ``models``; topic experiments take only the shared keys (``SHARED_KEYS``) from the defaults.
    The config remembers its file (``.source``), so relative paths resolve beside it.
    """
    exp_path = Path(path) if path is not None else None
    experiment = _read_yaml(exp_path) if exp_path is not None else {}
    if "models" in experiment and "coders" in experiment:
        raise ConfigError(f"{exp_path}: lists both 'coders' (a coding experiment) and 'models' (a topic experiment); "
                          "one file runs one kind: split it into two experiment files")
    topics = _is_topic(experiment)
    raw: dict[str, Any] = {}
    defaults = Path(defaults_dir) if defaults_dir else find_defaults_dir((exp_path.parent if exp_path else Path.cwd()).resolve())
    if defaults is not None:
        base = _read_yaml(defaults / "defaults.yaml")
        raw = deep_merge(raw, {k: v for k, v in base.items() if k in SHARED_KEYS} if topics else base)
    if exp_path is not None:
        raw = deep_merge(raw, experiment)
        raw.setdefault("name", exp_path.stem)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    model: Any = ExperimentConfig
    if topics:
        from lived_themes.experiment.topic_config import TopicExperimentConfig

        model = TopicExperimentConfig
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, str(exp_path) if exp_path else "config") from None
    config._source = exp_path
    return config


def config_error(exc: ValidationError, where: str) -> ConfigError:
    """One line per problem, each naming the key path ("models.1.params: ..."), for any config model."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return ConfigError(f"{where}: {exc.error_count()} problem(s):\n" + "\n".join(lines))


def _is_topic(raw: dict[str, Any]) -> bool:
    return "models" in raw and "coders" not in raw


def is_topic_experiment(path: str | Path) -> bool:
    """Topic experiments list ``models`` (topic models); coding experiments list ``coders``."""
    return _is_topic(_read_yaml(Path(path)))


def resolved_params(config: Any) -> dict[str, Any]:
    """The config as JSON data with each component's params replaced by its full constructor params (``get_params()``)."""
    from lived_themes.registry import get_coder_class, get_topic_model_class

    data = config.model_dump(mode="json")
    for spec in data.get("coders", []):
        spec["params"] = get_coder_class(spec["name"])(**spec["params"]).get_params()
    for spec in data.get("models", []):
        spec["params"] = get_topic_model_class(spec["name"])(**spec["params"]).get_params()
    from lived_themes.jsonutil import jsonable

    return jsonable(data)


def dump_config(config: Any) -> str:
    """The resolved config as YAML: every default filled in, each component's params complete."""
    return yaml.safe_dump(resolved_params(config), sort_keys=False, allow_unicode=True)

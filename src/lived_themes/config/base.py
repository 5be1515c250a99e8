"""What every experiment config shares: strictness, the data, evaluation and output sections, param checks.

Components are named by registered, versioned strings (``tfidf-logreg.v1``), never by import path.
The two kinds of experiment are :mod:`lived_themes.config.coding` and :mod:`lived_themes.config.topics`;
:mod:`lived_themes.config.load` reads either from YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from lived_themes import registry

from lived_themes.errors import ConfigError

#: numpy seeds are 32-bit: a larger or negative seed fails deep inside a run, so the config refuses it.
MAX_SEED = 2**32 - 1
#: More bootstrap resamples than this would run for hours without changing a reported interval.
MAX_N_BOOT = 100_000
#: Deepest nesting a config may have once read (a real one nests about 5 levels).
MAX_CONFIG_DEPTH = 50


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
    #: as_coded; parent: each code counts as its parent (one level up); top: as the top of its tree (lived_themes.corpus.hierarchy)
    code_level: Literal["as_coded", "parent", "top"] = "as_coded"
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


def checked_params(params: dict[str, Any], info: ValidationInfo, *, kind: str) -> dict[str, Any]:
    """Params of a component config, checked by the registry's one function (skipped when the name was refused)."""
    name = info.data.get("name")
    if name is not None:
        registry.check_params(name, params, kind=kind)
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
    n_boot: int = Field(default=1000, ge=0, le=MAX_N_BOOT)  # 100,000 resamples already take minutes; more is a typo
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
    stability_seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(default_factory=list)
    stability_min_alpha: float = Field(default=0.8, ge=-1, le=1)


class OutputConfig(_Strict):
    dir: str = "runs"
    html: bool = True
    figures: bool = True
    evidence: bool = False


def config_error(exc: ValidationError, where: str) -> ConfigError:
    """One line per problem, each naming the key path ("models.1.params: ..."), for any config model."""
    lines = []
    for err in exc.errors():
        path = list(err["loc"])
        param = getattr((err.get("ctx") or {}).get("error"), "param", None)
        if param is not None and path and path[-1] == "params":
            path.append(param)  # the parameter itself: coders.1.params.C
        loc = ".".join(str(p) for p in path) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return ConfigError(f"{where}: {exc.error_count()} problem(s):\n" + "\n".join(lines))

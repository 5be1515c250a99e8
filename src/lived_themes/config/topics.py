"""Topic-experiment configuration: strict, pydantic-validated YAML, like the coding experiments'.

The ``data`` section is the coding experiments' own (:class:`lived_themes.config.base.DataConfig`), read by
the same loader, so a corpus folder, a wide file or a registered dataset works in both. A misspelt key, a
wrong type, an unregistered topic model or a parameter its constructor does not take is an error naming the
key path, before any model is fitted. The resolved config (every default filled in, each model's unique
``label``) is what the runner writes into the run folder.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lived_themes import registry
from lived_themes.config.base import MAX_SEED, DataConfig, EvaluationConfig, OutputConfig, _Experiment, _Strict, check_run_name, checked_params

#: Data keys that only coding experiments act on; a topic experiment refuses them rather than ignore them.
CODING_ONLY_DATA_KEYS = ("min_code_count", "exclude_codes", "max_quotes", "label_mode")


class TopicModelSpec(_Strict):
    """One registered topic model; ``params`` are its constructor arguments, checked by name and value."""

    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in registry.TOPIC_MODELS:
            raise ValueError(f"unknown topic model {value!r}; registered: {sorted(registry.TOPIC_MODELS)}")
        return value

    @field_validator("params")
    @classmethod
    def _known_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return checked_params(value, info, kind="topic model")


class AlignmentConfig(_Strict):
    multilabel: Literal["expand", "first"] = "expand"  # a quote with several codes counts once per code, or once
    drop_outliers: bool = False


class AsCoderConfig(_Strict):
    """Score each topic model as one more coder: topic -> code map learned on part, scored on the rest."""

    test_size: float = Field(default=0.3, gt=0, lt=1)


class TopicOutputsConfig(_Strict):
    html: bool = True
    html_self_contained: bool = False
    png: bool = True
    n_words: int = Field(default=10, ge=1)
    n_examples: int = Field(default=3, ge=0)


def _default_models() -> list[TopicModelSpec]:
    # the same topic count for every model, so their figures compare (docs/topics.md)
    return [TopicModelSpec(name=name, params={"n_topics": 10}) for name in ("bertopic.v4", "lda.v1", "nmf.v1")]


class TopicExperimentConfig(_Experiment):
    #: what the file describes: a topic experiment (``coding`` is :class:`lived_themes.config.coding.ExperimentConfig`)
    kind: Literal["topics"] = "topics"
    name: str = "topics"
    description: str = ""
    data: DataConfig  # the same data section, and the same loader, as coding experiments
    reference_coder: str | None = None  # a coder, "consensus:majority" / "consensus:union"; None = first human coder
    encoder: str = "default"
    embedding_cache: str | None = None
    seed: int = Field(default=0, ge=0, le=MAX_SEED)  # as coding experiments (configs/defaults.yaml)
    sample: int | None = Field(default=None, ge=1)  # a seeded sample of this many quotes, for quick runs
    groups: list[str] = Field(default_factory=list)
    min_report_group_size: int = Field(default=5, ge=1)  # privacy floor: smaller groups are shown as "suppressed (n < 5)"
    date_column: str | None = None
    date_dayfirst: bool = False  # True for dd/mm/yyyy dates such as the NHS file's
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    as_coder: AsCoderConfig | None = Field(default_factory=AsCoderConfig)  # null skips scoring as coders
    outputs: TopicOutputsConfig = Field(default_factory=TopicOutputsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)  # run folder root, report formats: shared with coding runs
    encoder_backend: Literal["torch", "onnx", "onnx-int8", "openvino"] = "torch"  # as coding experiments (lived_themes.coders.onnx_backend)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)  # scoring topic models as coders; groups default to `groups`
    models: list[TopicModelSpec] = Field(default_factory=_default_models, min_length=1)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_run_name(value)

    @field_validator("data", mode="before")
    @classmethod
    def _folder_shorthand(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("data")
    @classmethod
    def _no_coding_only_keys(cls, data: DataConfig) -> DataConfig:
        defaults = DataConfig.model_fields
        used = [k for k in CODING_ONLY_DATA_KEYS if getattr(data, k) != defaults[k].get_default(call_default_factory=True)]
        if used:
            raise ValueError(f"{used} apply to coding experiments only (a topic experiment keeps every code and quote; use 'sample' for a quick run)")
        return data

    @model_validator(mode="after")
    def _unique_labels(self) -> TopicExperimentConfig:
        """Each model's outputs go to a folder named by its label, so labels must differ."""
        given = [spec.label for spec in self.models if spec.label]
        if len(set(given)) != len(given):
            raise ValueError(f"model labels must differ; got {given}")
        taken: set[str] = set(given)
        for spec in self.models:
            if spec.label:
                continue
            base = spec.name.removesuffix(".v1")
            label, n = base, 2
            while label in taken:
                label, n = f"{base}-{n}", n + 1
            spec.label = label
            taken.add(label)
        return self

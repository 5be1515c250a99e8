"""A coding experiment's config: the reference coding, split schemes, coders, the final model.

Read by :func:`lived_themes.config.load.load_config` from a file with ``kind: coding``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lived_themes import registry
from lived_themes.config.base import MAX_SEED, DataConfig, EvaluationConfig, OutputConfig, _Experiment, _Strict, check_run_name, checked_params


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
        if value not in registry.CODERS:
            raise ValueError(f"unknown coder {value!r}; registered coders: {sorted(registry.CODERS)}")
        return value

    @field_validator("params")
    @classmethod
    def _known_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return checked_params(value, info, kind="coder")


class FinalModelConfig(_Strict):
    #: a listed coder, or "best": the coder with the highest out-of-fold macro-F1 under the first split scheme
    coder: str | None = None
    #: true: train the chosen coder again on all quotes (the default); false: save the very model the first split
    #: scheme (a holdout) evaluated, trained on its training side: no extra fit, and its held-out figures are its own
    refit: bool = True


class ExperimentConfig(_Experiment):
    #: what the file describes: a coding experiment (``topics`` is :class:`lived_themes.config.topics.TopicExperimentConfig`)
    kind: Literal["coding"] = "coding"
    name: str = "experiment"
    description: str = ""
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    data: DataConfig = Field(default_factory=DataConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    splits: list[SplitConfig] = Field(default_factory=lambda: [SplitConfig(kind="kfold", n_splits=5)])
    coders: list[CoderConfig] = Field(default_factory=lambda: [CoderConfig(name="majority.v1"), CoderConfig(name="tfidf-logreg.v2")])
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    final_model: FinalModelConfig = Field(default_factory=FinalModelConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    #: where sentence encoders run: PyTorch, or ONNX Runtime in float or int8 (lived_themes.coders.onnx_backend)
    encoder_backend: Literal["torch", "onnx", "onnx-int8", "openvino"] = "torch"

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_run_name(value)

    @model_validator(mode="after")
    def _final_model_is_a_coder(self) -> ExperimentConfig:
        names = [c.name for c in self.coders]
        if self.final_model.coder not in (None, "best") and self.final_model.coder not in names:
            raise ValueError(f"final_model.coder {self.final_model.coder!r} is not among the coders {names}")
        if not self.final_model.refit and self.final_model.coder is not None and (not self.splits or self.splits[0].kind != "holdout"):
            raise ValueError("final_model.refit: false saves the model the first split scheme evaluated, so that scheme must be "
                             f"a holdout (one fit per coder); the first is {self.splits[0].kind if self.splits else 'missing'}")
        if len(set(names)) != len(names):
            raise ValueError(f"each coder may be listed once; got {names}")
        return self

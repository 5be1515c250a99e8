"""Registered, versioned component names -> where their code lives.

Configs name components by these strings (``"tfidf-logreg.v1"``), never by import path. The table
holds module paths as strings so that nothing heavy is imported until a component is used.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from lived_themes.errors import ParamError

def constructor_params(cls: type) -> list[str]:
    """A component's parameter names: its constructor arguments (sklearn style), so configs can be checked."""
    return [k for k in inspect.signature(cls.__init__).parameters if k not in ("self", "args", "kwargs")]


def with_defaults(init: Callable[..., None], **defaults: Any) -> Callable[..., None]:
    """A parent's ``__init__`` with some defaults changed, so a v2 that only changes defaults is one line.

    ``class V2(V1): name = "x.v2"; __init__ = with_defaults(V1.__init__, solver="liblinear")``: the
    signature (what ``get_params``, config checks and saved models read) is the parent's with the new
    defaults; a name the parent does not take is an error here, not a silent extra.
    """
    signature = inspect.signature(init)
    unknown = sorted(set(defaults) - set(signature.parameters))
    if unknown:
        raise TypeError(f"{init.__qualname__} takes no parameter(s) {unknown}")
    changed = signature.replace(parameters=[p.replace(default=defaults[p.name]) if p.name in defaults else p
                                            for p in signature.parameters.values()])

    @functools.wraps(init)
    def __init__(*args: Any, **kwargs: Any) -> None:
        bound = changed.bind(*args, **kwargs)
        bound.apply_defaults()
        init(*bound.args, **bound.kwargs)

    __init__.__signature__ = changed  # type: ignore[attr-defined]
    return __init__


CODERS: dict[str, str] = {
    "majority.v1": "lived_themes.coders.baselines:MajorityCoder",
    "tfidf-logreg.v1": "lived_themes.coders.baselines:TfidfLogRegCoder",
    "tfidf-logreg.v2": "lived_themes.coders.baselines:TfidfLogRegV2Coder",
    "tfidf-svm.v1": "lived_themes.coders.svm:TfidfSvmCoder",
    "tfidf-gbm.v1": "lived_themes.coders.gbm:TfidfGbmCoder",
    "codebook-similarity.v1": "lived_themes.coders.zero_shot:CodebookSimilarityCoder",
    "transformer.v1": "lived_themes.coders.transformer:TransformerCoder",
    "setfit.v1": "lived_themes.coders.setfit_coder:SetFitCoder",
    "setfit.v2": "lived_themes.coders.setfit_coder:SetFitCoderV2",
    "knn.v1": "lived_themes.coders.knn:KnnCoder",
    "embedding-logreg.v1": "lived_themes.coders.embedding_logreg:EmbeddingLogRegCoder",
    "ensemble.v1": "lived_themes.coders.ensemble:EnsembleCoder",
    "calibrated.v1": "lived_themes.coders.calibrated:CalibratedCoder",
    "tuned.v1": "lived_themes.coders.tuned:TunedThresholdsCoder",
    "llm.v1": "lived_themes.coders.llm:LlmCoder",
    "topic-coder.v1": "lived_themes.topics.coder:TopicCoder",
}

TOPIC_MODELS: dict[str, str] = {
    "bertopic.v1": "lived_themes.topics.bertopic_model:BERTopicModel",
    "bertopic.v2": "lived_themes.topics.bertopic_v2:BERTopicV2Model",
    "bertopic.v3": "lived_themes.topics.bertopic_v3:BERTopicV3Model",
    "bertopic.v4": "lived_themes.topics.bertopic_v4:BERTopicV4Model",
    "bertopic-online.v1": "lived_themes.topics.online:OnlineBERTopicModel",
    "lda.v1": "lived_themes.topics.sklearn_models:LDATopicModel",
    "nmf.v1": "lived_themes.topics.sklearn_models:NMFTopicModel",
    # comparators from other packages (pip install 'lived-themes[topics-extra]'; docs/topics.md)
    "keynmf.v1": "lived_themes.topics.turftopic_models:KeyNMFTopicModel",
    "s3.v1": "lived_themes.topics.turftopic_models:S3TopicModel",
    "fastopic.v1": "lived_themes.topics.fastopic_model:FASTopicModel",
}


def _resolve(table: dict[str, str], name: str, kind: str) -> Any:
    if name not in table:
        raise KeyError(f"unknown {kind} {name!r}; registered: {sorted(table)}")
    module_name, attr = table[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{kind} {name!r} needs an optional dependency that is not installed ({exc.name}); "
            "install it with: pip install 'lived-themes[all]'"
        ) from exc
    return getattr(module, attr)


def get_coder_class(name: str) -> Any:
    return _resolve(CODERS, name, "coder")


def make_coder(name: str, **params: Any) -> Any:
    """Instantiate a registered coder with its parameters (config keys equal constructor arguments)."""
    return get_coder_class(name)(**params)


def get_topic_model_class(name: str) -> Any:
    return _resolve(TOPIC_MODELS, name, "topic model")


def check_params(name: str, params: dict[str, Any], *, kind: str = "coder") -> None:
    """The one check of a component's config params, for coders and topic models alike, run at config load.

    Raises ValueError ("tfidf-logreg.v1 takes no parameter 'Cee'") for a name the constructor does
    not take, or the constructor's own complaint about a value. Constructors only store and check
    their arguments, so building one here is cheap and loads no weights.
    """
    table = CODERS if kind == "coder" else TOPIC_MODELS
    cls = _resolve(table, name, kind)
    accepted = constructor_params(cls)
    unknown = [key for key in params if key not in accepted]
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise ValueError(f"{name} takes no parameter{'s' if len(unknown) > 1 else ''} {listed}")
    _check_values(name, cls, params)
    try:
        component = cls(**params)
        check = getattr(component, "_check_params", None)
        if callable(check):
            check()
    except (TypeError, ValueError) as exc:
        param = getattr(exc, "param", None)
        if param is None:  # "k must be at least 1": the complaint names the parameter first
            head = str(exc).split(" ", 1)[0].strip(":,'\"")
            param = head if head in params else None
        raise ParamError(f"{name}: {getattr(exc, 'reason', exc)}", param=param) from None


#: How deep a parameter value (lists of lists...) is searched for non-finite numbers.
_MAX_PARAM_DEPTH = 20


def _check_values(name: str, cls: type, params: dict[str, Any]) -> None:
    """Values checked before the constructor sees them: no NaN or infinity anywhere (``timeout: .inf``, ``C: .nan``),
    and each value of the type the constructor's annotation names (``C: big`` for a float is refused here, with its key,
    not by scikit-learn after the data are loaded)."""
    import math

    for key, value in params.items():
        stack = [(value, 0)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise ParamError(f"{name}: {key} must be a finite number, got {item}", param=key)
            if depth < _MAX_PARAM_DEPTH and isinstance(item, (list, tuple)):
                stack.extend((v, depth + 1) for v in item)
            elif depth < _MAX_PARAM_DEPTH and isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
    hints = _param_hints(cls)
    for key, value in params.items():
        hint = hints.get(key)
        if hint is None or value is None and _allows_none(hint):
            continue
        from pydantic import TypeAdapter, ValidationError

        from pydantic.errors import PydanticUserError

        try:
            adapter = TypeAdapter(hint)
        except (PydanticUserError, TypeError):  # an annotation pydantic cannot check (a lazily imported class): the constructor checks it
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            expected = exc.errors()[0]["msg"][0].lower() + exc.errors()[0]["msg"][1:]
            got = f"text {value!r}" if isinstance(value, str) and len(value) <= 40 else type(value).__name__
            raise ParamError(f"{name}: {key}: {expected}, got {got}", param=key) from None


def _param_hints(cls: type) -> dict[str, Any]:
    """Each constructor parameter's annotation, evaluated one by one; those that cannot be evaluated are left out."""
    import sys

    hints: dict[str, Any] = {}
    module = vars(sys.modules.get(cls.__module__, object())) if cls.__module__ in sys.modules else {}
    for key, parameter in inspect.signature(cls.__init__).parameters.items():
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(module))  # the package's own annotations, never user input
            except (NameError, AttributeError, SyntaxError, TypeError):  # a name imported only for type checking
                continue
        hints[key] = annotation
    return hints


def _allows_none(hint: Any) -> bool:
    import types
    import typing

    return hint is None or (typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint))

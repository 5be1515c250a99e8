"""Registered, versioned component names -> where their code lives.

Configs name components by these strings (``"tfidf-logreg.v1"``), never by import path. The table
holds module paths as strings so that nothing heavy is imported until a component is used.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

def constructor_params(cls: type) -> list[str]:
    """A component's parameter names: its constructor arguments (sklearn style), so configs can be checked."""
    return [k for k in inspect.signature(cls.__init__).parameters if k not in ("self", "args", "kwargs")]


CODERS: dict[str, str] = {
    "majority.v1": "lived_themes.coders.baselines:MajorityCoder",
    "tfidf-logreg.v1": "lived_themes.coders.baselines:TfidfLogRegCoder",
    "codebook-similarity.v1": "lived_themes.coders.zero_shot:CodebookSimilarityCoder",
    "transformer.v1": "lived_themes.coders.transformer:TransformerCoder",
    "setfit.v1": "lived_themes.coders.setfit_coder:SetFitCoder",
    "topic-coder.v1": "lived_themes.topics.coder:TopicCoder",
}

TOPIC_MODELS: dict[str, str] = {
    "bertopic.v1": "lived_themes.topics.bertopic_model:BERTopicModel",
    "bertopic.v2": "lived_themes.topics.bertopic_v2:BERTopicV2Model",
    "lda.v1": "lived_themes.topics.sklearn_models:LDATopicModel",
    "nmf.v1": "lived_themes.topics.sklearn_models:NMFTopicModel",
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

"""The one config loader: YAML validated on load, defaults + differences, --set overrides, either kind.

The resolved config, with every default filled in, is written into each run folder.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lived_themes import registry
from lived_themes.config.base import MAX_CONFIG_DEPTH, config_error
from lived_themes.config.coding import ExperimentConfig
from lived_themes.config.topics import TopicExperimentConfig
from lived_themes.errors import ConfigError
from lived_themes.files import load_yaml
from lived_themes.jsonutil import jsonable
from lived_themes.paths import input_file, present


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; lists and scalars in ``override`` replace those in ``base``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    if present(path):
        input_file(path, what="a YAML file")  # a FIFO or a device is refused before it is read
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
SHARED_KEYS = ("seed", "data", "evaluation", "output", "encoder_backend")


def load_config(
    path: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    defaults_dir: str | Path | None = None,
) -> Any:
    """The one config loader: model defaults <- configs/defaults.yaml <- experiment file <- --set overrides, validated.

    Returns an :class:`ExperimentConfig` (``kind: coding``) or a ``TopicExperimentConfig`` (``kind: topics``);
    topic experiments take only the shared keys (``SHARED_KEYS``) from the defaults.
    The config remembers its file (``.source``), so relative paths resolve beside it.
    """
    exp_path = Path(path) if path is not None else None
    experiment = read_yaml(exp_path) if exp_path is not None else {}
    if "models" in experiment and "coders" in experiment:
        raise ConfigError(f"{exp_path}: lists both 'coders' (a coding experiment) and 'models' (a topic experiment); "
                          "one file runs one kind: split it into two experiment files")
    topics = experiment_kind(experiment, str(exp_path) if exp_path else "config") == "topics"
    raw: dict[str, Any] = {}
    defaults = Path(defaults_dir) if defaults_dir else find_defaults_dir((exp_path.parent if exp_path else Path.cwd()).resolve())
    if defaults is not None:
        base = read_yaml(defaults / "defaults.yaml")
        raw = deep_merge(raw, {k: v for k, v in base.items() if k in SHARED_KEYS} if topics else base)
    if exp_path is not None:
        raw = deep_merge(raw, experiment)
        raw.setdefault("name", exp_path.stem)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    _check_plain_values(raw, str(exp_path) if exp_path else "config")
    model: Any = ExperimentConfig
    if topics:
        model = TopicExperimentConfig
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, str(exp_path) if exp_path else "config") from None
    config._source = exp_path
    return config


def _check_plain_values(raw: dict[str, Any], where: str) -> None:
    """Refuse, with the key path, what would otherwise fail far from the config: a NUL character in any text
    (it cannot be part of a path or folder name) and nesting deeper than ``MAX_CONFIG_DEPTH``. Iterative, so
    a hostile document cannot exhaust the stack here."""
    stack: list[tuple[Any, list[str]]] = [(raw, [])]
    while stack:
        node, path = stack.pop()
        key = ".".join(path) or "(top level)"
        if len(path) > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{where}: 1 problem(s):\n  {'.'.join(path[:3])}: nested more than {MAX_CONFIG_DEPTH} levels deep")
        if isinstance(node, str) and "\x00" in node:
            raise ConfigError(f"{where}: 1 problem(s):\n  {key}: contains a NUL character (\\0), which no name or path may hold")
        if isinstance(node, dict):
            stack.extend((v, [*path, str(k)]) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, [*path, str(i)]) for i, v in enumerate(node))


#: ``kind:`` -> the config model it is validated as.
KINDS: dict[str, type] = {"coding": ExperimentConfig, "topics": TopicExperimentConfig}


def experiment_kind(raw: dict[str, Any], where: str) -> str:
    """The file's ``kind:`` key. Files written before the key existed are still read, by the old guess (topic
    models listed and no coders means topics), with a warning: the guess is deprecated and will go."""
    kind = raw.get("kind")
    if kind is None:
        kind = "topics" if "models" in raw and "coders" not in raw else "coding"
        if raw:
            warnings.warn(f"{where}: no 'kind:' key, read as 'kind: {kind}' from its keys; add 'kind: {kind}' "
                          "(guessing the kind is deprecated)", FutureWarning, stacklevel=3)
        return kind
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind: {kind!r} is not one of {sorted(KINDS)}")
    return kind


def is_topic_experiment(path: str | Path) -> bool:
    """Whether the experiment file is a topic experiment (``kind: topics``)."""
    return experiment_kind(read_yaml(Path(path)), str(path)) == "topics"


def resolved_params(config: Any) -> dict[str, Any]:
    """The config as JSON data with each component's params replaced by its full constructor params (``get_params()``).

    A coder whose params do not set ``label_mode`` records the run's (``data.label_mode``): the mode it is fitted in.
    """
    data = config.model_dump(mode="json")
    run_mode = (data.get("data") or {}).get("label_mode")
    for spec in data.get("coders", []):
        params = {"label_mode": run_mode, **spec["params"]} if run_mode is not None else spec["params"]
        spec["params"] = registry.get_coder_class(spec["name"])(**params).get_params()
    for spec in data.get("models", []):
        spec["params"] = registry.get_topic_model_class(spec["name"])(**spec["params"]).get_params()
    return jsonable(data)


def dump_config(config: Any) -> str:
    """The resolved config as YAML: every default filled in, each component's params complete."""
    return yaml.safe_dump(resolved_params(config), sort_keys=False, allow_unicode=True)

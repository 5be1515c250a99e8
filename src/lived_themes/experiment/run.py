"""``run(config)``: the one entry point for an experiment, coding or topics, as the CLI calls it.

:func:`lived_themes.config.load.load_config` reads either kind of experiment file; ``run``
dispatches on the config's type. Both kinds write their run folder with the same writer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lived_themes.config.coding import ExperimentConfig
from lived_themes.config.topics import TopicExperimentConfig
from lived_themes.experiment.coding import run_experiment
from lived_themes.experiment.topics.pipeline import run_topics


def run(config: Any, *, out_dir: str | Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Run a coding experiment (``ExperimentConfig``) or a topic experiment (``TopicExperimentConfig``); return its run folder."""
    if isinstance(config, ExperimentConfig):
        return run_experiment(config, out_dir=out_dir, progress=progress)

    if isinstance(config, TopicExperimentConfig):
        return run_topics(config, out_dir=out_dir)
    raise TypeError(f"run() takes an experiment config from load_config, not {type(config).__name__}")

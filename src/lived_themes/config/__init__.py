"""Typed experiment configs and their one loader: shared by the run pipeline and the commands.

``base`` holds the sections every experiment has, ``coding`` and ``topics`` the two kinds, ``load``
reads layered YAML into one of them. Configs validate; they run nothing.
"""

from lived_themes.config.coding import ExperimentConfig
from lived_themes.config.load import load_config
from lived_themes.config.topics import TopicExperimentConfig

__all__ = ["ExperimentConfig", "TopicExperimentConfig", "load_config"]

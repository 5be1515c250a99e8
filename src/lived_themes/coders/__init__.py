"""Coders: one module per family, all behind the protocol in :mod:`lived_themes.coders.base`."""

from lived_themes.coders.base import Coder, load_coder, tune_thresholds

__all__ = ["Coder", "load_coder", "tune_thresholds"]

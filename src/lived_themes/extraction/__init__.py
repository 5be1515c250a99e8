"""Internals of quote extraction; the public functions live in :mod:`lived_themes.extract`."""

"""Experiments: the only stage that reads config objects and writes run folders.

config (typed, layered YAML) -> data (corpus from a config) -> coding / topics (split, fit, predict)
-> scoring (metrics by group) -> run folder (config.yaml, run.json, predictions, metrics, report).
Library stages (corpus, coders, topics, evaluation, report) take plain arguments.
"""

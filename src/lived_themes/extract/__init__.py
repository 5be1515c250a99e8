"""Extraction of verbatim quotes from consultation reports (Markdown), with their speaker notation."""

from lived_themes.extract.quotes import COLUMNS, extract_quotes, read_report, write_quotes_jsonl

__all__ = ["COLUMNS", "extract_quotes", "read_report", "write_quotes_jsonl"]

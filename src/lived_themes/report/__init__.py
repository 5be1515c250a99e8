"""Reports: blocks of tables and figures rendered as Markdown and HTML, from metrics that are already computed."""

from lived_themes.report.build import build_blocks, headline, headline_table, write_report

__all__ = ["build_blocks", "headline", "headline_table", "write_report"]

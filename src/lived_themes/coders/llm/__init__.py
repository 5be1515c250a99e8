"""``llm.v1``: a large language model codes quotes from the codebook and retrieved examples, on this machine by default."""

from lived_themes.coders.llm.coder import LlmCoder

__all__ = ["LlmCoder"]

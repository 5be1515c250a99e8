"""Topic models aligned to the codebook: BERTopic, LDA and NMF behind one interface, alignment with human
codes, topic quality, topics per group and over time, and run-folder outputs.

Kept light: only the plain-function modules load here; the models (BERTopic, spaCy, gensim)
load when used. Entry point for experiments: :func:`lived_themes.topics.runner.run_topics`.
"""

from lived_themes.topics.alignment import alignment_scores, contingency_table, topic_code_rates
from lived_themes.topics.base import TopicModel, load_topic_model, make_topic_model
from lived_themes.topics.groups import topic_share_by_group, topics_over_time

__all__ = [
    "TopicModel",
    "alignment_scores",
    "contingency_table",
    "load_topic_model",
    "make_topic_model",
    "run_topics",
    "topic_code_rates",
    "topic_share_by_group",
    "topics_over_time",
]


def run_topics(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a topic experiment; see :func:`lived_themes.topics.runner.run_topics`."""
    from lived_themes.topics.runner import run_topics as _run

    return _run(*args, **kwargs)

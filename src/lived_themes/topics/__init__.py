"""Topic models aligned to the codebook: BERTopic, LDA and NMF behind one interface, alignment with human
codes, topic quality, and topics per group and over time.

Kept light: only the plain-function modules load here; the models (BERTopic, spaCy, gensim)
load when used. Topic experiments (config in, run folder out) live in :mod:`lived_themes.experiment.topics.pipeline`.
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
    "topic_code_rates",
    "topic_share_by_group",
    "topics_over_time",
]


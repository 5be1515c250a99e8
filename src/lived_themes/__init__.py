"""lived-themes: learn qualitative codes from annotated quotes and report how far a model can be trusted, and for whom.

The top level stays light: heavy libraries (torch, transformers, spaCy, BERTopic) load only
when the component that needs them is used.
"""

__version__ = "0.1.0"

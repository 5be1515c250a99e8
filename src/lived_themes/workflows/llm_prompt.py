"""``lived-themes llm-prompt``: exactly what an LLM coder would send for one quote, sending nothing.

The coder is set up as in a run (the experiment's data, reference coder and codes), with every other
reference-coded quote as its retrieval pool, and returns the messages for the one quote after redaction.
It prints quote text on purpose, to the user who asked; nothing is logged.
"""

from __future__ import annotations

from typing import Any

from lived_themes.errors import InputError
from lived_themes.config.coding import ExperimentConfig
from lived_themes.experiment.coding import resolve_reference, select_codes
from lived_themes.experiment.data import load_from_config
from lived_themes.registry import make_coder


def llm_prompt(config: ExperimentConfig, quote_id: str, *, coder: str | None = None) -> dict[str, Any]:
    """``{"coder", "quote_id", "destination", "messages"}`` for ``quote_id``; no request is made."""
    import numpy as np

    if not isinstance(config, ExperimentConfig):
        raise ValueError("llm-prompt needs a coding experiment (one with coders), not a topic experiment")
    candidates = [c for c in config.coders if callable(getattr(make_coder(c.name, **c.params), "prompts", None))]
    chosen = [c for c in candidates if coder is None or c.name == coder]
    if not chosen:
        raise ValueError(f"no LLM coder {'named ' + repr(coder) + ' ' if coder else ''}in the experiment; its coders: "
                         f"{[c.name for c in config.coders]}")
    coder_cfg = chosen[0]
    corpus = load_from_config(config.data, base_dir=config.base_dir)
    reference = config.reference.coder
    corpus = resolve_reference(corpus, reference)
    codes, _ = select_codes(corpus, reference, min_count=config.data.min_code_count, exclude=config.data.exclude_codes)
    ids = [str(q) for q in corpus.quote_ids]
    if quote_id not in ids:
        raise InputError(f"no quote with id {quote_id!r} in the experiment's data", field="quote_id")
    target = ids.index(quote_id)
    seen = corpus.seen_by(reference)
    pool = [i for i in np.flatnonzero(seen) if i != target]
    labels = corpus.label_matrix(reference, codes)
    model = make_coder(coder_cfg.name, **{**coder_cfg.params, "tune": False})  # tuning would send the pool
    model.fit([corpus.texts[i] for i in pool], labels[pool], codes, codebook=corpus.codebook)
    return {"coder": coder_cfg.name, "quote_id": quote_id, "destination": model.destination(),
            "messages": model.prompts([corpus.texts[target]])[0]}

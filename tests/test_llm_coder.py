"""llm.v1 without any real model: a fake local endpoint for the HTTP path, a tiny random causal LM for transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lived_themes.codebook import Code, Codebook
from lived_themes.coders.base import load_coder
from lived_themes.coders.llm.backends import RemoteRefused, check_endpoint, is_local_url
from lived_themes.coders.llm.prompt import parse_answer
from lived_themes.registry import make_coder


def _load_fake():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_llm", Path(__file__).with_name("fake_llm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_server = _load_fake().fake_server
CODES = ["meds", "heard", "peer"]
BOOK = Codebook(name="tiny", version="1", codes=[
    Code(id="meds", label="Medication", definition="pills and doses", include=["side effects"], exclude=["therapy"],
         examples=["they just upped my dose"]),
    Code(id="heard", label="Being heard", definition="listened to or ignored"),
    Code(id="peer", label="Peer support", definition="people with the same story"),
])
POOL = ["too many pills", "nobody listened to me", "the peer group saved me", "tablets were all they offered",
        "they ignored what I told them", "my community group supported me"]
LABELS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)


def _coder(url: str, **params):
    return make_coder("llm.v1", base_url=url, encoder="hashing", k=2, timeout=1.0, max_retries=1, **params).fit(
        POOL, LABELS, CODES, codebook=BOOK)


def test_fake_server_codes_quotes_and_counts_every_failure(tmp_path: Path) -> None:
    quotes = ["the medication made me numb", "nobody listened and my dose went up", "INVENT the peer group",
              "BADSPAN too many pills", "MALFORMED answer please", "FAIL500 here", "SLOW reply", "nothing relevant"]
    with fake_server() as (url, requests):
        coder = _coder(url)
        scores = coder.predict_proba(quotes)
    assert scores.shape == (len(quotes), 3)  # every input has an output row
    assert scores[0].tolist() == [1, 0, 0] and scores[1].tolist() == [1, 1, 0]
    assert scores[2].tolist() == [0, 0, 1]  # the invented code is dropped, the real one kept
    assert scores[3].tolist() == [1, 0, 0]  # the non-verbatim 'peer' span is rejected with its code
    assert scores[4:7].sum() == 0 and scores[7].sum() == 0
    notes = coder.last_notes_
    counts = notes["counts"]
    assert counts["invented_codes"] == 1 and counts["rejected_spans"] == 1 and counts["malformed"] == 1
    assert counts["failed_items"] == 3 and counts["items"] == 8
    errors = notes["errors"]
    assert errors[:4] == [None] * 4 and errors[7] is None
    assert errors[4].startswith("the answer was not the JSON") and errors[5].startswith("HTTP 500") and errors[6].startswith("timed out")
    assert notes["evidence"][0] == {"meds": {"start": 4, "end": 14}}  # "medication" in the quote
    assert quotes[0][4:14] == "medication"
    # 500 and time-out were retried once (max_retries=1); a client error is not
    assert counts["requests"] == 6 + 2 + 2
    sent = requests[0]["messages"][-1]["content"]
    assert "id: meds" in sent and "exclude: therapy" in sent and "they just upped my dose" in sent and "Similar quotes" in sent


def test_cache_makes_a_rerun_send_nothing(tmp_path: Path) -> None:
    with fake_server() as (url, requests):
        coder = _coder(url, cache_dir=str(tmp_path / "cache"))
        first = coder.predict_proba(["too many pills again", "FAIL500 not cached"])
        n = len(requests)
        again = _coder(url, cache_dir=str(tmp_path / "cache")).predict_proba(["too many pills again"])
        assert len(requests) == n  # answered from the disk cache
    np.testing.assert_array_equal(first[:1], again)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1  # the failed request was not cached


def test_remote_endpoint_is_refused_before_anything_is_sent() -> None:
    assert is_local_url("http://127.0.0.1:8080/v1") and is_local_url("http://localhost:11434/v1") and is_local_url("http://[::1]:8000/v1")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url("http://10.0.0.5:8080/v1")
    with pytest.raises(RemoteRefused, match="allow_remote"):
        make_coder("llm.v1", base_url="https://api.example.com/v1")._check_params()
    with pytest.raises(ValueError, match="llm.v1: .*allow_remote"):
        from lived_themes.registry import check_params

        check_params("llm.v1", {"base_url": "https://api.example.com/v1"})
    check_endpoint("https://api.example.com/v1", allow_remote=True)  # an explicit opt-in is accepted
    with pytest.raises(ValueError, match="http"):
        check_endpoint("file:///etc/passwd", allow_remote=True)


def test_parse_answer_rules() -> None:
    quote = "I was given pills and nobody listened"
    answer = parse_answer('{"codes": [{"code": "meds", "span": "pills"}, {"code": "heard", "span": "\\"nobody listened\\""}]}', quote, CODES)
    assert answer.codes == {"meds": (12, 17), "heard": (22, 37)}
    lax = parse_answer('{"codes": [{"code": "meds", "span": "tablets"}]}', quote, CODES, require_span=False)
    assert lax.codes == {"meds": None} and lax.rejected_spans == 1
    assert parse_answer('{"codes": "meds"}', quote, CODES).malformed
    assert parse_answer("no json at all", quote, CODES).malformed
    assert parse_answer('{"codes": []}', quote, CODES).codes == {}


def test_redaction_and_prompts_show_exactly_what_is_sent() -> None:
    from lived_themes.coders.llm.redact import redact

    text = "Dr Patel said to email jo.smith@nhs.net or ring 07700 900123; I waited 12 weeks in 2019."
    assert redact(text) == "Dr [NAME] said to email [EMAIL] or ring [PHONE]; I waited 12 weeks in 2019."
    coder = make_coder("llm.v1", encoder="hashing", k=1, redact=True).fit(POOL, LABELS, CODES, codebook=BOOK)
    [messages] = coder.prompts([text])
    assert "jo.smith" not in json.dumps(messages) and "[EMAIL]" in messages[-1]["content"]


def test_save_and_load_keep_pool_codebook_and_params(tmp_path: Path) -> None:
    with fake_server() as (url, _):
        coder = _coder(url)
        scores = coder.predict_proba(["too many pills", "peer support"])
        loaded = load_coder(coder.save(tmp_path / "model"))
        np.testing.assert_array_equal(loaded.predict_proba(["too many pills", "peer support"]), scores)
    assert loaded.get_params() == coder.get_params() and loaded.codebook_ == BOOK


def test_sampling_scores_and_tuned_thresholds() -> None:
    with fake_server() as (url, requests):
        coder = _coder(url, n_samples=3, temperature=0.7)
        assert coder.tuning_ is not None and coder.thresholds_.shape == (3,)
        scores = coder.predict_proba(["too many pills"])
    assert scores.tolist() == [[1.0, 0.0, 0.0]]  # three samples agree
    assert {r["seed"] for r in requests} == {0, 1, 2}


def test_tiny_random_causal_lm_runs_the_transformers_path(tmp_path: Path) -> None:
    """A randomly initialised GPT-2 and a tokenizer built here (no download): answers are nonsense, every row still scored."""
    pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator([*POOL, '{"codes": [{"code": "meds", "span": "pills"}]}'], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    folder = tmp_path / "tiny-lm"
    tokenizer.save_pretrained(folder)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=2048, n_embd=16, n_layer=1, n_head=2)).save_pretrained(folder)
    coder = make_coder("llm.v1", backend="transformers", model=str(folder), encoder="hashing", k=1, max_new_tokens=4,
                       batch_size=2, device="cpu").fit(POOL, LABELS, CODES, codebook=BOOK)
    scores = coder.predict_proba(["too many pills", "nobody listened", "peer group"])
    assert scores.shape == (3, 3)
    counts = coder.last_notes_["counts"]
    assert counts["requests"] == 3 and counts["items"] == 3
    assert counts["failed_items"] == sum(e is not None for e in coder.last_notes_["errors"])
    assert coder.destination() == {"backend": "transformers", "model": str(folder), "local": True, "allow_remote": False,
                                   "redacted": False, "cache_dir": None}

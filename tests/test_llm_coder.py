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
        folder = coder.save(tmp_path / "model")
        saved = json.loads((folder / "coder.json").read_text(encoding="utf-8"))["params"]
        assert not {"base_url", "allow_remote", "api_key_env", "cache_dir"} & set(saved)  # where text goes is never saved
        loaded = load_coder(folder, settings={"base_url": url})  # the user's run-time setting
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


# ----- through `lived-themes run`: one more coder beside tfidf-logreg and the human ceiling ----------------
def _two_coder_corpus(tmp_path: Path) -> Path:
    """Quotes with a known theme, coded by A, and by B with about 10% of decisions flipped; a few carry failure markers."""
    import pandas as pd

    from lived_themes.corpus import Corpus, save_corpus

    phrases = {"meds": ["too many pills", "the medication made me numb", "they just upped my dose", "tablets were all they offered"],
               "heard": ["nobody listened to me", "the doctor did not hear what I said", "I wanted to be heard", "they ignored what I told them"],
               "peer": ["the peer group saved me", "people with the same story helped", "my community group supported me", "peer support made a difference"]}
    markers = {("meds", 1): " INVENT", ("heard", 2): " BADSPAN", ("peer", 3): " FAIL500", ("meds", 5): " MALFORMED"}
    rng = np.random.default_rng(0)
    quotes, annotations = [], []
    for theme, texts in phrases.items():
        for i in range(8):
            qid = f"{theme}-{i}"
            quotes.append({"quote_id": qid, "text": f"{texts[i % 4]} ({i}){markers.get((theme, i), '')}",
                           "site": "north" if i % 2 else "south", "participant": f"p{i % 5}"})
            annotations.append({"quote_id": qid, "coder": "A", "code": theme})
            other = theme if rng.random() > 0.1 else rng.choice([t for t in phrases if t != theme])
            annotations.append({"quote_id": qid, "coder": "B", "code": other})
    save_corpus(Corpus(quotes=pd.DataFrame(quotes), annotations=pd.DataFrame(annotations)), tmp_path / "corpus")
    return tmp_path / "corpus"


def _experiment(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    exp = tmp_path / "llm.yaml"
    exp.write_text(
        "name: llm-fake-server\n"
        f"data: {{path: {_two_coder_corpus(tmp_path)}}}\n"
        "reference: {coder: 'consensus:majority'}\n"
        "splits: [{kind: group_kfold, group: participant, n_splits: 3}]\n"
        "coders:\n  - {name: tfidf-logreg.v1}\n"
        f"  - {{name: llm.v1, params: {{base_url: '{base_url}', encoder: hashing, k: 3, timeout: 2.0, max_retries: 1{extra}}}}}\n"
        "evaluation: {groups: [site], cluster: participant, n_boot: 20, min_group_size: 5}\n"
        "output: {figures: false}\n",
        encoding="utf-8")
    return exp


def test_llm_coder_runs_end_to_end_beside_tfidf_and_the_human_ceiling(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lived_themes.cli import app

    with fake_server() as (url, requests):
        result = CliRunner().invoke(app, ["run", str(_experiment(tmp_path, url)), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    llm = next(r for r in metrics["results"] if r["coder"] == "llm.v1")
    assert llm["summary"]["macro_f1"] > 0.7  # the fake server codes by keyword, so it should be close to the humans
    assert {r["coder"] for r in metrics["results"]} == {"tfidf-logreg.v1", "llm.v1"}
    assert metrics["human_agreement"]["pairwise"]  # the human ceiling is there to compare against
    [checks] = metrics["answer_checks"]
    assert checks["items"] == 24 and checks["invented_codes"] == 1 and checks["rejected_spans"] == 1
    assert checks["malformed"] == 1 and checks["failed_items"] == 2
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(predictions) == 24  # every input row has an output row
    entries = {p["quote_id"]: p["models"]["group_kfold-3-by-participant"]["llm.v1"] for p in predictions}
    assert entries["peer-3"]["error"].startswith("HTTP 500") and entries["peer-3"]["codes"] == []
    assert entries["meds-5"]["error"].startswith("the answer was not") and "error" not in entries["meds-0"]
    run_info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run_info["text_sent_to"] == [{"coder": "llm.v1", "backend": "http", "endpoint": f"{url}/chat/completions", "model": None,
                                         "local": True, "allow_remote": False, "redacted": False, "cache_dir": None,
                                         "network": {"proxy_variables": "ignored", "redirects": "refused",
                                                     "address_checked": "each connection's peer address",
                                                     "allowed_addresses": "loopback only"},
                                         "connected_to": ["127.0.0.1"]}]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## LLM answer checks" in report and "llm.v1" in report and "tfidf-logreg.v1" in report
    for text in ("too many pills", "nobody listened"):  # counts and offsets only: no quote text in the report
        assert text not in report


def test_a_remote_endpoint_stops_the_run_before_any_text_is_read_or_sent(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lived_themes.cli import app

    result = CliRunner().invoke(app, ["run", str(_experiment(tmp_path, "https://llm.example.org/v1")), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "not on this machine" in result.output and "allow_remote" in result.output
    assert not (tmp_path / "run").exists()  # stopped at config load: no run folder, no data read, nothing sent


def test_llm_prompt_dry_run_shows_the_messages_for_one_quote(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lived_themes.cli import app

    with fake_server() as (url, requests):
        exp = _experiment(tmp_path, url, extra=", redact: true")
        result = CliRunner().invoke(app, ["llm-prompt", str(exp), "--quote-id", "meds-0"])
        assert requests == []  # a dry run sends nothing
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["coder"] == "llm.v1" and shown["destination"]["redacted"] is True
    user = shown["messages"][-1]["content"]
    assert user.endswith(json.dumps("too many pills (0)")) and "Similar quotes" in user
    assert "too many pills (0)\"" not in user.split("Code this quote:")[0]  # the quote is not its own example
    bad = CliRunner().invoke(app, ["llm-prompt", str(exp), "--quote-id", "nope"])
    assert bad.exit_code != 0 and "no quote with id" in bad.output


def test_predict_gives_a_failed_row_an_error_not_a_gap(tmp_path: Path) -> None:
    import pandas as pd

    from lived_themes.predict.local import predict_file

    source = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": ["a", "b", "c"], "text": ["too many pills", "FAIL500 please", ""]}).to_csv(source, index=False)
    with fake_server() as (url, _):
        folder = _coder(url).save(tmp_path / "model")
        assert predict_file(folder, source, tmp_path / "out.jsonl", settings={"base_url": url}) == 3
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["codes"] == ["meds"] and "error" not in rows[0]
    assert rows[1]["codes"] == [] and rows[1]["error"].startswith("HTTP 500")
    assert rows[2]["error"] == "empty text"

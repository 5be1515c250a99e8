"""Second probe round (../shared/reliability/probe-failures-2.md), the LLM coder's network rule and the trust of
saved model folders: L06, L08, L08d, U19, L10, L11, L13c, L13d, P25, P25b, P25c, P01c, P06, P07, P07b, P18, PV01.

Every LLM test runs under :func:`net_guard`, which fails any lookup or connection to anything but loopback (and
records it), so "nothing was sent elsewhere" is checked, not assumed. The fake servers here answer on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lived_themes.coders.base import load_coder
from lived_themes.errors import ModelFileError

from .conftest import CODES, LABELS, SECRET, TEXTS, assert_located, invoke

ELSEWHERE = "203.0.113.7"  # TEST-NET-3: never reached, the guard stops it first


# ----- the network guard ----------------------------------------------------------------------------------------
def _loopback(host: object) -> bool:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture()
def net_guard(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every lookup or connect to anything but loopback fails, and is recorded as (how, host)."""
    attempts: list[tuple[str, str]] = []
    real_connect, real_create, real_lookup = socket.socket.connect, socket.create_connection, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _loopback(address[0]):
            attempts.append(("connect", str(address[0])))
            raise OSError("net_guard: connection to a non-loopback address blocked")
        return real_connect(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(address[0]):
            attempts.append(("create_connection", str(address[0])))
            raise OSError("net_guard: connection to a non-loopback address blocked")
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            attempts.append(("getaddrinfo", str(host)))
            raise socket.gaierror("net_guard: lookup of a non-loopback name blocked")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


# ----- a fake OpenAI-compatible server with hostile replies, chosen by a marker word in the quote ------------------
def _reply(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


def _answer(quote: str) -> str:
    codes = [{"code": c, "span": c} for c in CODES if c in quote.lower()]
    return json.dumps({"codes": codes})


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 (a client that turns a redirected POST into a GET)
        self.server.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})  # type: ignore[attr-defined]
        self._send(200, _reply('{"codes": []}'))

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8"))
        self.server.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})  # type: ignore[attr-defined]
        if self.path.startswith("/ok"):
            self._send(200, _reply('{"codes": []}'))
            return
        quote = json.loads(body["messages"][-1]["content"].rsplit("Code this quote:\n", 1)[1])
        port = self.server.server_address[1]
        try:
            if "DRIP" in quote:  # L06: a valid reply, one byte at a time
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                for byte in b"X-Pad: " + b"a" * 400 + b"\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.02)
            elif "AWAY" in quote:  # L08: a redirect to another machine, the quote in its query
                self._send(302, b"", {"Location": f"http://{ELSEWHERE}:8080/v1/chat/completions?q=ZQXMARKER"})
            elif "LOCALHOP" in quote:  # L08d: a redirect to another path of this server
                self._send(302, b"", {"Location": f"http://127.0.0.1:{port}/ok/v1/chat/completions"})
            elif "DEEPANSWER" in quote:  # L10: the answer nests 100,000 lists
                self._send(200, _reply('{"codes": ' + "[" * 100_000 + "]" * 100_000 + "}"))
            elif "DEEPBODY" in quote:  # L11: the HTTP body itself nests 200,000 lists
                self._send(200, b"[" * 200_000 + b"]" * 200_000)
            else:
                self._send(200, _reply(_answer(quote)))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass


@contextmanager
def hostile_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _llm(url: str, **params: Any) -> Any:
    from lived_themes.registry import make_coder

    options = {"encoder": "hashing", "k": 2, "timeout": 2.0, "max_retries": 0, **params}
    return make_coder("llm.v1", base_url=url, **options).fit(TEXTS, LABELS, CODES)


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _csv(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": [f"n{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    return path


# ----- U19 (the required test): proxies in the environment are ignored; a redirect elsewhere is not followed ------
def _llm_experiment(tmp_path: Path, url: str, extra: str = "") -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = [*TEXTS[:-1], "Waited hours in the corridor AWAY"]  # one quote the server answers with a redirect elsewhere
    pd.DataFrame({"quote_id": [str(i) for i in range(1, 11)], "text": texts}).to_csv(corpus / "quotes.csv", index=False)
    rows = [(str(i + 1), "report", CODES[j]) for i in range(10) for j in range(3) if LABELS[i, j]]
    pd.DataFrame(rows, columns=["quote_id", "coder", "code"]).to_csv(corpus / "annotations.csv", index=False)
    (corpus / "codebook.yaml").write_text("name: tiny\nversion: '1'\ncodes:\n" + "".join(f"  - id: {c}\n    label: {c.title()}\n" for c in CODES),
                                          encoding="utf-8")
    path = tmp_path / "llm.yaml"
    path.write_text(f"name: probe2\nseed: 0\ndata: {{path: {corpus}}}\nreference: {{coder: report}}\n"
                    "splits: [{kind: kfold, n_splits: 2}]\n"
                    f"coders:\n  - {{name: llm.v1, params: {{base_url: '{url}', encoder: hashing, k: 2, timeout: 2.0, max_retries: 1{extra}}}}}\n"
                    "evaluation: {n_boot: 0}\noutput: {figures: false, html: false}\n", encoding="utf-8")
    return path


def test_u19_l08_proxy_variables_are_ignored_and_a_redirect_elsewhere_is_an_error(
        tmp_path: Path, net_guard: list, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://{ELSEWHERE}:3128")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with hostile_server() as (url, seen):
        result = invoke("run", _llm_experiment(tmp_path, url), "--out", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output
    assert net_guard == []  # no lookup of, and no connection to, the proxy or the redirect's target
    assert len(seen) == 10 and all(s["path"] == "/v1/chat/completions" for s in seen)  # every prompt reached the local server
    predictions = _rows(tmp_path / "run" / "predictions.jsonl")
    assert len(predictions) == 10
    entries = {p["quote_id"]: next(iter(p["models"].values()))["llm.v1"] for p in predictions}
    error = entries["10"]["error"]
    assert error.startswith("HTTP 302") and "redirect" in error and "never followed" in error
    assert ELSEWHERE not in error and "ZQXMARKER" not in error  # the status is named, not where it pointed
    assert all("error" not in e for q, e in entries.items() if q != "10")
    sent_to = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))["text_sent_to"][0]
    assert sent_to["local"] is True and sent_to["network"]["proxy_variables"] == "ignored"
    assert sent_to["connected_to"] == ["127.0.0.1"]  # the addresses actually connected to, each checked
    assert sent_to["network"]["redirects"] == "refused" and sent_to["network"]["allowed_addresses"] == "loopback only"


def test_l08d_a_local_redirect_is_not_followed_and_the_key_goes_nowhere_else(net_guard: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LT_PROBE_KEY", "sk-probe-key")
    with hostile_server() as (url, seen):
        coder = _llm(url, api_key_env="LT_PROBE_KEY", max_retries=2)
        coder.predict_proba(["The staff listened LOCALHOP"])
    assert [s["path"] for s in seen] == ["/v1/chat/completions"]  # one request, no retry, nothing sent to /ok
    assert seen[0]["auth"] == "Bearer sk-probe-key"
    assert coder.last_notes_["errors"][0].startswith("HTTP 302") and net_guard == []


def test_the_address_actually_connected_to_is_checked(net_guard: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves elsewhere is skipped before connecting; a peer that is not loopback is refused after."""
    with hostile_server() as (url, seen):
        coder = _llm(url)
        port = url.split(":")[2].split("/")[0]
        real_lookup = socket.getaddrinfo  # the guard's: it would record a non-loopback lookup

        def resolves_elsewhere(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "localhost":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ELSEWHERE, int(port)))]
            return real_lookup(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolves_elsewhere)
        coder.base_url = f"http://localhost:{port}/v1"
        coder._backend_obj = None
        coder.predict_proba(["The staff listened"])
        assert "none on this machine" in coder.last_notes_["errors"][0]
        monkeypatch.setattr(socket, "getaddrinfo", real_lookup)
        monkeypatch.setattr(socket.socket, "getpeername", lambda self: ("192.0.2.1", int(port)))
        coder.base_url, coder._backend_obj = url, None
        coder.predict_proba(["The staff listened"])
        assert "not this machine" in coder.last_notes_["errors"][0]
    assert seen == [] and net_guard == []  # nothing was sent, to anyone


# ----- L06: a slow-drip server is bounded by timeout, and the quote gets an error --------------------------------
def test_l06_slowloris_is_bounded_by_timeout_and_the_run_goes_on(tmp_path: Path, net_guard: list) -> None:
    with hostile_server() as (url, _):
        coder = _llm(url)
        started = time.monotonic()
        scores = coder.predict_proba(["The tablets made me sick DRIP", "I never got my medication"])
        assert time.monotonic() - started < 6  # the dripping reply would take 8 s to arrive; the deadline is 2 s
        assert coder.last_notes_["errors"][0].startswith("timed out") and scores[1].tolist() == [0, 1, 0]
        folder = coder.save(tmp_path / "model")
        source = _csv(tmp_path, ["I never got my medication", "The tablets made me sick DRIP", "The waiting list was long"])
        params = json.loads((folder / "coder.json").read_text(encoding="utf-8"))["params"]
        assert params["timeout"] == 2.0
        started = time.monotonic()
        result = invoke("predict", folder, source, "-o", tmp_path / "out.jsonl", "--llm-base-url", url, "--no-evidence")
        elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 6, elapsed  # one 2 s deadline for the dripping reply (it would take 8 s to arrive)
    rows = _rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["n0", "n1", "n2"]
    assert rows[0]["codes"] == ["medication"] and rows[2]["codes"] == ["waiting"]
    assert rows[1]["codes"] == [] and rows[1]["error"].startswith("timed out") and net_guard == []


# ----- L10, L11: deeply nested JSON is a malformed answer, never a RecursionError ---------------------------------
def test_l10_l11_deeply_nested_answers_are_errors_for_their_quote(net_guard: list) -> None:
    with hostile_server() as (url, _):
        coder = _llm(url)
        scores = coder.predict_proba(["I never got my medication", "DEEPANSWER staff", "DEEPBODY staff"])
    errors = coder.last_notes_["errors"]
    assert scores[0].tolist() == [0, 1, 0] and errors[0] is None
    assert errors[1].startswith("the answer was not the JSON")
    assert errors[2].startswith("the endpoint's reply is nested too deeply") and scores[1:].sum() == 0


# ----- L13c, L13d: timeout must be a finite number of seconds -----------------------------------------------------
@pytest.mark.parametrize(("probe", "value"), [("L13c", ".nan"), ("L13d", ".inf"), ("zero", "0"), ("huge", "100000.0"), ("text", "'5'")])
def test_l13_timeout_is_checked_when_the_config_loads(tmp_path: Path, probe: str, value: str, net_guard: list) -> None:
    path = _llm_experiment(tmp_path, "http://127.0.0.1:9/v1")
    path.write_text(path.read_text(encoding="utf-8").replace("timeout: 2.0", f"timeout: {value}"), encoding="utf-8")
    line = assert_located(invoke("run", path, "--out", tmp_path / "run", "-q"), "timeout")
    assert "at most 3600" in line or "finite" in line  # non-finite numbers are refused for every parameter
    assert not (tmp_path / "run").exists() and net_guard == []


# ----- P25, P25b, P25c: where text goes is never a saved model's decision -------------------------------------------
@pytest.fixture()
def llm_model(tmp_path: Path) -> tuple[Path, str]:
    """A saved llm.v1 model (fitted against a local address; nothing is sent while fitting with n_samples 1)."""
    url = "http://127.0.0.1:9/v1"
    return _llm(url).save(tmp_path / "llm-model"), url


def _edit_params(folder: Path, **changes: Any) -> None:
    path = folder / "coder.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["params"].update(changes)
    path.write_text(json.dumps(meta), encoding="utf-8")


def test_a_saved_llm_model_holds_no_destination(llm_model: tuple[Path, str]) -> None:
    folder, _ = llm_model
    meta = json.loads((folder / "coder.json").read_text(encoding="utf-8"))
    assert not {"base_url", "allow_remote", "api_key_env", "cache_dir"} & set(meta["params"])
    assert "pool.json" in meta["contains_training_text"]


@pytest.mark.parametrize(
    ("probe", "changes", "key"),
    [
        ("P25", {"base_url": "http://8.8.8.8/v1"}, "base_url"),
        ("P25b", {"allow_remote": True, "base_url": "http://8.8.8.8/v1"}, "allow_remote"),
        ("P25c", {"cache_dir": "CACHE"}, "cache_dir"),
        ("api key", {"api_key_env": "AWS_SECRET_ACCESS_KEY"}, "api_key_env"),
    ],
)
def test_p25_a_model_folder_that_says_where_text_goes_is_refused(llm_model: tuple[Path, str], tmp_path: Path, probe: str,
                                                                 changes: dict, key: str, net_guard: list) -> None:
    folder, url = llm_model
    if "cache_dir" in changes:
        changes = {"cache_dir": str(tmp_path / "cache_from_model")}
    _edit_params(folder, **changes)
    source = _csv(tmp_path, [TEXTS[0], SECRET])
    line = assert_located(invoke("predict", folder, source, "-o", tmp_path / "out.jsonl", "--llm-base-url", url), "coder.json",
                          f"params.{key}")
    assert "user's choice" in line
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "cache_from_model").exists() and net_guard == []
    with pytest.raises(ModelFileError, match=key):
        load_coder(folder, settings={"base_url": url})


def test_p25_an_ensemble_member_that_says_where_text_goes_is_refused(tmp_path: Path) -> None:
    from lived_themes.coders._integrity import runtime_key_in, without_runtime

    params = {"members": [{"name": "tfidf-logreg.v1"}, {"name": "llm.v1", "params": {"k": 1, "base_url": "http://8.8.8.8/v1"}}]}
    assert runtime_key_in(params) == "members[1].params.base_url"
    assert runtime_key_in(without_runtime(params)) is None and without_runtime(params)["members"][1]["params"] == {"k": 1}


def test_predict_takes_where_text_goes_from_the_command_line(llm_model: tuple[Path, str], tmp_path: Path, net_guard: list) -> None:
    folder, _ = llm_model
    source = _csv(tmp_path, ["I never got my medication"])
    out = tmp_path / "out.jsonl"
    assert_located(invoke("predict", folder, source, "-o", out), "--llm-base-url", "base_url")  # no default destination
    line = assert_located(invoke("predict", folder, source, "-o", out, "--llm-base-url", f"http://{ELSEWHERE}/v1"), "not on this machine")
    assert "--allow-remote" in line
    with hostile_server() as (url, seen):
        result = invoke("predict", folder, source, "-o", out, "--llm-base-url", url, "--llm-cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert _rows(out)[0]["codes"] == ["medication"] and len(seen) == 1
    assert list((tmp_path / "cache").rglob("*.json")) and net_guard == []  # the cache went where the user said


def test_a_run_time_setting_for_a_model_that_sends_nothing_is_refused(tfidf_model: Path, pred_csv: Path, tmp_path: Path) -> None:
    assert_located(invoke("predict", tfidf_model, pred_csv, "-o", tmp_path / "o.jsonl", "--llm-base-url", "http://127.0.0.1:9/v1"),
                   "base_url", "sends no text")


# ----- P01c: a model folder's codes are tied to its weights -----------------------------------------------------------
def _edit_meta(folder: Path, edit: Callable[[dict], None]) -> None:
    path = folder / "coder.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    edit(meta)
    path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    ("probe", "edit"),
    [
        ("P01c codes permuted", lambda m: m.__setitem__("codes", [m["codes"][1], m["codes"][0], m["codes"][2]])),
        ("code renamed", lambda m: m["codes"].__setitem__(0, "renamed")),
        ("threshold edited", lambda m: m["thresholds"].__setitem__(0, 0.01)),
        ("param edited", lambda m: m["params"].__setitem__("max_ngram", 1)),
    ],
)
def test_p01c_an_edited_or_permuted_codes_list_is_refused(model_copy: Path, pred_csv: Path, tmp_path: Path, probe: str,
                                                          edit: Callable[[dict], None]) -> None:
    load_coder(model_copy)  # the intact copy loads
    _edit_meta(model_copy, edit)
    with pytest.raises(ModelFileError, match="checksum"):
        load_coder(model_copy)
    assert_located(invoke("predict", model_copy, pred_csv, "-o", tmp_path / "o.jsonl"), "coder.json", "checksum", "reordered")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_weights_file_swapped_for_another_models_is_refused(model_copy: Path, tmp_path: Path) -> None:
    from lived_themes.coders.baselines import TfidfLogRegCoder

    other = TfidfLogRegCoder(tune=False, C=0.01).fit(TEXTS, LABELS, CODES).save(tmp_path / "other")
    shutil.copy(other / "weights.npz", model_copy / "weights.npz")  # same shapes, other numbers
    with pytest.raises(ModelFileError, match="weights.npz.*changed since the model was saved"):
        load_coder(model_copy)


def test_a_model_without_a_checksum_is_refused(model_copy: Path) -> None:
    _edit_meta(model_copy, lambda m: m.pop("checksum"))
    with pytest.raises(ModelFileError, match="checksum"):
        load_coder(model_copy)


# ----- P06, P07, P07b: only the folder's own regular files ---------------------------------------------------------
def test_p06_a_file_linked_from_outside_the_folder_is_refused(model_copy: Path, pred_csv: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.npz"
    shutil.move(model_copy / "weights.npz", outside)
    (model_copy / "weights.npz").symlink_to(outside)
    assert_located(invoke("predict", model_copy, pred_csv, "-o", tmp_path / "o.jsonl"), "weights.npz", "outside the model folder")


def test_a_link_inside_the_folder_is_followed(model_copy: Path) -> None:
    shutil.move(model_copy / "weights.npz", model_copy / "real.npz")
    (model_copy / "weights.npz").symlink_to("real.npz")
    assert load_coder(model_copy).codes_ == CODES  # the same bytes, inside the folder


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, or a failure if it has not returned in ``seconds`` (a read of a FIFO would block forever)."""
    box: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            box.append((True, call()))
        except Exception as exc:  # noqa: BLE001 (raised again below, in the test's thread)
            box.append((False, exc))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"still running after {seconds} s: a special file was opened"
    ok, value = box[0]
    if not ok:
        raise value
    return value


def test_p07_a_state_file_linked_to_dev_zero_is_refused_before_reading(model_copy: Path, pred_csv: Path, tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    (model_copy / "state.json").unlink()
    (model_copy / "state.json").symlink_to("/dev/zero")
    result = _within(20, lambda: invoke("predict", model_copy, pred_csv, "-o", tmp_path / "o.jsonl"))
    line = assert_located(result, "state.json", "character device")
    assert "folder" not in line.split("state.json", 1)[1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["coder.json", "state.json", "weights.npz"])
def test_p07b_a_fifo_in_the_model_folder_is_refused_without_blocking(model_copy: Path, pred_csv: Path, tmp_path: Path, name: str) -> None:
    (model_copy / name).unlink()
    os.mkfifo(model_copy / name)
    result = _within(20, lambda: invoke("predict", model_copy, pred_csv, "-o", tmp_path / "o.jsonl"))
    line = assert_located(result, name, "FIFO")
    assert "found a folder" not in line
    from lived_themes.coders._modelfiles import read_json

    with pytest.raises(ModelFileError, match="FIFO"):
        _within(20, lambda: read_json(model_copy / name))


# ----- P18: an unknown format_version -------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "needle"), [(999, "newer"), (1, "older"), ("2", "'2'"), (None, "None")])
def test_p18_an_unknown_format_version_is_refused(model_copy: Path, pred_csv: Path, tmp_path: Path, value: Any, needle: str) -> None:
    _edit_meta(model_copy, lambda m: m.__setitem__("format_version", value))
    line = assert_located(invoke("predict", model_copy, pred_csv, "-o", tmp_path / "o.jsonl"), "format_version", "reads format_version 2")
    assert needle in line


# ----- PV01: a model that stores text of the training quotes says so, and model-info shows it ------------------------
def test_pv01_a_tfidf_model_says_it_holds_training_vocabulary(tfidf_model: Path) -> None:
    meta = json.loads((tfidf_model / "coder.json").read_text(encoding="utf-8"))
    assert "vocabulary of word n-grams" in meta["contains_training_text"] and "state.json" in meta["contains_training_text"]
    vocabulary = set(json.loads((tfidf_model / "state.json").read_text(encoding="utf-8"))["vocabulary"])
    assert "staff listened" in vocabulary  # what the note warns about: word pairs of the training quotes


def test_pv01_a_model_without_training_text_says_none(tmp_path: Path) -> None:
    from lived_themes.coders.baselines import MajorityCoder

    folder = MajorityCoder().fit(TEXTS, LABELS, CODES).save(tmp_path / "majority")
    assert json.loads((folder / "coder.json").read_text(encoding="utf-8"))["contains_training_text"] is False


def test_pv01_model_info_shows_what_a_folder_holds(tfidf_model: Path, tmp_path: Path) -> None:
    from lived_themes.evaluation.leakage import training_ids_record

    run = tmp_path / "run"
    shutil.copytree(tfidf_model, run / "model")
    (run / "model" / "training_ids.json").write_text(json.dumps(training_ids_record([f"q{i}" for i in range(10)])), encoding="utf-8")
    result = invoke("model-info", run)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "coder: tfidf-logreg.v1" in out and "codes (3): staff, medication, waiting" in out
    assert "training text: YES: vocabulary of word n-grams" in out
    assert "training ids: 10, salted" in out and "q1" not in out
    assert "checksum: ok" in out and "state.json" in out and "weights.npz" in out
    assert "training_ids.json" in out and "(not covered by the checksum)" in out
    for text in TEXTS:
        assert text not in out
    info = json.loads(invoke("model-info", run / "model", "--json").output)
    assert info["coder"] == "tfidf-logreg.v1" and info["training_ids"]["n"] == 10
    _edit_meta(run / "model", lambda m: m["codes"].reverse())
    assert "checksum: FAILS" in invoke("model-info", run).output


def test_pv01_model_info_loads_no_heavy_library(tfidf_model: Path) -> None:
    code = ("import sys; from typer.testing import CliRunner; from lived_themes.cli import app; "
            f"r = CliRunner().invoke(app, ['model-info', {str(tfidf_model)!r}]); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'pandas', 'scipy', 'sentence_transformers') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_pv01_the_docs_say_what_a_shared_model_holds() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "sharing-models.md").read_text(encoding="utf-8")
    for needle in ("contains_training_text", "lived-themes model-info", "state.json", "pool.json", "vocabulary"):
        assert needle in page


def test_model_folder_checks_keep_an_intact_model_working(model_copy: Path) -> None:
    coder = load_coder(model_copy)
    assert coder.codes_ == CODES and np.isfinite(coder.predict_proba(["the staff"])).all()


def test_an_ensemble_with_an_llm_member_saves_no_destination_and_takes_it_at_load(tmp_path: Path, net_guard: list) -> None:
    from lived_themes.registry import make_coder

    with hostile_server() as (url, seen):
        members = [{"name": "majority.v1"}, {"name": "llm.v1", "params": {"base_url": url, "encoder": "hashing", "k": 1, "timeout": 2.0}}]
        ensemble = make_coder("ensemble.v1", members=members, inner_folds=2).fit(TEXTS, LABELS, CODES)
        folder = ensemble.save(tmp_path / "ensemble")
        texts = ["I never got my medication"]
        expected = ensemble.predict_proba(texts)
        for meta_path in folder.rglob("coder.json"):
            assert "base_url" not in meta_path.read_text(encoding="utf-8")
        with pytest.raises(Exception, match="base_url"):
            load_coder(folder)  # the member needs the user's setting
        loaded = load_coder(folder, settings={"base_url": url})
        np.testing.assert_allclose(loaded.predict_proba(texts), expected)
    assert "llm.v1: the labelled training quotes" in json.loads((folder / "coder.json").read_text(encoding="utf-8"))["contains_training_text"]
    assert seen and net_guard == []

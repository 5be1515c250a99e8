"""A fake OpenAI-compatible chat endpoint on 127.0.0.1 for the llm.v1 tests: no model, bounded, started by the test.

It answers from the quote in the prompt (the JSON string after "Code this quote:"): codes by keyword, with the
keyword as the span. Marker words in a quote choose a failure: MALFORMED (not JSON), INVENT (an extra code not
in the codebook), BADSPAN (a span that is not in the quote), SLOW (sleeps past the client's timeout), FAIL500.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEYWORDS = {
    "meds": ["pills", "medication", "dose", "tablets"],
    "heard": ["listened", "hear", "heard", "ignored"],
    "peer": ["peer", "same story", "community"],
    # the conformance test's codebook (tests/test_contract.py)
    "access": ["wait", "appointment", "referral"],
    "relationship": ["kind", "judging"],
    "crisis": ["crisis", "night"],
}


def quote_of(messages: list[dict[str, str]]) -> str:
    user = messages[-1]["content"]
    return json.loads(user.rsplit("Code this quote:\n", 1)[1])


def answer_for(quote: str) -> tuple[int, str, float]:
    """(HTTP status, assistant content, delay in seconds) for one quote."""
    if "FAIL500" in quote:
        return 500, "", 0.0
    if "SLOW" in quote:
        return 200, '{"codes": []}', 3.0
    if "MALFORMED" in quote:
        return 200, "I think this is about medication, {codes: meds", 0.0
    codes = [{"code": code, "span": word} for code, words in KEYWORDS.items() for word in words if word in quote][:3]
    seen, unique = set(), []
    for item in codes:
        if item["code"] not in seen:
            seen.add(item["code"])
            unique.append(item)
    if "INVENT" in quote:
        unique.append({"code": "made_up_theme", "span": "INVENT"})
    if "BADSPAN" in quote:
        unique.append({"code": "peer", "span": "words that were never said"})
    return 200, "```json\n" + json.dumps({"codes": unique}) + "\n```", 0.0


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet: never print request text
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length).decode("utf-8"))
        self.server.requests.append(body)  # type: ignore[attr-defined]
        if not self.path.endswith("/chat/completions"):
            self.send_response(404)
            self.end_headers()
            return
        status, content, delay = answer_for(quote_of(body["messages"]))
        time.sleep(delay)
        payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out test)
            pass


@contextmanager
def fake_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(base_url, requests received) of a server on a free 127.0.0.1 port, shut down on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

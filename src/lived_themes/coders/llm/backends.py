"""Where an LLM coder's prompts go: a local ``transformers`` model, or an OpenAI-compatible HTTP endpoint.

Nothing leaves the machine by default. The HTTP backend refuses any address that is not this machine
(``localhost``, ``127.0.0.0/8``, ``::1``) unless ``allow_remote`` is set, and it checks before any request
is made; each request then follows :mod:`.transport`'s one network rule (no proxy, no redirect, the
connected address checked again, one deadline per request). The transformers backend loads a local
folder, or a Hugging Face id already in the local cache (downloads follow
:mod:`lived_themes.encoders.offline`: off unless the user allows them).

Answers are cached on disk by a hash of (backend, model, messages, sampling settings, sample number), so a
rerun sends nothing again. The cache holds quote text: it lives only where the user says (``cache_dir``),
never in a global location. Errors are never cached.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lived_themes.coders.llm.prompt import Message
from lived_themes.coders.llm.transport import check_timeout
from lived_themes.errors import ConfigError
from lived_themes.encoders.offline import downloads_allowed
from lived_themes.encoders.sentence import _local_or_cached, pick_device
from lived_themes.files import write_text_atomic
from lived_themes.coders.llm.transport import TransportError, post

log = logging.getLogger(__name__)
BACKENDS = ("http", "transformers")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class RemoteRefused(ConfigError):
    """A non-local endpoint without ``allow_remote``: raised before any text is sent."""


def is_local_url(url: str) -> bool:
    """True when ``url``'s host is this machine (a loopback name or address)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, *, allow_remote: bool) -> None:
    """Refuse a malformed URL, and a non-local one unless ``allow_remote``; the message names no text."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {url!r}")
    if not allow_remote and not is_local_url(url):
        raise RemoteRefused(
            f"base_url {url!r} is not on this machine: quotes would leave it. Use a local server "
            "(e.g. http://127.0.0.1:8080/v1), or set allow_remote (allow_remote: true in the coder's params, or predict's --allow-remote) "
            "if you may send this text there")


@dataclass
class Reply:
    """One answer, or the error that stopped it; ``cached`` when it came from the disk cache."""

    text: str | None
    error: str | None = None
    cached: bool = False


class AnswerCache:
    """Answers on disk, one JSON file per key, written atomically; ``None`` folder = no disk cache."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder).expanduser() if folder else None

    @staticmethod
    def key(**parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        if self.folder is None:
            return None
        try:
            value = json.loads(self._path(key).read_text(encoding="utf-8")).get("response")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def put(self, key: str, prompt: list[Message], response: str) -> None:
        if self.folder is None:
            return

        write_text_atomic(self._path(key), json.dumps({"prompt": prompt, "response": response}, ensure_ascii=False))


class Backend:
    """Answers a batch of prompts; subclasses implement ``_generate`` (errors per item, never a dropped item)."""

    kind = ""

    def __init__(self, *, model: str | None, temperature: float, max_new_tokens: int, seed: int, cache: AnswerCache) -> None:
        self.model = model
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.cache = cache
        self.requests = 0

    def destination(self) -> dict[str, Any]:
        raise NotImplementedError

    def complete(self, prompts: Sequence[list[Message]], sample: int) -> list[Reply]:
        """One reply per prompt for sample number ``sample``, from the cache where it holds one."""
        keys = [self.cache.key(backend=self.kind, model=self.model, messages=p, temperature=self.temperature,
                               max_new_tokens=self.max_new_tokens, seed=self.seed, sample=sample) for p in prompts]
        replies: list[Reply | None] = []
        for key in keys:
            hit = self.cache.get(key)
            replies.append(Reply(hit, cached=True) if hit is not None else None)
        todo = [i for i, r in enumerate(replies) if r is None]
        if todo:
            fresh = self._generate([prompts[i] for i in todo], sample)
            for i, reply in zip(todo, fresh):
                replies[i] = reply
                if reply.error is None and reply.text is not None:
                    self.cache.put(keys[i], list(prompts[i]), reply.text)
        return [r if r is not None else Reply(None, "no reply") for r in replies]

    def _generate(self, prompts: list[list[Message]], sample: int) -> list[Reply]:
        raise NotImplementedError


class HttpBackend(Backend):
    """``POST {base_url}/chat/completions`` (llama.cpp server, Ollama, vLLM, LM Studio...), standard library only."""

    kind = "http"

    def __init__(self, *, base_url: str, allow_remote: bool, timeout: float, max_retries: int, api_key_env: str | None,
                 **common: Any) -> None:
        check_endpoint(base_url, allow_remote=allow_remote)
        super().__init__(**common)
        self.base_url = base_url.rstrip("/")
        self.allow_remote = allow_remote
        self.timeout = check_timeout(timeout)
        self.max_retries = max_retries
        self.api_key_env = api_key_env
        self.peers: set[str] = set()  # the addresses actually connected to (each checked: loopback unless allow_remote)

    def destination(self) -> dict[str, Any]:
        return {"backend": self.kind, "endpoint": f"{self.base_url}/chat/completions", "model": self.model,
                "local": is_local_url(self.base_url)}

    def _generate(self, prompts: list[list[Message]], sample: int) -> list[Reply]:
        return [self._one(p, sample) for p in prompts]

    def _one(self, messages: list[Message], sample: int) -> Reply:

        check_endpoint(self.base_url, allow_remote=self.allow_remote)  # again, at the moment text would leave
        body = {"model": self.model or "local", "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_new_tokens, "seed": self.seed + sample, "stream": False}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        error = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(0.25 * 2 ** (attempt - 1), 4.0))
            self.requests += 1
            try:
                reply = post(f"{self.base_url}/chat/completions", data, headers, timeout=self.timeout, allow_remote=self.allow_remote)
            except TransportError as exc:
                error = str(exc)
                if not exc.retry:
                    break
                continue
            self.peers.add(reply.peer)
            if not 200 <= reply.status < 300:
                error = f"HTTP {reply.status} from the endpoint"
                if reply.status < 500 and reply.status not in (408, 429):
                    break  # a client error does not improve on retry
                continue
            try:
                return Reply(_message_text(json.loads(reply.body.decode("utf-8"))))
            except RecursionError:
                error = "the endpoint's reply is nested too deeply to be an OpenAI-style chat completion"
            except (ValueError, KeyError, IndexError, TypeError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                error = "the endpoint's reply is not an OpenAI-style chat completion"
            break
        log.warning("llm request failed after %d attempt(s): %s", attempt + 1, error)
        return Reply(None, error)


def _message_text(payload: Any) -> str:
    content = payload["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("content is not text")
    return content


class TransformersBackend(Backend):
    """A causal LM on this machine (CPU or GPU), prompts answered in batches, left-padded."""

    kind = "transformers"

    def __init__(self, *, batch_size: int, device: str | None, **common: Any) -> None:
        super().__init__(**common)
        if not self.model:
            raise ValueError("backend 'transformers' needs model: a local folder or a Hugging Face id in the local cache")
        self.batch_size = batch_size
        self.device = device
        self._loaded: tuple[Any, Any, str] | None = None

    def destination(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "local": True}

    def _load(self) -> tuple[Any, Any, str]:
        if self._loaded is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            where = _local_or_cached(str(self.model))
            local_only = not downloads_allowed()
            tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=local_only)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            device = pick_device(self.device)
            model = AutoModelForCausalLM.from_pretrained(where, local_files_only=local_only).to(device).eval()
            self._loaded = (tokenizer, model, device)
        return self._loaded

    @staticmethod
    def _as_text(tokenizer: Any, messages: list[Message]) -> str:
        if getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return "\n\n".join(f"{m['role'].upper()}:\n{m['content']}" for m in messages) + "\n\nASSISTANT:\n"

    def _generate(self, prompts: list[list[Message]], sample: int) -> list[Reply]:
        import torch

        tokenizer, model, device = self._load()
        out: list[Reply] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self._as_text(tokenizer, p) for p in prompts[start:start + self.batch_size]]
            try:
                encoded = tokenizer(batch, return_tensors="pt", padding=True).to(device)
                torch.manual_seed(self.seed + sample)
                sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {"do_sample": False}
                with torch.no_grad():
                    generated = model.generate(**encoded, max_new_tokens=self.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                               **sampling)
                self.requests += len(batch)
                new = generated[:, encoded["input_ids"].shape[1]:]
                out += [Reply(t) for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
            except (RuntimeError, ValueError) as exc:  # e.g. out of memory or a prompt longer than the model takes
                log.warning("llm generation failed for a batch: %s", type(exc).__name__)
                out += [Reply(None, f"generation failed ({type(exc).__name__})") for _ in batch]
        return out

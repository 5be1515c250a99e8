"""The one network rule for everything that sends quote text: one HTTP POST, to this machine unless allowed, in bounded time.

Standard library only, and deliberately not ``urllib.request``, whose defaults break the rule:

- **No proxy.** ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` (and ``NO_PROXY``) are never read: the
  connection goes straight to the host in the URL, so a proxy set for other tools never sees a prompt.
- **No redirect.** A 3xx answer is an error naming its status, never followed (a redirect would carry
  the prompt, and any ``Authorization`` header, to wherever the ``Location`` points).
- **The address actually connected to is checked.** Every address the host resolves to is checked before
  connecting, and the socket's peer address after: loopback only unless ``allow_remote``.
- **One deadline.** Connecting, sending and every read of the reply share one deadline, ``timeout``
  seconds after the request began, however slowly the server drips its bytes.
- **Bounded reply.** A reply over :data:`MAX_REPLY_BYTES` is refused.

Errors are :class:`TransportError` with a short reason that holds no text and no URL query.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import math
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

#: The largest reply read (an OpenAI-style chat completion of a few hundred tokens is a few kB).
MAX_REPLY_BYTES = 8 * 2**20
#: The longest ``timeout`` accepted: one request of one hour.
MAX_TIMEOUT = 3600.0
#: What run.json records about the rule (``text_sent_to``).
RULE = {"proxy_variables": "ignored", "redirects": "refused", "address_checked": "each connection's peer address"}


#: Every peer address this process connected to, per endpoint (``scheme://host:port``): each passed the check.
_CONNECTED: dict[str, set[str]] = {}


def connected_to(endpoint: str) -> list[str]:
    """The addresses this process actually connected to for ``endpoint``'s host and port (for run.json)."""
    parts = urllib.parse.urlsplit(endpoint)
    return sorted(_CONNECTED.get(_netloc(parts), set()))


def _netloc(parts: urllib.parse.SplitResult) -> str:
    return f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class TransportError(Exception):
    """One request failed: ``str()`` is the reason (no text, no URL query); ``retry`` when trying again may help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


@dataclass
class HttpReply:
    """A non-redirect answer: its status, its body and the address it came from."""

    status: int
    body: bytes
    peer: str


def check_timeout(value: Any) -> float:
    """``timeout`` as seconds: a finite number above 0 and at most :data:`MAX_TIMEOUT` (NaN and infinity refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, got {value!r}")
    return float(value)


def is_loopback_address(address: str) -> bool:
    """True for an IP address of this machine (127.0.0.0/8, ::1, ::ffff:127.x.x.x); False for anything else."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; ``TimeoutError`` once none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def passed(self) -> bool:
        return time.monotonic() >= self.end


class _DeadlineReader(io.RawIOBase):
    """The reply's bytes, each read waiting at most until the deadline (a server sending 1 byte/s still ends on time)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What ``http.client`` uses of a socket (sendall, makefile, close), every call bounded by the one deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.left())  # since Python 3.5 the timeout bounds the whole sendall
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """Nothing: ``http.client`` closes its connection before the body is read; :func:`post` closes the socket."""


def _connect(host: str, port: int, deadline: _Deadline, *, allow_remote: bool) -> tuple[socket.socket, str]:
    """A connected socket and its peer address; non-local addresses are skipped before connecting and refused after."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TransportError(f"cannot resolve the endpoint's host ({type(exc).__name__})", retry=False) from None
    last: OSError | None = None
    skipped = 0
    for family, kind, proto, _, address in infos:
        if not allow_remote and not is_loopback_address(str(address[0])):
            skipped += 1
            continue
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.left())
            sock.connect(address)
            peer = str(sock.getpeername()[0])
        except OSError as exc:  # TimeoutError included
            sock.close()
            if isinstance(exc, TimeoutError) or deadline.passed():
                raise
            last = exc
            continue
        if not allow_remote and not is_loopback_address(peer):
            sock.close()
            raise TransportError(f"the connection reached {peer}, which is not this machine; nothing was sent", retry=False)
        return sock, peer
    if last is None:
        raise TransportError(f"the endpoint's host resolves to {skipped} address(es), none on this machine; nothing was sent "
                             "(set allow_remote only if this text may leave the machine)", retry=False)
    raise last


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_remote: bool) -> HttpReply:
    """POST ``body`` to ``url`` under the rule above; a 3xx, a time-out or a broken reply raises :class:`TransportError`."""
    timeout = check_timeout(timeout)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError("the endpoint is not an http(s) URL with a host", retry=False)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    deadline = _Deadline(timeout)
    sock: Any = None
    try:
        sock, peer = _connect(parts.hostname, port, deadline, allow_remote=allow_remote)
        _CONNECTED.setdefault(_netloc(parts), set()).add(peer)
        if https:
            sock.settimeout(deadline.left())
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        connection = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(parts.hostname, port)
        connection.sock = _DeadlineSocket(sock, deadline)  # type: ignore[assignment]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise TransportError(f"HTTP {response.status}: the endpoint answered with a redirect, which is never followed", retry=False)
        if response.length is not None and response.length > MAX_REPLY_BYTES:
            raise TransportError(f"the reply is larger than {MAX_REPLY_BYTES // 2**20} MiB", retry=False)
        data = response.read() if response.length is not None else _read_bounded(response)
        return HttpReply(response.status, data, peer)
    except TransportError:
        raise
    except TimeoutError:
        raise TransportError(f"timed out (no complete reply within {timeout:g} s)", retry=True) from None
    except ssl.SSLError as exc:
        raise TransportError(f"TLS failed ({type(exc).__name__})", retry=False) from None
    except (http.client.HTTPException, OSError) as exc:
        if deadline.passed():
            raise TransportError(f"timed out (no complete reply within {timeout:g} s)", retry=True) from None
        what = "the reply was cut off or is not valid HTTP" if isinstance(exc, http.client.HTTPException) else "connection failed"
        raise TransportError(f"{what} ({type(exc).__name__})", retry=True) from None
    finally:
        if sock is not None:
            sock.close()


def _read_bounded(response: http.client.HTTPResponse) -> bytes:
    """A chunked or close-delimited body, refused past :data:`MAX_REPLY_BYTES`."""
    data = bytearray()
    while True:
        piece = response.read(65536)
        if not piece:
            return bytes(data)
        data += piece
        if len(data) > MAX_REPLY_BYTES:
            raise TransportError(f"the reply is larger than {MAX_REPLY_BYTES // 2**20} MiB", retry=False)

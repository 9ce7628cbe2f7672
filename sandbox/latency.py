"""Latency, lag and crash points for the overlap tests: the world as slow as the real one.

Overlapping runs only race the way they race on GitHub when every call takes time. This
module puts that time back into the sandbox, without touching the servers themselves:

- ``LatencyProxy``: an HTTP reverse proxy on loopback in front of the GitHub sandbox or
  the registry. Each request waits a random 20-80 ms (a round trip to a real API) before
  it is forwarded. It can also play a lagging registry replica (``hidden_tags``: tag
  lists that miss some tags) and hold an answer back after the upstream has acted on it
  (``hold``: the moment to kill a run that merged but never heard so), or be down for a
  while (``outage``: every request answered with an error status, say 503).
- ``slow_git``: a folder holding a ``git`` that waits the same way before every command
  that talks to a remote (``ls-remote``, ``fetch``, ``push``, ``clone``); put it first
  on ``PATH``.

The clock is the real one: runs started by the tests read the time as it passes, never
a frozen ``SHUNTER_NOW``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import shutil
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Exchange", "LatencyProxy", "slow_git"]

#: A round trip to a real API, in seconds (GitHub's REST API answers in about this).
DEFAULT_DELAY = (0.02, 0.08)
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
_TAGS_LIST = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


class Exchange:
    """One forwarded request and the upstream's answer, as ``hold`` sees it."""

    __slots__ = ("body", "method", "path", "status")

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        return f"Exchange({self.method} {self.path} -> {self.status})"


class LatencyProxy:
    """A delaying reverse proxy to ``upstream`` (``http://host:port``). See the module doc.

    ``hidden_tags`` (mutable, thread-safe to replace): tags the registry's tag list omits
    while set, as a replica that has not seen the newest push yet. ``hold``: called with
    each upstream answer; when it returns True the answer is kept back until
    :meth:`release`, and :attr:`held` is set, so a test can kill the client in between.
    ``outage`` (an HTTP status, or None): while set, every request is answered with it
    and forwarded nowhere, as a service behind a failing load balancer answers.
    """

    def __init__(
        self,
        upstream: str,
        *,
        delay: tuple[float, float] = DEFAULT_DELAY,
        seed: int | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.delay = delay
        self.hidden_tags: frozenset[str] = frozenset()
        self.hold: Callable[[Exchange], bool] | None = None
        self.outage: int | None = None
        self.held = threading.Event()
        self.exchanges: list[Exchange] = []
        self._release = threading.Event()
        self._rng = random.Random(seed)  # noqa: S311  # jitter, not secrets
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.host = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def wait(self) -> float:
        """Sleep one random round trip; return how long."""
        with self._lock:
            pause = self._rng.uniform(*self.delay)
        time.sleep(pause)
        return pause

    def release(self) -> None:
        """Let every held answer go (to a client that may be gone by now)."""
        self._release.set()

    def start(self) -> LatencyProxy:
        proxy = self

        class Handler(_ProxyHandler):
            state = proxy

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.host = f"{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="latency-proxy",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def rewrite(self, method: str, path: str, status: int, body: bytes) -> bytes:
        """The answer a client gets: the upstream's, minus ``hidden_tags`` in tag lists."""
        hidden = self.hidden_tags
        if not hidden or method != "GET" or status != 200 or not _TAGS_LIST.match(path):
            return body
        doc: Any = json.loads(body)
        doc["tags"] = [t for t in doc.get("tags") or [] if t not in hidden]
        return json.dumps(doc).encode()


class _ProxyHandler(BaseHTTPRequestHandler):
    state: LatencyProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``LatencyProxy.exchanges`` is the record."""

    def do_GET(self) -> None:
        """Every method is forwarded alike (``do_HEAD`` etc. below are this method)."""
        self._forward()

    do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _forward(self) -> None:
        proxy = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy.wait()
        if proxy.outage is not None:
            self._answer_outage(proxy.outage)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            status, reason = resp.status, resp.reason
            answer = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        finally:
            conn.close()
        path = urllib.parse.urlsplit(self.path).path
        new = proxy.rewrite(self.command, path, status, data)
        if new is not data:
            # A replica's answer has its own validator; never the upstream's for other bytes.
            etag = '"' + hashlib.sha256(new).hexdigest() + '"'
            answer = [
                (k, v) for k, v in answer if k.lower() not in ("etag", "docker-content-digest")
            ]
            answer.append(("ETag", etag))
            data = new
        exchange = Exchange(self.command, path, status, data)
        with proxy._lock:
            proxy.exchanges.append(exchange)
        if proxy.hold is not None and proxy.hold(exchange):
            proxy.held.set()
            proxy._release.wait(timeout=120)
        try:
            self.send_response(status, reason)
            for key, value in answer:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client is gone (killed while held)

    def _answer_outage(self, status: int) -> None:
        """Answer ``status`` with the distribution spec's error body (``UNAVAILABLE`` is
        not one of its codes; registries send their own, as here)."""
        proxy = self.state
        data = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "down"}]}).encode()
        with proxy._lock:
            proxy.exchanges.append(Exchange(self.command, self.path, status, data))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


_GIT_WRAPPER = """#!/bin/bash
# A git that takes a network round trip before talking to a remote (sandbox/latency.py).
for arg in "$@"; do
  case "$arg" in
    ls-remote|fetch|push|clone|pull)
      sleep "$(printf '0.%03d' $(( {low} + RANDOM % {span} )))"
      break;;
  esac
done
exec {git} "$@"
"""


def slow_git(folder: Path, *, delay: tuple[float, float] = DEFAULT_DELAY) -> Path:
    """Write a ``git`` into ``folder`` that waits ``delay`` (seconds, low-high) before each
    remote command and then runs the real git; return ``folder`` (put it first on PATH)."""
    real = shutil.which("git")
    if real is None:
        raise RuntimeError("git is not installed")
    low, high = (round(d * 1000) for d in delay)
    if not 0 <= low < high < 1000:
        raise ValueError(f"delay must be within [0, 1) seconds, low < high: {delay}")
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "git"
    script.write_text(_GIT_WRAPPER.format(low=low, span=high - low, git=real))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder

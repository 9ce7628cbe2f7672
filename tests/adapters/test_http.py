"""The one HTTP toolkit: ``decipher`` and ``parse_retry_after`` on plain tuples, and the
session's rule that credentials never follow a redirect to another origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from bot.adapters.http import (
    NOT_MODIFIED,
    HttpErrorKind,
    HttpPermanentError,
    HttpTransientError,
    decipher,
    parse_retry_after,
    session,
)
from bot.errors import PermanentError, TransientError

NOW = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "headers", "body", "data"),
    [
        (200, {}, b'{"tags": ["1.0.0"]}', {"tags": ["1.0.0"]}),
        (201, {}, b"[1, 2]", [1, 2]),
        (204, {}, b"", None),
        (200, {}, b"  \n", None),
        (304, {"ETag": '"v1"'}, b"", NOT_MODIFIED),
    ],
)
def test_answers_become_data(status: int, headers: dict[str, str], body: bytes, data: Any) -> None:
    assert decipher(status, headers, body, now=NOW, where="x") == data


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "base", "retry_after"),
    [
        (200, {}, b"<html>proxy</html>", HttpErrorKind.TRANSIENT, TransientError, None),
        (200, {}, b"\xff\xfe", HttpErrorKind.TRANSIENT, TransientError, None),
        (401, {}, b"", HttpErrorKind.AUTH, PermanentError, None),
        (403, {}, b"{}", HttpErrorKind.AUTH, PermanentError, None),
        (404, {}, b"", HttpErrorKind.NOT_FOUND, PermanentError, None),
        (410, {}, b"", HttpErrorKind.NOT_FOUND, PermanentError, None),
        (408, {}, b"", HttpErrorKind.TIMED_OUT, TransientError, None),
        (400, {}, b"", HttpErrorKind.PERMANENT, PermanentError, None),
        (302, {"Location": "https://sso"}, b"", HttpErrorKind.REDIRECTED, PermanentError, None),
        (429, {}, b"", HttpErrorKind.RATE_LIMITED, TransientError, None),
        (429, {"Retry-After": "120"}, b"", HttpErrorKind.RATE_LIMITED, TransientError, 120.0),
        (429, {"retry-after": "120"}, b"", HttpErrorKind.RATE_LIMITED, TransientError, 120.0),
        # GitHub's secondary rate limit: 403 with Retry-After, or remaining 0 and a reset.
        (403, {"Retry-After": "60"}, b"", HttpErrorKind.RATE_LIMITED, TransientError, 60.0),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW.timestamp()) + 90)},
            b"",
            HttpErrorKind.RATE_LIMITED,
            TransientError,
            90.0,
        ),
        (500, {}, b"", HttpErrorKind.TRANSIENT, TransientError, None),
        (503, {"Retry-After": "5"}, b"", HttpErrorKind.TRANSIENT, TransientError, 5.0),
    ],
)
def test_failures_are_typed(
    status: int,
    headers: dict[str, str],
    body: bytes,
    kind: HttpErrorKind,
    base: type[Exception],
    retry_after: float | None,
) -> None:
    with pytest.raises(base) as info:
        decipher(status, headers, body, now=NOW, where="registry example.com")
    error = info.value
    assert isinstance(error, HttpTransientError | HttpPermanentError)
    assert error.kind is kind
    assert error.retry_after == retry_after


def test_hints_replace_the_advice_of_their_kind_only() -> None:
    hints = {HttpErrorKind.AUTH: "set ARGO_TOKEN"}
    with pytest.raises(PermanentError) as auth:
        decipher(401, {}, b"", now=NOW, where="Argo CD", hints=hints)
    with pytest.raises(PermanentError) as missing:
        decipher(404, {}, b"", now=NOW, where="Argo CD", hints=hints)
    assert "set ARGO_TOKEN" in str(auth.value)
    assert "set ARGO_TOKEN" not in str(missing.value)


def test_raw_bodies_when_json_is_not_asked() -> None:
    assert decipher(200, {}, b"entries: {}", now=NOW, where="x", json_body=False) == b"entries: {}"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Mon, 30 Nov 2026 10:02:00 GMT", 120.0),
        ("Mon, 30 Nov 2026 09:00:00 GMT", 0.0),  # a date in the past: now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


# --------------------------------------------------------------------------- redirects


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[int, str | None]]]
    target = ""

    def do_GET(self) -> None:
        address = self.server.server_address
        assert isinstance(address, tuple)
        self.seen.append((address[1], self.headers.get("Authorization")))
        if self.path == "/start":
            self.send_response(302)
            self.send_header("Location", self.target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def two_servers() -> Iterator[tuple[type[_Recorder], int, int]]:
    class Handler(_Recorder):
        seen: ClassVar[list[tuple[int, str | None]]] = []

    first, a = _serve(Handler)
    second, b = _serve(Handler)
    yield Handler, a, b
    for s in (first, second):
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("same_port", [False, True])
def test_credentials_follow_a_redirect_only_on_the_same_origin(
    two_servers: tuple[type[_Recorder], int, int], same_port: bool
) -> None:
    handler, a, b = two_servers
    port = a if same_port else b
    handler.target = f"http://127.0.0.1:{port}/elsewhere"
    s = session({}, retries=0)
    s.get(f"http://127.0.0.1:{a}/start", headers={"Authorization": "Basic c2VjcmV0"}, timeout=5)
    followed = "Basic c2VjcmV0" if same_port else None
    assert handler.seen == [(a, "Basic c2VjcmV0"), (port, followed)]

"""HTTP health and verification checks, against real loopback servers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.adapters.http import Network, session
from bot.adapters.httpcheck import (
    MAX_CHECK_TIMEOUT,
    HttpProber,
    http_check,
    http_health,
    shown,
)
from bot.core.decide.observations import HealthReport, StepRun
from bot.core.model import HttpCheck, HttpHealth
from sandbox.httpstub import HttpStub


class _Handler(BaseHTTPRequestHandler):
    """``/status/<code>`` answers that code; ``/slow`` answers after half a second;
    ``/moved`` redirects to ``/status/200``. Every request is recorded on the server."""

    server: _Server

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        if self.path == "/slow":
            time.sleep(0.5)  # longer than the client's timeout in the test that calls it
            code = 200
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/status/200")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            code = int(self.path.split("?", 1)[0].rsplit("/", 1)[-1])
        body = b"ok"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, str, dict[str, str]]]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


# ------------------------------------------------------------------ health, over real HTTP


@pytest.mark.parametrize(
    ("path", "expect", "healthy", "said"),
    [
        ("/status/200", (200,), True, "200 OK"),
        ("/status/204", (200, 204), True, "204 No Content"),
        ("/status/503", (200,), False, "503 Service Unavailable (expected 200)"),
        ("/status/200", (204,), False, "200 OK (expected 204)"),
        ("/moved", (200,), False, "302 Found (expected 200)"),
    ],
)
def test_http_health_compares_the_status(
    server: _Server, path: str, expect: tuple[int, ...], healthy: bool, said: str
) -> None:
    report = http_health(HttpHealth(base(server) + path, expect_status=expect))
    assert report == HealthReport(healthy, f"GET {base(server)}{path}: {said}")


def test_an_unreachable_service_is_unhealthy_not_an_error() -> None:
    with socket_closed_port() as port:
        report = http_health(HttpHealth(f"http://127.0.0.1:{port}/healthz"))
    assert report == HealthReport(False, f"GET http://127.0.0.1:{port}/healthz: could not connect")


def test_a_slow_service_is_unhealthy_after_its_timeout(server: _Server) -> None:
    check = HttpHealth(base(server) + "/slow", timeout=timedelta(seconds=0.1))
    report = http_health(check)
    assert report == HealthReport(False, f"GET {base(server)}/slow: no answer within 0.1s")


def test_secrets_in_the_url_stay_out_of_the_message(server: _Server) -> None:
    port = server.server_address[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/status/200?token=s3cret#x"
    report = http_health(HttpHealth(url))
    assert report.healthy
    assert "hunter2" not in report.message and "s3cret" not in report.message
    assert report.message == f"GET http://127.0.0.1:{port}/status/200: 200 OK"


# ------------------------------------------------------------------ verification checks


def test_http_check_sends_its_method_and_headers(server: _Server) -> None:
    check = HttpCheck(
        base(server) + "/status/201",
        method="POST",
        expect_status=(201,),
        headers=(("X-Smoke", "dev"),),
    )
    run = http_check(check, timeout=5)
    assert run == StepRun("http", "succeeded", f"POST {base(server)}/status/201: 201 Created")
    method, path, headers = server.seen[-1]
    assert (method, path, headers["X-Smoke"]) == ("POST", "/status/201", "dev")


@pytest.mark.parametrize(
    ("path", "state", "said"),
    [
        ("/status/200", "succeeded", "200 OK"),
        ("/status/404", "failed", "404 Not Found (expected 200)"),
        ("/status/500", "running", "500 Internal Server Error (expected 200); will try again"),
        ("/status/429", "running", "429 Too Many Requests (expected 200); will try again"),
        ("/moved", "failed", "302 Found (expected 200)"),
    ],
)
def test_http_check_states(server: _Server, path: str, state: str, said: str) -> None:
    run = http_check(HttpCheck(base(server) + path), timeout=5)
    assert run == StepRun("http", state, f"GET {base(server)}{path}: {said}")  # type: ignore[arg-type]


def test_http_check_keeps_trying_while_nothing_answers() -> None:
    with socket_closed_port() as port:
        run = http_check(HttpCheck(f"http://127.0.0.1:{port}/smoke"), timeout=5)
    assert run.state == "running"
    assert run.message == f"GET http://127.0.0.1:{port}/smoke: could not connect; will try again"


def test_http_check_times_out_one_call(server: _Server) -> None:
    run = http_check(HttpCheck(base(server) + "/slow"), timeout=0.1)
    assert run == StepRun(
        "http", "running", f"GET {base(server)}/slow: no answer within 0.1s; will try again"
    )


def test_one_call_never_waits_the_whole_verification_timeout(http_stub: HttpStub) -> None:
    http_stub.get("https://dev.example.com/smoke")
    opened: list[tuple[float, Any]] = []

    def recording(scheme: str, host: str, port: int, timeout: float, context: Any) -> Any:
        conn = http_stub.connect(scheme, host, port, timeout, context)
        opened.append((timeout, conn))
        return conn

    checker = session({}, retries=0, network=Network(connect=recording))
    run = http_check(HttpCheck("https://dev.example.com/smoke"), timeout=1800, session=checker)
    assert run.state == "succeeded"
    [(connect, conn)] = opened
    # Both waits of the one call are capped: the connect and the read on its socket.
    assert (connect, conn.sock.gettimeout()) == (MAX_CHECK_TIMEOUT, MAX_CHECK_TIMEOUT)


def test_a_refused_certificate_is_reported() -> None:
    with HttpStub(tls=True) as stub:
        stub.get("https://dev.example.com/healthz")
        report = HttpProber(network=stub.network).health(
            HttpHealth("https://dev.example.com/healthz")
        )
        assert stub.calls == []  # refused before any request was sent
    assert report == HealthReport(
        False, "GET https://dev.example.com/healthz: the TLS certificate was refused"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x?k=v", "https://a.example/x"),
        ("https://u:p@a.example:8443/x#f", "https://a.example:8443/x"),
        ("http://[::1]:9/h", "http://[::1]:9/h"),
    ],
)
def test_shown_urls(url: str, expected: str) -> None:
    assert shown(url) == expected


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: bound, then closed before use."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    yield port

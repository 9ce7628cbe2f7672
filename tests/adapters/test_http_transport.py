"""The transport of ``bot.adapters.http``, each behaviour against a real socket: kept-alive
connections, a stale one reopened, redirects and credentials, ``Retry-After``, timeouts,
TLS refusal and proxies."""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.adapters.http import (
    Headers,
    HttpErrorKind,
    HttpPermanentError,
    HttpTransientError,
    Network,
    Response,
    Session,
    TimedOut,
    Unreachable,
    fetch_json,
    keeps_credentials,
    retry_delay,
)
from sandbox.httpstub import HttpStub, self_signed
from sandbox.loopback import send_json, serving
from sandbox.registry import LocalRegistry
from sandbox.world import SandboxWorld

NOW = dt.datetime(2026, 11, 30, 10, 0, 0, tzinfo=dt.UTC)


def quick(stub: HttpStub | None = None, **options: object) -> Session:
    """A session with no backoff, pointed at ``stub`` when given."""
    settings: dict[str, object] = {"retries": 2, "backoff": 0.0, "max_wait": 5.0}
    settings.update(options)
    if stub is not None:
        settings.setdefault("network", stub.network)
    return Session({}, **settings)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("status", "retry_after", "retry", "cap", "wait"),
    [
        (429, None, 1, 5.0, None),  # never retried blind
        (429, "soon", 1, 5.0, None),  # unreadable is no wait at all
        (429, "2", 1, 5.0, 2.0),
        (429, "3600", 1, 5.0, None),  # longer than the cap: handed back
        (429, "Mon, 30 Nov 2026 10:00:03 GMT", 1, 5.0, 3.0),
        (503, None, 1, 5.0, 0.5),  # plain backoff
        (503, None, 3, 5.0, 2.0),  # doubling
        (503, None, 9, 5.0, 5.0),  # capped
        (503, "3600", 1, 5.0, None),
        (502, "3600", 1, 5.0, 0.5),  # only 429 and 503 are read for Retry-After
        (0, None, 2, 5.0, 1.0),  # a connection that could not be opened
        (503, None, 1, 0.0, 0.0),  # the deadline is here: no waiting at all
    ],
)
def test_retry_delay(
    status: int, retry_after: str | None, retry: int, cap: float, wait: float | None
) -> None:
    assert retry_delay(status, retry_after, retry, backoff=0.5, cap=cap, now=NOW) == wait


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ("https://a.example/x", "https://a.example/y", True),
        ("https://a.example/x", "https://a.example:443/y", True),
        ("http://a.example/x", "https://a.example/y", True),  # the upgrade on default ports
        ("http://a.example:8080/x", "https://a.example/y", False),
        ("https://a.example/x", "http://a.example/y", False),  # a downgrade
        ("https://a.example/x", "https://b.example/y", False),
        ("http://127.0.0.1:5000/x", "http://127.0.0.1:5001/y", False),  # another server
    ],
)
def test_credentials_stay_with_their_origin(old: str, new: str, kept: bool) -> None:
    assert keeps_credentials(old, new) is kept


def test_headers_ignore_case_and_links_read_rfc_8288() -> None:
    headers = Headers(
        [
            ("ETag", '"v1"'),
            ("Link", '</v2/a/tags/list?n=2&last=b>; rel="next"'),
            ("link", "<https://x.example/p1>; rel=prev; title=first"),
        ]
    )
    response = Response(200, "OK", headers, b"{}", "https://x.example/v2/a/tags/list")
    assert headers["etag"] == headers["ETAG"] == '"v1"'
    assert response.links["next"]["url"] == "/v2/a/tags/list?n=2&last=b"
    assert response.links["prev"] == {"url": "https://x.example/p1", "rel": "prev",
                                      "title": "first"}  # fmt: skip


# --------------------------------------------------------------------------- connections


def test_one_connection_per_origin_is_kept_and_reused(http_stub: HttpStub) -> None:
    route = http_stub.get("https://ghcr.io/v2/", json={})
    other = http_stub.get("https://quay.io/v2/", json={})
    client = quick(http_stub)
    for _ in range(3):
        assert client.get("https://ghcr.io/v2/", timeout=5).status_code == 200
    assert client.get("https://quay.io/v2/", timeout=5).status_code == 200
    assert (route.call_count, other.call_count) == (3, 1)
    assert http_stub.accepted == 2  # ghcr.io once, quay.io once
    assert route.calls[0].host == "ghcr.io" and route.calls[0].url.startswith("https://")


class _ClosesAfterEachAnswer(BaseHTTPRequestHandler):
    """Answers keep-alive (HTTP/1.1, no ``Connection: close``), then closes anyway: a
    server whose idle timeout ran out between two of the client's requests."""

    protocol_version = "HTTP/1.1"
    answered = 0

    def do_GET(self) -> None:
        type(self).answered += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


def test_a_connection_the_server_closed_is_reopened_once() -> None:
    class Handler(_ClosesAfterEachAnswer):
        answered = 0

    accepted: list[int] = []
    with serving(Handler) as server:
        original = server.get_request

        def counting() -> tuple[socket.socket, object]:
            accepted.append(1)
            return original()

        server.get_request = counting  # type: ignore[method-assign]
        client = quick(retries=0)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        first = client.get(url, timeout=5)
        time.sleep(0.05)  # the server's close reaches the client's socket
        second = client.get(url, timeout=5)
    assert (first.content, second.content) == (b"ok", b"ok")
    assert Handler.answered == 2  # no request was sent twice
    assert len(accepted) == 2  # the stale connection was replaced, once


def test_a_gzip_body_is_asked_for_and_decoded(http_stub: HttpStub) -> None:
    import gzip

    index = b"apiVersion: v1\nentries: {}\n" * 100
    http_stub.get("https://charts.example/index.yaml", body=gzip.compress(index),
                  headers={"Content-Encoding": "gzip"})  # fmt: skip
    http_stub.get("https://charts.example/broken", body=b"not gzip",
                  headers={"Content-Encoding": "gzip"})  # fmt: skip
    client = quick(http_stub)
    assert client.get("https://charts.example/index.yaml", timeout=5).content == index
    assert http_stub.calls[0].headers["Accept-Encoding"] == "gzip"
    with pytest.raises(Unreachable):
        client.get("https://charts.example/broken", timeout=5)


# --------------------------------------------------------------------------- redirects


def test_a_redirect_keeps_authorization_on_its_origin_only(http_stub: HttpStub) -> None:
    http_stub.get("https://ghcr.io/a", status=307, headers={"Location": "/b"})
    http_stub.get("https://ghcr.io/b", status=302, headers={"Location": "https://cdn.example/c"})
    landed = http_stub.get("https://cdn.example/c", body="blob")
    response = quick(http_stub).get(
        "https://ghcr.io/a", headers={"Authorization": "Bearer t"}, timeout=5
    )
    assert (response.status_code, response.content) == (200, b"blob")
    assert response.url == "https://cdn.example/c"
    seen = [(c.url, c.headers.get("Authorization")) for c in http_stub.calls]
    assert seen == [
        ("https://ghcr.io/a", "Bearer t"),
        ("https://ghcr.io/b", "Bearer t"),
        ("https://cdn.example/c", None),
    ]
    assert landed.call_count == 1


def test_a_redirect_is_not_followed_when_not_asked(http_stub: HttpStub) -> None:
    http_stub.get("https://argo.example/api", status=302, headers={"Location": "/login"})
    response = quick(http_stub).get("https://argo.example/api", timeout=5, allow_redirects=False)
    assert response.status_code == 302 and len(http_stub.calls) == 1


# --------------------------------------------------------------------------- retries


def test_a_short_retry_after_is_waited_for_and_counted(http_stub: HttpStub) -> None:
    http_stub.get("https://ghcr.io/v2/", status=429, headers={"Retry-After": "1"})
    http_stub.get("https://ghcr.io/v2/", json={"ok": True})
    retries: list[float] = []
    client = quick(http_stub, on_retry=lambda: retries.append(time.monotonic()))
    started = time.monotonic()
    response = client.get("https://ghcr.io/v2/", timeout=5)
    answered = http_stub.calls[-1]
    assert response.json() == {"ok": True}
    assert len(retries) == 1 and len(http_stub.calls) == 2
    assert time.monotonic() - started >= 1.0  # it really waited
    assert answered.url == "https://ghcr.io/v2/"


@pytest.mark.parametrize("retry_after", ["3600", None])
def test_a_long_or_missing_retry_after_is_handed_back(
    http_stub: HttpStub, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    limited = http_stub.get("https://ghcr.io/v2/", status=429, headers=headers)
    retries: list[int] = []
    started = time.monotonic()
    response = quick(http_stub, retries=3, on_retry=lambda: retries.append(1)).get(
        "https://ghcr.io/v2/", timeout=5
    )
    assert response.status_code == 429 and response.headers.get("retry-after") == retry_after
    assert (limited.call_count, retries) == (1, [])
    assert time.monotonic() - started < 1.0


def test_a_retry_after_is_cut_to_the_deadline(http_stub: HttpStub) -> None:
    from bot.ports import Deadline

    limited = http_stub.get("https://ghcr.io/v2/", status=503, headers={"Retry-After": "4"})
    response = quick(http_stub, deadline=Deadline(2.0)).get("https://ghcr.io/v2/", timeout=5)
    assert response.status_code == 503 and limited.call_count == 1  # 4s would pass the run


def test_a_refused_connection_is_retried_then_transient(http_stub: HttpStub) -> None:
    http_stub.down("registry.example", how="refused")
    retries: list[int] = []
    client = quick(http_stub, on_retry=lambda: retries.append(1))
    with pytest.raises(HttpTransientError) as info:
        fetch_json(client, "https://registry.example/v2/", where="registry", timeout=2)
    assert info.value.kind is HttpErrorKind.TRANSIENT
    assert retries == [1, 1]  # both retries were granted and spent


# --------------------------------------------------------------------------- timeouts


def test_a_stalled_answer_times_out_once_and_is_not_retried(http_stub: HttpStub) -> None:
    stalled = http_stub.get("https://argo.example/api", json={}, delay=3.0)
    client = quick(http_stub, retries=3)
    started = time.monotonic()
    with pytest.raises(HttpTransientError) as info:
        fetch_json(client, "https://argo.example/api", where="Argo CD", timeout=0.3)
    assert info.value.kind is HttpErrorKind.TIMED_OUT
    assert stalled.call_count == 1
    assert time.monotonic() - started < 1.5


def test_a_connection_that_never_completes_times_out(http_stub: HttpStub) -> None:
    http_stub.down("argo.example", how="silent")
    started = time.monotonic()
    with pytest.raises(TimedOut):
        quick(http_stub).get("https://argo.example/api", timeout=(0.3, 5.0))
    assert time.monotonic() - started < 1.5  # the connect timeout, not the read one


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"))


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        send_json(self, 200, {})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_self_signed_certificate_is_permanent(tls_server: int) -> None:
    with pytest.raises(HttpPermanentError) as info:
        fetch_json(quick(), f"https://127.0.0.1:{tls_server}/", where="Argo CD", timeout=5)
    assert info.value.kind is HttpErrorKind.PERMANENT


def test_a_self_signed_certificate_is_accepted_when_trusted_or_unchecked(
    tls_server: int, certificate: tuple[Path, Path]
) -> None:
    url = f"https://127.0.0.1:{tls_server}/"
    trusted = quick(network=Network(ca_file=str(certificate[0])))
    assert fetch_json(trusted, url, where="Argo CD", timeout=5) == {}
    unchecked = quick()
    assert unchecked.get(url, timeout=5, verify=False).status_code == 200


# --------------------------------------------------------------------------- proxies


class _Proxy(socketserver.ThreadingTCPServer):
    """A forward proxy: ``CONNECT`` tunnels; an absolute-form request is forwarded when it
    names a loopback host and answered by the proxy itself otherwise, one request per
    connection. ``seen`` holds each request line and its ``Proxy-Authorization``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: _Proxy

    def handle(self) -> None:
        line = self.rfile.readline().decode().strip()
        headers: dict[str, str] = {}
        while (header := self.rfile.readline().decode().strip()) != "":
            name, _, value = header.partition(":")
            headers[name.strip()] = value.strip()
        self.server.seen.append((line, headers.pop("Proxy-Authorization", None)))
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            self._forward(method, target, headers)
            return
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                sink.close()

        threading.Thread(target=pipe, args=(upstream, self.connection), daemon=True).start()
        pipe(self.connection, upstream)

    def _forward(self, method: str, target: str, headers: dict[str, str]) -> None:
        parts = urlsplit(target)
        if parts.hostname != "127.0.0.1":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvia proxy")
            return
        upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        upstream.request(method, path, headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
        skip = {"connection", "content-length", "transfer-encoding", "keep-alive"}
        lines += [f"{k}: {v}" for k, v in answer.getheaders() if k.lower() not in skip]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        self.wfile.write("\r\n".join(lines).encode() + (b"" if method == "HEAD" else body))


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_https_goes_through_a_connect_tunnel_unless_no_proxy_names_the_host(
    proxy: _Proxy, tls_server: int
) -> None:
    at = f"http://u:p%40ss@127.0.0.1:{proxy.server_address[1]}"
    url = f"https://127.0.0.1:{tls_server}/"
    tunnelled = quick(network=Network(https_proxy=at, no_proxy="other.example"))
    assert tunnelled.get(url, timeout=5, verify=False).content == b"{}"
    assert [(line.split(" ")[:2], auth) for line, auth in proxy.seen] == [
        (["CONNECT", f"127.0.0.1:{tls_server}"], "Basic dTpwQHNz")
    ]
    direct = quick(network=Network(https_proxy=at, no_proxy="localhost,127.0.0.1"))
    assert direct.get(url, timeout=5, verify=False).content == b"{}"
    assert len(proxy.seen) == 1  # the bypassed host went direct


def test_plain_http_goes_to_the_proxy_in_absolute_form(proxy: _Proxy) -> None:
    at = f"127.0.0.1:{proxy.server_address[1]}"  # a proxy without a scheme means http
    client = quick(network=Network(http_proxy=at))
    response = client.get("http://charts.example/index.yaml", params={"v": "1"}, timeout=5)
    assert response.content == b"via proxy"
    assert proxy.seen == [("GET http://charts.example/index.yaml?v=1 HTTP/1.1", None)]


def test_the_cli_hands_the_environments_proxy_to_the_registry(
    tmp_path: Path, oci_registry: LocalRegistry, proxy: _Proxy
) -> None:
    at = f"http://127.0.0.1:{proxy.server_address[1]}"
    refresh = [sys.executable, "-m", "bot", "refresh", "warehouse", "flask-app"]
    with SandboxWorld(tmp_path / "world", registry=oci_registry, image_path="proxied/app") as w:
        w.push("1.0.0")
        tags = f"GET http://{oci_registry.host}/v2/proxied/app/tags/list"
        through = subprocess.run(refresh, cwd=w.checkout, env=w.env(HTTP_PROXY=at),
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        assert through.returncode == 0, through.stderr[-2000:]
        assert any(line.startswith(tags) for line, _ in proxy.seen)
        proxy.seen.clear()
        env = w.env(http_proxy=at, NO_PROXY=f"localhost,{oci_registry.host.split(':')[0]}")
        direct = subprocess.run(refresh, cwd=w.checkout, env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert direct.returncode == 0, direct.stderr[-2000:]
        assert not any(line.startswith(tags) for line, _ in proxy.seen)


def test_a_ca_bundle_that_is_not_a_file_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, oci_registry: LocalRegistry
) -> None:
    refresh = [sys.executable, "-m", "bot", "refresh", "warehouse", "flask-app"]
    with SandboxWorld(tmp_path / "world", registry=oci_registry, image_path="bundle/app") as w:
        w.push("1.0.0")

        def state() -> str:
            return subprocess.run(
                ["git", "ls-remote", "origin", "refs/heads/shunter/state"],
                cwd=w.checkout, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip

        before = state()
        w.push("1.1.0")  # something a run would record
        env = w.env(REQUESTS_CA_BUNDLE=str(tmp_path / "no-such-bundle.pem"))
        done = subprocess.run(refresh, cwd=w.checkout, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 2, done.stderr[-2000:]
        assert state() == before
        done = subprocess.run(refresh, cwd=w.checkout, env=w.env(), capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0 and state() != before  # the same run, variable unset

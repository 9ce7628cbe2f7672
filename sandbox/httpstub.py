"""A loopback HTTP server that answers as told: the test world's stand-in for the HTTP
services Shunter reads (registries, chart repositories, Argo CD, PagerDuty, health URLs).

Answers are registered by method and URL, as the client writes the URL
(``https://ghcr.io/v2/...``). The adapter under test gets :attr:`HttpStub.network`, whose
connection seam sends every host to this process over real sockets: requests cross a real
``http.client`` connection, headers and all. TLS is left out unless asked: the ``https``
origin is served in plain text on its own port, so the scheme the client chose is still
known. ``HttpStub(tls=True)`` serves it over TLS with a self-signed certificate (see
:func:`self_signed`), which the client's own TLS context checks: a client that verifies
refuses it, one told to skip verification talks.

Matching follows the ``responses`` library's habit: a route matches on method, scheme,
host, path and, when given, the query and some headers; when several routes match, the
first answers and is used up (a first that answered before steps aside for the next), so
``add(url, status=429)`` then ``add(url, json=...)`` answers the retry. A request no
route matches gets ``404`` and is kept in :attr:`HttpStub.unmatched`. Every request is
recorded (:attr:`HttpStub.calls`, :attr:`Route.calls`) with its headers and the ``Host``
it was meant for.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.adapters.http import Headers, Network

__all__ = ["Call", "HttpStub", "Route", "self_signed"]


@dataclass(frozen=True)
class Call:
    """One request as the server received it. ``url`` is rebuilt from the scheme the
    client connected for, the ``Host`` header and the request target."""

    method: str
    url: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: Headers


#: What a route's handler returns: status, headers, body.
Answer = tuple[int, Mapping[str, str], bytes]


@dataclass
class Route:
    """One registered answer and the requests it answered."""

    method: str
    scheme: str
    host: str
    path: str
    query: dict[str, list[str]] | None
    match_headers: Mapping[str, str]
    answer: Callable[[Call], Answer]
    delay: float = 0.0
    drop: bool = False
    calls: list[Call] = field(default_factory=list)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    def matches(self, scheme: str, call: Call) -> bool:
        return (
            (self.method, self.scheme, self.host, self.path)
            == (call.method, scheme, call.host, call.path)
            and (self.query is None or self.query == call.query)
            and all(call.headers.get(k) == v for k, v in self.match_headers.items())
        )


class _Loopback(http.client.HTTPConnection):
    """A connection that names ``host`` (in ``Host``) but reaches a loopback port."""

    def __init__(self, host: str, port: int, scheme: str, real: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.default_port = 443 if scheme == "https" else 80  # Host: omits default ports
        self._real = real

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self._real), self.timeout)


class _PinnedTls(http.client.HTTPSConnection):
    """A TLS connection for ``host`` (SNI, certificate check) that reaches a loopback port."""

    def __init__(
        self, host: str, port: int, real: int, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._real, self._tls = real, context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self._real), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a key and a self-signed certificate for ``host`` (an IP address or a name)
    into ``directory``; return (certificate, key) paths."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class HttpStub:
    """The server; a context manager. See the module docstring."""

    def __init__(self, *, tls: bool = False) -> None:
        self._tls = tls
        self._closed = False
        self.routes: list[Route] = []
        self.calls: list[Call] = []
        self.unmatched: list[Call] = []
        self.accepted = 0  # TCP connections accepted, both origins together
        self._down: dict[str, int] = {}
        self._spare: list[socket.socket] = []
        self._lock = threading.Lock()
        self._servers = {scheme: self._serve(scheme) for scheme in ("http", "https")}

    # ------------------------------------------------------------------ registering

    def add(
        self,
        method: str,
        url: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        json: Any = None,
        content_type: str | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        match_headers: Mapping[str, str] | None = None,
        handler: Callable[[Call], Answer] | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> Route:
        """Answer ``method url`` with ``status``, ``headers`` and ``body`` (or ``json``,
        sent as ``content_type`` or ``application/json``),
        or what ``handler`` returns; after ``delay`` seconds; or, with ``drop``, close the
        connection without a word. A query in ``url`` or ``query`` must equal the
        request's; ``match_headers`` must be among the request's headers."""
        parts = urlsplit(url)
        wanted = query if query is not None else (parse_qs(parts.query) if parts.query else None)
        if wanted is not None:
            wanted = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        if json is not None:
            body = jsonlib.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        data = body.encode() if isinstance(body, str) else body

        def fixed(call: Call) -> Answer:
            return status, sent, data

        route = Route(
            method=method.upper(),
            scheme=parts.scheme,
            host=parts.netloc,
            path=parts.path or "/",
            query=wanted,  # type: ignore[arg-type]
            match_headers=dict(match_headers or {}),
            answer=handler or fixed,
            delay=delay,
            drop=drop,
        )
        with self._lock:
            self.routes.append(route)
        return route

    def get(self, url: str, **options: Any) -> Route:
        return self.add("GET", url, **options)

    def head(self, url: str, **options: Any) -> Route:
        return self.add("HEAD", url, **options)

    def down(self, host: str, *, how: str = "refused") -> None:
        """Make ``host`` unreachable: ``refused`` (nothing listens) or ``silent`` (a
        listener whose queue is full, so a connection attempt times out)."""
        spare = socket.socket()
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
        if how == "silent":
            spare.listen(0)
            filler = socket.create_connection(("127.0.0.1", port))  # fills the queue
            self._spare += [spare, filler]
        else:
            spare.close()
        self._down[host] = port

    # ------------------------------------------------------------------ the client's side

    @property
    def network(self) -> Network:
        """Give this to the adapter: every host it asks is this server."""
        return Network(connect=self.connect)

    def connect(
        self, scheme: str, host: str, port: int, timeout: float, context: ssl.SSLContext | None
    ) -> http.client.HTTPConnection:
        """The connection seam of :class:`bot.adapters.http.Network` (TLS left out)."""
        named = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
        real = int(self._down.get(named) or self._servers[scheme].server_address[1])
        if scheme == "https" and self._tls:
            assert context is not None  # the client made one for its https URL
            return _PinnedTls(host, port, real, timeout, context)
        return _Loopback(host, port, scheme, real, timeout)

    def url(self, scheme: str = "http") -> str:
        """The real loopback address of one origin, for clients that take no seam."""
        return f"{scheme}://127.0.0.1:{self._servers[scheme].server_address[1]}"

    # ------------------------------------------------------------------ serving

    def _serve(self, scheme: str) -> ThreadingHTTPServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real services answer

            def do_GET(self) -> None:
                stub._answer(self, scheme)

            do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                pair = super().get_request()
                with stub._lock:
                    stub.accepted += 1
                return pair

        server = Server(("127.0.0.1", 0), Handler)
        if scheme == "https" and self._tls:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="httpstub-") as tmp:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*self_signed(Path(tmp)))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        # A short poll: shutdown() waits for it, once per test.
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def _answer(self, handler: BaseHTTPRequestHandler, scheme: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        target = urlsplit(handler.path)
        host = handler.headers.get("Host", "")
        call = Call(
            method=handler.command,
            url=f"{scheme}://{host}{handler.path}",
            host=host,
            path=target.path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=Headers(list(handler.headers.items())),
        )
        with self._lock:
            self.calls.append(call)
            found = [r for r in self.routes if r.matches(scheme, call)]
            if len(found) > 1:
                # Used up: a route that answered before steps aside for the next one; one
                # that has not answers now, once.
                self.routes.remove(found[0])
                if found[0].calls:
                    found.pop(0)
            route = found[0] if found else None
            if route is not None:
                route.calls.append(call)
            else:
                self.unmatched.append(call)
        answer: Answer
        if route is None:
            answer = (404, {}, b"no stub route for this request")
        else:
            if route.delay:
                time.sleep(route.delay)
            if route.drop:
                handler.close_connection = True
                return
            answer = route.answer(call)
        status, headers, body = answer
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            if "content-length" not in {k.lower() for k in headers}:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up waiting (a timeout test)

    def close(self) -> None:
        """Stop serving (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for spare in self._spare:
            spare.close()

    def __enter__(self) -> HttpStub:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

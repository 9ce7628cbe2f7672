"""Shunter's one HTTP toolkit: how every JSON/HTTP adapter reads answers and opens sessions.

The registry, Helm, Argo CD, PagerDuty and HTTP-check adapters share four things, so a
wire rule is written once:

* :func:`decipher` — a pure function from ``(status, headers, body)`` to data or a typed
  error, tested with plain tuples (the habit of gidgethub's ``sansio`` module);
* :func:`parse_retry_after` — the one reading of ``Retry-After`` (seconds or HTTP-date),
  and :func:`retry_delay`, the pure rule of what an answer's retry waits for;
* :func:`session` — the one way a :class:`Session` is opened;
* :class:`Session` — a small client on the standard library's ``http.client``. An idle
  ``refresh`` makes one conditional GET; ``requests`` and ``urllib3`` cost more to import
  (about 150 ms) than the whole request takes, so they are not used here.

The session keeps one idle connection per origin and reuses it; follows redirects of GET
and HEAD, sending ``Authorization`` only to the origin it was meant for; retries what
:func:`retry_delay` allows, never sleeping past ``max_wait`` or the run's deadline; and
raises :class:`NetworkError` kinds when no answer came (:class:`TlsRefused`,
:class:`TimedOut`, :class:`Unreachable`).

TLS uses ``ssl.create_default_context()``: the system's trust store, and OpenSSL's
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` variables. ``requests`` read ``REQUESTS_CA_BUNDLE``
instead; runners configured that way keep working because the CLI hands that file over as
:attr:`Network.ca_file`, which is trusted in addition to the system store. Proxies
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``, read by the CLI) travel in the same
:class:`Network`: https goes through a ``CONNECT`` tunnel, plain http in absolute form.

Errors carry an :class:`~bot.ports.HttpErrorKind` (declared with the ports, whose methods
raise them) and leave as ``bot.errors`` types::

    TransientError
    └── HttpTransientError   TRANSIENT (5xx, resets, unreadable bodies), RATE_LIMITED
                             (429, or 403 with a rate-limit signal; ``retry_after`` set
                             when the server said), TIMED_OUT, BUDGET (the run's request
                             budget for a host is spent)
    PermanentError
    └── HttpPermanentError   AUTH (401/403), NOT_FOUND (404/410), REDIRECTED (a 3xx
                             not followed), PERMANENT (other 4xx)
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from bot.ports import HttpErrorKind, HttpPermanentError, HttpTransientError, http_error

if TYPE_CHECKING:
    from bot.ports import Deadline

__all__ = [
    "NOT_MODIFIED",
    "HttpErrorKind",
    "HttpPermanentError",
    "HttpTransientError",
    "Network",
    "NetworkError",
    "Response",
    "Session",
    "TimedOut",
    "TlsRefused",
    "Unreachable",
    "api_session",
    "decipher",
    "http_error",
    "parse_retry_after",
    "retry_delay",
    "session",
]


class _NotModified:
    def __repr__(self) -> str:
        return "NOT_MODIFIED"


#: What :func:`decipher` returns for ``304 Not Modified``: the caller's cached copy holds.
NOT_MODIFIED: Any = _NotModified()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait, or ``None`` when absent or unreadable.

    Both forms of RFC 9110 section 10.2.3
    (https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3) are read: ``delay-seconds``
    (``120``) and an ``HTTP-date`` (``Wed, 21 Oct 2026 07:28:00 GMT``), the latter measured
    from ``now``. A date in the past means "now" (0.0); negative seconds are unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    from email.utils import parsedate_to_datetime  # only for the rare HTTP-date form

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _rate_limit_wait(headers: Mapping[str, str], now: datetime) -> tuple[bool, float | None]:
    """Whether the headers signal a rate limit, and the wait they ask for.

    ``Retry-After`` (RFC 9110) or GitHub's ``x-ratelimit-remaining: 0`` with
    ``x-ratelimit-reset`` in epoch seconds
    (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
    """
    wait = parse_retry_after(_header(headers, "retry-after"), now)
    if wait is not None:
        return True, wait
    if _header(headers, "x-ratelimit-remaining") == "0":
        reset = _header(headers, "x-ratelimit-reset") or ""
        if reset.isdigit():
            return True, max(int(reset) - now.timestamp(), 0.0)
        return True, None
    return False, None


_DEFAULT_HINTS: Mapping[HttpErrorKind, str] = {
    HttpErrorKind.TRANSIENT: "try again later",
    HttpErrorKind.RATE_LIMITED: "it is rate limiting requests; try again later",
    HttpErrorKind.AUTH: "check the credentials",
    HttpErrorKind.NOT_FOUND: "check the URL or name",
    HttpErrorKind.REDIRECTED: "use the final URL",
    HttpErrorKind.PERMANENT: "check the request",
}


def decipher(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    where: str,
    hints: Mapping[HttpErrorKind, str] | None = None,
    json_body: bool = True,
) -> Any:
    """Turn one HTTP answer into data, or raise the typed error it means.

    * 2xx: the JSON body (``None`` when empty), or the raw ``body`` with ``json_body=False``;
      a body that is not JSON is ``TRANSIENT`` (a proxy's error page, a cut connection).
    * 304: :data:`NOT_MODIFIED` (RFC 9110 section 15.4.5).
    * 429, and 403 with ``Retry-After`` or ``x-ratelimit-remaining: 0``: ``RATE_LIMITED``
      with ``retry_after`` in seconds when the server gave one.
    * 401, 403: ``AUTH``. 404, 410: ``NOT_FOUND``. 408: ``TIMED_OUT``.
    * 5xx: ``TRANSIENT`` (with ``retry_after`` when a 503 says when to come back).
    * other 3xx: ``REDIRECTED``, naming the ``Location``; other 4xx: ``PERMANENT``.

    The message reads ``<where> answered HTTP <status>; <hint>``; ``hints`` replaces the
    default advice per kind (naming the variable or key a person must fix). ``now`` dates a
    ``Retry-After`` written as an HTTP-date. Pure: no I/O, no clock.
    """
    if 200 <= status < 300:
        if not json_body:
            return body
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise http_error(
                HttpErrorKind.TRANSIENT,
                f"{where} answered HTTP {status} with a body that is not JSON; try again later",
                status=status,
            ) from None
    if status == 304:
        return NOT_MODIFIED
    # Status classes: RFC 9110 section 15 (https://www.rfc-editor.org/rfc/rfc9110#section-15);
    # 429: RFC 6585 section 4 (https://www.rfc-editor.org/rfc/rfc6585#section-4).
    limited, wait = _rate_limit_wait(headers, now)
    if status == 429 or (status == 403 and limited):
        kind = HttpErrorKind.RATE_LIMITED
    elif status in (401, 403):
        kind, wait = HttpErrorKind.AUTH, None
    elif status in (404, 410):
        kind, wait = HttpErrorKind.NOT_FOUND, None
    elif status == 408:
        kind, wait = HttpErrorKind.TIMED_OUT, None
    elif status >= 500:
        kind = HttpErrorKind.TRANSIENT
    elif 300 <= status < 400:
        kind, wait = HttpErrorKind.REDIRECTED, None
    else:
        kind, wait = HttpErrorKind.PERMANENT, None
    hint = (hints or {}).get(kind) or _DEFAULT_HINTS.get(kind, "")
    if kind is HttpErrorKind.RATE_LIMITED and wait is not None:
        hint = f"{hint} (it asks to wait {wait:g}s)"
    said = f"HTTP {status}"
    if kind is HttpErrorKind.REDIRECTED:
        said += f", redirected to {_header(headers, 'location') or '?'}"
    message = f"{where} answered {said}" + (f"; {hint}" if hint else "")
    raise http_error(kind, message, status=status, retry_after=wait)


def retry_delay(
    status: int,
    retry_after: str | None,
    retry: int,
    *,
    backoff: float,
    cap: float,
    now: datetime,
) -> float | None:
    """Seconds to wait before retry number ``retry`` (1, 2, ...) of an answer with
    ``status`` (one of the session's retried statuses), or ``None`` to hand it back.

    * A 429 or 503 naming a wait (``Retry-After``, RFC 9110 section 10.2.3) is retried
      after that wait only when it fits under ``cap`` (the session's ``max_wait`` and the
      run's deadline); a longer one goes back to the caller, which reports it.
    * A 429 naming no wait is never retried: after a rate limit nothing is retried blind
      (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately).
    * Anything else (``status`` 0: a connection that could not be opened) waits
      ``backoff * 2 ** (retry - 1)``, at most ``cap``.

    Pure: ``now`` dates a ``Retry-After`` written as an HTTP-date.
    """
    wait = parse_retry_after(retry_after, now) if status in (429, 503) else None
    if wait is not None:
        return wait if wait <= cap else None
    if status == 429:
        return None
    return max(min(backoff * 2.0 ** (retry - 1), cap), 0.0)


# ------------------------------------------------------------------ the transport


class NetworkError(Exception):
    """No HTTP answer came; ``str()`` says why, for messages."""


class TlsRefused(NetworkError):
    """The server's TLS certificate (or handshake) was refused."""


class TimedOut(NetworkError):
    """No connection or no answer within the timeout."""


class Unreachable(NetworkError):
    """The connection was refused, reset or cut, or the name did not resolve."""


class _Refused(Unreachable):
    """A connection could not be opened (refused, no route, no such name): retried, as
    nothing was sent."""


#: The test seam's signature; see :class:`Network`.
Opener = Callable[[str, str, int, float, "ssl.SSLContext | None"], http.client.HTTPConnection]


@dataclass(frozen=True)
class Network:
    """How connections are opened. The CLI fills the proxy fields and ``ca_file`` from
    the environment; everything else passes nothing.

    ``https_proxy`` / ``http_proxy`` are ``http://[user:pass@]host:port`` URLs (the
    proxy itself is spoken to in plain HTTP, port 80 unless given; user and password go
    as ``Proxy-Authorization: Basic``); ``no_proxy`` is the ``NO_PROXY`` list, read with
    ``urllib.request``'s rules.
    ``ca_file`` is trusted besides the system store. ``connect`` is the test world's
    seam: ``(scheme, host, port, connect timeout, TLS context or None)`` to an unopened
    connection, so a test can send ``https://ghcr.io/...`` to a loopback server;
    production leaves it ``None``.
    """

    https_proxy: str | None = None
    http_proxy: str | None = None
    no_proxy: str = ""
    ca_file: str | None = None
    connect: Opener | None = None


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case; repeated ones joined by ``, ``."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            old = self._items.get(name.lower())
            self._items[name.lower()] = (name, f"{old[1]}, {value}" if old else value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_PARAM_RE = re.compile(r';\s*([\w*-]+)\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True)
class Response:
    """One answer, its body read whole. ``url`` is the final URL after redirects."""

    status_code: int
    reason: str
    headers: Headers
    content: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header (RFC 8288) by ``rel``: ``links["next"]["url"]``."""
        out: dict[str, dict[str, str]] = {}
        for match in _LINK_RE.finditer(self.headers.get("Link", "")):
            params = {k.lower(): v for k, v in _PARAM_RE.findall(match.group(2))}
            out[params.get("rel") or match.group(1)] = {"url": match.group(1), **params}
        return out

    def close(self) -> None:
        """Nothing to release: the body was read and the connection went back to the pool."""


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_Key = tuple[str, str, int, bool]  # scheme, host, port, verify


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or (443 if scheme == "https" else 80)


def keeps_credentials(old_url: str, new_url: str) -> bool:
    """Whether ``Authorization`` may follow a redirect from ``old_url`` to ``new_url``:
    the same origin (RFC 9110 section 4.3.1: scheme, host and port), or the same host
    upgraded from http to https on the default ports. Another port may be another server."""
    old, new = _origin(old_url), _origin(new_url)
    if old == new:
        return True
    return old[1] == new[1] and (old[0], old[2], new[0], new[2]) == ("http", 80, "https", 443)


class Session:
    """A keep-alive HTTP/1.1 client. Thread-safe: each request holds its own connection.

    ``headers`` go with every request (a request's own override them). ``GET`` and
    ``HEAD`` answers with a status in ``statuses`` are retried up to ``retries`` times as
    :func:`retry_delay` allows, as are refused connections; a read timeout never is (a
    hung server would hold the run once per retry). ``on_retry`` is called for each retry
    granted. ``verify=False`` skips certificate checks (a request may say so too).
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        retries: int = 2,
        backoff: float = 0.2,
        statuses: tuple[int, ...] = (429, 502, 503, 504),
        max_wait: float = 30.0,
        deadline: Deadline | None = None,
        on_retry: Callable[[], None] | None = None,
        network: Network | None = None,
    ) -> None:
        # gzip as requests asked for it: a large Helm index is a tenth of its size so.
        self.headers = {"User-Agent": "shunter", "Accept-Encoding": "gzip", **headers}
        self.verify = True
        self._retries, self._backoff, self._statuses = retries, backoff, statuses
        self._max_wait, self._deadline, self._on_retry = max_wait, deadline, on_retry
        self._net = network or Network()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        # A session dropped without close() closes its idle sockets, as urllib3's pools do.
        weakref.finalize(self, _close_all, self._idle, self._lock)
        self._tls: dict[bool, ssl.SSLContext] = {}

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        timeout: float | tuple[float, float],
        allow_redirects: bool = True,
        verify: bool | None = None,
    ) -> Response:
        """Send one request and return its answer (any status). ``params`` (a mapping or
        pairs) are appended as a query. Raises :class:`NetworkError` when none came."""
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params, doseq=True)
        sent = {**self.headers, **(headers or {})}
        check = self.verify if verify is None else verify
        for _ in range(_MAX_REDIRECTS):
            response = self._with_retries(method, url, sent, timeout, check)
            location = response.headers.get("Location")
            if not (allow_redirects and method in ("GET", "HEAD") and location):
                return response
            if response.status_code not in _REDIRECTS:
                return response
            target = urljoin(url, location)
            if not keeps_credentials(url, target):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            url = target
        return response  # a redirect loop: the caller sees the 3xx and says so

    def close(self) -> None:
        """Close every idle connection; the session stays usable."""
        _close_all(self._idle, self._lock)

    # ------------------------------------------------------------------ internals

    def _with_retries(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float | tuple[float, float],
        verify: bool,
    ) -> Response:
        retry = 0
        while True:
            can_retry = method in ("GET", "HEAD") and retry < self._retries
            response: Response | None = None
            try:
                response = self._exchange(method, url, headers, timeout, verify)
                status, asked = response.status_code, response.headers.get("Retry-After")
            except _Refused:
                if not can_retry:
                    raise
                status, asked = 0, None
            if response is not None and not (can_retry and status in self._statuses):
                return response
            now = datetime.now(UTC)
            wait = retry_delay(status, asked, retry + 1, backoff=self._backoff, cap=self._cap(),
                               now=now)  # fmt: skip
            if wait is None and response is not None:
                return response  # its Retry-After is for the caller to report
            retry += 1
            if self._on_retry is not None:
                self._on_retry()  # counted only once the retry is granted
            time.sleep(wait or 0.0)

    def _cap(self) -> float:
        left = self._deadline.remaining() if self._deadline is not None else self._max_wait
        return max(min(self._max_wait, left), 0.0)

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float | tuple[float, float],
        verify: bool,
    ) -> Response:
        """One request on a pooled connection. A reused connection the server closed while
        idle fails on first use; an idempotent request then goes once more on a new one."""
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        scheme, host, port = _origin(url)
        key = (scheme, host, port, verify)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxied = self._proxy(scheme, parts.netloc)
        if proxied is not None and scheme == "http":
            target = url.split("#", 1)[0]  # absolute form (RFC 9112 section 3.2.2)
            headers = {**headers, **proxied[2]}  # a plain-http proxy reads its credentials here
        for conn, new in self._connections(key, connect, proxied):
            try:
                conn.sock.settimeout(read)  # connected with the connect timeout; now the read's
                conn.request(method, target, headers=headers)
                answer = conn.getresponse()
                body = answer.read()
            except TimeoutError:
                conn.close()
                raise TimedOut(f"no answer within {read:g}s") from None
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                if not new and method in _IDEMPOTENT:
                    continue  # a stale keep-alive connection: once more, on a new one
                raise Unreachable(_why(exc)) from None
            if answer.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.setdefault(key, []).append(conn)
            got = Headers(answer.getheaders())
            if got.get("Content-Encoding", "").strip().lower() == "gzip" and body:
                try:
                    body = zlib.decompress(body, 16 + zlib.MAX_WBITS)  # 16+: the gzip wrapper
                except zlib.error as exc:
                    raise Unreachable(f"a gzip body that does not decode ({exc})") from None
            return Response(answer.status, answer.reason or "", got, body, url)
        raise AssertionError("unreachable: a new connection is always tried")

    def _connections(
        self, key: _Key, connect: float, proxy: tuple[str, int, dict[str, str]] | None
    ) -> Iterator[tuple[http.client.HTTPConnection, bool]]:
        """An idle connection for ``key`` if there is one, then a new one (``True``)."""
        with self._lock:
            pooled = self._idle.get(key, [])
            conn = pooled.pop() if pooled else None
        if conn is not None and conn.sock is not None:
            yield conn, False
        yield self._open(key, connect, proxy), True

    def _open(
        self, key: _Key, connect: float, proxy: tuple[str, int, dict[str, str]] | None
    ) -> http.client.HTTPConnection:
        scheme, host, port, verify = key
        context = self._context(verify) if scheme == "https" else None
        conn: http.client.HTTPConnection
        if self._net.connect is not None:
            conn = self._net.connect(scheme, host, port, connect, context)
        elif context is not None:
            at = (proxy[0], proxy[1]) if proxy else (host, port)
            conn = http.client.HTTPSConnection(*at, timeout=connect, context=context)
            if proxy:
                conn.set_tunnel(host, port, headers=proxy[2])
        else:
            at = (proxy[0], proxy[1]) if proxy else (host, port)
            conn = http.client.HTTPConnection(*at, timeout=connect)
        try:
            conn.connect()
        except ssl.SSLError as exc:
            conn.close()
            raise TlsRefused(f"{type(exc).__name__}: {exc.reason or exc}") from None
        except TimeoutError:
            conn.close()
            raise TimedOut(f"no connection within {connect:g}s") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _Refused(_why(exc)) from None
        return conn

    def _context(self, verify: bool) -> ssl.SSLContext:
        # Built on first https use only: loading the trust store costs milliseconds.
        if verify not in self._tls:
            context = ssl.create_default_context()
            if verify and self._net.ca_file:
                context.load_verify_locations(self._net.ca_file)
            if not verify:  # the user's insecureSkipTLSVerify, for one registry host
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls[verify] = context
        return self._tls[verify]

    def _proxy(self, scheme: str, netloc: str) -> tuple[str, int, dict[str, str]] | None:
        """The proxy's (host, port, headers) for this origin, or ``None`` to go direct."""
        proxy = self._net.https_proxy if scheme == "https" else self._net.http_proxy
        if not proxy:
            return None
        # Only when a proxy is set; typeshed leaves this (long-standing) helper out.
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

        if self._net.no_proxy and proxy_bypass_environment(netloc, {"no": self._net.no_proxy}):
            return None
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        headers = {}
        if parts.username is not None:
            import base64

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return parts.hostname or "", parts.port or 80, headers


def _close_all(idle: dict[_Key, list[http.client.HTTPConnection]], lock: threading.Lock) -> None:
    with lock:
        conns = [conn for pooled in idle.values() for conn in pooled]
        idle.clear()
    for conn in conns:
        conn.close()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


#: The one session builder every adapter calls: ``session(headers, retries=..., ...)``.
session = Session


def fetch_json(
    client: Session,
    url: str,
    *,
    where: str,
    timeout: float,
    deadline: Deadline | None = None,
    params: Any = None,
    hints: Mapping[HttpErrorKind, str] | None = None,
    unreachable: str = "try again later",
) -> Any:
    """``GET url`` without following redirects and :func:`decipher` the answer.

    The wait is ``timeout``, or less when the ``deadline`` is nearer. A refused TLS
    certificate is ``PERMANENT``, no answer in time ``TIMED_OUT``, any other network
    failure ``TRANSIENT`` (``unreachable`` says what to check).
    """
    wait = deadline.timeout(timeout) if deadline is not None else timeout
    try:
        response = client.get(url, params=params, timeout=wait, allow_redirects=False)
    except TlsRefused as exc:
        raise http_error(
            HttpErrorKind.PERMANENT,
            f"{where}: the TLS certificate was refused ({exc}); fix the "
            "server's certificate or the URL",
        ) from None
    except TimedOut:
        raise http_error(
            HttpErrorKind.TIMED_OUT,
            f"{where} did not answer within {wait:g}s (timed out); try again later",
        ) from None
    except NetworkError as exc:
        raise http_error(
            HttpErrorKind.TRANSIENT,
            f"{where} could not be reached ({exc}); {unreachable}",
        ) from None
    return decipher(
        response.status_code,
        response.headers,
        response.content,
        now=datetime.now(UTC),
        where=where,
        hints=hints,
    )


def api_session(
    headers: dict[str, str], *, deadline: Deadline | None = None, network: Network | None = None
) -> Session:
    """The session of Shunter's small JSON API clients (Argo CD, PagerDuty): retries a GET
    twice, briefly, on 502/503/504, and a 429 only when its ``Retry-After`` fits."""
    return session(headers, retries=2, backoff=0.2, max_wait=5.0, deadline=deadline,
                   network=network)  # fmt: skip

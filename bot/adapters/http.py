"""Shunter's one HTTP toolkit: how every JSON/HTTP adapter reads answers and opens sessions.

The registry, Helm, Argo CD, PagerDuty and HTTP-check adapters share three things, so a
wire rule is written once:

* :func:`decipher` — a pure function from ``(status, headers, body)`` to data or a typed
  error, tested with plain tuples (the habit of gidgethub's ``sansio`` module);
* :func:`parse_retry_after` — the one reading of ``Retry-After`` (seconds or HTTP-date);
* :func:`session` — the one way a ``requests`` session is opened, with a retry policy that
  never sleeps past the run's :class:`~bot.ports.Deadline` and never retries a rate limit
  blind.

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

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from bot.ports import HttpErrorKind, HttpPermanentError, HttpTransientError, http_error

if TYPE_CHECKING:
    import requests
    from urllib3.util.retry import Retry

    from bot.ports import Deadline

__all__ = [
    "NOT_MODIFIED",
    "HttpErrorKind",
    "HttpPermanentError",
    "HttpTransientError",
    "api_session",
    "decipher",
    "http_error",
    "parse_retry_after",
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


def retry_policy(
    *,
    retries: int,
    backoff: float,
    statuses: tuple[int, ...],
    max_wait: float,
    deadline: Deadline | None = None,
    on_retry: Callable[[], None] | None = None,
) -> Retry:
    """A urllib3 ``Retry`` for idempotent requests (``GET``/``HEAD``) that:

    * sleeps for a ``Retry-After`` only when it fits under ``max_wait`` and the run's
      ``deadline``; a longer one is not waited for, and the answer goes back to the caller,
      which reports it with its ``retry_after``;
    * never retries a 429 that names no wait: after a rate limit, nothing is retried blind
      (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately);
    * does not retry a read timeout (a hung server would hold the run for each retry);
    * calls ``on_retry`` for each retry it grants, so callers count real attempts.
    """
    from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    if TYPE_CHECKING:
        from types import TracebackType

        from urllib3.connectionpool import ConnectionPool
        from urllib3.response import BaseHTTPResponse

    def cap() -> float:
        left = deadline.remaining() if deadline is not None else max_wait
        return max(min(max_wait, left), 0.0)

    class _Policy(Retry):
        def get_retry_after(self, response: Any) -> float | None:
            try:
                value = super().get_retry_after(response)
            except InvalidHeader:  # a junk Retry-After: fall back to plain backoff
                return None
            return None if value is None else min(value, cap())

        def get_backoff_time(self) -> float:
            return min(super().get_backoff_time(), cap())

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: BaseHTTPResponse | None = None,
            error: Exception | None = None,
            _pool: ConnectionPool | None = None,
            _stacktrace: TracebackType | None = None,
        ) -> Self:
            if response is not None and response.status in (403, 429, 503):
                wait = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
                if (wait is None and response.status != 503) or (wait is not None and wait > cap()):
                    # Give the answer back (raise_on_status is off): its Retry-After says
                    # how long this host wants to be left alone.
                    raise MaxRetryError(_pool, url or "", ResponseError("rate limited"))  # type: ignore[arg-type]
            new = super().increment(method, url, response, error, _pool, _stacktrace)
            if on_retry is not None:
                on_retry()  # counted only once the retry is granted (not on exhaustion)
            return new

    return _Policy(
        total=retries,
        read=False,  # a read timeout is raised as such (urllib3 re-raises it), never retried
        status_forcelist=statuses,
        allowed_methods=frozenset({"GET", "HEAD"}),
        backoff_factor=backoff,
        backoff_max=max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def session(
    headers: Mapping[str, str],
    *,
    retries: int = 2,
    backoff: float = 0.2,
    statuses: tuple[int, ...] = (429, 502, 503, 504),
    max_wait: float = 30.0,
    deadline: Deadline | None = None,
    on_retry: Callable[[], None] | None = None,
) -> requests.Session:
    """A ``requests`` session sending ``headers`` (and ``User-Agent: shunter``) whose
    ``GET``/``HEAD`` requests follow :func:`retry_policy`. Callers pass a timeout on every
    request (``Deadline.timeout``); a session has none of its own."""
    import requests
    from requests.adapters import HTTPAdapter

    class _Session(requests.Session):
        def should_strip_auth(self, old_url: str, new_url: str) -> bool:
            # Credentials stay with the origin that was asked (RFC 9110 section 4.3.1:
            # scheme, host and port). requests keeps them across a port change on the same
            # host name; a redirect to another port may be another server, so it strips.
            old, new = urlsplit(old_url), urlsplit(new_url)
            if (old.scheme, old.hostname, old.port) == (new.scheme, new.hostname, new.port):
                return False
            upgrade = (old.scheme, new.scheme) == ("http", "https") and (
                old.port in (80, None) and new.port in (443, None)
            )
            return not (upgrade and old.hostname == new.hostname)

    s = _Session()
    s.headers["User-Agent"] = "shunter"
    s.headers.update(headers)
    adapter = HTTPAdapter(
        max_retries=retry_policy(
            retries=retries,
            backoff=backoff,
            statuses=statuses,
            max_wait=max_wait,
            deadline=deadline,
            on_retry=on_retry,
        )
    )
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s


def fetch_json(
    client: requests.Session,
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
    import requests

    wait = deadline.timeout(timeout) if deadline is not None else timeout
    try:
        response = client.get(url, params=params, timeout=wait, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        raise http_error(
            HttpErrorKind.PERMANENT,
            f"{where}: the TLS certificate was refused ({type(exc).__name__}); fix the "
            "server's certificate or the URL",
        ) from None
    except requests.exceptions.Timeout:
        raise http_error(
            HttpErrorKind.TIMED_OUT,
            f"{where} did not answer within {wait:g}s (timed out); try again later",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise http_error(
            HttpErrorKind.TRANSIENT,
            f"{where} could not be reached ({type(exc).__name__}); {unreachable}",
        ) from None
    return decipher(
        response.status_code,
        response.headers,
        response.content,
        now=datetime.now(UTC),
        where=where,
        hints=hints,
    )


def api_session(headers: dict[str, str], *, deadline: Deadline | None = None) -> requests.Session:
    """The session of Shunter's small JSON API clients (Argo CD, PagerDuty): retries a GET
    twice, briefly, on 502/503/504, and a 429 only when its ``Retry-After`` fits."""
    return session(headers, retries=2, backoff=0.2, max_wait=5.0, deadline=deadline)

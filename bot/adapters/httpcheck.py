"""Plain HTTP checks: a stage's ``spec.health.http`` and an AnalysisTemplate's ``spec.http``.

Both call one URL once and compare the response's status code with the expected ones
(status codes per RFC 9110 section 15, https://www.rfc-editor.org/rfc/rfc9110#section-15).
Redirects are not followed: a health endpoint that redirects (to a login page, say) is
reported with its own status rather than the page it points at.

The outside world failing is the answer here, not an error: an unreachable service is an
unhealthy one, so these functions return reports and raise nothing for HTTP failures.
Messages show the URL without its query string or user info, which may hold secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bot.core.decide.observations import HealthReport, StepRun
from bot.core.model import HttpCheck, HttpHealth
from bot.ports import Deadline

if TYPE_CHECKING:
    from bot.adapters.http import Network, Response, Session

__all__ = ["MAX_CHECK_TIMEOUT", "HttpProber", "http_check", "http_health"]

#: The longest one verification call may take. A template's ``timeout`` bounds the whole
#: verification (the planner fails the step after it); one request should not hold a run.
MAX_CHECK_TIMEOUT = 30.0


def shown(url: str) -> str:
    """``url`` without user info, query or fragment: safe to print in a PR or a log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _expected(statuses: tuple[int, ...]) -> str:
    return " or ".join(str(s) for s in statuses)


def _call(
    method: str,
    url: str,
    headers: tuple[tuple[str, str], ...],
    timeout: float,
    session: Session | None = None,
) -> Response | str:
    """The response, or a sentence saying why there is none. One attempt, no retries: a
    check is repeated by the next round, not here."""
    from bot.adapters.http import TimedOut, TlsRefused, Unreachable
    from bot.adapters.http import session as new_session

    try:
        return (session or new_session({}, retries=0)).request(
            method,
            url,
            headers=dict(headers),
            timeout=(timeout, timeout),
            allow_redirects=False,
        )
    except TlsRefused:
        return "the TLS certificate was refused"
    except TimedOut:
        return f"no answer within {timeout:g}s"
    except Unreachable:
        return "could not connect"


def _status(response: Response) -> str:
    reason = (response.reason or "").strip()
    return f"{response.status_code} {reason}" if reason else str(response.status_code)


def http_health(
    check: HttpHealth, *, session: Session | None = None, deadline: Deadline | None = None
) -> HealthReport:
    """Return whether ``GET check.url`` answers one of ``check.expect_status`` now.

    The call may take ``check.timeout``. The message reads like ``GET
    https://dev.example.com/healthz: 503 Service Unavailable (expected 200)``; an
    unreachable URL or a timeout is an unhealthy report, not an error. ``revision`` is
    never known. Raises nothing for HTTP failures.
    """
    timeout = check.timeout.total_seconds()
    if deadline is not None:
        timeout = deadline.timeout(timeout)
    where = f"GET {shown(check.url)}"
    response = _call("GET", check.url, (), timeout, session)
    if isinstance(response, str):
        return HealthReport(False, f"{where}: {response}")
    response.close()
    healthy = response.status_code in check.expect_status
    message = f"{where}: {_status(response)}"
    if not healthy:
        message += f" (expected {_expected(check.expect_status)})"
    return HealthReport(healthy, message)


def http_check(
    check: HttpCheck,
    *,
    timeout: float,
    session: Session | None = None,
    deadline: Deadline | None = None,
) -> StepRun:
    """Call ``check.url`` once with its method and headers; return the step's state.

    ``succeeded`` when the status is one of ``check.expect_status``. ``running`` (try
    again next round, until the template's timeout fails the step) when the service is
    not answering properly yet: no connection, a timeout, 429 or a 5xx it was not
    expected to give, as right after a rollout. ``failed`` for any other status. One
    call waits at most ``timeout`` seconds, capped at ``MAX_CHECK_TIMEOUT``. The
    returned ``step`` is ``"http"``; the caller names it. Raises nothing for HTTP
    failures.
    """
    wait = max(min(timeout, MAX_CHECK_TIMEOUT), 0.1)
    if deadline is not None:
        wait = deadline.timeout(wait)
    where = f"{check.method} {shown(check.url)}"
    response = _call(check.method, check.url, check.headers, wait, session)
    if isinstance(response, str):
        return StepRun("http", "running", f"{where}: {response}; will try again")
    response.close()
    code = response.status_code
    if code in check.expect_status:
        return StepRun("http", "succeeded", f"{where}: {_status(response)}")
    expected = f"expected {_expected(check.expect_status)}"
    if code == 429 or code >= 500:
        return StepRun(
            "http", "running", f"{where}: {_status(response)} ({expected}); will try again"
        )
    return StepRun("http", "failed", f"{where}: {_status(response)} ({expected})")


class HttpProber:
    """:class:`bot.ports.HttpProbe` over :func:`http_health` and :func:`http_check`, with
    one session (no retries) and every call bounded by the run's ``deadline``; ``network``
    carries the proxy settings (and, in tests, the loopback seam)."""

    def __init__(self, *, deadline: Deadline | None = None, network: Network | None = None) -> None:
        from bot.adapters.http import session

        self._deadline = deadline
        self._session = session({}, retries=0, network=network)

    def health(self, check: HttpHealth) -> HealthReport:
        """See :func:`http_health`."""
        return http_health(check, session=self._session, deadline=self._deadline)

    def run(self, check: HttpCheck, *, timeout: float) -> StepRun:
        """See :func:`http_check`."""
        return http_check(check, timeout=timeout, session=self._session, deadline=self._deadline)

"""The PagerDuty adapter: the open incidents that block a ``NoActiveIncidents`` condition.

It reads ``GET /incidents`` of the PagerDuty REST API v2
(https://developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents), authenticated
with a REST API key (``Authorization: Token token=...``,
https://developer.pagerduty.com/docs/authentication) and paged with ``limit``/``offset``
until ``more`` is false (https://developer.pagerduty.com/docs/pagination). From each
incident it reads ``incident_number``, ``title``, ``status`` and ``service.summary``.

Failures leave this module only as ``bot.errors`` types:

* 401, 403, 404, other 4xx -> ``PermanentError`` (fix the key or the API URL);
* 429 (rate limits, https://developer.pagerduty.com/docs/rest-api-rate-limits), 5xx after
  retries, timeouts, refused connections, bodies that are not an incident list ->
  ``TransientError``.

No message ever contains the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import PermanentError, TransientError

if TYPE_CHECKING:
    import requests

__all__ = ["PagerDutyClient"]

ACCEPT = "application/vnd.pagerduty+json;version=2"
# Incidents that are neither resolved: both still mean someone is fighting a fire.
ACTIVE_STATUSES = ("triggered", "acknowledged")
# The API's largest page (see the pagination guide); few pages even on a bad day.
PAGE_SIZE = 100
# Classic pagination stops at offset 10,000; far more than any gate needs to say "no".
_MAX_PAGES = 100


class PagerDutyClient:
    """Lists open PagerDuty incidents with one REST API key.

    Every call waits at most ``timeout`` seconds to connect and to read; 502/503/504 and
    connection failures are retried twice with a short backoff.
    """

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str = "https://api.pagerduty.com",
        timeout: float = 10.0,
        token_env: str = "PAGERDUTY_TOKEN",  # noqa: S107 - the name of an env var
    ) -> None:
        from bot.adapters.http import api_session

        self._api = api_url.rstrip("/")
        self._timeout = timeout
        self._token_env = token_env
        self._has_token = bool(token)
        headers = {"Accept": ACCEPT}
        if token:
            headers["Authorization"] = f"Token token={token}"
        self._session = api_session(headers)

    def active_incidents(self, service_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Return one line per triggered or acknowledged incident, in PagerDuty's order.

        Each line reads ``#<incident_number> <title> (<service summary>)``. With
        ``service_ids`` only those services' incidents count; with none, every incident
        the key can see. An empty tuple means no open incident.

        Raises ``PermanentError`` (no key given: the message names ``token_env``; key
        refused; wrong API URL) or ``TransientError`` (429, 5xx, timeouts, answers that
        are not an incident list). Without a key no request is made.
        """
        if not self._has_token:
            raise PermanentError(
                f"set {self._token_env} to a PagerDuty REST API key (a repository secret)"
            )
        out: list[str] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            params: list[tuple[str, str | int]] = [("statuses[]", s) for s in ACTIVE_STATUSES]
            params += [("service_ids[]", s) for s in service_ids]
            params += [("limit", PAGE_SIZE), ("offset", offset)]
            body = self._get("/incidents", params)
            incidents = body.get("incidents") if isinstance(body, dict) else None
            if not isinstance(incidents, list):
                raise TransientError(
                    f"PagerDuty at {self._host} answered without an incident list; check "
                    "integrations.pagerduty.apiURL or try again later"
                )
            for incident in incidents:
                if isinstance(incident, dict) and incident.get("status") in ACTIVE_STATUSES:
                    out.append(_describe(incident))
            if not body.get("more") or not incidents:
                break
            offset += len(incidents)
        return tuple(out)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    @property
    def _host(self) -> str:
        return urlsplit(self._api).netloc or self._api

    def _get(self, path: str, params: list[tuple[str, str | int]]) -> Any:
        import requests

        where = f"PagerDuty at {self._host}"
        try:
            response = self._session.get(
                self._api + path,
                params=params,
                timeout=(self._timeout, self._timeout),
                allow_redirects=False,
            )
        except requests.exceptions.Timeout:
            raise TransientError(
                f"{where} did not answer within {self._timeout:g}s; try again later"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(
                f"{where} could not be reached ({type(exc).__name__}); check "
                "integrations.pagerduty.apiURL or try again later"
            ) from None
        code = response.status_code
        if code in (401, 403):
            raise PermanentError(
                f"{where} refused the API key (HTTP {code}): set the key's environment "
                "variable (integrations.pagerduty.tokenEnv, default PAGERDUTY_TOKEN) to a "
                "REST API key that may read incidents"
            )
        if code == 404:
            raise PermanentError(
                f"{where} has no incidents endpoint (HTTP 404): check "
                "integrations.pagerduty.apiURL (default https://api.pagerduty.com)"
            )
        if code == 429:
            raise TransientError(
                f"{where} is rate limiting requests (HTTP 429); try again later",
                retry_after=_retry_after(response),
            )
        if code >= 500:
            raise TransientError(f"{where} failed (HTTP {code}); try again later")
        if code != 200:
            raise PermanentError(f"{where} refused the incident query (HTTP {code})")
        try:
            return response.json()
        except ValueError:
            return None


def _retry_after(response: requests.Response) -> float | None:
    # Numeric seconds only (RFC 9110 section 10.2.3); PagerDuty sends no dates.
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _describe(incident: dict[str, Any]) -> str:
    number = incident.get("incident_number")
    title = str(incident.get("title") or incident.get("summary") or "untitled").strip()
    service = incident.get("service")
    summary = service.get("summary") if isinstance(service, dict) else None
    text = f"#{number} {title}" if number is not None else title
    return f"{text} ({summary})" if summary else text

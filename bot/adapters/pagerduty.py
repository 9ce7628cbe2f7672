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

from bot.adapters.http import HttpErrorKind, fetch_json, http_error
from bot.errors import TransientError
from bot.ports import Deadline

if TYPE_CHECKING:
    from bot.adapters.http import Network

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
    connection failures are retried twice with a short backoff. ``network`` carries the
    proxy settings (and, in tests, the loopback seam).
    """

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str = "https://api.pagerduty.com",
        timeout: float = 10.0,
        token_env: str = "PAGERDUTY_TOKEN",  # noqa: S107 - the name of an env var
        deadline: Deadline | None = None,
        network: Network | None = None,
    ) -> None:
        from bot.adapters.http import api_session

        self._api = api_url.rstrip("/")
        self._timeout = timeout
        self._token_env = token_env
        self._has_token = bool(token)
        headers = {"Accept": ACCEPT}
        if token:
            headers["Authorization"] = f"Token token={token}"
        self._deadline = deadline
        self._session = api_session(headers, deadline=deadline, network=network)

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
            raise http_error(
                HttpErrorKind.AUTH,
                f"set {self._token_env} to a PagerDuty REST API key (a repository secret)",
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
        # Status codes: https://developer.pagerduty.com/docs/rest-api-v2/errors
        return fetch_json(
            self._session,
            self._api + path,
            params=params,
            where=f"PagerDuty at {self._host}",
            timeout=self._timeout,
            deadline=self._deadline,
            unreachable="check integrations.pagerduty.apiURL or try again later",
            hints={
                HttpErrorKind.AUTH: "it refused the API key: set the key's environment "
                f"variable (integrations.pagerduty.tokenEnv, now {self._token_env}) to a "
                "REST API key that may read incidents",
                HttpErrorKind.NOT_FOUND: "it has no incidents endpoint: check "
                "integrations.pagerduty.apiURL (default https://api.pagerduty.com)",
                HttpErrorKind.PERMANENT: "it refused the incident query",
            },
        )


def _describe(incident: dict[str, Any]) -> str:
    number = incident.get("incident_number")
    title = str(incident.get("title") or incident.get("summary") or "untitled").strip()
    service = incident.get("service")
    summary = service.get("summary") if isinstance(service, dict) else None
    text = f"#{number} {title}" if number is not None else title
    return f"{text} ({summary})" if summary else text

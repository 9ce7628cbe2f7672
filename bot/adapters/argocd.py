"""The Argo CD adapter: one application's health and sync status, for ``spec.health.argocd``.

It reads ``GET /api/v1/applications/{name}`` of the Argo CD API server, whose answer is a
``v1alpha1Application`` as described by the server's Swagger document
(https://github.com/argoproj/argo-cd/blob/master/assets/swagger.json, served by every
server at ``/swagger.json``; overview at
https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/). Only these fields
are read: ``status.health.status``, ``status.sync.status``, ``status.sync.revision`` and
``status.operationState.phase``/``message``.

Failures leave this module only as ``bot.errors`` types:

* 401, 403, 404, other 4xx, a refused TLS certificate -> ``PermanentError`` (a person
  fixes the token, the app name or the server URL);
* 429, 5xx after retries, timeouts, refused connections, bodies that are not an
  Application -> ``TransientError`` (the next run may succeed).

No message ever contains the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from bot.adapters.http import HttpErrorKind, fetch_json
from bot.core.decide.observations import HealthReport
from bot.core.model import ArgoCDHealth
from bot.errors import TransientError
from bot.ports import Deadline

if TYPE_CHECKING:
    from bot.adapters.http import Network

__all__ = ["ArgoCD", "ArgoCDApplications"]


class ArgoCD:
    """Reads application status from one Argo CD API server.

    ``server`` is the server's base URL (``https://argocd.example.com``); ``token`` an API
    token sent as ``Authorization: Bearer`` (``None``: anonymous, for servers that allow
    it). Every call waits at most ``timeout`` seconds to connect and to read; 502/503/504
    and connection failures are retried twice with a short backoff.
    """

    def __init__(
        self,
        server: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        verify_tls: bool = True,
        deadline: Deadline | None = None,
        network: Network | None = None,
    ) -> None:
        from bot.adapters.http import api_session

        self._server = server.rstrip("/")
        self._timeout = timeout
        self._deadline = deadline
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._session = api_session(headers, deadline=deadline, network=network)
        self._session.verify = verify_tls

    @property
    def _host(self) -> str:
        return urlsplit(self._server).netloc or self._server

    def health(self, check: ArgoCDHealth) -> HealthReport:
        """Return the application's health now.

        Healthy only when ``status.health.status`` is ``Healthy`` and ``status.sync.status``
        is ``Synced``; the message reads like ``Argo CD app flask-app-dev: Degraded,
        OutOfSync`` (plus a failed or running sync operation's message), and ``revision``
        is ``status.sync.revision`` (the git commit Argo CD last synced to).

        Raises ``PermanentError`` when the token is refused (naming ``check.token_env``),
        the application is not found, or the server URL is wrong; ``TransientError`` on
        429, 5xx, timeouts, refused connections and answers that are not an Application.
        """
        url = f"{self._server}/api/v1/applications/{quote(check.app, safe='')}"
        params = {"appNamespace": check.namespace} if check.namespace else None
        body = self._get(url, params, check)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, dict):
            raise TransientError(
                f"Argo CD at {self._host} answered for app {check.app} without an "
                "Application status; check that server is the Argo CD API server's URL"
            )
        health = _field(status, "health", "status") or "Unknown"
        sync = _field(status, "sync", "status") or "Unknown"
        revision = _field(status, "sync", "revision")
        message = f"Argo CD app {check.app}: {health}, {sync}"
        phase = _field(status, "operationState", "phase")
        if phase in ("Running", "Failed", "Error"):
            detail = _field(status, "operationState", "message")
            message += f" (sync {phase.lower()}" + (f": {detail})" if detail else ")")
        return HealthReport(
            healthy=health == "Healthy" and sync == "Synced",
            message=message,
            revision=revision or None,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    def _get(self, url: str, params: dict[str, str] | None, check: ArgoCDHealth) -> Any:
        app = f"app {check.app}" + (f" in namespace {check.namespace}" if check.namespace else "")
        # The API's answers: https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/
        return fetch_json(
            self._session,
            url,
            params=params,
            where=f"Argo CD at {self._host}",
            timeout=self._timeout,
            deadline=self._deadline,
            unreachable="check the server URL or try again later",
            hints={
                # Argo CD answers 403 "permission denied" for an app the token may not see,
                # whether or not it exists, so both causes are named.
                HttpErrorKind.AUTH: f"it refused to show {app}: set {check.token_env} to an "
                "Argo CD API token whose role may get this application, and check the name",
                HttpErrorKind.NOT_FOUND: f"it has no {app}: check health.argocd.app"
                + (", namespace" if check.namespace else "")
                + " and server (the Argo CD API server's URL, without /api)",
                HttpErrorKind.REDIRECTED: "write the final URL as health.argocd.server",
                HttpErrorKind.PERMANENT: f"it refused the request for {app}",
            },
        )


def _field(status: dict[str, Any], part: str, key: str) -> str | None:
    section = status.get(part)
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, str) else None


class ArgoCDApplications:
    """:class:`bot.ports.ApplicationHealth` for every Argo CD server a config names.

    ``tokens`` maps the environment variable a check names (``health.argocd.tokenEnv``) to
    its value; the CLI reads the environment once and hands over only those variables, so
    the tokens live here and nowhere else in the loop. A check whose variable is unset is
    asked anonymously (some servers allow it; others answer 401, which names the
    variable). One client per (server, variable) is kept for the life of the instance.
    ``network`` carries the proxy settings (and, in tests, the loopback seam).
    """

    def __init__(
        self,
        tokens: dict[str, str],
        *,
        timeout: float = 10.0,
        deadline: Deadline | None = None,
        network: Network | None = None,
    ) -> None:
        self._tokens = dict(tokens)
        self._network = network
        self._timeout = timeout
        self._deadline = deadline
        self._clients: dict[tuple[str, str], ArgoCD] = {}

    def health(self, check: ArgoCDHealth) -> HealthReport:
        """See :meth:`ArgoCD.health`."""
        key = (check.server, check.token_env)
        client = self._clients.get(key)
        if client is None:
            client = ArgoCD(
                check.server,
                self._tokens.get(check.token_env),
                timeout=self._timeout,
                deadline=self._deadline,
                network=self._network,
            )
            self._clients[key] = client
        return client.health(check)

    def close(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            client.close()

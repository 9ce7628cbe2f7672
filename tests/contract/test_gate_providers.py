"""The gate providers' contracts (Argo CD, PagerDuty, HTTP probes), each run against the
shared fake and the real adapter talking to a loopback server that answers in the
service's published shape. The two sides get the same world; they must agree on every
value a gate reads (healthy, revision, how many incidents, a step's state) and on the
kind of every failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.adapters.argocd import ArgoCDApplications
from bot.adapters.http import HttpErrorKind
from bot.adapters.httpcheck import HttpProber
from bot.adapters.pagerduty import PagerDutyClient
from bot.core.model import ArgoCDHealth, HttpCheck, HttpHealth
from bot.errors import PermanentError
from bot.ports import ApplicationHealth, HttpProbe, IncidentSource
from sandbox.fakes import FakeApplications, FakeHttpProbe, FakeIncidents
from sandbox.loopback import send_json, serving

APPS: dict[str, tuple[str, str, str | None]] = {
    "web-dev": ("Healthy", "Synced", "a" * 40),
    "web-staging": ("Degraded", "Synced", "b" * 40),
    "web-prod": ("Healthy", "OutOfSync", None),
}
TOKEN = "argo-secret"
INCIDENTS = [
    ("PWEB", "checkout slow", "triggered"),
    ("PWEB", "disk full", "acknowledged"),
    ("PAPI", "api 5xx", "triggered"),
    ("PAPI", "old outage", "resolved"),
]


class _World(BaseHTTPRequestHandler):
    """Argo CD's application API, PagerDuty's incident list and plain status pages."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path.startswith("/api/v1/applications/"):
            # https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"error": "invalid session", "code": 16})
            name = url.path.rsplit("/", 1)[-1]
            if name not in APPS:
                return self._send(404, {"error": "not found", "code": 5})
            health, sync, revision = APPS[name]
            status: dict[str, Any] = {"health": {"status": health}, "sync": {"status": sync}}
            if revision:
                status["sync"]["revision"] = revision
            return self._send(200, {"metadata": {"name": name}, "status": status})
        if url.path == "/incidents":
            # https://developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents
            statuses = query.get("statuses[]", [])
            services = query.get("service_ids[]", [])
            found = [
                {
                    "incident_number": n,
                    "title": title,
                    "status": st,
                    "service": {"id": svc, "summary": svc},
                }
                for n, (svc, title, st) in enumerate(INCIDENTS, 1)
                if (not statuses or st in statuses) and (not services or svc in services)
            ]
            return self._send(200, {"incidents": found, "more": False, "limit": 100, "offset": 0})
        if url.path.startswith("/status/"):
            return self._send(int(url.path.rsplit("/", 1)[-1]), {})
        return self._send(404, {})

    def _send(self, code: int, body: object) -> None:
        send_json(self, code, body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_World) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


# --------------------------------------------------------------------------- Argo CD


@pytest.fixture(params=["fake", "loopback"])
def applications(request: pytest.FixtureRequest, base: str) -> ApplicationHealth:
    tokens = {"ARGO_TOKEN": TOKEN, "WRONG_TOKEN": "nope"}
    if request.param == "fake":
        return FakeApplications(APPS, token=TOKEN, tokens=tokens)
    return ArgoCDApplications(tokens)


@pytest.mark.parametrize(
    ("app", "healthy", "revision"),
    [("web-dev", True, "a" * 40), ("web-staging", False, "b" * 40), ("web-prod", False, None)],
)
def test_argocd_health_and_revision(
    applications: ApplicationHealth, base: str, app: str, healthy: bool, revision: str | None
) -> None:
    report = applications.health(ArgoCDHealth(base, app, token_env="ARGO_TOKEN"))
    assert (report.healthy, report.revision) == (healthy, revision)


@pytest.mark.parametrize(
    ("app", "token_env", "kind"),
    [
        ("web-nope", "ARGO_TOKEN", HttpErrorKind.NOT_FOUND),
        ("web-dev", "WRONG_TOKEN", HttpErrorKind.AUTH),
        ("web-dev", "UNSET_TOKEN", HttpErrorKind.AUTH),
    ],
)
def test_argocd_failures_are_permanent_and_typed(
    applications: ApplicationHealth, base: str, app: str, token_env: str, kind: HttpErrorKind
) -> None:
    with pytest.raises(PermanentError) as info:
        applications.health(ArgoCDHealth(base, app, token_env=token_env))
    assert getattr(info.value, "kind", None) is kind


# --------------------------------------------------------------------------- PagerDuty


@pytest.fixture(params=["fake", "loopback"])
def incidents(request: pytest.FixtureRequest, base: str) -> IncidentSource:
    if request.param == "fake":
        return FakeIncidents(INCIDENTS)
    return PagerDutyClient("pd-key", api_url=base)


@pytest.mark.parametrize(
    ("services", "active"), [((), 3), (("PWEB",), 2), (("PAPI",), 1), (("POTHER",), 0)]
)
def test_only_open_incidents_of_the_services_count(
    incidents: IncidentSource, services: tuple[str, ...], active: int
) -> None:
    assert len(incidents.active_incidents(services)) == active


@pytest.mark.parametrize("side", ["fake", "loopback"])
def test_no_key_is_refused_before_asking(side: str, base: str) -> None:
    source: IncidentSource = (
        FakeIncidents(INCIDENTS, key=None)
        if side == "fake"
        else PagerDutyClient(None, api_url=base)
    )
    with pytest.raises(PermanentError) as info:
        source.active_incidents(())
    assert getattr(info.value, "kind", None) is HttpErrorKind.AUTH


# --------------------------------------------------------------------------- HTTP probes


@pytest.fixture(params=["fake", "loopback"])
def probe(request: pytest.FixtureRequest, base: str) -> tuple[HttpProbe, str]:
    if request.param == "fake":
        statuses: dict[str, int | None] = {
            f"{base}/status/{c}": c for c in (200, 204, 404, 429, 503)
        }
        statuses["http://127.0.0.1:9/down"] = None
        return FakeHttpProbe(statuses), base
    return HttpProber(), base


@pytest.mark.parametrize(
    ("path", "expect", "healthy"),
    [
        ("/status/200", (200,), True),
        ("/status/204", (200, 204), True),
        ("/status/503", (200,), False),
    ],
)
def test_http_health_compares_the_status(
    probe: tuple[HttpProbe, str], path: str, expect: tuple[int, ...], healthy: bool
) -> None:
    p, base = probe
    check = HttpHealth(base + path, expect_status=expect, timeout=timedelta(seconds=5))
    assert p.health(check).healthy is healthy


def test_nothing_answering_is_unhealthy(probe: tuple[HttpProbe, str]) -> None:
    p, _ = probe
    check = HttpHealth("http://127.0.0.1:9/down", timeout=timedelta(seconds=2))
    assert p.health(check).healthy is False


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ("/status/200", "succeeded"),
        ("/status/404", "failed"),
        ("/status/429", "running"),
        ("/status/503", "running"),
    ],
)
def test_http_check_states(probe: tuple[HttpProbe, str], path: str, state: str) -> None:
    p, base = probe
    assert p.run(HttpCheck(base + path), timeout=5).state == state


def test_a_check_nothing_answers_keeps_running(probe: tuple[HttpProbe, str]) -> None:
    p, _ = probe
    assert p.run(HttpCheck("http://127.0.0.1:9/down"), timeout=2).state == "running"

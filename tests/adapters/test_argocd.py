"""The Argo CD adapter against the Application shape the API server's Swagger describes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.adapters.argocd import ArgoCD
from bot.core.decide.observations import HealthReport
from bot.core.model import ArgoCDHealth
from bot.errors import PermanentError, TransientError
from sandbox.httpstub import HttpStub

SERVER = "https://argocd.example.com"
APP_URL = f"{SERVER}/api/v1/applications/flask-app-dev"
TOKEN = "argocd-secret-token-123"
CHECK = ArgoCDHealth(SERVER, "flask-app-dev")


def application(
    health: str = "Healthy", sync: str = "Synced", operation: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A trimmed v1alpha1Application as GET /api/v1/applications/{name} returns it."""
    status: dict[str, Any] = {
        "health": {"status": health},
        "sync": {"status": sync, "revision": "8f3c2a1d9e"},
        "reconciledAt": "2024-05-01T10:00:00Z",
    }
    if operation is not None:
        status["operationState"] = operation
    return {
        "metadata": {"name": "flask-app-dev", "namespace": "argocd"},
        "spec": {"project": "default"},
        "status": status,
    }


@pytest.mark.parametrize(
    ("health", "sync", "operation", "expected"),
    [
        (
            "Healthy",
            "Synced",
            None,
            HealthReport(True, "Argo CD app flask-app-dev: Healthy, Synced", "8f3c2a1d9e"),
        ),
        (
            "Degraded",
            "OutOfSync",
            None,
            HealthReport(False, "Argo CD app flask-app-dev: Degraded, OutOfSync", "8f3c2a1d9e"),
        ),
        (
            "Healthy",
            "OutOfSync",
            None,
            HealthReport(False, "Argo CD app flask-app-dev: Healthy, OutOfSync", "8f3c2a1d9e"),
        ),
        (
            "Progressing",
            "Synced",
            {"phase": "Running", "message": "waiting for healthy state of apps/Deployment/web"},
            HealthReport(
                False,
                "Argo CD app flask-app-dev: Progressing, Synced (sync running: waiting for "
                "healthy state of apps/Deployment/web)",
                "8f3c2a1d9e",
            ),
        ),
        (
            "Missing",
            "OutOfSync",
            {"phase": "Failed", "message": "one or more objects failed to apply"},
            HealthReport(
                False,
                "Argo CD app flask-app-dev: Missing, OutOfSync (sync failed: one or more "
                "objects failed to apply)",
                "8f3c2a1d9e",
            ),
        ),
        (
            "Healthy",
            "Synced",
            {"phase": "Succeeded", "message": "successfully synced"},
            HealthReport(True, "Argo CD app flask-app-dev: Healthy, Synced", "8f3c2a1d9e"),
        ),
    ],
)
def test_healthy_only_when_healthy_and_synced(
    http_stub: HttpStub,
    health: str,
    sync: str,
    operation: dict[str, Any] | None,
    expected: HealthReport,
) -> None:
    http_stub.get(
        APP_URL,
        json=application(health, sync, operation),
        match_headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK) == expected


def test_app_namespace_and_a_trailing_slash_on_the_server(http_stub: HttpStub) -> None:
    http_stub.get(
        APP_URL,
        json=application(),
        query={"appNamespace": "team-a"},
    )
    check = ArgoCDHealth(SERVER, "flask-app-dev", namespace="team-a")
    assert ArgoCD(SERVER + "/", TOKEN, network=http_stub.network).health(check).healthy


def test_no_token_sends_no_authorization_header(http_stub: HttpStub) -> None:
    http_stub.get(APP_URL, json=application())
    ArgoCD(SERVER, None, network=http_stub.network).health(CHECK)
    assert "Authorization" not in http_stub.calls[0].headers


def test_a_status_without_sync_or_health_is_unknown_and_unhealthy(http_stub: HttpStub) -> None:
    http_stub.get(APP_URL, json={"metadata": {"name": "flask-app-dev"}, "status": {}})
    report = ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK)
    assert report == HealthReport(False, "Argo CD app flask-app-dev: Unknown, Unknown", None)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, PermanentError, ["HTTP 401", "set ARGO_TOKEN"]),
        (403, PermanentError, ["HTTP 403", "set ARGO_TOKEN", "check the name"]),
        (404, PermanentError, ["no app flask-app-dev in namespace apps", "health.argocd.app"]),
        (400, PermanentError, ["HTTP 400"]),
        (500, TransientError, ["HTTP 500", "try again later"]),
    ],
)
def test_refusals_say_what_to_fix_and_never_show_the_token(
    http_stub: HttpStub, status: int, kind: type[Exception], words: list[str]
) -> None:
    http_stub.get(APP_URL, status=status, json={"error": "nope", "code": 7})
    check = ArgoCDHealth(SERVER, "flask-app-dev", namespace="apps", token_env="ARGO_TOKEN")
    with pytest.raises(kind) as info:
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(check)
    for word in words:
        assert word in str(info.value)
    assert TOKEN not in str(info.value)


def test_429_is_transient_with_its_retry_after(http_stub: HttpStub) -> None:
    http_stub.get(APP_URL, status=429, headers={"Retry-After": "17"})
    with pytest.raises(TransientError) as info:
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK)
    assert info.value.retry_after == 17.0
    assert "rate limiting" in str(info.value)


def test_a_gateway_error_is_retried_before_it_counts(http_stub: HttpStub) -> None:
    http_stub.get(APP_URL, status=503)
    http_stub.get(APP_URL, json=application())
    assert ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK).healthy
    assert len(http_stub.calls) == 2


def test_a_gateway_error_that_persists_is_transient(http_stub: HttpStub) -> None:
    for _ in range(3):
        http_stub.get(APP_URL, status=502)
    with pytest.raises(TransientError, match="HTTP 502"):
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK)


@pytest.mark.parametrize(
    ("failure", "kind", "words"),
    [
        ("silent", TransientError, "did not answer within 0.3s"),
        ("stall", TransientError, "did not answer within 0.3s"),
        ("refused", TransientError, "could not be reached"),
        ("tls", PermanentError, "TLS certificate was refused"),
    ],
)
def test_network_failures(
    http_stub: HttpStub, failure: str, kind: type[Exception], words: str
) -> None:
    stub = HttpStub(tls=True) if failure == "tls" else http_stub
    if failure in ("silent", "refused"):
        stub.down("argocd.example.com", how=failure)
    stub.get(APP_URL, json=application(), delay=1.0 if failure == "stall" else 0.0)
    try:
        with pytest.raises(kind, match=words):
            ArgoCD(SERVER, TOKEN, timeout=0.3, network=stub.network).health(CHECK)
    finally:
        stub.close()


@pytest.mark.parametrize(
    "body",
    ["<html>login</html>", "[]", '{"status": "ok"}', '{"metadata": {}}'],
)
def test_an_answer_that_is_not_an_application_is_transient(http_stub: HttpStub, body: str) -> None:
    http_stub.get(APP_URL, body=body, content_type="application/json")
    with pytest.raises(TransientError):
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK)


def test_a_redirect_is_not_followed_and_names_the_target(http_stub: HttpStub) -> None:
    http_stub.get(APP_URL, status=302, headers={"Location": "https://sso.example.com/login"})
    with pytest.raises(
        PermanentError, match=re.escape("redirected to https://sso.example.com/login")
    ):
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(CHECK)
    assert len(http_stub.calls) == 1


def test_app_names_are_quoted_into_the_path(http_stub: HttpStub) -> None:
    http_stub.get(f"{SERVER}/api/v1/applications/a%2Fb", json=application())
    assert (
        ArgoCD(SERVER, TOKEN, network=http_stub.network).health(ArgoCDHealth(SERVER, "a/b")).healthy
    )

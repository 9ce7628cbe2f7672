"""Gates end to end: verification workflows and HTTP checks, deployment health, security
scans and schedule windows, through PyGithub and the sandbox, with the real registry."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox.registry import LocalRegistry
from bot.sandbox.world import REPOSITORY, SandboxWorld
from tests.fixtures.github import VERIFY_WORKFLOW
from tests.test_e2e_flask_app import Pipeline

DEV_WITH_GATES = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  subscriptions:
    warehouse: flask-app
  promotionPolicy:
    autoPromotionEnabled: true
  verification:
    parallel: true
    steps:
      - name: smoke-tests
        analysisTemplate:
          name: smoke-tests
      - name: ping
        analysisTemplate:
          name: ping
  health:
    githubDeployment:
      environment: dev
  gitRepoUpdates:
    - kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/dev
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: ping
spec:
  http:
    url: {url}
"""

STAGING_WITH_CONDITIONS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: staging
spec:
  subscriptions:
    upstreamStages:
      - name: dev
  promotionPolicy:
    autoPromotionEnabled: true
    schedule: "0 12 * * *"
    conditions:
      - type: "SecurityScanPassed"
        status: "True"
  gitRepoUpdates:
    - kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/staging
"""


class Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def healthz() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.shutdown()
    server.server_close()


def world(
    tmp_path: Path, registry: LocalRegistry, name: str, overrides: dict[str, str]
) -> Iterator[Pipeline]:
    path = "gates/" + name.replace("_", "-").lower()
    with SandboxWorld(
        tmp_path / "world", registry=registry, image_path=path, overrides=overrides
    ) as w:
        p = Pipeline(w)
        assert w.github is not None
        w.github.clock = lambda: p.now
        yield p


@pytest.fixture
def verified(
    tmp_path: Path, oci_registry: LocalRegistry, healthz: str, request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    overrides = {
        "kargo/stages/dev.yaml": DEV_WITH_GATES.replace("{url}", healthz),
        ".github/workflows/smoke-tests.yml": VERIFY_WORKFLOW,
    }
    yield from world(tmp_path, oci_registry, request.node.name, overrides)


@pytest.fixture
def scanned(
    tmp_path: Path, oci_registry: LocalRegistry, request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    overrides = {"kargo/stages/staging.yaml": STAGING_WITH_CONDITIONS}
    yield from world(tmp_path, oci_registry, request.node.name, overrides)


def main_head(p: Pipeline) -> str:
    return subprocess.run(
        ["git", "rev-parse", "main"], cwd=p.w.bare, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_verification_and_health_gate_the_next_stage(verified: Pipeline) -> None:
    p = verified
    assert p.w.github is not None
    p.w.push("1.8.4")
    out = p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"
    (run,) = p.w.github.runs(REPOSITORY)
    assert "shunter/dev/smoke-tests/" in run.display_title
    assert run.inputs["commit"] == main_head(p)  # the workflow tests the promotion's commit
    assert "smoke-tests running" in out
    assert p.version("staging") is None

    p.w.github.complete_run(run.id, "success")
    p.now += timedelta(minutes=2)
    out = p.shunter("reconcile")
    # Both steps passed; health has no deployment yet, so dev is not verified.
    assert "waits to be healthy" in out and "no deployment to dev" in out

    p.w.github.add_deployment(REPOSITORY, "dev", main_head(p), states=["success"])
    p.now += timedelta(minutes=1)
    out = p.shunter("reconcile")
    assert "staging: 1.8.4 waits 30m more for autoPromotionDelay 30m" in out
    freight = p.shunter("describe", "freight", p.stages()["dev"]["currentFreight"]["alias"])
    assert "dev:" in freight.split("Verified in:")[1]


def test_failed_verification_stops_the_freight(verified: Pipeline) -> None:
    p = verified
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile")
    (run,) = p.w.github.runs(REPOSITORY)
    p.w.github.complete_run(run.id, "failure")
    p.w.github.add_deployment(REPOSITORY, "dev", main_head(p), states=["success"])
    p.now += timedelta(minutes=2)
    out = p.shunter("reconcile")
    assert "verification of" in out and "failed" in out
    p.now += timedelta(hours=2)
    p.shunter("reconcile")
    assert p.version("staging") is None


def test_http_check_failing_fails_the_step(verified: Pipeline) -> None:
    p = verified
    assert p.w.github is not None
    Healthz.status = 404
    try:
        p.w.push("1.8.4")
        out = p.shunter("reconcile")
    finally:
        Healthz.status = 200
    assert "ping" in out and "failed" in out


def test_security_scan_and_schedule_gate_the_merge(scanned: Pipeline) -> None:
    p = scanned
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile")
    p.now += timedelta(minutes=31)  # 09:31: outside the 12:00 slot
    out = p.shunter("reconcile")
    assert "schedule: outside '0 12 * * *'" in out
    number = p.stages()["staging"]["promotion"]["pr"]
    pr = p.pr(number, "alice")
    repo = p.gh("alice").get_repo(REPOSITORY)
    repo.create_check_run("trivy", pr.head.sha, status="completed", conclusion="failure")
    p.now += timedelta(hours=2, minutes=40)  # 12:11: inside the slot
    out = p.shunter("reconcile")
    assert "SecurityScanPassed: trivy concluded failure" in out
    assert p.pr(number).state == "open"
    repo.create_check_run("trivy", pr.head.sha, status="completed", conclusion="success")
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert p.version("staging") == "1.8.4"


def test_get_stages_shows_verification_and_health(verified: Pipeline) -> None:
    p = verified
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile")
    dev = p.stages()["dev"]
    assert dev["verification"]["result"] == "Running"
    assert dev["verification"]["steps"]["smoke-tests"]["state"] == "running"
    assert dev["health"]["healthy"] is False
    wide = p.shunter("get", "stages", "-o", "wide")
    assert "Unhealthy" in wide and "Running" in wide

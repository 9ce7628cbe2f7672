"""Gates end to end: verification workflows and HTTP checks, deployment health, security
scans and schedule windows, through PyGithub and the sandbox, with the real registry."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from sandbox.fixtures.github import VERIFY_WORKFLOW
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.world import REPOSITORY

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


def world(request: pytest.FixtureRequest, overrides: dict[str, str]) -> Iterator[Pipeline]:
    """The pipeline world of the requesting test, with its own image repository."""
    path = "gates/" + request.node.name.replace("_", "-").lower()
    tmp_path: Path = request.getfixturevalue("tmp_path")
    with pipeline_world(
        tmp_path / "world",
        request.getfixturevalue("oci_registry"),
        path,
        overrides,
        conformance=request.getfixturevalue("github_conformance"),
    ) as p:
        yield p


@pytest.fixture
def verified(healthz: str, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    overrides = {
        "kargo/stages/dev.yaml": DEV_WITH_GATES.replace("{url}", healthz),
        ".github/workflows/smoke-tests.yml": VERIFY_WORKFLOW,
    }
    yield from world(request, overrides)


@pytest.fixture
def scanned(request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    overrides = {"kargo/stages/staging.yaml": STAGING_WITH_CONDITIONS}
    yield from world(request, overrides)


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
    page = p.shunter("describe", "stage", "dev")
    assert "Verification:  Running" in page
    assert "smoke-tests: running" in page and "Health:        unhealthy" in page


DEV_HEALTHY = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  subscriptions:
    warehouse: flask-app
  promotionPolicy:
    autoPromotionEnabled: true
  health:
    http:
      url: {healthz}
  gitRepoUpdates:
    - kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/dev
"""

STAGING_CAREFUL = """\
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
    conditions:
      - type: "HealthyFor"
        duration: "10m"
      - type: "NoActiveIncidents"
        integrations:
          - pagerduty
      - type: "BusinessHoursOnly"
        schedule: "0 9-17 * * MON-FRI"
  gitRepoUpdates:
    - kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/staging
"""

PROJECT_WITH_PAGERDUTY = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: flask-app
spec:
  integrations:
    pagerduty:
      apiURL: {pagerduty}
"""


class PagerDuty(http.server.BaseHTTPRequestHandler):
    """Answers GET /incidents in the shape of PagerDuty's REST API v2."""

    incidents: ClassVar[list[dict[str, object]]] = []

    def do_GET(self) -> None:
        assert self.headers["Authorization"] == "Token token=pd-key"
        body = {"incidents": type(self).incidents, "limit": 100, "offset": 0, "more": False}
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def careful(healthz: str, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PagerDuty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    overrides = {
        "kargo/stages/dev.yaml": DEV_HEALTHY.replace("{healthz}", healthz),
        "kargo/stages/staging.yaml": STAGING_CAREFUL,
        "kargo/project.yaml": PROJECT_WITH_PAGERDUTY.replace(
            "{pagerduty}", f"http://127.0.0.1:{server.server_address[1]}"
        ),
    }
    try:
        yield from world(request, overrides)
    finally:
        server.shutdown()
        server.server_close()


def test_healthy_for_incidents_and_business_hours(careful: Pipeline) -> None:
    p = careful
    PagerDuty.incidents = [
        {"incident_number": 42, "title": "checkout 500s", "status": "triggered",
         "urgency": "high", "service": {"summary": "checkout"}},
    ]  # fmt: skip
    try:
        p.w.push("1.8.4")
        out = p.shunter("reconcile", PAGERDUTY_TOKEN="pd-key")  # Thursday 09:00
        assert p.version("dev") == "1.8.4"
        assert "HealthyFor 10m: dev healthy for less than 10m" in out
        assert "NoActiveIncidents: pagerduty: 1 active (#42 checkout 500s (checkout))" in out
        p.now += timedelta(minutes=11)
        out = p.shunter("reconcile", PAGERDUTY_TOKEN="pd-key")
        assert "HealthyFor" not in out.split("waits:")[-1]  # dev has been healthy long enough
        assert p.version("staging") is None
        PagerDuty.incidents = []
        p.now += timedelta(days=2)  # Saturday: outside business hours
        out = p.shunter("reconcile", PAGERDUTY_TOKEN="pd-key")
        assert "BusinessHoursOnly: outside" in out and p.version("staging") is None
        p.now += timedelta(days=2)  # Monday 09:11
        p.shunter("reconcile", PAGERDUTY_TOKEN="pd-key")
        assert p.version("staging") == "1.8.4"
        # Without the PagerDuty key the gate fails closed and says what to set.
        p.w.push("1.8.5")
        p.now += timedelta(minutes=20)
        out = p.shunter("reconcile")
        assert "set PAGERDUTY_TOKEN" in out
    finally:
        PagerDuty.incidents = []


DEV_DIRECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  subscriptions:
    warehouse: flask-app
  promotionPolicy:
    autoPromotionEnabled: true
  gitRepoUpdates:
    - pullRequest: false
      kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/dev
"""


@pytest.fixture
def direct(request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    yield from world(request, {"kargo/stages/dev.yaml": DEV_DIRECT})


def test_direct_push_promotes_without_a_pull_request(direct: Pipeline) -> None:
    p = direct
    before = main_head(p)
    p.w.push("1.8.4")
    out = p.shunter("reconcile")
    assert "pushed to the branch" in out
    assert p.version("dev") == "1.8.4"
    after = main_head(p)
    parent = subprocess.run(
        ["git", "rev-parse", f"{after}^"], cwd=p.w.bare, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    assert parent == before  # one commit, straight on main
    assert 'newTag: "1.8.4"' in p.w.main_file("env/dev/kustomization.yaml")
    pulls = list(p.gh().get_repo(REPOSITORY).get_pulls(state="all"))
    assert not [pr for pr in pulls if pr.head.ref == "shunter/dev"]
    record = json.loads(p.shunter("get", "promotions", "-o", "json"))[-1]
    assert (record["stage"], record["status"], record["commit"]) == ("dev", "Succeeded", after)
    # Nothing new: no push, no ledger write.
    head = p.state_head()
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert (main_head(p), p.state_head()) == (after, head)

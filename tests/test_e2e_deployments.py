"""GitHub Environments show what runs where: each promotion that lands is a Deployment of
its merge commit to the environment named after the stage, ``success``, linking to its
PR. Read back through GitHub's REST API (the sandbox answers in GitHub's published
shapes, checked against GitHub's REST description)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry

PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: flask-app
spec:
  githubDeployments: false
"""


@pytest.fixture
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "e2e/" + request.node.originalname.replace("_", "-").lower()
    overrides = getattr(request, "param", None)
    with pipeline_world(
        tmp_path / "world", oci_registry, path, overrides, conformance=github_conformance
    ) as p:
        yield p


def deployments(p: Pipeline, environment: str) -> list[tuple[Any, list[Any]]]:
    """The environment's deployments (newest first), each with its statuses (newest first)."""
    repo = p.repo("alice")
    return [(d, list(d.get_statuses())) for d in repo.get_deployments(environment=environment)]


def test_each_landed_promotion_is_a_successful_deployment_to_its_stage(pipeline: Pipeline) -> None:
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    p.now += timedelta(minutes=31)
    p.shunter("reconcile")
    promotions = {r["stage"]: r for r in json.loads(p.shunter("get", "promotions", "-o", "json"))}
    for stage in ("dev", "staging"):
        ((dep, statuses),) = deployments(p, stage)
        rec = promotions[stage]
        assert dep.sha == rec["commit"] and dep.environment == stage
        assert [s.state for s in statuses] == ["success"]
        assert statuses[0].target_url == rec["url"]
        assert rec["alias"] in dep.description
    assert deployments(p, "prod") == []  # prod waits for its approvals: nothing runs there

    # An idle run records nothing again.
    writes = p.writes()
    p.now += timedelta(minutes=5)
    p.shunter("reconcile")
    assert p.writes() == writes
    assert len(deployments(p, "dev")) == 1

    # A newer freight in dev: a second deployment; the first one goes inactive.
    p.w.push("1.8.5")
    p.now += timedelta(minutes=5)
    p.shunter("reconcile")
    (newer, newer_st), (older, older_st) = deployments(p, "dev")
    assert newer.sha != older.sha
    assert [s.state for s in newer_st] == ["success"]
    assert [s.state for s in older_st] == ["inactive", "success"]
    assert p.version("dev") == "1.8.5"


@pytest.mark.parametrize("pipeline", [{"kargo/project.yaml": PROJECT}], indirect=True)
def test_github_deployments_false_records_none(pipeline: Pipeline) -> None:
    pipeline.w.push("1.8.4")
    pipeline.shunter("reconcile")
    assert pipeline.version("dev") == "1.8.4"
    assert deployments(pipeline, "dev") == []

"""Kargo 1.x steps end to end: a Project, a PromotionTask with vars, task: steps with
stage vars, ${{ }} expressions, if:-gated steps and named colours, on the real registry,
real git and the GitHub sandbox.

dev and staging push straight onto ``main`` (no pull request); prod opens one, and the
promotion is recorded once it merges.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.kargo_steps import OVERRIDES
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry


@pytest.fixture
def steps(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "e2e/" + request.node.name.replace("_", "-").lower()
    with pipeline_world(
        tmp_path / "world", oci_registry, path, OVERRIDES, conformance=github_conformance
    ) as p:
        yield p


def _git(p: Pipeline, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=p.w.bare, capture_output=True, text=True, check=True
    ).stdout


def test_dev_and_staging_push_to_main_and_prod_lands_when_a_person_merges(
    steps: Pipeline,
) -> None:
    p = steps
    p.w.push("1.8.4")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"
    # Straight onto main: no pull request was opened for dev.
    pulls = list(p.repo().get_pulls(state="all"))
    assert pulls == []
    kustomization = yaml.safe_load(p.w.main_file("env/dev/kustomization.yaml"))
    assert [i["newTag"] for i in kustomization["images"]] == ["1.8.4"]
    # git-commit's message expression, evaluated with the freight.
    freight = json.loads(p.shunter("get", "freight", "-o", "json"))[0]
    subject = _git(p, "log", "-1", "--format=%B", "main")
    assert subject.strip() == f"Promote 1.8.4 to dev (freight {freight['name']})"

    p.now += timedelta(minutes=31)
    p.shunter("reconcile")
    assert p.version("staging") == "1.8.4"
    staging = yaml.safe_load(p.w.main_file("env/staging/kustomization.yaml"))
    assert [i["newTag"] for i in staging["images"]] == ["1.8.4"]
    # The only pull request is prod's, opened in the same run.
    assert [pr.head.ref for pr in p.repo().get_pulls(state="all")] == ["shunter/prod"]

    # prod: the task's if: openpr steps make a pull request, and it waits for a person.
    prod = p.stages()["prod"]
    assert prod["currentFreight"] is None
    number = prod["promotion"]["pr"]
    pr = p.pr(number)
    assert (pr.state, pr.base.ref, pr.head.ref) == ("open", "main", "shunter/prod")
    assert [f.filename for f in pr.get_files()] == ["env/prod/values.yaml"]
    p.pr(number, "carol").merge(merge_method="squash", sha=pr.head.sha)
    p.shunter("reconcile")
    assert p.version("prod") == "1.8.4"
    values = yaml.safe_load(p.w.main_file("env/prod/values.yaml"))
    assert values["image"]["tag"] == "1.8.4"
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert [(r["stage"], r["status"]) for r in reversed(promotions)] == [
        ("dev", "Succeeded"),
        ("staging", "Succeeded"),
        ("prod", "Succeeded"),
    ]
    assert (promotions[0]["by"], promotions[0]["pr"]) == ("carol", number)

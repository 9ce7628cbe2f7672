"""Kargo's ``verification.args`` reach the verification workflow as its
``workflow_dispatch`` inputs: the real command, the GitHub sandbox's record of the run it
started (its inputs, as GitHub keeps them), and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.fixtures.github import VERIFY_WORKFLOW
from sandbox.pipeline import Pipeline, image_path_for, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import REPOSITORY

DEV = """\
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
    analysisTemplates:
      - name: smoke-tests
    args:
{args}
  gitRepoUpdates:
    - kustomize:
        images:
          - image: ghcr.io/alkon/flask-app
            path: env/dev
"""


@pytest.fixture
def p(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    """The world with dev verified by ``smoke-tests`` given ``request.param``'s args."""
    args = "\n".join(f"      - {{name: {n}, value: {v}}}" for n, v in request.param)
    overrides = {
        "kargo/stages/dev.yaml": DEV.format(args=args),
        ".github/workflows/smoke-tests.yml": VERIFY_WORKFLOW,
    }
    path = image_path_for("args", request.node.name)
    with pipeline_world(
        tmp_path / "world", oci_registry, path, overrides, conformance=github_conformance
    ) as pipeline:
        yield pipeline


@pytest.mark.parametrize("p", [[("suite", "regression")]], indirect=True)
def test_args_are_the_verification_workflows_inputs(p: Pipeline) -> None:
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"
    (run,) = p.w.github.runs(REPOSITORY)
    assert run.inputs["suite"] == "regression"  # not the workflow's default, smoke
    assert run.inputs["stage"] == "dev"  # Shunter's own inputs are still given


@pytest.mark.parametrize("p", [[("region", "eu")]], indirect=True)
def test_an_arg_the_workflow_does_not_take_is_loud(p: Pipeline) -> None:
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile", expect=1)  # GitHub refuses the dispatch (422): a person fixes it
    assert p.w.github.runs(REPOSITORY) == []


@pytest.mark.parametrize("p", [[("suite", "smoke")]], indirect=True)
@pytest.mark.parametrize("name", ["commit", "shunter_id", "not an input"])
def test_validate_refuses_an_arg_shunter_gives_or_no_workflow_takes(p: Pipeline, name: str) -> None:
    stage = p.w.checkout / "kargo/stages/dev.yaml"
    p.shunter("validate")  # as the world has it
    text = stage.read_text()
    stage.write_text(text.replace("{name: suite, value: smoke}", f"{{name: '{name}', value: x}}"))
    p.shunter("validate", expect=2)

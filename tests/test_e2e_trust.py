"""Attacks on the gates, end to end: the real ``shunter`` command against the sandbox
(real git, the real registry, GitHub's REST shapes), each deciding by state: ``main``'s
files, a PR's merged flag, the ledger through ``shunter get … -o json``, exit codes.

``mallory`` has ``write`` on the repository here: she can push branches, open PRs, review
and re-run workflows, as any developer can. Nothing she does alone may move a stage.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import ACTIONS_BOT, REPOSITORY

PROD_VALUES = "env/prod/values.yaml"


@pytest.fixture
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "trust/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    with pipeline_world(
        tmp_path / "world", oci_registry, path, conformance=github_conformance
    ) as p:
        assert p.w.github is not None
        p.w.github.set_permission(REPOSITORY, "mallory", "write")
        yield p


def attempt(p: Pipeline, login: str, *args: str, **env: str) -> int:
    """Run ``shunter`` as ``login`` would (their token); return the exit code."""
    e = p.w.env(login=login, SHUNTER_NOW=p.now.isoformat())
    e.update(env)
    return main(["--repo-dir", str(p.w.checkout), *args], env=e, out=io.StringIO())


def state(p: Pipeline) -> tuple[str, str]:
    """What an attack must not move: the ledger's head and prod's file on ``main``."""
    return p.state_head(), p.w.main_file(PROD_VALUES)


# --------------------------------------------------------------------------- who is acting


PROMOTE = ("promote", "--from", "dev", "--to", "prod", "--reason", "trust me")
DISPATCH_PROMOTE = {
    "SHUNTER_OPERATION": "promote-from",
    "SHUNTER_FROM": "dev",
    "SHUNTER_STAGE": "prod",
    "SHUNTER_REASON": "trust me",
    "GITHUB_EVENT_NAME": "workflow_dispatch",
}


def test_the_environment_names_nobody(pipeline: Pipeline) -> None:
    """GITHUB_ACTOR is a variable: claiming a maintainer's name with one's own token, or
    a maintainer's running dispatch, or the workflow token with no run, moves nothing."""
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    before = state(p)
    running = p.dispatch("tech-lead")
    assert p.w.github is not None
    p.w.github.start_run(int(running))
    tries = [
        attempt(p, "mallory", *PROMOTE, GITHUB_ACTOR="tech-lead"),
        attempt(p, "mallory", *PROMOTE, GITHUB_RUN_ID=running),
        attempt(p, "mallory", "run", GITHUB_RUN_ID=running, **DISPATCH_PROMOTE),
        attempt(p, ACTIONS_BOT, *PROMOTE, GITHUB_ACTOR="tech-lead"),
        attempt(p, ACTIONS_BOT, "run", GITHUB_ACTOR="tech-lead", **DISPATCH_PROMOTE),
    ]
    assert tries == [1] * len(tries)
    assert state(p) == before
    assert p.version("prod") is None


def test_a_rerun_is_the_rerunners(pipeline: Pipeline) -> None:
    """tech-lead's dispatch acts for tech-lead; mallory re-running it acts for mallory."""
    p = pipeline
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile")
    run = p.dispatch("tech-lead")
    p.w.github.complete_run(int(run), "failure")
    before = state(p)
    # A finished run proves nothing about who runs the command now.
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=run, **DISPATCH_PROMOTE) == 1
    p.repo("mallory").get_workflow_run(int(run)).rerun()
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=run, **DISPATCH_PROMOTE) == 1
    assert state(p) == before
    # The same inputs in tech-lead's own run are carried out (the control).
    fresh = p.dispatch("tech-lead")
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=fresh, **DISPATCH_PROMOTE) == 0
    assert p.version("prod") == "1.8.4"
    (op,) = [o for o in p.operations() if o["stage"] == "prod"]
    assert op["by"] == "tech-lead"

"""Main's own rules as a gate, end to end: a promotion PR that GitHub will not merge is a
stuck stage (exit 1, a blocking `mainRules` gate) until the rule is met, then it merges.

The rules are rulesets, which any token may read (classic branch protection needs
administration: read; `shunter doctor` says so)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import REPOSITORY


@pytest.fixture
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "e2e/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    overrides = {".github/CODEOWNERS": "/env/dev/ @tech-lead\n"}
    with pipeline_world(
        tmp_path / "world", oci_registry, path, overrides, conformance=github_conformance
    ) as p:
        yield p


def dev(p: Pipeline, *, expect: int) -> dict[str, Any]:
    data = json.loads(p.shunter("reconcile", "-o", "json", expect=expect))
    decision: dict[str, Any] = next(d for d in data["decisions"] if d["stage"] == "dev")
    return decision


def held_back(p: Pipeline) -> list[dict[str, Any]]:
    """The stuck stages the last run kept on the state branch (``stuck.yaml``)."""
    done = subprocess.run(["git", "show", "shunter/state:stuck.yaml"], cwd=p.w.bare,
                          capture_output=True, text=True)  # fmt: skip
    return list(yaml.safe_load(done.stdout) or []) if done.returncode == 0 else []


def review_rule(**params: object) -> list[dict[str, object]]:
    return [{"type": "pull_request", "parameters": params}]


CHECK_RULE = [
    {
        "type": "required_status_checks",
        "parameters": {"required_status_checks": [{"context": "ci/test"}]},
    }
]


@pytest.mark.parametrize(
    ("rules", "unblock"),
    [
        (review_rule(required_approving_review_count=1), "alice approves"),
        (
            review_rule(required_approving_review_count=1, require_code_owner_review=True),
            "tech-lead approves",
        ),
        (CHECK_RULE, "ci/test passes"),
    ],
    ids=["required-review", "code-owner-review", "required-check"],
)
def test_a_pr_github_will_not_merge_is_stuck_until_the_rule_is_met(
    pipeline: Pipeline, rules: list[dict[str, object]], unblock: str
) -> None:
    p = pipeline
    assert p.w.github is not None
    p.w.github.add_ruleset(REPOSITORY, "main", rules=rules)
    before = p.w.main_file("env/dev/kustomization.yaml")
    p.w.push("1.8.4")

    stuck = dev(p, expect=1)  # a stage is stuck: the run says so with its exit code
    assert stuck["kind"] == "stuck"
    assert [g["kind"] for g in stuck["gates"] if not g["holds"]] == ["mainRules"]
    number = int(p.stages()["dev"]["promotion"]["pr"])
    assert not p.pr(number).merged
    assert p.w.main_file("env/dev/kustomization.yaml") == before
    # Kept beside the ledger, so describe (which asks GitHub nothing) says what holds it.
    (held,) = held_back(p)
    assert (held["stage"], held["pr"]) == ("dev", number)
    (rule,) = held["gates"]
    assert rule["gate"] == "mainRules"
    assert rule["detail"] in p.shunter("describe", "stage", "dev")
    # --dry-run sees the same, and asks GitHub to change nothing.
    writes = p.writes()
    dry = json.loads(p.shunter("reconcile", "--dry-run", "-o", "json", expect=1))
    assert [d["kind"] for d in dry["decisions"] if d["stage"] == "dev"] == ["stuck"]
    assert p.writes() == writes

    if unblock == "alice approves":
        p.pr(number, "alice").create_review(event="APPROVE")
    elif unblock == "tech-lead approves":
        p.pr(number, "alice").create_review(event="APPROVE")  # not a code owner of env/dev
        assert dev(p, expect=1)["kind"] == "stuck"
        p.pr(number, "tech-lead").create_review(event="APPROVE")
    else:
        head = p.pr(number).head.sha
        p.repo("carol").create_check_run("ci/test", head, conclusion="success")

    dev(p, expect=0)  # merged, and the stage is at rest
    assert p.pr(number).merged
    assert held_back(p) == []
    assert "1.8.4" in p.w.main_file("env/dev/kustomization.yaml")


def test_a_bypassing_bot_is_never_stuck(pipeline: Pipeline) -> None:
    p = pipeline
    assert p.w.github is not None
    p.w.github.add_ruleset(
        REPOSITORY,
        "main",
        rules=review_rule(required_approving_review_count=2),
        bypass=("shunter-bot",),
    )
    p.w.push("1.8.4")
    dev(p, expect=0)
    assert "1.8.4" in p.w.main_file("env/dev/kustomization.yaml")


def test_classic_protection_the_token_cannot_read_is_stuck_not_retried(pipeline: Pipeline) -> None:
    # GITHUB_TOKEN and the bot's token lack administration: read, so main's classic
    # protection answers 403; GitHub's mergeable_state "blocked" on the PR stands in.
    p = pipeline
    assert p.w.github is not None
    p.w.github.protect_branch(REPOSITORY, "main", required_approvals=1)
    p.w.push("1.8.4")

    stuck = dev(p, expect=1)
    assert stuck["kind"] == "stuck"
    assert [g["kind"] for g in stuck["gates"] if not g["holds"]] == ["mainRules"]
    number = int(p.stages()["dev"]["promotion"]["pr"])
    assert not p.pr(number).merged
    assert dev(p, expect=1)["kind"] == "stuck"  # every run says so, none gives up quietly

    p.pr(number, "alice").create_review(event="APPROVE")
    dev(p, expect=0)
    assert p.pr(number).merged
    assert "1.8.4" in p.w.main_file("env/dev/kustomization.yaml")

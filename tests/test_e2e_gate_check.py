"""The ``shunter/gate`` check on every pull request into main, end to end.

A real GitOps repository served by the GitHub sandbox, whose ruleset requires
``shunter/gate`` on main (the sandbox refuses a merge until the check passes, as GitHub
does). People's PRs are real commits pushed to the bare repository; the check is what
``shunter check-pr`` (or the Action on a ``pull_request`` event) publishes. Decided by the
check run's conclusion on the PR head, the exit code and the PR's merged flag.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from github import GithubException

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import REPOSITORY

PROD = "env/prod/values.yaml"
GATE_RULE = [
    {
        "type": "required_status_checks",
        "parameters": {"required_status_checks": [{"context": "shunter/gate"}]},
    }
]


@pytest.fixture
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "e2e/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    with pipeline_world(
        tmp_path / "world", oci_registry, path, conformance=github_conformance
    ) as p:
        assert p.w.github is not None
        p.w.github.add_ruleset(REPOSITORY, "main", rules=GATE_RULE)
        yield p


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def hand_pr(p: Pipeline, branch: str, edits: dict[str, Callable[[str], str]]) -> int:
    """alice edits files on ``branch`` (a real commit pushed to the repository) and opens
    a PR into main; return its number."""
    work = p.w.root / f"alice-{branch}"
    git(p.w.root, "clone", "-q", str(p.w.bare), str(work))
    git(work, "checkout", "-q", "-b", branch)
    for path, edit in edits.items():
        target = work / path
        target.write_text(edit(target.read_text() if target.exists() else ""))
    git(work, "add", "-A")
    git(
        work, "-c", "user.name=alice", "-c", "user.email=alice@example.com", "commit", "-qm", "edit"
    )
    git(work, "push", "-q", "origin", branch)
    pr = p.repo("alice").create_pull(base="main", head=branch, title=f"{branch}", body="")
    return pr.number


def gate(p: Pipeline, number: int) -> tuple[str, str | None]:
    """(status, conclusion) of ``shunter/gate`` on the PR's head (``missing`` when none)."""
    head = p.pr(number).head.sha
    runs = [c for c in p.repo().get_commit(head).get_check_runs() if c.name == "shunter/gate"]
    return (runs[0].status, runs[0].conclusion) if runs else ("missing", None)


def try_merge(p: Pipeline, number: int, login: str = "carol") -> bool:
    """``login`` (an admin: no bypass of the ruleset) presses merge; True if it merged."""
    try:
        p.pr(number, login).merge()
    except GithubException as err:
        assert err.status == 405, err  # "Required status check ... is expected"
    return p.pr(number).merged


@pytest.mark.parametrize(
    ("edits", "expect", "conclusion"),
    [
        ({"README.md": lambda t: t + "More words.\n"}, 0, "success"),
        ({PROD: lambda t: t.replace("replicaCount: 3", "replicaCount: 4")}, 0, "success"),
        ({PROD: lambda t: t.replace('tag: "1.8.0"', 'tag: "1.9.9"')}, 1, "failure"),
        (
            {
                "README.md": lambda t: t + "and prod\n",
                "env/dev/kustomization.yaml": lambda t: t.replace('newTag: "1.8.0"', "newTag: 2"),
            },
            1,
            "failure",
        ),
    ],
    ids=["unrelated-file", "prod-replicas", "prod-tag-by-hand", "dev-tag-by-hand"],
)
def test_other_prs_pass_unless_they_change_a_promoted_value(
    pipeline: Pipeline,
    edits: dict[str, Callable[[str], str]],
    expect: int,
    conclusion: str,
) -> None:
    p = pipeline
    number = hand_pr(p, "feature", edits)
    assert gate(p, number) == ("missing", None)
    assert not try_merge(p, number)  # the required check has not run yet

    p.shunter("check-pr", "--pr", str(number), expect=expect)
    assert gate(p, number) == ("completed", conclusion)
    assert try_merge(p, number) is (conclusion == "success")
    tag = 'tag: "1.9.9"' in p.w.main_file(PROD)
    assert not tag  # a hand edit of prod's tag never reaches main


def test_the_action_checks_the_pr_of_a_pull_request_event(pipeline: Pipeline) -> None:
    p = pipeline
    number = hand_pr(p, "hotfix", {PROD: lambda t: t.replace('"1.8.0"', '"6.6.6"')})
    event = p.w.root / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": number}}))
    p.shunter("run", GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=str(event), expect=1)
    assert gate(p, number) == ("completed", "failure")
    # The fork pattern's step: operation check-pr with the number from the artifact.
    fixed = hand_pr(
        p, "replicas", {PROD: lambda t: t.replace("replicaCount: 3", "replicaCount: 2")}
    )
    p.shunter("run", SHUNTER_OPERATION="check-pr", SHUNTER_PULL_REQUEST=str(fixed))
    assert gate(p, fixed) == ("completed", "success")
    # Whatever an artifact says, only a number is taken.
    p.shunter("run", SHUNTER_OPERATION="check-pr", SHUNTER_PULL_REQUEST="1; rm -rf /", expect=2)


def test_promotion_prs_carry_the_gate_and_merge_when_it_holds(pipeline: Pipeline) -> None:
    p = pipeline
    # dev (auto): in one run its PR opens, the gate goes green on it, and it merges
    # past the ruleset that requires the check.
    p.w.push("1.8.4")
    p.shunter("reconcile")
    (dev,) = p.repo().get_pulls(state="all", head="alkon:shunter/dev")
    assert gate(p, dev.number) == ("completed", "success")
    assert p.pr(dev.number).merged

    prod = p.prod_pr(push=False)  # staging follows; prod waits for two approvals
    # check-pr leaves the bot's own PR to the reconcile: it publishes nothing on it.
    writes = p.writes()
    p.shunter("check-pr", "--pr", str(prod))
    assert p.writes() == writes
    p.shunter("reconcile")
    assert gate(p, prod) == ("in_progress", None)
    assert not try_merge(p, prod)  # nobody merges prod by hand before its quorum
    p.pr(prod, "alice").create_review(event="APPROVE")
    p.pr(prod, "tech-lead").create_review(event="APPROVE")
    p.shunter("reconcile")
    assert gate(p, prod) == ("completed", "success")
    assert p.pr(prod).merged

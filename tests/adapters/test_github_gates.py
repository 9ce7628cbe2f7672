"""GitHubForge's gate look-ups against the sandbox: workflow runs, deployments, check runs,
code scanning and permissions, each a domain value or a bot.errors type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.github import GitHubForge
from bot.core.decide.observations import CheckRun, HealthReport
from bot.errors import PermanentError, TransientError
from sandbox.fixtures.github import BOT_TOKEN, VERIFY_WORKFLOW, GitHubWorld
from sandbox.fixtures.gitrepos import git

REPO = "alkon/gitops"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def world(github_sandbox: GitHubWorld) -> GitHubWorld:
    github_sandbox.add_repo(
        REPO,
        {
            "app/values.yaml": "image:\n  tag: 1.0.0\n",
            ".github/workflows/verify.yml": VERIFY_WORKFLOW,
        },
    )
    github_sandbox.sandbox.clock = lambda: T0
    return github_sandbox


@pytest.fixture
def forge(world: GitHubWorld) -> GitHubForge:
    return GitHubForge(
        REPO, BOT_TOKEN, api_url=world.api_url, throttle=False, backoff=0, timeout=5, retries=1
    )


def bare(world: GitHubWorld) -> Path:
    return world.tmp / "alkon__gitops.git"


# --------------------------------------------------------------------------- workflows


def test_dispatched_run_is_found_by_its_marker_and_followed(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    forge.dispatch_workflow("verify.yml", ref="main", inputs={"shunter_id": "other-run"})
    forge.dispatch_workflow(
        "verify.yml", ref="main", inputs={"shunter_id": "shunter-dev-abc", "stage": "dev"}
    )
    assert forge.find_workflow_run("verify.yml", marker="nobody", created_after=T0) is None

    found = forge.find_workflow_run("verify.yml", marker="shunter-dev-abc", created_after=T0)
    assert found is not None
    assert (found.state, found.step) == ("running", "verify.yml")
    assert found.run_id is not None and found.url is not None
    mine = world.sandbox.runs(REPO)[0]
    assert (str(mine.id), mine.inputs["stage"]) == (found.run_id, "dev")
    assert found.url.endswith(f"/actions/runs/{mine.id}")

    world.sandbox.start_run(mine.id)
    assert forge.workflow_run(found.run_id).state == "running"
    world.sandbox.complete_run(mine.id, conclusion="success")
    done = forge.workflow_run(found.run_id)
    assert (done.state, done.run_id) == ("succeeded", found.run_id)
    assert "success" in done.message


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out", "skipped"])
def test_any_other_conclusion_is_a_failed_step(
    world: GitHubWorld, forge: GitHubForge, conclusion: str
) -> None:
    forge.dispatch_workflow("verify.yml", ref="main", inputs={"shunter_id": "m"})
    run_id = world.sandbox.runs(REPO)[0].id
    world.sandbox.complete_run(run_id, conclusion=conclusion)
    step = forge.workflow_run(str(run_id))
    assert step.state == "failed"
    assert conclusion in step.message


def test_runs_created_before_the_step_started_are_not_found(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    forge.dispatch_workflow("verify.yml", ref="main", inputs={"shunter_id": "same-marker"})
    later = T0 + timedelta(minutes=5)
    assert forge.find_workflow_run("verify.yml", marker="same-marker", created_after=later) is None
    world.sandbox.clock = lambda: later
    forge.dispatch_workflow("verify.yml", ref="main", inputs={"shunter_id": "same-marker"})
    found = forge.find_workflow_run("verify.yml", marker="same-marker", created_after=later)
    assert found is not None and found.run_id == str(world.sandbox.runs(REPO)[0].id)


@pytest.mark.parametrize(
    ("file", "ref", "inputs", "says"),
    [
        ("missing.yml", "main", {}, "workflow .github/workflows/missing.yml on main"),
        ("verify.yml", "no-such-branch", {"shunter_id": "x"}, "No ref found"),
        ("verify.yml", "main", {"shunter_id": "x", "colour": "red"}, "Unexpected inputs"),
        ("verify.yml", "main", {}, "Required input 'shunter_id'"),
    ],
)
def test_refused_dispatch_says_why(
    forge: GitHubForge, file: str, ref: str, inputs: dict[str, str], says: str
) -> None:
    with pytest.raises(PermanentError, match=says):
        forge.dispatch_workflow(file, ref=ref, inputs=inputs)


def test_unknown_run_and_bad_run_id_are_permanent(forge: GitHubForge) -> None:
    with pytest.raises(PermanentError, match="workflow run 999999"):
        forge.workflow_run("999999")
    with pytest.raises(PermanentError, match="must be a number"):
        forge.workflow_run("abc")


# --------------------------------------------------------------------------- deployments


@pytest.mark.parametrize(
    ("states", "healthy", "says"),
    [
        (["queued", "in_progress", "success"], True, "is success"),
        (["success", "failure"], False, "is failure"),
        (["success", "inactive"], False, "is inactive"),
        (["pending", "error"], False, "is error"),
        ([], False, "has no status yet"),
    ],
)
def test_deployment_health_reads_the_newest_status(
    world: GitHubWorld, forge: GitHubForge, states: list[str], healthy: bool, says: str
) -> None:
    deployed = git(bare(world), "rev-parse", "main")
    world.sandbox.add_deployment(REPO, "staging", "main", states=["failure"])
    dep = world.sandbox.add_deployment(REPO, "staging", "main", states=states)
    world.sandbox.add_deployment(REPO, "prod", "main", states=["failure"])
    world.push_branch(bare(world), "main", {"x": "1"})  # main moves on; the deployment not
    report = forge.deployment_health("staging")
    assert report.healthy is healthy
    assert says in report.message and f"deployment {dep} " in report.message
    assert report.revision == deployed


def test_newest_deployment_wins_and_names_its_commit(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    world.sandbox.add_deployment(REPO, "staging", "main", states=["success"])
    sha = world.push_branch(bare(world), "main", {"x": "2"})
    dep = world.sandbox.add_deployment(REPO, "staging", sha, states=["in_progress"])
    report = forge.deployment_health("staging")
    assert report == HealthReport(
        False, f"deployment {dep} of {sha[:12]} to staging is in_progress", sha
    )


def test_no_deployment_is_unhealthy(forge: GitHubForge) -> None:
    assert forge.deployment_health("staging") == HealthReport(False, "no deployment to staging yet")


# --------------------------------------------------------------------------- checks


def test_approvals_check_is_created_updated_and_listed_once(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    sha = world.push_branch(bare(world), "shunter/prod", {"x": "1"})
    assert forge.check_runs(sha) == ()
    forge.set_check(
        sha=sha, name="shunter/approvals", conclusion=None, title="1 of 2", summary="waiting"
    )
    assert forge.check_runs(sha) == (CheckRun("shunter/approvals", "in_progress", None, "1 of 2"),)
    forge.set_check(
        sha=sha, name="shunter/approvals", conclusion="success", title="2 of 2", summary="ok"
    )
    assert forge.check_runs(sha) == (
        CheckRun("shunter/approvals", "completed", "success", "2 of 2"),
    )
    forge.set_check(
        sha=sha, name="shunter/approvals", conclusion="failure", title="withdrawn", summary="-"
    )
    assert forge.check_runs(sha) == (
        CheckRun("shunter/approvals", "completed", "failure", "withdrawn"),
    )


def test_check_runs_follow_every_page(world: GitHubWorld, forge: GitHubForge) -> None:
    sha = world.push_branch(bare(world), "shunter/prod", {"x": "1"})
    for i in range(35):  # more than PyGithub's default page of 30
        forge.set_check(sha=sha, name=f"scan-{i:02}", conclusion="success", title="t", summary="s")
    runs = forge.check_runs(sha)
    assert len(runs) == 35
    assert {r.conclusion for r in runs} == {"success"}


# --------------------------------------------------------------------------- code scanning


def test_open_alerts_are_counted_per_ref(world: GitHubWorld, forge: GitHubForge) -> None:
    world.push_branch(bare(world), "shunter/prod", {"x": "1"})
    for severity in ("critical", "high", "warning"):
        world.sandbox.add_code_scanning_alert(REPO, "shunter/prod", severity)
    world.sandbox.add_code_scanning_alert(REPO, "shunter/prod", "low", state="dismissed")
    world.sandbox.add_code_scanning_alert(REPO, "main", "critical")
    assert forge.open_code_scanning_alerts("refs/heads/shunter/prod") == 3
    assert forge.open_code_scanning_alerts("main") == 1
    assert forge.open_code_scanning_alerts("refs/pull/7/head") == 0


def test_no_analysis_means_no_alerts(forge: GitHubForge) -> None:
    assert forge.open_code_scanning_alerts("main") == 0


def test_other_code_scanning_404_is_not_zero(world: GitHubWorld, forge: GitHubForge) -> None:
    world.sandbox.inject_fault("GET", "/code-scanning/alerts$", 404)
    with pytest.raises(PermanentError, match="code scanning results for main"):
        forge.open_code_scanning_alerts("main")


# --------------------------------------------------------------------------- errors


FORBIDDEN = '{"message": "Resource not accessible by integration"}'


@pytest.mark.parametrize(
    ("method", "path", "call", "permission"),
    [
        (
            "POST",
            "/dispatches$",
            lambda f: f.dispatch_workflow("verify.yml", ref="main", inputs={"shunter_id": "x"}),
            "actions: write",
        ),
        (
            "GET",
            "/actions/workflows/verify.yml/runs$",
            lambda f: f.find_workflow_run("verify.yml", marker="x", created_after=T0),
            "actions: read",
        ),
        ("GET", "/deployments$", lambda f: f.deployment_health("staging"), "deployments: read"),
        (
            "GET",
            "/code-scanning/alerts$",
            lambda f: f.open_code_scanning_alerts("main"),
            "security-events: read",
        ),
        ("GET", "/check-runs$", lambda f: f.check_runs("main"), "checks: read"),
    ],
)
def test_forbidden_names_the_permission(
    world: GitHubWorld, forge: GitHubForge, method: str, path: str, call: object, permission: str
) -> None:
    world.sandbox.inject_fault(method, path, 403, body=FORBIDDEN)
    with pytest.raises(PermanentError) as caught:
        call(forge)  # type: ignore[operator]
    assert f"needs {permission}" in str(caught.value)
    assert BOT_TOKEN not in str(caught.value)


def test_server_error_while_following_a_run_is_transient(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    world.sandbox.inject_fault("GET", r"/actions/runs/\d+$", 502)
    with pytest.raises(TransientError, match="HTTP 502"):
        forge.workflow_run("1234")


# --------------------------------------------------------------------------- people


@pytest.mark.parametrize(("role", "expected"), [("read", "read"), (None, "none")])
def test_dispatch_actor_without_write(
    world: GitHubWorld, forge: GitHubForge, role: str | None, expected: str
) -> None:
    world.sandbox.add_user("dave", "dave-token")
    if role is not None:
        world.sandbox.set_permission(REPO, "dave", role)
    assert forge.permission("dave") == expected


def test_unknown_user_has_no_permission(forge: GitHubForge) -> None:
    assert forge.permission("ghost-of-a-deleted-account") == "none"

"""GitHubForge against the GitHub sandbox: domain values out, bot.errors for every failure."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import pytest

from bot.adapters.github import ACTIONS_BOT, GitHubForge
from bot.errors import ConflictError, PermanentError, TransientError
from bot.ports import Deadline, HttpErrorKind
from sandbox.fixtures.github import BOT_TOKEN, GHA_TOKEN, GitHubWorld
from sandbox.fixtures.gitrepos import git

REPO = "alkon/gitops"


@pytest.fixture
def world(github_sandbox: GitHubWorld) -> GitHubWorld:
    github_sandbox.add_repo(REPO, {"app/values.yaml": "image:\n  tag: 1.0.0\n"})
    return github_sandbox


def make_forge(world: GitHubWorld, token: str = BOT_TOKEN, **kw: object) -> GitHubForge:
    options: dict[str, object] = {"throttle": False, "backoff": 0, "timeout": 5, "retries": 2}
    options.update(kw)
    return GitHubForge(REPO, token, api_url=world.api_url, **options)  # type: ignore[arg-type]


@pytest.fixture
def forge(world: GitHubWorld) -> GitHubForge:
    return make_forge(world)


def bare(world: GitHubWorld) -> Path:
    return world.tmp / "alkon__gitops.git"


def push(world: GitHubWorld, tag: str, branch: str = "shunter/dev") -> str:
    return world.push_branch(bare(world), branch, {"app/values.yaml": f"image:\n  tag: {tag}\n"})


def approve(world: GitHubWorld, login: str, number: int) -> None:
    gh = world.client(login)
    gh.get_repo(REPO).get_pull(number).create_review(event="APPROVE")


# --------------------------------------------------------------------------- identity


def test_whoami_and_default_branch(forge: GitHubForge) -> None:
    assert forge.whoami() == "shunter-bot"
    assert forge.default_branch() == "main"


def test_whoami_falls_back_for_github_token(world: GitHubWorld) -> None:
    assert make_forge(world, GHA_TOKEN).whoami() == ACTIONS_BOT


def test_bad_token_names_the_variable_not_the_token(world: GitHubWorld) -> None:
    forge = make_forge(world, "s3cr3t-value", token_env="SHUNTER_TOKEN")
    with pytest.raises(PermanentError) as caught:
        forge.whoami()
    assert "SHUNTER_TOKEN" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)


# --------------------------------------------------------------------------- pull requests


def test_pull_request_lifecycle(world: GitHubWorld, forge: GitHubForge) -> None:
    head = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="Promote", body="b")
    assert (pr.state, pr.merged, pr.author, pr.head_sha, pr.base_branch) == (
        "open",
        False,
        "shunter-bot",
        head,
        "main",
    )
    assert pr.url.endswith(f"/alkon/gitops/pull/{pr.number}")
    assert [p.number for p in forge.open_pull_requests("shunter/dev")] == [pr.number]
    assert forge.open_pull_requests("shunter/prod") == []

    forge.update_pull_request(
        pr.number, title="Promote 1.1.0", body="new body", head_sha=pr.head_sha
    )
    again = forge.pull_request(pr.number)
    assert (again.title, again.body) == ("Promote 1.1.0", "new body")

    forge.close_pull_request(pr.number, "Superseded by a newer freight")
    closed = forge.pull_request(pr.number)
    assert (closed.state, closed.merged, closed.merged_by) == ("closed", False, None)
    assert closed.closed_at is not None
    assert forge.open_pull_requests("shunter/dev") == []
    gh = world.client()
    comments = gh.get_repo(REPO).get_issue(pr.number).get_comments()
    assert [c.body for c in comments] == ["Superseded by a newer freight"]


def test_duplicate_pull_request_is_a_conflict(world: GitHubWorld, forge: GitHubForge) -> None:
    push(world, "1.1.0")
    forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    with pytest.raises(ConflictError, match="already exists"):
        forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")


def test_open_pull_requests_make_one_request(world: GitHubWorld, forge: GitHubForge) -> None:
    push(world, "1.1.0")
    forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    before = len(world.sandbox.requests)
    forge.open_pull_requests("shunter/dev")
    assert len(world.sandbox.requests) == before + 1


def test_head_sha_follows_force_push(world: GitHubWorld, forge: GitHubForge) -> None:
    push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    new = push(world, "1.2.0")
    assert forge.pull_request(pr.number).head_sha == new


def test_reviews_carry_the_commit_they_approved(world: GitHubWorld, forge: GitHubForge) -> None:
    first = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    approve(world, "alice", pr.number)
    second = push(world, "1.2.0")
    approve(world, "tech-lead", pr.number)
    reviews = forge.reviews(pr.number)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [
        ("alice", "APPROVED", first),
        ("tech-lead", "APPROVED", second),
    ]
    assert all(r.submitted_at is not None for r in reviews)


def test_squash_merge_lands_on_main(world: GitHubWorld, forge: GitHubForge) -> None:
    head = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    before = len(world.sandbox.requests)
    sha = forge.merge_pull_request(
        pr.number, sha=head, title="Promote 1.1.0 to dev", message="Freight f00"
    )
    assert [(r.method, r.path) for r in world.sandbox.requests[before:]] == [
        ("PUT", f"/repos/alkon/gitops/pulls/{pr.number}/merge")
    ]
    assert git(bare(world), "rev-parse", "main") == sha
    assert git(bare(world), "log", "-1", "--format=%B", "main") == (
        "Promote 1.1.0 to dev\n\nFreight f00"
    )
    assert git(bare(world), "show", "main:app/values.yaml") == "image:\n  tag: 1.1.0"
    merged = forge.pull_request(pr.number)
    assert (merged.merged, merged.merged_by, merged.merge_commit_sha) == (
        True,
        "shunter-bot",
        sha,
    )
    assert merged.merged_at is not None


def test_merge_with_stale_sha_is_a_conflict(world: GitHubWorld, forge: GitHubForge) -> None:
    stale = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    push(world, "1.2.0")
    main_before = git(bare(world), "rev-parse", "main")
    with pytest.raises(ConflictError, match="Head branch was modified"):
        forge.merge_pull_request(pr.number, sha=stale, title="t", message="m")
    assert git(bare(world), "rev-parse", "main") == main_before


def test_unmergeable_is_a_conflict(world: GitHubWorld, forge: GitHubForge) -> None:
    head = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    push(world, "9.9.9", branch="main")
    with pytest.raises(ConflictError, match="not mergeable"):
        forge.merge_pull_request(pr.number, sha=head, title="t", message="m")


def test_request_reviewers(world: GitHubWorld, forge: GitHubForge) -> None:
    push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    writes = len(world.sandbox.write_requests())
    forge.request_reviewers(pr.number, users=[], teams=[])
    assert len(world.sandbox.write_requests()) == writes
    forge.request_reviewers(pr.number, users=["carol"], teams=["alkon/platform-team"])
    gh = world.client()
    users, teams = gh.get_repo(REPO).get_pull(pr.number).get_review_requests()
    assert ([u.login for u in users], [t.slug for t in teams]) == (["carol"], ["platform-team"])


# --------------------------------------------------------------------------- people


@pytest.mark.parametrize("team", ["platform-team", "alkon/platform-team"])
def test_team_members(forge: GitHubForge, team: str) -> None:
    assert forge.team_members(team) == frozenset({"alice", "bob"})


def test_unknown_team_is_named(forge: GitHubForge) -> None:
    with pytest.raises(PermanentError, match="team alkon/ghosts"):
        forge.team_members("ghosts")


def test_github_token_cannot_read_teams(world: GitHubWorld) -> None:
    with pytest.raises(PermanentError, match=r"GITHUB_TOKEN needs members: read"):
        make_forge(world, GHA_TOKEN).team_members("platform-team")


@pytest.mark.parametrize("role", ["admin", "maintain", "write", "triage", "read"])
def test_permission(world: GitHubWorld, forge: GitHubForge, role: str) -> None:
    world.sandbox.set_permission(REPO, "carol", role)
    assert forge.permission("carol") == role


def test_permission_of_a_stranger(world: GitHubWorld, forge: GitHubForge) -> None:
    world.sandbox.add_user("mallory", "mallory-token")
    assert forge.permission("mallory") == "none"


# --------------------------------------------------------------------------- checks


def check_runs(world: GitHubWorld, sha: str) -> list[tuple[str, str | None, str]]:
    gh = world.client()
    runs = gh.get_repo(REPO).get_commit(sha).get_check_runs()
    return [(r.status, r.conclusion, r.output.title) for r in runs]


def test_set_check_writes_only_on_change(world: GitHubWorld, forge: GitHubForge) -> None:
    sha = push(world, "1.1.0")

    def writes() -> int:
        return len(world.sandbox.write_requests())

    def publish(conclusion: Literal["success", "failure", "neutral"] | None, title: str) -> None:
        forge.set_check(
            sha=sha,
            name="shunter/gates",
            conclusion=conclusion,
            title=title,
            summary="s",
        )

    publish(None, "Waiting for approvals")
    publish(None, "Waiting for approvals")
    assert writes() == 1
    assert check_runs(world, sha) == [("in_progress", None, "Waiting for approvals")]

    publish("success", "All gates hold")
    publish("success", "All gates hold")
    assert writes() == 2
    assert check_runs(world, sha) == [("completed", "success", "All gates hold")]

    publish("failure", "Approval withdrawn")  # a completed run is superseded, not reopened
    assert writes() == 3
    assert check_runs(world, sha)[0] == ("completed", "failure", "Approval withdrawn")


# --------------------------------------------------------------------------- faults

PR_PATH = r"^/repos/alkon/gitops/pulls/1$"


@pytest.mark.parametrize(
    ("status", "headers", "body", "error", "says"),
    [
        (401, {}, None, PermanentError, "GITHUB_TOKEN"),
        (
            403,
            {},
            '{"message": "Resource not accessible by integration"}',
            PermanentError,
            "needs pull-requests: read",
        ),
        (404, {}, None, PermanentError, "pull request #1"),
        (500, {}, None, TransientError, "HTTP 500"),
        (502, {"Content-Type": "text/html"}, "<html>Bad gateway</html>", TransientError, "502"),
        (200, {}, "<html>not json</html>", TransientError, "unreadable"),
        (200, {}, '{"number": 1, "state": ', TransientError, "unreadable"),
        (200, {}, '{"number": "one"}', TransientError, "unreadable"),
        (422, {}, '{"message": "Validation Failed"}', PermanentError, "Validation Failed"),
    ],
)
def test_faults_become_shunter_errors(
    world: GitHubWorld,
    forge: GitHubForge,
    status: int,
    headers: dict[str, str],
    body: str | None,
    error: type[Exception],
    says: str,
) -> None:
    world.sandbox.inject_fault("GET", PR_PATH, status, headers=headers, body=body, times=5)
    with pytest.raises(error) as caught:
        forge.pull_request(1)
    assert isinstance(caught.value, error)
    assert says in str(caught.value)
    assert BOT_TOKEN not in str(caught.value)


RATE_LIMITED = [
    (429, {"Retry-After": "0"}, '{"message": "Too Many Requests"}'),
    (
        403,
        {"Retry-After": "0"},
        '{"message": "You have exceeded a secondary rate limit. Please wait a few minutes '
        'before you try again."}',
    ),
]


@pytest.mark.parametrize(("status", "headers", "body"), RATE_LIMITED)
def test_rate_limits_are_retried(
    world: GitHubWorld, forge: GitHubForge, status: int, headers: dict[str, str], body: str
) -> None:
    world.sandbox.inject_fault("GET", r"^/repos/alkon/gitops$", status, headers=headers, body=body)
    assert forge.default_branch() == "main"
    answers = [r.status for r in world.sandbox.requests if r.path == "/repos/alkon/gitops"]
    assert answers == [status, 200]


@pytest.mark.parametrize(("status", "headers", "body"), RATE_LIMITED)
def test_rate_limits_past_the_budget_are_transient(
    world: GitHubWorld, forge: GitHubForge, status: int, headers: dict[str, str], body: str
) -> None:
    world.sandbox.inject_fault(
        "GET", r"^/repos/alkon/gitops$", status, headers=headers, body=body, times=10
    )
    with pytest.raises(TransientError) as caught:
        forge.default_branch()
    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after == 0
    assert BOT_TOKEN not in str(caught.value)
    answers = [r.status for r in world.sandbox.requests if r.path == "/repos/alkon/gitops"]
    assert answers == [status] * 3  # the first try and a budget of two retries


def test_long_retry_after_is_not_slept_through(world: GitHubWorld, forge: GitHubForge) -> None:
    world.sandbox.inject_fault("GET", r"^/repos/alkon/gitops$", 429, headers={"Retry-After": "900"})
    with pytest.raises(TransientError) as caught:
        forge.default_branch()
    assert caught.value.retry_after == 900
    assert "retry in 900s" in str(caught.value)


@pytest.mark.parametrize(("wait", "asked_again"), [("900", False), ("5", True)])
def test_a_retry_after_longer_than_the_run_has_left_stops_asking_github(
    world: GitHubWorld, wait: str, asked_again: bool
) -> None:
    forge = make_forge(world, deadline=Deadline(60.0), max_retry_wait=1)
    world.sandbox.inject_fault("GET", r"^/repos/alkon/gitops$", 429, headers={"Retry-After": wait})
    with pytest.raises(TransientError):
        forge.default_branch()
    before = len(world.sandbox.requests)
    if asked_again:
        assert forge.whoami() == "shunter-bot"
    else:
        with pytest.raises(TransientError) as caught:
            forge.whoami()
        assert getattr(caught.value, "kind", None) is HttpErrorKind.RATE_LIMITED
    assert (len(world.sandbox.requests) > before) is asked_again


def test_exhausted_primary_rate_limit_reports_the_reset(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    reset = int(time.time()) + 1800
    world.sandbox.inject_fault(
        "GET",
        r"^/repos/alkon/gitops$",
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body='{"message": "API rate limit exceeded for installation ID 1."}',
    )
    with pytest.raises(TransientError) as caught:
        forge.default_branch()
    assert caught.value.retry_after is not None
    assert 1700 < caught.value.retry_after <= 1801


def test_retried_post_creates_one_pull_request(world: GitHubWorld, forge: GitHubForge) -> None:
    push(world, "1.1.0")
    world.sandbox.inject_fault("POST", r"/pulls$", 429, headers={"Retry-After": "0"})
    forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    assert len(forge.open_pull_requests("shunter/dev")) == 1


@pytest.mark.parametrize(("status", "said"), [(405, "not mergeable"), (409, "modified")])
def test_merge_refusals_are_conflicts(
    world: GitHubWorld, forge: GitHubForge, status: int, said: str
) -> None:
    head = push(world, "1.1.0")
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    body = {405: "Pull Request is not mergeable", 409: "Head branch was modified."}[status]
    world.sandbox.inject_fault("PUT", r"/merge$", status, body=f'{{"message": "{body}"}}')
    with pytest.raises(ConflictError, match=said):
        forge.merge_pull_request(pr.number, sha=head, title="t", message="m")


def test_timeout_is_transient(world: GitHubWorld) -> None:
    forge = make_forge(world, timeout=1)
    world.sandbox.inject_fault("GET", r"^/repos/alkon/gitops$", 200, delay=1.5)
    with pytest.raises(TransientError, match="did not answer in time"):
        forge.default_branch()


def test_dropped_connection_is_transient(world: GitHubWorld, forge: GitHubForge) -> None:
    world.sandbox.inject_fault("GET", r"^/repos/alkon/gitops$", 0)
    with pytest.raises(TransientError, match="could not reach GitHub"):
        forge.default_branch()


def test_unreachable_server_is_transient(world: GitHubWorld) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    forge = GitHubForge(
        REPO, BOT_TOKEN, api_url=f"http://127.0.0.1:{port}/api/v3", throttle=False, backoff=0
    )
    with pytest.raises(TransientError, match="could not reach GitHub"):
        forge.default_branch()


def test_bad_repository_name_is_refused() -> None:
    with pytest.raises(PermanentError, match="owner/name"):
        GitHubForge("just-a-name", BOT_TOKEN)


def test_an_expected_refusal_leaves_the_log_to_shunter(world: GitHubWorld) -> None:
    # A write token may not read classic branch protection: GitHub answers 403, which
    # Shunter weighs itself. PyGithub's own log line of it (on a handler it adds to
    # stderr) would read as a failure in the workflow log. A process of its own, so the
    # handler writes where a workflow step's stderr goes.
    script = (
        "import sys\n"
        "from bot.adapters.github import GitHubForge\n"
        "forge = GitHubForge(sys.argv[1], sys.argv[2], api_url=sys.argv[3], throttle=False)\n"
        "print(forge.branch_rules('main').protection_readable)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, REPO, BOT_TOKEN, world.api_url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert (done.stdout, done.stderr) == ("False\n", "")

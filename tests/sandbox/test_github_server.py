"""The GitHub sandbox, driven through PyGithub exactly as the bot drives GitHub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import github
import pytest
import requests
from github import Auth, Github

from sandbox.fixtures.github import BOT_TOKEN, GHA_TOKEN, GitHubWorld, token_of
from sandbox.fixtures.gitrepos import git

REPO = "alkon/gitops"


@pytest.fixture
def world(github_sandbox: GitHubWorld) -> GitHubWorld:
    github_sandbox.add_repo(REPO, {"app/values.yaml": "image:\n  tag: 1.0.0\n"})
    return github_sandbox


def bare(world: GitHubWorld) -> Path:
    return world.tmp / "alkon__gitops.git"


def open_pr(world: GitHubWorld, branch: str = "shunter/dev", tag: str = "1.1.0") -> int:
    world.push_branch(bare(world), branch, {"app/values.yaml": f"image:\n  tag: {tag}\n"})
    repo = world.client().get_repo(REPO)
    return repo.create_pull(base="main", head=branch, title=f"Promote {tag}", body="why").number


def api(world: GitHubWorld, method: str, path: str, login: str = "shunter-bot", **kw: object):
    return requests.request(
        method,
        world.api_url + path,
        headers={"Authorization": f"token {token_of(login)}"},
        timeout=5,
        **kw,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- basics


def test_user_repo_and_rate_limit_headers_under_both_prefixes(world: GitHubWorld) -> None:
    for base in (world.api_url, world.sandbox.base_url):
        gh = Github(
            auth=Auth.Token(BOT_TOKEN), base_url=base, retry=None, seconds_between_requests=None
        )
        assert gh.get_user().login == "shunter-bot"
        repo = gh.get_repo(REPO)
        assert (repo.full_name, repo.default_branch, repo.owner.login) == (REPO, "main", "alkon")
        assert repo.permissions.push is True
        assert repo.html_url.endswith("/alkon/gitops")
    answer = api(world, "GET", "/rate_limit")
    assert answer.json()["resources"]["core"]["limit"] == 5000
    assert int(answer.headers["X-RateLimit-Remaining"]) < 5000


@pytest.mark.parametrize(
    ("headers", "message"),
    [({"Authorization": "token nope"}, "Bad credentials"), ({}, "Requires authentication")],
)
def test_unknown_or_missing_token_is_401(
    world: GitHubWorld, headers: dict[str, str], message: str
) -> None:
    answer = requests.get(world.api_url + "/user", headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["message"] == message
    assert "documentation_url" in answer.json()


def test_bot_token_may_not_read_user(world: GitHubWorld) -> None:
    gh = Github(
        auth=Auth.Token(GHA_TOKEN),
        base_url=world.api_url,
        retry=None,
        seconds_between_requests=None,
    )
    with pytest.raises(github.GithubException) as caught:
        _ = gh.get_user().login
    assert caught.value.status == 403


def test_unknown_path_is_github_404(world: GitHubWorld) -> None:
    answer = api(world, "GET", "/repos/alkon/gitops/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["message"] == "Not Found"
    with pytest.raises(github.UnknownObjectException):
        world.client().get_repo("alkon/missing")


def test_branch_and_ref_come_from_the_bare_repo(world: GitHubWorld) -> None:
    sha = world.push_branch(bare(world), "shunter/dev", {"a": "1"})
    repo = world.client().get_repo(REPO)
    assert repo.get_branch("shunter/dev").commit.sha == sha
    assert repo.get_git_ref("heads/shunter/dev").object.sha == sha
    assert repo.get_branch("main").commit.sha == git(bare(world), "rev-parse", "main")
    with pytest.raises(github.GithubException) as caught:
        repo.get_branch("nope")
    assert caught.value.status == 404


# --------------------------------------------------------------------------- pulls


def test_create_list_update_close(world: GitHubWorld) -> None:
    number = open_pr(world)
    repo = world.client().get_repo(REPO)
    listed = list(repo.get_pulls(state="open", head="alkon:shunter/dev"))
    assert [p.number for p in listed] == [number]
    assert listed[0].user.login == "shunter-bot"
    assert list(repo.get_pulls(state="open", head="alkon:other")) == []
    assert [p.number for p in repo.get_pulls(state="open", base="main")] == [number]

    pr = repo.get_pull(number)
    pr.edit(title="New title", body="New body")
    pr = repo.get_pull(number)
    assert (pr.title, pr.body, pr.state) == ("New title", "New body", "open")
    assert pr.html_url == f"{world.sandbox.base_url}/alkon/gitops/pull/{number}"

    pr.create_issue_comment("Superseded")
    pr.edit(state="closed")
    pr = repo.get_pull(number)
    assert pr.state == "closed"
    assert pr.merged is False
    assert pr.closed_at is not None
    assert [c.body for c in pr.get_issue_comments()] == ["Superseded"]
    assert list(repo.get_pulls(state="open")) == []
    assert [p.number for p in repo.get_pulls(state="closed")] == [number]


def test_list_paginates_with_link_header(world: GitHubWorld) -> None:
    numbers = [open_pr(world, f"shunter/s{i}", f"2.{i}.0") for i in range(3)]
    gh = world.client(per_page=1)
    listed = [p.number for p in gh.get_repo(REPO).get_pulls(state="all")]
    assert listed == sorted(numbers, reverse=True)
    pages = [r.query for r in world.sandbox.requests if r.path == "/repos/alkon/gitops/pulls"]
    assert any("page=3" in q for q in pages)
    first = api(world, "GET", "/repos/alkon/gitops/pulls?per_page=2")
    assert 'rel="next"' in first.headers["Link"]
    assert first.headers["Link"].startswith(f"<{world.api_url}/repos/alkon/gitops/pulls?")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"head": "shunter/dev", "base": "main", "title": "t"}, "A pull request already exists"),
        ({"head": "missing", "base": "main", "title": "t"}, "'field': 'head'"),
        ({"head": "shunter/dev", "base": "nope", "title": "t"}, "'field': 'base'"),
        ({"head": "main", "base": "main", "title": "t"}, "No commits between main and main"),
    ],
)
def test_create_refused_like_github(
    world: GitHubWorld, payload: dict[str, Any], expected: str
) -> None:
    open_pr(world)
    repo = world.client().get_repo(REPO)
    with pytest.raises(github.GithubException) as caught:
        repo.create_pull(**payload)
    assert caught.value.status == 422
    assert caught.value.data["message"] == "Validation Failed"
    assert expected in str(caught.value.data["errors"])


def test_head_sha_follows_force_push(world: GitHubWorld) -> None:
    number = open_pr(world)
    repo = world.client().get_repo(REPO)
    new = world.push_branch(bare(world), "shunter/dev", {"app/values.yaml": "image:\n  tag: 2\n"})
    assert repo.get_pull(number).head.sha == new
    assert [p.head.sha for p in repo.get_pulls()] == [new]


# --------------------------------------------------------------------------- reviews


def test_reviews_are_bound_to_the_commit_they_saw(world: GitHubWorld) -> None:
    number = open_pr(world)
    first = world.sandbox.pull_head(REPO, number)
    world.client("alice").get_repo(REPO).get_pull(number).create_review(event="APPROVE")
    second = world.push_branch(bare(world), "shunter/dev", {"x": "2"})
    bob_pr = world.client("bob").get_repo(REPO).get_pull(number)
    bob_pr.create_review(event="REQUEST_CHANGES", body="not yet")
    reviews = list(world.client().get_repo(REPO).get_pull(number).get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [
        ("alice", "APPROVED", first),
        ("bob", "CHANGES_REQUESTED", second),
    ]
    assert all(r.submitted_at is not None for r in reviews)


def test_review_with_explicit_commit_id(world: GitHubWorld) -> None:
    number = open_pr(world)
    old = world.sandbox.pull_head(REPO, number)
    world.push_branch(bare(world), "shunter/dev", {"x": "2"})
    answer = api(
        world,
        "POST",
        f"/repos/alkon/gitops/pulls/{number}/reviews",
        login="carol",
        json={"event": "APPROVE", "commit_id": old},
    )
    assert answer.status_code == 200
    assert (answer.json()["commit_id"], answer.json()["state"]) == (old, "APPROVED")


def test_approving_your_own_pull_request_is_refused(world: GitHubWorld) -> None:
    number = open_pr(world)
    pr = world.client().get_repo(REPO).get_pull(number)
    with pytest.raises(github.GithubException) as caught:
        pr.create_review(event="APPROVE")
    assert caught.value.status == 422
    assert "Can not approve your own pull request" in str(caught.value.data)
    assert list(pr.get_reviews()) == []


def test_requested_reviewers(world: GitHubWorld) -> None:
    number = open_pr(world)
    pr = world.client().get_repo(REPO).get_pull(number)
    pr.create_review_request(reviewers=["alice", "carol"], team_reviewers=["platform-team"])
    users, teams = pr.get_review_requests()
    assert [u.login for u in users] == ["alice", "carol"]
    assert [t.slug for t in teams] == ["platform-team"]
    pr.delete_review_request(reviewers=["carol"])
    world.client("alice").get_repo(REPO).get_pull(number).create_review(event="APPROVE")
    users, _ = pr.get_review_requests()
    assert [u.login for u in users] == []  # alice reviewed, carol was removed
    with pytest.raises(github.GithubException) as caught:
        pr.create_review_request(reviewers=["shunter-bot"])
    assert caught.value.status == 422
    assert "pull request author" in caught.value.data["message"]


# --------------------------------------------------------------------------- merges


def test_squash_merge_lands_on_main_with_the_message(world: GitHubWorld) -> None:
    number = open_pr(world)
    head = world.sandbox.pull_head(REPO, number)
    old_main = git(bare(world), "rev-parse", "main")
    pr = world.client().get_repo(REPO).get_pull(number)
    status = pr.merge(
        commit_title="Promote 1.1.0 to dev",
        commit_message="Freight abc123",
        merge_method="squash",
        sha=head,
    )
    assert status.merged is True
    assert git(bare(world), "rev-parse", "main") == status.sha
    assert git(bare(world), "log", "-1", "--format=%B", "main") == (
        "Promote 1.1.0 to dev\n\nFreight abc123"
    )
    assert git(bare(world), "log", "-1", "--format=%P", "main") == old_main
    assert git(bare(world), "show", "main:app/values.yaml") == "image:\n  tag: 1.1.0"
    merged = world.client().get_repo(REPO).get_pull(number)
    assert (merged.state, merged.merged, merged.merged_by.login) == ("closed", True, "shunter-bot")
    assert merged.merge_commit_sha == status.sha
    assert merged.merged_at is not None
    assert merged.is_merged() is True


def test_merge_commit_has_two_parents(world: GitHubWorld) -> None:
    number = open_pr(world)
    head = world.sandbox.pull_head(REPO, number)
    pr = world.client().get_repo(REPO).get_pull(number)
    status = pr.merge(merge_method="merge", sha=head)
    parents = git(bare(world), "log", "-1", "--format=%P", status.sha).split()
    assert parents[1] == head
    assert git(bare(world), "log", "-1", "--format=%s", "main") == (
        f"Merge pull request #{number} from alkon/shunter/dev"
    )


def test_open_pull_request_is_not_merged(world: GitHubWorld) -> None:
    number = open_pr(world)
    assert world.client().get_repo(REPO).get_pull(number).is_merged() is False


def test_merge_refused_when_head_moved(world: GitHubWorld) -> None:
    number = open_pr(world)
    stale = world.sandbox.pull_head(REPO, number)
    world.push_branch(bare(world), "shunter/dev", {"x": "2"})
    main_before = git(bare(world), "rev-parse", "main")
    pr = world.client().get_repo(REPO).get_pull(number)
    with pytest.raises(github.GithubException) as caught:
        pr.merge(merge_method="squash", sha=stale)
    assert caught.value.status == 409
    assert caught.value.data["message"] == (
        "Head branch was modified. Review and try the merge again."
    )
    assert git(bare(world), "rev-parse", "main") == main_before


def test_conflicting_merge_is_405(world: GitHubWorld) -> None:
    number = open_pr(world, tag="1.1.0")
    world.push_branch(bare(world), "main", {"app/values.yaml": "image:\n  tag: 9.9.9\n"})
    pr = world.client().get_repo(REPO).get_pull(number)
    assert pr.mergeable is False
    with pytest.raises(github.GithubException) as caught:
        pr.merge(merge_method="squash")
    assert caught.value.status == 405
    assert caught.value.data["message"] == "Pull Request is not mergeable"
    assert world.client().get_repo(REPO).get_pull(number).state == "open"


def test_merge_needs_write_permission(world: GitHubWorld) -> None:
    number = open_pr(world)
    world.sandbox.set_permission(REPO, "carol", "triage")
    pr = world.client("carol").get_repo(REPO).get_pull(number)
    with pytest.raises(github.GithubException) as caught:
        pr.merge(merge_method="squash")
    assert caught.value.status == 403


# --------------------------------------------------------------------------- people and checks


def test_team_members(world: GitHubWorld) -> None:
    team = world.client().get_organization("alkon").get_team_by_slug("platform-team")
    assert sorted(m.login for m in team.get_members()) == ["alice", "bob"]
    assert api(world, "GET", "/orgs/alkon/teams/nobody/members").status_code == 404
    gha = api(world, "GET", "/orgs/alkon/teams/platform-team/members", login="github-actions[bot]")
    assert gha.status_code == 403


@pytest.mark.parametrize(
    ("role", "legacy"),
    [("admin", "admin"), ("maintain", "write"), ("write", "write"), ("triage", "read")],
)
def test_collaborator_permission(world: GitHubWorld, role: str, legacy: str) -> None:
    world.sandbox.set_permission(REPO, "carol", role)
    repo = world.client().get_repo(REPO)
    assert repo.get_collaborator_permission("carol") == legacy
    assert repo.get_collaborator_role_name("carol") == role


def test_check_runs(world: GitHubWorld) -> None:
    sha = world.push_branch(bare(world), "shunter/dev", {"x": "1"})
    repo = world.client().get_repo(REPO)
    run = repo.create_check_run(
        "shunter/gates", sha, status="in_progress", output={"title": "Waiting", "summary": "s"}
    )
    repo.create_check_run("other", sha, conclusion="neutral")
    run.edit(conclusion="success", output={"title": "All gates hold", "summary": "ok"})
    runs = list(repo.get_commit(sha).get_check_runs(check_name="shunter/gates"))
    assert [(r.status, r.conclusion, r.output.title) for r in runs] == [
        ("completed", "success", "All gates hold")
    ]
    assert len(list(repo.get_commit("shunter/dev").get_check_runs())) == 2


# --------------------------------------------------------------------------- HTTP behaviour


def test_conditional_get_answers_304_and_costs_nothing(world: GitHubWorld) -> None:
    number = open_pr(world)
    path = f"/repos/alkon/gitops/pulls/{number}"
    first = api(world, "GET", path)
    second = requests.get(
        world.api_url + path,
        headers={"Authorization": f"token {BOT_TOKEN}", "If-None-Match": first.headers["ETag"]},
        timeout=5,
    )
    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]

    pr = world.client().get_repo(REPO).get_pull(number)
    assert pr.update() is False  # PyGithub's own conditional request
    pr.edit(title="changed")
    assert pr.update() is True


def test_faults_are_injected_then_spent(world: GitHubWorld) -> None:
    world.sandbox.inject_fault("GET", r"^/repos/[^/]+/[^/]+$", 502, times=2)
    assert api(world, "GET", "/repos/alkon/gitops").status_code == 502
    assert api(world, "GET", "/repos/alkon/gitops").json()["message"] == "Bad Gateway"
    assert api(world, "GET", "/repos/alkon/gitops").status_code == 200
    world.sandbox.inject_fault("*", "/user", 200, body="<html>oops</html>")
    assert api(world, "GET", "/user").text == "<html>oops</html>"


def test_write_requests_record_only_writes(world: GitHubWorld) -> None:
    number = open_pr(world)
    world.client().get_repo(REPO).get_pull(number).get_reviews().totalCount  # noqa: B018
    writes = world.sandbox.write_requests()
    assert [(w.method, w.path, w.status, w.login) for w in writes] == [
        ("POST", "/repos/alkon/gitops/pulls", 201, "shunter-bot")
    ]


def test_pull_request_page_shows_title_state_and_reviews(world: GitHubWorld) -> None:
    number = open_pr(world, tag="<b>1.1.0</b>")
    world.client("alice").get_repo(REPO).get_pull(number).create_review(event="APPROVE")
    page = requests.get(f"{world.sandbox.base_url}/alkon/gitops/pull/{number}", timeout=5)
    assert page.status_code == 200
    assert "Promote &lt;b&gt;1.1.0&lt;/b&gt;" in page.text
    assert "alice: APPROVED" in page.text
    assert "<strong>open</strong>" in page.text


def test_runs_standalone(world: GitHubWorld) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.github_server",
            "--repo",
            f"{REPO}={bare(world)}",
            "--user",
            "dave=dave-token",
            "--permission",
            f"{REPO}:dave=write",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        gh = Github(
            auth=Auth.Token("dave-token"), base_url=url, retry=None, seconds_between_requests=None
        )
        assert gh.get_repo(REPO).default_branch == "main"
        assert gh.get_repo(REPO).permissions.push is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --------------------------------------------------------------------------- actions

WORKFLOW = """\
name: Verify
run-name: verify ${{ inputs.shunter_id }} by ${{ github.actor }}
on:
  workflow_dispatch:
    inputs:
      shunter_id: {required: true}
      suite: {default: smoke}
jobs: {}
"""


@pytest.fixture
def actions(world: GitHubWorld) -> GitHubWorld:
    world.push_branch(bare(world), "main", {".github/workflows/verify.yml": WORKFLOW})
    world.push_branch(
        bare(world), "plain", {".github/workflows/verify.yml": "on: [workflow_dispatch]\n"}
    )
    return world


def test_dispatch_creates_a_queued_run_titled_by_run_name(actions: GitHubWorld) -> None:
    repo = actions.client().get_repo(REPO)
    workflow = repo.get_workflow("verify.yml")
    assert workflow.create_dispatch("main", {"shunter_id": "abc"}, throw=True)
    run = actions.sandbox.runs(REPO)[0]
    assert (run.display_title, run.status, run.inputs) == (
        "verify abc by shunter-bot",
        "queued",
        {"shunter_id": "abc", "suite": "smoke"},
    )
    got = repo.get_workflow_run(run.id)
    assert (got.name, got.display_title, got.event, got.status) == (
        "Verify",
        "verify abc by shunter-bot",
        "workflow_dispatch",
        "queued",
    )
    assert got.conclusion is None
    assert (got.head_branch, got.head_sha, got.path) == (
        "main",
        git(bare(actions), "rev-parse", "main"),
        ".github/workflows/verify.yml",
    )
    actions.sandbox.start_run(run.id)
    actions.sandbox.complete_run(run.id, conclusion="failure")
    got = repo.get_workflow_run(run.id)
    assert (got.status, got.conclusion) == ("completed", "failure")
    assert workflow.name == "Verify"


def test_without_run_name_the_title_is_the_workflow_name(actions: GitHubWorld) -> None:
    repo = actions.client().get_repo(REPO)
    repo.get_workflow("verify.yml").create_dispatch("plain", throw=True)
    assert actions.sandbox.runs(REPO)[0].display_title == ".github/workflows/verify.yml"


def test_runs_are_listed_newest_first_and_filtered(actions: GitHubWorld) -> None:
    from datetime import UTC, datetime

    times = iter([datetime(2024, 5, 1, 12, 0, s, 500, tzinfo=UTC) for s in range(3)])
    actions.sandbox.clock = lambda: next(times)
    workflow = actions.client().get_repo(REPO).get_workflow("verify.yml")
    for marker, ref in (("a", "main"), ("b", "plain"), ("c", "main")):
        inputs = {"shunter_id": marker} if ref == "main" else {}
        workflow.create_dispatch(ref, inputs, throw=True)

    def titles(**filters: str) -> list[str]:
        runs = workflow.get_runs(**filters)  # type: ignore[arg-type]
        return [
            r.display_title.removeprefix("verify ").removesuffix(" by shunter-bot") for r in runs
        ]

    plain = ".github/workflows/verify.yml"
    assert titles() == ["c", plain, "a"]
    assert titles(branch="main") == ["c", "a"]
    # Run times carry microseconds; GitHub's comparisons see whole seconds.
    assert titles(created=">=2024-05-01T12:00:01Z", branch="main") == ["c"]
    assert titles(created="<2024-05-01T12:00:01Z") == ["a"]
    assert titles(created="2024-05-01T12:00:01Z..2024-05-01T12:00:02Z") == ["c", plain]
    assert titles(created="2024-05-01") == ["c", plain, "a"]
    assert titles(event="push") == []
    assert workflow.get_runs().totalCount == 3


@pytest.mark.parametrize(
    ("file", "body", "status", "says"),
    [
        ("missing.yml", {"ref": "main"}, 404, "Not Found"),
        ("verify.yml", {"ref": "nope", "inputs": {"shunter_id": "x"}}, 422, "No ref found"),
        ("verify.yml", {"ref": "main", "inputs": {"shunter_id": 1}}, 422, "is not a string"),
        ("verify.yml", {"ref": "main", "inputs": {"shunter_id": "x", "y": "z"}}, 422, "Unexpected"),
        ("verify.yml", {"ref": "main"}, 422, "Required input 'shunter_id'"),
        ("verify.yml", {"inputs": {}}, 422, "ref"),
    ],
)
def test_dispatch_refused_like_github(
    actions: GitHubWorld, file: str, body: dict[str, object], status: int, says: str
) -> None:
    resp = api(actions, "POST", f"/repos/{REPO}/actions/workflows/{file}/dispatches", json=body)
    assert resp.status_code == status
    assert says in resp.json()["message"]
    assert actions.sandbox.runs(REPO) == []


def test_dispatch_without_workflow_dispatch_trigger_is_422(world: GitHubWorld) -> None:
    world.push_branch(bare(world), "main", {".github/workflows/ci.yml": "on: push\njobs: {}\n"})
    resp = api(
        world, "POST", f"/repos/{REPO}/actions/workflows/ci.yml/dispatches", json={"ref": "main"}
    )
    assert resp.status_code == 422
    assert "workflow_dispatch" in resp.json()["message"]


def test_dispatch_needs_write(actions: GitHubWorld) -> None:
    actions.sandbox.set_permission(REPO, "carol", "read")
    resp = api(
        actions,
        "POST",
        f"/repos/{REPO}/actions/workflows/verify.yml/dispatches",
        login="carol",
        json={"ref": "main", "inputs": {"shunter_id": "x"}},
    )
    assert resp.status_code == 403


# --------------------------------------------------------------------------- deployments


def test_deployments_and_statuses_newest_first(world: GitHubWorld) -> None:
    old = world.sandbox.add_deployment(REPO, "staging", "main", states=["success"])
    new = world.sandbox.add_deployment(REPO, "staging", "main", states=["queued", "failure"])
    world.sandbox.add_deployment(REPO, "production", "main", states=["success"])
    repo = world.client().get_repo(REPO)
    deployments = list(repo.get_deployments(environment="staging"))
    assert [d.id for d in deployments] == [new, old]
    assert deployments[0].sha == git(bare(world), "rev-parse", "main")
    assert deployments[0].environment == "staging"
    assert [s.state for s in deployments[0].get_statuses()] == ["failure", "queued"]
    deployments[0].create_status("success")
    assert next(s.state for s in repo.get_deployment(new).get_statuses()) == "success"


def test_unknown_deployment_state_is_refused(world: GitHubWorld) -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        world.sandbox.add_deployment(REPO, "staging", "main", states=["great"])


# --------------------------------------------------------------------------- code scanning


def test_code_scanning_without_analysis_is_404(world: GitHubWorld) -> None:
    resp = api(world, "GET", f"/repos/{REPO}/code-scanning/alerts")
    assert (resp.status_code, resp.json()["message"]) == (404, "no analysis found")


def test_code_scanning_alerts_by_ref_and_state(world: GitHubWorld) -> None:
    world.push_branch(bare(world), "shunter/prod", {"x": "1"})
    world.sandbox.add_code_scanning_alert(REPO, "shunter/prod", "high", rule_id="py/xss")
    world.sandbox.add_code_scanning_alert(REPO, "shunter/prod", "note", state="fixed")
    world.sandbox.add_code_scanning_alert(REPO, "main", "critical")
    repo = world.client().get_repo(REPO)
    alerts = list(repo.get_codescan_alerts(ref="refs/heads/shunter/prod", state="open"))
    assert [
        (a.number, a.state, a.rule.id, a.rule.severity, a.rule.security_severity_level)
        for a in alerts
    ] == [(1, "open", "py/xss", "error", "high")]
    assert alerts[0].most_recent_instance.ref == "refs/heads/shunter/prod"
    assert len(list(repo.get_codescan_alerts(ref="shunter/prod"))) == 2
    assert [a.number for a in repo.get_codescan_alerts()] == [3]  # default branch


def test_check_runs_list_only_the_latest_of_each_name_by_default(world: GitHubWorld) -> None:
    sha = world.push_branch(bare(world), "shunter/dev", {"x": "1"})
    repo = world.client().get_repo(REPO)
    repo.create_check_run("shunter/approvals", sha, conclusion="failure")
    repo.create_check_run("shunter/approvals", sha, conclusion="success")
    runs = list(repo.get_commit(sha).get_check_runs())
    assert [(r.name, r.conclusion) for r in runs] == [("shunter/approvals", "success")]
    assert len(list(repo.get_commit(sha).get_check_runs(filter="all"))) == 2

"""The conformance check itself: it finds GitHub's operations, passes GitHub's shapes and
rejects answers GitHub would never give. Then the demo world, checked answer by answer."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.conformance import Verdict, description
from sandbox.demo import Demo
from sandbox.fixtures.conformance import ConformanceLog, checked_world
from sandbox.fixtures.github import GitHubWorld, token_of
from sandbox.github_server import RecordedRequest
from sandbox.registry import LocalRegistry
from sandbox.world import SandboxWorld

REPO = "alkon/gitops"
NOT_FOUND = b'{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}'


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/repos/alkon/gitops", "repos/get"),
        ("HEAD", "/repos/alkon/gitops", "repos/get"),
        ("GET", "/repos/alkon/gitops/pulls/7", "pulls/get"),
        # A literal segment beats a parameter in the same place.
        ("GET", "/repos/alkon/gitops/pulls/comments", "pulls/list-review-comments-for-repo"),
        # A ref, a branch or a file path may hold slashes; other parameters may not.
        ("GET", "/repos/alkon/gitops/git/ref/heads/shunter/dev", "git/get-ref"),
        ("GET", "/repos/alkon/gitops/branches/shunter/dev", "repos/get-branch"),
        ("GET", "/repos/alkon/gitops/commits/shunter/dev/check-runs", "checks/list-for-ref"),
        ("GET", "/repos/alkon/gitops/contents/env/dev/values.yaml", "repos/get-content"),
        ("PUT", "/repos/alkon/gitops/pulls/7/merge", "pulls/merge"),
        ("GET", "/repos/alkon/gitops/pulls/7/merge", "pulls/check-if-merged"),
        ("POST", "/repos/alkon/gitops/pulls/7", None),
        ("GET", "/repos/alkon/gitops/promotions", None),
    ],
)
def test_each_call_is_found_in_the_description(
    method: str, path: str, operation: str | None
) -> None:
    assert description().operation(method, path) == operation


def fetch(world: GitHubWorld, path: str) -> RecordedRequest:
    """GET ``path`` from the sandbox and return the exchange it recorded."""
    answer = requests.get(
        world.api_url + path, headers={"Authorization": f"token {token_of('alice')}"}, timeout=5
    )
    assert answer.ok, answer.text
    (ex,) = [r for r in world.sandbox.requests if r.path == path]
    return ex


def altered(ex: RecordedRequest, change: Any, **fields: Any) -> RecordedRequest:
    """``ex`` with its JSON body passed through ``change`` (and other fields replaced)."""
    body = json.loads(ex.body)
    change(body)
    return ex._replace(body=json.dumps(body).encode(), **fields)


def test_sandbox_answers_pass_and_broken_ones_fail(github_sandbox: GitHubWorld) -> None:
    github_sandbox.add_repo(REPO)
    repo = fetch(github_sandbox, f"/repos/{REPO}")
    user = fetch(github_sandbox, "/users/alice")
    check = description().check
    assert check(repo).verdict is Verdict.VALID
    assert check(user).verdict is Verdict.VALID

    broken = {
        "user object without events_url": altered(repo, lambda b: b["owner"].pop("events_url")),
        "id as a string": altered(repo, lambda b: b.update(id="1")),
        "non-nullable field null": altered(repo, lambda b: b.update(full_name=None)),
        "bad timestamp": altered(repo, lambda b: b.update(created_at="yesterday")),
        "public user with a private field": altered(
            user, lambda b: b.update(two_factor_authentication=True)
        ),
    }
    verdicts = {name: check(ex) for name, ex in broken.items()}
    assert {name: f.verdict for name, f in verdicts.items()} == dict.fromkeys(
        broken, Verdict.INVALID
    )
    assert verdicts["user object without events_url"].detail.startswith("$.owner:")


@pytest.mark.parametrize(
    ("exchange", "verdict"),
    [
        (RecordedRequest("GET", "/repos/a/b/promotions", 200, "alice"), Verdict.UNKNOWN_OPERATION),
        (RecordedRequest("GET", "/repos/a/b", 202, "alice"), Verdict.UNDESCRIBED_STATUS),
        # An error the operation does not list (GITHUB_TOKEN reading a team) is checked as
        # GitHub's error body, and must be one.
        (
            RecordedRequest(
                "GET", "/orgs/a/teams/t/members", 403, "gha", "", "application/json", NOT_FOUND
            ),
            Verdict.VALID,
        ),
        (RecordedRequest("GET", "/orgs/a/teams/t/members", 403, "gha"), Verdict.NOT_JSON),
        (
            RecordedRequest(
                "GET", "/orgs/a/teams/t/members", 403, "gha", "", "application/json", b'"no"'
            ),
            Verdict.INVALID,
        ),
        (
            RecordedRequest("GET", "/repos/a/b", 200, "alice", "", "application/json", b"<html>"),
            Verdict.NOT_JSON,
        ),
        (
            RecordedRequest("GET", "/repos/a/b/pulls/1/merge", 204, "alice", "", "", b"{}"),
            Verdict.UNEXPECTED_BODY,
        ),
        (RecordedRequest("GET", "/repos/a/b/pulls/1/merge", 204, "alice"), Verdict.VALID),
        (
            RecordedRequest(
                "GET",
                "/repos/a/b",
                404,
                "alice",
                "",
                "application/json",
                NOT_FOUND,
            ),
            Verdict.VALID,
        ),
        (RecordedRequest("GET", "/repos/a/b", 304, "alice"), Verdict.VALID),
        # GitHub's error body rides on errors whose response the description leaves empty,
        (
            RecordedRequest(
                "GET", "/repos/a/b/pulls/1/merge", 404, "alice", "", "application/json", NOT_FOUND
            ),
            Verdict.VALID,
        ),
        # but it is still GitHub's error body.
        (
            RecordedRequest(
                "GET", "/repos/a/b/pulls/1/merge", 404, "alice", "", "application/json", b"[1]"
            ),
            Verdict.INVALID,
        ),
        (
            RecordedRequest("GET", "/a/b/pull/1", 200, None, "", "text/html", b"<html>"),
            Verdict.NOT_CHECKED,
        ),
        (
            RecordedRequest("GET", "/repos/a/b", 502, "alice", "", "", b"", injected=True),
            Verdict.NOT_CHECKED,
        ),
    ],
)
def test_verdicts_beyond_the_body(exchange: RecordedRequest, verdict: Verdict) -> None:
    assert description().check(exchange).verdict is verdict


@pytest.mark.parametrize(
    ("conclusion", "verdict"),
    [(None, Verdict.VALID), ("success", Verdict.VALID), ("sucess", Verdict.INVALID)],
)
def test_a_check_run_in_progress_has_no_conclusion_yet(
    github_sandbox: GitHubWorld, conclusion: str | None, verdict: Verdict
) -> None:
    # GitHub sends "conclusion": null until a check run completes; its description marks
    # the field nullable beside an enum that does not list null.
    bare = github_sandbox.add_repo(REPO)
    head = github_sandbox.push_branch(bare, "feature", {"a.txt": "a\n"})
    made = requests.post(
        f"{github_sandbox.api_url}/repos/{REPO}/check-runs",
        headers={"Authorization": f"token {token_of('shunter-bot')}"},
        json={"name": "shunter/approvals", "head_sha": head, "status": "in_progress"},
        timeout=5,
    )
    assert made.status_code == 201, made.text
    (ex,) = [r for r in github_sandbox.sandbox.requests if r.method == "POST"]
    assert json.loads(ex.body)["conclusion"] is None
    answer = altered(ex, lambda b: b.update(conclusion=conclusion))
    assert description().check(answer).verdict is verdict


def test_the_demo_world_answers_as_github_does(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    world = SandboxWorld(tmp_path / "demo", registry=oci_registry, image_path="demo/flask-app")
    # checked_world raises on leaving, listing each answer GitHub would not give.
    with checked_world(world, github_conformance) as w, contextlib.redirect_stdout(io.StringIO()):
        Demo(w).run()
    assert w.github is not None
    checked = [f for f in description().check_all(w.github.requests) if f.verdict is Verdict.VALID]
    # The demo walks 1.8.4 to prod and two more versions behind it: hundreds of calls.
    assert len(checked) > 200

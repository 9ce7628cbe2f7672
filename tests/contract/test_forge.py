"""The ``Forge`` port's contract, run against the shared fake and the real PyGithub adapter
talking to the GitHub REST sandbox (backed by a real bare repository)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pytest
from github import Auth, Github

from bot.adapters.github import GitHubForge
from bot.errors import ConflictError, PermanentError
from bot.ports import Forge, HttpErrorKind
from sandbox.fakes import FakeForge
from sandbox.fixtures.github import BOT_TOKEN, GitHubWorld, token_of

REPO = "alkon/gitops"
FILES = {"app/values.yaml": "image:\n  tag: 1.0.0\n"}


@dataclass
class Side:
    """A forge, and how the test world pushes a branch and reviews a PR on it."""

    forge: Forge
    push: Callable[[str, str], str]  # (branch, tag) -> the new head
    review: Callable[[str, int, str], None]  # (login, PR number, APPROVE|REQUEST_CHANGES)


@pytest.fixture(params=["fake", "sandbox"])
def side(request: pytest.FixtureRequest) -> Side:
    def values(tag: str) -> dict[str, str]:
        return {"app/values.yaml": f"image:\n  tag: {tag}\n"}

    if request.param == "fake":
        fake = FakeForge(repository=REPO)
        fake.seed(FILES)
        fake.permissions.update({"alice": "write", "carol": "admin"})

        def review_fake(login: str, number: int, event: str) -> None:
            state: Literal["APPROVED", "CHANGES_REQUESTED"] = (
                "APPROVED" if event == "APPROVE" else "CHANGES_REQUESTED"
            )
            fake.review(number, login, state)

        return Side(fake, lambda branch, tag: fake.push_branch(branch, values(tag)), review_fake)
    world: GitHubWorld = request.getfixturevalue("github_sandbox")
    bare = world.add_repo(REPO, FILES)
    world.sandbox.set_permission(REPO, "carol", "admin")
    real = GitHubForge(
        REPO, BOT_TOKEN, api_url=world.api_url, throttle=False, backoff=0, timeout=5, retries=2
    )

    def review_real(login: str, number: int, event: str) -> None:
        gh = Github(auth=Auth.Token(token_of(login)), base_url=world.api_url, retry=None)
        pull = gh.get_repo(REPO).get_pull(number)
        pull.create_review(event=event, body="" if event == "APPROVE" else "no")

    return Side(real, lambda branch, tag: world.push_branch(bare, branch, values(tag)), review_real)


def test_identity(side: Side) -> None:
    assert side.forge.whoami() == "shunter-bot"
    assert side.forge.default_branch() == "main"
    assert side.forge.permission("carol") == "admin"
    assert side.forge.permission("alice") == "write"


def test_a_pull_request_from_open_to_closed(side: Side) -> None:
    head = side.push("shunter/dev", "1.1.0")
    f = side.forge
    pr = f.create_pull_request(base="main", head="shunter/dev", title="Promote", body="b")
    assert (pr.state, pr.merged, pr.author, pr.head_sha, pr.base_branch) == (
        "open",
        False,
        "shunter-bot",
        head,
        "main",
    )
    assert [p.number for p in f.open_pull_requests("shunter/dev")] == [pr.number]
    assert f.open_pull_requests("shunter/prod") == []
    f.update_pull_request(pr.number, title="Promote 1.1.0", body="new", head_sha=pr.head_sha)
    assert (f.pull_request(pr.number).title, f.pull_request(pr.number).body) == (
        "Promote 1.1.0",
        "new",
    )
    # Texts that describe another head are refused, and the PR keeps what it says.
    with pytest.raises(ConflictError):
        f.update_pull_request(pr.number, title="Promote 1.0.0", body="stale", head_sha="0" * 40)
    f.close_pull_request(pr.number, "Superseded")
    with pytest.raises(ConflictError):
        f.update_pull_request(pr.number, title="Promote 1.0.0", body="late", head_sha=pr.head_sha)
    assert f.pull_request(pr.number).body == "new"
    closed = f.pull_request(pr.number)
    assert (closed.state, closed.merged, closed.merged_by) == ("closed", False, None)
    assert closed.closed_at is not None
    assert f.open_pull_requests("shunter/dev") == []
    assert [p.number for p in f.recent_pull_requests("shunter/dev")] == [pr.number]


def test_a_second_open_pull_request_for_a_head_is_a_conflict(side: Side) -> None:
    side.push("shunter/dev", "1.1.0")
    side.forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    with pytest.raises(ConflictError):
        side.forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")


@pytest.mark.parametrize("ask", ["read", "comment", "label"])
def test_an_unknown_pull_request_is_not_found(side: Side, ask: str) -> None:
    with pytest.raises(PermanentError) as info:
        if ask == "read":
            side.forge.pull_request(999)
        elif ask == "label":
            side.forge.add_labels(999, ["promotion"])
        else:
            side.forge.comment_pull_request(999, "hello")
    assert getattr(info.value, "kind", None) is HttpErrorKind.NOT_FOUND


def test_the_head_follows_a_push_and_reviews_keep_their_commit(side: Side) -> None:
    first = side.push("shunter/dev", "1.1.0")
    pr = side.forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    side.review("alice", pr.number, "APPROVE")
    second = side.push("shunter/dev", "1.2.0")
    assert side.forge.pull_request(pr.number).head_sha == second
    side.review("carol", pr.number, "REQUEST_CHANGES")
    reviews = side.forge.reviews(pr.number)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [
        ("alice", "APPROVED", first),
        ("carol", "CHANGES_REQUESTED", second),
    ]


def test_a_merge_names_the_head_it_checked(side: Side) -> None:
    old = side.push("shunter/dev", "1.1.0")
    pr = side.forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    new = side.push("shunter/dev", "1.2.0")
    with pytest.raises(ConflictError):
        side.forge.merge_pull_request(pr.number, sha=old, title="t", message="m")
    merged_sha = side.forge.merge_pull_request(pr.number, sha=new, title="t", message="m")
    done = side.forge.pull_request(pr.number)
    assert (done.state, done.merged, done.merge_commit_sha) == ("closed", True, merged_sha)
    assert [(c.path, c.status) for c in side.forge.pull_request_files(pr.number)] == [
        ("app/values.yaml", "modified")
    ]


def test_the_newest_check_run_of_each_name(side: Side) -> None:
    head = side.push("shunter/prod", "1.1.0")
    f = side.forge
    f.set_check(sha=head, name="shunter/approvals", conclusion=None, title="0 of 2", summary="")
    f.set_check(
        sha=head, name="shunter/approvals", conclusion="success", title="2 of 2", summary=""
    )
    runs = {c.name: c for c in f.check_runs(head)}
    approvals = runs["shunter/approvals"]
    assert (approvals.status, approvals.conclusion, approvals.title) == (
        "completed",
        "success",
        "2 of 2",
    )


def test_a_changed_files_blob_reads_back_as_its_text(side: Side) -> None:
    side.push("feature", "2.0.0")
    f = side.forge
    pr = f.create_pull_request(base="main", head="feature", title="t", body="b")
    (changed,) = f.pull_request_files(pr.number)
    assert changed.path == "app/values.yaml" and changed.blob_sha is not None
    assert f.blob_text(changed.blob_sha) == "image:\n  tag: 2.0.0\n"
    with pytest.raises(PermanentError) as err:
        f.blob_text("0" * 40)
    assert getattr(err.value, "kind", None) is HttpErrorKind.NOT_FOUND


def test_commit_statuses_name_their_creator_newest_first(side: Side) -> None:
    head = side.push("shunter/prod", "1.1.0")
    f = side.forge
    assert f.statuses(head) == ()
    f.set_status(head, context="shunter/approved", state="pending", description="a",
                 target_url=None)  # fmt: skip
    url = "https://github.example/alkon/gitops/actions/runs/7"
    f.set_status(head, context="shunter/approved", state="success", description="b" * 200,
                 target_url=url)  # fmt: skip
    newest, oldest = f.statuses(head)
    assert (newest.context, newest.state, newest.creator, newest.target_url) == (
        "shunter/approved",
        "success",
        "shunter-bot",
        url,
    )
    assert len(newest.description) <= 140  # GitHub keeps 140 characters
    assert (oldest.state, oldest.description) == ("pending", "a")


def test_a_status_on_a_commit_that_does_not_exist_is_refused(side: Side) -> None:
    with pytest.raises(PermanentError):
        side.forge.set_status(
            "0" * 40, context="shunter/approved", state="success", description="", target_url=None
        )


def test_a_deployment_is_recorded_once_and_reads_back_healthy(side: Side) -> None:
    head = side.push("shunter/dev", "1.1.0")
    pr = side.forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    merged = side.forge.merge_pull_request(pr.number, sha=head, title="t", message="m")
    first = side.forge.record_deployment("dev", merged, description="a (1.1.0)", url=pr.url)
    again = side.forge.record_deployment("dev", merged, description="a (1.1.0)", url=pr.url)
    assert first == again  # keyed by commit and environment: nothing new the second time
    health = side.forge.deployment_health("dev")
    assert (health.healthy, health.revision) == (True, merged)

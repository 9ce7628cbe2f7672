from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.decide.approvals import NotCounted, NotCountedWhy, count_approvals, role_at_least
from bot.core.decide.outcomes import Failure, FailureKind, System
from bot.core.decide.pulls import PullRequest, Review
from bot.core.model import Approvals, Approver

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
HEAD = "h" * 40
OLD = "o" * 40
RULE = Approvals(
    required=True,
    approvers=(Approver("team", "platform-team"), Approver("user", "tech-lead")),
    minimum_approvals=2,
)
TEAMS: dict[str, frozenset[str] | Failure] = {"alkon/platform-team": frozenset({"alice", "bob"})}


def pr(head: str = HEAD) -> PullRequest:
    return PullRequest(
        number=7,
        url="u",
        title="t",
        body="b",
        author="shunter-bot",
        head_branch="shunter/prod",
        head_sha=head,
        base_branch="main",
        state="open",
        merged=False,
        merged_by=None,
        merge_commit_sha=None,
        created_at=T0,
    )


def review(user: str, state: str = "APPROVED", sha: str = HEAD, minutes: int = 1) -> Review:
    return Review(
        id=minutes,
        user=user,
        state=state,  # type: ignore[arg-type]
        commit_id=sha,
        submitted_at=T0 + timedelta(minutes=minutes),
    )


def count(
    *reviews: Review,
    teams: dict[str, frozenset[str] | Failure] = TEAMS,
    by: str = "shunter",
    rule: Approvals = RULE,
    pushers: frozenset[str] = frozenset(),
    permissions: dict[str, str] | None = None,
    deadline: datetime | None = None,
):
    return count_approvals(
        rule,
        pr(),
        tuple(reviews),
        teams=teams,
        owner="alkon",
        excluded=frozenset({"shunter-bot", by}),
        pushers=pushers,
        permissions=permissions,
        deadline=deadline,
    )


def test_two_eligible_approvals_on_head_pass() -> None:
    r = count(review("alice"), review("tech-lead", minutes=2))
    assert r.satisfied
    assert r.approved_by == ("alice", "tech-lead")


@pytest.mark.parametrize(
    ("reviews", "why"),
    [
        ((review("alice"), review("mallory", minutes=2)), "not an eligible approver"),
        ((review("alice"), review("tech-lead", sha=OLD, minutes=2)), None),  # older head
        ((review("alice"), review("alice", minutes=2)), None),  # same person twice
        ((review("alice"), review("shunter-bot", minutes=2)), "cannot approve their own"),
    ],
)
def test_votes_that_do_not_count(reviews: tuple[Review, ...], why: str | None) -> None:
    r = count(*reviews)
    assert not r.satisfied
    assert r.approved_by == ("alice",)
    if why:
        assert any(why in text for text in r.ignored)


def test_requester_cannot_approve_their_own_promotion() -> None:
    r = count(review("alice"), review("bob", minutes=2), by="bob")
    assert r.approved_by == ("alice",)
    assert not r.satisfied


def test_eligible_changes_requested_blocks() -> None:
    r = count(
        review("alice"),
        review("tech-lead", minutes=2),
        review("bob", "CHANGES_REQUESTED", minutes=3),
    )
    assert not r.satisfied
    assert r.changes_requested_by == ("bob",)
    assert "changes requested by bob" in r.describe(RULE)


def test_later_review_replaces_earlier_but_comment_does_not() -> None:
    r = count(
        review("alice", "CHANGES_REQUESTED", minutes=1),
        review("alice", "APPROVED", minutes=2),
        review("alice", "COMMENTED", minutes=3),
        review("tech-lead", minutes=4),
    )
    assert r.satisfied


def test_unreadable_team_fails_closed_with_message() -> None:
    r = count(
        review("alice"),
        review("tech-lead", minutes=2),
        teams={
            "alkon/platform-team": Failure(FailureKind.PERMANENT, System.GITHUB, "403 Forbidden")
        },
    )
    assert not r.satisfied
    assert "members: read" in r.describe(RULE)


def test_pushers_and_commit_authors_never_count() -> None:
    r = count(review("alice"), review("tech-lead", minutes=2), pushers=frozenset({"Alice"}))
    assert not r.satisfied
    assert r.approved_by == ("tech-lead",)
    assert r.not_counted == (NotCounted("alice", NotCountedWhy.PUSHED_TO_HEAD),)


ANYONE = Approvals(required=True, approvers=(), minimum_approvals=1)
ROLES = {"alice": "write", "carol": "admin", "reader": "read", "triager": "triage"}


@pytest.mark.parametrize(
    ("login", "counts"),
    [
        ("alice", True),
        ("carol", True),
        ("reader", False),
        ("triager", False),
        ("stranger", False),  # permission unknown: fail closed
    ],
)
def test_no_approvers_named_means_write_permission(login: str, counts: bool) -> None:
    r = count(review(login), rule=ANYONE, permissions=ROLES)
    assert r.satisfied is counts
    if not counts:
        assert r.not_counted == (NotCounted(login, NotCountedWhy.NO_WRITE),)


@pytest.mark.parametrize(
    ("later", "stands"),
    [
        ((), True),
        ((review("bob", "COMMENTED", minutes=6),), True),
        ((review("bob", "APPROVED", sha=OLD, minutes=6),), False),  # approved later
        ((review("bob", "APPROVED", minutes=6),), False),
        ((review("bob", "DISMISSED", sha=OLD, minutes=6),), False),  # dismissed
    ],
)
def test_changes_requested_stands_across_pushes(later: tuple[Review, ...], stands: bool) -> None:
    # bob objected on an older head; the head moved on since (a push), and two approve it.
    r = count(
        review("bob", "CHANGES_REQUESTED", sha=OLD, minutes=1),
        review("alice", minutes=2),
        review("tech-lead", minutes=3),
        *later,
    )
    assert (r.changes_requested_by == ("bob",)) is stands
    assert r.satisfied is not stands


def test_ineligible_objection_does_not_block() -> None:
    r = count(
        review("alice"),
        review("tech-lead", minutes=2),
        review("mallory", "CHANGES_REQUESTED", minutes=3),
    )
    assert r.satisfied


def test_approval_after_the_deadline_does_not_count() -> None:
    deadline = T0 + timedelta(minutes=5)
    r = count(review("alice", minutes=4), review("tech-lead", minutes=6), deadline=deadline)
    assert not r.satisfied
    assert r.approved_by == ("alice",)
    assert r.not_counted == (NotCounted("tech-lead", NotCountedWhy.AFTER_TIMEOUT),)
    assert count(review("alice"), review("tech-lead", minutes=5), deadline=deadline).satisfied


@pytest.mark.parametrize(
    ("have", "need", "ok"),
    [
        ("admin", "maintain", True),
        ("maintain", "maintain", True),
        ("write", "maintain", False),
        ("write", "write", True),
        ("bogus", "read", False),
        ("admin", "bogus", False),
    ],
)
def test_role_order(have: str, need: str, ok: bool) -> None:
    assert role_at_least(have, need) is ok

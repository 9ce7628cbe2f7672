"""Main's rules as a gate: CODEOWNERS matching and which rules a PR does not meet yet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.codeowners import parse_codeowners
from bot.core.decide.mainrules import (
    BlockKind,
    BranchRules,
    MergeBlock,
    describe_block,
    merge_blocks,
)
from bot.core.decide.observations import CheckRun
from bot.core.decide.pulls import Review, ReviewState

HEAD, OLD = "h" * 40, "o" * 40
CODEOWNERS = """\
# Each stage's folder has its own reviewers.
*                   @alkon/platform-team
/env/prod/          @alkon/sre @tech-lead
env/staging/*       @alice
*.md                docs@alkon.invalid
/kargo/             # nobody owns the config
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("env/prod/values.yaml", ("@alkon/sre", "@tech-lead")),
        ("env/prod/deep/file.yaml", ("@alkon/sre", "@tech-lead")),
        ("env/staging/kustomization.yaml", ("@alice",)),
        ("env/staging/nested/x.yaml", ("@alkon/platform-team",)),  # `dir/*` is one level
        ("README.md", ("docs@alkon.invalid",)),
        ("env/prod/NOTES.md", ("docs@alkon.invalid",)),  # the last match wins
        ("kargo/stages/prod.yaml", ()),
        ("other/env/prod/values.yaml", ("@alkon/platform-team",)),  # anchored to the root
    ],
)
def test_codeowners_last_match_wins(path: str, owners: tuple[str, ...]) -> None:
    assert parse_codeowners(CODEOWNERS).owners(path) == owners


def review(user: str, state: ReviewState, commit: str = HEAD) -> Review:
    return Review(1, user, state, commit, datetime(2026, 1, 1, tzinfo=UTC))


def blocks(rules: BranchRules, reviews: list[Review], **kw: object) -> tuple[MergeBlock, ...]:
    return merge_blocks(
        rules,
        author="shunter-bot",
        head_sha=HEAD,
        reviews=reviews,
        checks=(),
        **kw,  # type: ignore[arg-type]
    )


def test_required_reviews_count_each_reviewers_latest_verdict_but_never_the_author() -> None:
    rules = BranchRules("main", required_approvals=2)
    reviews = [
        review("alice", "APPROVED"),
        review("alice", "COMMENTED"),  # a comment does not withdraw an approval
        review("shunter-bot", "APPROVED"),  # the author never counts
        review("bob", "APPROVED"),
        review("bob", "DISMISSED"),
    ]
    (block,) = blocks(rules, reviews)
    assert (block.kind, block.needed, block.have, block.names) == (
        BlockKind.APPROVING_REVIEWS,
        2,
        1,
        ("alice",),
    )
    assert blocks(rules, [*reviews, review("carol", "APPROVED")]) == ()


def test_stale_approvals_count_only_when_the_branch_keeps_them() -> None:
    old = [review("alice", "APPROVED", OLD)]
    assert blocks(BranchRules("main", required_approvals=1), old) == ()
    (block,) = blocks(BranchRules("main", required_approvals=1, dismiss_stale_reviews=True), old)
    assert block.kind is BlockKind.APPROVING_REVIEWS and block.have == 0


def test_changes_requested_blocks_until_superseded() -> None:
    rules = BranchRules("main", required_approvals=1)
    reviews = [review("alice", "APPROVED"), review("bob", "CHANGES_REQUESTED")]
    assert [b.kind for b in blocks(rules, reviews)] == [BlockKind.CHANGES_REQUESTED]
    assert blocks(rules, [*reviews, review("bob", "APPROVED")]) == ()


def test_code_owners_of_every_changed_file_must_approve() -> None:
    rules = BranchRules("main", required_approvals=1, code_owner_review=True)
    owners = parse_codeowners(CODEOWNERS)
    teams = {"alkon/sre": frozenset({"dana"})}
    kw = {"changed_files": ["env/prod/values.yaml"], "codeowners": owners, "team_members": teams}
    (block,) = blocks(rules, [review("alice", "APPROVED")], **kw)
    assert (block.kind, block.names, block.have) == (
        BlockKind.CODE_OWNER_REVIEW,
        ("@alkon/sre", "@tech-lead"),
        0,
    )
    assert describe_block(block) == (
        "main requires 1 approving review from a code owner (@alkon/sre, @tech-lead); none yet"
    )
    assert blocks(rules, [review("dana", "APPROVED")], **kw) == ()  # a member of the team
    assert blocks(rules, [review("tech-lead", "APPROVED")], **kw) == ()


@pytest.mark.parametrize(
    ("run", "state"),
    [
        (None, "missing"),
        (CheckRun("ci/test", "in_progress", None), "pending"),
        (CheckRun("ci/test", "completed", "failure"), "failure"),
        (CheckRun("ci/test", "completed", "success"), None),
        (CheckRun("ci/test", "completed", "skipped"), None),
    ],
)
def test_required_checks_must_pass_on_the_head(run: CheckRun | None, state: str | None) -> None:
    rules = BranchRules("main", required_checks=("ci/test", "shunter/approvals"))
    found = merge_blocks(
        rules,
        author="shunter-bot",
        head_sha=HEAD,
        reviews=(),
        checks=() if run is None else (run,),
        own_checks=frozenset({"shunter/approvals"}),  # published by the bot itself
    )
    assert [b.state for b in found] == ([] if state is None else [state])


def test_a_bypass_holds_nothing_back_and_combining_keeps_the_strictest() -> None:
    ruleset = BranchRules("main", required_approvals=1, can_bypass=True, sources=("ruleset 7",))
    classic = BranchRules("main", required_checks=("ci/test",), sources=("branch protection",))
    assert blocks(ruleset, []) == ()
    both = ruleset.combine(classic)
    assert (both.required_approvals, both.required_checks, both.can_bypass) == (
        1,
        ("ci/test",),
        False,  # the classic rule is not bypassed
    )
    assert ruleset.combine(BranchRules("main")).can_bypass is True


HIDDEN = BranchRules("main", protection_readable=False)
GATE_REQUIRED = BranchRules("main", required_checks=("shunter/gate",), protection_readable=False)


@pytest.mark.parametrize(
    ("rules", "state", "checks", "blocked"),
    [
        # classic protection unreadable: GitHub's "blocked" stands in for the hidden rule
        (HIDDEN, "blocked", (), True),
        (HIDDEN, "clean", (), False),
        (HIDDEN, None, (), False),  # not read: GitHub's answer to the merge decides
        # readable rules are the whole story: mergeable_state adds nothing
        (BranchRules("main"), "blocked", (), False),
        # Shunter's own required check is not green yet: the block may be just that
        (GATE_REQUIRED, "blocked", (), False),
        (GATE_REQUIRED, "blocked", (CheckRun("shunter/gate", "completed", "success"),), True),
    ],
)
def test_an_unreadable_rule_is_known_by_githubs_blocked_state(
    rules: BranchRules, state: str | None, checks: tuple[CheckRun, ...], blocked: bool
) -> None:
    blocks = merge_blocks(
        rules,
        author="shunter-bot",
        head_sha=HEAD,
        reviews=(),
        checks=checks,
        own_checks=frozenset({"shunter/gate"}),
        mergeable_state=state,
    )
    assert [b.kind for b in blocks] == ([BlockKind.UNREADABLE_RULES] if blocked else [])

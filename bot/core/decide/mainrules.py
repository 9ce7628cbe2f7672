"""The rules GitHub enforces before a pull request may merge into a branch, as a gate.

A promotion PR that GitHub refuses to merge is stuck, and the reason is GitHub's: the
branch's classic protection and its rulesets. ``BranchRules`` is what the forge read of
both (the strictest of each setting wins, as GitHub applies every rule that matches);
``merge_blocks`` says, from the PR's reviews and checks, which of them are not met yet.

GitHub facts this rests on:

- required approving reviews count each reviewer's latest approving or
  changes-requested review; the PR's author never counts, and with "dismiss stale
  reviews" only approvals of the current head commit count; a changes-requested review
  blocks until it is dismissed or superseded.
  https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-pull-request-reviews-before-merging
- with "require review from code owners", every changed file that has owners needs an
  approval from one of them.
  https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners
- required status checks must have completed successfully (``success``, ``neutral`` or
  ``skipped``) on the head commit.
  https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-status-checks-before-merging
- rulesets carry the same three rules (``pull_request``, ``required_status_checks``) and
  say whether the caller may bypass them (``current_user_can_bypass``).
  https://docs.github.com/en/rest/repos/rules

Approvals are counted without asking each reviewer's repository permission (GitHub counts
only reviewers with write access): a read-only reviewer's approval is therefore counted
here and refused by GitHub at merge time, which the merge reports as a conflict to retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.core.codeowners import CodeOwners
from bot.core.decide.observations import CheckRun
from bot.core.decide.pulls import Review
from bot.core.model import Stage

__all__ = [
    "BlockKind",
    "BranchRules",
    "MergeBlock",
    "describe_block",
    "managed_paths",
    "merge_blocks",
]

#: Conclusions GitHub accepts for a required check.
PASSING = frozenset({"success", "neutral", "skipped"})


@dataclass(frozen=True)
class BranchRules:
    """What GitHub requires before a PR merges into ``branch``.

    ``can_bypass``: the token's identity may merge regardless (a ruleset bypass actor, or
    an admin where classic protection does not include administrators).
    ``protection_readable``: ``False`` when classic branch protection could not be read
    (it needs ``administration: read``, which ``GITHUB_TOKEN`` lacks): rulesets are still
    known, and GitHub's merge answer remains the last word.
    ``restricts_push``: only some identities may push to the branch (a ruleset's
    ``update``/``creation``/``deletion`` rule, or classic push restrictions);
    ``forbids_force_push``: history may not be rewritten (``non_fast_forward``).
    ``sources``: where the rules came from (``branch protection``, ``ruleset ID``)."""

    branch: str
    required_approvals: int = 0
    code_owner_review: bool = False
    dismiss_stale_reviews: bool = False
    required_checks: tuple[str, ...] = ()
    can_bypass: bool = False
    protection_readable: bool = True
    restricts_push: bool = False
    forbids_force_push: bool = False
    sources: tuple[str, ...] = ()

    @property
    def restricts_merge(self) -> bool:
        """Whether anything here can hold a PR back."""
        return bool(self.required_approvals or self.code_owner_review or self.required_checks)

    @property
    def restricts(self) -> bool:
        """Whether anything here holds back a merge or a push."""
        return self.restricts_merge or self.restricts_push or self.forbids_force_push

    def combine(self, other: BranchRules) -> BranchRules:
        """Both sets of rules at once: the strictest of each, every check of both."""
        checks = tuple(dict.fromkeys(self.required_checks + other.required_checks))
        return BranchRules(
            branch=self.branch,
            required_approvals=max(self.required_approvals, other.required_approvals),
            code_owner_review=self.code_owner_review or other.code_owner_review,
            dismiss_stale_reviews=self.dismiss_stale_reviews or other.dismiss_stale_reviews,
            required_checks=checks,
            # A bypass of one set does not bypass the other, unless nothing is left there.
            can_bypass=(self.can_bypass or not self.restricts)
            and (other.can_bypass or not other.restricts)
            and (self.restricts or other.restricts),
            protection_readable=self.protection_readable and other.protection_readable,
            restricts_push=self.restricts_push or other.restricts_push,
            forbids_force_push=self.forbids_force_push or other.forbids_force_push,
            sources=self.sources + other.sources,
        )


class BlockKind(Enum):
    """Which of the branch's rules holds the PR back."""

    APPROVING_REVIEWS = "approving-reviews"
    CHANGES_REQUESTED = "changes-requested"
    CODE_OWNER_REVIEW = "code-owner-review"
    REQUIRED_CHECK = "required-check"
    UNREADABLE_RULES = "unreadable-rules"  # GitHub says "blocked"; the rule is not readable


@dataclass(frozen=True)
class MergeBlock:
    """One unmet rule of ``branch``.

    ``needed``/``have``: approvals (APPROVING_REVIEWS, CODE_OWNER_REVIEW: ``needed`` is 1
    per owned path group). ``names``: the reviewers who asked for changes, the owners
    asked for, or the one check. ``state``: for a check, ``missing``, ``pending`` or its
    conclusion."""

    kind: BlockKind
    branch: str
    needed: int = 0
    have: int = 0
    names: tuple[str, ...] = ()
    state: str = ""


def merge_blocks(
    rules: BranchRules,
    *,
    author: str,
    head_sha: str,
    reviews: Sequence[Review],
    checks: Sequence[CheckRun],
    own_checks: frozenset[str] = frozenset(),
    changed_files: Sequence[str] = (),
    codeowners: CodeOwners | None = None,
    team_members: Mapping[str, frozenset[str]] | None = None,
    mergeable_state: str | None = None,
) -> tuple[MergeBlock, ...]:
    """The rules of ``rules.branch`` the PR does not meet yet, in the order GitHub lists
    them (reviews, code owners, checks); empty when GitHub would let it merge, or when the
    token may bypass the rules.

    ``own_checks`` are checks the caller publishes itself just before merging (Shunter's
    gate check), so they never block. ``team_members`` maps ``org/slug`` to logins, for
    code owners that are teams; an unknown team's approval cannot be recognised.

    When classic protection could not be read (``protection_readable`` false), GitHub's
    own ``mergeable_state`` of the PR stands in for it: ``blocked`` with every known rule
    met is an ``UNREADABLE_RULES`` block, unless one of ``own_checks`` is required and
    not yet passing (then the block may be that check, which the caller publishes next,
    and GitHub's answer to the merge decides)."""
    if rules.can_bypass:
        return ()
    latest = _latest_reviews(reviews, author)
    approvers = tuple(
        user
        for user, rv in latest.items()
        if rv.state == "APPROVED" and (not rules.dismiss_stale_reviews or rv.commit_id == head_sha)
    )
    out: list[MergeBlock] = []
    if rules.required_approvals:
        objectors = tuple(u for u, rv in latest.items() if rv.state == "CHANGES_REQUESTED")
        if objectors:
            out.append(MergeBlock(BlockKind.CHANGES_REQUESTED, rules.branch, names=objectors))
        if len(approvers) < rules.required_approvals:
            out.append(
                MergeBlock(
                    BlockKind.APPROVING_REVIEWS,
                    rules.branch,
                    needed=rules.required_approvals,
                    have=len(approvers),
                    names=approvers,
                )
            )
    if rules.code_owner_review and codeowners is not None:
        members = team_members or {}
        groups = {codeowners.owners(path) for path in changed_files} - {()}
        unmet = [
            owners
            for owners in sorted(groups)
            if not any(_is_owner(user, owners, members) for user in approvers)
        ]
        if unmet:
            names = tuple(dict.fromkeys(o for owners in unmet for o in owners))
            out.append(
                MergeBlock(
                    BlockKind.CODE_OWNER_REVIEW,
                    rules.branch,
                    needed=len(groups),
                    have=len(groups) - len(unmet),
                    names=names,
                )
            )
    newest = {c.name: c for c in checks}
    for name in rules.required_checks:
        if name in own_checks:
            continue
        run = newest.get(name)
        if run is None:
            out.append(
                MergeBlock(BlockKind.REQUIRED_CHECK, rules.branch, names=(name,), state="missing")
            )
        elif run.status != "completed":
            out.append(
                MergeBlock(BlockKind.REQUIRED_CHECK, rules.branch, names=(name,), state="pending")
            )
        elif run.conclusion not in PASSING:
            state = run.conclusion or "failure"
            out.append(
                MergeBlock(BlockKind.REQUIRED_CHECK, rules.branch, names=(name,), state=state)
            )
    own_pending = any(
        name in own_checks
        and not (
            (run := newest.get(name)) is not None
            and run.status == "completed"
            and run.conclusion in PASSING
        )
        for name in rules.required_checks
    )
    if (
        not rules.protection_readable
        and mergeable_state == "blocked"
        and not out
        and not own_pending
    ):
        out.append(MergeBlock(BlockKind.UNREADABLE_RULES, rules.branch, state="blocked"))
    return tuple(out)


def describe_block(block: MergeBlock) -> str:
    """One line a person reads: ``main requires 1 approving review from a code owner
    (@alkon/platform-team); none yet``."""
    b = block.branch
    if block.kind is BlockKind.APPROVING_REVIEWS:
        so_far = "none yet" if not block.have else f"{block.have} so far ({', '.join(block.names)})"
        return f"{b} requires {_reviews(block.needed)}; {so_far}"
    if block.kind is BlockKind.CHANGES_REQUESTED:
        return f"{b} blocks merging while changes are requested by {', '.join(block.names)}"
    if block.kind is BlockKind.CODE_OWNER_REVIEW:
        owners = ", ".join(block.names)
        so_far = "none yet" if not block.have else f"{block.have} of {block.needed} so far"
        return f"{b} requires 1 approving review from a code owner ({owners}); {so_far}"
    if block.kind is BlockKind.UNREADABLE_RULES:
        return (
            f"GitHub reports this PR blocked from merging into {b} by branch protection this "
            "token cannot read; the PR's merge box says what is missing. Grant the token "
            "administration: read (a GitHub App), or move the rule into a ruleset, which "
            "any token reads"
        )
    name = block.names[0] if block.names else "?"
    state = {
        "missing": "it has not run on this commit",
        "pending": "it is still running",
    }.get(block.state, f"it ended {block.state}")
    return f"{b} requires check {name} to pass; {state}"


def managed_paths(stage: Stage) -> tuple[str, ...]:
    """The files a promotion of ``stage`` edits (what CODEOWNERS is asked about)."""
    out: list[str] = []
    for upd in stage.git_repo_updates:
        out += [f"{k.path.strip('/')}/kustomization.yaml" for k in upd.kustomize]
        out += [y.file.strip("/") for y in upd.yaml]
    return tuple(dict.fromkeys(out))


def _reviews(n: int) -> str:
    return f"{n} approving review" + ("" if n == 1 else "s")


def _latest_reviews(reviews: Sequence[Review], author: str) -> dict[str, Review]:
    """Each reviewer's latest review that carries a verdict (comments and pending drafts do
    not replace an approval), oldest first; the PR's author is never a reviewer."""
    latest: dict[str, Review] = {}
    for rv in reviews:
        if rv.user == author or rv.state in ("COMMENTED", "PENDING"):
            continue
        latest.pop(rv.user, None)
        if rv.state != "DISMISSED":
            latest[rv.user] = rv
    return latest


def _is_owner(user: str, owners: tuple[str, ...], members: Mapping[str, frozenset[str]]) -> bool:
    # Owners are written ``@login``, ``@org/team`` or as an e-mail (never matched: GitHub
    # needs the address verified on an account, which the API does not show).
    handle = "@" + user
    return any(handle == o or user in members.get(o.removeprefix("@"), frozenset()) for o in owners)

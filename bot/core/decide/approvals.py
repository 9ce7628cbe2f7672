"""The multi-approver gate: who has approved a promotion pull request, and does it count.

Rules (each one is a way people try to get around a review):

* only approvals given on the PR's *current* head commit count; pushing a new commit (a
  newer candidate rewriting the PR) resets the count;
* one vote per person: their latest APPROVED / CHANGES_REQUESTED / DISMISSED review wins,
  COMMENTED and PENDING reviews do not change it;
* an eligible "changes requested" blocks the merge whatever the count, and stands as
  GitHub keeps it: until the same reviewer approves later or the review is dismissed. A
  new push does not clear it (pushing is how an objection would otherwise be walked round);
* only eligible people count: a user named in ``approvers`` or a member of a named team;
  with no approvers named, anyone with at least ``write`` permission (on a public
  repository anyone may leave a review). A team whose members cannot be read, or a
  reviewer whose permission is unknown, fails closed;
* the PR's author, the bot itself, the person who asked for the promotion and everyone
  who authored or committed a commit on the head never count;
* an approval submitted after the stage's approval deadline (``submitted_at`` past
  ``started + timeout``) does not count, even if no run looked in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.core.decide.outcomes import Failure
from bot.core.decide.pulls import PullRequest, Review
from bot.core.model import Approvals

#: GitHub's repository roles, weakest first
#: (https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user).
ROLE_ORDER = ("none", "read", "triage", "write", "maintain", "admin")


def role_at_least(have: str, need: str) -> bool:
    """True when role ``have`` includes role ``need`` (an unknown role includes nothing)."""
    if have not in ROLE_ORDER or need not in ROLE_ORDER:
        return False
    return ROLE_ORDER.index(have) >= ROLE_ORDER.index(need)


class NotCountedWhy(Enum):
    """Why an approval was seen and not counted."""

    OWN_PROMOTION = "cannot approve their own promotion"
    PUSHED_TO_HEAD = "authored or pushed a commit on the head"
    NOT_ELIGIBLE = "not an eligible approver"
    NO_WRITE = "has no write permission"
    AFTER_TIMEOUT = "approved after the approval timeout"


@dataclass(frozen=True)
class NotCounted:
    """One approval that does not count, and why."""

    login: str
    why: NotCountedWhy

    def __str__(self) -> str:
        return f"{self.login} ({self.why.value})"


@dataclass(frozen=True)
class ApprovalResult:
    approved_by: tuple[str, ...]  # eligible approvers on the current head, sorted
    needed: int
    changes_requested_by: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # team look-ups that failed (the gate fails closed)
    not_counted: tuple[NotCounted, ...] = ()

    @property
    def ignored(self) -> tuple[str, ...]:
        """``alice (not an eligible approver)``, one per approval not counted, for the PR body."""
        return tuple(str(n) for n in self.not_counted)

    @property
    def satisfied(self) -> bool:
        """True when enough eligible people approved and nobody eligible objects."""
        return (
            not self.problems
            and not self.changes_requested_by
            and len(self.approved_by) >= self.needed
        )

    def describe(self, rule: Approvals) -> str:
        """One line for the ``shunter/approvals`` check run: ``approvals: 1 of 2 (alice)``."""
        return f"approvals: {self.detail(rule)}"

    def detail(self, rule: Approvals) -> str:
        """Who approved, who objects, what is missing: the approvals gate's detail."""
        who = ", ".join(self.approved_by) or "nobody yet"
        text = f"{len(self.approved_by)} of {self.needed} ({who})"
        if self.changes_requested_by:
            text += f"; changes requested by {', '.join(self.changes_requested_by)}"
        if self.problems:
            text += "; " + "; ".join(self.problems)
        elif not self.satisfied:
            text += f"; approvers: {approver_list(rule)}"
        return text


def approver_list(rule: Approvals) -> str:
    """``team platform-team, user tech-lead`` as people read it."""
    return ", ".join(f"{a.type} {a.name}" for a in rule.approvers) or "anyone with write permission"


def team_key(name: str, owner: str) -> str:
    """Normalise a team reference to ``org/slug`` (a bare slug belongs to ``owner``)."""
    return name if "/" in name else f"{owner}/{name}"


def count_approvals(
    rule: Approvals,
    pr: PullRequest,
    reviews: tuple[Review, ...],
    *,
    teams: dict[str, frozenset[str] | Failure],
    owner: str,
    excluded: frozenset[str],
    pushers: frozenset[str] = frozenset(),
    permissions: Mapping[str, str] | None = None,
    deadline: datetime | None = None,
) -> ApprovalResult:
    """Evaluate ``rule`` against the reviews of ``pr``.

    ``teams`` maps ``org/slug`` to its members or to the failure of their look-up;
    ``excluded`` holds the logins that may never approve this promotion (author, bot, requester);
    ``pushers`` the logins that authored or committed a commit on the head (they never
    count either). ``permissions`` maps reviewer logins to their repository role; it is
    read only when ``rule`` names no approvers, and a reviewer missing from it does not
    count. ``deadline`` is the last moment an approval may be submitted (``None``: no
    timeout). Returns the result; never raises.
    """
    users = {a.name.lower() for a in rule.approvers if a.type == "user"}
    team_names = [team_key(a.name, owner) for a in rule.approvers if a.type == "team"]
    problems: list[str] = []
    members: set[str] = set()
    for t in team_names:
        got = teams.get(t)
        if isinstance(got, frozenset):
            members |= {m.lower() for m in got}
        else:
            problems.append(
                f"cannot read team {t}: {got.detail if got is not None else 'not looked up'}"
                " (the token needs the organization 'members: read' permission)"
            )
    anyone_with_write = not rule.approvers
    roles = {k.lower(): v for k, v in (permissions or {}).items()}
    excluded_l = {e.lower() for e in excluded}
    pushers_l = {e.lower() for e in pushers}

    # Each person's standing vote, in submission order: an objection on any head stands
    # until they approve (any head) or it is dismissed; an approval counts only on the head.
    latest: dict[str, Review] = {}
    for r in sorted(reviews, key=lambda r: (r.submitted_at is None, r.submitted_at, r.id)):
        if r.state in ("COMMENTED", "PENDING") or r.submitted_at is None:
            continue
        latest[r.user.lower()] = r

    approved: list[str] = []
    objecting: list[str] = []
    not_counted: list[NotCounted] = []
    for login, r in sorted(latest.items()):
        why: NotCountedWhy | None = None
        if login in excluded_l:
            why = NotCountedWhy.OWN_PROMOTION
        elif login in pushers_l:
            why = NotCountedWhy.PUSHED_TO_HEAD
        elif anyone_with_write and not role_at_least(roles.get(login, "none"), "write"):
            why = NotCountedWhy.NO_WRITE
        elif not anyone_with_write and login not in users and login not in members:
            why = NotCountedWhy.NOT_ELIGIBLE
        if r.state == "CHANGES_REQUESTED":
            if why is None:
                objecting.append(r.user)
            continue
        if r.state != "APPROVED" or r.commit_id != pr.head_sha:
            continue  # dismissed, or an approval of another head
        late = deadline is not None and r.submitted_at is not None and r.submitted_at > deadline
        if why is None and late:
            why = NotCountedWhy.AFTER_TIMEOUT
        if why is None:
            approved.append(r.user)
        else:
            not_counted.append(NotCounted(r.user, why))
    return ApprovalResult(
        approved_by=tuple(approved),
        needed=rule.minimum_approvals,
        changes_requested_by=tuple(objecting),
        problems=tuple(problems),
        not_counted=tuple(not_counted),
    )

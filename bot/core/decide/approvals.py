"""The multi-approver gate: who has approved a promotion pull request, and does it count.

Rules (each one is a way people try to get around a review):

* only reviews given on the PR's *current* head commit count; pushing a new commit (a
  newer candidate rewriting the PR) resets the count;
* one vote per person: their latest APPROVED / CHANGES_REQUESTED / DISMISSED review on
  that head wins, COMMENTED reviews do not change it;
* only eligible people count: a user named in ``approvers`` or a member of a named team;
  a team whose members cannot be read makes the gate fail closed, with a message;
* the PR's author, the bot itself and the person who asked for the promotion never count;
* an eligible "changes requested" blocks the merge whatever the count.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.decide.pulls import PullRequest, Review
from bot.core.model import Approvals


@dataclass(frozen=True)
class ApprovalResult:
    approved_by: tuple[str, ...]  # eligible approvers on the current head, sorted
    needed: int
    changes_requested_by: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # team look-ups that failed (the gate fails closed)
    ignored: tuple[str, ...] = ()  # "alice (not an eligible approver)", for the PR body

    @property
    def satisfied(self) -> bool:
        """True when enough eligible people approved and nobody eligible objects."""
        return (
            not self.problems
            and not self.changes_requested_by
            and len(self.approved_by) >= self.needed
        )

    def describe(self, rule: Approvals) -> str:
        """One line for the PR body, the step summary and ``--dry-run``."""
        who = ", ".join(self.approved_by) or "nobody yet"
        text = f"approvals: {len(self.approved_by)} of {self.needed} ({who})"
        if self.changes_requested_by:
            text += f"; changes requested by {', '.join(self.changes_requested_by)}"
        if self.problems:
            text += "; " + "; ".join(self.problems)
        elif not self.satisfied:
            text += f"; approvers: {approver_list(rule)}"
        return text


def approver_list(rule: Approvals) -> str:
    """``team platform-team, user tech-lead`` as people read it."""
    return ", ".join(f"{a.type} {a.name}" for a in rule.approvers) or "any reviewer"


def team_key(name: str, owner: str) -> str:
    """Normalise a team reference to ``org/slug`` (a bare slug belongs to ``owner``)."""
    return name if "/" in name else f"{owner}/{name}"


def count_approvals(
    rule: Approvals,
    pr: PullRequest,
    reviews: tuple[Review, ...],
    *,
    teams: dict[str, frozenset[str] | str],
    owner: str,
    excluded: frozenset[str],
) -> ApprovalResult:
    """Evaluate ``rule`` against the reviews of ``pr``.

    ``teams`` maps ``org/slug`` to its members or to an error message; ``excluded`` holds
    the logins that may never approve this promotion (author, bot, requester).
    Returns the result; never raises.
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
                f"cannot read team {t}: {got or 'not looked up'}"
                " (the token needs the organization 'members: read' permission)"
            )
    anyone = not rule.approvers
    excluded_l = {e.lower() for e in excluded}

    latest: dict[str, Review] = {}
    for r in sorted(reviews, key=lambda r: (r.submitted_at is None, r.submitted_at, r.id)):
        if r.commit_id != pr.head_sha or r.state in ("COMMENTED", "PENDING"):
            continue
        latest[r.user.lower()] = r

    approved: list[str] = []
    objecting: list[str] = []
    ignored: list[str] = []
    for login, r in sorted(latest.items()):
        if login in excluded_l:
            if r.state == "APPROVED":
                ignored.append(f"{r.user} (cannot approve their own promotion)")
            continue
        eligible = anyone or login in users or login in members
        if not eligible:
            if r.state == "APPROVED":
                ignored.append(f"{r.user} (not an eligible approver)")
            continue
        if r.state == "APPROVED":
            approved.append(r.user)
        elif r.state == "CHANGES_REQUESTED":
            objecting.append(r.user)
    return ApprovalResult(
        approved_by=tuple(approved),
        needed=rule.minimum_approvals,
        changes_requested_by=tuple(objecting),
        problems=tuple(problems),
        ignored=tuple(ignored),
    )

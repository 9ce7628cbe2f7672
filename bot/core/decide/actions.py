"""What a plan is made of: the actions the loop carries out, and the ``Plan`` itself. Pure.

Every action the planner can ask for is one frozen dataclass here, so the loop, the
renderers and the tests import them from one place. ``Plan`` carries the ledger after
the step with the actions, decisions and changes that explain it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.decide.inconsistency import Inconsistency
from bot.core.decide.outcomes import (
    Change,
    Decision,
    DecisionKind,
    Gate,
    Subject,
)
from bot.core.discover.freight import Freight
from bot.core.ledger import (
    Ledger,
    PromotionKind,
)
from bot.core.model import Warehouse


@dataclass(frozen=True)
class OpenPromotionPR:
    """Write the stage's manifests for ``freight`` on branch ``shunter/<stage>`` and open
    (or, with ``pr``, rewrite) its pull request."""

    stage: str
    freight: Freight
    previous: Freight | None
    title: str
    body: str
    commit_message: str
    pr: int | None = None
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    # Merged PRs of this stage already recorded: an earlier promotion of the same freight
    # (before a rollback, say) is not this one.
    recorded: frozenset[int] = frozenset()
    kind: PromotionKind = "auto"
    restore: str = ""  # what differed when the PR's head is put back to the bot's edit
    # A person's grant this run received: attested on the head as the ``shunter/approved``
    # commit status with this description (empty: nothing to attest).
    attest: str = ""
    labels: tuple[str, ...] = ()  # git-open-pr's labels, put on the PR it opens or rewrites


@dataclass(frozen=True)
class MergePromotionPR:
    """Merge PR ``pr`` if its head is still ``head_sha``; ``freight`` is what it promotes,
    so a PR that no longer merges can be rebuilt on the base with the same freight."""

    stage: str
    pr: int
    head_sha: str
    title: str
    message: str
    freight: Freight | None = None


@dataclass(frozen=True)
class ClosePromotionPR:
    """Close stage ``stage``'s promotion PR ``pr`` without merging, saying why in
    ``comment``."""

    stage: str
    pr: int
    comment: str


@dataclass(frozen=True)
class UpdatePromotionPR:
    """Rewrite the title and body of stage ``stage``'s promotion PR ``pr`` when what they
    say changed (a gate's state, for one); the branch is left as it is."""

    stage: str
    pr: int
    title: str
    body: str
    # The head the texts describe: a run that looked before another run pushed newer
    # freight (or merged) must not put its older marker back on the PR.
    head_sha: str


@dataclass(frozen=True)
class StartVerificationStep:
    """Start one verification step: dispatch its workflow (an HTTP check is observed)."""

    stage: str
    freight: Freight
    step: str
    marker: str  # unique; the workflow's run-name carries it so the run can be found
    workflow: str | None  # .github/workflows/<file>; None for an HTTP check
    commit: str = ""  # the promotion's merge commit, which the workflow should test
    ref: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PushPromotion:
    """Write the stage's manifests for ``freight`` straight onto its branch (no PR)."""

    stage: str
    freight: Freight
    commit_message: str


@dataclass(frozen=True)
class PublishCheck:
    """Create or update a check run (``shunter/gate``) that branch protection can require."""

    stage: str
    sha: str
    name: str
    conclusion: str | None  # None: in progress
    title: str
    summary: str


Action = (
    OpenPromotionPR
    | MergePromotionPR
    | ClosePromotionPR
    | UpdatePromotionPR
    | StartVerificationStep
    | PublishCheck
    | PushPromotion
)


@dataclass
class Plan:
    """The ledger after this step, the actions that get the world there, and why."""

    ledger: Ledger
    actions: list[Action] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # what changed in the ledger
    # The warehouses by name: which freight is newer follows their subscriptions' order.
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    inconsistencies: list[Inconsistency] = field(default_factory=list)

    def say(
        self,
        subject: Subject,
        kind: DecisionKind,
        *,
        blocked: bool = False,
        freight: str = "",
        pr: int | None = None,
        gates: tuple[Gate, ...] = (),
        detail: str = "",
    ) -> None:
        """Record what ``subject`` does or waits for after this plan."""
        self.decisions.append(Decision(subject, kind, blocked, freight, pr, gates, detail))

    def changed(self, change: Change) -> None:
        """Record one change to the ledger."""
        self.changes.append(change)


def alias(p: Plan, name: str) -> str:
    rec = p.ledger.freight.get(name)
    return freight_label(rec.freight) if rec else name[:7]


def freight_label(f: Freight) -> str:
    return f"{f.alias} ({f.summary()})"

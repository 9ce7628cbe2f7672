"""What the reconcile loop saw of the world, handed to the planner as plain values.

The planner never asks anything itself: the loop observes registries and GitHub, puts the
answers here, and calls ``plan``. Anything not observed this run is simply absent, and the
planner then leaves that part of the ledger alone (a failing registry loses nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # mainrules reads CheckRun from here
    from bot.core.codeowners import CodeOwners
    from bot.core.decide.mainrules import BranchRules
    from bot.core.decide.outcomes import Failure

    # Pull requests are named in annotations only; a discovery-only run reads none.
    from bot.core.decide.pulls import PullRequest, Review
    from bot.core.discover.artifacts import Artifact
    from bot.core.ledger import CachedSelection

    # exact brings the promotion steps with it (a fifth of a refresh's start-up), and
    # observations only name its PrCheck in annotations.
    from bot.core.promote.exact import PrCheck


@dataclass(frozen=True)
class SubscriptionResult:
    """One subscription's candidates, newest first, or why there are none.

    ``error`` is the typed failure of asking it (transient, permanent or misconfigured).
    ``cache_key``/``cache`` carry the discovery cache entry to keep for this
    subscription (``None``: nothing to keep, e.g. after an error, which keeps the old one).
    """

    label: str  # e.g. "image ghcr.io/alkon/flask-app"
    artifacts: tuple[Artifact, ...] = ()
    error: Failure | None = None
    cache_key: str | None = None
    cache: CachedSelection | None = None
    validators: dict[str, str] | None = None  # a chart repository's, keyed by cache_key


@dataclass(frozen=True)
class Discovery:
    """Everything one warehouse's subscriptions returned this run (in config order)."""

    warehouse: str
    subscriptions: tuple[SubscriptionResult, ...]
    #: A person asked for this warehouse's freight this run (``shunter refresh``): freight
    #: is made even when the warehouse's ``freightCreationPolicy`` is ``Manual``.
    requested: bool = False

    @property
    def error(self) -> Failure | None:
        """The first failure among the subscriptions (its detail names the subscription),
        or ``None`` when all answered."""
        for s in self.subscriptions:
            if s.error is not None:
                return replace(s.error, detail=f"{s.label}: {s.error.detail}")
        return None


@dataclass(frozen=True)
class PromotionPR:
    """A stage's promotion pull request as GitHub reports it now, with its reviews."""

    pr: PullRequest
    reviews: tuple[Review, ...] = ()
    # Whether it is the bot's own PR and exactly its edit (None: could not be checked,
    # so nothing that depends on it goes ahead).
    check: PrCheck | None = None


@dataclass(frozen=True)
class HealthReport:
    """One stage's health now: healthy or not, why, and the git revision it runs (if known)."""

    healthy: bool
    message: str
    revision: str | None = None


StepState = Literal["pending", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class StepRun:
    """The latest run of one verification step for the stage's current freight."""

    step: str
    state: StepState
    message: str = ""
    url: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class CheckRun:
    """A GitHub check run on a commit (for SecurityScanPassed)."""

    name: str
    status: str  # queued | in_progress | completed
    conclusion: str | None  # success | failure | neutral | cancelled | skipped | timed_out | ...
    title: str | None = None  # output.title


@dataclass(frozen=True)
class Observations:
    """Everything observed this round. A look-up that failed is a :class:`Failure` in
    place of its value, so a gate that needs it stays closed and says why."""

    discoveries: dict[str, Discovery] = field(default_factory=dict)  # by warehouse
    prs: dict[str, PromotionPR] = field(default_factory=dict)  # by stage
    teams: dict[str, frozenset[str] | Failure] = field(default_factory=dict)  # org/slug: members
    bot_login: str = "shunter[bot]"
    forge: bool = True  # False: no GitHub API this run (read-only / local commands)
    health: dict[str, HealthReport] = field(default_factory=dict)  # by stage
    verification: dict[str, dict[str, StepRun]] = field(default_factory=dict)  # stage -> step
    incidents: dict[str, tuple[str, ...] | Failure] = field(default_factory=dict)  # integration
    checks: dict[str, tuple[CheckRun, ...] | Failure] = field(default_factory=dict)  # PR head
    code_scanning: dict[str, int | Failure] = field(default_factory=dict)  # stage: open alerts
    timezones: dict[str, tzinfo] = field(default_factory=dict)  # IANA name -> zone
    pushed: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage: (freight, commit)
    main_rules: dict[str, BranchRules | Failure] = field(default_factory=dict)  # base branch
    codeowners: CodeOwners | None = None  # the base branch's CODEOWNERS, when a rule needs it
    # Each stage's recently closed promotion PRs (bounded), to record merges nobody did.
    recent: dict[str, tuple[PullRequest, ...]] = field(default_factory=dict)
    # The check of each merged PR in ``recent`` no run recorded, by number (absent: not
    # checked, so it is not recorded this run).
    recent_checks: dict[int, PrCheck] = field(default_factory=dict)
    # Each stage's manifests on its branch (path -> text, None: absent), read after the PRs.
    main_files: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Stages whose emergency request this run received: only they skip gates.
    granted: frozenset[str] = frozenset()
    # Of those, the stages whose request is a person's ordinary promotion (Kargo's
    # ``promote``): it stands in for auto-promotion, in this run only.
    by_hand: frozenset[str] = frozenset()
    # (freight, stage) verifiedIn entries no merged bot promotion stands behind.
    unbacked: frozenset[tuple[str, str]] = frozenset()
    # Reviewers' repository roles, for an approvals rule that names no approvers.
    permissions: dict[str, str] = field(default_factory=dict)
    # Stage -> the freight its open promotion PR's head attests a person's grant for
    # (``shunter/approved``), or the failure of asking; absent: no attestation needed
    # (verified upstream) or none there.
    attested: dict[str, str | Failure] = field(default_factory=dict)

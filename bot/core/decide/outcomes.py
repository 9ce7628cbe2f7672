"""What a run decided, changed and failed at, as typed values. Pure.

The planner and the loop speak only in these values; words are made from them at the
edge (the step summary, the PR body, ``reconcile`` output, the state commit message), by
their ``render()`` methods. Code decides on ``kind``, ``holds``/``blocked`` and the typed
fields, never on rendered text: a ``detail`` field is for people and nothing reads it
back (``tests/core/test_no_message_logic.py`` looks for code that does).

* :class:`Subject` names what an outcome is about: a stage or a warehouse.
* :class:`Gate` is one condition on a promotion, with its :class:`GateKind`.
* :class:`Decision` is what one stage or warehouse waits for or does now.
* :class:`Change` is one change to the ledger; the state commit message and the Action's
  ``promotions`` output are made from them.
* :class:`Failure` is one thing that could not be observed or done, with its
  :class:`FailureKind` (transient, permanent, misconfigured) and :class:`System`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.core.ledger import PromotionKind


class SubjectKind(Enum):
    """What an outcome is about: a stage or a warehouse."""

    STAGE = "stage"
    WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Subject:
    """A stage or a warehouse, by name."""

    kind: SubjectKind
    name: str

    @classmethod
    def stage(cls, name: str) -> Subject:
        return cls(SubjectKind.STAGE, name)

    @classmethod
    def warehouse(cls, name: str) -> Subject:
        return cls(SubjectKind.WAREHOUSE, name)

    def render(self) -> str:
        """``dev`` for a stage, ``warehouse/app`` for a warehouse."""
        if self.kind is SubjectKind.WAREHOUSE:
            return f"warehouse/{self.name}"
        return self.name


# --------------------------------------------------------------------------- gates


class GateKind(Enum):
    """Every condition the planner puts on a promotion."""

    APPROVALS = "approvals"
    NOT_COUNTED = "not counted"  # an approval that does not count; never blocks
    AUTO_PROMOTION = "autoPromotionEnabled"
    EMERGENCY = "emergency"  # an emergency or rollback skips approvals and conditions
    DELAY = "autoPromotionDelay"
    SOAK = "requiredSoakTime"  # freight must run, verified, upstream this long first
    SCHEDULE = "schedule"
    BUSINESS_HOURS = "BusinessHoursOnly"
    HEALTHY_FOR = "HealthyFor"
    VERIFICATION_PASSED = "VerificationPassed"
    SECURITY_SCAN = "SecurityScanPassed"
    NO_ACTIVE_INCIDENTS = "NoActiveIncidents"
    PAUSED = "paused"
    HOLD = "hold"
    VERIFICATION = "verification"  # the stage's own verification of what it runs
    HEALTH = "health"  # the stage's own health after a promotion
    DEPLOYED = "deployed"  # the stage runs the promotion's commit
    MAIN_RULES = "mainRules"  # the base branch's protection and rulesets (GitHub's own)
    CONTENTS = "contents"  # the PR is the bot's own and exactly its edit


# How each gate reads: (when it holds, when it blocks). ``{detail}`` is filled in.
_GATE_TEXT: dict[GateKind, tuple[str, str]] = {
    GateKind.APPROVALS: ("approvals: {detail}", "approvals: {detail}"),
    GateKind.NOT_COUNTED: ("not counted: {detail}", "not counted: {detail}"),
    GateKind.AUTO_PROMOTION: ("autoPromotionEnabled", "autoPromotionEnabled is false: {detail}"),
    GateKind.EMERGENCY: ("{detail}", "{detail}"),
    GateKind.DELAY: ("autoPromotionDelay {detail}", "waits {detail}"),
    GateKind.SOAK: ("requiredSoakTime {detail}", "requiredSoakTime {detail}"),
    GateKind.SCHEDULE: ("schedule: {detail}", "schedule: {detail}"),
    GateKind.BUSINESS_HOURS: ("BusinessHoursOnly: {detail}", "BusinessHoursOnly: {detail}"),
    GateKind.HEALTHY_FOR: ("HealthyFor {detail}", "HealthyFor {detail}"),
    GateKind.VERIFICATION_PASSED: ("VerificationPassed: {detail}", "VerificationPassed: {detail}"),
    GateKind.SECURITY_SCAN: ("SecurityScanPassed: {detail}", "SecurityScanPassed: {detail}"),
    GateKind.NO_ACTIVE_INCIDENTS: ("NoActiveIncidents: {detail}", "NoActiveIncidents: {detail}"),
    GateKind.PAUSED: ("not paused", "paused ({detail}); no promotion opens or merges"),
    GateKind.HOLD: ("no hold", "auto-promotion held since {detail}"),
    GateKind.VERIFICATION: ("verified: {detail}", "verification {detail}"),
    GateKind.HEALTH: ("healthy: {detail}", "waits to be healthy: {detail}"),
    GateKind.DEPLOYED: ("deployed: {detail}", "waits for the promotion's commit {detail}"),
    GateKind.MAIN_RULES: ("branch rules: {detail}", "branch rules: {detail}"),
    GateKind.CONTENTS: ("contents: {detail}", "contents: not merged, {detail}"),
}


@dataclass(frozen=True)
class Gate:
    """One condition on a promotion: which, whether it holds now, and the specifics.

    ``detail`` says who approved, which check failed, how long is left: words for people,
    never read by code.
    """

    kind: GateKind
    holds: bool
    detail: str = ""

    @property
    def blocks(self) -> bool:
        """True when this gate keeps the promotion from going ahead."""
        return not self.holds

    def render(self) -> str:
        """One line for the PR body's checklist, the step summary and ``--dry-run``."""
        ok, blocked = _GATE_TEXT[self.kind]
        return (ok if self.holds else blocked).format(detail=self.detail)


# --------------------------------------------------------------------------- decisions


class DecisionKind(Enum):
    """What a stage or warehouse does, or waits for, after this plan."""

    # warehouses
    DISCOVERY_FAILED = "discovery failed"
    NO_MATCH = "no match"
    NEW_FREIGHT = "new freight"
    # freightCreationPolicy Manual: discovery found freight the ledger lacks, made on request
    ON_REQUEST = "freight on request"
    # both
    UP_TO_DATE = "up to date"
    # stages
    PAUSED = "paused"
    REQUEST_DROPPED = "request dropped"
    HELD = "held"
    NO_FREIGHT = "no freight"
    SOAKING = "soaking"
    OPENING = "opening"
    UNDER_WAY = "under way"
    WAITING = "waiting"
    STUCK = "stuck"  # every gate of Shunter's holds; GitHub's branch rules do not
    MERGING = "merging"
    PUSHING = "pushing"
    EXPIRED = "expired"
    VERIFYING = "verifying"
    VERIFICATION_FAILED = "verification failed"
    UNHEALTHY = "unhealthy"
    NOT_DEPLOYED = "not deployed"
    RETRY = "retry"
    DRIFT = "drift"  # main runs what no known freight writes; the ledger says ``freight``
    REQUEST_REFUSED = "request refused"  # an emergency promotion would move the stage back
    NOT_AVAILABLE = "not available"  # an ordinary promotion of freight the stage may not take
    REBUILT = "rebuilt"  # the PR no longer merged: rebuilt on the base, same freight
    RESTORING = "restoring"  # the PR's head is not the bot's edit: its own commit goes back


#: A person's promotion request the planner turned down (the operation exits 1).
REFUSALS: frozenset[DecisionKind] = frozenset(
    {DecisionKind.REQUEST_REFUSED, DecisionKind.NOT_AVAILABLE}
)


@dataclass(frozen=True)
class Decision:
    """What one stage or warehouse does now, or waits for, and why.

    ``freight`` is the freight concerned, as people read it (``ab12cd (1.8.4)``);
    ``gates`` are the gates that explain the decision (those that block, and the
    approvals that were not counted); ``detail`` carries the rest of the specifics.
    """

    subject: Subject
    kind: DecisionKind
    blocked: bool = False
    freight: str = ""
    pr: int | None = None
    gates: tuple[Gate, ...] = ()
    detail: str = ""

    @property
    def stage(self) -> str | None:
        """The stage's name, or ``None`` when the decision is about a warehouse."""
        return self.subject.name if self.subject.kind is SubjectKind.STAGE else None

    def render(self) -> str:
        """One line saying what happens and why, without the subject's name."""
        k, f, d = self.kind, self.freight, self.detail
        waiting = "; ".join(g.render() for g in self.gates if g.blocks)
        ignored = "; ".join(g.render() for g in self.gates if g.kind is GateKind.NOT_COUNTED)
        if ignored:
            waiting += f" ({ignored})"
        if k is DecisionKind.DISCOVERY_FAILED:
            return f"discovery failed, freight unchanged: {d}"
        if k is DecisionKind.NO_MATCH:
            return f"no freight: nothing matches {d}"
        if k is DecisionKind.NEW_FREIGHT:
            return f"new freight {f}"
        if k is DecisionKind.ON_REQUEST:
            return (
                f"found {f}; freightCreationPolicy is Manual, so no freight is made until "
                f"`shunter refresh warehouse {self.subject.name}` or `shunter create freight`"
            )
        if k is DecisionKind.UP_TO_DATE:
            if self.subject.kind is SubjectKind.WAREHOUSE:
                return f"up to date: newest freight is {f}"
            return f"up to date: runs {f}" if f else "up to date"
        if k is DecisionKind.REQUEST_DROPPED:
            return f"requested freight {f} is unknown; request dropped"
        if k is DecisionKind.HELD:
            return f"{waiting}; release it with `shunter release-hold {self.subject.name}`"
        if k is DecisionKind.NO_FREIGHT:
            return "no freight available yet"
        if k in (
            DecisionKind.SOAKING,
            DecisionKind.UNHEALTHY,
            DecisionKind.NOT_DEPLOYED,
        ):
            return f"{f} {waiting}"
        if k is DecisionKind.OPENING:
            return f"opening promotion of {f}"
        if k is DecisionKind.UNDER_WAY:
            return f"promotion of {f} is under way (PR #{self.pr})"
        if k is DecisionKind.WAITING:
            if self.pr is None:
                return f"{f} waits: {waiting}"
            return f"PR #{self.pr} ({f}) waits: {waiting}"
        if k is DecisionKind.STUCK:
            return f"PR #{self.pr} ({f}) is stuck: {waiting}"
        if k is DecisionKind.MERGING:
            return f"merging PR #{self.pr}: {f}"
        if k is DecisionKind.PUSHING:
            return f"pushing {f}"
        if k is DecisionKind.EXPIRED:
            return f"PR #{self.pr} expired waiting for approvals"
        if k is DecisionKind.VERIFYING:
            return f"verifying {f}: {d} running"
        if k is DecisionKind.VERIFICATION_FAILED:
            return f"verification of {f} failed: {d}"
        if k is DecisionKind.RETRY:
            return f"will retry: {d}"
        if k is DecisionKind.DRIFT:
            return (
                f"drift: main holds a version no known freight writes, the ledger says {f}; "
                "revert that edit on main, or roll back (`shunter promote <older freight> "
                "--to <stage>`) to put the stage back under Shunter"
            )
        if k is DecisionKind.REQUEST_REFUSED:
            return (
                f"emergency promotion of {f} refused: the stage runs {d}, which is newer; "
                "ask for a rollback to move it back"
            )
        if k is DecisionKind.NOT_AVAILABLE:
            return (
                f"promotion of {f} refused: it is not available to this stage yet ({d}); "
                "wait for it, `shunter approve` it for the stage, or give --reason for an "
                "emergency promotion"
            )
        if k is DecisionKind.REBUILT:
            return f"PR #{self.pr} no longer merged: rebuilt on the base with {f}; {d}"
        if k is DecisionKind.RESTORING:
            return (
                f"PR #{self.pr} ({f}) holds changes that are not the promotion's edit ({d}):"
                " Shunter puts its own commit back; approvals must be given again"
            )
        return waiting  # PAUSED: the gate says it all


# --------------------------------------------------------------------------- changes

_VERBS: dict[PromotionKind, str] = {
    "auto": "promotes",
    "manual": "proposes",
    "emergency": "emergency-promotes",
    "rollback": "rolls back to",
}


class ChangeKind(Enum):
    """Every kind of change a run makes to the ledger."""

    FREIGHT_DISCOVERED = "freight discovered"
    FREIGHT_CREATED = "freight created"  # a person made it (``shunter create freight``)
    DISCOVERY_CACHE = "discovery cache updated"
    DISCOVERY_FAILED = "discovery failed"
    DISCOVERY_RECOVERED = "discovery recovered"
    PRUNED = "pruned"
    REQUEST_DROPPED = "request dropped"
    PROMOTION_REQUESTED = "promotion requested"
    PROMOTION_STARTED = "promotion started"
    SUPERSEDED = "superseded"
    PR_OPENED = "PR opened"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STEP_STARTED = "verification step started"
    STEP_FINISHED = "verification step finished"
    STEP_TIMED_OUT = "verification step timed out"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification failed"
    PAUSED = "paused"
    RESUMED = "resumed"
    HOLD_RELEASED = "hold released"
    ARCHIVED = "promotion records archived"
    SHELVED = "freight shelved"  # ``detail`` freight moved to or from the shelf file
    APPROVED = "approved"  # a person let a freight into the stage (``shunter approve``)
    DRIFT = "drift"  # the ledger follows main: ``freight`` runs there, not ``detail``
    REQUEST_REFUSED = "request refused"  # ``by``'s emergency promotion would move it back
    NOT_AVAILABLE = "promotion refused"  # ``by``'s ordinary promotion of freight not available
    FOREIGN_MERGE = "merged with foreign changes"
    REQUEST_IGNORED = "request ignored"
    INCONSISTENCIES = "ledger inconsistencies"
    STUCK = "stuck stages"  # the report of stages main's rules hold (``detail``: how many)


@dataclass(frozen=True)
class Change:
    """One change to the ledger: its kind, what it concerns, and the specifics.

    ``freight`` is the freight as people read it; ``by`` who acted; ``pr`` the promotion
    pull request; ``promotion`` the promotion's kind (auto, manual, emergency, rollback)
    and ``direct`` whether it is pushed without a PR; ``step`` a verification step;
    ``detail`` the rest (how a promotion landed, a reason, what failed).
    """

    subject: Subject
    kind: ChangeKind
    freight: str = ""
    by: str = ""
    pr: int | None = None
    promotion: PromotionKind | None = None
    direct: bool = False
    step: str = ""
    detail: str = ""

    def render(self) -> str:
        """``dev: promoted ab12cd (1.8.4) (PR #3, merged by shunter-bot)`` and the like."""
        k, f, d = self.kind, self.freight, self.detail
        text = {
            ChangeKind.FREIGHT_DISCOVERED: f"new freight {f}",
            ChangeKind.FREIGHT_CREATED: f"{self.by} created freight {f}: {d}",
            ChangeKind.DISCOVERY_CACHE: f"discovery cache updated for {d}",
            ChangeKind.DISCOVERY_FAILED: f"discovery failed: {d}",
            ChangeKind.DISCOVERY_RECOVERED: "discovery works again",
            ChangeKind.PRUNED: f"retention pruned {d}",
            ChangeKind.REQUEST_DROPPED: f"dropped request for unknown freight {f}",
            ChangeKind.PROMOTION_REQUESTED: (
                f"{self.by} asked for {self.promotion} promotion of {f}" + (f": {d}" if d else "")
            ),
            ChangeKind.PROMOTION_STARTED: (
                f"{_VERBS[self.promotion or 'auto']} {f}"
                + (" (direct push)" if self.direct else "")
            ),
            ChangeKind.SUPERSEDED: f"{f} supersedes {d} in PR #{self.pr}",
            ChangeKind.PR_OPENED: f"promotion PR #{self.pr} opened",
            ChangeKind.PROMOTED: f"promoted {f} ({d})",
            ChangeKind.REJECTED: f"PR #{self.pr} closed without merging",
            ChangeKind.EXPIRED: f"PR #{self.pr} expired waiting for approvals",
            ChangeKind.HEALTHY: f"healthy ({d})",
            ChangeKind.UNHEALTHY: f"unhealthy ({d})",
            ChangeKind.STEP_STARTED: f"verification step {self.step} started for {f}",
            ChangeKind.STEP_FINISHED: f"verification step {self.step} {d}",
            ChangeKind.STEP_TIMED_OUT: f"verification step {self.step} timed out",
            ChangeKind.VERIFIED: f"{f} verified",
            ChangeKind.VERIFICATION_FAILED: f"verification of {f} failed ({d})",
            ChangeKind.PAUSED: f"pause by {self.by}",
            ChangeKind.RESUMED: f"resume by {self.by}",
            ChangeKind.HOLD_RELEASED: f"release-hold by {self.by}",
            ChangeKind.ARCHIVED: f"archived old promotion records ({d})",
            ChangeKind.SHELVED: f"moved {d} freight kept for the audit log to or from its shelf",
            ChangeKind.APPROVED: f"{self.by} approved {f}: {d}",
            ChangeKind.REQUEST_REFUSED: (
                f"refused {self.by}'s emergency promotion of {f}: it runs {d}, which is newer"
            ),
            ChangeKind.NOT_AVAILABLE: (
                f"refused {self.by}'s promotion of {f}: not available to the stage ({d})"
            ),
            ChangeKind.DRIFT: (
                f"drift: main runs {f}, not {d or 'nothing'}; the ledger follows main"
            ),
            ChangeKind.FOREIGN_MERGE: (
                f"PR #{self.pr} merged with foreign changes ({d}); not a promotion of {f}"
            ),
            ChangeKind.REQUEST_IGNORED: f"ignored a request read from the ledger ({d})",
            ChangeKind.INCONSISTENCIES: f"{d} ledger inconsistencies found (see describe)",
            ChangeKind.STUCK: f"{d} stages held by main's rules (see describe)",
        }[k]
        if k in (ChangeKind.PAUSED, ChangeKind.RESUMED, ChangeKind.HOLD_RELEASED) and d:
            text += f": {d}"
        return f"{self.subject.name}: {text}"


# --------------------------------------------------------------------------- failures


class FailureKind(Enum):
    """How a failure goes away: by itself, by a person's act, or by fixing the config."""

    TRANSIENT = "transient"  # the next run retries
    PERMANENT = "permanent"  # a person must act (a refused token, a missing repository)
    MISCONFIGURED = "misconfigured"  # the config or a secret must change


class System(Enum):
    """The outside system a failure came from, or what the run was doing."""

    GITHUB = "GitHub"
    REGISTRY = "registry"  # what a warehouse subscribes to: image registry, chart repo, git
    HEALTH = "health"  # Argo CD, GitHub deployments, HTTP health checks
    VERIFICATION = "verification"  # workflow runs and HTTP checks of a verification step
    PAGERDUTY = "PagerDuty"
    PROMOTION = "promotion"  # writing manifests, pushing, opening or merging a PR


@dataclass(frozen=True)
class Failure:
    """One thing a run could not observe or do. ``step`` names a verification step."""

    kind: FailureKind
    system: System
    detail: str
    subject: Subject | None = None
    step: str = ""

    def render(self) -> str:
        """``staging: health: Argo CD answered 503`` and the like."""
        where = f"{self.subject.render()}: " if self.subject is not None else ""
        if self.system in (System.PROMOTION, System.REGISTRY):
            # the detail already names the promotion step or the registry and what failed
            return f"{where}{self.detail}"
        what = self.system.value + (f" {self.step}" if self.step else "")
        return f"{where}{what}: {self.detail}"

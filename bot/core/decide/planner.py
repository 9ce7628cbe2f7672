"""The planner: ``plan(config, ledger, observations, now) -> Plan``. Pure.

Given what Shunter remembers (the ledger) and what it just saw (observations), decide
what the world should look like and which actions get it there. The reconcile loop
applies the actions, observes again and plans again until nothing is left to do, so each
plan only has to take the next step: open a promotion PR, merge it, record a merge.

Every stage and warehouse gets a typed ``Decision`` saying what it does or waits for,
and every change to the ledger is a typed ``Change`` (``bot.core.decide.outcomes``);
the PR body, the step summary and ``reconcile --dry-run`` render them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from bot.core.decide import gates as g
from bot.core.decide.approvals import ApprovalResult, count_approvals
from bot.core.decide.gates import fmt_duration
from bot.core.decide.observations import Observations, PromotionPR
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Decision,
    DecisionKind,
    Gate,
    GateKind,
    Subject,
)
from bot.core.discover.freight import Freight, make_freight
from bot.core.ledger import (
    FreightRecord,
    Hold,
    Ledger,
    OpenPromotion,
    PromotionKind,
    PromotionRecord,
    PromotionStatus,
    StageRecord,
    StepRecord,
    VerificationRecord,
)
from bot.core.model import AnalysisTemplate, Approvals, Config, Stage, VerificationStep
from bot.core.promote import promotion as promo

HISTORY_LIMIT = 10


# --------------------------------------------------------------------------- actions


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


@dataclass(frozen=True)
class MergePromotionPR:
    stage: str
    pr: int
    head_sha: str
    title: str
    message: str


@dataclass(frozen=True)
class ClosePromotionPR:
    stage: str
    pr: int
    comment: str


@dataclass(frozen=True)
class UpdatePromotionPR:
    stage: str
    pr: int
    title: str
    body: str


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
    """Create or update a check run (``shunter/approvals``) that branch protection can require."""

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


# --------------------------------------------------------------------------- entry


def plan(
    config: Config,
    ledger: Ledger,
    obs: Observations,
    now: datetime,
    *,
    owner: str = "",
    discovery_only: bool = False,
) -> Plan:
    """Return the next step towards the desired state, and the ledger after it.

    ``ledger`` is not modified. ``owner`` is the repository owner (teams named without an
    org belong to it). ``discovery_only`` records new freight and leaves stages alone (a
    refresh without the GitHub API). Never raises for anything the world did: failures
    become decisions.
    """
    p = Plan(ledger=copy.deepcopy(ledger))
    for wh in config.warehouses:
        _discover(wh.name, p, obs, now)
    if discovery_only:
        _retain(config, p, now)
        return p
    for stage in config.stages:
        _stage(config, stage, p, obs, now, owner)
    _retain(config, p, now)
    return p


def protected_freight(led: Ledger) -> set[str]:
    """Freight retention may never prune: in use, under way, in a history or the audit log."""
    keep: set[str] = set()
    for rec in led.stages.values():
        keep.update(rec.history)
        for name in (rec.current_freight,):
            if name:
                keep.add(name)
        if rec.promotion is not None:
            keep.add(rec.promotion.freight)
        if rec.request is not None:
            keep.add(rec.request.freight)
        if rec.verification is not None:
            keep.add(rec.verification.freight)
    keep.update(r.freight for r in led.promotions)
    return keep


def _retain(config: Config, p: Plan, now: datetime) -> None:
    """Prune old freight of each warehouse: beyond ``retention.maxArtifacts`` (default: the
    largest ``discoveryLimit`` of its subscriptions) or older than ``retention.maxAge``,
    never touching protected freight."""
    led = p.ledger
    keep = protected_freight(led)
    for wh in config.warehouses:
        limit = wh.retention.max_artifacts
        if limit is None:
            limit = max((s.discovery_limit for s in wh.subscriptions), default=20)
        mine = sorted(
            (r.freight for r in led.freight.values() if r.freight.warehouse == wh.name),
            key=lambda f: (f.discovered_at or now, f.name),
            reverse=True,
        )
        pruned = []
        for i, f in enumerate(mine):
            if i == 0 or f.name in keep:
                continue  # the newest freight is the candidate; never prune it
            too_many = i >= limit
            too_old = (
                wh.retention.max_age is not None
                and f.discovered_at is not None
                and now - f.discovered_at > wh.retention.max_age
            )
            if too_many or too_old:
                pruned.append(f)
        for f in pruned:
            del led.freight[f.name]
        if pruned:
            names = ", ".join(_label(f) for f in pruned[:3])
            more = f" and {len(pruned) - 3} more" if len(pruned) > 3 else ""
            p.changed(Change(Subject.warehouse(wh.name), ChangeKind.PRUNED, detail=names + more))


# --------------------------------------------------------------------------- discovery


def _discover(warehouse: str, p: Plan, obs: Observations, now: datetime) -> None:
    disc = obs.discoveries.get(warehouse)
    if disc is None:
        return
    rec = p.ledger.warehouse(warehouse)
    where = Subject.warehouse(warehouse)
    # Discovery cache: entries of subscriptions no longer configured go, a failed
    # subscription keeps its old entry. A changed selection or selector is a change (a
    # commit); a new ETag or checkedAt alone is not, so an idle run writes nothing, and
    # they ride along with the next commit.
    keys = {s.cache_key for s in disc.subscriptions if s.cache_key is not None}
    cache = {k: c for k, c in rec.cache.items() if k in keys}
    for s in disc.subscriptions:
        if s.cache_key is not None and s.cache is not None:
            cache[s.cache_key] = s.cache
    moved = sorted(
        k
        for k in set(cache) | set(rec.cache)
        if k not in cache
        or k not in rec.cache
        or (cache[k].selector, cache[k].tag, cache[k].digest)
        != (rec.cache[k].selector, rec.cache[k].tag, rec.cache[k].digest)
    )
    rec.cache = cache
    # Chart validators ride along like ETags: kept in memory, written with the next commit.
    for s in disc.subscriptions:
        if s.cache_key is not None and s.validators is not None:
            rec.validators[s.cache_key] = dict(s.validators)
    rec.validators = {k: v for k, v in rec.validators.items() if k in keys}
    if moved:
        p.changed(Change(where, ChangeKind.DISCOVERY_CACHE, detail=", ".join(moved)))
    if disc.error:
        if rec.error != disc.error:
            rec.error = disc.error
            p.changed(Change(where, ChangeKind.DISCOVERY_FAILED, detail=disc.error))
        p.say(where, DecisionKind.DISCOVERY_FAILED, blocked=True, detail=disc.error)
        return
    if rec.error is not None:
        rec.error = None
        p.changed(Change(where, ChangeKind.DISCOVERY_RECOVERED))
    empty = [s.label for s in disc.subscriptions if not s.artifacts]
    if empty:
        p.say(where, DecisionKind.NO_MATCH, blocked=True, detail=", ".join(empty))
        return
    from bot.core.discover.artifacts import Chart, Commit, Image

    newest = [s.artifacts[0] for s in disc.subscriptions]
    taken = {r.freight.alias for r in p.ledger.freight.values()}
    f = make_freight(
        warehouse,
        images=[a for a in newest if isinstance(a, Image)],
        charts=[a for a in newest if isinstance(a, Chart)],
        commits=[a for a in newest if isinstance(a, Commit)],
        discovered_at=now,
        taken_aliases=taken,
    )
    if f.name in p.ledger.freight:
        p.say(where, DecisionKind.UP_TO_DATE, freight=_label(p.ledger.freight[f.name].freight))
        return
    p.ledger.freight[f.name] = FreightRecord(freight=f)
    rec.last_freight_at = now
    p.changed(Change(where, ChangeKind.FREIGHT_DISCOVERED, freight=_label(f)))
    p.say(where, DecisionKind.NEW_FREIGHT, freight=_label(f))


def _alias(p: Plan, name: str) -> str:
    rec = p.ledger.freight.get(name)
    return _label(rec.freight) if rec else name[:7]


def _label(f: Freight) -> str:
    return f"{f.alias} ({f.summary()})"


# --------------------------------------------------------------------------- stages


def _available(config: Config, stage: Stage, led: Ledger) -> dict[str, datetime]:
    """Freight the stage may take, with the time it became available to it."""
    out: dict[str, datetime] = {}

    def offer(name: str, since: datetime) -> None:
        if name not in out or since < out[name]:
            out[name] = since

    for req in stage.requested_freight:
        for rec in led.freight.values():
            f = rec.freight
            if f.warehouse != req.warehouse:
                continue
            if req.direct and f.discovered_at is not None:
                offer(f.name, f.discovered_at)
            for up in req.upstream_stages:
                if up in rec.verified_in:
                    offer(f.name, rec.verified_in[up])
            if stage.name in rec.approved_for and f.discovered_at is not None:
                offer(f.name, f.discovered_at)
    return out


def _newer(a: Freight, b: Freight | None) -> bool:
    if b is None:
        return True
    ta, tb = a.discovered_at, b.discovered_at
    if ta is None or tb is None:
        return a.name != b.name
    return (ta, a.name) > (tb, b.name)


def _stage(
    config: Config, stage: Stage, p: Plan, obs: Observations, now: datetime, owner: str
) -> None:
    led = p.ledger
    rec = led.stage(stage.name)
    policy = stage.promotion_policy
    name = stage.name
    me = Subject.stage(name)

    _sync_open_promotion(stage, rec, p, obs, now)
    _health(stage, rec, p, obs, now)
    _verify(config, stage, rec, p, obs, now)

    # ---- what should this stage run?
    paused_by = "promotionPolicy.paused" if policy.paused else None
    if rec.pause is not None:
        paused_by = f"paused by {rec.pause.by}: {rec.pause.reason}"
    if paused_by:
        p.say(
            me, DecisionKind.PAUSED, blocked=True, gates=(Gate(GateKind.PAUSED, False, paused_by),)
        )
        return

    current = (
        led.freight[rec.current_freight].freight if rec.current_freight in led.freight else None
    )
    kind: PromotionKind
    by, reason = "shunter", ""
    if rec.request is not None:
        req = rec.request
        if req.freight not in led.freight:
            p.say(me, DecisionKind.REQUEST_DROPPED, blocked=True, freight=req.freight)
            rec.request = None
            p.changed(Change(me, ChangeKind.REQUEST_DROPPED, freight=req.freight))
            return
        desired = led.freight[req.freight].freight
        kind, by, reason = req.kind, req.by, req.reason
    else:
        if rec.hold is not None:
            hold = Gate(GateKind.HOLD, False, f"{rec.hold.by}'s {rec.hold.reason!r}")
            p.say(me, DecisionKind.HELD, blocked=True, gates=(hold,))
            if rec.promotion is None:
                return
        available = _available(config, stage, led)
        candidates = sorted(
            (led.freight[n].freight for n in available if name not in led.freight[n].rejected_for),
            key=lambda f: (f.discovered_at or now, f.name),
            reverse=True,
        )
        if rec.hold is not None:
            candidates = []
        if not candidates:
            if rec.promotion is None:
                if current is None:
                    p.say(me, DecisionKind.NO_FREIGHT, blocked=True)
                return
            desired = led.freight[rec.promotion.freight].freight
            kind = rec.promotion.kind
            by, reason = rec.promotion.by, rec.promotion.reason
        else:
            newest = candidates[0]
            if not _newer(newest, current):
                p.say(me, DecisionKind.UP_TO_DATE, freight=_label(current) if current else "")
                if rec.promotion is None:
                    return
                newest = led.freight[rec.promotion.freight].freight
            desired = newest
            kind = "auto" if policy.auto_promotion_enabled else "manual"
            if rec.promotion is None and policy.auto_promotion_enabled:
                since = available.get(desired.name, now)
                ready_at = since + policy.auto_promotion_delay
                if ready_at > now:
                    delay = Gate(
                        GateKind.DELAY,
                        False,
                        f"{fmt_duration(ready_at - now)} more for "
                        f"autoPromotionDelay {fmt_duration(policy.auto_promotion_delay)}",
                    )
                    p.say(
                        me,
                        DecisionKind.SOAKING,
                        blocked=True,
                        freight=desired.summary(),
                        gates=(delay,),
                    )
                    return

    _drive(stage, rec, desired, current, kind, by, reason, p, obs, now, owner)


def _sync_open_promotion(
    stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime
) -> None:
    """Fold what GitHub says about the stage's promotion PR into the ledger."""
    pushed = obs.pushed.get(stage.name)
    if rec.promotion is not None and pushed is not None and pushed[0] == rec.promotion.freight:
        _record_success(
            stage, rec, rec.promotion, p, at=now, commit=pushed[1], merged_by=rec.promotion.by,
            how=f"pushed to the branch as {pushed[1][:7]}",
        )  # fmt: skip
        return
    seen = obs.prs.get(stage.name)
    if rec.promotion is None and seen is not None and seen.pr.state == "open":
        # Opened by an earlier run whose ledger write was lost: adopt it from its marker.
        marker = promo.parse_marker(seen.pr.body)
        if marker and seen.pr.author == obs.bot_login and marker.freight in p.ledger.freight:
            rec.promotion = OpenPromotion(
                freight=marker.freight,
                kind=marker.kind,
                by=marker.by,
                reason=marker.reason,
                started_at=seen.pr.created_at,
            )
    pr_rec = rec.promotion
    if pr_rec is None or seen is None:
        return
    pr = seen.pr
    me = Subject.stage(stage.name)
    if pr_rec.pr is None or pr_rec.pr != pr.number:
        pr_rec.pr, pr_rec.url = pr.number, pr.url
        p.changed(Change(me, ChangeKind.PR_OPENED, pr=pr.number))
    if pr.merged:
        _record_merge(stage, rec, pr_rec, seen, p, now)
    elif pr.state == "closed":
        f = p.ledger.freight.get(pr_rec.freight)
        if f is not None:
            f.rejected_for[stage.name] = f"PR #{pr.number} closed without merging"
        _audit(p, stage.name, pr_rec, "Rejected", at=pr.closed_at or now, commit=None)
        rec.promotion = None
        p.changed(Change(me, ChangeKind.REJECTED, pr=pr.number))
    elif pr.head_sha != pr_rec.head_sha:
        pr_rec.head_sha = pr.head_sha


def is_direct(stage: Stage) -> bool:
    """True when the stage's updates are pushed straight to the branch (no pull request)."""
    return bool(stage.git_repo_updates) and not any(u.pull_request for u in stage.git_repo_updates)


def _drive_direct(
    stage: Stage,
    rec: StageRecord,
    desired: Freight,
    current: Freight | None,
    kind: PromotionKind,
    by: str,
    reason: str,
    p: Plan,
    obs: Observations,
    now: datetime,
    owner: str,
) -> None:
    """A stage without pull requests: push the manifests once every gate holds.

    There is no PR to review, so approvals cannot be met (the gate says how to fix the
    config) and a manual stage moves only by ``shunter promote``.
    """
    name = stage.name
    me = Subject.stage(name)
    if rec.promotion is None or rec.promotion.freight != desired.name:
        if rec.promotion is not None:
            _audit(p, name, rec.promotion, "Superseded", at=now, commit=None)
        rec.promotion = OpenPromotion(
            freight=desired.name, kind=kind, by=by, reason=reason, started_at=now
        )
        rec.request = None
        p.changed(
            Change(
                me,
                ChangeKind.PROMOTION_STARTED,
                freight=_label(desired),
                promotion=kind,
                direct=True,
            )
        )
    open_ = rec.promotion
    gates, _ = _gates(stage, open_, None, obs, owner, p.ledger, now)
    fixed: list[Gate] = []
    for gate in gates:
        if gate.kind is GateKind.APPROVALS:
            fixed.append(
                Gate(GateKind.APPROVALS, False, "need a pull request: drop pullRequest: false")
            )
        elif gate.kind is GateKind.AUTO_PROMOTION and gate.blocks:
            fixed.append(Gate(GateKind.AUTO_PROMOTION, False, f"`shunter promote` moves {name}"))
        elif gate.kind is not GateKind.NOT_COUNTED:
            fixed.append(gate)
    if not any(g.blocks for g in fixed):
        p.actions.append(
            PushPromotion(
                stage=name,
                freight=desired,
                commit_message=_commit_message(stage, desired, current, open_.by),
            )
        )
        p.say(me, DecisionKind.PUSHING, freight=_label(desired))
    else:
        p.say(me, DecisionKind.WAITING, blocked=True, freight=_label(desired), gates=tuple(fixed))


def _record_merge(
    stage: Stage,
    rec: StageRecord,
    pr_rec: OpenPromotion,
    seen: PromotionPR,
    p: Plan,
    now: datetime,
) -> None:
    pr = seen.pr
    _record_success(
        stage,
        rec,
        pr_rec,
        p,
        at=pr.merged_at or now,
        commit=pr.merge_commit_sha,
        merged_by=pr.merged_by or pr_rec.by,
        how=f"PR #{pr.number}, merged by {pr.merged_by or pr_rec.by}",
        pr=pr.number,
    )


def _record_success(
    stage: Stage,
    rec: StageRecord,
    pr_rec: OpenPromotion,
    p: Plan,
    *,
    at: datetime,
    commit: str | None,
    merged_by: str,
    how: str,
    pr: int | None = None,
) -> None:
    """The stage now runs ``pr_rec.freight``: history, verification, holds, audit log."""
    led = p.ledger
    fr = led.freight.get(pr_rec.freight)
    previous = rec.current_freight
    rec.current_freight = pr_rec.freight
    rec.since = at
    rec.history = [pr_rec.freight, *[h for h in rec.history if h != pr_rec.freight]][:HISTORY_LIMIT]
    if fr is not None and stage.verification is None and stage.health is None:
        # Nothing to verify: a merged promotion is a verified one (Kargo does the same
        # for a stage without verification).
        fr.verified_in.setdefault(stage.name, at)
    elif fr is not None:
        rec.verification = VerificationRecord(freight=fr.freight.name, started_at=at)
    if pr_rec.kind == "rollback" or (
        pr_rec.kind == "emergency"
        and fr is not None
        and previous in led.freight
        and not _newer(fr.freight, led.freight[previous].freight)
    ):
        rec.hold = Hold(reason=pr_rec.reason or "rollback", by=pr_rec.by, at=at)
    elif pr_rec.kind in ("emergency", "manual") and rec.hold is not None and fr is not None:
        # A newer freight promoted by hand releases the hold.
        rec.hold = None
    record_by = pr_rec.by if pr_rec.kind in ("emergency", "rollback") else merged_by
    _audit(p, stage.name, pr_rec, "Succeeded", at=at, commit=commit, by=record_by)
    rec.promotion = None
    rec.request = None
    label = _label(fr.freight) if fr else pr_rec.freight
    p.changed(
        Change(
            Subject.stage(stage.name),
            ChangeKind.PROMOTED,
            freight=label,
            by=record_by,
            pr=pr,
            promotion=pr_rec.kind,
            detail=how,
        )
    )


def _audit(
    p: Plan,
    stage: str,
    pr_rec: OpenPromotion,
    status: PromotionStatus,
    *,
    at: datetime,
    commit: str | None,
    by: str | None = None,
) -> None:
    fr = p.ledger.freight.get(pr_rec.freight)
    p.ledger.promotions.append(
        PromotionRecord(
            stage=stage,
            freight=pr_rec.freight,
            alias=fr.freight.alias if fr else "",
            version=fr.freight.summary() if fr else "",
            kind=pr_rec.kind,
            status=status,
            by=by or pr_rec.by,
            reason=pr_rec.reason,
            at=at,
            pr=pr_rec.pr,
            url=pr_rec.url,
            commit=commit,
        )
    )


def _drive(
    stage: Stage,
    rec: StageRecord,
    desired: Freight,
    current: Freight | None,
    kind: PromotionKind,
    by: str,
    reason: str,
    p: Plan,
    obs: Observations,
    now: datetime,
    owner: str,
) -> None:
    """Move the stage's promotion PR towards ``desired`` by one step."""
    if is_direct(stage):
        _drive_direct(stage, rec, desired, current, kind, by, reason, p, obs, now, owner)
        return
    name = stage.name
    me = Subject.stage(name)
    policy = stage.promotion_policy
    open_ = rec.promotion
    seen = obs.prs.get(name)

    if open_ is not None and open_.freight != desired.name:
        # A newer candidate replaces the open one: the same PR is rewritten.
        _audit(p, name, open_, "Superseded", at=now, commit=None)
        p.changed(
            Change(
                me,
                ChangeKind.SUPERSEDED,
                freight=_label(desired),
                pr=open_.pr,
                detail=_alias(p, open_.freight),
            )
        )
        rec.promotion = OpenPromotion(
            freight=desired.name,
            kind=kind,
            by=by,
            reason=reason,
            started_at=now,
            pr=open_.pr,
            url=open_.url,
        )
        open_ = rec.promotion
        _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=open_.pr)
        return
    if open_ is None:
        rec.promotion = OpenPromotion(
            freight=desired.name, kind=kind, by=by, reason=reason, started_at=now
        )
        rec.request = None
        p.changed(Change(me, ChangeKind.PROMOTION_STARTED, freight=_label(desired), promotion=kind))
        _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=None)
        return
    if rec.request is not None and rec.request.freight == open_.freight:
        rec.request = None
    if seen is None or seen.pr.state != "open" or open_.pr is None:
        if obs.forge:
            # The PR should exist but GitHub did not show it: open it (idempotently).
            _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=None)
        else:
            p.say(me, DecisionKind.UNDER_WAY, freight=_label(desired), pr=open_.pr)
        return

    # ---- the PR is open on GitHub: evaluate the merge gates.
    pr = seen.pr
    gates, result = _gates(stage, open_, seen, obs, owner, p.ledger, now)
    approvals = policy.approvals
    if (
        result is not None
        and not result.satisfied
        and approvals is not None
        and approvals.timeout is not None
        and now >= open_.started_at + approvals.timeout
    ):
        fr = p.ledger.freight[desired.name]
        fr.rejected_for[name] = f"approvals timed out after {fmt_duration(approvals.timeout)}"
        _audit(p, name, open_, "Expired", at=now, commit=None)
        rec.promotion = None
        p.changed(Change(me, ChangeKind.EXPIRED, pr=pr.number))
        p.actions.append(
            ClosePromotionPR(
                stage=name,
                pr=pr.number,
                comment=(
                    "Closed by Shunter: approvals did not reach "
                    f"{approvals.minimum_approvals} within {fmt_duration(approvals.timeout)}."
                    f" {_label(desired)} will not be proposed to {name} again;"
                    " newer freight opens a new promotion."
                ),
            )
        )
        p.say(me, DecisionKind.EXPIRED, blocked=True, pr=pr.number)
        return

    title, body = _texts(stage, desired, current, open_, gates)
    ready = not any(g.blocks for g in gates)
    if result is not None and approvals is not None:
        _publish_approvals_check(stage, pr.head_sha, result, approvals, obs, p)
    if (title, body) != (pr.title, pr.body) and not ready:
        p.actions.append(UpdatePromotionPR(stage=name, pr=pr.number, title=title, body=body))
    if ready:
        msg = _commit_message(stage, desired, current, open_.by)
        first, _, rest = msg.partition("\n")
        p.actions.append(
            MergePromotionPR(
                stage=name,
                pr=pr.number,
                head_sha=pr.head_sha,
                title=first,
                message=rest.strip("\n"),
            )
        )
        p.say(me, DecisionKind.MERGING, freight=_label(desired), pr=pr.number)
    else:
        why = tuple(g for g in gates if g.blocks or g.kind is GateKind.NOT_COUNTED)
        p.say(
            me, DecisionKind.WAITING, blocked=True, freight=_label(desired), pr=pr.number, gates=why
        )


def _gates(
    stage: Stage,
    open_: OpenPromotion,
    seen: PromotionPR | None,
    obs: Observations,
    owner: str,
    led: Ledger,
    now: datetime,
) -> tuple[list[Gate], ApprovalResult | None]:
    """The merge gates of the stage's open promotion.

    Emergency promotions and rollbacks skip approvals and conditions (a person with the
    configured permission asked, with a reason); a pause still stops them.
    """
    policy = stage.promotion_policy
    gates: list[Gate] = []
    emergency = open_.kind in ("emergency", "rollback")
    approvals = policy.approvals
    result: ApprovalResult | None = None
    if approvals is not None and approvals.required and not emergency:
        if seen is None:
            result = ApprovalResult(approved_by=(), needed=approvals.minimum_approvals)
        else:
            result = count_approvals(
                approvals,
                seen.pr,
                seen.reviews,
                teams=obs.teams,
                owner=owner,
                excluded=frozenset({seen.pr.author, obs.bot_login, open_.by}),
            )
        gates.append(Gate(GateKind.APPROVALS, result.satisfied, result.detail(approvals)))
        gates += [Gate(GateKind.NOT_COUNTED, True, text) for text in result.ignored]
    if emergency:
        detail = f"{open_.kind} promotion by {open_.by}: {open_.reason}"
        gates.append(Gate(GateKind.EMERGENCY, True, detail))
        return gates, result
    gates += _conditions(stage, open_.freight, obs, led, now)
    if not policy.auto_promotion_enabled and (approvals is None or not approvals.required):
        gates.append(Gate(GateKind.AUTO_PROMOTION, False, "a person merges this PR"))
    elif policy.auto_promotion_enabled:
        gates.append(Gate(GateKind.AUTO_PROMOTION, True))
    return gates, result


def _tz(obs: Observations, name: str | None) -> tzinfo | None:
    """The zone called ``name`` (UTC when none is named); ``None`` if it is unknown."""
    if not name or name == "UTC":
        return UTC
    return obs.timezones.get(name)


def _window(
    kind: GateKind, cron: str, window: timedelta, now: datetime, obs: Observations, tz: str | None
) -> Gate:
    zone = _tz(obs, tz)
    if zone is None:
        # A misspelt zone must not silently become UTC: the gate stays closed.
        return Gate(kind, False, f"unknown timezone {tz!r} (write an IANA name like Europe/Berlin)")
    gate, _ = g.window_gate(kind, cron, window, now, zone)
    return gate


def _conditions(
    stage: Stage, freight: str, obs: Observations, led: Ledger, now: datetime
) -> list[Gate]:
    """The stage's ``conditions`` and ``schedule``, evaluated now."""
    policy = stage.promotion_policy
    out: list[Gate] = []
    upstream = g.upstream_of(stage)
    for c in policy.conditions:
        if c.type == "HealthyFor":
            names = upstream or (stage.name,)
            since = {n: led.stage(n).healthy_since for n in names}
            out.append(g.healthy_for(names, c.duration or timedelta(0), since, obs.health, now))
        elif c.type == "BusinessHoursOnly":
            out.append(
                _window(
                    GateKind.BUSINESS_HOURS,
                    c.schedule or g.DEFAULT_BUSINESS_HOURS,
                    c.window or timedelta(hours=1),
                    now,
                    obs,
                    c.timezone,
                )
            )
        elif c.type == "VerificationPassed":
            rec = led.freight.get(freight)
            missing = [u for u in upstream if rec is None or u not in rec.verified_in]
            want = c.status.lower() != "false"
            vp = GateKind.VERIFICATION_PASSED
            if not want:
                out.append(Gate(vp, True, "not required (status False)"))
            elif missing:
                out.append(Gate(vp, False, f"not verified in {', '.join(missing)}"))
            else:
                where = ", ".join(upstream) or "no upstream stage"
                out.append(Gate(vp, True, f"verified in {where}"))
        elif c.type == "SecurityScanPassed":
            if c.status.lower() == "false":
                out.append(Gate(GateKind.SECURITY_SCAN, True, "not required (status False)"))
            else:
                out.append(
                    g.security_scan(obs.checks.get(stage.name), obs.code_scanning.get(stage.name))
                )
        elif c.type == "NoActiveIncidents":
            out.append(g.no_active_incidents(c, obs.incidents))
    if policy.schedule:
        out.append(
            _window(
                GateKind.SCHEDULE,
                policy.schedule,
                policy.schedule_window,
                now,
                obs,
                policy.timezone,
            )
        )
    return out


def _texts(
    stage: Stage,
    freight: Freight,
    current: Freight | None,
    open_: OpenPromotion,
    gates: list[Gate],
) -> tuple[str, str]:
    marker = promo.Marker(
        stage=stage.name, freight=freight.name, kind=open_.kind, by=open_.by, reason=open_.reason
    )
    return promo.title(stage.name, freight), promo.body(marker, freight, current, gates)


def _commit_message(stage: Stage, freight: Freight, current: Freight | None, by: str) -> str:
    template = next(
        (u.commit_message_template for u in stage.git_repo_updates if u.commit_message_template),
        None,
    )
    return promo.commit_message(template, stage.name, freight, current, by)


def _emit_open(
    stage: Stage,
    rec: StageRecord,
    desired: Freight,
    current: Freight | None,
    p: Plan,
    obs: Observations,
    owner: str,
    now: datetime,
    *,
    pr: int | None,
) -> None:
    assert rec.promotion is not None
    gates, _ = _gates(stage, rec.promotion, None, obs, owner, p.ledger, now)
    title, body = _texts(stage, desired, current, rec.promotion, gates)
    approvals = stage.promotion_policy.approvals
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    emergency = rec.promotion.kind in ("emergency", "rollback")
    if approvals is not None and approvals.required and not emergency:
        users = tuple(a.name for a in approvals.approvers if a.type == "user")
        teams = tuple(a.name for a in approvals.approvers if a.type == "team")
    p.actions.append(
        OpenPromotionPR(
            stage=stage.name,
            freight=desired,
            previous=current,
            title=title,
            body=body,
            commit_message=_commit_message(stage, desired, current, rec.promotion.by),
            pr=pr,
            reviewers=users,
            team_reviewers=teams,
        )
    )
    p.say(Subject.stage(stage.name), DecisionKind.OPENING, freight=_label(desired))


# --------------------------------------------------------------------------- health


def _health(stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime) -> None:
    """Keep ``healthy_since``: set at the first healthy report, reset by any unhealthy one."""
    report = obs.health.get(stage.name)
    if report is None:
        return
    me = Subject.stage(stage.name)
    if report.healthy and rec.healthy_since is None:
        rec.healthy_since = now
        p.changed(Change(me, ChangeKind.HEALTHY, detail=report.message))
    elif not report.healthy and rec.healthy_since is not None:
        rec.healthy_since = None
        p.changed(Change(me, ChangeKind.UNHEALTHY, detail=report.message))
    if rec.health != report.message:
        rec.health = report.message


# --------------------------------------------------------------------------- verification


def verification_marker(stage: str, step: str, freight: str, at: datetime) -> str:
    """A run-name no other verification run shares (stage, step, freight, start time)."""
    return f"shunter/{stage}/{step}/{freight[:12]}/{int(at.timestamp())}"


def _template_for(config: Config, step: VerificationStep) -> AnalysisTemplate | None:
    return config.analysis_template(step.analysis_template)


def _verify(
    config: Config, stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime
) -> None:
    """Follow the verification of the stage's current freight by one step.

    Steps run all at once with ``parallel: true``, otherwise one after another; a step
    naming no ``AnalysisTemplate`` runs the workflow ``.github/workflows/<name>.yml``.
    The freight is verified in the stage (and so available downstream) when every step
    succeeded and, with ``spec.health``, the stage is healthy on the promotion's commit.
    """
    v = rec.verification
    if v is None or v.result is not None:
        return
    name = stage.name
    me = Subject.stage(name)
    fr = p.ledger.freight.get(v.freight)
    if fr is None or rec.current_freight != v.freight:
        rec.verification = None  # another promotion replaced the freight under verification
        return
    steps = stage.verification.steps if stage.verification else ()
    seen = obs.verification.get(name, {})
    for step in steps:
        st = v.steps.get(step.name)
        if st is None or st.state not in ("running", "pending"):
            continue
        run = seen.get(step.name)
        if run is not None and (run.state, run.url, run.run_id) != (st.state, st.url, st.run_id):
            st.state, st.url, st.run_id, st.message = run.state, run.url, run.run_id, run.message
            if run.state in ("succeeded", "failed"):
                p.changed(Change(me, ChangeKind.STEP_FINISHED, step=step.name, detail=run.state))
        template = _template_for(config, step)
        timeout = template.timeout if template else timedelta(minutes=30)
        if st.state in ("running", "pending") and st.started_at and now - st.started_at > timeout:
            st.state, st.message = "failed", f"timed out after {fmt_duration(timeout)}"
            p.changed(Change(me, ChangeKind.STEP_TIMED_OUT, step=step.name))
    parallel = bool(stage.verification and stage.verification.parallel)
    for i, step in enumerate(steps):
        if step.name in v.steps:
            continue
        earlier = [v.steps.get(s.name) for s in steps[:i]]
        if not parallel and not all(e is not None and e.state == "succeeded" for e in earlier):
            break
        v.steps[step.name] = StepRecord(state="running", started_at=now)
        template = _template_for(config, step)
        workflow = None
        ref = None
        inputs: tuple[tuple[str, str], ...] = ()
        if template is None:
            workflow = f"{step.analysis_template}.yml"
        elif template.workflow is not None:
            workflow, ref = template.workflow.file, template.workflow.ref
            inputs = template.workflow.inputs
        p.actions.append(
            StartVerificationStep(
                stage=name,
                freight=fr.freight,
                step=step.name,
                marker=verification_marker(name, step.name, fr.freight.name, now),
                workflow=workflow,
                commit=_merge_commit(p.ledger, name, fr.freight.name) or "",
                ref=ref,
                inputs=inputs,
            )
        )
        p.changed(Change(me, ChangeKind.STEP_STARTED, freight=_label(fr.freight), step=step.name))
        if not parallel:
            break
    failed = [(n, st) for n, st in v.steps.items() if st.state == "failed"]
    if failed:
        v.result = "failed"
        why = "; ".join(f"{n}: {st.message or 'failed'}" for n, st in failed)
        label = _label(fr.freight)
        p.changed(Change(me, ChangeKind.VERIFICATION_FAILED, freight=label, detail=why))
        failed_gate = Gate(GateKind.VERIFICATION, False, f"failed: {why}")
        p.say(
            me,
            DecisionKind.VERIFICATION_FAILED,
            blocked=True,
            freight=label,
            gates=(failed_gate,),
            detail=why,
        )
        return
    done = all(v.steps.get(s.name) and v.steps[s.name].state == "succeeded" for s in steps)
    if not done:
        running = ", ".join(n for n, st in v.steps.items() if st.state != "succeeded")
        verifying = Gate(GateKind.VERIFICATION, False, f"{running} running")
        p.say(
            me,
            DecisionKind.VERIFYING,
            blocked=True,
            freight=_label(fr.freight),
            gates=(verifying,),
            detail=running,
        )
        return
    if stage.health is not None:
        report = obs.health.get(name)
        merged = _merge_commit(p.ledger, name, v.freight)
        if report is None or not report.healthy:
            why = report.message if report else "health not reported yet"
            health = Gate(GateKind.HEALTH, False, why)
            p.say(
                me,
                DecisionKind.UNHEALTHY,
                blocked=True,
                freight=_label(fr.freight),
                gates=(health,),
            )
            return
        if report.revision and merged and report.revision != merged:
            deployed = Gate(
                GateKind.DEPLOYED,
                False,
                f"{merged[:7]} to be deployed (the stage runs {report.revision[:7]})",
            )
            p.say(
                me,
                DecisionKind.NOT_DEPLOYED,
                blocked=True,
                freight=_label(fr.freight),
                gates=(deployed,),
            )
            return
    v.result = "succeeded"
    fr.verified_in.setdefault(name, now)
    p.changed(Change(me, ChangeKind.VERIFIED, freight=_label(fr.freight)))


def _merge_commit(led: Ledger, stage: str, freight: str) -> str | None:
    for rec in reversed(led.promotions):
        if rec.stage == stage and rec.freight == freight and rec.status == "Succeeded":
            return rec.commit
    return None


APPROVALS_CHECK = "shunter/approvals"


def _publish_approvals_check(
    stage: Stage,
    sha: str,
    result: ApprovalResult,
    rule: Approvals,
    obs: Observations,
    p: Plan,
) -> None:
    """Publish the approval gate as a check run on the PR head, when it changed.

    Branch protection can require ``shunter/approvals``, so a person cannot merge a
    promotion PR by hand before the stage's own quorum holds (GitHub's required reviews
    are one number for every stage; this check is per stage).
    """
    conclusion: str | None = None
    if result.satisfied:
        conclusion = "success"
    elif result.changes_requested_by or result.problems:
        conclusion = "failure"
    text = result.describe(rule)
    title = f"{stage.name}: {len(result.approved_by)} of {result.needed} approvals"
    seen = obs.checks.get(stage.name)
    if isinstance(seen, tuple):
        for c in seen:
            if (
                c.name == APPROVALS_CHECK
                and c.conclusion == conclusion
                and ((c.status == "completed") == (conclusion is not None))
                and c.title == title
            ):
                return
    p.actions.append(
        PublishCheck(
            stage=stage.name,
            sha=sha,
            name=APPROVALS_CHECK,
            conclusion=conclusion,
            title=title,
            summary=text,
        )
    )

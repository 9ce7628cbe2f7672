"""The promotion's lifecycle: open, rewrite, merge or push, record, close. Pure.

Folds what GitHub says about a stage's promotion PR into the ledger, moves the PR one
step towards the desired freight, and records a landed promotion (history, holds,
verification, the audit log).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.core.decide.actions import (
    ClosePromotionPR,
    MergePromotionPR,
    OpenPromotionPR,
    Plan,
    PushPromotion,
    UpdatePromotionPR,
    alias,
    freight_label,
)
from bot.core.decide.emergency import EMERGENCY_KINDS, attestation_text
from bot.core.decide.gates import fmt_duration
from bot.core.decide.inconsistency import Inconsistency, InconsistencyKind
from bot.core.decide.observations import Observations, PromotionPR
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    DecisionKind,
    Gate,
    GateKind,
    Subject,
)
from bot.core.decide.prgate import promotion_check
from bot.core.decide.promotion_gates import main_rules_gate, promotion_gates
from bot.core.decide.pulls import PullRequest
from bot.core.decide.selection import newer
from bot.core.discover.freight import Freight, alias_for
from bot.core.ledger import (
    FreightRecord,
    Hold,
    Ledger,
    OpenPromotion,
    PromotionKind,
    PromotionRecord,
    PromotionStatus,
    StageRecord,
    VerificationRecord,
)
from bot.core.model import Stage
from bot.core.pipeline import without_pipeline
from bot.core.promote import promotion as promo
from bot.core.promote.exact import Origin

HISTORY_LIMIT = 10
#: How many of a stage's latest PRs each run reads (one request) to find unrecorded merges.
RECENT_PRS = 10
#: How many merged PR numbers a stage's record keeps (``StageRecord.merged_prs``): twice
#: the PRs a run reads, so every merged PR a run can see is known as recorded or not,
#: whether or not the archive has taken its audit record.
MERGED_PRS_KEPT = 2 * RECENT_PRS


def sync_open_promotion(
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
        ours = seen.check is not None and seen.check.origin is Origin.OURS
        if marker and ours and marker.freight in p.ledger.freight:
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
    if seen.check is not None and seen.check.origin is not Origin.OURS:
        # Not the bot's PR, whatever its body or the ledger says: it counts for nothing.
        if pr_rec.pr == pr.number:
            p.inconsistencies.append(
                Inconsistency(
                    InconsistencyKind.PROMOTION_PR,
                    stage=stage.name,
                    pr=pr.number,
                    detail=f"{seen.check.origin.value}: {pr.author}, {pr.head_branch}",
                )
            )
            pr_rec.pr, pr_rec.url = None, None
        return
    if seen.check is None and (pr.merged or pr_rec.pr != pr.number):
        return  # not checked this round (the failure is reported): record nothing yet
    if pr_rec.pr is None or pr_rec.pr != pr.number:
        pr_rec.pr, pr_rec.url = pr.number, pr.url
        p.changed(Change(me, ChangeKind.PR_OPENED, pr=pr.number))
    if pr.merged:
        # Another run may have rewritten the PR for other freight before (or just after)
        # it merged: main runs the freight whose edit the merged change exactly is (the
        # check tried the marker's, then this ledger's), else what the marker says.
        landed = promo.parse_marker(pr.body)
        exact = seen.check.freight if seen.check is not None and seen.check.exact else None
        if (
            landed is not None
            and landed.freight != pr_rec.freight
            and exact in (None, landed.freight)
            and (landed.freight in p.ledger.freight or _freight_from(landed, pr, p) is not None)
        ):
            pr_rec.freight, pr_rec.kind = landed.freight, landed.kind
            pr_rec.by, pr_rec.reason = landed.by, landed.reason
        elif exact is not None and exact != pr_rec.freight and exact in p.ledger.freight:
            pr_rec.freight = exact
    if pr.merged and seen.check is not None and not seen.check.exact:
        _record_foreign_merge(stage, rec, pr_rec, seen, p, now)
    elif pr.merged:
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
    """True when the stage's updates are pushed straight to the branch (no pull request),
    or when it has nothing to write at all (a Kargo "control flow" stage)."""
    return not any(u.pull_request for u in stage.git_repo_updates)


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
                freight=freight_label(desired),
                promotion=kind,
                direct=True,
            )
        )
    elif rec.request is not None and rec.request.freight == desired.name:
        # A request for what the stage already proposes: it becomes that person's promotion.
        req = rec.request
        rec.promotion.kind, rec.promotion.by, rec.promotion.reason = req.kind, req.by, req.reason
        rec.request = None
    open_ = rec.promotion
    gates, _ = promotion_gates(stage, open_, None, obs, owner, p.ledger, now)
    fixed: list[Gate] = []
    for gate in gates:
        if gate.kind is GateKind.APPROVALS:
            fixed.append(
                Gate(GateKind.APPROVALS, False, "need a pull request: drop pullRequest: false")
            )
        elif gate.kind is GateKind.AUTO_PROMOTION and gate.blocks:
            if name in obs.by_hand and open_.kind == "manual":
                continue  # a person promoted it in this run: they are the auto-promotion
            fixed.append(Gate(GateKind.AUTO_PROMOTION, False, f"`shunter promote` moves {name}"))
        elif gate.kind is not GateKind.NOT_COUNTED:
            fixed.append(gate)
    if not any(g.blocks for g in fixed) and not stage.git_repo_updates:
        # Nothing to write: the promotion is done once its gates hold, with no commit
        # and no pull request (an empty commit would claim a change that is not there).
        _record_success(
            stage, rec, open_, p, at=now, commit=None, merged_by=open_.by,
            how="nothing to write: a control-flow stage",
        )  # fmt: skip
    elif not any(g.blocks for g in fixed):
        p.actions.append(
            PushPromotion(
                stage=name,
                freight=desired,
                commit_message=_commit_message(stage, desired, current, open_.by),
            )
        )
        p.say(me, DecisionKind.PUSHING, freight=freight_label(desired))
    else:
        p.say(
            me,
            DecisionKind.WAITING,
            blocked=True,
            freight=freight_label(desired),
            gates=tuple(fixed),
        )


def _record_foreign_merge(
    stage: Stage,
    rec: StageRecord,
    pr_rec: OpenPromotion,
    seen: PromotionPR,
    p: Plan,
    now: datetime,
) -> None:
    """The bot's PR was merged by hand with changes that are not its edit: an audit line
    and a loud report, never a promotion (no verification, no ``verifiedIn``); which
    freight the stage runs is what ``main`` says, not this merge."""
    pr = seen.pr
    edit = seen.check.edit if seen.check is not None else None
    what = edit.describe() if edit is not None else ""
    fr = p.ledger.freight.get(pr_rec.freight)
    label = freight_label(fr.freight) if fr else pr_rec.freight
    _audit(
        p,
        stage.name,
        pr_rec,
        "MergedWithForeignChanges",
        at=pr.merged_at or now,
        commit=pr.merge_commit_sha,
        by=pr.merged_by or pr_rec.by,
    )
    rec.promotion = None
    me = Subject.stage(stage.name)
    p.changed(Change(me, ChangeKind.FOREIGN_MERGE, freight=label, pr=pr.number, detail=what))
    p.inconsistencies.append(
        Inconsistency(
            InconsistencyKind.FOREIGN_MERGE, stage=stage.name, freight=label, pr=pr.number,
            detail=f"merged by {pr.merged_by or 'someone'}: {what}",
        )
    )  # fmt: skip


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
    """The stage now runs ``pr_rec.freight``: history, verification, holds, audit log.

    A PR already recorded as merged (by a concurrent run whose ledger won) is recorded
    once: only the open promotion and the request are cleared.
    """
    led = p.ledger
    if pr is not None and pr in recorded_prs(led, stage.name):
        rec.promotion = None
        rec.request = None
        return
    fr = led.freight.get(pr_rec.freight)
    rec.current_freight = pr_rec.freight
    rec.since = at
    rec.history = [pr_rec.freight, *[h for h in rec.history if h != pr_rec.freight]][:HISTORY_LIMIT]
    if fr is not None and stage.verification is None and stage.health is None:
        # Nothing to verify: a merged promotion is a verified one (Kargo does the same
        # for a stage without verification).
        fr.verified_in.setdefault(stage.name, at)
    elif fr is not None:
        rec.verification = VerificationRecord(freight=fr.freight.name, started_at=at)
    # Whether it is a rollback was decided once, when the person asked
    # (``bot.core.decide.emergency.promotion_kind``, by version order).
    if pr_rec.kind == "rollback":
        rec.hold = Hold(reason=pr_rec.reason or "rollback", by=pr_rec.by, at=at)
    elif pr_rec.kind in ("emergency", "manual") and rec.hold is not None and fr is not None:
        # A newer freight promoted by hand releases the hold.
        rec.hold = None
    record_by = pr_rec.by if pr_rec.kind in EMERGENCY_KINDS else merged_by
    _audit(p, stage.name, pr_rec, "Succeeded", at=at, commit=commit, by=record_by)
    rec.promotion = None
    rec.request = None
    label = freight_label(fr.freight) if fr else pr_rec.freight
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


def recorded_prs(led: Ledger, stage: str) -> frozenset[int]:
    """The PRs whose merge into ``stage`` is recorded.

    The stage's bounded ``merged_prs`` says it even after the archive moved the audit
    records away; the live audit log covers ledgers written before that list existed.
    """
    rec = led.stages.get(stage)
    kept = frozenset(rec.merged_prs) if rec is not None else frozenset()
    return kept | frozenset(
        r.pr
        for r in led.promotions
        if r.pr is not None and r.stage == stage and r.status == "Succeeded"
    )


def record_unrecorded(
    stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime
) -> None:
    """Record the stage's merged promotion PRs that no run recorded.

    A run that merged and then died (or lost its ledger write and moved on to newer
    freight) leaves a merged PR the ledger never heard of. Every run looks at the stage's
    recently closed PRs (``obs.recent``, a bounded list) and records each merged one
    that carries our marker exactly once (``StageRecord.merged_prs`` remembers it after
    the archive takes its record). Freight the ledger never heard of comes from the
    marker's artifacts. The stage moves to its freight only when that is newer than what
    the stage runs; an older one is only written into the audit log.
    """
    landed = [pr for pr in obs.recent.get(stage.name, ()) if pr.merged]
    if all(pr.number in rec.merged_prs for pr in landed):
        return  # the idle case: every merge seen is recorded, no need to read the audit log
    done = recorded_prs(p.ledger, stage.name)
    for pr in sorted(landed, key=lambda x: (x.merged_at or now, x.number)):
        marker = promo.parse_marker(pr.body)
        check = obs.recent_checks.get(pr.number)
        if (
            marker is None
            # The marker proves nothing by itself: the loop checked the PR is a promotion
            # PR of the bot's (or of a maintainer's own token) and exactly its edit. One
            # this run cannot place (another identity's token runs it) waits for a run
            # that can; someone else's is never a promotion.
            or check is None
            or check.origin is not Origin.OURS
            or marker.stage != stage.name
            or pr.number in done
            or pr.number in rec.merged_prs
            or (rec.promotion is not None and rec.promotion.pr == pr.number)
        ):
            continue
        # The freight whose edit the merged change exactly is (the check tried the
        # marker's first); the marker's when none is.
        freight = check.freight if check.exact and check.freight else marker.freight
        merged = OpenPromotion(
            freight=freight,
            kind=marker.kind,
            by=marker.by,
            reason=marker.reason,
            started_at=pr.created_at,
            pr=pr.number,
            url=pr.url,
        )
        # New freight from a marker's artifacts (an image digest, say) only when the bot's
        # own identity opened the PR: anyone who can push `shunter/<stage>` can write a
        # marker whose artifacts hash to its ID, and such freight never met the registry.
        ours = pr.author.lower() == obs.bot_login.lower()
        fr = p.ledger.freight.get(freight) or (
            _freight_from(marker, pr, p) if ours and freight == marker.freight else None
        )
        if fr is None:
            # Freight this ledger never heard of, from a PR written before markers carried
            # the artifacts: the audit log names only known freight.
            continue
        current = p.ledger.freight.get(rec.current_freight or "")
        if current is not None and not newer(p, fr.freight, current.freight):
            at = pr.merged_at or now
            _audit(p, stage.name, merged, "Succeeded", at=at, commit=pr.merge_commit_sha)
            p.changed(
                Change(
                    Subject.stage(stage.name),
                    ChangeKind.PROMOTED,
                    freight=alias(p, freight),
                    by=pr.merged_by or marker.by,
                    pr=pr.number,
                    promotion=marker.kind,
                    detail=f"PR #{pr.number}, merged earlier and recorded late",
                )
            )
            continue
        under_way, asked = rec.promotion, rec.request
        seen = PromotionPR(pr=pr, check=check)
        if check.exact:
            _record_merge(stage, rec, merged, seen, p, now)
        else:
            _record_foreign_merge(stage, rec, merged, seen, p, now)
        if under_way is not None and under_way.freight != freight:
            rec.promotion, rec.request = under_way, asked  # a newer promotion goes on


def _freight_from(marker: promo.Marker, pr: PullRequest, p: Plan) -> FreightRecord | None:
    """The freight a merged PR promotes, from the artifacts its marker carries, added to
    the ledger: the run that discovered it may have died before writing it, and newer
    tags since keep discovery from finding it again. ``None`` when the marker has no
    artifacts or its warehouse is no longer configured."""
    f = marker.artifacts
    if f is None or f.warehouse not in p.warehouses:
        return None
    taken = {r.freight.alias for r in p.ledger.freight.values()}
    found = replace(f, alias=alias_for(f.name, taken), discovered_at=pr.created_at)
    fr = p.ledger.freight[f.name] = FreightRecord(freight=found)
    label = f"{found.alias} ({found.summary()})"
    p.changed(Change(Subject.warehouse(f.warehouse), ChangeKind.FREIGHT_DISCOVERED, freight=label))
    return fr


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
    if status in ("Succeeded", "MergedWithForeignChanges") and pr_rec.pr is not None:
        # Either way the merge is recorded: no later run records it again.
        rec = p.ledger.stage(stage)
        rest = [n for n in rec.merged_prs if n != pr_rec.pr]
        rec.merged_prs = [pr_rec.pr, *rest][:MERGED_PRS_KEPT]


def drive(
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
    """Move the stage's promotion PR towards ``desired`` by one step.

    An open promotion of freight older than what ``main`` runs now (``current``, which
    the ledger has followed) is closed, unless it is a rollback: another run or PR
    landed newer freight since it opened, and merging it would move the stage back.
    """
    if kind != "rollback" and current is not None and newer(p, current, desired):
        _close_behind_main(stage, rec, desired, current, p, now)
        return
    if is_direct(stage):
        _drive_direct(stage, rec, desired, current, kind, by, reason, p, obs, now, owner)
        return
    name = stage.name
    me = Subject.stage(name)
    policy = stage.promotion_policy
    open_ = rec.promotion
    seen = obs.prs.get(name)
    # A person's request this run received: attested on the PR's head for later runs.
    req = rec.request if rec.request is not None and rec.request.freight == desired.name else None
    attest = attestation_text(req) if req is not None else ""

    if open_ is not None and open_.freight != desired.name:
        # A newer candidate replaces the open one: the same PR is rewritten.
        _audit(p, name, open_, "Superseded", at=now, commit=None)
        p.changed(
            Change(
                me,
                ChangeKind.SUPERSEDED,
                freight=freight_label(desired),
                pr=open_.pr,
                detail=alias(p, open_.freight),
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
        rec.request = None
        open_ = rec.promotion
        _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=open_.pr, attest=attest)
        return
    if open_ is None:
        rec.promotion = OpenPromotion(
            freight=desired.name, kind=kind, by=by, reason=reason, started_at=now
        )
        rec.request = None
        p.changed(
            Change(me, ChangeKind.PROMOTION_STARTED, freight=freight_label(desired), promotion=kind)
        )
        _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=None, attest=attest)
        return
    if req is not None:
        # A request for what the open PR already proposes: the PR becomes that promotion
        # (an emergency merges now, gates skipped), not a request dropped.
        open_.kind, open_.by, open_.reason = req.kind, req.by, req.reason
        rec.request = None
    if seen is None or seen.pr.state != "open" or open_.pr is None:
        if obs.forge:
            # The PR should exist but GitHub did not show it: open it (idempotently).
            _emit_open(stage, rec, desired, current, p, obs, owner, now, pr=None, attest=attest)
        else:
            p.say(me, DecisionKind.UNDER_WAY, freight=freight_label(desired), pr=open_.pr)
        return

    # ---- the PR is open on GitHub: is it exactly the bot's edit?
    pr = seen.pr
    check = seen.check
    if check is not None and check.edit is not None and not check.edit.exact:
        # Someone pushed to the promotion branch: never merge that head. Put the bot's
        # own commit back (approvals were for the other head, so they go too).
        what = check.edit.describe()
        _emit_open(
            stage, rec, desired, current, p, obs, owner, now, pr=pr.number, restore=what,
            attest=attest,
        )  # fmt: skip
        p.say(
            me, DecisionKind.RESTORING, blocked=True, freight=freight_label(desired), pr=pr.number,
            detail=what,
        )  # fmt: skip
        return

    if attest:
        # The PR already holds the bot's edit: re-pointing it pushes nothing and attests
        # the grant on its head.
        _emit_open(
            stage, rec, desired, current, p, obs, owner, now, pr=pr.number, attest=attest,
            quiet=True,
        )  # fmt: skip

    # ---- evaluate the merge gates.
    gates, result = promotion_gates(stage, open_, seen, obs, owner, p.ledger, now)
    # GitHub's rules hold back every promotion, emergencies included.
    main_gate = main_rules_gate(stage, seen, obs)
    if main_gate is not None:
        gates.append(main_gate)
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
                    f" {freight_label(desired)} will not be proposed to {name} again;"
                    " newer freight opens a new promotion."
                ),
            )
        )
        p.say(me, DecisionKind.EXPIRED, blocked=True, pr=pr.number)
        return

    title, body = _texts(stage, desired, current, open_, gates)
    ready = not any(g.blocks for g in gates)
    gate_check = promotion_check(name, pr.head_sha, gates, result, obs)
    if gate_check is not None:
        p.actions.append(gate_check)
    if (title, body) != (pr.title, without_pipeline(pr.body)) and not ready:
        p.actions.append(
            UpdatePromotionPR(
                stage=name, pr=pr.number, title=title, body=body, head_sha=pr.head_sha
            )
        )
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
                freight=desired,
            )
        )
        p.say(me, DecisionKind.MERGING, freight=freight_label(desired), pr=pr.number)
    else:
        why = tuple(g for g in gates if g.blocks or g.kind is GateKind.NOT_COUNTED)
        # Stuck, not waiting: Shunter would merge, GitHub will not; a person must act.
        stuck = main_gate is not None and [g for g in gates if g.blocks] == [main_gate]
        p.say(
            me,
            DecisionKind.STUCK if stuck else DecisionKind.WAITING,
            blocked=True,
            freight=freight_label(desired),
            pr=pr.number,
            gates=why,
        )


def _texts(
    stage: Stage,
    freight: Freight,
    current: Freight | None,
    open_: OpenPromotion,
    gates: list[Gate],
) -> tuple[str, str]:
    marker = promo.Marker(
        stage=stage.name,
        freight=freight.name,
        kind=open_.kind,
        by=open_.by,
        reason=open_.reason,
        artifacts=freight,
    )
    title = promo.pr_title_and_labels(stage, freight)[0]
    return title, promo.body(marker, freight, current, gates)


def _commit_message(stage: Stage, freight: Freight, current: Freight | None, by: str) -> str:
    return promo.stage_commit_message(stage, freight, current, by)


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
    restore: str = "",
    attest: str = "",
    quiet: bool = False,
) -> None:
    assert rec.promotion is not None
    gates, _ = promotion_gates(stage, rec.promotion, None, obs, owner, p.ledger, now)
    title, body = _texts(stage, desired, current, rec.promotion, gates)
    approvals = stage.promotion_policy.approvals
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    emergency = rec.promotion.kind in EMERGENCY_KINDS
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
            recorded=recorded_prs(p.ledger, stage.name),
            kind=rec.promotion.kind,
            restore=restore,
            attest=attest,
            labels=promo.pr_title_and_labels(stage, desired)[1],
        )
    )
    if not (restore or quiet):  # a restore says so itself
        p.say(Subject.stage(stage.name), DecisionKind.OPENING, freight=freight_label(desired))


def _close_behind_main(
    stage: Stage, rec: StageRecord, desired: Freight, current: Freight, p: Plan, now: datetime
) -> None:
    """Close the stage's open promotion of ``desired``: ``main`` already runs the newer
    ``current``. Only a rollback moves a stage back, never a promotion left open."""
    me = Subject.stage(stage.name)
    open_ = rec.promotion
    now_runs = freight_label(current)
    if open_ is not None:
        _audit(p, stage.name, open_, "Superseded", at=now, commit=None)
        p.changed(
            Change(
                me,
                ChangeKind.SUPERSEDED,
                freight=now_runs,
                pr=open_.pr,
                detail=alias(p, open_.freight),
            )
        )
        if open_.pr is not None:
            p.actions.append(
                ClosePromotionPR(
                    stage=stage.name,
                    pr=open_.pr,
                    comment=(
                        f"Closed by Shunter: {stage.name} already runs {now_runs}, newer than"
                        f" {freight_label(desired)}; merging this would move it back. To go"
                        " back on purpose, promote the older freight again (`shunter"
                        " promote`): a promotion to older freight is a rollback."
                    ),
                )
            )
        rec.promotion = None
    rec.request = None
    p.say(me, DecisionKind.UP_TO_DATE, freight=now_runs)

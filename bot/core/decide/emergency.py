"""Emergency operations: what a person may ask for, what each does, and what later runs
believe of it. Pure; the one place these rules live.

A promotion asked with no reason is an ordinary one, as Kargo's ``kargo promote`` is: the
freight must already be available to the stage (the planner checks it against what
GitHub and the registry back), no gate is skipped, and it may not move the stage back. It
stands in for the auto-promotion a stage without it lacks. The same permission asks for
it (a PR a run opens with the asker's own token counts as the bot's only while its
author holds that permission). A promotion with a reason is an emergency, as below.

A person with the stage's ``emergencyPermission`` (checked through GitHub by the command
before anything here runs) asks for one :class:`Operation`. :func:`carry_out` applies it
to the ledger of the run that received it: it sets or clears a pause or a hold, or
hands the planner a :class:`~bot.core.ledger.Request` that this same run opens (and, for
an emergency, merges). The ledger keeps the operation for audit only: a request or an
``approvedFor`` entry read from it by a later run grants nothing
(``bot.loop.trust.drop_unreceived_requests``, :func:`unattested_approvals`).

What a later run may believe is what GitHub attests. The run that opens a promotion for
a person's request sets the commit status :data:`ATTESTATION` on the PR's head; a later
run lets that freight into the stage (in place of upstream verification) only while the
head carries it, set by the bot's identity or by a person who holds the permission now
(:func:`attests`). All other gates (approvals, windows, ``main``'s rules) still apply to
an approved freight; an emergency skips them only in the run that received it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.core.decide.inconsistency import Inconsistency, InconsistencyKind
from bot.core.decide.outcomes import Change, ChangeKind, Subject
from bot.core.decide.pulls import CommitStatus
from bot.core.discover.freight import Freight
from bot.core.discover.order import is_newer, newer_in
from bot.core.errors import RefusedError
from bot.core.ledger import FreightRecord, Hold, Ledger, OperationRecord, PromotionKind, Request
from bot.core.model import Config

#: The commit status that attests a person's grant on a promotion PR's head.
ATTESTATION = "shunter/approved"

#: GitHub's repository roles, lowest first (``emergencyPermission`` names one).
ROLES = ("none", "read", "triage", "write", "maintain", "admin")


class Operation(Enum):
    """What a person asked for (the value is the audit log's name for it)."""

    PROMOTE = "promote"  # a freight to a stage now: ordinary, or with a reason gates skipped
    PROMOTE_FROM = "promote-from"  # what another stage runs, to a stage now
    ROLLBACK = "rollback"  # recorded by PROMOTE when the freight is older than the stage's
    APPROVE = "approve"  # let a freight into a stage without upstream verification
    PAUSE = "pause"
    RESUME = "resume"
    RELEASE = "release-hold"


@dataclass(frozen=True)
class Ask:
    """One received operation: who asked, why, and what it names (``freight`` a freight
    ID, alias or ID prefix; ``source`` the stage whose freight PROMOTE_FROM takes)."""

    op: Operation
    stage: str
    by: str
    reason: str
    freight: str = ""
    source: str = ""


def allowed(have: str, need: str) -> bool:
    """True when the role ``have`` is at least ``need`` (unknown roles count as none;
    an unknown requirement as ``maintain``, the default)."""
    rank = {r: i for i, r in enumerate(ROLES)}
    return rank.get(have, 0) >= rank.get(need, rank["maintain"])


EMERGENCY_KINDS: frozenset[PromotionKind] = frozenset({"emergency", "rollback"})


def is_ordinary(ask: Ask) -> bool:
    """True when ``ask`` is an ordinary promotion: a promote (of a freight or of another
    stage's) that gives no reason. It goes through every gate but auto-promotion's."""
    return ask.op in (Operation.PROMOTE, Operation.PROMOTE_FROM) and not ask.reason.strip()


def promoted_by_hand(request: Request) -> bool:
    """True when ``request`` is a person's ordinary promotion (not an emergency, a
    rollback or an approval): it satisfies the stage's auto-promotion gate, in the run
    that received it only."""
    return request.kind not in EMERGENCY_KINDS and not request.approve


def skips_gates(kind: PromotionKind, received: bool) -> bool:
    """True when a promotion of ``kind`` skips approvals, conditions and the schedule: an
    emergency or a rollback, and only in the run that ``received`` the person's request
    (one read from the ledger, or left open by an earlier run, skips nothing)."""
    return kind in EMERGENCY_KINDS and received


def promotion_kind(config: Config, freight: Freight, current: Freight | None) -> PromotionKind:
    """``rollback`` when ``freight`` is older than what the stage runs by its warehouse's
    version order (:mod:`bot.core.discover.order`), else ``emergency``. A rollback puts a
    hold on the stage once it lands."""
    if current is None or current.name == freight.name:
        return "emergency"
    return "rollback" if newer_in(config, current, freight) else "emergency"


def carry_out(config: Config, ledger: Ledger, ask: Ask, now: datetime) -> list[Change]:
    """Apply ``ask`` to ``ledger`` (the run's own copy) and return the changes to record.

    Raises ``RefusedError`` when the freight or the source stage it names does not exist
    or cannot go to the stage; nothing is changed then.
    """
    if ask.op not in (Operation.PAUSE, Operation.RESUME, Operation.RELEASE):
        return _promotion(config, ledger, ask, now)
    rec = ledger.stage(ask.stage)
    me = Subject.stage(ask.stage)
    if ask.op is Operation.PAUSE:
        rec.pause = Hold(reason=ask.reason or "paused", by=ask.by, at=now)
        kind = ChangeKind.PAUSED
    elif ask.op is Operation.RESUME:
        rec.pause = None
        kind = ChangeKind.RESUMED
    else:
        rec.hold = None
        kind = ChangeKind.HOLD_RELEASED
    ledger.operations.append(OperationRecord(ask.op.value, ask.stage, ask.by, ask.reason, now))
    return [Change(me, kind, by=ask.by, detail=ask.reason)]


def _promotion(config: Config, ledger: Ledger, ask: Ask, now: datetime) -> list[Change]:
    fr = _freight(ledger, ask)
    wanted = config.stage(ask.stage).requested_freight
    if all(req.warehouse != fr.freight.warehouse for req in wanted):
        raise RefusedError(
            f"stage {ask.stage} takes no freight from warehouse {fr.freight.warehouse}; "
            f"{fr.freight.alias} cannot go to it"
        )
    target = ledger.stage(ask.stage)
    current = ledger.freight.get(target.current_freight or "")
    kind: PromotionKind
    if ask.op is Operation.APPROVE:
        # Gates still apply: the promotion is what selection would have opened.
        policy = config.stage(ask.stage).promotion_policy
        kind = "auto" if policy.auto_promotion_enabled else "manual"
        op = Operation.APPROVE
    else:
        kind = promotion_kind(config, fr.freight, current.freight if current else None)
        op = ask.op if ask.op is Operation.PROMOTE_FROM else Operation.PROMOTE
        if is_ordinary(ask):
            if kind == "rollback":
                raise RefusedError(
                    f"{fr.freight.alias} is older than what {ask.stage} runs: moving a stage "
                    "back is a rollback, an emergency: give --reason (it needs "
                    f"{config.settings.emergency_permission!r} permission)"
                )
            _refuse_unavailable(config, ledger, ask.stage, fr, now)
            kind = "manual"  # Kargo's word for a person's promotion
        elif kind == "rollback" and op is Operation.PROMOTE:
            op = Operation.ROLLBACK
    target.request = Request(
        fr.freight.name, kind, ask.by, ask.reason, now, approve=op is Operation.APPROVE
    )
    if op is Operation.APPROVE:
        fr.approved_for[ask.stage] = ask.by  # audit only: nothing reads it as a grant
    ledger.operations.append(
        OperationRecord(op.value, ask.stage, ask.by, ask.reason, now, freight=fr.freight.name)
    )
    me = Subject.stage(ask.stage)
    if op is Operation.APPROVE:
        change = Change(me, ChangeKind.APPROVED, freight=fr.freight.alias, by=ask.by,
                        detail=ask.reason)  # fmt: skip
    else:
        change = Change(me, ChangeKind.PROMOTION_REQUESTED, freight=fr.freight.alias, by=ask.by,
                        promotion=kind, detail=ask.reason)  # fmt: skip
    return [change]


def _refuse_unavailable(
    config: Config, ledger: Ledger, stage: str, fr: FreightRecord, now: datetime
) -> None:
    """Raise ``RefusedError`` when the ledger already says ``stage`` may not take ``fr``
    (so nothing is written). The ledger can only hold back: the planner asks again with
    what GitHub backs."""
    from bot.core.decide.selection import unavailable  # selection reads this module

    going = ledger.stage(stage).promotion
    if going is not None and going.freight == fr.freight.name:
        return  # what an approval or selection opened for the stage
    why = unavailable(config.stage(stage), ledger, now, fr.freight)
    if why:
        raise RefusedError(
            f"{fr.freight.alias} is not available to {stage} ({why}): wait for it, "
            f"`shunter approve` it for {stage}, or give --reason for an emergency promotion"
        )


def _freight(ledger: Ledger, ask: Ask) -> FreightRecord:
    if ask.source:
        src = ledger.stages.get(ask.source)
        if src is None or src.current_freight not in ledger.freight:
            raise RefusedError(f"stage {ask.source!r} runs no freight yet: nothing to promote")
        return ledger.freight[src.current_freight or ""]
    found = ledger.find_freight(ask.freight)
    if found is None:
        raise RefusedError(
            f"no freight {ask.freight!r}: see `shunter get freight` for IDs and aliases"
        )
    return found


def attestation_text(request: Request) -> str:
    """The attestation's description: who granted what, and the first words of why
    (GitHub keeps 140 characters)."""
    what = "approved" if request.approve else f"{request.kind} promotion"
    words = " ".join(request.reason.split())
    text = f"{what} by {request.by}: {words}"
    return text if len(text) <= 140 else text[:139] + "\u2026"


def attests(
    statuses: tuple[CommitStatus, ...],
    *,
    bots: Collection[str],
    roles: Mapping[str, str],
    need: str,
) -> bool:
    """True when the newest :data:`ATTESTATION` status among ``statuses`` (newest first,
    as GitHub lists them) is ``success`` and was set by one of ``bots`` or by someone
    whose role in ``roles`` (lower-case login -> role, asked of GitHub now) is at least
    ``need``. A newer status of that context, of any state, replaces an older one."""
    newest = next((s for s in statuses if s.context == ATTESTATION), None)
    if newest is None or newest.state != "success":
        return False
    who = newest.creator.lower()
    if who in {b.lower() for b in bots}:
        return True
    return allowed(roles.get(who, "none"), need)


def unattested_approvals(
    config: Config,
    ledger: Ledger,
    attested: Mapping[str, str],
    received: Collection[str],
) -> list[Inconsistency]:
    """``approvedFor`` entries that claim a grant GitHub does not attest: freight approved
    for a stage it has not run, newer than what it runs and not rejected there, whose
    stage's promotion PR does not carry the attestation for it (``attested``: stage ->
    freight attested on its open PR). Stages in ``received`` got their request this run
    and are not judged yet. Reported only; nothing reads ``approvedFor`` as a grant."""
    out = []
    for stage in config.stages:
        if stage.name in received:
            continue
        rec = ledger.stages.get(stage.name)
        seen = {*rec.history, rec.current_freight} if rec is not None else set()
        current = ledger.freight.get(rec.current_freight or "") if rec is not None else None
        try:
            for fr in ledger.freight.values():
                if (
                    stage.name not in fr.approved_for
                    or fr.freight.name in seen
                    or fr.freight.name in ledger.shelved  # never offered: nothing to claim
                    or stage.name in fr.rejected_for
                    or attested.get(stage.name) == fr.freight.name
                ):
                    continue
                wh = config.warehouse(fr.freight.warehouse)
                if current is not None and not is_newer(wh, fr.freight, current.freight):
                    continue
                out.append(
                    Inconsistency(
                        InconsistencyKind.APPROVED_FOR,
                        stage=stage.name,
                        freight=f"{fr.freight.alias} ({fr.freight.summary()})",
                        detail=fr.approved_for[stage.name],
                    )
                )
        except KeyError:
            continue  # a warehouse no longer configured: retention prunes its freight
    return out

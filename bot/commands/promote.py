"""``shunter promote``: an emergency promotion of a freight, or of a stage's freight, to a stage."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor, _require_reason
from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world
from bot.errors import PermanentError, UsageError

if TYPE_CHECKING:
    from bot.core.ledger import Ledger, PromotionKind


def cmd_promote(
    ctx: RunContext,
    out: TextIO,
    freight_ref: str | None,
    from_stage: str | None,
    to: str,
    reason: str,
) -> int:
    from bot.core.decide.outcomes import Change, ChangeKind, Subject
    from bot.core.discover.order import newer_in
    from bot.core.ledger import OperationRecord, Request
    from bot.loop.reconcile import reconcile

    freight_ref = _freight_ref(freight_ref)
    config = _load_config(ctx)
    _require_stage(ctx, config, to)
    if bool(freight_ref) == bool(from_stage):
        raise UsageError("name a freight, or --from STAGE, but not both")
    _require_reason(reason, f"promoting to {to}")
    world = _world(ctx, config, forge=True, registry=False)
    what = f"promoting to {to}"
    actor = _check_actor(ctx, config, world, reason, what)

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        if from_stage:
            src = ledger.stages.get(from_stage)
            if src is None or src.current_freight is None:
                raise PermanentError(
                    f"stage {from_stage!r} runs no freight yet: nothing to promote"
                )
            rec = ledger.freight[src.current_freight]
        else:
            found = ledger.find_freight(freight_ref or "")
            if found is None:
                raise PermanentError(
                    f"no freight {freight_ref!r}: see `shunter get freight` for IDs and aliases"
                )
            rec = found
        target = ledger.stage(to)
        current = ledger.freight.get(target.current_freight or "")
        # Older by the warehouse's selection order (as the planner orders freight).
        older = current is not None and newer_in(config, current.freight, rec.freight)
        kind: PromotionKind = "rollback" if older else "emergency"
        target.request = Request(
            freight=rec.freight.name, kind=kind, by=actor, reason=reason, at=now
        )
        rec.approved_for[to] = actor
        op = "promote-from" if from_stage else "rollback" if kind == "rollback" else "promote"
        ledger.operations.append(
            OperationRecord(op, to, actor, reason, now, freight=rec.freight.name)
        )
        return [
            Change(
                Subject.stage(to),
                ChangeKind.PROMOTION_REQUESTED,
                freight=rec.freight.alias,
                by=actor,
                promotion=kind,
                detail=reason,
            )
        ]

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1

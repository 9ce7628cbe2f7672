"""``shunter pause|resume|release-hold STAGE``: set or clear a stage's pause or hold."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor, _require_reason
from bot.commands._context import RunContext
from bot.commands._names import _require_stage
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world

if TYPE_CHECKING:
    from bot.core.ledger import Ledger


def cmd_stage_flag(ctx: RunContext, out: TextIO, op: str, stage: str, reason: str) -> int:
    from bot.core.decide.outcomes import Change, ChangeKind, Subject
    from bot.core.ledger import Hold, OperationRecord
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_stage(ctx, config, stage)
    if op == "pause":
        _require_reason(reason, f"pausing {stage}")
    world = _world(ctx, config, forge=True, registry=False)
    actor = _check_actor(ctx, config, world, reason or op, f"{op} {stage}")

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        rec = ledger.stage(stage)
        if op == "pause":
            rec.pause = Hold(reason=reason or "paused", by=actor, at=now)
            kind = ChangeKind.PAUSED
        elif op == "resume":
            rec.pause = None
            kind = ChangeKind.RESUMED
        else:
            rec.hold = None
            kind = ChangeKind.HOLD_RELEASED
        ledger.operations.append(OperationRecord(op, stage, actor, reason, now))
        return [Change(Subject.stage(stage), kind, by=actor, detail=reason)]

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1

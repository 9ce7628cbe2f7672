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
    from bot.core.decide.outcomes import Change
    from bot.core.ledger import Ledger


def cmd_stage_flag(ctx: RunContext, out: TextIO, op: str, stage: str, reason: str) -> int:
    """Pause, resume or release the hold of ``stage`` (``op``); return 0 or 1."""
    from bot.core.decide.emergency import Ask, Operation, carry_out
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_stage(ctx, config, stage)
    if op == "pause":
        _require_reason(reason, f"pausing {stage}")
    # The registry is asked again for the digest of whatever this run opens.
    world = _world(ctx, config, forge=True)
    actor = _check_actor(ctx, config, world, reason or op, f"{op} {stage}")
    ask = Ask(Operation(op), stage, actor, reason)

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        return carry_out(config, ledger, ask, now)

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out, config)
    return 0 if outcome.ok else 1

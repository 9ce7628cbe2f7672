"""``shunter promote``: an emergency promotion of a freight, or of a stage's freight, to a stage.

What it does is :func:`bot.core.decide.emergency.carry_out` (a rollback when the freight
is older than the stage's by version order); this run opens the promotion and merges it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor
from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world
from bot.errors import UsageError

if TYPE_CHECKING:
    from bot.core.decide.outcomes import Change
    from bot.core.ledger import Ledger


def cmd_promote(
    ctx: RunContext,
    out: TextIO,
    freight_ref: str | None,
    from_stage: str | None,
    to: str,
    reason: str,
) -> int:
    """Promote ``freight_ref`` (or what ``from_stage`` runs) to ``to`` now; return 0, or 1
    when the promotion was refused (the freight is not available to an ordinary one, or an
    emergency would move the stage back) or the run failed.

    With a ``reason`` it is an emergency (every gate skipped, ``emergencyPermission``);
    without one an ordinary promotion, as Kargo's (``write``, every gate applies)."""
    from bot.core.decide.emergency import Ask, Operation, carry_out, is_ordinary
    from bot.core.decide.outcomes import REFUSALS, Subject
    from bot.loop.reconcile import reconcile

    freight_ref = _freight_ref(freight_ref)
    config = _load_config(ctx)
    _require_stage(ctx, config, to)
    if bool(freight_ref) == bool(from_stage):
        raise UsageError("name a freight, or --from STAGE, but not both")
    op = Operation.PROMOTE_FROM if from_stage else Operation.PROMOTE
    # No reason: an ordinary promotion, as Kargo's promote (every gate applies).
    ordinary = is_ordinary(Ask(op, to, "", reason))
    # The registry is asked again for the digest of whatever this run opens.
    world = _world(ctx, config, forge=True)
    actor = _check_actor(ctx, config, world, reason, f"promoting to {to}", ordinary=ordinary)
    ask = Ask(op, to, actor, reason, freight=freight_ref or "", source=from_stage or "")

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        return carry_out(config, ledger, ask, now)

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out, config)
    refused = any(d.subject == Subject.stage(to) and d.kind in REFUSALS for d in outcome.decisions)
    return 0 if outcome.ok and not refused else 1

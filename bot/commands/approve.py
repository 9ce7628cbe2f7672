"""``shunter approve --freight ID --stage S``: let a freight into a stage, Kargo's hotfix path.

An approval is a grant, so GitHub attests it, not the ledger: this run (whose asker's
identity and permission GitHub confirmed) opens or re-points the stage's promotion PR
for the freight and sets the commit status ``shunter/approved`` on its head. Later runs
let the freight in only while that head carries the status; every other gate
(approvals, windows, ``main``'s rules) still applies. The ledger's ``approvedFor`` is
the audit record (see :mod:`bot.core.decide.emergency`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor, _require_reason
from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world

if TYPE_CHECKING:
    from bot.core.decide.outcomes import Change
    from bot.core.ledger import Ledger


def cmd_approve(ctx: RunContext, out: TextIO, freight_ref: str, stage: str, reason: str) -> int:
    """Approve ``freight_ref`` for ``stage`` and open its promotion now; return 0 or 1."""
    from bot.core.decide.emergency import Ask, Operation, carry_out
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_stage(ctx, config, stage)
    what = f"approving freight for {stage}"
    _require_reason(reason, what)
    # The registry is asked again for the digest of the freight this run proposes.
    world = _world(ctx, config, forge=True)
    actor = _check_actor(ctx, config, world, reason, what)
    ask = Ask(Operation.APPROVE, stage, actor, reason, freight=_freight_ref(freight_ref) or "")

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        return carry_out(config, ledger, ask, now)

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out, config)
    return 0 if outcome.ok else 1

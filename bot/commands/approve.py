"""``shunter approve --freight ID --stage S``: let a freight into a stage, Kargo's hotfix path.

An approval makes the freight available to the stage as if an upstream stage had
verified it; the loop then promotes it as it would any available freight (at once when
the stage auto-promotes and it is the newest, or by ``shunter promote`` otherwise).
Like the other emergency operations it needs the configured permission and a reason,
and it is recorded in ``operations.yaml``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor, _require_reason
from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world
from bot.errors import PermanentError

if TYPE_CHECKING:
    from bot.core.ledger import Ledger


def cmd_approve(ctx: RunContext, out: TextIO, freight_ref: str, stage: str, reason: str) -> int:
    """Record that the asking person approved ``freight_ref`` for ``stage``; return 0 or 1."""
    from bot.core.decide.outcomes import Change, ChangeKind, Subject
    from bot.core.ledger import OperationRecord
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_stage(ctx, config, stage)
    what = f"approving freight for {stage}"
    _require_reason(reason, what)
    ref = _freight_ref(freight_ref) or ""
    world = _world(ctx, config, forge=True, registry=False)
    actor = _check_actor(ctx, config, world, reason, what)

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        rec = ledger.find_freight(ref)
        if rec is None:
            raise PermanentError(
                f"no freight {freight_ref!r}: see `shunter get freight` for IDs and aliases"
            )
        wanted = config.stage(stage).requested_freight
        if all(req.warehouse != rec.freight.warehouse for req in wanted):
            raise PermanentError(
                f"stage {stage} takes no freight from warehouse {rec.freight.warehouse}; "
                f"{rec.freight.alias} cannot be approved for it"
            )
        rec.approved_for[stage] = actor
        ledger.operations.append(
            OperationRecord("approve", stage, actor, reason, now, freight=rec.freight.name)
        )
        return [
            Change(
                Subject.stage(stage),
                ChangeKind.APPROVED,
                freight=rec.freight.alias,
                by=actor,
                detail=reason,
            )
        ]

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1

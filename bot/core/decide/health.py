"""Following a stage's health in the ledger (``healthySince``). Pure."""

from __future__ import annotations

from datetime import datetime

from bot.core.decide.actions import Plan
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Subject,
)
from bot.core.ledger import (
    StageRecord,
)
from bot.core.model import Stage


def follow_health(
    stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime
) -> None:
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

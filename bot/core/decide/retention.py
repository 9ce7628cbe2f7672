"""Retention: which freight the ledger keeps, and pruning the rest. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.core.decide.actions import Plan, freight_label
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Subject,
)
from bot.core.discover.order import freight_order
from bot.core.ledger import (
    Ledger,
)
from bot.core.model import Config, Warehouse


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


def retention_limit(wh: Warehouse) -> int:
    """How many of ``wh``'s newest freight retention keeps: ``retention.maxArtifacts``,
    by default the largest ``discoveryLimit`` of its subscriptions."""
    limit = wh.retention.max_artifacts
    if limit is None:
        limit = max((s.discovery_limit for s in wh.subscriptions), default=20)
    return limit


def retain(config: Config, p: Plan, now: datetime) -> None:
    """Prune old freight of each warehouse: beyond ``retention.maxArtifacts`` (default: the
    largest ``discoveryLimit`` of its subscriptions) or older than ``retention.maxAge``,
    never touching protected freight."""
    led = p.ledger
    keep = protected_freight(led)
    for wh in config.warehouses:
        limit = retention_limit(wh)
        mine = sorted(
            (r.freight for r in led.freight.values() if r.freight.warehouse == wh.name),
            key=lambda f: freight_order(wh, f),
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
            names = ", ".join(freight_label(f) for f in pruned[:3])
            more = f" and {len(pruned) - 3} more" if len(pruned) > 3 else ""
            p.changed(Change(Subject.warehouse(wh.name), ChangeKind.PRUNED, detail=names + more))

"""Retention: which freight the ledger keeps, and pruning the rest. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.core.decide.actions import Plan, freight_label
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Subject,
)
from bot.core.discover.freight import Freight
from bot.core.discover.order import freight_order
from bot.core.ledger import Ledger, stage_freight
from bot.core.model import Config, Warehouse


def protected_freight(led: Ledger) -> set[str]:
    """Freight retention may never prune: in use, under way, in a history or the audit log."""
    return stage_freight(led) | {r.freight for r in led.promotions}


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
    never touching protected freight.

    Of those, freight a retained promotion record names is shelved instead (kept, in the
    shelf file: ``Ledger.shelved``), and shelved freight that is no longer past the limits,
    or that a stage names again, goes back to ``freight.yaml``. The audit log is read
    only when some freight is past the limits and no stage keeps it, so a run that
    discovered nothing new leaves ``promotions.yaml`` and the shelf unread.
    """
    led = p.ledger
    past = _past_limits(config, led, now)
    if past and led.deferred:
        led.read_deferred()  # the shelf's freight counts towards each warehouse's limit
        past = _past_limits(config, led, now)
    if led.deferred:
        return  # nothing past the limits, and nothing shelved is read: nothing to move
    named = {r.freight for r in led.promotions}
    shelf = {f.name for _wh, f in past if f.name in named}
    pruned: dict[str, list[Freight]] = {}
    for wh, f in past:
        if f.name not in named:
            pruned.setdefault(wh.name, []).append(f)
    for wh_name, gone in pruned.items():
        for f in gone:
            del led.freight[f.name]
        names = ", ".join(freight_label(f) for f in gone[:3])
        more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
        p.changed(Change(Subject.warehouse(wh_name), ChangeKind.PRUNED, detail=names + more))
    # Freight of a warehouse no longer configured stays where it is, as it is never pruned.
    configured = {wh.name for wh in config.warehouses}
    stay = {
        n
        for n in led.shelved
        if n in led.freight and led.freight[n].freight.warehouse not in configured
    }
    shelf |= stay - stage_freight(led)
    if shelf != led.shelved:
        moved = len(shelf ^ led.shelved)
        led.shelved = shelf
        p.changed(Change(Subject.stage("ledger"), ChangeKind.SHELVED, detail=str(moved)))


def _past_limits(config: Config, led: Ledger, now: datetime) -> list[tuple[Warehouse, Freight]]:
    """Each warehouse's freight past its retention limits that no stage keeps, newest first."""
    keep = stage_freight(led)
    by_warehouse: dict[str, list[Freight]] = {}
    for r in led.freight.values():
        by_warehouse.setdefault(r.freight.warehouse, []).append(r.freight)
    past = []
    for wh in config.warehouses:
        limit = retention_limit(wh)
        mine = sorted(
            by_warehouse.get(wh.name, ()), key=lambda f: freight_order(wh, f), reverse=True
        )
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
                past.append((wh, f))
    return past

"""Folding a warehouse's discovery into the ledger: its cache, its errors, new freight. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.core.decide.actions import Plan, freight_label
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    DecisionKind,
    Subject,
)
from bot.core.decide.retention import retention_limit
from bot.core.discover.freight import Freight, freight_of
from bot.core.discover.order import freight_order, is_newer
from bot.core.ledger import (
    FreightRecord,
)


def fold_discovery(warehouse: str, p: Plan, obs: Observations, now: datetime) -> None:
    disc = obs.discoveries.get(warehouse)
    if disc is None:
        return
    rec = p.ledger.warehouse(warehouse)
    where = Subject.warehouse(warehouse)
    # Discovery cache: entries of subscriptions no longer configured go, a failed
    # subscription keeps its old entry. A changed selection or selector is a change (a
    # commit); a new ETag or checkedAt alone is not, so an idle run writes nothing, and
    # they ride along with the next commit.
    keys = {s.cache_key for s in disc.subscriptions if s.cache_key is not None}
    cache = {k: c for k, c in rec.cache.items() if k in keys}
    for s in disc.subscriptions:
        if s.cache_key is not None and s.cache is not None:
            cache[s.cache_key] = s.cache
    moved = sorted(
        k
        for k in set(cache) | set(rec.cache)
        if k not in cache
        or k not in rec.cache
        or (cache[k].selector, cache[k].tag, cache[k].digest)
        != (rec.cache[k].selector, rec.cache[k].tag, rec.cache[k].digest)
    )
    rec.cache = cache
    # Chart validators ride along like ETags: kept in memory, written with the next commit.
    for s in disc.subscriptions:
        if s.cache_key is not None and s.validators is not None:
            rec.validators[s.cache_key] = dict(s.validators)
    rec.validators = {k: v for k, v in rec.validators.items() if k in keys}
    if moved:
        p.changed(Change(where, ChangeKind.DISCOVERY_CACHE, detail=", ".join(moved)))
    failed = disc.error
    if failed is not None:
        # The ledger keeps the words (a person reads them on GitHub); the run keeps the kind.
        if rec.error != failed.detail:
            rec.error = failed.detail
            p.changed(Change(where, ChangeKind.DISCOVERY_FAILED, detail=failed.detail))
        p.say(where, DecisionKind.DISCOVERY_FAILED, blocked=True, detail=failed.detail)
        return
    if rec.error is not None:
        rec.error = None
        p.changed(Change(where, ChangeKind.DISCOVERY_RECOVERED))
    empty = [s.label for s in disc.subscriptions if not s.artifacts]
    if empty:
        p.say(where, DecisionKind.NO_MATCH, blocked=True, detail=", ".join(empty))
        return
    newest = [s.artifacts[0] for s in disc.subscriptions]
    wh = p.warehouses.get(warehouse)
    manual = wh is not None and wh.freight_creation_policy == "Manual" and not disc.requested
    # The ID does not depend on the alias: look the freight up first, and gather the taken
    # aliases (shelved freight's included) only for freight that is new. The shelf is read
    # only when ``freight.yaml`` cannot settle it: neither known there nor older than what
    # retention keeps of the warehouse (the shelf holds only freight past that).
    f = freight_of(warehouse, newest, discovered_at=now)
    known = p.ledger.freight.get(f.name)
    top = None if known or manual else _behind_retained(p, warehouse, f)
    if known is None and top is None and p.ledger.deferred:
        p.ledger.read_deferred()
        known = p.ledger.freight.get(f.name)
        top = None if known or manual else _behind_retained(p, warehouse, f)
    if known is not None:
        p.say(where, DecisionKind.UP_TO_DATE, freight=freight_label(known.freight))
        return
    taken = {r.freight.alias for r in p.ledger.freight.values()}
    f = freight_of(warehouse, newest, discovered_at=now, taken_aliases=taken)
    if manual:
        # Kargo's Manual policy: discovery still looks (the cache above is kept), but only
        # a person's request makes freight. What it would make is said, not recorded.
        p.say(where, DecisionKind.ON_REQUEST, freight=freight_label(f))
        return
    if top is not None:
        # Older than every freight retention keeps (a backported tag, a registry that
        # lost the newer ones): recorded, it would be pruned at once, and every run
        # would write the ledger to do both again.
        p.say(where, DecisionKind.UP_TO_DATE, freight=freight_label(top))
        return
    p.ledger.freight[f.name] = FreightRecord(freight=f)
    rec.last_freight_at = now
    p.changed(Change(where, ChangeKind.FREIGHT_DISCOVERED, freight=freight_label(f)))
    p.say(where, DecisionKind.NEW_FREIGHT, freight=freight_label(f))


def _behind_retained(p: Plan, warehouse: str, f: Freight) -> Freight | None:
    """The newest of the warehouse's freight when at least its retention limit of them are
    newer than ``f`` (``f`` would be pruned at once), else ``None``."""
    wh = p.warehouses.get(warehouse)
    if wh is None:
        return None
    mine = [r.freight for r in p.ledger.freight.values() if r.freight.warehouse == warehouse]
    ahead = [x for x in mine if is_newer(wh, x, f)]
    if len(ahead) < retention_limit(wh):
        return None
    return max(ahead, key=lambda x: freight_order(wh, x))

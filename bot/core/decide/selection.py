"""Freight selection: what a stage may take, and what it should run next. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.decide.actions import Plan, alias, freight_label
from bot.core.decide.emergency import promoted_by_hand
from bot.core.decide.gates import fmt_duration
from bot.core.decide.inconsistency import Inconsistency, InconsistencyKind
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    DecisionKind,
    Failure,
    Gate,
    GateKind,
    Subject,
)
from bot.core.discover.freight import Freight
from bot.core.discover.order import freight_order, is_newer
from bot.core.ledger import (
    Ledger,
    PromotionKind,
)
from bot.core.model import Config, Stage, Warehouse


def available_freight(
    config: Config,
    stage: Stage,
    led: Ledger,
    unbacked: frozenset[tuple[str, str]] = frozenset(),
    attested: str | None = None,
    now: datetime | None = None,
) -> dict[str, datetime]:
    """Freight the stage may take, with the time it became available to it.

    A ``verifiedIn`` entry in ``unbacked`` (no merged bot promotion stands behind it)
    offers nothing. ``attested`` is the freight whose promotion PR to this stage carries
    a person's attested grant (``shunter approve``): it is offered as if verified
    upstream. ``approvedFor`` in the ledger is an audit record and offers nothing.

    From upstream stages, freight is available ``requiredSoakTime`` after it was verified
    there: in any stage listed (``OneOf``, the earliest) or only once in every one
    (``All``, the latest). Without ``now`` (no clock), freight that must soak is left out.
    """
    return offers(stage, led, now, unbacked, attested)[0]


def offers(
    stage: Stage,
    led: Ledger,
    now: datetime | None,
    unbacked: frozenset[tuple[str, str]] = frozenset(),
    attested: str | None = None,
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """``(available, soaking)``: freight the stage may take now and since when, and
    freight verified upstream that becomes available at a later time (its
    ``requiredSoakTime`` has not passed). See ``available_freight``."""
    out: dict[str, datetime] = {}
    later: dict[str, datetime] = {}

    def offer(name: str, since: datetime, soaks: bool = False) -> None:
        if soaks and (now is None or since > now):
            if name not in later or since < later[name]:
                later[name] = since
        elif name not in out or since < out[name]:
            out[name] = since

    for req in stage.requested_freight:
        for rec in led.freight.values():
            f = rec.freight
            if f.warehouse != req.warehouse:
                continue
            if f.name in led.shelved and f.name != attested:
                continue  # past retention, kept only for the audit log: asked for by name only
            if req.direct and f.discovered_at is not None:
                offer(f.name, f.discovered_at)
            soaked = [
                rec.verified_in[up] + req.required_soak_time
                for up in req.upstream_stages
                if up in rec.verified_in and (f.name, up) not in unbacked
            ]
            soaks = bool(req.required_soak_time)
            if soaked and req.availability == "All":
                if len(soaked) == len(req.upstream_stages):
                    offer(f.name, max(soaked), soaks)
            elif soaked:
                offer(f.name, min(soaked), soaks)
            if f.name == attested:
                offer(f.name, f.discovered_at or _EPOCH)
    for name in out:
        later.pop(name, None)
    return out, later


def unavailable(
    stage: Stage,
    led: Ledger,
    now: datetime,
    f: Freight,
    unbacked: frozenset[tuple[str, str]] = frozenset(),
    grant: str | Failure | None = None,
) -> str:
    """Why ``stage`` may not take ``f`` now ("" when it may): still soaking, or not
    verified where its ``requestedFreight`` says it must be. ``unbacked`` and ``grant``
    are what GitHub says of the ledger's verifications and of a person's grant; without
    them the ledger alone is asked, which can only hold back."""
    attested = None if isinstance(grant, Failure) else grant
    available, soaking = offers(stage, led, now, unbacked, attested)
    if f.name in available:
        return ""
    if f.name in soaking:
        return f"it soaks until {soaking[f.name]:%Y-%m-%d %H:%M} UTC"
    upstream = sorted(
        {
            s
            for r in stage.requested_freight
            if r.warehouse == f.warehouse
            for s in r.upstream_stages
        }
    )
    return f"not verified in {', '.join(upstream)}" if upstream else "not from its warehouse"


def warehouse_of(p: Plan, f: Freight) -> Warehouse:
    """``f``'s warehouse (one no longer configured has no subscription order: time decides)."""
    return p.warehouses.get(f.warehouse) or Warehouse(f.warehouse, subscriptions=())


def newer(p: Plan, a: Freight, b: Freight | None) -> bool:
    """True when ``a`` is newer than ``b`` by its warehouse's selection order, never by
    when a run happened to see it (anything beats none)."""
    return is_newer(warehouse_of(p, a), a, b)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Choice:
    """What a stage should run next, and who asked: the input of the PR lifecycle."""

    desired: Freight
    current: Freight | None
    kind: PromotionKind
    by: str
    reason: str


def choose(
    config: Config,
    stage: Stage,
    p: Plan,
    now: datetime,
    unbacked: frozenset[tuple[str, str]] = frozenset(),
    *,
    grant: str | Failure | None = None,
    judge: bool = True,
    unknown_on_main: bool = False,
) -> Choice | None:
    """The freight ``stage`` should move to now, or ``None`` when it stays as it is.

    A pause stops everything; a person's request (received by this run) wins over
    selection; a hold stops auto-promotion; otherwise the newest available freight not
    rejected for the stage, once its ``autoPromotionDelay`` has passed. Says why in
    ``p`` whenever it waits.

    ``grant`` is what GitHub attests for the stage's open promotion PR
    (``Observations.attested``). An open promotion of freight the stage may not take
    (not verified upstream, no attested grant) is a ledger inconsistency and goes no
    further; ``judge=False`` (GitHub not asked this run, or this run received the
    stage's request and so holds the grant first-hand) leaves that unjudged.

    With ``unknown_on_main`` (main holds a version no known freight writes), only a
    rollback goes on: anything else might move the stage back. An emergency promotion
    that would move the stage back is refused.
    """
    led = p.ledger
    rec = led.stage(stage.name)
    policy = stage.promotion_policy
    name = stage.name
    me = Subject.stage(name)
    paused_by = "promotionPolicy.paused" if policy.paused else None
    if rec.pause is not None:
        paused_by = f"paused by {rec.pause.by}: {rec.pause.reason}"
    if paused_by:
        p.say(
            me, DecisionKind.PAUSED, blocked=True, gates=(Gate(GateKind.PAUSED, False, paused_by),)
        )
        return None

    current = (
        led.freight[rec.current_freight].freight if rec.current_freight in led.freight else None
    )
    kind: PromotionKind
    by, reason = "shunter", ""
    if rec.request is not None:
        req = rec.request
        if req.freight not in led.freight:
            p.say(me, DecisionKind.REQUEST_DROPPED, blocked=True, freight=req.freight)
            rec.request = None
            p.changed(Change(me, ChangeKind.REQUEST_DROPPED, freight=req.freight))
            return None
        desired = led.freight[req.freight].freight
        kind, by, reason = req.kind, req.by, req.reason
        if kind != "rollback" and unknown_on_main:
            # Whether this moves the stage back cannot be told yet: the request waits.
            said = alias(p, rec.current_freight) if rec.current_freight else ""
            p.say(me, DecisionKind.DRIFT, blocked=True, freight=said)
            return None
        if kind != "rollback" and current is not None and newer(p, current, desired):
            # Only an explicit rollback moves a stage back; the ledger the request was
            # made from was older than main.
            rec.request = None
            label, now_runs = freight_label(desired), freight_label(current)
            p.changed(Change(me, ChangeKind.REQUEST_REFUSED, freight=label, by=by, detail=now_runs))
            p.say(me, DecisionKind.REQUEST_REFUSED, blocked=True, freight=label, detail=now_runs)
            return None
        if promoted_by_hand(req):
            why = unavailable(stage, led, now, desired, unbacked, grant)
            if why and (rec.promotion is None or rec.promotion.freight != desired.name):
                # Kargo's promote: only freight the stage may take (what an approval or an
                # earlier selection opened counts); anything else is an emergency.
                rec.request = None
                label = freight_label(desired)
                p.changed(Change(me, ChangeKind.NOT_AVAILABLE, freight=label, by=by, detail=why))
                p.say(me, DecisionKind.NOT_AVAILABLE, blocked=True, freight=label, detail=why)
                return None
    else:
        if unknown_on_main:
            # Main runs a version this run cannot place (newer than its discovery, or a hand
            # edit): moving the stage could move it back. Only a person's rollback goes on.
            said = alias(p, rec.current_freight) if rec.current_freight else ""
            p.say(me, DecisionKind.DRIFT, blocked=True, freight=said)
            return None
        if isinstance(grant, Failure):
            return None  # GitHub could not say who granted the open promotion (reported)
        available, soaking = offers(stage, led, now, unbacked, grant)
        going = rec.promotion
        if going is not None and going.freight not in available and judge:
            # Nothing lets this freight in: the ledger's record of it grants nothing.
            p.inconsistencies.append(
                Inconsistency(
                    InconsistencyKind.PROMOTION,
                    stage=name,
                    freight=alias(p, going.freight),
                    pr=going.pr,
                    detail=f"{going.kind} by {going.by}",
                )
            )
            going = None
        if rec.hold is not None:
            hold = Gate(GateKind.HOLD, False, f"{rec.hold.by}'s {rec.hold.reason!r}")
            p.say(me, DecisionKind.HELD, blocked=True, gates=(hold,))
            if going is None:
                return None
        # Newest by the subscriptions' order, never by when a run happened to see it.
        candidates = _newest_first(p, stage, available)
        if rec.hold is not None:
            candidates = []
        newest = candidates[0] if candidates else None
        if newest is None or not newer(p, newest, current):
            if going is None and rec.hold is None:
                waits = next(iter(_newest_first(p, stage, soaking)), None)
                if waits is not None and newer(p, waits, current):
                    p.say(
                        me,
                        DecisionKind.SOAKING,
                        blocked=True,
                        freight=waits.summary(),
                        gates=(_soak_gate(stage, waits, soaking[waits.name], now),),
                    )
                    return None
            if going is None:
                if current is None:
                    p.say(me, DecisionKind.NO_FREIGHT, blocked=True)
                elif newest is not None:
                    p.say(me, DecisionKind.UP_TO_DATE, freight=freight_label(current))
                return None
            if newest is not None and current is not None:
                p.say(me, DecisionKind.UP_TO_DATE, freight=freight_label(current))
            desired = led.freight[going.freight].freight
            kind, by, reason = going.kind, going.by, going.reason
        else:
            desired = newest
            kind = "auto" if policy.auto_promotion_enabled else "manual"
            if going is None and policy.auto_promotion_enabled:
                since = available.get(desired.name, now)
                ready_at = since + policy.auto_promotion_delay
                if ready_at > now:
                    delay = Gate(
                        GateKind.DELAY,
                        False,
                        f"{fmt_duration(ready_at - now)} more for "
                        f"autoPromotionDelay {fmt_duration(policy.auto_promotion_delay)}",
                    )
                    p.say(
                        me,
                        DecisionKind.SOAKING,
                        blocked=True,
                        freight=desired.summary(),
                        gates=(delay,),
                    )
                    return None
    return Choice(desired, current, kind, by, reason)


def _newest_first(p: Plan, stage: Stage, names: Mapping[str, datetime]) -> list[Freight]:
    """The freight of ``names`` the stage may select, newest first by its subscriptions'
    order. A freight the stage rejected (its PR closed, or expired) is left out, and so,
    for a ``MatchUpstream`` request, is anything its one upstream stage does not run now:
    that stage's freight is taken even when newer freight was verified there (it was
    rolled back, say), but never one older than what this stage runs (only an explicit
    rollback moves a stage back)."""
    led = p.ledger
    out = []
    for n in names:
        rec = led.freight[n]
        if stage.name in rec.rejected_for:
            continue
        requests = [r for r in stage.requested_freight if r.warehouse == rec.freight.warehouse]
        matches = any(
            (up_rec := led.stages.get(up)) is not None and up_rec.current_freight == n
            for r in requests
            for up in r.upstream_stages
        )
        match_only = bool(requests) and all(r.selection_policy == "MatchUpstream" for r in requests)
        if match_only and not matches:
            continue
        out.append(rec.freight)
    return sorted(out, key=lambda f: freight_order(warehouse_of(p, f), f), reverse=True)


def _soak_gate(stage: Stage, f: Freight, at: datetime, now: datetime) -> Gate:
    """The ``requiredSoakTime`` gate on ``f``, available to ``stage`` at ``at``."""
    soak = max(
        (r for r in stage.requested_freight if r.warehouse == f.warehouse),
        key=lambda r: r.required_soak_time,
    )
    where = ", ".join(soak.upstream_stages)
    return Gate(
        GateKind.SOAK,
        False,
        f"{fmt_duration(soak.required_soak_time)} in {where}: {fmt_duration(at - now)} to go",
    )

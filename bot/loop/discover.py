"""Discovery: ask each warehouse's sources what they hold, as ``Discovery`` values.

One failing subscription is reported in its own result and never stops the others.

Image subscriptions are asked as cheaply as the registry allows, because a scheduled run
repeats every few minutes and registries rate-limit (Docker Hub counts manifest ``GET``s,
GHCR and Quay count every request). Each subscription keeps a cache entry in the ledger
(``CachedSelection``: the selected tag and digest, the tag list's ETag, ``checkedAt``):

* inside ``cacheTTL`` of ``checkedAt`` no request is made at all (unless the run was
  asked to refresh this warehouse: an event or ``shunter refresh``);
* otherwise one conditional ``GET tags/list`` (``If-None-Match``); a 304 reuses the entry;
* a tag list whose best tag is still the cached one reuses the cached digest (tags that
  match a version are treated as immutable, as Kargo's own digest cache does);
* the ``Digest`` strategy follows one mutable tag and so never lists tags: one manifest
  ``HEAD`` per check tells whether the tag was re-pushed;
* ``NewestBuild`` reads the build date of at most ``min(discoveryLimit, 10)`` candidates.

``checkedAt`` is rewritten only along with another change to the ledger (the planner's
rule), so an idle run writes nothing; the TTL therefore counts from the last write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from bot.core.decide.observations import Discovery, SubscriptionResult
from bot.core.decide.outcomes import Failure, FailureKind, Subject, System
from bot.core.discover.artifacts import Artifact, Image
from bot.core.errors import ConstraintError
from bot.core.ledger import CachedSelection, WarehouseRecord
from bot.core.model import (
    ChartSubscription,
    ImageSubscription,
    Subscription,
    Warehouse,
)
from bot.errors import PermanentError, ShunterError
from bot.loop.observe import failure
from bot.ports import (
    ChartSource,
    CommitSource,
    Deadline,
    HttpErrorKind,
    HttpTransientError,
    Registry,
)

__all__ = [
    "NEWEST_BUILD_MAX",
    "Missed",
    "Shortfall",
    "discover",
    "discover_image",
    "discover_warehouses",
    "discovery_deadline",
    "label",
    "run_order",
    "selector",
    "subscription_keys",
]

#: The most images whose build date ``NewestBuild`` reads in one check (two or three
#: requests each: manifest, perhaps a platform manifest, config blob).
NEWEST_BUILD_MAX = 10


def label(sub: Subscription) -> str:
    """``image ghcr.io/alkon/flask-app``: how messages name a subscription."""
    kind = {"ImageSubscription": "image", "ChartSubscription": "chart", "GitSubscription": "git"}
    return f"{kind[type(sub).__name__]} {sub.repo_url}"


def subscription_keys(warehouse: Warehouse) -> list[str | None]:
    """The cache key of each subscription, in config order: an image's ``repoURL``
    (``#2``, ``#3``... appended when a warehouse watches one repository twice), ``None``
    for subscriptions that keep no cache."""
    keys: list[str | None] = []
    seen: dict[str, int] = {}
    for sub in warehouse.subscriptions:
        if isinstance(sub, ChartSubscription):
            keys.append(f"chart:{sub.repo_url}#{sub.name or ''}")
            continue
        if not isinstance(sub, ImageSubscription):
            keys.append(None)
            continue
        n = seen[sub.repo_url] = seen.get(sub.repo_url, 0) + 1
        keys.append(sub.repo_url if n == 1 else f"{sub.repo_url}#{n}")
    return keys


def selector(sub: ImageSubscription) -> str:
    """A short fingerprint of every setting that decides which image ``sub`` selects;
    a cache entry made under another fingerprint is not reused."""
    settings = [
        sub.repo_url,
        sub.strategy,
        sub.semver_constraint,
        sub.discovery_limit,
        list(sub.allow_tags),
        list(sub.ignore_tags),
        list(sub.ignore_tags_regexes),
        sub.strict_semvers,
        sub.platform,
    ]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:12]


def _artifacts(sub: ImageSubscription, entry: CachedSelection) -> tuple[Artifact, ...]:
    if entry.tag is None or entry.digest is None:
        return ()
    return (Image(repo_url=sub.repo_url, tag=entry.tag, digest=entry.digest),)


def discover_image(
    registry: Registry,
    sub: ImageSubscription,
    *,
    cached: CachedSelection | None = None,
    now: datetime | None = None,
    refresh: bool = False,
) -> tuple[tuple[Artifact, ...], CachedSelection | None]:
    """Return (the newest image matching ``sub`` with its digest, or nothing when no tag
    matches; the cache entry to keep, ``None`` when ``now`` is not given).

    ``cached`` is the entry the ledger holds for ``sub``; ``refresh`` ignores its TTL
    (not its validators). Only the selected candidate's digest is fetched: freight is
    made from it alone, and each manifest request counts against rate limits.

    Raises ``PermanentError``/``TransientError`` from the registry, ``ConstraintError``
    for a constraint or regex that does not parse.
    """
    from bot.core.discover.versions import select_tags

    fingerprint = selector(sub)
    usable = cached if cached is not None and cached.selector == fingerprint else None
    if (
        usable is not None
        and now is not None
        and not refresh
        and sub.cache_ttl is not None
        and now < usable.checked_at + sub.cache_ttl
    ):
        return _artifacts(sub, usable), usable

    def keep(tag: str | None, digest: str | None, etag: str | None) -> CachedSelection | None:
        if now is None:
            return None
        return CachedSelection(fingerprint, tag, digest, etag, now)

    if sub.strategy == "Digest" and sub.semver_constraint:
        # Follow one mutable tag: its manifest digest is the whole answer, so the tag list
        # is never needed; a re-pushed tag has a new digest and so makes new freight.
        tag = sub.semver_constraint
        if not select_tags([tag], sub):  # allowTags/ignoreTags refuse the tag itself
            entry = keep(None, None, None)
            return (), entry
        digest = registry.digest(sub.repo_url, tag, sub.platform)
        entry = keep(tag, digest, None)
        return (Image(repo_url=sub.repo_url, tag=tag, digest=digest),), entry

    listing = registry.list_tags_if_changed(sub.repo_url, usable.etag if usable else None)
    if listing.tags is None:
        if usable is None:  # a 304 to a request we did not make conditional: ask again
            listing = registry.list_tags_if_changed(sub.repo_url, None)
        else:
            return _artifacts(sub, usable), keep(usable.tag, usable.digest, usable.etag)
    candidates = select_tags(listing.tags or [], sub)
    if not candidates:
        return (), keep(None, None, listing.etag)
    if sub.strategy == "NewestBuild":
        top = sorted(candidates, reverse=True)[: max(1, min(sub.discovery_limit, NEWEST_BUILD_MAX))]
        infos = {t: registry.image_info(sub.repo_url, t, sub.platform) for t in top}

        # Newest build first; images without a date lose; equal dates: the higher tag.
        def built(t: str) -> tuple[float, str]:
            created = infos[t].created
            return (created.timestamp() if created is not None else float("-inf"), t)

        tag = max(top, key=built)
        digest = infos[tag].digest
        image = Image(sub.repo_url, tag, digest, built=infos[tag].created)
        return (image,), keep(tag, digest, listing.etag)
    else:
        tag = candidates[0]
        if usable is not None and usable.tag == tag and usable.digest is not None:
            digest = usable.digest
        else:
            digest = registry.digest(sub.repo_url, tag, sub.platform)
    return (Image(repo_url=sub.repo_url, tag=tag, digest=digest),), keep(tag, digest, listing.etag)


def discover(
    warehouse: Warehouse,
    registry: Registry,
    *,
    cache: Mapping[str, CachedSelection] | None = None,
    now: datetime | None = None,
    refresh: bool = False,
    charts: ChartSource | None = None,
    git: CommitSource | None = None,
    validators: Mapping[str, Mapping[str, str]] | None = None,
) -> Discovery:
    """Ask every subscription of ``warehouse``; failures become per-subscription errors.

    ``cache`` is the warehouse's ledger record of cache entries (by
    :func:`subscription_keys`), ``now`` the run's clock (without it nothing is cached),
    ``refresh`` ignores ``cacheTTL`` (the warehouse was asked for explicitly). Returns a
    ``Discovery`` whose results carry the cache entries to keep. Never raises a
    ``ShunterError``: each becomes that subscription's ``error``.
    """
    results: list[SubscriptionResult] = []
    for sub, key in zip(warehouse.subscriptions, subscription_keys(warehouse), strict=True):
        result, _ = _ask(
            sub,
            key,
            registry,
            cache=cache,
            validators=validators,
            now=now,
            refresh=refresh,
            charts=charts,
            git=git,
        )
        results.append(result)
    return Discovery(warehouse=warehouse.name, subscriptions=tuple(results))


# --------------------------------------------------------------------------- a whole run


class Shortfall(Enum):
    """Why a warehouse was not (fully) asked this run: the run ran out of something, not
    the warehouse. Such warehouses go first next run (see :func:`run_order`)."""

    BUDGET = "budget"  # the per-host request budget was spent
    DEADLINE = "deadline"  # the run's discovery time was up before or while it was asked
    TIMED_OUT = "timed out"  # its host did not answer in time
    RATE_LIMITED = "rate limited"  # its host asked to be left alone longer than the run has


@dataclass(frozen=True)
class Missed:
    """One warehouse this run could not finish discovering, and why (typed)."""

    warehouse: str
    shortfall: Shortfall
    detail: str


def discovery_failures(found: Mapping[str, Discovery], missed: Sequence[Missed]) -> list[Failure]:
    """Every warehouse this run could not discover, as the run's typed failures (so the
    exit code counts them: a registry's 503 is 75, its 404 or a refused credential 1).

    A warehouse cut short by the budget or the deadline (``missed``) is transient: it
    goes first next run. Any other keeps the kind its source's error gave it.
    """
    short = {m.warehouse: m for m in missed}
    out: list[Failure] = []
    for name, disc in found.items():
        where = Subject.warehouse(name)
        if name in short:
            out.append(Failure(FailureKind.TRANSIENT, System.REGISTRY, short[name].detail, where))
        elif disc.error is not None:
            out.append(replace(disc.error, subject=where))
    return out


_SHORTFALLS = {
    HttpErrorKind.BUDGET: Shortfall.BUDGET,
    HttpErrorKind.TIMED_OUT: Shortfall.TIMED_OUT,
    HttpErrorKind.RATE_LIMITED: Shortfall.RATE_LIMITED,
}


#: The share of the run's deadline kept back from discovery for planning, GitHub and the
#: ledger write, at most :data:`RESERVE_MAX` seconds.
RESERVE_SHARE = 0.25
RESERVE_MAX = 60.0


def discovery_deadline(deadline: Deadline) -> Deadline:
    """The moment discovery must be done by: the run's deadline less a reserve (a quarter
    of it, at most a minute), so the ledger is written in time with what was learned."""
    return deadline.earlier(min(deadline.seconds * RESERVE_SHARE, RESERVE_MAX))


def run_order(
    warehouses: Sequence[Warehouse], records: Mapping[str, WarehouseRecord]
) -> list[Warehouse]:
    """The order a run asks warehouses in: those whose last discovery failed or was cut
    short (their ledger record holds an error) first, then the rest, each group in config
    order. With a request budget that cannot reach every warehouse, the ones left out go
    first next time, so none starves (round robin, remembered in the ledger)."""

    def waiting(wh: Warehouse) -> bool:
        rec = records.get(wh.name)
        return rec is not None and rec.error is not None

    return sorted(warehouses, key=lambda wh: not waiting(wh))


def discover_warehouses(
    warehouses: Sequence[Warehouse],
    registry: Registry,
    records: Mapping[str, WarehouseRecord],
    *,
    now: datetime,
    refresh: bool = False,
    charts: ChartSource | None = None,
    git: CommitSource | None = None,
    deadline: Deadline | None = None,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Discovery], list[Missed]]:
    """Discover ``warehouses`` concurrently, at most ``workers`` subscriptions at a time,
    in :func:`run_order`, and stop waiting at ``deadline`` (a :func:`discovery_deadline`).
    ``progress`` is told ``(answered, total)`` subscriptions as answers come in.

    Returns every warehouse's ``Discovery`` (a subscription not asked in time carries an
    error saying so) and the warehouses cut short for want of budget or time, typed.
    ``records`` are the ledger's warehouse records (cache entries, validators, last error).
    Never raises a ``ShunterError``.
    """
    from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
    from concurrent.futures import TimeoutError as Late

    ordered = run_order(warehouses, records)
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="discover")
    jobs: list[tuple[Warehouse, list[Future[_Asked]]]] = []
    try:
        for wh in ordered:
            rec = records.get(wh.name)
            asks: list[Future[_Asked]] = []
            for sub, key in zip(wh.subscriptions, subscription_keys(wh), strict=True):
                asks.append(
                    pool.submit(
                        _ask,
                        sub,
                        key,
                        registry,
                        cache=rec.cache if rec is not None else None,
                        validators=rec.validators if rec is not None else None,
                        now=now,
                        refresh=refresh,
                        charts=charts,
                        git=git,
                        deadline=deadline,
                    )
                )
            jobs.append((wh, asks))
        every = [f for _, asks in jobs for f in asks]
        timeout = deadline.remaining() if deadline is not None else None
        if progress is None:
            wait(every, timeout=timeout)
        else:
            progress(0, len(every))
            try:
                for answered, _ in enumerate(as_completed(every, timeout=timeout), 1):
                    progress(answered, len(every))
            except Late:
                pass  # the deadline: the rest is reported below as not asked in time
    finally:
        # Requests still running end by themselves: their timeouts are bounded by the
        # deadline. Nothing waits for them, and nothing not yet started starts.
        pool.shutdown(wait=False, cancel_futures=True)
    found: dict[str, Discovery] = {}
    missed: list[Missed] = []
    for wh, asks in jobs:
        results: list[SubscriptionResult] = []
        short: Missed | None = None
        for sub, key, future in zip(wh.subscriptions, subscription_keys(wh), asks, strict=True):
            if future.done() and not future.cancelled():
                result, shortfall = future.result()
            else:
                shortfall = Shortfall.DEADLINE
                result = SubscriptionResult(
                    label(sub),
                    error=_out_of_time("the run's discovery deadline came before an answer"),
                    cache_key=key,
                )
            results.append(result)
            if shortfall is not None and short is None:
                short = Missed(wh.name, shortfall, result.error.detail if result.error else "")
        found[wh.name] = Discovery(warehouse=wh.name, subscriptions=tuple(results))
        if short is not None:
            missed.append(short)
    return found, missed


_Asked = tuple[SubscriptionResult, "Shortfall | None"]


def _ask(
    sub: Subscription,
    key: str | None,
    registry: Registry,
    *,
    cache: Mapping[str, CachedSelection] | None,
    validators: Mapping[str, Mapping[str, str]] | None,
    now: datetime | None,
    refresh: bool,
    charts: ChartSource | None,
    git: CommitSource | None,
    deadline: Deadline | None = None,
) -> _Asked:
    """Ask one subscription; a failure is its result's error (and a shortfall, when the
    run ran out of budget or time rather than the source failing)."""
    if deadline is not None and deadline.expired:
        return (
            SubscriptionResult(
                label(sub),
                error=_out_of_time("the run's discovery deadline came before it was asked"),
                cache_key=key,
            ),
            Shortfall.DEADLINE,
        )
    try:
        if isinstance(sub, ImageSubscription):
            cached = (cache or {}).get(key) if key is not None else None
            artifacts, entry = discover_image(
                registry, sub, cached=cached, now=now, refresh=refresh
            )
            return SubscriptionResult(label(sub), artifacts, cache_key=key, cache=entry), None
        if isinstance(sub, ChartSubscription):
            if charts is None:
                raise PermanentError("chart subscriptions need a chart repository client")
            old = dict(validators.get(key, {})) if validators and key else None
            found, fresh = charts.discover(sub, old)
            return SubscriptionResult(label(sub), found, cache_key=key, validators=fresh), None
        if git is None:
            raise PermanentError("git subscriptions need a git source")
        return SubscriptionResult(label(sub), git.discover(sub)), None
    except (ShunterError, ConstraintError) as exc:
        # Only the errors discovery names: any other exception is a bug, and the run
        # ends with exit 3 and its traceback rather than a stage that quietly never moves.
        kind = exc.kind if isinstance(exc, HttpTransientError) else None
        shortfall = _SHORTFALLS.get(kind) if kind is not None else None
        if isinstance(exc, ShunterError):
            failed = failure(exc, System.REGISTRY)
        else:  # a constraint or tag regex the config check let through: a person fixes it
            failed = Failure(FailureKind.MISCONFIGURED, System.REGISTRY, str(exc))
        return SubscriptionResult(label(sub), error=failed, cache_key=key), shortfall


def _out_of_time(why: str) -> Failure:
    """The failure of a subscription the run had no time left to ask (or to hear)."""
    return Failure(
        FailureKind.TRANSIENT,
        System.REGISTRY,
        f"timed out: {why}; the next run asks this warehouse first",
    )

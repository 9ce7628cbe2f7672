"""Which of a warehouse's freight is newer: the subscriptions' own selection order.

Each subscription selects artifacts in an order (SemVer precedence, lexical order of
tags, an image's build date, a chart's version). Freight is ordered the same way,
subscription by subscription in the order the warehouse lists them, so an older tag that
a run happens to see later (a lagging registry replica, a tag deleted and listed again, a
run that looked before a newer push) never becomes the newest freight. Orders that
cannot be read from the freight itself (a moving tag's digest, a branch's newest commit,
a build date no run recorded) compare equal here, and discovery time decides between
them: a digest change is seen when it happens. Discovery time also breaks every tie,
then the freight ID, so the order is total and the same in every run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.core.discover.freight import Freight
from bot.core.discover.versions import parse_tag, precedence_key
from bot.core.model import (
    ChartSubscription,
    Config,
    ImageSubscription,
    Subscription,
    Warehouse,
)

__all__ = ["freight_order", "is_newer", "newer_in", "newest_first"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One subscription's place: (0,) when the freight has no artifact of it or the order is
# not readable from the artifact, (1, key) otherwise. Every freight of a warehouse has
# the same shape, so the tuples always compare.
_Place = tuple[Any, ...]
_UNKNOWN: _Place = (0,)


def _version(text: str) -> _Place:
    version = parse_tag(text, strict=False)
    return _UNKNOWN if version is None else (1, precedence_key(version))


def _place(sub: Subscription, f: Freight) -> _Place:
    if isinstance(sub, ImageSubscription):
        image = next((i for i in f.images if i.repo_url == sub.repo_url), None)
        if image is None:
            return _UNKNOWN
        if sub.strategy == "SemVer":
            return _version(image.tag)
        if sub.strategy == "Lexical":
            return (1, image.tag)
        if sub.strategy == "NewestBuild" and image.built is not None:
            return (1, image.built)
        return _UNKNOWN  # Digest (and a build date not read): the time a run saw it
    if isinstance(sub, ChartSubscription):
        chart = next(
            (c for c in f.charts if c.repo_url == sub.repo_url and sub.name in (None, c.name)),
            None,
        )
        return _UNKNOWN if chart is None else _version(chart.version)
    commit = next((c for c in f.commits if c.repo_url == sub.repo_url), None)
    if commit is None or not commit.tag:
        return _UNKNOWN  # NewestFromBranch, NewestTag: the repository's time
    if sub.strategy == "SemVer":
        return _version(commit.tag)
    if sub.strategy == "Lexical":
        return (1, commit.tag)
    return _UNKNOWN


def freight_order(warehouse: Warehouse, f: Freight) -> tuple[Any, ...]:
    """A key that sorts ``warehouse``'s freight oldest first, as described above.

    ``freight_order(wh, a) < freight_order(wh, b)`` means ``b`` is newer. Freight without
    a discovery time sorts before freight discovered at any time, given equal versions.
    Never raises.
    """
    places = tuple(_place(sub, f) for sub in warehouse.subscriptions)
    return (places, f.discovered_at or _EPOCH, f.name)


def is_newer(warehouse: Warehouse, a: Freight, b: Freight | None) -> bool:
    """True when ``a`` is newer than ``b`` (anything is newer than nothing)."""
    return b is None or freight_order(warehouse, a) > freight_order(warehouse, b)


def newest_first(warehouse: Warehouse, freight: Iterable[Freight]) -> list[Freight]:
    """``freight`` sorted newest first by :func:`freight_order`."""
    return sorted(freight, key=lambda f: freight_order(warehouse, f), reverse=True)


def newer_in(config: Config, a: Freight, b: Freight | None) -> bool:
    """:func:`is_newer` by ``a``'s warehouse in ``config`` (freight of a warehouse no longer
    configured has no subscription order: discovery time decides)."""
    wh = next((w for w in config.warehouses if w.name == a.warehouse), None)
    return is_newer(wh or Warehouse(a.warehouse, subscriptions=()), a, b)

"""Discovery: ask each warehouse's sources what they hold, as ``Discovery`` values.

One failing subscription is reported in its own result and never stops the others.
"""

from __future__ import annotations

from bot.core.artifacts import Artifact, Image
from bot.core.model import ImageSubscription, Subscription, Warehouse
from bot.core.observations import Discovery, SubscriptionResult
from bot.errors import ShunterError
from bot.ports import Registry


def label(sub: Subscription) -> str:
    """``image ghcr.io/alkon/flask-app``: how messages name a subscription."""
    kind = {"ImageSubscription": "image", "ChartSubscription": "chart", "GitSubscription": "git"}
    return f"{kind[type(sub).__name__]} {sub.repo_url}"


def discover_image(registry: Registry, sub: ImageSubscription) -> tuple[Artifact, ...]:
    """The newest image matching ``sub`` with its digest, or nothing when no tag matches.

    Only the newest candidate's digest is fetched: freight is made from it alone, and
    each manifest request counts against the registry's rate limit.
    """
    from bot.core.versions import select_tags

    tags = registry.list_tags(sub.repo_url)
    candidates = select_tags(tags, sub)
    if not candidates:
        return ()
    tag = candidates[0]
    digest = registry.digest(sub.repo_url, tag, sub.platform)
    return (Image(repo_url=sub.repo_url, tag=tag, digest=digest),)


def discover(warehouse: Warehouse, registry: Registry) -> Discovery:
    """Ask every subscription of ``warehouse``; failures become per-subscription errors."""
    results: list[SubscriptionResult] = []
    for sub in warehouse.subscriptions:
        try:
            if isinstance(sub, ImageSubscription):
                results.append(SubscriptionResult(label(sub), discover_image(registry, sub)))
            else:
                results.append(
                    SubscriptionResult(
                        label(sub),
                        error="chart and git subscriptions are not discovered by this version",
                    )
                )
        except ShunterError as exc:
            results.append(SubscriptionResult(label(sub), error=str(exc)))
    return Discovery(warehouse=warehouse.name, subscriptions=tuple(results))

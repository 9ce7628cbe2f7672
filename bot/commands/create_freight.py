"""``shunter create freight --warehouse W [--image REPO:TAG ...]``: freight made on request.

The way a warehouse with ``freightCreationPolicy: Manual`` gets freight (any other
warehouse takes it too). Every named tag is looked up in the registry first, for the
digest the freight pins: a tag the registry does not hold ends the command with exit 1
before anything is written. Who asks is checked as for the emergency operations, and the
ledger's ``operations.yaml`` records who, when, which freight and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.commands._actor import _check_actor, _require_reason
from bot.commands._context import RunContext
from bot.commands._names import _require_warehouse
from bot.commands._output import _publish, _report
from bot.commands._wiring import _load_config, _world
from bot.errors import PermanentError, UsageError

if TYPE_CHECKING:
    from bot.core.decide.outcomes import Change
    from bot.core.discover.artifacts import Artifact
    from bot.core.discover.manual import ImageRef
    from bot.core.ledger import Ledger
    from bot.core.model import ImageSubscription, Warehouse
    from bot.loop.reconcile import World


def cmd_create_freight(
    ctx: RunContext, out: TextIO, warehouse: str, images: Sequence[str], reason: str
) -> int:
    """Create freight of ``images`` (and discovery's choice for the rest) from
    ``warehouse``; return 0, or 1 when the run that records it is stuck."""
    from bot.core.discover.manual import assign_images, create_freight, parse_image_ref
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_warehouse(ctx, config, warehouse)
    what = f"creating freight in {warehouse}"
    _require_reason(reason, what)
    wh = config.warehouse(warehouse)
    try:
        named = assign_images(wh, [parse_image_ref(text) for text in images])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    world = _world(ctx, config, forge=True)
    actor = _check_actor(ctx, config, world, reason, what)
    artifacts = _artifacts(world, wh, named)

    def mutate(ledger: Ledger, now: datetime) -> list[Change]:
        return create_freight(ledger, warehouse, artifacts, by=actor, reason=reason, now=now)

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out, config)
    return 0 if outcome.ok else 1


def _artifacts(
    world: World, wh: Warehouse, named: dict[int, tuple[ImageSubscription, ImageRef]]
) -> list[Artifact]:
    """The freight's artifacts, one per subscription: each named image with the digest the
    registry gives its tag now, discovery's selection for the rest. Raises
    ``PermanentError`` (exit 1) for a tag the registry does not hold or a subscription
    discovery finds nothing for, ``TransientError`` when the registry cannot answer."""
    from bot.core.discover.artifacts import Image
    from bot.loop.discover import discover

    if world.registry is None:
        raise PermanentError("creating freight needs the registry, to check the named tags")
    found: dict[int, Artifact] = {}
    for i, (sub, ref) in named.items():
        try:
            digest = world.registry.digest(ref.repo_url, ref.tag, sub.platform)
        except PermanentError as exc:
            raise PermanentError(
                f"--image {ref.repo_url}:{ref.tag}: {exc}; nothing was created"
            ) from None
        found[i] = Image(repo_url=ref.repo_url, tag=ref.tag, digest=digest)
    if len(found) < len(wh.subscriptions):
        disc = discover(wh, world.registry, charts=world.charts, git=world.git_source)
        for i, result in enumerate(disc.subscriptions):
            if i in found:
                continue
            if result.error is not None or not result.artifacts:
                why = result.error.detail if result.error is not None else "nothing matches"
                raise PermanentError(
                    f"{result.label}: {why}; name its artifact with --image, or fix the "
                    "subscription; nothing was created"
                )
            found[i] = result.artifacts[0]
    return [found[i] for i in range(len(wh.subscriptions))]

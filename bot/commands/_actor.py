"""Who asks for an emergency operation, and whether they may."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import PermanentError

if TYPE_CHECKING:
    from bot.commands._context import RunContext
    from bot.core.model import Config
    from bot.loop.reconcile import World

PERMISSION_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


def _require_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise PermanentError(f"{what} needs a reason: pass --reason '...' (it goes in the ledger)")


def _check_actor(ctx: RunContext, config: Config, world: World, reason: str, what: str) -> str:
    """Who is asking, after checking they may (permission named in the config)."""
    _require_reason(reason, what)
    if world.forge is None:
        raise PermanentError(f"{what} needs the GitHub API to check who asks: set GITHUB_TOKEN")
    actor = ctx.actor or world.forge.whoami()
    need = config.settings.emergency_permission
    have = world.forge.permission(actor)
    if PERMISSION_RANK.get(have, 0) < PERMISSION_RANK.get(need, 4):
        raise PermanentError(
            f"{actor} has {have!r} permission on {ctx.repository}; {what} needs {need!r} "
            "(ProjectConfig spec.emergencyPermission)"
        )
    return actor

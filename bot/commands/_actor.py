"""Who asks for an emergency operation, and whether they may."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import PermanentError, UsageError

if TYPE_CHECKING:
    from bot.commands._context import RunContext
    from bot.core.model import Config
    from bot.loop.reconcile import World


def _require_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise UsageError(f"{what} needs a reason: pass --reason '...' (it goes in the ledger)")


def _check_actor(
    ctx: RunContext,
    config: Config,
    world: World,
    reason: str,
    what: str,
    *,
    ordinary: bool = False,
) -> str:
    """Who is asking, as GitHub says (``bot.core.decide.identity``), after checking they
    may (the permission named in the config; an ``ordinary`` promotion, which skips no
    gate, needs no reason). Raises ``PermanentError`` otherwise."""
    from bot.adapters.github import ACTIONS_BOT
    from bot.core.decide.emergency import allowed
    from bot.core.decide.identity import Refused, operator

    if not ordinary:
        _require_reason(reason, what)
    if world.forge is None:
        raise PermanentError(f"{what} needs the GitHub API to check who asks: set GITHUB_TOKEN")
    owner = world.forge.whoami()
    persons = owner != ACTIONS_BOT
    run = None
    if not persons and ctx.run_id:
        if not ctx.run_id.isdigit():
            raise PermanentError(f"GITHUB_RUN_ID must be a number, not {ctx.run_id!r}")
        run = world.forge.run_actor(int(ctx.run_id))
    who = operator(token_owner=owner, token_is_persons=persons, run=run, event_name=ctx.event)
    if isinstance(who, Refused):
        raise PermanentError(f"{what}: cannot tell who asks: {who.describe()}")
    actor = who.login
    need = config.settings.emergency_permission
    have = world.forge.permission(actor)
    if not allowed(have, need):
        raise PermanentError(
            f"{actor} has {have!r} permission on {ctx.repository}; {what} needs {need!r} "
            "(ProjectConfig spec.emergencyPermission)"
        )
    return actor

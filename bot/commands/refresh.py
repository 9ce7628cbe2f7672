"""``shunter refresh warehouse NAME``: discover one warehouse's freight now."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.commands._context import RunContext
from bot.commands._output import _report
from bot.commands._wiring import _load_config, _world
from bot.errors import PermanentError

if TYPE_CHECKING:
    from bot.core.model import Config


def require_warehouse(ctx: RunContext, config: Config, name: str) -> None:
    """Raise ``PermanentError`` naming the known warehouses when ``name`` is not one:
    a refresh of nothing must fail, on the command line and in the Action alike."""
    if name not in {w.name for w in config.warehouses}:
        known = ", ".join(w.name for w in config.warehouses) or "none"
        raise PermanentError(f"no warehouse {name!r} in {ctx.config_dir} (known: {known})")


def cmd_refresh(ctx: RunContext, out: TextIO, name: str) -> int:
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    require_warehouse(ctx, config, name)
    world = _world(ctx, config, forge=False)
    outcome = reconcile(world, warehouses={name})
    _report(outcome, out, "text", dry_run=False)
    return 0 if outcome.ok else 1

"""``shunter refresh warehouse NAME``: discover one warehouse's freight now."""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._names import _require_warehouse
from bot.commands._output import _exit_code, _report
from bot.commands._wiring import _load_config, _world


def cmd_refresh(ctx: RunContext, out: TextIO, name: str) -> int:
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    _require_warehouse(ctx, config, name)
    world = _world(ctx, config, forge=False)
    outcome = reconcile(world, warehouses={name}, requested=True)
    _report(outcome, out, "text", dry_run=False)
    return _exit_code(outcome)

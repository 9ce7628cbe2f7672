"""``shunter reconcile``: discover, promote, record — the loop the Action runs."""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._output import _exit_code, _publish, _report
from bot.commands._wiring import _load_config, _world


def cmd_reconcile(ctx: RunContext, out: TextIO, *, dry_run: bool, fmt: str) -> int:
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    world = _world(ctx, config, forge=bool(ctx.token) or not dry_run)
    outcome = reconcile(world, dry_run=dry_run)
    _report(outcome, out, fmt, dry_run=dry_run)
    _publish(ctx, outcome, out, config)
    return _exit_code(outcome)

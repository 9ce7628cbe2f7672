"""``shunter run``: what the GitHub Action runs; the operation input picks the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from bot.adapters.actions import one_line
from bot.commands._context import RunContext
from bot.commands._names import _require_warehouse
from bot.commands._output import _exit_code, _publish, _report
from bot.commands._wiring import _load_config, _world
from bot.commands.check_pr import cmd_check_pr
from bot.commands.notify import cmd_notify
from bot.commands.promote import cmd_promote
from bot.commands.stage_flag import cmd_stage_flag
from bot.errors import UsageError

#: The Action's ``operation`` input: each emergency verb of the CLI, under the name the
#: workflow's dispatch form offers (tests/test_workflows.py keeps the three in step).
OPERATIONS = (
    "promote",
    "promote-from",
    "rollback",
    "approve",
    "pause",
    "resume",
    "refresh",
    "release-hold",
)


def cmd_run(ctx: RunContext, out: TextIO) -> int:
    """The Action's entry point: the mode and operation inputs pick the subcommand."""
    env = ctx.env or {}
    mode = (env.get("SHUNTER_MODE") or "run").strip()
    if mode == "notify":
        return cmd_notify(
            ctx, out, env.get("SHUNTER_NOTIFY_REPOSITORY", ""), env.get("SHUNTER_WAREHOUSE", "")
        )
    if mode != "run":
        raise UsageError(f"mode {mode!r} is not one of run, notify")
    op = (env.get("SHUNTER_OPERATION") or "").strip()
    reason = env.get("SHUNTER_REASON", "")
    stage = env.get("SHUNTER_STAGE", "")
    dry_run = env.get("SHUNTER_DRY_RUN", "false").lower() == "true"
    if op and op not in (*OPERATIONS, "check-pr"):
        known = ", ".join((*OPERATIONS, "check-pr"))
        raise UsageError(f"operation {op!r} is not one of {known}")
    if op in ("promote", "rollback"):
        return cmd_promote(ctx, out, env.get("SHUNTER_FREIGHT"), None, stage, reason)
    if op == "promote-from":
        return cmd_promote(ctx, out, None, env.get("SHUNTER_FROM"), stage, reason)
    if op == "approve":
        from bot.commands.approve import cmd_approve

        freight = env.get("SHUNTER_FREIGHT", "").strip()
        if not freight:
            raise UsageError("operation approve needs the freight input (an ID or alias)")
        return cmd_approve(ctx, out, freight, stage, reason)
    if op in ("pause", "resume", "release-hold"):
        return cmd_stage_flag(ctx, out, op, stage, reason)
    if op == "check-pr":
        return cmd_check_pr(ctx, out, env.get("SHUNTER_PULL_REQUEST", ""))
    if op == "refresh":
        from bot.loop.reconcile import reconcile

        config = _load_config(ctx)
        name = env.get("SHUNTER_WAREHOUSE", "")
        _require_warehouse(ctx, config, name)
        world = _world(ctx, config, forge=True)
        outcome = reconcile(world, warehouses={name}, requested=True)
        _report(outcome, out, "text", dry_run=False)
        _publish(ctx, outcome, out, config)
        return _exit_code(outcome)
    return _reconcile_event(ctx, out, dry_run=dry_run)


def _reconcile_event(ctx: RunContext, out: TextIO, *, dry_run: bool) -> int:
    """A reconcile narrowed by the event that started the workflow (if it names one)."""
    from bot.core.discover.events import trigger_for
    from bot.loop.reconcile import reconcile

    env = ctx.env or {}
    config = _load_config(ctx)
    payload: dict[str, Any] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path:
        try:
            loaded = json.loads(Path(path).read_text())
            payload = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            payload = {}  # unreadable: a full reconcile is always safe
    event = env.get("GITHUB_EVENT_NAME", "")
    pull = payload.get("pull_request")
    if event == "pull_request" and isinstance(pull, dict) and "number" in pull:
        # A pull request into main: its gate check, not a reconcile (nothing it does
        # moves freight; the bot's own PRs are judged by the next reconcile).
        return cmd_check_pr(ctx, out, str(pull["number"]))
    trigger = trigger_for(config, event, payload)
    print(one_line(f"trigger: {trigger.reason}"), file=out)
    world = _world(ctx, config, forge=bool(ctx.token) or not dry_run)
    outcome = reconcile(
        world,
        dry_run=dry_run,
        warehouses=None if trigger.warehouses is None else set(trigger.warehouses),
    )
    _report(outcome, out, "text", dry_run=dry_run)
    _publish(ctx, outcome, out, config)
    return _exit_code(outcome)

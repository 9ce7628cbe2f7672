"""``shunter validate``: check the config and print every problem."""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _load_config


def cmd_validate(ctx: RunContext, out: TextIO) -> int:
    """Print every problem (exit 2, from the error handler) or "valid" and the warnings:
    keys that are accepted and do nothing, with why. Warnings do not fail validation."""
    config = _load_config(ctx)
    for note in config.notes:
        print(f"warning: {note.location}: {note.path}: {note.reason}", file=out)
    print(
        f"{ctx.config_dir}: valid ({len(config.warehouses)} warehouse(s), "
        f"{len(config.stages)} stage(s): {' -> '.join(s.name for s in config.stages)})",
        file=out,
    )
    return 0

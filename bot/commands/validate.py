"""``shunter validate``: check the config and print every problem."""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _load_config


def cmd_validate(ctx: RunContext, out: TextIO) -> int:
    config = _load_config(ctx)
    print(
        f"{ctx.config_dir}: valid ({len(config.warehouses)} warehouse(s), "
        f"{len(config.stages)} stage(s): {' -> '.join(s.name for s in config.stages)})",
        file=out,
    )
    return 0

"""``shunter describe freight|stage NAME``: one freight or stage in detail."""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._wiring import _ledger, _load_config
from bot.errors import PermanentError


def cmd_describe(ctx: RunContext, out: TextIO, kind: str, name: str) -> int:
    from bot.render import views

    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    if kind == "stage":
        _require_stage(ctx, config, name)
        out.write(views.describe_stage(name, config, ledger))
        return 0
    rec = ledger.find_freight(_freight_ref(name) or "")
    if rec is None:
        raise PermanentError(f"no freight {name!r}: see `shunter get freight` for IDs and aliases")
    out.write(views.describe_freight(rec, ledger))
    return 0

"""``shunter describe freight|stage NAME``: one freight or stage in detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._wiring import _ledger, _load_config
from bot.errors import PermanentError

if TYPE_CHECKING:
    from bot.core.decide.inconsistency import Inconsistency
    from bot.core.model import Config


def cmd_describe(ctx: RunContext, out: TextIO, kind: str, name: str) -> int:
    from bot.render import views

    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    if kind == "stage":
        _require_stage(ctx, config, name)
        text = views.describe_stage(name, config, ledger)
        from bot.render.terminal import paint_stages, wants_color

        if wants_color(out, ctx.env):
            text = paint_stages(text, config, prefix="Name:          ")
        out.write(text)
        for item in _inconsistencies(ctx, config):
            if item.stage == name:
                out.write(f"Inconsistent:  {item.render()}\n")
        return 0
    rec = ledger.find_freight(_freight_ref(name) or "")
    if rec is None:
        raise PermanentError(f"no freight {name!r}: see `shunter get freight` for IDs and aliases")
    out.write(views.describe_freight(rec, ledger))
    return 0


def _inconsistencies(ctx: RunContext, config: Config) -> list[Inconsistency]:
    """What the last run found in the ledger that GitHub or the registry contradicts."""
    import yaml

    from bot.adapters.git import GitStateStore
    from bot.core.decide.inconsistency import FILE, from_records

    branch = ctx.state_branch or config.settings.state_branch
    files, _head = GitStateStore(ctx.repo_dir, branch=branch).load()
    try:
        return from_records(yaml.safe_load(files.get(FILE) or "[]"))
    except yaml.YAMLError:
        return []

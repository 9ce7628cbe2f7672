"""``shunter describe freight|stage NAME``: one freight or stage in detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.commands._context import RunContext
from bot.commands._names import _freight_ref, _require_stage
from bot.commands._wiring import _ledger, _load_config
from bot.errors import PermanentError

if TYPE_CHECKING:
    from bot.core.decide.inconsistency import Inconsistency
    from bot.core.decide.outcomes import Gate
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
        reports = _reports(ctx, config)
        for gate in _stuck(reports).get(name, ()):
            out.write(f"Stuck:         {gate.render()}\n")
        for item in _inconsistencies(reports):
            if item.stage == name:
                out.write(f"Inconsistent:  {item.render()}\n")
        return 0
    rec = ledger.find_freight(_freight_ref(name) or "")
    if rec is None:
        raise PermanentError(f"no freight {name!r}: see `shunter get freight` for IDs and aliases")
    out.write(views.describe_freight(rec, ledger))
    return 0


def _reports(ctx: RunContext, config: Config) -> dict[str, str]:
    """The state branch's files, where the last run left its reports beside the ledger."""
    from bot.adapters.git import GitStateStore

    branch = ctx.state_branch or config.settings.state_branch
    files, _head = GitStateStore(ctx.repo_dir, branch=branch).load()
    return files


def _read(files: dict[str, str], name: str) -> object:
    import yaml

    try:
        return yaml.safe_load(files.get(name) or "[]")
    except yaml.YAMLError:
        return []  # a report, not state: an unreadable one says nothing


def _inconsistencies(files: dict[str, str]) -> list[Inconsistency]:
    """What the last run found in the ledger that GitHub or the registry contradicts."""
    from bot.core.decide.inconsistency import FILE, from_records

    return from_records(_read(files, FILE))


def _stuck(files: dict[str, str]) -> dict[str, tuple[Gate, ...]]:
    """The stages the last run found held by main's rules, with the rules that hold."""
    from bot.core.decide.stuck import FILE, from_records

    return from_records(_read(files, FILE))

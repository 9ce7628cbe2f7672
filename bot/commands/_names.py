"""Names typed on the command line, checked against the config: a wrong one is a usage error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import UsageError

if TYPE_CHECKING:
    from bot.commands._context import RunContext
    from bot.core.model import Config


def _require_stage(ctx: RunContext, config: Config, name: str) -> None:
    """Raise ``UsageError`` (exit 2) unless the config defines stage ``name``."""
    if name not in {s.name for s in config.stages}:
        known = ", ".join(s.name for s in config.stages)
        raise UsageError(f"no stage {name!r} in {ctx.config_dir} (stages: {known})")


def _require_warehouse(ctx: RunContext, config: Config, name: str) -> None:
    """Raise ``UsageError`` (exit 2) unless the config defines warehouse ``name``."""
    if name not in {w.name for w in config.warehouses}:
        known = ", ".join(w.name for w in config.warehouses)
        raise UsageError(f"no warehouse {name!r} in {ctx.config_dir} (warehouses: {known})")


def _freight_ref(ref: str | None) -> str | None:
    """A freight reference as typed: ``freight/<id>`` (Kargo's resource form) means ``<id>``."""
    if ref is None:
        return None
    ref = ref.strip()
    return ref.removeprefix("freight/").removeprefix("freights/")


def _one_of(what: str, positional: str | None, flag: str | None) -> str | None:
    """The one value given for ``what``, written as an argument or as a flag (not both apart)."""
    if positional and flag and _freight_ref(positional) != _freight_ref(flag):
        raise UsageError(f"{what} is given twice ({positional!r} and {flag!r}); give it once")
    return positional or flag

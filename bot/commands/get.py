"""``shunter get KIND``: list stages, freight, promotions or warehouses."""

from __future__ import annotations

import json
from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _archived_promotions, _ledger, _load_config


def cmd_get(ctx: RunContext, out: TextIO, kind: str, fmt: str, *, every: bool = False) -> int:
    """Print the ``kind`` records; ``every`` adds the archived promotion history (read
    from ``archive/`` on the state branch, which reconcile never reads)."""
    from bot.render import views

    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    if every and kind == "promotions":
        ledger.promotions = [*_archived_promotions(ctx, config), *ledger.promotions]
    rows = views.rows(kind, config, ledger)
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "yaml":
        import yaml

        out.write(yaml.safe_dump(rows, sort_keys=False))
    else:
        out.write(views.table(kind, rows, wide=fmt == "wide"))
    return 0

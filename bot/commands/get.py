"""``shunter get KIND``: list stages, freight, promotions or warehouses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

from bot.commands._context import RunContext
from bot.commands._names import _require_stage, _require_warehouse
from bot.commands._wiring import _archived_promotions, _ledger, _load_config
from bot.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from bot.core.ledger import Ledger
    from bot.core.model import Config


def cmd_get(
    ctx: RunContext,
    out: TextIO,
    kind: str,
    fmt: str,
    *,
    every: bool = False,
    stage: str | None = None,
    warehouse: str | None = None,
) -> int:
    """Print the ledger's records of ``kind``.

    ``every`` adds the archived promotion history (read from ``archive/`` on the state
    branch, which reconcile never reads). Freight may be narrowed: ``stage`` to the
    freight the stage runs or may be promoted to (from its warehouse directly, verified
    upstream, or approved for it), as the planner sees it; ``warehouse`` to the freight
    that warehouse made (Kargo's ``--origin``).
    """
    from bot.render import views

    if (stage or warehouse) and kind != "freight":
        raise UsageError(f"--stage and --warehouse narrow `get freight`, not `get {kind}`")
    config = _load_config(ctx)
    if stage:
        _require_stage(ctx, config, stage)
    if warehouse:
        _require_warehouse(ctx, config, warehouse)
    ledger = _ledger(ctx, config)
    if every and kind == "promotions":
        ledger.promotions = [*_archived_promotions(ctx, config), *ledger.promotions]
    rows = views.rows(kind, config, ledger)
    if stage:
        wanted = _stage_freight(config, ledger, stage, _now(ctx))
        rows = [r for r in rows if r["name"] in wanted]
    if warehouse:
        rows = [r for r in rows if r["origin"]["name"] == warehouse]
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "yaml":
        import yaml

        out.write(yaml.safe_dump(rows, sort_keys=False))
    else:
        text = views.table(kind, rows, wide=fmt == "wide")
        if kind == "stages":
            from bot.render.terminal import paint_stages, wants_color

            if wants_color(out, ctx.env):
                text = paint_stages(text, config)
        out.write(text)
    return 0


def _now(ctx: RunContext) -> datetime:
    from datetime import UTC, datetime

    return ctx.now or datetime.now(UTC)


def _stage_freight(config: Config, ledger: Ledger, stage: str, now: datetime) -> set[str]:
    """The names of the freight ``stage`` runs, is being promoted to, and may take
    (verified upstream; an approved freight is the one its open promotion proposes:
    a reconcile checks GitHub's attestation of it, this read does not ask GitHub)."""
    # The planner's own rule, so `get` can never disagree with what a reconcile would do.
    from bot.core.decide.selection import available_freight

    names = set(available_freight(config, config.stage(stage), ledger, now=now))
    current = ledger.stages.get(stage)
    if current is not None and current.current_freight:
        names.add(current.current_freight)
    if current is not None and current.promotion is not None:
        names.add(current.promotion.freight)
    return names

"""``shunter dashboard``: the pipeline as a static site, built from the ledger.

One self-contained ``index.html`` (inline CSS and a little inline JavaScript; no CDN, no
network, no other file), so it can be published on GitHub Pages or opened from disk:

* the pipeline: a card per stage in pipeline order with its colour, icon, description,
  current freight, gate state and what it waits for;
* the freight timeline: each retained freight a column, each stage a row, a cell where
  the freight reached the stage and when (as Kargo's UI draws it);
* the promotion history with links to the PRs, and the emergency operations.

Everything is readable without JavaScript (the script only highlights a freight across
the page); cards and links are reachable by keyboard; text on a stage colour is black or
white by WCAG contrast (``bot.core.colors``). What a stage waits for comes from the
ledger alone (a pause, a hold, an open promotion, a verification), as typed states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import jinja2

from bot.core.colors import text_on
from bot.core.ledger import Ledger
from bot.core.model import Config
from bot.core.pipeline import StageCard, pipeline, when_text

NEUTRAL = "#E0E0E0"  # a stage without a colour


class GateState(Enum):
    """Where a stage's gate stands, from the ledger alone."""

    PAUSED = "paused"
    HELD = "held"
    PROMOTING = "promotion open"
    VERIFYING = "verifying"
    VERIFICATION_FAILED = "verification failed"
    MANUAL = "manual"
    NO_FREIGHT = "no freight yet"
    OPEN = "open"


@dataclass(frozen=True)
class Card:
    stage: StageCard
    background: str
    foreground: str
    gate: GateState
    waits: str
    pr: int | None
    pr_url: str | None


@dataclass(frozen=True)
class Cell:
    reached: datetime | None  # first time the freight landed in the stage
    current: bool


def _gate(config: Config, ledger: Ledger, card: StageCard) -> tuple[GateState, str]:
    stage = config.stage(card.name)
    rec = ledger.stages.get(card.name)
    if stage.promotion_policy.paused or (rec and rec.pause):
        by = f" by {rec.pause.by}: {rec.pause.reason}" if rec and rec.pause else " (config)"
        return GateState.PAUSED, "paused" + by
    if rec and rec.hold:
        return (
            GateState.HELD,
            f"auto-promotion held since {when_text(rec.hold.at)}: {rec.hold.reason}",
        )
    if rec and rec.promotion:
        promo = rec.promotion
        alias = (
            ledger.freight[promo.freight].freight.alias
            if promo.freight in ledger.freight
            else promo.freight[:7]
        )
        where = f" as PR #{promo.pr}" if promo.pr else ""
        return (
            GateState.PROMOTING,
            f"promotion of {alias}{where} ({promo.kind}) since {when_text(promo.started_at)}",
        )
    if rec and rec.verification and rec.verification.result is None:
        return GateState.VERIFYING, "verification of what it runs is under way"
    if rec and rec.verification and rec.verification.result == "failed":
        return GateState.VERIFICATION_FAILED, "verification of what it runs failed"
    if not stage.promotion_policy.auto_promotion_enabled:
        return GateState.MANUAL, "a person to promote it (shunter promote) or approve it"
    if not card.alias:
        return GateState.NO_FREIGHT, "freight from upstream"
    return GateState.OPEN, "nothing: it promotes new freight as it arrives"


def _reached(ledger: Ledger) -> dict[tuple[str, str], datetime]:
    """(stage, freight) -> when the freight first landed in the stage, from the history."""
    out: dict[tuple[str, str], datetime] = {}
    for p in ledger.promotions:
        if p.status == "Succeeded":
            key = (p.stage, p.freight)
            out[key] = min(out.get(key, p.at), p.at)
    return out


def render_dashboard(config: Config, ledger: Ledger, *, generated: datetime) -> str:
    """The dashboard's ``index.html``: one self-contained page (see the module docstring)."""
    view = pipeline(config, ledger, [])
    cards = []
    for s in view.stages:
        gate, waits = _gate(config, ledger, s)
        rec = ledger.stages.get(s.name)
        promo = rec.promotion if rec else None
        bg = s.color or NEUTRAL
        cards.append(
            Card(
                stage=s,
                background=bg,
                foreground=text_on(bg),
                gate=gate,
                waits=waits,
                pr=promo.pr if promo else None,
                pr_url=promo.url if promo else None,
            )
        )
    reached = _reached(ledger)
    current = {(name, r.current_freight) for name, r in ledger.stages.items()}
    columns = sorted(view.freight, key=lambda f: f.discovered_at or generated)
    grid = {
        (s.name, f.name): Cell(reached.get((s.name, f.name)), (s.name, f.name) in current)
        for s in view.stages
        for f in columns
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when_text
    return env.get_template("dashboard.html.j2").render(
        cards=cards,
        warehouses=view.warehouses,
        freight=columns,
        grid=grid,
        promotions=list(reversed(ledger.promotions)),
        operations=list(reversed(ledger.operations)),
        generated=generated.astimezone(UTC),
    )

"""A promotion left open never moves a stage back once ``main`` runs newer freight.

Another run (or a person's PR) can land newer freight while a promotion of older freight
is still open: its PR was built earlier, its gates may all hold. Merging it would take
the stage back. Only an explicit rollback may do that.
"""

from __future__ import annotations

import pytest

from bot.core.decide.actions import ClosePromotionPR, MergePromotionPR, Plan
from bot.core.decide.observations import PromotionPR
from bot.core.decide.planner import plan
from bot.core.discover.freight import Freight
from bot.core.ledger import Ledger, PromotionKind
from bot.core.promote import promotion as promo
from sandbox.planning import CONFIG, T0, found, obs, pr_for

DEV = CONFIG.stage("dev")
KUSTOMIZATION = 'images:\n- name: ghcr.io/alkon/flask-app\n  newTag: "1.8.0"\n'


def main_running(led: Ledger, tag: str) -> dict[str, str | None]:
    """dev's manifests on main once a promotion of the freight tagged ``tag`` landed."""
    (freight,) = [r.freight for r in led.freight.values() if _tag(r.freight) == tag]
    files: dict[str, str | None] = {
        path: KUSTOMIZATION for u in DEV.git_repo_updates for path in promo.files_to_read(u)
    }
    for update in DEV.git_repo_updates:
        files.update(promo.render_edits(DEV, update, freight, files))
    return files


def _tag(f: Freight) -> str:
    return f.images[0].tag


def with_newer_on_main(kind: PromotionKind) -> tuple[Plan, int, int]:
    """dev's promotion of 1.8.4 is open as PR 7 (exactly the bot's edit, every gate
    holding); meanwhile 1.8.5 was discovered and landed on main through another PR."""
    first = plan(CONFIG, Ledger(), obs(discoveries=found("1.8.4")), T0, owner="alkon")
    pr = pr_for(first, "dev", 7)
    led = first.ledger
    rec = led.stages["dev"]
    assert rec.promotion is not None
    rec.promotion.kind, rec.promotion.pr = kind, 7
    # 1.8.5 becomes known in the same look that sees it on main.
    known = plan(CONFIG, led, obs(discoveries=found("1.8.5"), forge=False), T0, owner="alkon")
    led = known.ledger
    led.stages["dev"].promotion = rec.promotion
    files = main_running(led, "1.8.5")
    records = len(led.promotions)
    later = plan(
        CONFIG,
        led,
        obs(prs={"dev": PromotionPR(pr)}, main_files={"dev": files}, granted=frozenset({"dev"})),
        T0,
        owner="alkon",
    )
    return later, pr.number, records


@pytest.mark.parametrize("kind", ["auto", "emergency"])
def test_an_open_promotion_of_older_freight_is_closed_when_main_runs_newer(
    kind: PromotionKind,
) -> None:
    p, number, records = with_newer_on_main(kind)
    assert not [a for a in p.actions if isinstance(a, MergePromotionPR)]
    assert [a.pr for a in p.actions if isinstance(a, ClosePromotionPR)] == [number]
    dev = p.ledger.stages["dev"]
    assert dev.promotion is None
    assert _tag(p.ledger.freight[dev.current_freight or ""].freight) == "1.8.5"
    (record,) = p.ledger.promotions[records:]  # the audit log says so
    assert (record.pr, record.status, record.kind) == (number, "Superseded", kind)


def test_an_open_rollback_still_goes_back() -> None:
    p, number, _ = with_newer_on_main("rollback")
    assert [a.pr for a in p.actions if isinstance(a, MergePromotionPR)] == [number]
    assert not [a for a in p.actions if isinstance(a, ClosePromotionPR)]

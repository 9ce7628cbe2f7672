"""A merged promotion PR is recorded as the freight its merged change exactly is.

Overlapping runs rewrite an open promotion PR's body (its marker) for newer freight. One
can do so just after another run merged the PR's head for the freight that run checked:
the body then names freight that never ran. The loop checks a merged PR against the
marker's freight, then the ledger's open promotion (``PrCheck.freight`` says which one
matched); the planner records that one, never the body's word alone.
"""

from __future__ import annotations

from bot.core.decide.observations import PromotionPR
from bot.core.decide.planner import plan
from bot.core.decide.pulls import PullRequest
from bot.core.ledger import Ledger
from bot.core.promote import promotion as promo
from bot.core.promote.exact import EditCheck, Origin, PrCheck
from sandbox.planning import CONFIG, T0, found, merged, obs, pr_for


def merged_with_a_rewritten_body() -> tuple[Ledger, PullRequest, str]:
    """dev's promotion of 1.8.4 is open as PR 7; another run (which knows 1.8.5) rewrote
    PR 7's body for 1.8.5; the head, exactly 1.8.4's edit, was merged."""
    first = plan(CONFIG, Ledger(), obs(discoveries=found("1.8.4")), T0, owner="alkon")
    pr = pr_for(first, "dev", 7)
    led = first.ledger
    rec = led.stages["dev"]
    assert rec.promotion is not None
    rec.promotion.pr = 7
    old = rec.promotion.freight
    other = plan(
        CONFIG, led, obs(discoveries=found("1.8.5"), prs={"dev": PromotionPR(pr)}), T0,
        owner="alkon",
    )  # fmt: skip
    rewritten = pr_for(other, "dev", 7)
    new = other.ledger.stages["dev"].promotion
    assert new is not None and new.freight != old
    led.freight.update(other.ledger.freight)  # this run knows 1.8.5 too
    return led, merged(rewritten), old


def landed(led: Ledger, pr: int) -> list[tuple[str, str]]:
    return [(r.freight, r.status) for r in led.promotions if r.pr == pr]


def test_the_open_promotion_records_the_freight_its_merge_ran() -> None:
    led, pr, old = merged_with_a_rewritten_body()
    check = PrCheck(Origin.OURS, EditCheck(), freight=old)  # the loop found 1.8.4's edit
    p = plan(CONFIG, led, obs(prs={"dev": PromotionPR(pr, check=check)}), T0, owner="alkon")
    assert landed(p.ledger, 7) == [(old, "Succeeded")]
    assert p.ledger.stages["dev"].current_freight == old


def test_a_merge_another_run_left_unrecorded_records_what_it_ran() -> None:
    led, pr, old = merged_with_a_rewritten_body()
    led.stages["dev"].promotion = None  # this run's ledger never saw PR 7 open
    check = PrCheck(Origin.OURS, EditCheck(), freight=old)
    p = plan(CONFIG, led, obs(recent={"dev": (pr,)}, recent_checks={7: check}), T0, owner="alkon")
    assert landed(p.ledger, 7) == [(old, "Succeeded")]
    assert p.ledger.stages["dev"].current_freight == old


def test_a_merge_that_is_no_candidates_edit_stays_foreign() -> None:
    led, pr, old = merged_with_a_rewritten_body()
    check = PrCheck(Origin.OURS, EditCheck(different=("env/dev/kustomization.yaml",)), freight=old)
    p = plan(CONFIG, led, obs(prs={"dev": PromotionPR(pr, check=check)}), T0, owner="alkon")
    assert [s for _, s in landed(p.ledger, 7)] == ["MergedWithForeignChanges"]
    assert p.ledger.stages["dev"].current_freight is None


def test_a_merge_commit_names_freight_ids_each_once() -> None:
    a, b = "a" * 40, "0123456789abcdef0123456789abcdef01234567"
    text = f"shunter: promote 1.9.5 to dev\n\nFreight: {a} (calm-lynx)\nAlso {b}, {a}; {'c' * 41}\n"
    assert promo.freight_ids_in(text) == (a, b)

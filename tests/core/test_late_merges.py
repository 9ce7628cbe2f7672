"""Merged promotion PRs no run recorded: recorded once, never twice, even when archived.

Every run reads each stage's latest PRs (``Observations.recent``) and records the merged
ones the ledger does not know. These tests drive the pure planner from the flask-app
pipeline of ``sandbox.planning`` and judge by the ledger it returns.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.decide.observations import PromotionPR
from bot.core.decide.outcomes import Subject
from bot.core.decide.planner import plan
from bot.core.decide.pulls import PullRequest
from bot.core.ledger import Ledger, archive_promotions, from_files, to_files
from bot.core.promote import promotion as promo
from sandbox.planning import CONFIG, T0, found, merged, obs, pr_for


def succeeded(led: Ledger, stage: str) -> list[int | None]:
    return [r.pr for r in led.promotions if r.stage == stage and r.status == "Succeeded"]


def dev_merged(tags: tuple[str, ...]) -> tuple[Ledger, list[PullRequest]]:
    """A ledger where dev merged one PR per tag, in order, and the PRs as GitHub has them."""
    led, prs = Ledger(), []
    for n, tag in enumerate(tags, start=1):
        at = T0 + timedelta(hours=n)
        p = plan(CONFIG, led, obs(discoveries=found(tag)), at, owner="alkon")
        pr = merged(pr_for(p, "dev", n, created_at=at), at=at)
        led = plan(CONFIG, p.ledger, obs(prs={"dev": PromotionPR(pr)}), at).ledger
        prs.append(pr)
    return led, prs


def test_a_merge_whose_record_was_archived_is_not_recorded_again() -> None:
    led, prs = dev_merged(("1.8.4", "1.8.5", "1.8.6", "1.8.7"))
    assert succeeded(led, "dev") == [1, 2, 3, 4]
    moved = archive_promotions(led, keep=1)
    assert moved.moved["dev"] == 3
    led = from_files(to_files(led))  # as the next run reads it back from the state branch
    assert succeeded(led, "dev") == [4]

    later = T0 + timedelta(days=1)
    p = plan(CONFIG, led, obs(recent={"dev": tuple(reversed(prs))}), later, owner="alkon")

    assert succeeded(p.ledger, "dev") == [4]
    assert [c for c in p.changes if c.subject == Subject.stage("dev")] == []
    assert p.ledger.stages["dev"].current_freight == led.stages["dev"].current_freight


def test_a_merge_of_freight_only_a_crashed_run_knew_is_recorded_from_its_marker() -> None:
    # The run that discovered 1.9.0 opened and merged its PR, then died: the ledger never
    # heard of the freight, and discovery now finds 1.9.1 only.
    crashed = plan(CONFIG, Ledger(), obs(discoveries=found("1.9.0")), T0, owner="alkon")
    (lost,) = crashed.ledger.freight
    pr = merged(pr_for(crashed, "dev", 7), at=T0)
    led = Ledger()

    later = T0 + timedelta(minutes=5)
    p = plan(CONFIG, led, obs(recent={"dev": (pr,)}), later, owner="alkon")

    assert lost in p.ledger.freight
    assert p.ledger.freight[lost].freight.images[0].tag == "1.9.0"
    assert succeeded(p.ledger, "dev") == [7]
    assert p.ledger.stages["dev"].current_freight == lost
    # Read back, and seen again by the next run: still one record.
    again = plan(CONFIG, from_files(to_files(p.ledger)), obs(recent={"dev": (pr,)}), later)
    assert succeeded(again.ledger, "dev") == [7]


def test_a_marker_whose_artifacts_do_not_make_its_freight_is_not_trusted() -> None:
    crashed = plan(CONFIG, Ledger(), obs(discoveries=found("1.9.0")), T0, owner="alkon")
    pr = merged(pr_for(crashed, "dev", 7), at=T0)
    marker = promo.parse_marker(pr.body)
    assert marker is not None and marker.artifacts is not None
    forged = replace(marker.artifacts, images=(replace(marker.artifacts.images[0], tag="9.9.9"),))
    body = pr.body.replace(marker.render(), replace(marker, artifacts=forged).render())
    assert promo.parse_marker(body) == replace(marker, artifacts=None)

    p = plan(CONFIG, Ledger(), obs(recent={"dev": (replace(pr, body=body),)}), T0, owner="alkon")

    assert p.ledger.freight == {}
    assert succeeded(p.ledger, "dev") == []


def test_freight_from_a_marker_in_a_pr_someone_else_opened_is_not_trusted() -> None:
    # A writer pushes `shunter/dev` and opens a PR whose marker carries freight that hashes
    # to its ID but never came from the registry: no run may add it or record it.
    crashed = plan(CONFIG, Ledger(), obs(discoveries=found("1.9.0")), T0, owner="alkon")
    pr = replace(merged(pr_for(crashed, "dev", 7), at=T0), author="mallory")

    p = plan(CONFIG, Ledger(), obs(recent={"dev": (pr,)}), T0, owner="alkon")

    assert p.ledger.freight == {}
    assert succeeded(p.ledger, "dev") == []

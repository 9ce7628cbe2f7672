"""The planner, step by step through the seed's flask-app pipeline, with an injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.core.decide.actions import (
    MergePromotionPR,
    OpenPromotionPR,
    Plan,
    PublishCheck,
    UpdatePromotionPR,
)
from bot.core.decide.gates import fmt_duration
from bot.core.decide.observations import Discovery, PromotionPR, SubscriptionResult
from bot.core.decide.outcomes import (
    ChangeKind,
    DecisionKind,
    Failure,
    FailureKind,
    GateKind,
    Subject,
    System,
)
from bot.core.decide.planner import plan
from bot.core.decide.pulls import PullRequest, Review
from bot.core.ledger import Ledger, PromotionRecord, Request
from bot.core.model import Config, PromotionPolicy, Retention
from sandbox.planning import CONFIG, REPO, T0, found, kinds, merged, obs, pr_for, said


def run(led: Ledger, now: datetime, **kw: object) -> Plan:
    return plan(CONFIG, led, obs(**kw), now, owner="alkon")


def test_new_freight_goes_to_dev_and_nowhere_else() -> None:
    p = run(Ledger(), T0, discoveries=found("1.8.4"))
    assert len(p.ledger.freight) == 1
    assert kinds(p) == [("OpenPromotionPR", "dev")]
    assert [(c.subject, c.kind) for c in p.changes] == [
        (Subject.warehouse("flask-app"), ChangeKind.FREIGHT_DISCOVERED),
        (Subject.stage("dev"), ChangeKind.PROMOTION_STARTED),
    ]
    staging = said(p, "staging")
    assert (staging.kind, staging.blocked) == (DecisionKind.NO_FREIGHT, True)
    assert staging.render() == "no freight available yet"


def test_input_ledger_is_not_modified() -> None:
    led = Ledger()
    run(led, T0, discoveries=found("1.8.4"))
    assert led == Ledger()


def test_walk_through_the_pipeline() -> None:
    p1 = run(Ledger(), T0, discoveries=found("1.8.4"))
    dev_pr = pr_for(p1, "dev", 1)
    # GitHub shows the open PR: dev (auto, no approvals) merges at once.
    p2 = run(p1.ledger, T0, prs={"dev": PromotionPR(dev_pr)})
    # The gate check goes green on the head first, so a repository can require it.
    assert kinds(p2) == [("PublishCheck", "dev"), ("MergePromotionPR", "dev")]
    check, merge = p2.actions
    assert isinstance(check, PublishCheck) and check.sha == dev_pr.head_sha
    assert (check.name, check.conclusion) == ("shunter/gate", "success")
    assert isinstance(merge, MergePromotionPR) and merge.head_sha == dev_pr.head_sha
    # The merge is observed: dev runs 1.8.4, it is verified there, staging starts its soak.
    p3 = run(p2.ledger, T0 + timedelta(minutes=1), prs={"dev": PromotionPR(merged(dev_pr, at=T0))})
    fid = next(iter(p3.ledger.freight))
    assert p3.ledger.stages["dev"].current_freight == fid
    assert "dev" in p3.ledger.freight[fid].verified_in
    assert p3.ledger.promotions[-1].status == "Succeeded"
    assert p3.actions == []
    staging = said(p3, "staging")
    assert staging.kind is DecisionKind.SOAKING
    assert [g.kind for g in staging.gates if g.blocks] == [GateKind.DELAY]
    assert staging.render() == "1.8.4 waits 29m more for autoPromotionDelay 30m"
    assert staging.blocked
    # After the delay staging opens; prod still has nothing verified upstream.
    p4 = run(p3.ledger, T0 + timedelta(minutes=30))
    assert kinds(p4) == [("OpenPromotionPR", "staging")]
    st_pr = pr_for(p4, "staging", 2)
    p5 = run(p4.ledger, T0 + timedelta(minutes=31), prs={"staging": PromotionPR(st_pr)})
    p6 = run(p5.ledger, T0 + timedelta(minutes=31), prs={"staging": PromotionPR(merged(st_pr))})
    # prod is manual with approvals: the PR opens at once and waits.
    assert kinds(p6) == [("OpenPromotionPR", "prod")]
    opened = p6.actions[0]
    assert isinstance(opened, OpenPromotionPR)
    assert opened.reviewers == ("tech-lead",) and opened.team_reviewers == ("platform-team",)
    prod_pr = pr_for(p6, "prod", 3)
    one = (Review(1, "alice", "APPROVED", prod_pr.head_sha, T0),)
    p7 = run(p6.ledger, T0 + timedelta(hours=1), prs={"prod": PromotionPR(prod_pr, one)})
    assert [k for k in kinds(p7) if k[0] == "MergePromotionPR"] == []
    prod = said(p7, "prod")
    assert prod.kind is DecisionKind.WAITING and prod.blocked
    assert [g.kind for g in prod.gates if g.blocks] == [GateKind.APPROVALS]
    assert "approvals: 1 of 2 (alice)" in prod.render()
    # The checklist in the PR body is kept current.
    (update,) = [a for a in p7.actions if isinstance(a, UpdatePromotionPR)]
    assert "- [ ] approvals: 1 of 2 (alice)" in update.body
    prod_pr = replace(prod_pr, title=update.title, body=update.body)
    two = (*one, Review(2, "tech-lead", "APPROVED", prod_pr.head_sha, T0))
    p8 = run(p7.ledger, T0 + timedelta(hours=2), prs={"prod": PromotionPR(prod_pr, two)})
    assert ("MergePromotionPR", "prod") in kinds(p8)


def _with_open_pr(stage: str, tag: str = "1.8.4") -> tuple[Plan, PullRequest]:
    """A ledger where ``stage`` has its promotion PR open (earlier stages done)."""
    p = run(Ledger(), T0, discoveries=found(tag))
    led = p.ledger
    fid = next(iter(led.freight))
    for s in ("dev", "staging", "prod"):
        if s == stage:
            break
        led.stage(s).current_freight = fid
        led.stage(s).promotion = None
        led.freight[fid].verified_in[s] = T0 - timedelta(hours=2)
    p = run(led, T0)
    return p, pr_for(p, stage, 9)


def test_changes_requested_by_eligible_reviewer_blocks() -> None:
    p, pr = _with_open_pr("prod")
    reviews = (
        Review(1, "alice", "APPROVED", pr.head_sha, T0),
        Review(2, "tech-lead", "APPROVED", pr.head_sha, T0),
        Review(3, "bob", "CHANGES_REQUESTED", pr.head_sha, T0),
    )
    p2 = run(p.ledger, T0, prs={"prod": PromotionPR(pr, reviews)})
    assert not [a for a in p2.actions if isinstance(a, MergePromotionPR)]


def test_approvals_timeout_closes_and_rejects() -> None:
    cfg_prod = replace(
        CONFIG.stages[2],
        promotion_policy=replace(
            CONFIG.stages[2].promotion_policy,
            approvals=replace(
                CONFIG.stages[2].promotion_policy.approvals,  # type: ignore[type-var]
                timeout=timedelta(hours=24),
            ),
        ),
    )
    cfg = replace(CONFIG, stages=(*CONFIG.stages[:2], cfg_prod))
    p, pr = _with_open_pr("prod")
    p2 = plan(
        cfg, p.ledger, obs(prs={"prod": PromotionPR(pr)}), T0 + timedelta(hours=25), owner="alkon"
    )
    assert kinds(p2) == [("ClosePromotionPR", "prod")]
    assert p2.ledger.promotions[-1].status == "Expired"
    # Not proposed again for the same freight.
    closed = replace(pr, state="closed")
    p3 = plan(
        cfg,
        p2.ledger,
        obs(prs={"prod": PromotionPR(closed)}),
        T0 + timedelta(hours=26),
        owner="alkon",
    )
    assert p3.actions == []


def test_pr_closed_by_a_person_rejects_that_freight_for_the_stage() -> None:
    p, pr = _with_open_pr("dev")
    p2 = run(p.ledger, T0, prs={"dev": PromotionPR(replace(pr, state="closed"))})
    assert p2.actions == []
    assert p2.ledger.promotions[-1].status == "Rejected"
    assert p2.ledger.stages["dev"].promotion is None


def test_person_merging_a_manual_pr_is_recorded() -> None:
    p, pr = _with_open_pr("prod")
    p2 = run(p.ledger, T0, prs={"prod": PromotionPR(merged(pr, by="carol"))})
    rec = p2.ledger.promotions[-1]
    assert (rec.stage, rec.status, rec.by, rec.pr) == ("prod", "Succeeded", "carol", 9)


def test_newer_freight_rewrites_the_open_pr() -> None:
    p, pr = _with_open_pr("prod")
    p2 = run(
        p.ledger,
        T0 + timedelta(minutes=5),
        discoveries=found("1.8.5"),
        prs={"prod": PromotionPR(pr)},
    )
    # 1.8.5 goes to dev; prod's PR stays on 1.8.4 until 1.8.5 is verified in staging.
    assert ("OpenPromotionPR", "dev") in kinds(p2)
    led = p2.ledger
    new = next(n for n, r in led.freight.items() if r.freight.images[0].tag == "1.8.5")
    led.freight[new].verified_in["staging"] = T0 + timedelta(minutes=6)
    p3 = run(led, T0 + timedelta(minutes=7), prs={"prod": PromotionPR(pr)})
    (rewrite,) = [a for a in p3.actions if isinstance(a, OpenPromotionPR) and a.stage == "prod"]
    assert rewrite.pr == 9 and rewrite.freight.name == new
    assert p3.ledger.promotions[-1].status == "Superseded"


def test_paused_stage_does_nothing_and_says_why() -> None:
    paused = PromotionPolicy(auto_promotion_enabled=True, paused=True)
    dev = replace(CONFIG.stages[0], promotion_policy=paused)
    cfg = replace(CONFIG, stages=(dev, *CONFIG.stages[1:]))
    p = plan(cfg, Ledger(), obs(discoveries=found("1.8.4")), T0)
    assert p.actions == []
    dev_said = said(p, "dev")
    assert (dev_said.kind, dev_said.blocked) == (DecisionKind.PAUSED, True)
    assert [g.kind for g in dev_said.gates] == [GateKind.PAUSED]
    assert "paused" in dev_said.render()


def test_lost_ledger_write_adopts_the_open_pr_instead_of_opening_another() -> None:
    p, pr = _with_open_pr("dev")
    led = p.ledger
    led.stages["dev"].promotion = None  # as if the run that opened it never wrote
    p2 = run(led, T0, prs={"dev": PromotionPR(pr)})
    assert kinds(p2) == [("PublishCheck", "dev"), ("MergePromotionPR", "dev")]


def test_emergency_request_skips_delay_and_approvals() -> None:
    p, _ = _with_open_pr("dev")
    led = p.ledger
    fid = next(iter(led.freight))
    led.stages["prod"] = led.stage("prod")
    led.stages["prod"].request = Request(fid, "emergency", "carol", "hotfix", T0)
    p2 = run(led, T0)
    assert ("OpenPromotionPR", "prod") in kinds(p2)
    pr = pr_for(p2, "prod", 11)
    # The same run's next round: the request was received by this run.
    p3 = run(p2.ledger, T0, prs={"prod": PromotionPR(pr)}, granted=frozenset({"prod"}))
    assert ("MergePromotionPR", "prod") in kinds(p3)
    # A later run reads an emergency promotion from the ledger: it skips no gate.
    later = run(p2.ledger, T0, prs={"prod": PromotionPR(pr)})
    assert ("MergePromotionPR", "prod") not in kinds(later)


def test_discovery_failure_keeps_freight_and_is_reported() -> None:
    p = run(Ledger(), T0, discoveries=found("1.8.4"))
    rate_limited = Failure(FailureKind.TRANSIENT, System.REGISTRY, "429")
    seen = Discovery("flask-app", (SubscriptionResult(f"image {REPO}", error=rate_limited),))
    assert seen.error == Failure(FailureKind.TRANSIENT, System.REGISTRY, f"image {REPO}: 429")
    p2 = run(p.ledger, T0, discoveries={"flask-app": seen})
    assert p2.ledger.freight == p.ledger.freight
    assert p2.ledger.warehouses["flask-app"].error == f"image {REPO}: 429"
    (d,) = [d for d in p2.decisions if d.subject == Subject.warehouse("flask-app")]
    assert (d.kind, d.blocked) == (DecisionKind.DISCOVERY_FAILED, True)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=1, minutes=5), "1h5m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(days=2), "2d"),
    ],
)
def test_fmt_duration(delta: timedelta, text: str) -> None:
    assert fmt_duration(delta) == text


def test_nothing_new_plans_nothing() -> None:
    p = run(Ledger(), T0, discoveries=found("1.8.4"))
    pr = pr_for(p, "dev", 1)
    p2 = run(p.ledger, T0, prs={"dev": PromotionPR(pr)})
    p3 = run(p2.ledger, T0, prs={"dev": PromotionPR(merged(pr))})
    again = run(p3.ledger, T0 + timedelta(minutes=1), discoveries=found("1.8.4"))
    assert [a for a in again.actions if a.stage == "dev"] == []
    assert [c for c in again.changes if c.subject == Subject.stage("dev")] == []


def _many_freight(count: int, retention: Retention) -> tuple[Config, Ledger]:
    """``count`` freight discovered a day apart; 1.8.1 runs in dev, 1.8.2 is in the audit log."""
    cfg = replace(CONFIG, warehouses=(replace(CONFIG.warehouses[0], retention=retention),))
    led = Ledger()
    for i in range(count):
        when = T0 + timedelta(days=i)
        led = plan(cfg, led, obs(discoveries=found(f"1.8.{i}")), when, discovery_only=True).ledger
        by_tag = {r.freight.images[0].tag: n for n, r in led.freight.items()}
        if i == 1:
            led.stage("dev").current_freight = by_tag["1.8.1"]
        if i == 2:
            f = led.freight[by_tag["1.8.2"]].freight
            led.promotions.append(
                PromotionRecord("dev", f.name, f.alias, "1.8.2", "auto", "Rejected", "x", "", when)
            )
    return cfg, led


def tags_of(led: Ledger) -> list[str]:
    return sorted(r.freight.images[0].tag for r in led.freight.values())


def test_retention_keeps_max_artifacts_but_never_what_is_used() -> None:
    _, led = _many_freight(6, Retention(max_artifacts=2))
    # 1.8.5 and 1.8.4 are the newest two; 1.8.1 runs in dev; 1.8.2 is in the audit log.
    assert tags_of(led) == ["1.8.1", "1.8.2", "1.8.4", "1.8.5"]


def test_an_older_tag_retention_would_prune_at_once_is_not_recorded() -> None:
    cfg, led = _many_freight(6, Retention(max_artifacts=2))
    # A backported tag, or a registry that lost the newer ones: older than the two kept.
    when = T0 + timedelta(days=9)
    later = plan(cfg, led, obs(discoveries=found("1.8.3")), when, discovery_only=True)
    assert tags_of(later.ledger) == tags_of(led)
    assert later.changes == []  # an idle run: nothing to write
    # One retention keeps is still recorded, though older than the newest.
    cfg3, led3 = _many_freight(6, Retention(max_artifacts=3))
    kept = plan(cfg3, led3, obs(discoveries=found("1.8.3")), when, discovery_only=True)
    assert "1.8.3" in tags_of(kept.ledger)


def test_retention_by_age_keeps_the_newest() -> None:
    cfg, led = _many_freight(3, Retention(max_age=timedelta(days=2)))
    assert tags_of(led) == ["1.8.0", "1.8.1", "1.8.2"]
    later = plan(cfg, led, obs(), T0 + timedelta(days=30), discovery_only=True)
    # 1.8.0 is too old; 1.8.1 runs in dev, 1.8.2 is in the audit log and is the newest.
    assert tags_of(later.ledger) == ["1.8.1", "1.8.2"]
    (pruned,) = [c for c in later.changes if c.kind is ChangeKind.PRUNED]
    assert pruned.subject == Subject.warehouse("flask-app") and "1.8.0" in pruned.render()


def test_default_retention_is_the_discovery_limit() -> None:
    _, led = _many_freight(25, Retention())
    assert len(led.freight) == 20 + 2  # 20 newest, plus the two protected ones

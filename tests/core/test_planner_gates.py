"""The planner's gates: verification, health, conditions, the approvals check run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.decide.actions import MergePromotionPR, Plan, PublishCheck, StartVerificationStep
from bot.core.decide.observations import CheckRun, HealthReport, PromotionPR, StepRun
from bot.core.decide.outcomes import DecisionKind, GateKind
from bot.core.decide.planner import plan
from bot.core.decide.pulls import PullRequest
from bot.core.ledger import Ledger
from bot.core.model import (
    AnalysisTemplate,
    ArgoCDHealth,
    Condition,
    HealthCheck,
    PromotionPolicy,
    Verification,
    VerificationStep,
    WorkflowCheck,
)
from sandbox.planning import CONFIG, T0, TEAMS, found, kinds, merged, obs, pr_for, said

DEV = CONFIG.stages[0]
STAGING = CONFIG.stages[1]


def with_dev(**changes: object):
    dev = replace(DEV, **changes)  # type: ignore[arg-type]
    return replace(CONFIG, stages=(dev, *CONFIG.stages[1:]))


def promote_dev(cfg, at=T0) -> Plan:
    """Discover 1.8.4, open dev's PR, see it merged: return the plan after the merge."""
    p1 = plan(cfg, Ledger(), obs(discoveries=found("1.8.4")), at, owner="alkon")
    pr = pr_for(p1, "dev", 1)
    return plan(cfg, p1.ledger, obs(prs={"dev": PromotionPR(merged(pr, at=at))}), at, owner="alkon")


VERIFY = Verification(
    parallel=False,
    steps=(
        VerificationStep("smoke-tests", "smoke-tests"),
        VerificationStep("performance-tests", "perf-tests"),
    ),
)


def starts(p: Plan) -> list[str]:
    return [a.step for a in p.actions if isinstance(a, StartVerificationStep)]


def test_steps_run_in_order_and_verify_the_freight() -> None:
    cfg = with_dev(verification=VERIFY)
    p = promote_dev(cfg)
    fid = next(iter(p.ledger.freight))
    assert "dev" not in p.ledger.freight[fid].verified_in
    assert starts(p) == ["smoke-tests"]
    (start,) = [a for a in p.actions if isinstance(a, StartVerificationStep)]
    assert start.workflow == "smoke-tests.yml"  # no AnalysisTemplate: the workflow file
    # staging sees nothing to promote while dev verifies.
    verifying = said(p, "dev", DecisionKind.VERIFYING)
    assert (verifying.kind, verifying.blocked) == (DecisionKind.VERIFYING, True)
    assert [g.kind for g in verifying.gates] == [GateKind.VERIFICATION]
    assert "verifying" in verifying.render()
    t1 = T0 + timedelta(minutes=3)
    ok = {"dev": {"smoke-tests": StepRun("smoke-tests", "succeeded", "", "http://run/1", "1")}}
    p2 = plan(cfg, p.ledger, obs(verification=ok), t1, owner="alkon")
    assert starts(p2) == ["performance-tests"]
    both = {
        "dev": {
            "performance-tests": StepRun("performance-tests", "succeeded", "", "http://run/2", "2")
        }
    }
    p3 = plan(cfg, p2.ledger, obs(verification=both), t1, owner="alkon")
    assert p3.ledger.freight[fid].verified_in["dev"] == t1
    assert p3.ledger.stages["dev"].verification.result == "succeeded"  # type: ignore[union-attr]


def test_parallel_steps_start_together() -> None:
    cfg = with_dev(verification=replace(VERIFY, parallel=True))
    p = promote_dev(cfg)
    assert starts(p) == ["smoke-tests", "performance-tests"]


def test_failed_step_keeps_freight_from_downstream() -> None:
    cfg = with_dev(verification=VERIFY)
    p = promote_dev(cfg)
    bad = {"dev": {"smoke-tests": StepRun("smoke-tests", "failed", "3 tests failed", "u", "1")}}
    p2 = plan(cfg, p.ledger, obs(verification=bad), T0 + timedelta(hours=2), owner="alkon")
    fid = next(iter(p2.ledger.freight))
    assert "dev" not in p2.ledger.freight[fid].verified_in
    failed = said(p2, "dev", DecisionKind.VERIFICATION_FAILED)
    assert (failed.kind, failed.blocked) == (DecisionKind.VERIFICATION_FAILED, True)
    assert "failed" in failed.render() and "3 tests failed" in failed.render()
    assert not [a for a in p2.actions if a.stage == "staging"]


def test_step_times_out() -> None:
    template = AnalysisTemplate(
        "perf-tests", workflow=WorkflowCheck("perf.yml"), timeout=timedelta(minutes=10)
    )
    cfg = replace(with_dev(verification=VERIFY), analysis_templates=(template,))
    p = promote_dev(cfg)
    p2 = plan(cfg, p.ledger, obs(), T0 + timedelta(minutes=45), owner="alkon")
    v = p2.ledger.stages["dev"].verification
    assert v is not None and v.result == "failed"
    assert "timed out after 30m" in v.steps["smoke-tests"].message


def test_health_must_run_the_promotions_commit() -> None:
    health = HealthCheck(argocd=ArgoCDHealth("https://argocd.example", "flask-app-dev"))
    cfg = with_dev(health=health)
    p = promote_dev(cfg)
    fid = next(iter(p.ledger.freight))
    stale = {"dev": HealthReport(True, "Healthy, Synced", revision="0" * 40)}
    p2 = plan(cfg, p.ledger, obs(health=stale), T0, owner="alkon")
    assert "dev" not in p2.ledger.freight[fid].verified_in
    stale_said = said(p2, "dev", DecisionKind.NOT_DEPLOYED)
    assert stale_said.kind is DecisionKind.NOT_DEPLOYED
    assert [g.kind for g in stale_said.gates] == [GateKind.DEPLOYED]
    assert "waits for the promotion's commit" in stale_said.render()
    fresh = {"dev": HealthReport(True, "Healthy, Synced", revision="m" * 40)}
    p3 = plan(cfg, p2.ledger, obs(health=fresh), T0, owner="alkon")
    assert "dev" in p3.ledger.freight[fid].verified_in
    assert p3.ledger.stages["dev"].healthy_since == T0


def _staging_open(cfg) -> tuple[Plan, PullRequest]:
    p = promote_dev(cfg)
    later = T0 + timedelta(hours=1)
    p2 = plan(cfg, p.ledger, obs(health={"dev": HealthReport(True, "ok")}), later, owner="alkon")
    return p2, pr_for(p2, "staging", 2)


def test_healthy_for_blocks_until_upstream_healthy_long_enough() -> None:
    cond = Condition(type="HealthyFor", duration=timedelta(minutes=10))
    staging = replace(
        STAGING, promotion_policy=replace(STAGING.promotion_policy, conditions=(cond,))
    )
    cfg = replace(CONFIG, stages=(DEV, staging, CONFIG.stages[2]))
    p, pr = _staging_open(cfg)
    t = T0 + timedelta(hours=1, minutes=5)
    healthy = {"dev": HealthReport(True, "ok")}
    p2 = plan(
        cfg, p.ledger, obs(prs={"staging": PromotionPR(pr)}, health=healthy), t, owner="alkon"
    )
    assert not [a for a in p2.actions if isinstance(a, MergePromotionPR)]
    t2 = T0 + timedelta(hours=1, minutes=11)
    p3 = plan(
        cfg, p2.ledger, obs(prs={"staging": PromotionPR(pr)}, health=healthy), t2, owner="alkon"
    )
    assert ("MergePromotionPR", "staging") in kinds(p3)
    # One unhealthy report resets the clock.
    sick = {"dev": HealthReport(False, "Degraded")}
    p4 = plan(cfg, p2.ledger, obs(prs={"staging": PromotionPR(pr)}, health=sick), t2, owner="alkon")
    assert p4.ledger.stages["dev"].healthy_since is None
    assert not [a for a in p4.actions if isinstance(a, MergePromotionPR)]


def test_conditions_block_the_merge_and_say_why() -> None:
    conds = (
        Condition(type="BusinessHoursOnly"),
        Condition(type="NoActiveIncidents", integrations=("pagerduty",)),
    )
    staging = replace(STAGING, promotion_policy=replace(STAGING.promotion_policy, conditions=conds))
    cfg = replace(CONFIG, stages=(DEV, staging, CONFIG.stages[2]))
    p, pr = _staging_open(cfg)
    saturday = T0 + timedelta(days=4)  # T0 is a Tuesday
    o = obs(prs={"staging": PromotionPR(pr)}, incidents={"pagerduty": ("#7 checkout down (web)",)})
    p2 = plan(cfg, p.ledger, o, saturday, owner="alkon")
    d = said(p2, "staging")
    assert d.kind is DecisionKind.WAITING
    assert [g.kind for g in d.gates if g.blocks] == [
        GateKind.BUSINESS_HOURS,
        GateKind.NO_ACTIVE_INCIDENTS,
    ]
    assert "BusinessHoursOnly: outside" in d.render() and "#7 checkout down" in d.render()
    assert not [a for a in p2.actions if isinstance(a, MergePromotionPR)]
    weekday = T0 + timedelta(hours=1)  # 11:00 on a Tuesday
    calm = obs(prs={"staging": PromotionPR(pr)}, incidents={"pagerduty": ()})
    p3 = plan(cfg, p.ledger, calm, weekday, owner="alkon")
    assert ("MergePromotionPR", "staging") in kinds(p3)


def test_gate_check_is_published_only_when_it_changes() -> None:
    p1 = plan(CONFIG, Ledger(), obs(discoveries=found("1.8.4")), T0, owner="alkon")
    led = p1.ledger
    fid = next(iter(led.freight))
    led.stage("staging").current_freight = fid
    led.freight[fid].verified_in["staging"] = T0
    led.stage("dev").promotion = None
    p2 = plan(CONFIG, led, obs(teams=TEAMS), T0, owner="alkon")
    pr = pr_for(p2, "prod", 5)
    p3 = plan(CONFIG, p2.ledger, obs(prs={"prod": PromotionPR(pr)}), T0, owner="alkon")
    (check,) = [a for a in p3.actions if isinstance(a, PublishCheck)]
    assert (check.name, check.conclusion, check.sha) == ("shunter/gate", None, pr.head_sha)
    seen = {"prod": (CheckRun("shunter/gate", "in_progress", None, check.title),)}
    p4 = plan(CONFIG, p3.ledger, obs(prs={"prod": PromotionPR(pr)}, checks=seen), T0, owner="alkon")
    assert not [a for a in p4.actions if isinstance(a, PublishCheck)]


def test_schedule_window_gates_auto_merge() -> None:
    policy = PromotionPolicy(auto_promotion_enabled=True, schedule="0 14 * * TUE")
    cfg = with_dev(promotion_policy=policy)
    p1 = plan(cfg, Ledger(), obs(discoveries=found("1.8.4")), T0, owner="alkon")  # Tue 10:00
    pr = pr_for(p1, "dev", 1)
    p2 = plan(cfg, p1.ledger, obs(prs={"dev": PromotionPR(pr)}), T0, owner="alkon")
    assert not [a for a in p2.actions if isinstance(a, MergePromotionPR)]
    p3 = plan(
        cfg,
        p2.ledger,
        obs(prs={"dev": PromotionPR(pr)}),
        T0 + timedelta(hours=4, minutes=10),
        owner="alkon",
    )
    assert ("MergePromotionPR", "dev") in kinds(p3)


def test_unknown_timezone_keeps_the_window_closed() -> None:
    policy = PromotionPolicy(
        auto_promotion_enabled=True, schedule="0 * * * *", timezone="Mars/Base"
    )
    cfg = with_dev(promotion_policy=policy)
    p1 = plan(cfg, Ledger(), obs(discoveries=found("1.8.4")), T0, owner="alkon")
    pr = pr_for(p1, "dev", 1)
    p2 = plan(cfg, p1.ledger, obs(prs={"dev": PromotionPR(pr)}), T0, owner="alkon")
    assert not [a for a in p2.actions if isinstance(a, MergePromotionPR)]
    d = said(p2, "dev")
    assert [g.kind for g in d.gates if g.blocks] == [GateKind.SCHEDULE]
    assert "unknown timezone 'Mars/Base'" in d.render()

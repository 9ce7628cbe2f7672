"""A promotion a person asks for with no reason, as Kargo's ``promote``: it takes only
freight the stage may take, skips no gate, never moves the stage back, and stands in for
the auto-promotion a manual stage lacks, in the run that received it only.

The pipeline is Kargo's starter as Shunter reads it: no stage auto-promotes, dev and
staging push straight onto ``main``, prod goes through a pull request.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.core.decide.actions import OpenPromotionPR, Plan, PushPromotion
from bot.core.decide.emergency import Ask, Operation, carry_out, promoted_by_hand
from bot.core.decide.outcomes import ChangeKind, DecisionKind, Subject
from bot.core.decide.planner import plan
from bot.core.errors import RefusedError
from bot.core.ledger import Ledger
from bot.core.model import Config, PromotionPolicy, Stage
from sandbox.planning import CONFIG, T0, found, obs


def _manual(stage: Stage, *, direct: bool) -> Stage:
    updates = tuple(replace(u, pull_request=not direct) for u in stage.git_repo_updates)
    return replace(stage, promotion_policy=PromotionPolicy(), git_repo_updates=updates)


STARTER = Config(
    warehouses=CONFIG.warehouses,
    stages=(
        _manual(CONFIG.stages[0], direct=True),
        _manual(CONFIG.stages[1], direct=True),
        _manual(CONFIG.stages[2], direct=False),
    ),
)


def run(led: Ledger, now: datetime = T0, **kw: object) -> Plan:
    return plan(STARTER, led, obs(**kw), now, owner="alkon")


def pushes(p: Plan) -> list[tuple[str, str]]:
    return [(a.stage, a.freight.name) for a in p.actions if isinstance(a, PushPromotion)]


def discovered(tag: str = "1.8.4") -> tuple[Ledger, str]:
    p = run(Ledger(), discoveries=found(tag))
    (fid,) = p.ledger.freight
    return p.ledger, fid


def promote(led: Ledger, fid: str, stage: str, reason: str = "") -> None:
    carry_out(STARTER, led, Ask(Operation.PROMOTE, stage, "alice", reason, freight=fid), T0)


def test_a_manual_direct_stage_moves_only_when_a_person_promotes() -> None:
    led, fid = discovered()
    # Nobody asked: dev waits, this run and the next (the ledger's open promotion grants
    # nothing).
    first = run(led)
    assert pushes(first) == []
    assert pushes(run(first.ledger)) == []
    promote(first.ledger, fid, "dev")
    req = first.ledger.stages["dev"].request
    assert req is not None and (req.kind, req.by, req.approve) == ("manual", "alice", False)
    assert promoted_by_hand(req)
    assert first.ledger.stages["dev"].promotion.by == "shunter"  # type: ignore[union-attr]
    asked = run(first.ledger)
    assert pushes(asked) == [("dev", fid)]
    # The stage's waiting promotion became the person's.
    going = asked.ledger.stages["dev"].promotion
    assert going is not None and (going.kind, going.by) == ("manual", "alice")
    assert [o.operation for o in asked.ledger.operations] == ["promote"]


def test_freight_not_verified_upstream_is_refused_and_nothing_is_written() -> None:
    led, fid = discovered()
    before = repr(led)
    with pytest.raises(RefusedError):
        promote(led, fid, "staging")  # dev has not run it
    assert repr(led) == before


def test_a_verification_github_does_not_back_is_refused_by_the_planner() -> None:
    led, fid = discovered()
    # The ledger says dev verified it (a hand edit): the ask passes, the planner asks
    # GitHub, and no merged bot promotion stands behind that verification.
    led.freight[fid].verified_in["dev"] = T0 - timedelta(hours=1)
    promote(led, fid, "staging")
    p = run(led, unbacked=frozenset({(fid, "dev")}))
    assert [a for a in p.actions if a.stage == "staging"] == []
    staging = p.ledger.stages["staging"]
    assert (staging.promotion, staging.request, staging.current_freight) == (None, None, None)
    refused = [c for c in p.changes if c.subject == Subject.stage("staging")]
    assert [(c.kind, c.by) for c in refused] == [(ChangeKind.NOT_AVAILABLE, "alice")]
    decision = next(d for d in p.decisions if d.subject == Subject.stage("staging"))
    assert (decision.kind, decision.blocked) == (DecisionKind.NOT_AVAILABLE, True)


def test_freight_verified_upstream_is_promoted_and_gates_still_apply() -> None:
    led, fid = discovered()
    led.stage("dev").current_freight = fid
    led.freight[fid].verified_in["dev"] = T0 - timedelta(hours=1)
    promote(led, fid, "staging")
    pushed = run(led)
    assert pushes(pushed) == [("staging", fid)]
    # prod is a pull-request stage: the person's promotion opens the PR, and prod's own
    # gate (a person merges it) stays.
    led = pushed.ledger
    led.stage("staging").promotion = None  # as once the push landed
    led.stage("staging").current_freight = fid
    led.freight[fid].verified_in["staging"] = T0 - timedelta(minutes=5)
    promote(led, fid, "prod")
    p = run(led)
    assert [(type(a), a.stage) for a in p.actions if a.stage == "prod"] == [
        (OpenPromotionPR, "prod")
    ]
    assert pushes(p) == []


def test_an_approved_freight_may_then_be_promoted_by_hand() -> None:
    led, fid = discovered()
    # Kargo's hotfix path: approve for staging (no upstream verification), then promote.
    carry_out(STARTER, led, Ask(Operation.APPROVE, "staging", "tl", "cve", freight=fid), T0)
    approved = run(led)
    assert pushes(approved) == []  # an approval is no promotion
    promote(approved.ledger, fid, "staging")
    assert pushes(run(approved.ledger)) == [("staging", fid)]


def test_an_ordinary_promotion_never_moves_a_stage_back() -> None:
    led, old = discovered("1.8.4")
    newer = run(led, discoveries=found("1.8.5"))
    (new,) = set(newer.ledger.freight) - {old}
    newer.ledger.stage("dev").current_freight = new
    before = repr(newer.ledger)
    with pytest.raises(RefusedError):
        promote(newer.ledger, old, "dev")
    assert repr(newer.ledger) == before
    # With a reason it is a rollback, an emergency.
    promote(newer.ledger, old, "dev", reason="bad release")
    req = newer.ledger.stages["dev"].request
    assert req is not None and req.kind == "rollback" and not promoted_by_hand(req)

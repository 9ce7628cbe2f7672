"""The typed outcomes render at the edge: every kind has its own words, none is lost."""

from __future__ import annotations

import pytest

from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Decision,
    DecisionKind,
    Failure,
    FailureKind,
    Gate,
    GateKind,
    Subject,
    SubjectKind,
    System,
)

DEV = Subject.stage("dev")
APP = Subject.warehouse("app")
WAREHOUSE_DECISIONS = {DecisionKind.DISCOVERY_FAILED, DecisionKind.NO_MATCH}


# The gate each kind of decision carries when the planner makes it.
GATE_OF = {
    DecisionKind.PAUSED: GateKind.PAUSED,
    DecisionKind.HELD: GateKind.HOLD,
    DecisionKind.SOAKING: GateKind.DELAY,
    DecisionKind.VERIFYING: GateKind.VERIFICATION,
    DecisionKind.VERIFICATION_FAILED: GateKind.VERIFICATION,
    DecisionKind.UNHEALTHY: GateKind.HEALTH,
    DecisionKind.NOT_DEPLOYED: GateKind.DEPLOYED,
}


def _decision(kind: DecisionKind) -> Decision:
    subject = APP if kind in WAREHOUSE_DECISIONS | {DecisionKind.NEW_FREIGHT} else DEV
    gate = Gate(GATE_OF.get(kind, GateKind.APPROVALS), False, "GATE")
    return Decision(subject, kind, True, freight="FREIGHT", pr=7, gates=(gate,), detail="DETAIL")


@pytest.mark.parametrize("kind", list(DecisionKind), ids=lambda k: k.name)
def test_every_decision_kind_renders_its_own_line(kind: DecisionKind) -> None:
    text = _decision(kind).render()
    assert text and "{" not in text and "None" not in text
    assert text not in {_decision(k).render() for k in DecisionKind if k is not kind}


def test_a_waiting_decision_names_its_blocking_gates_and_the_votes_not_counted() -> None:
    gates = (
        Gate(GateKind.APPROVALS, False, "1 of 2 (alice)"),
        Gate(GateKind.AUTO_PROMOTION, True),
        Gate(GateKind.NOT_COUNTED, True, "mallory (not an eligible approver)"),
    )
    d = Decision(DEV, DecisionKind.WAITING, True, freight="ab12 (1.8.4)", pr=3, gates=gates)
    assert d.render() == (
        "PR #3 (ab12 (1.8.4)) waits: approvals: 1 of 2 (alice)"
        " (not counted: mallory (not an eligible approver))"
    )
    assert d.stage == "dev"
    assert Decision(APP, DecisionKind.NEW_FREIGHT).stage is None


@pytest.mark.parametrize("kind", list(ChangeKind), ids=lambda k: k.name)
def test_every_change_kind_renders_its_own_line(kind: ChangeKind) -> None:
    fields = dict(freight="FREIGHT", by="carol", pr=7, promotion="rollback", step="smoke")

    def line(k: ChangeKind) -> str:
        return Change(DEV, k, detail="DETAIL", **fields).render()  # type: ignore[arg-type]

    text = line(kind)
    assert text.startswith("dev: ") and "{" not in text and "None" not in text
    assert text not in {line(k) for k in ChangeKind if k is not kind}


@pytest.mark.parametrize(
    ("promotion", "direct", "words"),
    [
        ("auto", False, "dev: promotes ab12 (1.8.4)"),
        ("manual", False, "dev: proposes ab12 (1.8.4)"),
        ("emergency", False, "dev: emergency-promotes ab12 (1.8.4)"),
        ("rollback", True, "dev: rolls back to ab12 (1.8.4) (direct push)"),
    ],
)
def test_a_started_promotion_says_its_kind(promotion: str, direct: bool, words: str) -> None:
    change = Change(
        DEV,
        ChangeKind.PROMOTION_STARTED,
        freight="ab12 (1.8.4)",
        promotion=promotion,  # type: ignore[arg-type]
        direct=direct,
    )
    assert change.render() == words


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (Failure(FailureKind.PERMANENT, System.GITHUB, "401 Bad credentials"), "GitHub: 401"),
        (
            Failure(FailureKind.TRANSIENT, System.HEALTH, "Argo CD answered 503", DEV),
            "dev: health: Argo CD answered 503",
        ),
        (
            Failure(FailureKind.TRANSIENT, System.VERIFICATION, "timed out", DEV, "smoke"),
            "dev: verification smoke: timed out",
        ),
        (
            Failure(FailureKind.MISCONFIGURED, System.PROMOTION, "no key image.tag", DEV),
            "dev: no key image.tag",
        ),
        (
            Failure(FailureKind.TRANSIENT, System.REGISTRY, "request budget spent", APP),
            "warehouse/app: request budget spent",
        ),
    ],
)
def test_failures_render_where_and_what(failure: Failure, words: str) -> None:
    assert failure.render().startswith(words)


def test_subjects_are_told_apart_by_kind_not_by_name() -> None:
    assert Subject.stage("app") != Subject.warehouse("app")
    assert Subject.warehouse("app").kind is SubjectKind.WAREHOUSE
    assert (Subject.stage("app").render(), Subject.warehouse("app").render()) == (
        "app",
        "warehouse/app",
    )

"""Exit codes say who acts: the code of a finished run comes from the kinds of its
failures, by one table (``bot.errors.run_exit_code``), and every command that runs the
loop returns it (``bot.commands._output._exit_code``)."""

from __future__ import annotations

import pytest

from bot.commands._output import _exit_code
from bot.core.decide.outcomes import (
    Decision,
    DecisionKind,
    Failure,
    FailureKind,
    Subject,
    System,
)
from bot.core.ledger import Ledger
from bot.errors import (
    EXIT_ACT,
    EXIT_OK,
    EXIT_TRANSIENT,
    run_exit_code,
)
from bot.loop.reconcile import Outcome

T, P, M = FailureKind.TRANSIENT, FailureKind.PERMANENT, FailureKind.MISCONFIGURED


@pytest.mark.parametrize(
    ("failures", "person_must_act", "code"),
    [
        ((), False, EXIT_OK),
        ((T,), False, EXIT_TRANSIENT),
        ((T, T, T), False, EXIT_TRANSIENT),
        ((P,), False, EXIT_ACT),
        ((M,), False, EXIT_ACT),
        ((T, P), False, EXIT_ACT),  # a 503 never hides a refused token
        ((M, T), False, EXIT_ACT),
        ((), True, EXIT_ACT),  # a stuck stage with nothing failing
        ((T,), True, EXIT_ACT),  # a stuck stage while the registry is down
        ((P, M, T), True, EXIT_ACT),
    ],
)
def test_a_finished_runs_exit_code_is_decided_by_its_failures_kinds(
    failures: tuple[FailureKind, ...], person_must_act: bool, code: int
) -> None:
    assert run_exit_code(failures, person_must_act=person_must_act) == code
    # Order and repetition do not matter: the same set gives the same code.
    assert run_exit_code(reversed(failures * 2), person_must_act=person_must_act) == code


def failure(kind: FailureKind) -> Failure:
    return Failure(kind, System.REGISTRY, "registry answered HTTP 503", Subject.warehouse("app"))


STUCK = Decision(Subject.stage("prod"), DecisionKind.STUCK, blocked=True, pr=7)
WAITING = Decision(Subject.stage("prod"), DecisionKind.WAITING, blocked=True, pr=7)


@pytest.mark.parametrize(
    ("errors", "decisions", "code"),
    [
        ([], [WAITING], EXIT_OK),  # waiting on a gate is the normal state of things
        ([failure(T)], [WAITING], EXIT_TRANSIENT),
        ([failure(T)], [STUCK], EXIT_ACT),
        ([failure(T), failure(P)], [], EXIT_ACT),
        ([], [STUCK], EXIT_ACT),
    ],
)
def test_commands_return_the_code_of_their_outcome(
    errors: list[Failure], decisions: list[Decision], code: int
) -> None:
    outcome = Outcome(ledger=Ledger(), decisions=decisions, errors=errors)
    assert _exit_code(outcome) == code
    assert (code == EXIT_OK) is outcome.ok  # never more lenient than the loop's own word

from __future__ import annotations

import pytest

from bot.core.decide.identity import Operator, Refused, RunActor, Unidentified, Via, operator

DISPATCH = RunActor(7, "tech-lead", "tech-lead", "workflow_dispatch", 1, "in_progress")
RERUN = RunActor(7, "mallory", "tech-lead", "workflow_dispatch", 2, "queued")


@pytest.mark.parametrize(
    ("owner", "persons", "run", "event", "expected"),
    [
        # a person's token: its owner, whatever run id the environment names
        ("mallory", True, None, None, Operator("mallory", Via.USER)),
        ("mallory", True, DISPATCH, "workflow_dispatch", Operator("mallory", Via.USER)),
        # the workflow's token: the run's triggering actor
        ("github-actions[bot]", False, DISPATCH, "workflow_dispatch",
         Operator("tech-lead", Via.RUN)),
        ("github-actions[bot]", False, DISPATCH, None, Operator("tech-lead", Via.RUN)),
        # a re-run is the re-runner's, not the first dispatcher's
        ("github-actions[bot]", False, RERUN, "workflow_dispatch", Operator("mallory", Via.RUN)),
        ("github-actions[bot]", False, None, None, Refused(Unidentified.NO_RUN)),
        (
            "github-actions[bot]", False,
            RunActor(7, "tech-lead", "tech-lead", "workflow_dispatch", 1, "completed"),
            "workflow_dispatch", Refused(Unidentified.RUN_FINISHED, 7),
        ),
        (
            "github-actions[bot]", False, DISPATCH, "push",
            Refused(Unidentified.OTHER_EVENT, 7, "workflow_dispatch", "push"),
        ),
    ],
)  # fmt: skip
def test_who_acts(
    owner: str,
    persons: bool,
    run: RunActor | None,
    event: str | None,
    expected: Operator | Refused,
) -> None:
    got = operator(token_owner=owner, token_is_persons=persons, run=run, event_name=event)
    assert got == expected
    if isinstance(got, Refused):
        assert "{" not in got.describe()

"""Who is acting: the person an emergency operation is carried out for.

People are identified by GitHub, never by the environment (``GITHUB_ACTOR`` is a
variable anyone running the command can set):

* with a person's own token, the operator is the token's owner (``GET /user``);
* with the workflow's token (``GITHUB_TOKEN``, or an app's, which cannot say whose it
  is), the operator is the triggering actor of the run named by ``GITHUB_RUN_ID``, read
  from the API: whoever started *this attempt*, so a re-run by someone else is theirs,
  not the original dispatcher's. The run must still be going (a finished run proves
  nothing about who runs the command now) and its event must be the one the workflow
  says it is handling.

The permission check (``emergencyPermission``) then applies to that login. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class RunActor:
    """Who a workflow run acts for, as ``GET /repos/{o}/{r}/actions/runs/{id}`` says
    (https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run).

    ``triggering_actor`` started this attempt (a re-run's is whoever re-ran it);
    ``actor`` started the first attempt."""

    run_id: int
    triggering_actor: str
    actor: str
    event: str
    run_attempt: int
    status: str  # queued | in_progress | completed | ...


class Via(Enum):
    """Where the operator's identity came from."""

    USER = "the owner of the token"
    RUN = "the workflow run's triggering actor"


@dataclass(frozen=True)
class Operator:
    login: str
    via: Via


class Unidentified(Enum):
    """Why nobody could be identified: the operation is refused."""

    NO_RUN = (
        "the workflow's token names no person: run it in a workflow (GITHUB_RUN_ID)"
        " or with your own token"
    )
    RUN_FINISHED = "workflow run {run} has finished; only the run in progress can act"
    OTHER_EVENT = "workflow run {run} was started by {actual!r}, not {claimed!r}"


@dataclass(frozen=True)
class Refused:
    why: Unidentified
    run: int | None = None
    actual: str = ""
    claimed: str = ""

    def describe(self) -> str:
        return self.why.value.format(run=self.run, actual=self.actual, claimed=self.claimed)


def operator(
    *,
    token_owner: str,
    token_is_persons: bool,
    run: RunActor | None,
    event_name: str | None,
) -> Operator | Refused:
    """The person acting, or why there is none.

    ``token_owner`` is what ``GET /user`` says (``token_is_persons`` False when the token
    cannot say: the workflow's or an app's); ``run`` is the run ``GITHUB_RUN_ID`` names,
    as the API reports it (``None``: no run id); ``event_name`` is ``GITHUB_EVENT_NAME``.
    """
    if token_is_persons:
        return Operator(token_owner, Via.USER)
    if run is None:
        return Refused(Unidentified.NO_RUN)
    if run.status == "completed":
        return Refused(Unidentified.RUN_FINISHED, run.run_id)
    if event_name and event_name != run.event:
        return Refused(Unidentified.OTHER_EVENT, run.run_id, run.event, event_name)
    return Operator(run.triggering_actor, Via.RUN)

"""Shunter's one error tree, and the exit code each error ends a run with.

Every failure the bot reports is one of these, so that ``bot.cli.main`` is the only
place that catches broadly and turns an error into an exit code and a message::

    ShunterError
    ├── ConfigError      the user must fix the config; exit 2; carries every problem found
    ├── UsageError       the command line or the Action's inputs are wrong; exit 2
    ├── TransientError   the outside world failed for now (timeouts, 429, 5xx); exit 75
    │   └── ConflictError  a compare-and-swap write lost a race
    └── PermanentError   the outside world said no (401, 404, a refused push); exit 1
        └── LedgerError  a state-branch file is not what Shunter writes; nothing written

Adapters translate library exceptions (requests, PyGithub, git) into these at the edge,
so the core and the reconcile loop never see a third-party exception type. The pure
core raises its own types (``bot.core.errors``); :func:`exit_code` maps them too.

Exit codes of the ``shunter`` command (the README's table says the same):

====  =====================================================================================
0     done: everything asked for happened, or there was nothing to do
1     a person must act: a stage is stuck (an outcome error) or an operation was refused
      (no permission, no such freight, a GitOps file that cannot be edited, a bad ledger)
2     bad config or usage: fix the config, the flags or the Action's inputs, then re-run
3     internal error: a bug in Shunter; the traceback is printed on stderr
75    transient: the outside world failed for now; the next run retries (``EX_TEMPFAIL``)
====  =====================================================================================

A run that ends by raising takes its code from the error (:func:`exit_code`). A run that
finishes with failures in its outcome takes it from their kinds (:func:`run_exit_code`):
75 only when every failure will heal by itself, 1 as soon as one needs a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core import errors as core

if TYPE_CHECKING:
    from bot.core.decide.outcomes import FailureKind

EXIT_OK = 0
EXIT_ACT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_TRANSIENT = 75  # sysexits.h EX_TEMPFAIL: "try again later"


class ShunterError(Exception):
    """Base of every error Shunter raises on purpose."""

    #: The process exit code ``main`` returns when this error ends a run.
    exit_code = EXIT_ACT


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config, located as precisely as the YAML allows.

    ``file`` is relative to the config folder's parent when possible, ``line`` and
    ``col`` are 1-based (``col`` 0: not known, left out of the text), ``path`` is the
    dotted key path (``spec.subscriptions[0].image``).
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.col else f"{self.file}:{self.line}"
        text = f"{where}: {self.path}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class ConfigError(ShunterError):
    """The config is invalid. Holds every problem found in one pass, never just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid config")


class UsageError(ShunterError):
    """The command was asked wrongly (a flag, an argument, an input): the message says how."""

    exit_code = EXIT_USAGE


class TransientError(ShunterError):
    """A failure that is expected to go away: retry on the next run (or after ``retry_after``)."""

    exit_code = EXIT_TRANSIENT

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ShunterError):
    """A failure that will not go away by itself: the message says what a person must do."""


class LedgerError(PermanentError):
    """The state branch holds a ledger file Shunter cannot trust (a bad hand edit, a
    truncated or hostile file). Carries every problem found; nothing is written, exit 1."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"the ledger on the state branch has {len(self.problems)} problem(s); nothing was"
            f" written. Fix them on the state branch (or revert the commit that made them):\n"
            f"{lines}"
        )


class ConflictError(TransientError):
    """A compare-and-swap write lost a race (the state branch moved); re-read and retry."""


#: What each of the core's error types means for a run (``bot.core.errors``).
_CORE_EXIT_CODES: dict[type[core.CoreError], int] = {
    core.ConstraintError: EXIT_USAGE,  # the config's constraint or regex
    core.TemplateError: EXIT_USAGE,  # the config's commit-message template
    core.ManifestError: EXIT_ACT,  # a GitOps file a person must fix
    core.RefusedError: EXIT_ACT,  # an emergency operation refused: the person asks again
}


def exit_code(exc: BaseException) -> int:
    """The exit code a run ended by ``exc`` returns (see the table in this module's docstring).

    Shunter's own errors carry theirs; the core's map by type; anything else is a bug (3).
    """
    if isinstance(exc, ShunterError):
        return exc.exit_code
    for kind, code in _CORE_EXIT_CODES.items():
        if isinstance(exc, kind):
            return code
    return EXIT_INTERNAL


def run_exit_code(failures: Iterable[FailureKind], *, person_must_act: bool) -> int:
    """The exit code of a run that finished, from the kinds of its failures.

    ``failures`` are the kinds of the run's :class:`~bot.core.decide.outcomes.Failure`
    values; ``person_must_act`` says whether anything else in the outcome waits for a
    person (a stuck stage). Returns 0 when there is nothing of either; 75 when every
    failure is transient (a timeout, a 5xx, a rate limit: the next run retries and
    nobody need look); 1 when any failure is permanent or misconfigured, or a person must
    act, whatever else failed alongside: a transient failure never hides one that needs
    a person. (2 is not returned here: a config or usage error stops a run before it
    starts, and is raised.)
    """
    from bot.core.decide.outcomes import FailureKind

    kinds = set(failures)
    if person_must_act or kinds - {FailureKind.TRANSIENT}:
        return EXIT_ACT
    return EXIT_TRANSIENT if kinds else EXIT_OK

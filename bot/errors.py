"""Shunter's one error tree.

Every failure the bot reports is one of these, so that ``bot.cli.main`` is the only
place that catches broadly and turns an error into an exit code and a message::

    ShunterError
    ├── ConfigError      the user must fix the config; exit 2; carries every problem found
    ├── TransientError   the outside world failed for now (timeouts, 429, 5xx); retry later
    └── PermanentError   the outside world said no (401, 404, a refused push); a person acts
        └── LedgerError  a state-branch file is not what Shunter writes; exit 1, nothing written

Adapters translate library exceptions (requests, PyGithub, git) into these at the edge,
so the core and the reconcile loop never see a third-party exception type.
"""

from __future__ import annotations

from dataclasses import dataclass


class ShunterError(Exception):
    """Base of every error Shunter raises on purpose."""

    #: The process exit code ``main`` returns when this error ends a run.
    exit_code = 1


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

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid config")


class TransientError(ShunterError):
    """A failure that is expected to go away: retry on the next run (or after ``retry_after``)."""

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

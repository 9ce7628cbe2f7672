"""``git-wait-for-pr``: the promotion ends when the pull request merges.

Shunter records the promotion once a person (or Shunter, when every gate holds) merges
the PR ``git-open-pr`` opened; ``prNumber``/``prNumberFromStep`` must name that step.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import F, Obj, Parsed, Str
from bot.core.promote.steps.base import Expr, Role, StepKind


@dataclass(frozen=True)
class Config:
    pr_number: str | None = None
    pr_step: str | None = None


TABLE = Obj(
    {
        "repoURL": F(Expr("the repository Shunter runs in"), required=True),
        "prNumber": F(Expr("the git-open-pr step's prNumber output")),
        "prNumberFromStep": F(Str(), doc="the alias of the git-open-pr step"),
    },
    one_of=[("prNumber", "prNumberFromStep")],
)


def build(p: Parsed) -> Config:
    return Config(p.get("prNumber"), p.get("prNumberFromStep"))


KIND = StepKind("git-wait-for-pr", Role.WAIT_PR, TABLE, build, doc="wait for the PR to merge")

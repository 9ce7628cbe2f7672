"""``git-open-pr``: the promotion goes through a pull request into ``targetBranch``.

``targetBranch`` (default: the branch ``git-clone`` checked out) must be the branch
the edits were made on. ``sourceBranch``/``sourceBranchFromStep`` must name the
``git-push`` step's branch (Shunter's ``shunter/<stage>``). ``createTargetBranch`` is
honoured trivially: the target is the branch that was checked out, so it exists.
``title`` (an expression, evaluated with the freight) replaces Shunter's title of the
promotion PR; ``labels`` (each an expression) are put on it when it is opened or
rewritten. Neither touches the PR body, whose hidden marker is how Shunter knows its own
PRs: nothing Shunter trusts reads the title. Output: ``prNumber`` (known once the PR is
open).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import F, ListOf, Obj, Parsed, Str
from bot.core.promote.steps.base import Expr, Role, StepKind


@dataclass(frozen=True)
class Config:
    repo_url: str
    target_branch: str | None = None
    source_branch: str | None = None
    source_step: str | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()


TABLE = Obj(
    {
        "repoURL": F(Expr("the repository Shunter runs in"), required=True),
        "sourceBranch": F(Expr("the git-push step's branch output")),
        "sourceBranchFromStep": F(Str(), doc="the alias of the git-push step"),
        "targetBranch": F(Expr("the branch the PR merges into")),
        "createTargetBranch": F(
            Expr("create the target branch if missing", kind="bool"),
            no_effect="the target is the branch git-clone checked out, so it exists",
        ),
        "title": F(Expr("the promotion PR's title (default: Shunter's)")),
        "labels": F(ListOf(Expr()), doc="labels put on the promotion PR"),
    },
    at_most_one=[("sourceBranch", "sourceBranchFromStep")],
)


def build(p: Parsed) -> Config:
    return Config(
        repo_url=p.req("repoURL"),
        target_branch=p.get("targetBranch"),
        source_branch=p.get("sourceBranch"),
        source_step=p.get("sourceBranchFromStep"),
        title=p.get("title"),
        labels=tuple(p.get("labels", ())),
    )


KIND = StepKind("git-open-pr", Role.OPEN_PR, TABLE, build, doc="promote through a pull request")

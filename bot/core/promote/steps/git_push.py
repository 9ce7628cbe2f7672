"""``git-push``: where the promotion's commit goes.

Alone (no ``git-open-pr``) it pushes straight to ``targetBranch`` (default: the branch
checked out at ``path``), which must be that checked-out branch: Shunter edits the
branch it pushes. ``generateTargetBranch: true`` pushes to Shunter's promotion branch
``shunter/<stage>`` and needs ``git-open-pr`` to bring it home. Output: ``branch``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import F, Obj, Parsed
from bot.core.promote.steps.base import Expr, Role, StepKind, step_path


@dataclass(frozen=True)
class Config:
    path: str
    target_branch: str | None = None
    generate_target_branch: str | None = None


TABLE = Obj(
    {
        "path": F(step_path("the checkout to push"), required=True),
        "targetBranch": F(Expr("the branch to push to (default: the checked-out one)")),
        "generateTargetBranch": F(
            Expr("push to Shunter's promotion branch, for git-open-pr", kind="bool")
        ),
    },
    at_most_one=[("targetBranch", "generateTargetBranch")],
)


def build(p: Parsed) -> Config:
    return Config(p.req("path"), p.get("targetBranch"), p.get("generateTargetBranch"))


KIND = StepKind("git-push", Role.PUSH, TABLE, build, doc="where the commit goes")

"""``git-commit``: the promotion's commit message.

``message`` (any expression, such as ``${{ task.outputs['update-image'].commitMessage }}``)
or ``messageFromSteps`` (the ``commitMessage`` outputs of the named steps, joined).
``path`` must be a checkout of ``git-clone``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import F, ListOf, Obj, Parsed, Str
from bot.core.promote.steps.base import Expr, Role, StepKind, step_path


@dataclass(frozen=True)
class Config:
    path: str
    message: str | None = None
    message_from_steps: tuple[str, ...] = ()


TABLE = Obj(
    {
        "path": F(step_path("the checkout to commit"), required=True),
        "message": F(Expr("the commit message")),
        "messageFromSteps": F(
            ListOf(Str(), min_items=1), doc="steps whose commitMessage outputs make the message"
        ),
    },
    one_of=[("message", "messageFromSteps")],
)


def build(p: Parsed) -> Config:
    return Config(
        path=p.req("path"),
        message=p.get("message"),
        message_from_steps=tuple(p.get("messageFromSteps", ())),
    )


KIND = StepKind("git-commit", Role.COMMIT, TABLE, build, doc="the commit message")

"""``git-clone``: names the GitOps repository and which branch is checked out where.

Shunter works in the repository it runs in, so ``repoURL`` must name that repository
(any spelling: https with or without ``.git``, ``git@host:owner/name``, the
``GITHUB_SERVER_URL`` host); a run refuses another one. ``checkout[].branch`` (default:
the repository's default branch) at ``checkout[].path``: later steps' paths under that
folder are files of that branch. ``commit``, ``tag`` and ``create`` checkouts only feed
``kustomize-build`` or ``helm-template``, which Shunter does not run: validate refuses
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import F, ListOf, Obj, Parsed
from bot.core.promote.steps.base import Expr, Role, StepKind, step_path


@dataclass(frozen=True)
class Checkout:
    path: str
    branch: str | None = None


@dataclass(frozen=True)
class Config:
    repo_url: str
    checkouts: tuple[Checkout, ...]


TABLE = Obj(
    {
        "repoURL": F(Expr("the repository Shunter runs in"), required=True),
        "checkout": F(
            ListOf(
                Obj(
                    {
                        "branch": F(Expr("the branch (default: the default branch)")),
                        "path": F(
                            step_path("where later steps find it, such as ./src"), required=True
                        ),
                        "commit": F(Expr("refused: only a source for rendering steps")),
                        "tag": F(Expr("refused: only a source for rendering steps")),
                        "create": F(Expr("refused: an empty branch", kind="bool")),
                    }
                ),
                min_items=1,
            ),
            required=True,
        ),
    }
)

#: Checkout keys Shunter refuses, and why.
REFUSED = {
    "commit": "a commit checkout is read-only: Shunter edits files on a branch and pushes them",
    "tag": "a tag checkout is read-only: Shunter edits files on a branch and pushes them",
    "create": "create makes an empty branch, which only kustomize-build or helm-template "
    "output fills; Shunter does not run them",
}


def build(p: Parsed) -> Config:
    for co in p.req("checkout"):
        for key, why in REFUSED.items():
            if co.has(key):
                co.problem(
                    key, f"'{key}' is not supported: {why}", "check out a branch with branch:"
                )
    return Config(
        repo_url=p.req("repoURL"),
        checkouts=tuple(Checkout(c.req("path"), c.get("branch")) for c in p.req("checkout")),
    )


KIND = StepKind("git-clone", Role.CLONE, TABLE, build, doc="names the repository and branch")

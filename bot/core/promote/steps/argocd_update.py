"""``argocd-update``: the Argo CD application that tells whether the stage is healthy.

Kargo's step makes Argo CD sync an application to the promotion's commit and then waits
for it to be healthy. Argo CD syncs a branch it follows by itself; what Shunter takes
from the step is the application: it becomes the stage's health source, exactly as
``spec.health.argocd`` names one (healthy when Healthy and Synced to the promotion's
merged commit; the server and token come from ``ProjectConfig``
``spec.integrations.argocd``). ``apps[].sources[].desiredCommitFromStep`` naming the
``git-commit`` step says what Shunter waits for anyway. A stage follows one
application. Keys that change an application's sources (``desiredRevision``,
``updateTargetRevision``, ``chart``, ``kustomize``, ``helm``) are refused: Shunter never
writes to Argo CD.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config._spec import AnyValue, F, ListOf, Obj, Parsed, Str
from bot.core.promote.steps.base import Expr, Role, StepKind

#: Source keys Kargo uses to change an application, and why Shunter refuses them.
REFUSED = {
    key: "Shunter never changes an Argo CD application: Argo CD follows the branch the "
    "promotion writes"
    for key in ("desiredRevision", "updateTargetRevision", "chart", "kustomize", "helm")
}


@dataclass(frozen=True)
class Source:
    repo_url: str
    commit_step: str | None = None  # desiredCommitFromStep


@dataclass(frozen=True)
class App:
    name: str  # may hold vars and ctx expressions
    namespace: str | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Config:
    apps: tuple[App, ...]


_REFUSED_KEY = AnyValue("refused: Shunter never changes an application")

TABLE = Obj(
    {
        "apps": F(
            ListOf(
                Obj(
                    {
                        "name": F(Expr("the Argo CD application"), required=True),
                        "namespace": F(Expr("its namespace, when it is not Argo CD's own")),
                        "sources": F(
                            ListOf(
                                Obj(
                                    {
                                        "repoURL": F(
                                            Expr("the repository Shunter runs in"), required=True
                                        ),
                                        "desiredCommitFromStep": F(
                                            Str(), doc="the alias of the git-commit step"
                                        ),
                                        **{k: F(_REFUSED_KEY) for k in REFUSED},
                                    }
                                )
                            )
                        ),
                    }
                ),
                min_items=1,
            ),
            required=True,
        ),
    }
)


def build(p: Parsed) -> Config:
    apps = []
    for a in p.req("apps"):
        sources = []
        for s in a.get("sources", []):
            for key, why in REFUSED.items():
                if s.has(key):
                    s.problem(key, f"'{key}' is not supported: {why}", "drop it")
            sources.append(Source(s.req("repoURL"), s.get("desiredCommitFromStep")))
        apps.append(App(a.req("name"), a.get("namespace"), tuple(sources)))
    return Config(tuple(apps))


KIND = StepKind(
    "argocd-update",
    Role.HEALTH,
    TABLE,
    build,
    doc="the Argo CD application that tells whether the stage is healthy",
)

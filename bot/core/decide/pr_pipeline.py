"""The pipeline graph in every promotion PR body, kept current. Pure.

Runs after every stage is planned, because a PR's graph shows the whole pipeline as this
plan leaves it (the decisions of stages planned after the PR's own included). The
lifecycle writes the body's own part and compares it without the graph
(:func:`bot.core.pipeline.without_pipeline`); here the graph is added to each PR this
plan opens or rewrites, and a PR whose graph alone is out of date is rewritten too. The
graph is made from typed values only, so an unchanged world rewrites no PR.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bot.core.decide.actions import OpenPromotionPR, Plan, UpdatePromotionPR
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import DecisionKind
from bot.core.model import Config
from bot.core.pipeline import pipeline, pipeline_markdown, with_pipeline, without_pipeline

PR_BODY_MAX: Final = 65_536  # GitHub refuses a longer pull request body
# The decisions after which the lifecycle has compared the PR's text (and may rewrite it).
_KEPT: Final = frozenset({DecisionKind.WAITING, DecisionKind.STUCK})


def draw_pipeline_in_prs(config: Config, p: Plan, obs: Observations) -> None:
    """Add the pipeline, with the PR's own stage highlighted, to the PR texts of ``p``."""
    view = pipeline(config, p.ledger, p.decisions)

    def full(stage: str, body: str) -> str:
        base = without_pipeline(body)
        section = pipeline_markdown(view, highlight=stage, budget=PR_BODY_MAX - len(base) - 1)
        return with_pipeline(base, section)

    for i, a in enumerate(p.actions):
        if isinstance(a, OpenPromotionPR | UpdatePromotionPR):
            p.actions[i] = replace(a, body=full(a.stage, a.body))
    rewritten = {a.stage for a in p.actions if isinstance(a, UpdatePromotionPR)}
    for d in p.decisions:
        name = d.stage
        seen = obs.prs.get(name) if name is not None else None
        if name is None or seen is None or name in rewritten or d.kind not in _KEPT:
            continue
        if d.pr != seen.pr.number:
            continue
        body = full(name, seen.pr.body)
        if body != seen.pr.body:
            p.actions.append(
                UpdatePromotionPR(
                    stage=name,
                    pr=seen.pr.number,
                    title=seen.pr.title,
                    body=body,
                    head_sha=seen.pr.head_sha,
                )
            )
            rewritten.add(name)

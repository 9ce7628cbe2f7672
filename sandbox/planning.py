"""The seed's flask-app pipeline as the planner sees it: a config, a clock and observations.

Tests of the pure planner (``bot.core.decide``) build their inputs from here: ``CONFIG``
(dev auto, staging auto after 30 minutes, prod behind two approvals), ``T0`` (the
injected clock's start), and helpers that stand for what GitHub and the registry would
report after an action was applied. Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.decide.actions import OpenPromotionPR, Plan
from bot.core.decide.observations import Discovery, Observations, SubscriptionResult
from bot.core.decide.outcomes import Decision, DecisionKind, Subject
from bot.core.decide.pulls import PullRequest
from bot.core.discover.artifacts import Image
from bot.core.model import (
    Approvals,
    Approver,
    Config,
    FreightRequest,
    GitRepoUpdate,
    ImageSubscription,
    KustomizeImageUpdate,
    PromotionPolicy,
    Stage,
    Warehouse,
)
from bot.core.promote import promotion as promo
from bot.core.promote.exact import EditCheck, Origin, PrCheck

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
REPO = "ghcr.io/alkon/flask-app"
BOT = "shunter-bot"


def _stage(name: str, policy: PromotionPolicy, upstream: tuple[str, ...] = ()) -> Stage:
    return Stage(
        name=name,
        requested_freight=(
            FreightRequest("flask-app", direct=not upstream, upstream_stages=upstream),
        ),
        promotion_policy=policy,
        git_repo_updates=(GitRepoUpdate(kustomize=(KustomizeImageUpdate(REPO, f"env/{name}"),)),),
    )


CONFIG = Config(
    warehouses=(Warehouse("flask-app", (ImageSubscription(REPO, ">=1.8.0 <2.0.0"),)),),
    stages=(
        _stage("dev", PromotionPolicy(auto_promotion_enabled=True)),
        _stage(
            "staging",
            PromotionPolicy(
                auto_promotion_enabled=True, auto_promotion_delay=timedelta(minutes=30)
            ),
            ("dev",),
        ),
        _stage(
            "prod",
            PromotionPolicy(
                auto_promotion_enabled=False,
                approvals=Approvals(
                    required=True,
                    approvers=(Approver("team", "platform-team"), Approver("user", "tech-lead")),
                    minimum_approvals=2,
                ),
            ),
            ("staging",),
        ),
    ),
)
TEAMS: dict[str, frozenset[str] | str] = {"alkon/platform-team": frozenset({"alice", "bob"})}


def found(tag: str) -> dict[str, Discovery]:
    """What discovery reports when the registry's newest matching tag is ``tag``."""
    img = Image(REPO, tag, "sha256:" + tag.replace(".", "").ljust(64, "0"))
    return {"flask-app": Discovery("flask-app", (SubscriptionResult(f"image {REPO}", (img,)),))}


def pr_for(p: Plan, stage: str, number: int, **kw: object) -> PullRequest:
    """The PR GitHub would show after the plan's open action for ``stage`` was applied."""
    (action,) = [a for a in p.actions if isinstance(a, OpenPromotionPR) and a.stage == stage]
    fields: dict[str, object] = {
        "number": number,
        "url": f"http://gh/pull/{number}",
        "title": action.title,
        "body": action.body,
        "author": BOT,
        "head_branch": promo.branch_for(stage),
        "head_sha": f"{number:040d}",
        "base_branch": "main",
        "state": "open",
        "merged": False,
        "merged_by": None,
        "merge_commit_sha": None,
        "created_at": T0,
    }
    fields.update(kw)
    return PullRequest(**fields)  # type: ignore[arg-type]


def merged(pr: PullRequest, by: str = BOT, at: datetime = T0) -> PullRequest:
    """``pr`` as GitHub shows it once ``by`` merged it at ``at``."""
    return replace(
        pr, state="closed", merged=True, merged_by=by, merge_commit_sha="m" * 40, merged_at=at
    )


#: What the loop reports for the bot's own PR whose change is exactly its edit.
EXACT = PrCheck(Origin.OURS, EditCheck())


def obs(**kw: object) -> Observations:
    """Observations with the bot's login and the platform team filled in; a PR given
    without a check (in ``prs``, or merged in ``recent``) is the bot's own and exactly
    its edit (as the loop would find)."""
    kw.setdefault("bot_login", BOT)
    kw.setdefault("teams", TEAMS)
    prs = kw.get("prs")
    if isinstance(prs, dict):
        kw["prs"] = {
            k: v if v.check is not None else replace(v, check=EXACT) for k, v in prs.items()
        }
    recent = kw.get("recent")
    if isinstance(recent, dict) and "recent_checks" not in kw:
        kw["recent_checks"] = {pr.number: EXACT for prs_ in recent.values() for pr in prs_}
    return Observations(**kw)  # type: ignore[arg-type]


def kinds(p: Plan) -> list[tuple[str, str]]:
    """The plan's actions as (action type, stage) pairs, in order."""
    return [(type(a).__name__, a.stage) for a in p.actions]


def said(p: Plan, stage: str, kind: DecisionKind | None = None) -> Decision:
    """The one decision (of ``kind``, when given) the plan made about ``stage``."""
    (d,) = [
        d
        for d in p.decisions
        if d.subject == Subject.stage(stage) and (kind is None or d.kind is kind)
    ]
    return d

"""The planner: ``plan(config, ledger, observations, now) -> Plan``. Pure.

Given what Shunter remembers (the ledger) and what it just saw (observations), decide
what the world should look like and which actions get it there. The reconcile loop
applies the actions, observes again and plans again until nothing is left to do, so each
plan only has to take the next step: open a promotion PR, merge it, record a merge.

Every stage and warehouse gets a typed ``Decision`` saying what it does or waits for,
and every change to the ledger is a typed ``Change`` (``bot.core.decide.outcomes``);
the PR body, the step summary and ``reconcile --dry-run`` render them.

``plan`` is the one entry; each concern is its own module:

==================  ===========================================================
``fold``            a warehouse's discovery folded into the ledger as freight
``retention``       which freight is kept, pruning the rest
``selection``       what a stage may take and should run next
``lifecycle``       the promotion PR (or direct push): open, rewrite, merge, record
``promotion_gates`` the merge gates of one promotion (``gates`` holds each rule)
``verification``    verification steps of what a stage runs
``health``          a stage's health in the ledger
``actions``         the actions and the ``Plan`` they travel in
``pr_pipeline``     the pipeline graph in each promotion PR body
==================  ===========================================================
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.decide.actions import Plan
from bot.core.decide.fold import fold_discovery
from bot.core.decide.outcomes import Failure
from bot.core.decide.retention import retain
from bot.core.ledger import copy_ledger

# A discovery-only plan (``refresh`` without the GitHub API) folds discovery and retains:
# the stages' concerns (the PR lifecycle with the promotion steps it runs, gates,
# verification) are imported by the plan that reaches them, so a refresh does not pay
# for their modules and dataclasses at start-up.
if TYPE_CHECKING:
    from bot.core.decide.observations import Observations
    from bot.core.ledger import Ledger
    from bot.core.model import Config, Stage

__all__ = ["plan"]


def plan(
    config: Config,
    ledger: Ledger,
    obs: Observations,
    now: datetime,
    *,
    owner: str = "",
    discovery_only: bool = False,
) -> Plan:
    """Return the next step towards the desired state, and the ledger after it.

    ``ledger`` is not modified. ``owner`` is the repository owner (teams named without an
    org belong to it). ``discovery_only`` records new freight and leaves stages alone (a
    refresh without the GitHub API). Never raises for anything the world did: failures
    become decisions.
    """
    p = Plan(ledger=copy_ledger(ledger), warehouses={w.name: w for w in config.warehouses})
    for wh in config.warehouses:
        fold_discovery(wh.name, p, obs, now)
    if discovery_only:
        retain(config, p, now)
        return p
    from bot.core.decide.emergency import promoted_by_hand, unattested_approvals
    from bot.core.decide.pr_pipeline import draw_pipeline_in_prs

    # A request in the ledger handed to the planner was received by this run (the loop
    # drops any read from the state branch); with the stages the loop says received one
    # earlier in the run, these are the only stages whose emergency skips gates.
    received = {name for name, rec in ledger.stages.items() if rec.request is not None}
    by_hand = {
        name
        for name, rec in ledger.stages.items()
        if rec.request is not None and promoted_by_hand(rec.request)
    }
    obs = replace(obs, granted=obs.granted | received, by_hand=obs.by_hand | by_hand)
    for stage in config.stages:
        _stage(config, stage, p, obs, now, owner)
    if obs.forge:
        attested = {s: f for s, f in obs.attested.items() if not isinstance(f, Failure)}
        p.inconsistencies += unattested_approvals(config, p.ledger, attested, obs.granted)
    retain(config, p, now)
    draw_pipeline_in_prs(config, p, obs)
    return p


def _stage(
    config: Config, stage: Stage, p: Plan, obs: Observations, now: datetime, owner: str
) -> None:
    """One stage's step: fold in what GitHub and the providers say, then move it on."""
    from bot.core.decide.health import follow_health
    from bot.core.decide.lifecycle import drive, record_unrecorded, sync_open_promotion
    from bot.core.decide.selection import choose
    from bot.core.decide.truth import confirm_main
    from bot.core.decide.verification import follow_verification

    rec = p.ledger.stage(stage.name)
    sync_open_promotion(stage, rec, p, obs, now)
    record_unrecorded(stage, rec, p, obs, now)
    unknown_on_main = confirm_main(stage, rec, p, obs, now)
    follow_health(stage, rec, p, obs, now)
    follow_verification(config, stage, rec, p, obs, now)
    grant = obs.attested.get(stage.name)
    # A stage whose request this run received holds its grant first-hand.
    judge = obs.forge and stage.name not in obs.granted
    choice = choose(
        config, stage, p, now, obs.unbacked, grant=grant, judge=judge,
        unknown_on_main=unknown_on_main,
    )  # fmt: skip
    if choice is not None:
        c = choice
        drive(stage, rec, c.desired, c.current, c.kind, c.by, c.reason, p, obs, now, owner)

"""The merge gates of one promotion: approvals, conditions, schedule, auto-promotion. Pure.

Each condition's own rule lives in :mod:`bot.core.decide.gates`; this module assembles
the gates that apply to a stage's open promotion, as typed
:class:`~bot.core.decide.outcomes.Gate` values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from bot.core.decide import gates as g
from bot.core.decide.approvals import ApprovalResult, count_approvals
from bot.core.decide.emergency import skips_gates
from bot.core.decide.mainrules import BranchRules, describe_block, managed_paths, merge_blocks
from bot.core.decide.observations import Observations, PromotionPR
from bot.core.decide.outcomes import (
    Gate,
    GateKind,
)
from bot.core.ledger import (
    Ledger,
    OpenPromotion,
)
from bot.core.model import Stage


def promotion_gates(
    stage: Stage,
    open_: OpenPromotion,
    seen: PromotionPR | None,
    obs: Observations,
    owner: str,
    led: Ledger,
    now: datetime,
) -> tuple[list[Gate], ApprovalResult | None]:
    """The merge gates of the stage's open promotion.

    Emergency promotions and rollbacks skip approvals and conditions (a person with the
    configured permission asked, with a reason); a pause still stops them.
    """
    policy = stage.promotion_policy
    gates: list[Gate] = []
    # Emergency powers come from a request this run received, never from the ledger.
    emergency = skips_gates(open_.kind, stage.name in obs.granted)
    approvals = policy.approvals
    result: ApprovalResult | None = None
    if seen is not None and (seen.check is None or not seen.check.exact):
        # Only a holding contents gate is listed: an exact edit is the normal case.
        why = "GitHub did not answer" if seen.check is None else "not Shunter's"
        gates.append(Gate(GateKind.CONTENTS, False, why))
    if approvals is not None and approvals.required and not emergency:
        if seen is None:
            result = ApprovalResult(approved_by=(), needed=approvals.minimum_approvals)
        else:
            result = count_approvals(
                approvals,
                seen.pr,
                seen.reviews,
                teams=obs.teams,
                owner=owner,
                excluded=frozenset({seen.pr.author, obs.bot_login, open_.by}),
                pushers=seen.check.pushers if seen.check is not None else frozenset(),
                permissions=obs.permissions,
                deadline=(
                    open_.started_at + approvals.timeout if approvals.timeout is not None else None
                ),
            )
        gates.append(Gate(GateKind.APPROVALS, result.satisfied, result.detail(approvals)))
        gates += [Gate(GateKind.NOT_COUNTED, True, text) for text in result.ignored]
    if emergency:
        detail = f"{open_.kind} promotion by {open_.by}: {open_.reason}"
        gates.append(Gate(GateKind.EMERGENCY, True, detail))
        return gates, result
    gates += _conditions(stage, open_.freight, obs, led, now)
    if not policy.auto_promotion_enabled and (approvals is None or not approvals.required):
        gates.append(Gate(GateKind.AUTO_PROMOTION, False, "a person merges this PR"))
    elif policy.auto_promotion_enabled:
        gates.append(Gate(GateKind.AUTO_PROMOTION, True))
    return gates, result


def main_rules_gate(stage: Stage, seen: PromotionPR, obs: Observations) -> Gate | None:
    """GitHub's own rules for merging into the PR's base branch, as a gate: ``None`` when
    the branch has none or the token bypasses them; holding when a look-up failed (GitHub
    still decides at merge time, so passing here lets nothing through on its own)."""
    base = seen.pr.base_branch
    rules = obs.main_rules.get(base)
    if rules is None:
        return None
    if not isinstance(rules, BranchRules):
        return Gate(GateKind.MAIN_RULES, True, f"{base}'s rules unknown ({rules.render()})")
    if rules.can_bypass or (rules.protection_readable and not rules.restricts_merge):
        return None
    checks = obs.checks.get(stage.name)
    blocks = merge_blocks(
        rules,
        author=seen.pr.author,
        head_sha=seen.pr.head_sha,
        reviews=seen.reviews,
        checks=checks if isinstance(checks, tuple) else (),
        own_checks=frozenset(g.SHUNTER_CHECKS),
        changed_files=managed_paths(stage),
        codeowners=obs.codeowners,
        team_members={k: v for k, v in obs.teams.items() if isinstance(v, frozenset)},
        mergeable_state=seen.pr.mergeable_state,
    )
    if not blocks:
        return Gate(GateKind.MAIN_RULES, True, f"{base}'s rules hold")
    return Gate(GateKind.MAIN_RULES, False, "; ".join(describe_block(b) for b in blocks))


def _tz(obs: Observations, name: str | None) -> tzinfo | None:
    """The zone called ``name`` (UTC when none is named); ``None`` if it is unknown."""
    if not name or name == "UTC":
        return UTC
    return obs.timezones.get(name)


def _window(
    kind: GateKind, cron: str, window: timedelta, now: datetime, obs: Observations, tz: str | None
) -> Gate:
    zone = _tz(obs, tz)
    if zone is None:
        # A misspelt zone must not silently become UTC: the gate stays closed.
        return Gate(kind, False, f"unknown timezone {tz!r} (write an IANA name like Europe/Berlin)")
    gate, _ = g.window_gate(kind, cron, window, now, zone)
    return gate


def _conditions(
    stage: Stage, freight: str, obs: Observations, led: Ledger, now: datetime
) -> list[Gate]:
    """The stage's ``conditions`` and ``schedule``, evaluated now."""
    policy = stage.promotion_policy
    out: list[Gate] = []
    upstream = g.upstream_of(stage)
    for c in policy.conditions:
        if c.type == "HealthyFor":
            names = upstream or (stage.name,)
            since = {n: led.stage(n).healthy_since for n in names}
            out.append(g.healthy_for(names, c.duration or timedelta(0), since, obs.health, now))
        elif c.type == "BusinessHoursOnly":
            out.append(
                _window(
                    GateKind.BUSINESS_HOURS,
                    c.schedule or g.DEFAULT_BUSINESS_HOURS,
                    c.window or timedelta(hours=1),
                    now,
                    obs,
                    c.timezone,
                )
            )
        elif c.type == "VerificationPassed":
            rec = led.freight.get(freight)
            missing = [
                u
                for u in upstream
                if rec is None or u not in rec.verified_in or (freight, u) in obs.unbacked
            ]
            if obs.attested.get(stage.name) == freight:
                missing = []  # a person's attested grant stands in for verification
            want = c.status.lower() != "false"
            vp = GateKind.VERIFICATION_PASSED
            if not want:
                out.append(Gate(vp, True, "not required (status False)"))
            elif missing:
                out.append(Gate(vp, False, f"not verified in {', '.join(missing)}"))
            else:
                where = ", ".join(upstream) or "no upstream stage"
                out.append(Gate(vp, True, f"verified in {where}"))
        elif c.type == "SecurityScanPassed":
            if c.status.lower() == "false":
                out.append(Gate(GateKind.SECURITY_SCAN, True, "not required (status False)"))
            else:
                out.append(
                    g.security_scan(obs.checks.get(stage.name), obs.code_scanning.get(stage.name))
                )
        elif c.type == "NoActiveIncidents":
            out.append(g.no_active_incidents(c, obs.incidents))
    if policy.schedule:
        out.append(
            _window(
                GateKind.SCHEDULE,
                policy.schedule,
                policy.schedule_window,
                now,
                obs,
                policy.timezone,
            )
        )
    return out

"""The conditions a promotion must meet before its PR is merged, each a pure function.

Every function returns a :class:`~bot.core.decide.outcomes.Gate`: its kind, whether it
lets the promotion through, and the specifics people read in the PR body's checklist,
the step summary and ``reconcile --dry-run``. Nothing here reads a clock: ``now`` is
always a parameter. Details contain no times that change from run to run, so an
unchanged world rewrites no PR body. A look-up that failed arrives as a
:class:`~bot.core.decide.outcomes.Failure` and closes the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from bot.core.decide.observations import CheckRun, HealthReport
from bot.core.decide.outcomes import Failure, Gate, GateKind
from bot.core.model import Condition, Stage

DEFAULT_BUSINESS_HOURS = "0 9-17 * * MON-FRI"
#: The check run Shunter publishes on every pull request into a branch its stages write:
#: on a promotion PR, whether the stage's gates hold; on any other PR, whether it leaves
#: the promoted values alone (``bot.core.decide.prgate``). Branch protection can require it.
GATE_CHECK = "shunter/gate"
#: The check's name before it covered every PR: a rule requiring it waits for nothing.
PREVIOUS_GATE_CHECK = "shunter/approvals"
#: Checks Shunter publishes itself (not evidence of anyone else's scan).
SHUNTER_CHECKS = (GATE_CHECK,)


def fmt_duration(d: timedelta) -> str:
    """``1h5m``, ``30m``, ``45s``: the way the config writes durations."""
    secs = max(0, int(d.total_seconds()))
    days, secs = divmod(secs, 86400)
    hours, secs = divmod(secs, 3600)
    mins, secs = divmod(secs, 60)
    out = (
        (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    )
    if secs and not days and not hours:
        out += f"{secs}s"
    return out or "0s"


def window_gate(
    kind: GateKind, cron: str, window: timedelta, now: datetime, tz: tzinfo
) -> tuple[Gate, datetime | None]:
    """Is ``now`` inside a slot of ``cron`` (slots open at each cron time, for ``window``)?

    Scheduled runs start late, so a slot stays open for ``window`` rather than one minute.
    Returns the gate of ``kind`` (a schedule or business hours) and, when it is closed,
    when the next slot opens.
    """
    from croniter import croniter

    local = now.astimezone(tz)
    # A run at exactly a slot's time is inside it (croniter's get_prev is strictly before).
    prev = croniter(cron, local + timedelta(seconds=1)).get_prev(datetime)
    if local < prev + window:
        return Gate(kind, True, f"inside the slot opened at {cron!r}"), None
    nxt = croniter(cron, local).get_next(datetime)
    return Gate(kind, False, f"outside {cron!r} (slots stay open {fmt_duration(window)})"), nxt


def healthy_for(
    stage_names: tuple[str, ...],
    duration: timedelta,
    healthy_since: Mapping[str, datetime | None],
    health: Mapping[str, HealthReport],
    now: datetime,
) -> Gate:
    """HealthyFor: every stage in ``stage_names`` healthy without a break for ``duration``."""
    waiting = []
    for s in stage_names:
        since = healthy_since.get(s)
        report = health.get(s)
        if since is None:
            why = report.message if report is not None else "no health reported yet"
            waiting.append(f"{s} is not healthy ({why})")
        elif now - since < duration:
            waiting.append(f"{s} healthy for less than {fmt_duration(duration)}")
    if waiting:
        return Gate(GateKind.HEALTHY_FOR, False, f"{fmt_duration(duration)}: " + "; ".join(waiting))
    healthy = f"{fmt_duration(duration)}: {', '.join(stage_names)} healthy"
    return Gate(GateKind.HEALTHY_FOR, True, healthy)


def no_active_incidents(
    condition: Condition, incidents: Mapping[str, tuple[str, ...] | Failure]
) -> Gate:
    """NoActiveIncidents: no triggered or acknowledged incident in any named integration.

    An integration that could not be asked fails closed.
    """
    problems = []
    for integration in condition.integrations or ("pagerduty",):
        got = incidents.get(integration)
        if got is None:
            problems.append(f"{integration} was not asked")
        elif isinstance(got, Failure):
            problems.append(f"{integration} could not be asked: {got.detail}")
        elif got:
            problems.append(f"{integration}: {len(got)} active ({'; '.join(got[:3])})")
    if problems:
        return Gate(GateKind.NO_ACTIVE_INCIDENTS, False, "; ".join(problems))
    return Gate(GateKind.NO_ACTIVE_INCIDENTS, True, "none active")


def security_scan(
    checks: tuple[CheckRun, ...] | Failure | None, alerts: int | Failure | None
) -> Gate:
    """SecurityScanPassed: every check on the PR head completed well; no open code-scanning
    alert. Shunter's own checks do not count; a look-up that failed fails closed."""
    problems = []
    if checks is None:
        problems.append("check runs not looked up")
    elif isinstance(checks, Failure):
        problems.append(f"check runs could not be read: {checks.detail}")
    else:
        theirs = [c for c in checks if c.name not in (*SHUNTER_CHECKS, PREVIOUS_GATE_CHECK)]
        if not theirs:
            # Nothing has scanned this commit yet (a PR opened with GITHUB_TOKEN starts no
            # workflow): passing would mean "nobody looked", so the gate stays closed.
            problems.append("no check has run on the PR head yet")
        for c in theirs:
            if c.status != "completed":
                problems.append(f"{c.name} is {c.status.replace('_', ' ')}")
            elif c.conclusion not in ("success", "neutral", "skipped"):
                problems.append(f"{c.name} concluded {c.conclusion}")
    if isinstance(alerts, Failure):
        problems.append(f"code scanning could not be read: {alerts.detail}")
    elif alerts:
        problems.append(f"{alerts} open code-scanning alert(s)")
    if problems:
        return Gate(GateKind.SECURITY_SCAN, False, "; ".join(problems))
    return Gate(GateKind.SECURITY_SCAN, True, "checks green, no open alerts")


def upstream_of(stage: Stage) -> tuple[str, ...]:
    """The stages ``stage`` takes freight from (empty for a stage fed by a warehouse only)."""
    out: list[str] = []
    for req in stage.requested_freight:
        out += [u for u in req.upstream_stages if u not in out]
    return tuple(out)

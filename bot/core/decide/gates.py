"""The conditions a promotion must meet before its PR is merged, each a pure function.

Every function returns ``(holds, text)``: whether the gate lets the promotion through,
and one line saying why, which goes into the PR body's checklist, the step summary and
``reconcile --dry-run``. Nothing here reads a clock: ``now`` is always a parameter.
Texts contain no times that change from run to run, so an unchanged world rewrites no
PR body.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from bot.core.decide.observations import CheckRun, HealthReport
from bot.core.model import Condition, Stage

Gate = tuple[bool, str]

DEFAULT_BUSINESS_HOURS = "0 9-17 * * MON-FRI"
SHUNTER_CHECKS = ("shunter/approvals",)


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
    name: str, cron: str, window: timedelta, now: datetime, tz: tzinfo
) -> tuple[bool, str, datetime | None]:
    """Is ``now`` inside a slot of ``cron`` (slots open at each cron time, for ``window``)?

    Scheduled runs start late, so a slot stays open for ``window`` rather than one minute.
    Returns (open, text, when the next slot opens if closed).
    """
    from croniter import croniter

    local = now.astimezone(tz)
    # A run at exactly a slot's time is inside it (croniter's get_prev is strictly before).
    prev = croniter(cron, local + timedelta(seconds=1)).get_prev(datetime)
    if local < prev + window:
        return True, f"{name}: inside the slot opened at {cron!r}", None
    nxt = croniter(cron, local).get_next(datetime)
    return False, f"{name}: outside {cron!r} (slots stay open {fmt_duration(window)})", nxt


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
        return False, f"HealthyFor {fmt_duration(duration)}: " + "; ".join(waiting)
    return True, f"HealthyFor {fmt_duration(duration)}: {', '.join(stage_names)} healthy"


def no_active_incidents(
    condition: Condition, incidents: Mapping[str, tuple[str, ...] | str]
) -> Gate:
    """NoActiveIncidents: no triggered or acknowledged incident in any named integration.

    An integration that could not be asked fails closed.
    """
    problems = []
    for integration in condition.integrations or ("pagerduty",):
        got = incidents.get(integration)
        if got is None:
            problems.append(f"{integration} was not asked")
        elif isinstance(got, str):
            problems.append(f"{integration} could not be asked: {got}")
        elif got:
            problems.append(f"{integration}: {len(got)} active ({'; '.join(got[:3])})")
    if problems:
        return False, "NoActiveIncidents: " + "; ".join(problems)
    return True, "NoActiveIncidents: none active"


def security_scan(checks: tuple[CheckRun, ...] | str | None, alerts: int | str | None) -> Gate:
    """SecurityScanPassed: every check on the PR head completed well; no open code-scanning
    alert. Shunter's own checks do not count; a look-up that failed fails closed."""
    problems = []
    if checks is None:
        problems.append("check runs not looked up")
    elif isinstance(checks, str):
        problems.append(f"check runs could not be read: {checks}")
    else:
        theirs = [c for c in checks if c.name not in SHUNTER_CHECKS]
        if not theirs:
            # Nothing has scanned this commit yet (a PR opened with GITHUB_TOKEN starts no
            # workflow): passing would mean "nobody looked", so the gate stays closed.
            problems.append("no check has run on the PR head yet")
        for c in theirs:
            if c.status != "completed":
                problems.append(f"{c.name} is {c.status.replace('_', ' ')}")
            elif c.conclusion not in ("success", "neutral", "skipped"):
                problems.append(f"{c.name} concluded {c.conclusion}")
    if isinstance(alerts, str):
        problems.append(f"code scanning could not be read: {alerts}")
    elif alerts:
        problems.append(f"{alerts} open code-scanning alert(s)")
    if problems:
        return False, "SecurityScanPassed: " + "; ".join(problems)
    return True, "SecurityScanPassed: checks green, no open alerts"


def upstream_of(stage: Stage) -> tuple[str, ...]:
    """The stages ``stage`` takes freight from (empty for a stage fed by a warehouse only)."""
    out: list[str] = []
    for req in stage.requested_freight:
        out += [u for u in req.upstream_stages if u not in out]
    return tuple(out)

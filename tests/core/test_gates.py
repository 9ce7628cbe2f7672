"""Each condition gate on its own, with an injected clock and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.decide import gates as g
from bot.core.decide.observations import CheckRun, HealthReport
from bot.core.decide.outcomes import Failure, FailureKind, Gate, GateKind, System
from bot.core.model import Condition

MON_10 = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (MON_10, True),
        (datetime(2026, 11, 23, 17, 59, tzinfo=UTC), True),  # the 17:00 slot lasts an hour
        (datetime(2026, 11, 23, 18, 0, tzinfo=UTC), False),
        (datetime(2026, 11, 23, 8, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 28, 10, 30, tzinfo=UTC), False),  # Saturday
    ],
)
def test_business_hours(now: datetime, open_: bool) -> None:
    gate, nxt = g.window_gate(
        GateKind.BUSINESS_HOURS, g.DEFAULT_BUSINESS_HOURS, timedelta(hours=1), now, UTC
    )
    assert (gate.kind, gate.holds) == (GateKind.BUSINESS_HOURS, open_)
    assert "BusinessHoursOnly" in gate.render()
    assert (nxt is None) is open_


def test_window_uses_the_time_zone() -> None:
    # 10:30 UTC is 11:30 in Berlin in November; 08:30 UTC is 09:30 there.
    berlin = ZoneInfo("Europe/Berlin")
    early = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    w = GateKind.SCHEDULE
    assert g.window_gate(w, "0 9-17 * * MON-FRI", timedelta(hours=1), early, UTC)[0].holds is False
    assert g.window_gate(w, "0 8-17 * * MON-FRI", timedelta(hours=1), early, berlin)[0].holds


def test_tuesday_two_pm_schedule_with_a_late_run() -> None:
    tue = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    cron = "0 14 * * TUE"
    s = GateKind.SCHEDULE
    assert g.window_gate(s, cron, timedelta(hours=1), tue + timedelta(minutes=25), UTC)[0].holds
    assert g.window_gate(s, cron, timedelta(hours=1), tue + timedelta(hours=2), UTC)[0].blocks


def test_healthy_for_needs_an_unbroken_stretch() -> None:
    now = MON_10
    health = {"dev": HealthReport(True, "Healthy")}
    gate = g.healthy_for(
        ("dev",), timedelta(minutes=10), {"dev": now - timedelta(minutes=4)}, health, now
    )
    assert gate.blocks and "healthy for less than 10m" in gate.render()
    assert gate.kind is GateKind.HEALTHY_FOR
    gate = g.healthy_for(
        ("dev",), timedelta(minutes=10), {"dev": now - timedelta(minutes=11)}, health, now
    )
    assert gate.holds
    gate = g.healthy_for(
        ("dev",),
        timedelta(minutes=10),
        {"dev": None},
        {"dev": HealthReport(False, "Degraded")},
        now,
    )
    assert gate.blocks and "Degraded" in gate.render()


def test_incidents_fail_closed() -> None:
    cond = Condition(type="NoActiveIncidents", integrations=("pagerduty",))
    assert g.no_active_incidents(cond, {"pagerduty": ()}).holds
    gate = g.no_active_incidents(cond, {"pagerduty": ("#12 DB down (checkout)",)})
    assert gate.blocks and "#12 DB down" in gate.render()
    refused = Failure(FailureKind.PERMANENT, System.PAGERDUTY, "401 Unauthorized")
    gate = g.no_active_incidents(cond, {"pagerduty": refused})
    assert gate.blocks and "could not be asked" in gate.render()
    assert g.no_active_incidents(cond, {}).blocks


def test_security_scan() -> None:
    green = (
        CheckRun("trivy", "completed", "success"),
        CheckRun("shunter/approvals", "in_progress", None),
    )
    assert g.security_scan(green, 0).holds
    gate = g.security_scan((CheckRun("trivy", "completed", "failure"),), 0)
    assert gate.blocks and "trivy concluded failure" in gate.render()
    gate = g.security_scan((CheckRun("trivy", "in_progress", None),), 0)
    assert gate.blocks and "trivy is in progress" in gate.render()
    gate = g.security_scan(green, 3)
    assert gate.blocks and "3 open code-scanning alert(s)" in gate.render()
    forbidden = Failure(FailureKind.PERMANENT, System.GITHUB, "403")
    assert g.security_scan(forbidden, 0).blocks
    assert g.security_scan(green, forbidden).blocks
    assert g.security_scan(None, 0).blocks


def test_a_run_at_exactly_the_slot_time_is_inside() -> None:
    at_nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert g.window_gate(GateKind.SCHEDULE, "0 9 * * *", timedelta(minutes=1), at_nine, UTC)[
        0
    ].holds


def test_security_scan_with_no_checks_at_all_stays_closed() -> None:
    gate = g.security_scan((CheckRun("shunter/approvals", "completed", "success"),), 0)
    assert gate.blocks and "no check has run on the PR head yet" in gate.render()


@pytest.mark.parametrize("kind", list(GateKind), ids=lambda k: k.name)
@pytest.mark.parametrize("holds", [True, False])
def test_every_gate_kind_renders_its_own_line(kind: GateKind, holds: bool) -> None:
    text = Gate(kind, holds, "DETAIL").render()
    assert text and "{" not in text
    others = {Gate(k, holds, "DETAIL").render() for k in GateKind if k is not kind}
    assert text not in others  # a reader can tell every gate from every other
    if kind not in (GateKind.AUTO_PROMOTION, GateKind.PAUSED, GateKind.HOLD) or not holds:
        assert "DETAIL" in text  # the specifics are never dropped when they matter

"""Each condition gate on its own, with an injected clock and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.decide import gates as g
from bot.core.decide.observations import CheckRun, HealthReport
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
    ok, text, nxt = g.window_gate(
        "BusinessHoursOnly", g.DEFAULT_BUSINESS_HOURS, timedelta(hours=1), now, UTC
    )
    assert ok is open_
    assert "BusinessHoursOnly" in text
    assert (nxt is None) is open_


def test_window_uses_the_time_zone() -> None:
    # 10:30 UTC is 11:30 in Berlin in November; 08:30 UTC is 09:30 there.
    berlin = ZoneInfo("Europe/Berlin")
    early = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert g.window_gate("w", "0 9-17 * * MON-FRI", timedelta(hours=1), early, UTC)[0] is False
    assert g.window_gate("w", "0 8-17 * * MON-FRI", timedelta(hours=1), early, berlin)[0] is True


def test_tuesday_two_pm_schedule_with_a_late_run() -> None:
    tue = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    cron = "0 14 * * TUE"
    assert g.window_gate("schedule", cron, timedelta(hours=1), tue + timedelta(minutes=25), UTC)[0]
    assert not g.window_gate("schedule", cron, timedelta(hours=1), tue + timedelta(hours=2), UTC)[0]


def test_healthy_for_needs_an_unbroken_stretch() -> None:
    now = MON_10
    health = {"dev": HealthReport(True, "Healthy")}
    ok, text = g.healthy_for(
        ("dev",), timedelta(minutes=10), {"dev": now - timedelta(minutes=4)}, health, now
    )
    assert not ok and "healthy for less than 10m" in text
    ok, _ = g.healthy_for(
        ("dev",), timedelta(minutes=10), {"dev": now - timedelta(minutes=11)}, health, now
    )
    assert ok
    ok, text = g.healthy_for(
        ("dev",),
        timedelta(minutes=10),
        {"dev": None},
        {"dev": HealthReport(False, "Degraded")},
        now,
    )
    assert not ok and "Degraded" in text


def test_incidents_fail_closed() -> None:
    cond = Condition(type="NoActiveIncidents", integrations=("pagerduty",))
    assert g.no_active_incidents(cond, {"pagerduty": ()})[0]
    ok, text = g.no_active_incidents(cond, {"pagerduty": ("#12 DB down (checkout)",)})
    assert not ok and "#12 DB down" in text
    ok, text = g.no_active_incidents(cond, {"pagerduty": "401 Unauthorized"})
    assert not ok and "could not be asked" in text
    assert not g.no_active_incidents(cond, {})[0]


def test_security_scan() -> None:
    green = (
        CheckRun("trivy", "completed", "success"),
        CheckRun("shunter/approvals", "in_progress", None),
    )
    assert g.security_scan(green, 0)[0]
    ok, text = g.security_scan((CheckRun("trivy", "completed", "failure"),), 0)
    assert not ok and "trivy concluded failure" in text
    ok, text = g.security_scan((CheckRun("trivy", "in_progress", None),), 0)
    assert not ok and "trivy is in progress" in text
    ok, text = g.security_scan(green, 3)
    assert not ok and "3 open code-scanning alert(s)" in text
    assert not g.security_scan("403", 0)[0]
    assert not g.security_scan(None, 0)[0]


def test_a_run_at_exactly_the_slot_time_is_inside() -> None:
    at_nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert g.window_gate("w", "0 9 * * *", timedelta(minutes=1), at_nine, UTC)[0]


def test_security_scan_with_no_checks_at_all_stays_closed() -> None:
    ok, text = g.security_scan((CheckRun("shunter/approvals", "completed", "success"),), 0)
    assert not ok and "no check has run on the PR head yet" in text

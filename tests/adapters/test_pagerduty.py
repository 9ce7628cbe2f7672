"""The PagerDuty adapter against the REST API v2 incident list and its offset pagination."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.pagerduty import PagerDutyClient
from bot.errors import PermanentError, TransientError
from sandbox.httpstub import HttpStub

API = "https://api.pagerduty.com"
INCIDENTS = f"{API}/incidents"
KEY = "pd-secret-key-456"


def incident(number: int, title: str, service: str, status: str = "triggered") -> dict[str, Any]:
    """One incident as GET /incidents lists it (the fields Shunter reads, plus a few)."""
    return {
        "id": f"PINC{number}",
        "type": "incident",
        "incident_number": number,
        "title": title,
        "status": status,
        "urgency": "high",
        "service": {"id": "PX1ABC2", "type": "service_reference", "summary": service},
    }


def page(items: list[Any], offset: int, more: bool) -> dict[str, Any]:
    return {"incidents": items, "limit": 100, "offset": offset, "more": more, "total": None}


def query(offset: int, services: tuple[str, ...] = ()) -> Any:
    params: dict[str, Any] = {
        "statuses[]": ["triggered", "acknowledged"],
        "limit": "100",
        "offset": str(offset),
    }
    if services:
        params["service_ids[]"] = list(services)
    return params


def test_open_incidents_are_listed_one_line_each_with_the_documented_headers(
    http_stub: HttpStub,
) -> None:
    http_stub.get(
        INCIDENTS,
        json=page(
            [
                incident(12, "DB down", "checkout"),
                incident(13, "High latency", "web", status="acknowledged"),
            ],
            0,
            False,
        ),
        query=query(0),
        match_headers={
            "Authorization": f"Token token={KEY}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
    )
    found = PagerDutyClient(KEY, network=http_stub.network).active_incidents(())
    assert found == ("#12 DB down (checkout)", "#13 High latency (web)")


def test_no_open_incident_is_an_empty_tuple(http_stub: HttpStub) -> None:
    http_stub.get(INCIDENTS, json=page([], 0, False))
    assert PagerDutyClient(KEY, network=http_stub.network).active_incidents(()) == ()


def test_only_the_named_services_are_asked_about(http_stub: HttpStub) -> None:
    http_stub.get(
        INCIDENTS,
        json=page([incident(7, "checkout down", "web")], 0, False),
        query=query(0, ("PX1ABC2", "PQ9XYZ0")),
    )
    found = PagerDutyClient(KEY, network=http_stub.network).active_incidents(("PX1ABC2", "PQ9XYZ0"))
    assert found == ("#7 checkout down (web)",)


def test_pages_are_followed_while_more_is_true(http_stub: HttpStub) -> None:
    first = [incident(n, f"incident {n}", "web") for n in range(1, 101)]
    http_stub.get(INCIDENTS, json=page(first, 0, True), query=query(0))
    http_stub.get(
        INCIDENTS, json=page([incident(101, "the last", "api")], 100, False), query=query(100)
    )
    found = PagerDutyClient(KEY, network=http_stub.network).active_incidents(())
    assert len(found) == 101
    assert found[0] == "#1 incident 1 (web)"
    assert found[-1] == "#101 the last (api)"


def test_a_custom_api_url_and_resolved_or_odd_entries(http_stub: HttpStub) -> None:
    http_stub.get(
        "https://pd.example.com/incidents",
        json=page(
            [
                incident(1, "fixed already", "web", status="resolved"),
                "not an incident",
                {"status": "triggered", "summary": "[#9] no number or service"},
            ],
            0,
            False,
        ),
    )
    found = PagerDutyClient(
        KEY, api_url="https://pd.example.com/", network=http_stub.network
    ).active_incidents(())
    assert found == ("[#9] no number or service",)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, PermanentError, ["HTTP 401", "PAGERDUTY_TOKEN", "REST API key"]),
        (403, PermanentError, ["HTTP 403", "tokenEnv"]),
        (404, PermanentError, ["HTTP 404", "integrations.pagerduty.apiURL"]),
        (400, PermanentError, ["HTTP 400"]),
        (500, TransientError, ["HTTP 500", "try again later"]),
    ],
)
def test_refusals_say_what_to_fix_and_never_show_the_key(
    http_stub: HttpStub, status: int, kind: type[Exception], words: list[str]
) -> None:
    http_stub.get(INCIDENTS, status=status, json={"error": {"message": "nope", "code": 2006}})
    with pytest.raises(kind) as info:
        PagerDutyClient(KEY, network=http_stub.network).active_incidents(())
    for word in words:
        assert word in str(info.value)
    assert KEY not in str(info.value)


def test_a_rate_limit_is_transient_with_its_retry_after(http_stub: HttpStub) -> None:
    http_stub.get(INCIDENTS, status=429, headers={"Retry-After": "30"})
    with pytest.raises(TransientError) as info:
        PagerDutyClient(KEY, network=http_stub.network).active_incidents(())
    assert info.value.retry_after == 30.0


def test_a_gateway_error_is_retried_before_it_counts(http_stub: HttpStub) -> None:
    http_stub.get(INCIDENTS, status=504)
    http_stub.get(INCIDENTS, json=page([incident(3, "queue stuck", "jobs")], 0, False))
    assert PagerDutyClient(KEY, network=http_stub.network).active_incidents(()) == (
        "#3 queue stuck (jobs)",
    )


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        ("stall", "did not answer within 0.3s"),
        ("refused", "could not be reached"),
        ("drop", "could not be reached"),
    ],
)
def test_network_failures_are_transient(http_stub: HttpStub, failure: str, words: str) -> None:
    if failure == "refused":
        http_stub.down("api.pagerduty.com")
    http_stub.get(INCIDENTS, json=page([], 0, False), delay=1.0 if failure == "stall" else 0.0,
                  drop=failure == "drop")  # fmt: skip
    with pytest.raises(TransientError, match=words):
        PagerDutyClient(KEY, timeout=0.3, network=http_stub.network).active_incidents(())


@pytest.mark.parametrize("body", ["<html>maintenance</html>", "[]", '{"incidents": null}'])
def test_an_answer_that_is_not_an_incident_list_is_transient(
    http_stub: HttpStub, body: str
) -> None:
    http_stub.get(INCIDENTS, body=body, content_type="application/json")
    with pytest.raises(TransientError):
        PagerDutyClient(KEY, network=http_stub.network).active_incidents(())


def test_a_server_that_always_says_more_is_not_followed_forever(http_stub: HttpStub) -> None:
    http_stub.get(INCIDENTS, json=page([incident(1, "loop", "web")], 0, True))
    found = PagerDutyClient(KEY, network=http_stub.network).active_incidents(())
    assert len(found) == 100  # the page cap, then the gate still sees incidents

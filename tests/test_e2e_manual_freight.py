"""Kargo's ``freightCreationPolicy: Manual``: discovery looks, freight only on request.

Driven through the real ``shunter`` command against the sandbox (real git, the real
registry, the GitHub sandbox); every assertion reads state: the ledger through
``get … -o json``, the state branch's audit log, files on ``main``, exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.decide.outcomes import DecisionKind
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, image_path_for, pipeline_world
from sandbox.registry import LocalRegistry

WAREHOUSE = Path(__file__).resolve().parents[1] / "examples/flask-app/kargo/warehouse.yaml"


@pytest.fixture
def p(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    manual = WAREHOUSE.read_text().replace("spec:\n", "spec:\n  freightCreationPolicy: Manual\n")
    path = image_path_for("manual", request.node.name)
    overrides = {"kargo/warehouse.yaml": manual}
    with pipeline_world(
        tmp_path / "world", oci_registry, path, overrides, conformance=github_conformance
    ) as pipeline:
        yield pipeline


def freight(p: Pipeline) -> dict[str, dict[str, Any]]:
    """The ledger's freight by tag (one image per freight here)."""
    rows = json.loads(p.shunter("get", "freight", "-o", "json"))
    return {r["images"][0]["tag"]: r for r in rows}


def reconcile(p: Pipeline) -> dict[str, Any]:
    return dict(json.loads(p.shunter("reconcile", "-o", "json")))


def test_a_scheduled_run_finds_but_makes_no_freight_until_refresh(p: Pipeline) -> None:
    p.w.push("1.8.4")
    ran = reconcile(p)
    assert freight(p) == {}
    assert p.version("dev") is None
    (said,) = [d for d in ran["decisions"] if d["stage"] == "warehouse/flask-app"]
    assert (said["kind"], said["blocked"]) == (DecisionKind.ON_REQUEST.value, False)
    (wh,) = json.loads(p.shunter("get", "warehouses", "-o", "json"))
    assert (wh["freightCreationPolicy"], wh["freight"]) == ("Manual", 0)
    # A person asks: refresh makes the freight discovery found, and the next run moves dev.
    p.shunter("refresh", "warehouse", "flask-app")
    assert list(freight(p)) == ["1.8.4"]
    reconcile(p)
    assert p.version("dev") == "1.8.4"
    assert "1.8.4" in p.w.main_file("env/dev/kustomization.yaml")
    # A newer tag is seen by the schedule and left alone: dev stays where it is.
    p.w.push("1.8.5")
    reconcile(p)
    assert list(freight(p)) == ["1.8.4"]
    assert p.version("dev") == "1.8.4"


def test_create_freight_makes_exactly_the_named_image_and_audits_it(p: Pipeline) -> None:
    p.w.push("1.8.4")
    digest = p.w.push("1.8.5")
    reconcile(p)
    head = p.state_head()
    repo = p.w.image_repo
    # A tag the registry does not hold: exit 1, nothing written.
    p.shunter(
        "create", "freight", "--warehouse", "flask-app", "--image", f"{repo}:1.9.9",
        "--reason", "hotfix", login="tech-lead", expect=1,
    )  # fmt: skip
    # A repository the warehouse does not watch, or no reason: usage errors (2).
    for argv in (
        ["--image", f"{repo}-other:1.8.4", "--reason", "hotfix"],
        ["--image", f"{repo}:1.8.4"],
        ["--image", f"{repo}:1.8.4", "--image", f"{repo}:1.8.5", "--reason", "two"],
    ):
        p.shunter("create", "freight", "--warehouse", "flask-app", *argv, login="tech-lead",
                  expect=2)  # fmt: skip
    # Someone with read access only may not.
    p.shunter(
        "create", "freight", "--warehouse", "flask-app", "--image", f"{repo}:1.8.4",
        "--reason", "mine", login="mallory", expect=1,
    )  # fmt: skip
    assert p.state_head() == head and freight(p) == {}

    # The older tag, though discovery would pick 1.8.5: the freight is exactly what is named.
    p.shunter(
        "create", "freight", "--warehouse", "flask-app", "--image", f"{repo}:1.8.4",
        "--reason", "pin 1.8.4 for the audit", login="tech-lead",
    )  # fmt: skip
    made = freight(p)
    assert list(made) == ["1.8.4"]
    assert made["1.8.4"]["images"][0]["repoURL"] == repo
    assert p.version("dev") == "1.8.4"  # the same run promoted it (dev is automatic)
    # Without --image, the subscription takes discovery's selection, with the registry's digest.
    p.shunter(
        "create", "freight", "--warehouse", "flask-app", "--reason", "take the newest",
        login="tech-lead",
    )  # fmt: skip
    made = freight(p)
    assert sorted(made) == ["1.8.4", "1.8.5"]
    assert made["1.8.5"]["images"][0]["digest"] == digest
    assert "1.8.5" in p.w.main_file("env/dev/kustomization.yaml")
    assert [
        (o["operation"], o["warehouse"], o["by"], o["reason"], o["freight"])
        for o in p.operations()
    ] == [
        ("create-freight", "flask-app", "tech-lead", "pin 1.8.4 for the audit",
         made["1.8.4"]["name"]),
        ("create-freight", "flask-app", "tech-lead", "take the newest", made["1.8.5"]["name"]),
    ]  # fmt: skip
    assert all(o["at"] for o in p.operations())


def test_an_event_for_a_manual_warehouse_makes_no_freight(p: Pipeline, tmp_path: Path) -> None:
    p.w.push("1.8.4")
    dispatch = tmp_path / "dispatch.json"
    dispatch.write_text(
        json.dumps({"action": "shunter-refresh", "client_payload": {"warehouse": "flask-app"}})
    )
    p.shunter("run", GITHUB_EVENT_NAME="repository_dispatch", GITHUB_EVENT_PATH=str(dispatch))
    assert freight(p) == {}
    # A person's workflow_dispatch refresh does make it.
    run = p.dispatch("tech-lead")
    p.shunter(
        "run",
        GITHUB_RUN_ID=run,
        GITHUB_EVENT_NAME="workflow_dispatch",
        SHUNTER_OPERATION="refresh",
        SHUNTER_WAREHOUSE="flask-app",
    )
    assert list(freight(p)) == ["1.8.4"]

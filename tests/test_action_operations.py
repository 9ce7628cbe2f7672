"""Every emergency verb of the command line can be run from the Action: the ``operation``
input of ``action.yml``, the dispatch form of each example workflow and ``shunter run``
offer the same operations, and ``approve`` dispatched from the Actions tab records the
approval as the CLI's does.

The verbs are read from the CLI's own parser, so a new command is either an operation
or listed here as not being one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import COMMANDS
from bot.commands.run import OPERATIONS
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import ACTIONS_BOT

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
WORKFLOWS = [
    ROOT / "examples" / "flask-app" / ".github" / "workflows" / "shunter.yml",
    ROOT / "examples" / "app-token" / ".github" / "workflows" / "shunter.yml",
]
#: Commands that are not emergency operations, and why.
NOT_OPERATIONS = {
    "validate": "reads the config",
    "schema": "prints the schema",
    "reconcile": "the normal run (operation empty or reconcile)",
    "run": "the Action's own entry point",
    "get": "reads the ledger",
    "describe": "reads the ledger",
    "dashboard": "writes a static page from the ledger: the Action's dashboard input",
    "notify": "the Action's mode notify",
    "doctor": "the Action's diagnosis step",
    "create": "create freight names images, which the CLI takes; the workflow's refresh "
    "operation makes a Manual warehouse's freight",
    "check-pr": "the gate check of the examples' gate job (operation check-pr), no emergency",
}
#: The operations each CLI verb is offered as.
AS_OPERATIONS = {"promote": {"promote", "promote-from", "rollback"}}


def cli_verbs() -> set[str]:
    return set(COMMANDS)


def dispatch_options(path: Path) -> list[str]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    on = data["on"] if "on" in data else data[True]  # YAML 1.1 reads `on` as true
    return list(on["workflow_dispatch"]["inputs"]["operation"]["options"])


def test_every_emergency_verb_of_the_cli_is_an_operation_of_the_action() -> None:
    verbs = cli_verbs()
    assert set(NOT_OPERATIONS) <= verbs  # the list above names real commands
    offered = set().union(*(AS_OPERATIONS.get(v, {v}) for v in verbs - set(NOT_OPERATIONS)))
    assert "approve" in offered
    assert set(OPERATIONS) == offered  # shunter run takes exactly these
    # "Emergency operation: promote | promote-from | ... | release-hold. Empty ..."
    described = yaml.safe_load(ACTION.read_text())["inputs"]["operation"]["description"]
    listed = described.split(":", 1)[1].split(".", 1)[0]
    assert {op.strip() for op in listed.split("|")} == offered
    for path in WORKFLOWS:
        assert dispatch_options(path) == ["reconcile", *OPERATIONS], path


@pytest.fixture
def pipeline(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> Iterator[Pipeline]:
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/action-approve", conformance=github_conformance
    ) as p:
        yield p


def approved_for(p: Pipeline, stage: str) -> dict[str, Any]:
    """Each freight's approval for ``stage`` in the ledger (``get freight -o json``)."""
    rows = json.loads(p.shunter("get", "freight", "-o", "json"))
    return {r["alias"]: r["status"]["approvedFor"].get(stage) for r in rows}


def test_approve_dispatched_from_the_actions_tab_is_recorded_for_its_asker(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    (alias,) = approved_for(p, "prod")
    run = p.dispatch("tech-lead")

    def approve(freight: str, *, expect: int) -> None:
        """tech-lead's dispatch of operation approve, as the workflow's run sees it."""
        p.shunter(
            "run",
            expect=expect,
            login=ACTIONS_BOT,
            GITHUB_RUN_ID=run,
            GITHUB_EVENT_NAME="workflow_dispatch",
            SHUNTER_OPERATION="approve",
            SHUNTER_FREIGHT=freight,
            SHUNTER_STAGE="prod",
            SHUNTER_REASON="hotfix skips staging",
        )

    # Without the freight input it is a usage error (2), and nothing is approved.
    approve("", expect=2)
    assert approved_for(p, "prod") == {alias: None}
    approve(alias, expect=0)
    assert approved_for(p, "prod") == {alias: {"by": "tech-lead"}}
    (record,) = [o for o in p.operations() if o["operation"] == "approve"]
    assert (record["stage"], record["by"]) == ("prod", "tech-lead")

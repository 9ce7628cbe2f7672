"""Kargo's spellings beside Shunter's: ``promote --freight --stage``, ``approve``,
``get freight --stage/--warehouse``, ``freight/<id>`` and global flags after the command.

Each test drives ``bot.cli.main`` against the sandbox (real git, the real registry, the
GitHub sandbox) and decides by state: the ledger as ``get … -o json`` shows it, the
state branch's ``operations.yaml``, and the exit code.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, image_path_for, pipeline_world
from sandbox.registry import LocalRegistry

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "flask-app" / "kargo"


@pytest.fixture
def p(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = image_path_for("verbs", request.node.name)
    world = pipeline_world(tmp_path / "world", oci_registry, path, conformance=github_conformance)
    with world as pipeline:
        pipeline.w.push("1.8.4")
        pipeline.shunter("reconcile")  # dev runs 1.8.4; staging soaks 30m; prod waits
        yield pipeline


def get(p: Pipeline, *args: str) -> Any:
    """``shunter get ARGS -o json``, the global flag written after the command."""
    out = io.StringIO()
    env = p.w.env(SHUNTER_NOW=p.now.isoformat())
    code = main(["get", *args, "-o", "json", "--repo-dir", str(p.w.checkout)], env=env, out=out)
    assert code == 0
    return json.loads(out.getvalue())


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


def operations(p: Pipeline) -> list[dict[str, Any]]:
    """The state branch's audit log of emergency operations (empty when there is none)."""
    shown = subprocess.run(
        ["git", "show", "shunter/state:operations.yaml"],
        cwd=p.w.bare,
        capture_output=True,
        text=True,
        check=False,
    )
    return list(yaml.safe_load(shown.stdout) or []) if shown.returncode == 0 else []


def the_freight(p: Pipeline) -> dict[str, Any]:
    (only,) = get(p, "freight")
    return dict(only)


def test_get_freight_narrowed_to_a_warehouse_or_a_stage(p: Pipeline) -> None:
    f = the_freight(p)
    assert names(get(p, "freight", "--warehouse", "flask-app")) == [f["name"]]
    assert names(get(p, "freight", "--origin", "flask-app")) == [f["name"]]
    assert names(get(p, "freight", "--stage", "dev")) == [f["name"]]
    # Verified in dev, so staging may take it; prod takes only what staging verified.
    assert names(get(p, "freight", "--stage", "staging")) == [f["name"]]
    assert get(p, "freight", "--stage", "prod") == []
    # Kargo's freight/<id> works wherever an ID does.
    assert f["name"] in p.shunter("describe", "freight", f"freight/{f['name']}")


def test_names_that_match_nothing_are_usage_errors_and_change_nothing(p: Pipeline) -> None:
    f = the_freight(p)
    head = p.state_head()
    for argv in (
        ["get", "freight", "--stage", "nowhere"],
        ["get", "freight", "--warehouse", "nowhere"],
        ["get", "stages", "--stage", "dev"],  # narrows freight only
        ["promote", "abc1234", "--freight", "def5678", "--stage", "prod", "--reason", "x"],
        ["promote", f["alias"], "--reason", "x"],  # no target stage
        ["approve", "--freight", f["alias"], "--stage", "nowhere", "--reason", "x"],
        ["approve", "--freight", f["alias"], "--stage", "prod"],  # no reason
    ):
        p.shunter(*argv, login="tech-lead", expect=2)
    assert p.state_head() == head


def test_approve_lets_freight_into_a_stage_without_upstream_verification(p: Pipeline) -> None:
    f = the_freight(p)
    p.shunter(
        "approve", "--freight", f"freight/{f['name']}", "--stage", "prod",
        "--reason", "CVE-2026-1234 hotfix", login="tech-lead",
    )  # fmt: skip
    (approved,) = get(p, "freight", "--stage", "prod")
    assert approved["status"]["approvedFor"] == {"prod": {"by": "tech-lead"}}
    assert approved["status"]["verifiedIn"].keys() == {"dev"}  # staging never verified it
    # prod is manual: the approved freight is its candidate now, so its PR is open.
    assert p.stages()["prod"]["promotion"]["freight"] == f["name"]
    assert p.stages()["staging"]["currentFreight"] is None
    assert [(o["operation"], o["stage"], o["by"], o["reason"], o["freight"])
            for o in operations(p)] == [
        ("approve", "prod", "tech-lead", "CVE-2026-1234 hotfix", f["name"])
    ]  # fmt: skip


def test_approve_is_refused_without_permission_or_freight(p: Pipeline) -> None:
    f = the_freight(p)
    head = p.state_head()
    # alice has write on the repository; the config asks for maintain.
    argv = ["approve", "--freight", f["alias"], "--stage", "prod", "--reason", "trust me"]
    p.shunter(*argv, login="alice", expect=1)
    argv = ["approve", "--freight", "freight/0000000", "--stage", "prod", "--reason", "x"]
    p.shunter(*argv, login="tech-lead", expect=1)
    assert p.state_head() == head
    assert get(p, "freight")[0]["status"]["approvedFor"] == {}


def test_promote_in_kargos_spelling(p: Pipeline) -> None:
    f = the_freight(p)
    p.shunter(
        "promote", "--freight", f"freight/{f['name']}", "--stage", "staging",
        "--reason", "skip the soak", login="tech-lead",
    )  # fmt: skip
    assert p.stages()["staging"]["currentFreight"]["name"] == f["name"]
    assert [(o["operation"], o["stage"], o["by"]) for o in operations(p)] == [
        ("promote", "staging", "tech-lead")
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_flags_before_or_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no kargo/ here: only the folder given can be read
    flags = ["--config", str(EXAMPLE_CONFIG)]
    argv = [*flags, "validate"] if where == "before" else ["validate", *flags]
    assert main(argv, env={}, out=io.StringIO()) == 0
    assert main(["validate"], env={}, out=io.StringIO()) == 2

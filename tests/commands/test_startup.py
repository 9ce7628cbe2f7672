"""The read and refresh paths start without PyGithub or Jinja2, and ``--help`` without
anything but argparse: decided by the modules a real process imported, never by a time.

``python -X importtime`` lists every module a process imports on stderr; each command
runs as the Action runs it, in a fresh interpreter, against the sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.registry import LocalRegistry
from sandbox.world import SandboxWorld

HEAVY = ("github", "jinja2")


def imported(argv: list[str], *, cwd: Path, env: dict[str, str]) -> set[str]:
    """The modules ``python -m bot ARGV`` imports; fails the test unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Lines read "import time: <self us> | <cumulative us> | <indented module>".
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }


@pytest.fixture
def world(tmp_path: Path, oci_registry: LocalRegistry) -> Iterator[SandboxWorld]:
    with SandboxWorld(tmp_path / "world", registry=oci_registry, image_path="startup/app") as w:
        w.push("1.8.5")
        yield w


def test_help_imports_argparse_and_nothing_of_the_bot_beyond_the_cli() -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    mods = imported(["--help"], cwd=Path.cwd(), env=env)
    assert "bot.cli" in mods and "argparse" in mods
    assert {m for m in mods if m.startswith("bot.")} == {"bot.cli"}
    # typing and shutil (with the compression modules) cost more than the rest of --help.
    assert not mods & {"yaml", "requests", "dataclasses", "typing", "shutil", *HEAVY}


@pytest.mark.parametrize(
    "argv",
    [
        ["refresh", "warehouse", "flask-app"],
        ["get", "stages"],
        ["get", "freight", "-o", "json"],
        ["describe", "stage", "prod"],  # prod's stage has a commitMessageTemplate
        ["validate"],
    ],
)
def test_read_and_refresh_paths_import_neither_pygithub_nor_jinja2(
    world: SandboxWorld, argv: list[str]
) -> None:
    env = world.env()
    # The first run records the freight, so the runs measured are the idle ones.
    imported(["refresh", "warehouse", "flask-app"], cwd=world.checkout, env=env)
    mods = imported(argv, cwd=world.checkout, env=env)
    assert "bot.adapters.configdir" in mods  # the config was really read
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert "secrets" not in mods  # needed only to set a step output
    # The seed enables monitoring, but metrics are rendered only when the ledger is written.
    assert "prometheus_client" not in mods
    # The seed follows one image: no chart or git source is built, so none is imported.
    assert not mods & {"bot.adapters.helm", "bot.adapters.gitsource"}


# What only a round with a stage to move needs: the PR lifecycle and its gates, the
# promotion's edit and the checks of a PR, the emergency rules, and pull requests.
PLANNING = (
    "bot.core.decide.lifecycle",
    "bot.core.decide.prgate",
    "bot.core.decide.selection",
    "bot.core.decide.emergency",
    "bot.core.decide.approvals",
    "bot.core.decide.pulls",
    "bot.core.decide.mainrules",
    "bot.core.promote.promotion",
    "bot.core.promote.exact",
)


def test_a_refresh_plans_no_stage_so_it_imports_none_of_the_stage_planning(
    world: SandboxWorld,
) -> None:
    env = world.env()
    imported(["refresh", "warehouse", "flask-app"], cwd=world.checkout, env=env)  # records
    mods = imported(["refresh", "warehouse", "flask-app"], cwd=world.checkout, env=env)
    assert {"bot.loop.reconcile", "bot.core.decide.planner", "bot.adapters.registry"} <= mods
    assert not mods & set(PLANNING)
    # The registry's one conditional GET goes over http.client: no general HTTP library
    # (about 150 ms to import), and no urllib.request while no proxy is set.
    assert "http.client" in mods
    assert not {m for m in mods if m.split(".")[0] in ("requests", "urllib3")}
    assert "urllib.request" not in mods
    # Named time zones are looked up only for a config that names one (the seed does not).
    assert "zoneinfo" not in mods


def test_a_reconcile_that_plans_stages_still_finds_the_planning_modules(
    world: SandboxWorld,
) -> None:
    """The other side of the test above: the same modules load when stages are planned,
    so their absence there is the refresh's doing, not a renamed module."""
    mods = imported(["reconcile", "--dry-run"], cwd=world.checkout, env=world.env())
    assert set(PLANNING) <= mods


# Kargo's promotion steps: their schema tables and the expression language.
STEPS = ("bot.core.config._steps", "bot.core.promote.expressions", "bot.core.promote.steps")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flask-app"


def test_a_config_without_promotion_steps_loads_none_of_their_tables(world: SandboxWorld) -> None:
    env = world.env()
    imported(["refresh", "warehouse", "flask-app"], cwd=world.checkout, env=env)  # records
    mods = imported(["refresh", "warehouse", "flask-app"], cwd=world.checkout, env=env)
    assert "bot.core.config._tables" in mods
    assert not mods & set(STEPS)


@pytest.mark.parametrize(("folder", "loaded"), [("kargo", False), ("kargo-steps", True)])
def test_the_step_tables_load_when_a_config_has_promotion_steps(
    tmp_path: Path, folder: str, loaded: bool
) -> None:
    """The other side: validating the example written with Kargo's steps loads them."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    mods = imported(["--config", str(EXAMPLES / folder), "validate"], cwd=tmp_path, env=env)
    assert (set(STEPS) <= mods) is loaded

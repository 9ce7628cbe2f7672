"""Hand edits to the state branch, through the real ``shunter`` command.

A person (or an attacker with ``write`` access) edits the ledger on ``shunter/state``
directly. A bad edit must stop the run with exit 1 and ``FILE:LINE: key: message``, and
leave the branch exactly as it was: nothing is written back, nothing is rolled back.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog, checked_world
from sandbox.registry import LocalRegistry
from sandbox.world import SandboxWorld

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
BRANCH = "shunter/state"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def shunter(world: SandboxWorld, *args: str, now: datetime = T0) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = world.env(SHUNTER_NOW=now.isoformat(), GITHUB_ACTIONS="true")
    with redirect_stderr(err):
        code = main(["--repo-dir", str(world.checkout), *args], env=env, out=out)
    return code, out.getvalue(), err.getvalue()


def hand_edit(world: SandboxWorld, edit: Callable[[Path], None]) -> str:
    """Commit ``edit`` of a clone's state branch and push it, as a person would."""
    work = world.root / "hand-edit"
    git(world.root, "clone", "-q", "-b", BRANCH, str(world.bare), str(work))
    edit(work)
    git(work, "-c", "user.name=Ed", "-c", "user.email=ed@x.invalid", "commit", "-qam", "hand edit")
    git(work, "push", "-q", "origin", BRANCH)
    return git(world.bare, "rev-parse", f"refs/heads/{BRANCH}")


def replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(work: Path) -> None:
        text = (work / name).read_text()
        assert old in text, (name, old)
        (work / name).write_text(text.replace(old, new, 1))

    return edit


def empty(name: str) -> Callable[[Path], None]:
    def edit(work: Path) -> None:
        (work / name).write_text("")

    return edit


@pytest.fixture
def world(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[SandboxWorld]:
    path = "e2e-ledger/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    world = SandboxWorld(tmp_path / "world", registry=oci_registry, image_path=path)
    with checked_world(world, github_conformance) as w:
        w.push("1.8.4")
        code, out, err = shunter(w, "reconcile")
        assert code == 0, out + err
        yield w


EDITS = {
    "status-bogus": (replace("promotions.yaml", "status: Succeeded", "status: Bogus"),
                     "promotions.yaml", "[0].status"),
    "unknown-current-freight": (
        lambda work: replace("stages.yaml", "currentFreight: ", "currentFreight: 0")(work),
        "stages.yaml", "dev.currentFreight"),
    "emptied-freight": (empty("freight.yaml"), "freight.yaml", "(file)"),
}  # fmt: skip


@pytest.mark.parametrize("case", EDITS)
def test_a_bad_hand_edit_stops_the_run_and_changes_nothing(world: SandboxWorld, case: str) -> None:
    edit, file, key = EDITS[case]
    head = hand_edit(world, edit)
    main_before = git(world.bare, "rev-parse", "refs/heads/main")
    world.push("1.8.5")  # something to do, so a run that went on would write

    for command in (["reconcile"], ["get", "stages", "-o", "json"]):
        code, out, err = shunter(world, *command)
        assert code == 1, (command, out, err)
        assert "Traceback" not in err
        # The annotation the runner acts on names the file and the key path.
        errors = [line for line in out.splitlines() if line.startswith("::error ")]
        assert any(f"::{file}:" in line and f": {key}: " in line for line in errors), out

    assert git(world.bare, "rev-parse", f"refs/heads/{BRANCH}") == head
    assert git(world.bare, "rev-parse", "refs/heads/main") == main_before


PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: flask-app
spec:
  promotionHistory: 1
"""


def test_old_promotions_move_to_the_archive_and_get_all_still_shows_them(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    overrides = {"kargo/project.yaml": PROJECT}
    world = SandboxWorld(
        tmp_path / "w", registry=oci_registry, image_path="e2e-ledger/archive", overrides=overrides
    )
    with checked_world(world, github_conformance) as w:
        # The clock moves between pushes, as it does for real runs: with one frozen
        # instant every tag would be discovered "at the same time".
        for minute, tag in enumerate(("1.8.4", "1.8.5", "1.8.6")):
            w.push(tag)
            code, out, err = shunter(w, "reconcile", now=T0 + timedelta(minutes=10 * minute))
            assert code == 0, out + err

        def promotions(*flags: str) -> list[dict[str, Any]]:
            code, out, err = shunter(w, "get", "promotions", "-o", "json", *flags)
            assert code == 0, err
            rows: list[dict[str, Any]] = json.loads(out)
            return sorted((r for r in rows if r["stage"] == "dev"), key=lambda r: r["pr"])

        every = promotions("--all")
        assert len(every) >= 2 and every[0]["version"] == "1.8.4", every
        assert promotions() == every[-1:], every  # the window is one record per stage
        archived = git(w.bare, "ls-tree", "--name-only", f"refs/heads/{BRANCH}", "archive/")
        assert len(archived.split()) == len(every) - 1, (archived, every)  # one per archiving
        assert "1.8.4" not in git(w.bare, "show", f"refs/heads/{BRANCH}:promotions.yaml")


def test_a_bad_audit_log_stops_a_run_before_it_writes_to_github_or_the_ledger(
    world: SandboxWorld,
) -> None:
    """Reconcile reads promotions.yaml only when it needs it, but always before it acts:
    the refusal names the line, and neither GitHub nor the state branch is written."""
    head = hand_edit(world, replace("promotions.yaml", "status: Succeeded", "status: Bogus"))
    text = git(world.bare, "show", f"refs/heads/{BRANCH}:promotions.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "status: Bogus" in t)
    main_before = git(world.bare, "rev-parse", "refs/heads/main")
    world.push("1.8.5")  # dev would take it: a PR, a merge and a ledger write
    assert world.github is not None
    writes = len(world.github.write_requests())

    code, out, err = shunter(world, "reconcile")

    assert code == 1, out + err
    errors = [row for row in out.splitlines() if row.startswith("::error ")]
    assert any(f"::promotions.yaml:{line}: [0].status: " in row for row in errors), out
    assert git(world.bare, "rev-parse", f"refs/heads/{BRANCH}") == head
    assert git(world.bare, "rev-parse", "refs/heads/main") == main_before
    assert len(world.github.write_requests()) == writes

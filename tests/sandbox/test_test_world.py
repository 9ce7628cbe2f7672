"""The test world's own rules: tests share helpers through ``sandbox/``, never each other,
and none of it ships in the package users install."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def imports_of_tests(source: str) -> list[str]:
    """The modules under ``tests`` that ``source`` imports, at any depth of the tree."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                found.append("." * node.level + (node.module or ""))
            elif node.module and node.module.split(".")[0] == "tests":
                found.append(node.module)
    return found


def unchecked_worlds(source: str) -> list[int]:
    """Lines where ``source`` starts a ``SandboxWorld`` itself (``with SandboxWorld(...)``
    or ``SandboxWorld(...).start()``) rather than through ``checked_world``."""

    def is_world(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "SandboxWorld"
        )

    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.With | ast.AsyncWith):
            lines += [
                item.context_expr.lineno for item in node.items if is_world(item.context_expr)
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("start", "__enter__")
            and is_world(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def test_every_end_to_end_world_is_checked_against_github() -> None:
    # checked_world (and pipeline_world, built on it) checks every answer the sandbox gave.
    unchecked = {
        path.name: unchecked_worlds(path.read_text()) for path in TESTS.glob("test_e2e_*.py")
    }
    assert unchecked
    assert {k: v for k, v in unchecked.items() if v} == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("with SandboxWorld(root) as w:\n    pass", [1]),
        ("w = SandboxWorld(root).start()", [1]),
        ("with x, SandboxWorld(root, registry=r) as w:\n    pass", [1]),
        ("with checked_world(SandboxWorld(root), log) as w:\n    pass", []),
        ("world = SandboxWorld(root)\nwith checked_world(world, log) as w:\n    pass", []),
    ],
)
def test_the_world_rule_sees_unchecked_starts(source: str, expected: list[int]) -> None:
    assert unchecked_worlds(source) == expected


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imports_of_tests(path.read_text())
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "conftest.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from tests.core.test_planner import CONFIG", ["tests.core.test_planner"]),
        ("import tests.test_e2e_flask_app", ["tests.test_e2e_flask_app"]),
        ("from .test_planner import found", [".test_planner"]),
        ("def f():\n    from tests import helpers", ["tests"]),
        ("from sandbox.planning import CONFIG", []),
        ("import testsuite", []),
    ],
)
def test_the_rule_sees_every_form_of_import(source: str, expected: list[str]) -> None:
    assert imports_of_tests(source) == expected


def test_the_wheel_ships_the_bot_and_no_test_world(tmp_path: Path) -> None:
    # Build from a copy of the tracked files, so the build leaves nothing in the checkout
    # and the packaging rules (not the copy) are what keep sandbox/ and tests/ out.
    root = TESTS.parent
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    src = tmp_path / "src"
    for rel in filter(None, tracked.split("\0")):
        if (root / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, src / rel)
    assert (src / "sandbox" / "github_server.py").is_file()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheel_cmd = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist")]
    subprocess.run([*wheel_cmd, str(src)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"bot"}
    assert {"bot/cli.py", "bot/py.typed", "bot/core/config/__init__.py"} <= set(names)

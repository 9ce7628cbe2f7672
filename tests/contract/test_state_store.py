"""The ``StateStore`` port's contract, run against the shared in-memory fake and the git
state store on a bare repository: the same compare-and-swap rules on both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.git import GitStateStore
from bot.errors import ConflictError
from bot.ports import StateStore
from sandbox.fakes import MemoryStateStore
from sandbox.fixtures.gitrepos import git, make_remote

#: A way to open a second handle on the same store (a concurrent run).
Opener = Callable[[], StateStore]


@pytest.fixture(params=["memory", "git"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "memory":
        shared = MemoryStateStore()
        return lambda: shared
    remote = make_remote(tmp_path, {"README.md": "gitops\n"})
    clones = iter(range(1000))

    def open_git() -> StateStore:
        name = f"clone{next(clones)}"
        git(tmp_path, "clone", "-q", str(remote), name)
        return GitStateStore(tmp_path / name)

    return open_git


FILES = {"warehouses.yaml": "app: {}\n", "freight/abc.yaml": "id: abc\n"}


def test_an_empty_store_has_no_files_and_no_head(opener: Opener) -> None:
    assert opener().load() == ({}, None)


def test_a_save_is_read_back_by_another_run(opener: Opener) -> None:
    head = opener().save(FILES, "first", expected_head=None)
    assert opener().load() == (FILES, head)


def test_the_whole_content_is_replaced(opener: Opener) -> None:
    store = opener()
    head = store.save(FILES, "first", expected_head=None)
    smaller = {"warehouses.yaml": "app: {lastDiscovery: now}\n"}
    second = store.save(smaller, "second", expected_head=head)
    assert second != head
    assert opener().load() == (smaller, second)


def test_a_stale_head_loses_the_compare_and_swap(opener: Opener) -> None:
    a, b = opener(), opener()
    base = a.save(FILES, "first", expected_head=None)
    _, seen = b.load()
    a.save({**FILES, "x.yaml": "1\n"}, "a wins", expected_head=base)
    with pytest.raises(ConflictError):
        b.save({**FILES, "y.yaml": "2\n"}, "b loses", expected_head=seen)
    files, _ = opener().load()
    assert "y.yaml" not in files and files["x.yaml"] == "1\n"


def test_creating_the_branch_twice_loses_the_second_time(opener: Opener) -> None:
    a, b = opener(), opener()
    a.save(FILES, "first", expected_head=None)
    with pytest.raises(ConflictError):
        b.save({"other.yaml": "x\n"}, "also first", expected_head=None)


def test_saving_the_same_files_makes_no_new_head(opener: Opener) -> None:
    store = opener()
    head = store.save(FILES, "first", expected_head=None)
    assert store.save(dict(FILES), "again", expected_head=head) == head

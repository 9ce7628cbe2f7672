"""GitStateStore: the state branch as a compare-and-swap store, on real git remotes."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.git import GitStateStore
from bot.core.ledger_yaml import MAX_FILE_BYTES
from bot.errors import ConflictError, LedgerError, PermanentError
from sandbox.fixtures.gitrepos import git, make_remote

BRANCH = "shunter/state"


def clone(tmp: Path, bare: Path, name: str) -> Path:
    git(tmp, "clone", "-q", str(bare), name)
    return tmp / name


def remote_ref(bare: Path) -> str | None:
    return git(bare, "for-each-ref", "--format=%(objectname)", f"refs/heads/{BRANCH}") or None


def commit_count(bare: Path) -> int:
    return int(git(bare, "rev-list", "--count", BRANCH))


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path, {"README.md": "gitops\n"})


def test_first_save_creates_the_branch_and_load_round_trips(tmp_path: Path, remote: Path) -> None:
    store = GitStateStore(clone(tmp_path, remote, "a"))
    assert store.load() == ({}, None)
    files = {
        "warehouses.yaml": "app:\n  lastDiscovery: 2024-05-01T10:00:00Z\n",
        "freight/abc123.yaml": "id: abc123\nalias: brave-otter\n",
        "notes/ünïcode.md": "héllo\n",
    }

    head = store.save(files, "Record freight abc123", expected_head=None)

    assert remote_ref(remote) == head
    assert git(remote, "log", "--format=%P|%s", BRANCH) == "|Record freight abc123"
    # The branch holds exactly the files, nothing of main.
    listed = git(remote, "ls-tree", "-r", "-z", "--name-only", BRANCH).split("\0")
    assert set(listed) - {""} == set(files)
    assert store.load() == (files, head)
    # A second store on a fresh clone (the next run) reads the same.
    assert GitStateStore(clone(tmp_path, remote, "b")).load() == (files, head)


def test_save_writes_the_whole_tree_so_dropped_files_disappear(
    tmp_path: Path, remote: Path
) -> None:
    store = GitStateStore(clone(tmp_path, remote, "a"))
    first = store.save({"a.yaml": "1\n", "old/b.yaml": "2\n"}, "one", expected_head=None)

    second = store.save({"a.yaml": "1\n"}, "prune b", expected_head=first)

    assert store.load() == ({"a.yaml": "1\n"}, second)
    assert git(remote, "rev-parse", f"{BRANCH}^") == first


def test_saving_unchanged_files_makes_no_commit(tmp_path: Path, remote: Path) -> None:
    store = GitStateStore(clone(tmp_path, remote, "a"))
    head = store.save({"a.yaml": "1\n"}, "one", expected_head=None)

    files, loaded = store.load()
    again = store.save(files, "nothing new", expected_head=loaded)

    assert again == head == remote_ref(remote)
    assert commit_count(remote) == 1


def test_stale_head_is_a_conflict_and_the_winner_survives(tmp_path: Path, remote: Path) -> None:
    a = GitStateStore(clone(tmp_path, remote, "a"))
    b = GitStateStore(clone(tmp_path, remote, "b"))
    base = a.save({"log.yaml": "- start\n"}, "start", expected_head=None)
    _, head_a = a.load()
    files_b, head_b = b.load()
    assert head_a == head_b == base

    winner = a.save({"log.yaml": "- start\n- a\n"}, "a writes", expected_head=head_a)
    with pytest.raises(ConflictError, match="another run wrote first"):
        b.save({"log.yaml": "- start\n- b\n"}, "b writes", expected_head=head_b)

    assert remote_ref(remote) == winner
    assert git(remote, "show", f"{BRANCH}:log.yaml") == "- start\n- a"
    # b re-reads, sees the winner, and its retry lands on top of it.
    files_b, head_b = b.load()
    assert (files_b, head_b) == ({"log.yaml": "- start\n- a\n"}, winner)
    merged = b.save({"log.yaml": "- start\n- a\n- b\n"}, "b retries", expected_head=head_b)
    assert git(remote, "rev-list", BRANCH).split() == [merged, winner, base]


def test_two_writers_creating_the_branch_from_nothing_cannot_both_win(
    tmp_path: Path, remote: Path
) -> None:
    a = GitStateStore(clone(tmp_path, remote, "a"))
    b = GitStateStore(clone(tmp_path, remote, "b"))
    assert a.load()[1] is None
    assert b.load()[1] is None

    first = a.save({"a.yaml": "a\n"}, "a creates", expected_head=None)
    with pytest.raises(ConflictError):
        b.save({"b.yaml": "b\n"}, "b creates", expected_head=None)

    assert remote_ref(remote) == first
    assert b.load() == ({"a.yaml": "a\n"}, first)


def test_a_rolled_back_branch_is_not_overwritten(tmp_path: Path, remote: Path) -> None:
    """A person reset the branch to an older commit; a writer holding the newer head loses."""
    a = GitStateStore(clone(tmp_path, remote, "a"))
    one = a.save({"x.yaml": "1\n"}, "one", expected_head=None)
    two = a.save({"x.yaml": "2\n"}, "two", expected_head=one)
    git(remote, "update-ref", f"refs/heads/{BRANCH}", one)

    with pytest.raises(ConflictError):
        a.save({"x.yaml": "3\n"}, "three", expected_head=two)

    assert remote_ref(remote) == one


def test_a_writer_that_lands_during_our_push_wins(tmp_path: Path, remote: Path) -> None:
    """The race the client cannot see: the branch is created after the remote advertised its
    refs but before it applies our update. The remote's own old-value check must refuse us."""
    main = git(remote, "rev-parse", "main")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\nunset GIT_QUARANTINE_PATH\ngit update-ref refs/heads/{BRANCH} {main} ''\n"
    )
    hook.chmod(0o755)
    store = GitStateStore(clone(tmp_path, remote, "a"))
    assert store.load() == ({}, None)

    with pytest.raises(ConflictError):
        store.save({"mine.yaml": "1\n"}, "mine", expected_head=None)

    assert remote_ref(remote) == main
    assert store.load() == ({"README.md": "gitops\n"}, main)


def test_a_file_that_is_not_text_is_a_permanent_error(tmp_path: Path, remote: Path) -> None:
    work = clone(tmp_path, remote, "a")
    git(work, "checkout", "-q", "--orphan", BRANCH)
    git(work, "rm", "-q", "-rf", ".")
    (work / "blob.bin").write_bytes(b"\xff\xfe\x00")
    git(work, "add", "blob.bin")
    git(work, "commit", "-q", "-m", "binary")
    git(work, "push", "-q", "origin", BRANCH)

    with pytest.raises(PermanentError, match=r"blob\.bin on shunter/state is not UTF-8 text"):
        GitStateStore(clone(tmp_path, remote, "b")).load()


def test_missing_remote_is_permanent(tmp_path: Path, remote: Path) -> None:
    store = GitStateStore(clone(tmp_path, remote, "a"), remote="upstream")
    with pytest.raises(PermanentError, match="git remote -v"):
        store.load()


# --------------------------------------------------------------------------- concurrency

WORKERS = 6
RECORDS = 3


def _worker(workdir: str, name: str, barrier: Any, result: str) -> None:
    """Add RECORDS records to records.yaml, each in a load -> modify -> save loop."""
    store = GitStateStore(Path(workdir), author=(name, f"{name}@example.invalid"))
    commits: list[str] = []
    conflicts = 0
    for i in range(RECORDS):
        while True:
            files, head = store.load()
            records = yaml.safe_load(files.get("records.yaml", "")) or []
            records.append(f"{name}-{i}")
            if i == 0 and conflicts == 0:
                # Every worker has read the missing branch before anyone writes: all of them
                # try to create it at once, and exactly one may win.
                barrier.wait()
            try:
                commits.append(
                    store.save(
                        {"records.yaml": yaml.safe_dump(records)},
                        f"{name} adds record {i}",
                        expected_head=head,
                    )
                )
                break
            except ConflictError:
                conflicts += 1
    Path(result).write_text(json.dumps({"commits": commits, "conflicts": conflicts}))


def test_concurrent_writers_in_separate_processes_lose_nothing(
    tmp_path: Path, remote: Path
) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS, timeout=120)
    procs = []
    for n in range(WORKERS):
        workdir = clone(tmp_path, remote, f"w{n}")
        proc = ctx.Process(
            target=_worker,
            args=(str(workdir), f"w{n}", barrier, str(tmp_path / f"w{n}.json")),
        )
        proc.start()
        procs.append(proc)
    for proc in procs:
        proc.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    results = [json.loads((tmp_path / f"w{n}.json").read_text()) for n in range(WORKERS)]
    files, head = GitStateStore(clone(tmp_path, remote, "check")).load()
    records = yaml.safe_load(files["records.yaml"])
    expected = [f"w{n}-{i}" for n in range(WORKERS) for i in range(RECORDS)]
    assert sorted(records) == sorted(expected)  # every record, none twice
    # The first round is a guaranteed race: all but one creator lost it.
    assert sum(r["conflicts"] for r in results) >= WORKERS - 1
    # History is one line holding every successful save of every worker.
    history = git(remote, "rev-list", BRANCH).split()
    assert git(remote, "rev-list", "--min-parents=2", BRANCH) == ""
    assert history[0] == head
    assert sorted(history) == sorted(c for r in results for c in r["commits"])
    assert len(history) == WORKERS * RECORDS


def test_archive_files_are_carried_over_and_never_loaded(tmp_path: Path, remote: Path) -> None:
    store = GitStateStore(clone(tmp_path, remote, "a"))
    first = store.save(
        {"stages.yaml": "{}\n", "archive/promotions-2026-01-aaaa.yaml": "- one\n"},
        "archive one",
        expected_head=None,
    )
    files, head = store.load()
    assert (files, head) == ({"stages.yaml": "{}\n"}, first)

    # A reconcile saves what it loaded plus one new archive file: the old one stays.
    second = store.save(
        {**files, "archive/promotions-2026-02-bbbb.yaml": "- two\n"}, "two", expected_head=head
    )
    third = store.save({"stages.yaml": "{}\n"}, "nothing archived", expected_head=second)

    assert third == second  # carrying the archive is not a change
    assert store.load_archive() == {
        "archive/promotions-2026-01-aaaa.yaml": "- one\n",
        "archive/promotions-2026-02-bbbb.yaml": "- two\n",
    }


def test_load_reads_no_archive_blob(tmp_path: Path, remote: Path) -> None:
    workdir = clone(tmp_path, remote, "a")
    store = GitStateStore(workdir)
    head = store.save(
        {"stages.yaml": "{}\n", "archive/promotions-2026-01-aaaa.yaml": "- one\n"},
        "archive",
        expected_head=None,
    )
    # Delete the archive's blob from the local object store: a load that read it would fail.
    blob = git(workdir, "rev-parse", f"{head}:archive/promotions-2026-01-aaaa.yaml")
    (workdir / ".git" / "objects" / blob[:2] / blob[2:]).unlink()

    assert store.load() == ({"stages.yaml": "{}\n"}, head)


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path, remote: Path) -> None:
    big = "#" * (MAX_FILE_BYTES + 1) + "\n"
    writer = GitStateStore(clone(tmp_path, remote, "a"))
    writer.save({"stages.yaml": "{}\n", "freight.yaml": big}, "too big", expected_head=None)

    with pytest.raises(LedgerError) as caught:
        GitStateStore(clone(tmp_path, remote, "b")).load()
    assert [(p.file, p.path) for p in caught.value.problems] == [("freight.yaml", "(file)")]


def git_commands(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a ``git`` on PATH that appends each command it runs (its argv after the ``-c``
    settings) to the returned log, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp / "shim"
    shim.mkdir()
    log = tmp / "git-commands.log"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return log


def subcommands(log: Path) -> list[str]:
    out = []
    for line in log.read_text().splitlines():
        words = line.split()
        while words and words[0] == "-c":
            words = words[2:]
        out.append(" ".join(words[:2]))
    return out


def test_a_load_with_nothing_new_checks_no_object_and_moves_no_ref(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = GitStateStore(clone(tmp_path, remote, "a"))
    first = writer.save({"stages.yaml": "{}\n"}, "first", expected_head=None)
    workdir = clone(tmp_path, remote, "b")
    assert GitStateStore(workdir).load() == ({"stages.yaml": "{}\n"}, first)  # mirrors it
    log = git_commands(tmp_path, monkeypatch)

    assert GitStateStore(workdir).load() == ({"stages.yaml": "{}\n"}, first)
    ran = subcommands(log)
    # The branch has not moved: its mirror already holds the head ls-remote names.
    assert not [c for c in ran if c.split()[0] in ("fetch", "update-ref") or c == "cat-file -e"]
    assert len(ran) == 5, ran  # check-ref-format, for-each-ref, ls-remote, ls-tree, cat-file

    # Once it moves, the next load fetches and mirrors the new head.
    second = writer.save({"stages.yaml": "{a: 1}\n"}, "second", expected_head=first)
    assert GitStateStore(workdir).load() == ({"stages.yaml": "{a: 1}\n"}, second)
    assert git(workdir, "rev-parse", f"refs/shunter/origin/{BRANCH}") == second
    assert "fetch --quiet" in subcommands(log)

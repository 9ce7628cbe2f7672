"""Overlapping runs, a lagging registry replica and a crash after a merge, end to end.

Every run here is the real command in its own process (``python -m bot``) with its own
clone and the real clock, talking to the GitHub sandbox and the registry through proxies
that add 20-80 ms per request, with a git that waits as long before each remote command.
The tests judge by state only: the history of each stage's manifest on ``main``, the pull
requests GitHub holds, and the ledger as ``shunter get ... -o json`` prints it.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import pytest
from github import Auth

from sandbox.latency import Exchange
from sandbox.overlap import STAGE_FILES, OverlapWorld, Run, main_version, manifest_versions
from sandbox.registry import LocalRegistry
from sandbox.world import EXAMPLE, REPOSITORY, USERS

STAGES = tuple(STAGE_FILES)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ops",
    "GIT_AUTHOR_EMAIL": "ops@alkon.invalid",
    "GIT_COMMITTER_NAME": "Ops",
    "GIT_COMMITTER_EMAIL": "ops@alkon.invalid",
    "PATH": "/usr/bin:/bin",
}
# Staging follows dev at once here, so both race; prod still waits for two approvals.
STAGING = (
    (EXAMPLE / "kargo/stages/staging.yaml")
    .read_text()
    .replace("    autoPromotionDelay: 30m  # wait 30 minutes\n", "")
)


def key(version: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in (version or "0").split("."))


@pytest.fixture
def world(
    tmp_path: Path, oci_registry: LocalRegistry, request: pytest.FixtureRequest
) -> Iterator[OverlapWorld]:
    path = "overlap/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    with OverlapWorld(
        tmp_path, oci_registry, path, overrides={"kargo/stages/staging.yaml": STAGING}
    ) as w:
        yield w


def repo(w: OverlapWorld) -> Any:
    assert w.world.github is not None
    gh = github.Github(auth=Auth.Token(USERS["alice"]), base_url=w.world.github.api_url)
    return gh.get_repo(REPOSITORY)


def bot_pulls(w: OverlapWorld, state: str = "all") -> list[Any]:
    return [p for p in repo(w).get_pulls(state=state) if p.head.ref.startswith("shunter/")]


def settle(w: OverlapWorld, rounds: int = 4) -> list[Run]:
    """Quiet runs one after another until one changes nothing on the state branch."""
    done: list[Run] = []
    for _ in range(rounds):
        before = w.state_head()
        done.append(w.run("reconcile"))
        if w.state_head() == before:
            break
    return done


def figures(w: OverlapWorld) -> dict[str, Any]:
    """What overlapping runs left behind, read from main, GitHub and the ledger."""
    history = {stage: manifest_versions(w.bare, stage) for stage in STAGES}
    went_back = {
        stage: versions
        for stage, versions in history.items()
        if any(key(b) < key(a) for a, b in itertools.pairwise(versions))
    }
    records = w.get("promotions")
    succeeded = Counter(r["pr"] for r in records if r["status"] == "Succeeded" and r["pr"])
    merged = [p.number for p in bot_pulls(w, "closed") if p.merged]
    stages = {s["name"]: s for s in w.get("stages")}
    ledger = {
        name: None if s["currentFreight"] is None else s["currentFreight"]["version"]
        for name, s in stages.items()
    }
    on_main = {stage: main_version(w.bare, stage) for stage in STAGES}
    return {
        # A stage whose manifest on main ever went to an older version.
        "rollbacks": went_back,
        # Merged bot PRs with no promotion record, and PRs recorded as succeeding twice.
        "unrecorded": [n for n in merged if succeeded[n] == 0],
        "doubles": {n: c for n, c in succeeded.items() if c > 1},
        # A stage the bot never promoted still runs the repository's first version.
        "differ": {
            stage: (ledger[stage], on_main[stage])
            for stage in STAGES
            if ledger[stage] is not None and ledger[stage] != on_main[stage]
        },
        "merged": len(merged),
    }


def story(w: OverlapWorld) -> str:
    """What a failure needs to be understood without the runs: each bot PR (the version
    its marker names, its head, whether it merged and as which commit), main's commits
    and the audit log."""
    lines = ["bot PRs (number, branch, marker's version, head, merged, merge commit):"]
    for p in bot_pulls(w):
        version = re.search(r'"images": \[\["[^"]+", "([^"]+)"', p.body or "")
        lines.append(
            f"  #{p.number} {p.head.ref} {version and version.group(1)} {p.head.sha[:7]}"
            f" {p.merged} {(p.merge_commit_sha or '')[:7]}"
        )
    lines.append("main:")
    lines += [f"  {line}" for line in w.git("log", "--format=%h %s", "main").splitlines()]
    lines.append("promotions (stage, version, status, pr):")
    lines += [f"  {r['stage']} {r['version']} {r['status']} {r['pr']}" for r in w.get("promotions")]
    return "\n".join(lines)


def check_invariants(w: OverlapWorld) -> dict[str, Any]:
    """Assert the promises of overlapping runs; return the figures."""
    found = figures(w)
    assert not found["rollbacks"], f"a stage's manifest on main went back: {found}\n{story(w)}"
    assert not found["unrecorded"], f"merged bot PRs with no promotion record: {found}\n{story(w)}"
    assert not found["doubles"], f"PRs recorded as succeeding more than once: {found}\n{story(w)}"
    assert not found["differ"], f"the ledger contradicts main (ledger, main): {found}\n{story(w)}"
    return found


class OpenPRWatch:
    """Counts open bot PRs per stage every 100 ms while runs overlap; keeps the maximum."""

    def __init__(self, w: OverlapWorld) -> None:
        self.w = w
        self.most: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            now = Counter(p.head.ref for p in bot_pulls(self.w, "open"))
            for ref, n in now.items():
                self.most[ref] = max(self.most[ref], n)
            self._stop.wait(0.1)

    def __enter__(self) -> OpenPRWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def storm(w: OverlapWorld, runs: int = 10) -> tuple[list[Run], Counter[str]]:
    """Ten runs of the real command 0.3 s apart (Action, CLI and a person's promote) while
    four tags are pushed; returns the runs and the most open PRs each branch had at once."""

    def pushes() -> None:
        for tag in ("1.9.2", "1.9.3", "1.9.4", "1.9.5"):
            w.push(tag)
            time.sleep(0.8)

    pusher = threading.Thread(target=pushes)
    started: list[Run] = []
    with OpenPRWatch(w) as watch:
        pusher.start()
        for i in range(runs):
            if i == 4:
                # A person beside the Action: an emergency promotion of what dev runs.
                started.append(
                    w.start_run(
                        "promote", "--from", "dev", "--to", "staging", "--reason", "hotfix",
                        login="tech-lead",
                    )
                )  # fmt: skip
            elif i % 2:
                started.append(w.start_run("run", action=True))
            else:
                started.append(w.start_run("reconcile"))
            time.sleep(0.3)
        pusher.join()
        for r in started:
            r.wait()
    return started, watch.most


def test_ten_overlapping_runs_never_roll_back_or_forget(world: OverlapWorld) -> None:
    w = world
    w.push("1.9.1")
    settle(w)
    assert main_version(w.bare, "staging") == "1.9.1"

    runs, most_open = storm(w)
    settled = settle(w)

    # 0 done, 1 stuck (prod waits for people), 75 transient (lost every compare-and-swap).
    assert {r.code for r in runs} <= {0, 1, 75}, {r.name: r.output for r in runs}
    assert all(r.code in (0, 1) for r in settled), settled[-1].output
    found = check_invariants(w)
    assert max(most_open.values(), default=0) <= 1, most_open
    # Both stages end on the newest tag: nothing is left stuck by the overlap.
    last = settled[-1].output
    assert (main_version(w.bare, "dev"), main_version(w.bare, "staging")) == ("1.9.5",) * 2, last
    assert found["merged"] >= 4


def test_a_lagging_replica_never_makes_older_freight_newest(world: OverlapWorld) -> None:
    w = world
    for tag in ("1.9.1", "1.9.2"):
        w.push(tag)
    settle(w)
    assert (main_version(w.bare, "dev"), main_version(w.bare, "staging")) == ("1.9.2", "1.9.2")
    # A replica that has not seen 1.9.2 (or 1.9.2 was deleted) answers the next runs.
    w.registry_proxy.hidden_tags = frozenset({"1.9.2"})
    for _ in range(2):
        w.run("reconcile")
    assert (main_version(w.bare, "dev"), main_version(w.bare, "staging")) == ("1.9.2", "1.9.2")
    # The fault goes away: nothing moves back later either, and new tags still flow.
    w.registry_proxy.hidden_tags = frozenset()
    w.push("1.9.3")
    settle(w)
    check_invariants(w)
    assert (main_version(w.bare, "dev"), main_version(w.bare, "staging")) == ("1.9.3", "1.9.3")


@pytest.mark.parametrize(
    ("login", "known"),
    [
        ("shunter-bot", True),  # the ledger knew the freight before the crash
        ("shunter-bot", False),  # only the crashed run knew it: the PR's marker carries it
        ("tech-lead", True),  # a person's CLI run (their token) merged, then died
    ],
)
def test_a_merge_before_a_crash_is_recorded_after_a_newer_tag(
    world: OverlapWorld, login: str, known: bool
) -> None:
    w = world
    w.push("1.9.1")
    if known:
        assert w.run("refresh", "warehouse", "flask-app").code == 0  # the ledger knows 1.9.1

    def merge(x: Exchange) -> bool:
        return x.method == "PUT" and x.path.endswith("/merge") and x.status == 200

    w.github_proxy.hold = merge
    crashed = w.start_run("reconcile", login=login)
    assert w.github_proxy.held.wait(120), "the run never merged"
    crashed.proc.kill()  # killed after GitHub merged, before the run heard it or wrote the ledger
    crashed.wait()
    w.github_proxy.hold = None
    w.github_proxy.release()
    assert main_version(w.bare, "dev") == "1.9.1"
    w.push("1.9.2")
    settle(w)
    figures = check_invariants(w)
    assert figures["merged"] >= 2
    records = [(r["stage"], r["version"], r["status"]) for r in w.get("promotions")]
    assert ("dev", "1.9.1", "Succeeded") in records
    assert main_version(w.bare, "dev") == "1.9.2"


def approve(w: OverlapWorld, number: int, *logins: str) -> None:
    assert w.world.github is not None
    for login in logins:
        gh = github.Github(auth=Auth.Token(USERS[login]), base_url=w.world.github.api_url)
        gh.get_repo(REPOSITORY).get_pull(number).create_review(event="APPROVE")


def test_a_promotion_pr_that_conflicts_with_main_is_rebuilt_with_the_same_freight(
    world: OverlapWorld, tmp_path: Path
) -> None:
    w = world
    w.push("1.9.1")
    settle(w)
    (pr,) = bot_pulls(w, "open")
    assert pr.head.ref == "shunter/prod"
    # A person edits the very line the promotion changes, on main.
    person = tmp_path / "person"
    w.git("clone", "-q", str(w.bare), str(person))
    values = person / STAGE_FILES["prod"]
    values.write_text(
        values.read_text().replace("# set by Shunter", "# pinned by ops, set by Shunter")
    )
    for args in (("commit", "-qam", "Note who pins prod"), ("push", "-q", "origin", "main")):
        subprocess.run(["git", *args], cwd=person, check=True, capture_output=True, env=GIT_ENV)
    approve(w, pr.number, "alice", "tech-lead")

    first = w.run("reconcile")
    rebuilt = repo(w).get_pull(pr.number)
    assert rebuilt.state == "open" and rebuilt.head.sha != pr.head.sha, first.output
    assert w.git("merge-base", "--is-ancestor", "main", rebuilt.head.sha) == ""
    assert "# pinned by ops" in w.git("show", f"{rebuilt.head.sha}:{STAGE_FILES['prod']}")
    # Approvals were for the old head: they count again once given on the new one.
    approve(w, pr.number, "alice", "tech-lead")
    settle(w)
    assert repo(w).get_pull(pr.number).merged
    assert main_version(w.bare, "prod") == "1.9.1"
    assert "# pinned by ops" in w.git("show", f"main:{STAGE_FILES['prod']}")
    check_invariants(w)


def test_a_pr_that_cannot_progress_fails_the_run_with_one_annotation(world: OverlapWorld) -> None:
    w = world
    assert w.world.github is not None
    # Branch protection: GitHub refuses every merge of the repository's PRs.
    refusal = json.dumps(
        {
            "message": 'Required status check "ci" is expected.',
            "documentation_url": "https://docs.github.com/rest",
        }
    )
    w.world.github.inject_fault("PUT", r"/pulls/\d+/merge$", 405, body=refusal, times=100)
    w.push("1.9.1")
    run = w.run("run", action=True)

    assert run.code == 1, run.output
    errors = [a for a in run.annotations if a.startswith("::error")]
    assert len(errors) == 1 and "dev" in errors[0], run.annotations
    (pr,) = bot_pulls(w, "open")
    assert pr.head.ref == "shunter/dev" and not pr.merged
    assert main_version(w.bare, "dev") == "1.8.0"


def test_a_deleted_state_branch_is_rebuilt_from_github_with_a_warning(world: OverlapWorld) -> None:
    w = world
    w.push("1.9.1")
    settle(w)
    before = {
        r["pr"]: (r["stage"], r["version"])
        for r in w.get("promotions")
        if r["status"] == "Succeeded"
    }
    pulls = len(bot_pulls(w))
    w.git("update-ref", "-d", "refs/heads/shunter/state")

    run = w.run("run", action=True)

    assert run.code == 0, run.output
    assert len([a for a in run.annotations if a.startswith("::warning")]) >= 1, run.output
    stages = {s["name"]: s for s in w.get("stages")}
    assert stages["dev"]["currentFreight"]["version"] == "1.9.1"
    assert stages["staging"]["currentFreight"]["version"] == "1.9.1"
    after = {
        r["pr"]: (r["stage"], r["version"])
        for r in w.get("promotions")
        if r["status"] == "Succeeded"
    }
    assert after == before  # every merged promotion PR recorded again, once
    assert len(bot_pulls(w)) == pulls  # nothing promoted twice
    check_invariants(w)


def hand_edit(w: OverlapWorld, folder: Path, stage: str, version: str) -> None:
    """A person sets ``stage``'s version on ``main`` by hand (a commit pushed to main)."""
    if not folder.exists():
        w.git("clone", "-q", str(w.bare), str(folder))
    git = ["git", "-C", str(folder)]
    subprocess.run([*git, "pull", "-q"], check=True, capture_output=True, env=GIT_ENV)
    path = folder / STAGE_FILES[stage]
    text = re.sub(r'newTag: "[^"]*"', f'newTag: "{version}"', path.read_text())
    path.write_text(text)
    for args in (("commit", "-qam", f"{stage}: {version} by hand"), ("push", "-q")):
        subprocess.run([*git, *args], check=True, capture_output=True, env=GIT_ENV)
    assert main_version(w.bare, stage) == version


def ledger_runs(w: OverlapWorld, stage: str) -> str | None:
    found = {s["name"]: s for s in w.get("stages")}[stage]["currentFreight"]
    return None if found is None else str(found["version"])


def test_a_hand_edit_to_a_version_no_freight_writes_stops_the_stage_loudly(
    world: OverlapWorld, tmp_path: Path
) -> None:
    w = world
    w.push("1.9.1")
    settle(w)
    hand_edit(w, tmp_path / "person", "dev", "7.7.7")
    w.push("1.9.2")

    run = w.run("run", action=True)

    # The stage waits for a person: exit 1 and one error; the bot neither overwrites the
    # edit nor pretends the stage runs something it knows.
    assert run.code == 1, run.output
    errors = [a for a in run.annotations if a.startswith("::error")]
    assert len(errors) == 1 and "dev" in errors[0], run.annotations
    assert main_version(w.bare, "dev") == "7.7.7"
    assert [p.number for p in bot_pulls(w, "open") if p.head.ref == "shunter/dev"] == []
    assert ledger_runs(w, "dev") == "1.9.1"

    # The person reverts the edit: the stage is Shunter's again and moves on.
    hand_edit(w, tmp_path / "person", "dev", "1.9.1")
    settle(w)
    assert main_version(w.bare, "dev") == "1.9.2"
    assert ledger_runs(w, "dev") == "1.9.2"


def test_a_hand_edit_to_a_known_version_is_followed_and_reported(
    world: OverlapWorld, tmp_path: Path
) -> None:
    w = world
    for tag in ("1.9.1", "1.9.2"):
        w.push(tag)
        settle(w)
    assert main_version(w.bare, "staging") == "1.9.2"
    hand_edit(w, tmp_path / "person", "staging", "1.9.1")

    run = w.run("run", action=True)

    warnings = [a for a in run.annotations if a.startswith("::warning")]
    assert any("staging" in a for a in warnings), run.annotations
    records = [(r["stage"], r["version"], r["status"]) for r in w.get("promotions")]
    # Whatever the run did next, the ledger says what main says, and no PR went unrecorded.
    assert ledger_runs(w, "staging") == main_version(w.bare, "staging")
    assert ("staging", "1.9.2", "Succeeded") in records
    assert not figures(w)["unrecorded"]

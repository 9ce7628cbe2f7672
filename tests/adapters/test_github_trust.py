"""The Forge calls the trust checks rest on, against the GitHub sandbox: a PR's changed
files with their head blobs, its commits with the users they belong to, and who a
workflow run acts for (re-runs included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from github import Github

from bot.adapters.github import GitHubForge
from bot.core.decide.identity import RunActor
from bot.core.decide.pulls import ChangedFile, HeadCommit
from bot.core.promote.exact import check_edit, git_blob_sha
from bot.errors import PermanentError
from sandbox.fixtures.github import BOT_TOKEN, GitHubWorld
from sandbox.fixtures.gitrepos import git

REPO = "alkon/gitops"
OLD = "image:\n  tag: 1.0.0\n"
NEW = "image:\n  tag: 1.1.0\n"
WORKFLOW = """\
name: Shunter
on:
  workflow_dispatch:
    inputs:
      operation: {type: string, required: false}
jobs:
  run:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
"""


@pytest.fixture
def world(github_sandbox: GitHubWorld) -> GitHubWorld:
    github_sandbox.add_repo(
        REPO,
        {
            "app/values.yaml": OLD,
            "app/other.yaml": "x: 1\n",
            ".github/workflows/shunter.yml": WORKFLOW,
        },
    )
    return github_sandbox


@pytest.fixture
def forge(world: GitHubWorld) -> GitHubForge:
    return GitHubForge(REPO, BOT_TOKEN, api_url=world.api_url, throttle=False, retries=0)


def gh(world: GitHubWorld, login: str) -> Github:
    return world.client(login)


def work(world: GitHubWorld) -> Path:
    bare = world.tmp / "alkon__gitops.git"
    path = world.tmp / "mallory-work"
    if not path.exists():
        git(world.tmp, "clone", "-q", str(bare), str(path))
    return path


def commit_as(world: GitHubWorld, login: str, branch: str, files: dict[str, str | None]) -> str:
    """Commit ``files`` (``None``: delete) on ``branch`` as ``login`` (GitHub's no-reply
    e-mail) and push it, as a person with write access would."""
    w = work(world)
    git(w, "fetch", "-q", "origin")
    git(w, "checkout", "-q", "-B", branch, f"origin/{branch}")
    for rel, text in files.items():
        if text is None:
            git(w, "rm", "-q", rel)
        else:
            (w / rel).write_text(text)
    git(w, "add", "-A")
    email = f"{login}@users.noreply.github.com"
    who = {f"GIT_{role}_{key}": value for role in ("AUTHOR", "COMMITTER")
           for key, value in (("NAME", login), ("EMAIL", email))}  # fmt: skip
    subprocess.run(["git", "commit", "-q", "-m", "change"], cwd=w, check=True,
                   env={"HOME": str(w), "PATH": "/usr/bin:/bin", **who})  # fmt: skip
    git(w, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return git(w, "rev-parse", "HEAD")


def open_pr(world: GitHubWorld, forge: GitHubForge) -> int:
    world.push_branch(world.tmp / "alkon__gitops.git", "shunter/prod", {"app/values.yaml": NEW})
    return forge.create_pull_request(base="main", head="shunter/prod", title="t", body="b").number


def test_files_of_the_bots_own_edit_are_exactly_it(world: GitHubWorld, forge: GitHubForge) -> None:
    number = open_pr(world, forge)
    files = forge.pull_request_files(number)
    assert files == (ChangedFile("app/values.yaml", "modified", git_blob_sha(NEW)),)
    assert check_edit({"app/values.yaml": NEW}, {"app/values.yaml": OLD}, files).exact
    pr = forge.pull_request(number)
    assert (pr.head_repo, pr.base_repo) == (REPO, REPO)


def test_a_pushed_extra_change_shows(world: GitHubWorld, forge: GitHubForge) -> None:
    number = open_pr(world, forge)
    commit_as(world, "alice", "shunter/prod", {"app/other.yaml": "x: 2\n", "app/new.txt": "n\n"})
    files = {f.path: f for f in forge.pull_request_files(number)}
    assert {p: f.status for p, f in files.items()} == {
        "app/values.yaml": "modified",
        "app/other.yaml": "modified",
        "app/new.txt": "added",
    }
    check = check_edit({"app/values.yaml": NEW}, {"app/values.yaml": OLD}, tuple(files.values()))
    assert check.extra == ("app/new.txt", "app/other.yaml")


def test_a_rename_and_a_removal_show(world: GitHubWorld, forge: GitHubForge) -> None:
    number = open_pr(world, forge)
    w = work(world)
    commit_as(world, "alice", "shunter/prod", {"app/values.yaml": None})
    git(w, "mv", "app/other.yaml", "app/moved.yaml")
    git(w, "commit", "-q", "-m", "rename")
    git(w, "push", "-q", "origin", "HEAD:refs/heads/shunter/prod")
    files = {f.path: f for f in forge.pull_request_files(number)}
    assert files["app/values.yaml"].status == "removed"
    assert files["app/values.yaml"].blob_sha is None
    assert files["app/moved.yaml"].status == "renamed"
    assert files["app/moved.yaml"].previous_path == "app/other.yaml"
    check = check_edit({"app/values.yaml": NEW}, {"app/values.yaml": OLD}, tuple(files.values()))
    assert check.extra == ("app/moved.yaml", "app/other.yaml")
    assert check.different == ("app/values.yaml",)


def test_commits_carry_their_github_users(world: GitHubWorld, forge: GitHubForge) -> None:
    number = open_pr(world, forge)
    sha = commit_as(world, "alice", "shunter/prod", {"app/other.yaml": "x: 3\n"})
    commits = forge.pull_request_commits(number)
    assert len(commits) == 2
    assert commits[0].author is None  # the test identity belongs to no GitHub user
    assert commits[-1] == HeadCommit(sha, "alice", "alice")


def test_run_actor_follows_a_rerun(world: GitHubWorld, forge: GitHubForge) -> None:
    repo = gh(world, "tech-lead").get_repo(REPO)
    assert repo.get_workflow("shunter.yml").create_dispatch("main", {"operation": "pause"})
    (run,) = world.sandbox.runs(REPO)
    first = forge.run_actor(run.id)
    assert first == RunActor(run.id, "tech-lead", "tech-lead", "workflow_dispatch", 1, "queued")
    world.sandbox.complete_run(run.id)
    assert gh(world, "alice").get_repo(REPO).get_workflow_run(run.id).rerun()
    again = forge.run_actor(run.id)
    assert (again.triggering_actor, again.actor, again.run_attempt) == ("alice", "tech-lead", 2)


def test_unknown_run_is_named(forge: GitHubForge) -> None:
    with pytest.raises(PermanentError, match="workflow run 999"):
        forge.run_actor(999)

"""The Forge calls the trust checks rest on, against the GitHub sandbox: a PR's changed
files with their head blobs, its commits with the users they belong to, and who a
workflow run acts for (re-runs included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from github import Github

from bot.adapters.git import GitRemoteRepo
from bot.adapters.github import GitHubForge
from bot.core.decide.identity import RunActor
from bot.core.decide.pulls import ChangedFile, HeadCommit
from bot.core.discover.artifacts import Image
from bot.core.discover.freight import make_freight
from bot.core.model import FreightRequest, GitRepoUpdate, Stage, YamlValueUpdate
from bot.core.promote.exact import Origin, check_edit, git_blob_sha
from bot.errors import PermanentError
from bot.loop.trust import check_pr
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


def checkout(world: GitHubWorld) -> GitRemoteRepo:
    """The bot's own clone of the repository (as the Action checks it out)."""
    path = world.tmp / "bot-checkout"
    if not path.exists():
        git(world.tmp, "clone", "-q", str(world.tmp / "alkon__gitops.git"), str(path))
    return GitRemoteRepo(path)


def from_git(world: GitHubWorld, forge: GitHubForge, number: int) -> set[ChangedFile]:
    pr = forge.pull_request(number)
    repo = checkout(world)
    base = repo.head("main")
    assert base is not None
    since = repo.merge_base(base, pr.head_sha, branches=("main", pr.head_branch), pull=number)
    assert since is not None
    return set(repo.changed_files(since, pr.head_sha))


def test_git_lists_a_prs_files_as_github_does(world: GitHubWorld, forge: GitHubForge) -> None:
    number = open_pr(world, forge)
    assert from_git(world, forge, number) == set(forge.pull_request_files(number))
    w = work(world)
    commit_as(world, "alice", "shunter/prod", {"app/other.yaml": "x: 2\n", "app/new.txt": "n\n"})
    assert from_git(world, forge, number) == set(forge.pull_request_files(number))
    git(w, "mv", ".github/workflows/shunter.yml", "app/moved.yml")
    git(w, "rm", "-q", "app/values.yaml")
    git(w, "commit", "-q", "-m", "rename and remove")
    git(w, "push", "-q", "origin", "HEAD:refs/heads/shunter/prod")
    files = from_git(world, forge, number)
    assert files == set(forge.pull_request_files(number))
    assert {(f.path, f.status, f.previous_path, f.blob_sha is None) for f in files} >= {
        ("app/moved.yml", "renamed", ".github/workflows/shunter.yml", False),
        ("app/values.yaml", "removed", None, True),
    }


def test_a_symlink_to_the_right_text_is_not_the_edit(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    number = open_pr(world, forge)
    w = work(world)
    commit_as(world, "alice", "shunter/prod", {"app/right.txt": NEW})
    (w / "app/values.yaml").unlink()
    (w / "app/values.yaml").symlink_to("right.txt")
    git(w, "add", "-A")
    git(w, "commit", "-q", "-m", "link")
    git(w, "push", "-q", "origin", "HEAD:refs/heads/shunter/prod")
    files = tuple(from_git(world, forge, number))
    check = check_edit({"app/values.yaml": NEW}, {"app/values.yaml": OLD}, files)
    assert "app/values.yaml" in check.different


def test_a_check_judges_the_head_the_merge_names_not_the_one_github_has_now(
    world: GitHubWorld, forge: GitHubForge
) -> None:
    """Overlapping runs move a promotion branch between two requests (and back, when two
    of them build the same commit in the same second): the check of a PR read at one
    head must not come from the file list of another."""
    number = open_pr(world, forge)
    seen = forge.pull_request(number)  # a run reads the PR: its head holds NEW
    newer = "image:\n  tag: 1.2.0\n"
    world.push_branch(world.tmp / "alkon__gitops.git", "shunter/prod", {"app/values.yaml": newer})
    # GitHub's list now describes the newer head; the head this run would merge is the old.
    assert {f.blob_sha for f in forge.pull_request_files(number)} == {git_blob_sha(newer)}
    stage = Stage(
        name="prod",
        requested_freight=(FreightRequest("app", direct=True),),
        git_repo_updates=(GitRepoUpdate(yaml=(YamlValueUpdate("app/values.yaml", "image.tag"),)),),
    )
    image = Image("ghcr.io/alkon/app", "1.2.0", "sha256:" + "2" * 64)
    freight = make_freight("app", images=[image])
    bots = frozenset({forge.whoami()})
    check = check_pr(forge, checkout(world), stage, freight, seen, bot=bots, pushers=False)
    assert check.origin is Origin.OURS
    assert check.edit is not None and check.edit.different == ("app/values.yaml",)
    # The head GitHub has now is exactly that edit: read again, the PR checks as exact.
    again = forge.pull_request(number)
    assert check_pr(forge, checkout(world), stage, freight, again, bot=bots, pushers=False).exact

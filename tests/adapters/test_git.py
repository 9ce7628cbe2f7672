"""GitRemoteRepo and Git against real repositories: a bare remote in tmp_path and clones of it."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.git import Git, GitRemoteRepo, redact
from bot.errors import ConflictError, PermanentError, TransientError
from sandbox.fixtures.gitrepos import git, make_remote

SEED = {
    "README.md": "gitops\n",
    "envs/dev/kustomization.yaml": "# dev\nimages:\n  - name: app\n    newTag: 1.0.0\n",
    "envs/prod/kustomization.yaml": "# prod\nimages:\n  - name: app\n    newTag: 0.9.0\n",
}
DEV = "envs/dev/kustomization.yaml"
DEV_NEW = "# dev\nimages:\n  - name: app\n    newTag: 1.1.0\n"


def clone(tmp: Path, bare: Path, name: str = "clone") -> Path:
    git(tmp, "clone", "-q", str(bare), name)
    return tmp / name


def remote_show(bare: Path, spec: str) -> str:
    return git(bare, "show", spec)


def remote_ref(bare: Path, branch: str) -> str | None:
    out = git(bare, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
    return out or None


@pytest.fixture
def gitops(tmp_path: Path) -> tuple[Path, Path]:
    bare = make_remote(tmp_path, SEED)
    return bare, clone(tmp_path, bare)


def test_commit_files_edits_nested_file_on_new_branch_and_leaves_clone_alone(
    gitops: tuple[Path, Path],
) -> None:
    bare, work = gitops
    main_before = remote_ref(bare, "main")
    clone_head = git(work, "rev-parse", "HEAD")

    sha = GitRemoteRepo(work).commit_files(
        base="main",
        branch="shunter/dev",
        files={DEV: DEV_NEW},
        message="Promote app 1.1.0 to dev",
        force=True,
    )

    assert remote_ref(bare, "shunter/dev") == sha
    assert remote_show(bare, f"shunter/dev:{DEV}") == DEV_NEW.rstrip("\n")
    # Everything else is exactly main's content, and the commit sits on main.
    assert git(bare, "diff", "--name-only", "main", "shunter/dev") == DEV
    assert git(bare, "rev-parse", "shunter/dev^") == main_before
    assert git(bare, "log", "-1", "--format=%an <%ae>|%cn|%B", sha) == (
        "shunter[bot] <shunter@users.noreply.github.com>|shunter[bot]|Promote app 1.1.0 to dev"
    )
    assert remote_ref(bare, "main") == main_before
    # The clone's checkout, index and branches are untouched.
    assert git(work, "status", "--porcelain") == ""
    assert git(work, "rev-parse", "HEAD") == clone_head
    assert (work / DEV).read_text() == SEED[DEV]
    assert git(work, "branch", "--list") == "* main"


def test_commit_files_keeps_file_modes_and_adds_new_files(tmp_path: Path) -> None:
    bare = make_remote(tmp_path, {"deploy.sh": "#!/bin/sh\necho 1\n"})
    seed = clone(tmp_path, bare, "seed2")
    git(seed, "update-index", "--chmod=+x", "deploy.sh")
    git(seed, "commit", "-q", "-m", "executable")
    git(seed, "push", "-q", "origin", "main")
    work = clone(tmp_path, bare)

    GitRemoteRepo(work).commit_files(
        base="main",
        branch="main",
        files={"deploy.sh": "#!/bin/sh\necho 2\n", "./new//dir/values.yaml": "tag: 2\n"},
        message="edit",
        force=False,
    )

    listing = git(bare, "ls-tree", "-r", "main")
    assert "100755 blob" in next(ln for ln in listing.splitlines() if ln.endswith("deploy.sh"))
    assert "100644 blob" in next(ln for ln in listing.splitlines() if ln.endswith("values.yaml"))
    assert remote_show(bare, "main:new/dir/values.yaml") == "tag: 2"


def test_works_from_a_shallow_checkout(tmp_path: Path) -> None:
    """actions/checkout clones with depth 1 by default."""
    bare = make_remote(tmp_path, SEED)
    seed = clone(tmp_path, bare, "seed2")
    for n in range(3):
        (seed / "README.md").write_text(f"v{n}\n")
        git(seed, "commit", "-q", "-am", f"v{n}")
    git(seed, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", "shallow")
    work = tmp_path / "shallow"
    assert (work / ".git" / "shallow").exists()

    sha = GitRemoteRepo(work).commit_files(
        base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message="x", force=True
    )

    assert remote_ref(bare, "shunter/dev") == sha
    assert git(bare, "fsck", "--no-progress", "--connectivity-only") == ""
    assert git(bare, "rev-list", "--count", "shunter/dev") == "5"


def test_force_rewrites_promotion_branch_on_top_of_new_base(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    bare, work = gitops
    repo = GitRemoteRepo(work)
    first = repo.commit_files(
        base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message="1.1.0", force=True
    )
    # Someone else moves main; the stale promotion is replaced by a newer candidate.
    other = clone(tmp_path, bare, "other")
    (other / "README.md").write_text("changed\n")
    git(other, "commit", "-q", "-am", "docs")
    git(other, "push", "-q", "origin", "main")
    newer = "# dev\nimages:\n  - name: app\n    newTag: 1.2.0\n"

    repo.refresh()
    second = repo.commit_files(
        base="main", branch="shunter/dev", files={DEV: newer}, message="1.2.0", force=True
    )

    assert remote_ref(bare, "shunter/dev") == second != first
    assert git(bare, "rev-parse", "shunter/dev^") == remote_ref(bare, "main")
    assert first not in git(bare, "rev-list", "shunter/dev").split()
    assert remote_show(bare, "shunter/dev:README.md") == "changed"


def test_second_identical_call_pushes_nothing(gitops: tuple[Path, Path]) -> None:
    bare, work = gitops

    def promote(message: str) -> str:
        # A new instance each time: the second call is a new run.
        return GitRemoteRepo(work).commit_files(
            base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message=message, force=True
        )

    first = promote("one")
    again = promote("two")

    assert again == first == remote_ref(bare, "shunter/dev")
    assert git(bare, "log", "--format=%s", "shunter/dev") == "one\ninitial"


def test_direct_push_of_unchanged_content_makes_no_commit(gitops: tuple[Path, Path]) -> None:
    bare, work = gitops
    before = remote_ref(bare, "main")

    sha = GitRemoteRepo(work).commit_files(
        base="main", branch="main", files={DEV: SEED[DEV]}, message="noop", force=False
    )

    assert sha == before == remote_ref(bare, "main")


def test_non_forced_push_that_cannot_fast_forward_is_a_conflict(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    bare, work = gitops
    # shunter/dev exists and is not an ancestor of main's head.
    other = clone(tmp_path, bare, "other")
    git(other, "checkout", "-q", "-b", "shunter/dev")
    (other / "README.md").write_text("someone else\n")
    git(other, "commit", "-q", "-am", "theirs")
    git(other, "push", "-q", "origin", "shunter/dev")
    theirs = remote_ref(bare, "shunter/dev")

    with pytest.raises(ConflictError, match="shunter/dev moved"):
        GitRemoteRepo(work).commit_files(
            base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message="x", force=False
        )

    assert remote_ref(bare, "shunter/dev") == theirs


def test_read_file_and_head_fetch_once_until_refresh(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    bare, work = gitops
    repo = GitRemoteRepo(work)
    assert repo.read_file("main", DEV) == SEED[DEV]
    assert repo.read_file("main", f"./{DEV}") == SEED[DEV]  # as configs write paths
    assert repo.read_file("main", "envs/missing.yaml") is None
    assert repo.read_file("no-such-branch", DEV) is None
    assert repo.head("no-such-branch") is None
    seen = repo.head("main")
    assert seen == remote_ref(bare, "main")

    other = clone(tmp_path, bare, "other")
    (other / DEV).write_text(DEV_NEW)
    git(other, "commit", "-q", "-am", "bump")
    git(other, "push", "-q", "origin", "main")

    assert repo.head("main") == seen  # one fetch per ref per instance
    assert repo.read_file("main", DEV) == SEED[DEV]
    repo.refresh()
    assert repo.head("main") == remote_ref(bare, "main") != seen
    assert repo.read_file("main", DEV) == DEV_NEW


def test_missing_base_branch_says_which(gitops: tuple[Path, Path]) -> None:
    _, work = gitops
    with pytest.raises(PermanentError, match="'release' does not exist on remote origin"):
        GitRemoteRepo(work).commit_files(
            base="release", branch="shunter/dev", files={DEV: DEV_NEW}, message="x", force=True
        )


def test_push_refused_by_remote_rule_is_permanent(gitops: tuple[Path, Path]) -> None:
    bare, work = gitops
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GH006: Protected branch update failed' >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(PermanentError, match="remote refused the push to main") as info:
        GitRemoteRepo(work).commit_files(
            base="main", branch="main", files={DEV: DEV_NEW}, message="x", force=False
        )
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize(
    ("branch", "path"),
    [
        ("bad..name", DEV),
        ("-rf", DEV),
        ("shunter/dev", "../outside.yaml"),
        ("shunter/dev", "/etc/passwd"),
        ("shunter/dev", ".git/config"),
        ("shunter/dev", "./"),
    ],
)
def test_unsafe_branch_names_and_paths_are_refused(
    gitops: tuple[Path, Path], branch: str, path: str
) -> None:
    bare, work = gitops
    with pytest.raises(PermanentError):
        GitRemoteRepo(work).commit_files(
            base="main", branch=branch, files={path: "x"}, message="x", force=True
        )
    assert git(bare, "for-each-ref", "--format=%(refname)") == "refs/heads/main"


def test_missing_remote_is_permanent_and_says_what_to_fix(gitops: tuple[Path, Path]) -> None:
    _, work = gitops
    with pytest.raises(PermanentError) as info:
        GitRemoteRepo(work, remote="upstream").head("main")
    message = str(info.value)
    assert "'upstream', which is not configured in this clone" in message
    assert "git remote -v" in message


def test_remote_url_to_nowhere_is_permanent(tmp_path: Path, gitops: tuple[Path, Path]) -> None:
    _, work = gitops
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(PermanentError, match="does not appear to be a git repository"):
        GitRemoteRepo(work).head("main")


def test_work_folder_that_is_not_a_clone_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="must be a clone"):
        GitRemoteRepo(tmp_path).head("main")


def test_error_messages_redact_credentials_in_remote_urls(gitops: tuple[Path, Path]) -> None:
    _, work = gitops
    secret = "ghs_" + "A" * 36
    git(work, "remote", "set-url", "origin", f"https://x-access-token:{secret}@127.0.0.1:1/o/r.git")

    with pytest.raises(TransientError) as info:
        GitRemoteRepo(work).head("main")

    message = str(info.value)
    assert secret not in message
    assert "https://***@127.0.0.1:1/o/r.git" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fatal: https://user:tok@github.com/o/r.git", "fatal: https://***@github.com/o/r.git"),
        ("url 'https://tok@h/x'", "url 'https://***@h/x'"),
        ("AUTHORIZATION: basic eC1hY2Nlc3M6dG9r", "AUTHORIZATION: basic ***"),
        ("token ghp_" + "b" * 36 + " leaked", "token *** leaked"),
        ("ssh://git@github.com/o/r.git", "ssh://***@github.com/o/r.git"),
        ("no secrets at /tmp/x.git", "no secrets at /tmp/x.git"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections (via the backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[int]:
    """An HTTP git remote that answers every request with 401."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_refused_credentials_are_permanent_and_say_to_fix_the_token(
    gitops: tuple[Path, Path], refusing_server: int
) -> None:
    _, work = gitops
    secret = "ghs_" + "Z" * 36
    url = f"http://x-access-token:{secret}@127.0.0.1:{refusing_server}/o/r.git"
    git(work, "remote", "set-url", "origin", url)

    with pytest.raises(PermanentError, match="credentials were refused") as info:
        GitRemoteRepo(work).head("main")

    assert not isinstance(info.value, TransientError)
    assert secret not in str(info.value)


def test_a_hanging_remote_times_out_as_transient(
    gitops: tuple[Path, Path], silent_server: int
) -> None:
    _, work = gitops
    git(work, "remote", "set-url", "origin", f"http://127.0.0.1:{silent_server}/o/r.git")

    with pytest.raises(TransientError, match="did not finish within 1s"):
        GitRemoteRepo(work, timeout=1).head("main")


def test_identity_and_repository_come_from_the_constructor_not_the_environment(
    tmp_path: Path, gitops: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, work = gitops
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Global User\n\temail = g@example.invalid\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Intruder")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "intruder@example.invalid")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere-index"))

    repo = GitRemoteRepo(work, author=("Release Bot", "release@example.invalid"))
    sha = repo.commit_files(
        base="main", branch="main", files={DEV: DEV_NEW}, message="x", force=False
    )

    assert git(bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        "Release Bot <release@example.invalid>|Release Bot <release@example.invalid>"
    )
    assert not (tmp_path / "elsewhere-index").exists()


def test_git_run_returns_text_and_raises_permanent_on_failure(tmp_path: Path) -> None:
    runner = Git(tmp_path)
    runner.run("init", "-q")
    assert runner.run("hash-object", "--stdin", input="hello\n") == (
        "ce013625030ba8dba906f756967f9e9ca394464a"
    )
    with pytest.raises(PermanentError, match="git cat-file -p nope failed"):
        runner.run("cat-file", "-p", "nope")


def test_read_file_at_a_commit_fetches_what_landed_since(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    bare, work = gitops
    repo = GitRemoteRepo(work)
    before = repo.head("main")
    assert before is not None
    other = clone(tmp_path, bare, "other")
    (other / DEV).write_text(DEV_NEW)
    git(other, "commit", "-q", "-am", "bump")
    git(other, "push", "-q", "origin", "main")
    merged = remote_ref(bare, "main")
    assert merged is not None
    # The instance saw main before the commit landed: it fetches main again.
    assert repo.read_file_at(merged, DEV, branch="main") == DEV_NEW
    assert repo.read_file_at(f"{merged}^1", DEV, branch="main") == SEED[DEV]
    assert repo.read_file_at(before, "envs/missing.yaml", branch="main") is None
    with pytest.raises(PermanentError, match="not on branch"):
        repo.read_file_at("0" * 40, DEV, branch="main")
    with pytest.raises(PermanentError, match="not a commit"):
        repo.read_file_at("main", DEV, branch="main")


def test_merge_base_is_where_a_promotion_branch_left_main_as_main_moves_on(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    """GitHub lists a PR's files from the merge base: the promotion branch's parent, even
    after main moved on. Commits not fetched yet are fetched from the branches named."""
    bare, work = gitops
    left = remote_ref(bare, "main")
    pusher = GitRemoteRepo(clone(tmp_path, bare, "pusher"))
    head = pusher.commit_files(
        base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message="x", force=True
    )
    other = clone(tmp_path, bare, "other")
    (other / "README.md").write_text("moved on\n")
    git(other, "add", "README.md")
    git(other, "commit", "-q", "-m", "main moves on")
    git(other, "push", "-q", "origin", "main")
    now = remote_ref(bare, "main")
    assert now is not None and now != left

    repo = GitRemoteRepo(work)  # has seen neither the branch nor main's new commit
    assert repo.merge_base(now, head, branches=("main", "shunter/dev")) == left
    assert repo.merge_base(f"{now}^1", head, branches=("main", "shunter/dev")) == left
    assert repo.merge_base("1" * 40, head, branches=("main",)) is None  # no such commit
    with pytest.raises(PermanentError, match="not a commit"):
        repo.merge_base("main", head, branches=("main",))


def test_merge_base_fetches_a_pull_requests_head_ref_once_its_branch_moved_on(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    """A squash merge leaves the PR's head out of main's history; once its branch is
    rewritten, only refs/pull/<n>/head still holds it, as GitHub keeps it."""
    bare, work = gitops
    left = remote_ref(bare, "main")
    pusher = GitRemoteRepo(clone(tmp_path, bare, "pusher"))
    head = pusher.commit_files(
        base="main", branch="shunter/dev", files={DEV: DEV_NEW}, message="x", force=True
    )
    git(bare, "update-ref", "refs/pull/7/head", head)
    pusher.commit_files(
        base="main", branch="shunter/dev", files={DEV: DEV_NEW + "# again\n"}, message="y",
        force=True,
    )  # fmt: skip
    assert left is not None and remote_ref(bare, "shunter/dev") != head

    repo = GitRemoteRepo(work)
    assert repo.merge_base(left, head, branches=("main", "shunter/dev")) is None
    assert repo.merge_base(left, head, branches=("main", "shunter/dev"), pull=7) == left
    with pytest.raises(TransientError):  # no such PR ref: a failed look, never a guess
        repo.merge_base(left, "2" * 40, branches=("main", "shunter/dev"), pull=8)


def test_a_commit_message_landed_after_the_last_look_is_fetched(
    tmp_path: Path, gitops: tuple[Path, Path]
) -> None:
    bare, work = gitops
    repo = GitRemoteRepo(work)
    assert repo.head("main") is not None  # this instance has looked once
    other = GitRemoteRepo(clone(tmp_path, bare, "other"))
    message = "shunter: promote 1.9.5 to dev\n\nFreight: " + "a" * 40 + " (calm-lynx)\n"
    sha = other.commit_files(
        base="main", branch="main", files={"x.txt": "x\n"}, message=message, force=False
    )
    assert repo.commit_message(sha, branch="main").rstrip("\n") == message.rstrip("\n")
    with pytest.raises(PermanentError):
        repo.commit_message("b" * 40, branch="main")

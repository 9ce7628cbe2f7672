"""Git adapters: edits to the GitOps repository and the state branch, through the ``git`` CLI.

Both adapters work on a local clone (in Actions, the folder ``actions/checkout`` made, whose
persisted credentials let ``git fetch``/``git push`` reach the remote) but never touch its work
tree, its index or its own branches: remote branches are fetched into ``refs/shunter/<remote>/``,
files are read with ``cat-file``, and commits are built with plumbing (``hash-object``, a
temporary ``GIT_INDEX_FILE``, ``read-tree``, ``update-index``, ``write-tree``, ``commit-tree``)
and pushed by SHA. So a user's checkout is left exactly as the workflow's earlier steps left it.

The state branch is written with compare-and-swap: ``git push --force-with-lease=<ref>:<old>``
lets the remote update the branch only while it still points at the head the caller read
(https://git-scm.com/docs/git-push#Documentation/git-push.txt---force-with-leaseltrefnamegtltexpectgt),
and the remote checks the old value under its ref lock, so concurrent runs lose nothing.

Every git failure becomes a ``bot.errors`` type; every message goes through :func:`redact`
first, so no token embedded in a remote URL or an ``Authorization`` header ever leaves here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.ledger import ARCHIVE_DIR
from bot.core.ledger_yaml import MAX_FILE_BYTES
from bot.errors import (
    ConflictError,
    LedgerError,
    PermanentError,
    Problem,
    ShunterError,
    TransientError,
)

# A run that only reads the state branch needs neither: tempfile (with shutil and
# random) serves commits, and a pull request's files are compared only on promotion.
if TYPE_CHECKING:
    from bot.core.decide.pulls import ChangedFile, FileStatus

__all__ = ["DEFAULT_AUTHOR", "Git", "GitRemoteRepo", "GitResult", "GitStateStore", "redact"]

DEFAULT_AUTHOR = ("shunter[bot]", "shunter@users.noreply.github.com")

#: Seconds one git command may take before it is killed and reported as a TransientError.
DEFAULT_TIMEOUT = 120.0

# Variables passed through from the caller's environment. Everything else is dropped, so a
# stray GIT_DIR / GIT_INDEX_FILE / GIT_WORK_TREE (e.g. when run from a git hook) or a localised
# LANG cannot redirect or reword what these commands do. HOME, the askpass/ssh variables and
# GIT_CONFIG_* stay so the credentials actions/checkout (or the operator) set up keep working.
_PASSTHROUGH = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "SSH_AUTH_SOCK",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_COUNT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
    }
)
_PASSTHROUGH_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")

# Per-command config that protects the shared clone: no background gc/maintenance racing with
# the workflow's next steps, no signing prompts from a user's global config.
_CONFIG = (
    "-c",
    "gc.auto=0",
    "-c",
    "maintenance.auto=false",
    "-c",
    "push.gpgSign=false",
    "-c",
    "core.quotePath=false",
)

# ``scheme://user:secret@`` or ``scheme://secret@`` in URLs, and HTTP auth headers git may echo.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]+@")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:basic|bearer|token)\s+)[^\s'\"]+")
_TOKEN_LIKE = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")


def redact(text: str) -> str:
    """Return ``text`` with credentials removed: the userinfo of every URL
    (``https://user:token@host`` -> ``https://***@host``), ``Authorization`` header values and
    GitHub token literals are replaced by ``***``."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    text = _AUTH_HEADER.sub(r"\1***", text)
    return _TOKEN_LIKE.sub("***", text)


def _scrubbed_environment(author: tuple[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _PASSTHROUGH or k.startswith(_PASSTHROUGH_PREFIXES)
    }
    env.setdefault("PATH", os.defpath)
    name, email = author
    env.update(
        {
            # English, unlocalised messages: error classification below reads them.
            "LC_ALL": "C",
            "LANGUAGE": "C",
            # Never wait for a password on a terminal: fail fast and say so.
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
    )
    return env


# Substrings of git's (LC_ALL=C) stderr, lower-cased, that decide the error type.
_AUTH_MARKERS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied",
    "permission to ",
    "returned error: 401",
    "returned error: 403",
    "invalid username or password",
    "access denied",
)
_MISSING_MARKERS = (
    "does not appear to be a git repository",
    "repository not found",
    "no such remote",
    "returned error: 404",
    "not found",
)
# A "[remote rejected]" that means the ref moved between the ref advertisement and our update.
_LOST_RACE_MARKERS = (
    "failed to update ref",
    "cannot lock ref",
    "reference already exists",
    "incorrect old value",
    "but expected",
)
_NETWORK_MARKERS = (
    "could not resolve host",
    "temporary failure in name resolution",
    "connection timed out",
    "operation timed out",
    "timed out",
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "connection reset",
    "early eof",
    "remote end hung up unexpectedly",
    "rpc failed",
    "returned error: 429",
    "returned error: 5",
    "unexpected disconnect",
    "gnutls",
    "ssl_read",
    "http/2 stream",
)


@dataclass(frozen=True)
class GitResult:
    """What one git command returned: exit code, raw stdout, decoded stderr."""

    returncode: int
    stdout: bytes
    stderr: str


class Git:
    """Runs ``git`` against one local repository with a fixed, scrubbed environment.

    The author and committer identity is ``author`` (never the user's config); system config
    is ignored; ``HOME`` and credential settings are kept so pushes authenticate as the
    workflow set up. Each command is killed after ``timeout`` seconds.
    """

    def __init__(
        self,
        repo: Path,
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.repo = Path(repo)
        self.author = author
        self.timeout = timeout
        self._env = _scrubbed_environment(author)

    def run(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """Run ``git <args>`` and return its stdout as text, trailing newlines removed.

        ``input`` is sent on stdin; ``env`` adds variables (e.g. ``GIT_INDEX_FILE``).
        Raises ``TransientError`` on a timeout or a network failure, ``PermanentError`` for
        any other failure (authentication, missing remote, bad object...), with git's own
        message, credentials redacted.
        """
        data = None if input is None else input.encode("utf-8")
        result = self.run_bytes(*args, input=data, env=env, check=True)
        try:
            return result.stdout.decode("utf-8").rstrip("\n")
        except UnicodeDecodeError as exc:
            raise PermanentError(
                f"git {_describe(args)} printed output that is not UTF-8 text"
            ) from exc

    def run_bytes(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> GitResult:
        """Run ``git <args>`` and return the raw result.

        With ``check=False`` a non-zero exit is returned rather than raised; a timeout or a
        missing ``git`` binary always raises (``TransientError`` / ``PermanentError``).
        """
        full_env = dict(self._env)
        if env:
            full_env.update(env)
        argv = ["git", *_CONFIG, *args]
        try:
            # A new session: on timeout the whole group (git and its remote helpers) is killed,
            # and no helper can open the controlling terminal to ask for a password.
            proc = subprocess.Popen(
                argv,
                cwd=self.repo,
                env=full_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            if not self.repo.is_dir():
                raise PermanentError(
                    f"the git work folder {self.repo} does not exist; "
                    "check out the repository first (actions/checkout)"
                ) from exc
            raise PermanentError("git is not installed or not on PATH; install git") from exc
        try:
            out, err = proc.communicate(input=input, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise TransientError(
                f"git {_describe(args)} did not finish within {self.timeout:g}s in {self.repo}; "
                "the remote may be slow or unreachable, the next run retries"
            ) from None  # the TimeoutExpired text repeats the argv unredacted
        result = GitResult(proc.returncode, out, err.decode("utf-8", "replace"))
        if check and result.returncode != 0:
            raise self.error(args, result)
        return result

    def error(self, args: Sequence[str], result: GitResult, *, remote: str = "") -> ShunterError:
        """Return the ``bot.errors`` exception that describes a failed git command.

        Network trouble -> ``TransientError``; authentication, a missing remote or repository
        and everything else -> ``PermanentError`` whose message says what to fix. All text is
        redacted.
        """
        stderr = _clean_stderr(result.stderr)
        low = stderr.lower()
        where = f" (remote {remote})" if remote else ""
        head = f"git {_describe(args)} failed in {self.repo}{where}: {stderr or 'no message'}"
        if "not a git repository" in low and "does not appear" not in low:
            return PermanentError(
                redact(head + f"; {self.repo} must be a clone of the repository (actions/checkout)")
            )
        # Only commands that talk to a remote get the credential and remote hints: a local
        # "not found" (a bad object name) has nothing to do with the remote.
        if remote and any(m in low for m in _AUTH_MARKERS):
            return PermanentError(
                redact(
                    head + "; the credentials were refused: give the workflow a token that may "
                    "read and push this repository (permissions: contents: write, and "
                    "actions/checkout with persist-credentials: true)"
                )
            )
        if remote and any(m in low for m in _MISSING_MARKERS):
            return PermanentError(
                redact(
                    head + "; check that the remote exists in the clone (git remote -v) and that "
                    "its URL names a repository this token can reach"
                )
            )
        if any(m in low for m in _NETWORK_MARKERS):
            return TransientError(redact(head + "; the next run retries"))
        return PermanentError(redact(head))


def _describe(args: Sequence[str]) -> str:
    return redact(" ".join(a for a in args if not a.startswith("--force-with-lease")))


def _clean_stderr(text: str) -> str:
    # git's "hint:" lines advise interactive users (check out, pull); they mislead here.
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
    return " ".join(ln.strip() for ln in lines)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.communicate()


_REVISION = re.compile(r"[0-9a-f]{7,64}(\^[0-9])?")


def _check_path(path: str) -> str:
    """Return ``path`` as git stores it (``./a//b`` -> ``a/b``, as configs often write paths).

    Raises PermanentError for absolute paths, ``..`` and paths git must not hold (``.git``).
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or not parts or ".." in parts:
        raise PermanentError(
            f"file path {path!r} must be relative to the repository root, without '..'"
        )
    if any(p.lower() == ".git" for p in parts) or "\0" in path or "\n" in path:
        raise PermanentError(f"file path {path!r} cannot be stored in a git tree")
    return "/".join(parts)


# --------------------------------------------------------------------------- remote refs


class _Remote:
    """Remote branches mirrored into ``refs/shunter/<remote>/<branch>`` of the local clone."""

    def __init__(self, git: Git, remote: str) -> None:
        self.git = git
        self.remote = remote
        self._heads: dict[str, str | None] = {}

    def tracking_ref(self, branch: str) -> str:
        return f"refs/shunter/{self.remote}/{branch}"

    def check_branch(self, branch: str) -> str:
        result = self.git.run_bytes("check-ref-format", f"refs/heads/{branch}", check=False)
        if result.returncode != 0 or branch.startswith("-"):
            raise PermanentError(f"{branch!r} is not a valid git branch name")
        return branch

    def forget(self, *branches: str) -> None:
        """Forget ``branches`` (all of them when none are named): the next read fetches."""
        if not branches:
            self._heads.clear()
        for branch in branches:
            self._heads.pop(branch, None)

    def heads(self, *branches: str) -> dict[str, str | None]:
        """Return ``branch -> remote head or None``, fetching each branch once per instance.

        One ``ls-remote`` learns every head; only commits not already local are fetched.
        """
        wanted = [self.check_branch(b) for b in dict.fromkeys(branches) if b not in self._heads]
        if wanted:
            self._sync(wanted)
        return {b: self._heads[b] for b in branches}

    def _sync(self, branches: list[str]) -> None:
        # The mirrors first: one for-each-ref both proves this is a clone (ls-remote works
        # outside a repository too, reading "origin" as a path) and says which heads are
        # already here, so a branch that has not moved costs no object check and no
        # update-ref (an idle run reads the state branch with five git processes, not seven).
        mirrored = self._mirrored(branches)
        refs = [f"refs/heads/{b}" for b in branches]
        listing = self._remote_run("ls-remote", "--refs", self.remote, *refs)
        # ls-remote patterns match ref name tails; keep exact names only.
        found: dict[str, str] = {}
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            if name in refs:
                found[name.removeprefix("refs/heads/")] = sha
        # A mirror ref keeps its commit (and the commit's objects) in the clone.
        missing_objects = [
            b for b, sha in found.items() if mirrored.get(b) != sha and not self._has_commit(sha)
        ]
        if missing_objects:
            specs = [f"+refs/heads/{b}:{self.tracking_ref(b)}" for b in missing_objects]
            self._remote_run(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                self.remote,
                *specs,
            )
        for branch in branches:
            head = found.get(branch)
            if head is not None and branch in missing_objects:
                # The fetch may have seen a newer head than ls-remote: the ref is the truth.
                head = self.git.run("rev-parse", "--verify", self.tracking_ref(branch))
                mirrored[branch] = head  # the fetch wrote the mirror
            if mirrored.get(branch) == head:
                self._heads[branch] = head
            else:
                self.record(branch, head)

    def _mirrored(self, branches: list[str]) -> dict[str, str]:
        """``branch -> commit`` of the mirror refs of ``branches`` that exist in the clone.

        Raises ``PermanentError`` when the work folder is not a clone."""
        wanted = {self.tracking_ref(b): b for b in branches}
        listing = self.git.run(
            "for-each-ref", "--format=%(objectname) %(refname)", *wanted
        )  # patterns match from the start up to a slash: exact names are kept below
        out: dict[str, str] = {}
        for line in listing.splitlines():
            sha, _, ref = line.partition(" ")
            if ref in wanted:
                out[wanted[ref]] = sha
        return out

    def record(self, branch: str, sha: str | None) -> None:
        """Remember ``branch``'s remote head and mirror it in the tracking ref."""
        if sha is None:
            self.git.run("update-ref", "-d", self.tracking_ref(branch))
        else:
            self.git.run("update-ref", self.tracking_ref(branch), sha)
        self._heads[branch] = sha

    def fetch_pull(self, number: int) -> None:
        """Fetch PR ``number``'s head ref (``refs/pull/<n>/head``); whether it came is for
        the caller to see (the commit is known locally, or not)."""
        spec = f"+refs/pull/{int(number)}/head:refs/shunter-pulls/{self.remote}/{int(number)}"
        self.git.run_bytes("fetch", "--quiet", "--no-tags", self.remote, spec, check=False)

    def _has_commit(self, sha: str) -> bool:
        return (
            self.git.run_bytes("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0
        )

    def _remote_run(self, *args: str) -> str:
        result = self.git.run_bytes(*args, check=False)
        if result.returncode != 0:
            raise self.git.error(args, result, remote=self._describe_remote())
        return result.stdout.decode("utf-8", "replace").rstrip("\n")

    def _describe_remote(self) -> str:
        url = self.git.run_bytes("remote", "get-url", self.remote, check=False)
        if url.returncode != 0:
            return f"{self.remote!r}, which is not configured in this clone"
        return f"{self.remote} = {redact(url.stdout.decode('utf-8', 'replace').strip())}"

    def push(self, sha: str, branch: str, *, force: bool = False, lease: str | None = None) -> str:
        """Push ``sha`` to ``branch``; return ``ok``, ``rejected`` or raise.

        ``lease`` (a SHA, or ``""`` for "must not exist") makes the push a compare-and-swap.
        A rejection by the remote's rules (protected branch, hook) is a PermanentError.
        """
        ref = f"refs/heads/{branch}"
        args = ["push", "--porcelain", "--no-verify"]
        if force:
            args.append("--force")
        if lease is not None:
            args.append(f"--force-with-lease={ref}:{lease}")
        args += [self.remote, f"{sha}:{ref}"]
        result = self.git.run_bytes(*args, check=False)
        # --porcelain prints one "<flag>\t<from>:<to>\t<summary>" line per ref on stdout,
        # failure or not: https://git-scm.com/docs/git-push#_output
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            fields = line.split("\t")
            if len(fields) < 3 or not fields[1].endswith(f":{ref}"):
                continue
            flag, summary = fields[0], fields[2]
            if flag != "!":
                return "ok"
            if summary.startswith("[rejected]"):
                return "rejected"
            if any(m in f"{summary} {result.stderr}".lower() for m in _LOST_RACE_MARKERS):
                # The client-side check passed but another push updated the ref first; the
                # remote's own old-value check under its ref lock refused ours.
                return "rejected"
            raise PermanentError(
                redact(
                    f"the remote refused the push to {branch} ({self._describe_remote()}): "
                    f"{summary} {_clean_stderr(result.stderr)}; allow this token to push "
                    f"to {branch} (branch protection or rulesets)"
                ).rstrip()
            )
        raise self.git.error(args, result, remote=self._describe_remote())


def _build_tree(
    git: Git,
    files: Mapping[str, str],
    base: str | None,
    *,
    subtrees: Mapping[str, str] | None = None,
) -> str:
    """Write a tree: ``base``'s tree (a commit, or nothing) with ``files`` put in; return its id.

    ``subtrees`` maps a folder (``archive/``) to a tree id read in whole under it first,
    without reading its blobs. Existing files keep their mode (an executable stays
    executable); new files are 100644.
    """
    import tempfile

    texts = {_check_path(p): text for p, text in files.items()}
    if len(texts) != len(files):
        raise PermanentError(f"two of the file paths {sorted(files)} name the same file")
    paths = list(texts)
    with tempfile.TemporaryDirectory(prefix="shunter-git-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if base is None:
            git.run("read-tree", "--empty", env=env)
        else:
            git.run("read-tree", base, env=env)
        for prefix, tree in (subtrees or {}).items():
            git.run("read-tree", f"--prefix={prefix}", tree, env=env)
        if not paths:
            return git.run("write-tree", env=env)
        modes: dict[str, str] = {}
        if base is not None:
            listing = git.run_bytes("ls-files", "-s", "-z", env=env).stdout.decode("utf-8")
            for entry in filter(None, listing.split("\0")):
                meta, _, name = entry.partition("\t")
                modes[name] = meta.split(" ", 1)[0]
        blob_files: list[str] = []
        for i, path in enumerate(paths):
            mode = modes.get(path, "100644")
            if mode not in ("100644", "100755"):
                raise PermanentError(
                    f"{path} is a symlink or submodule in the repository; "
                    "Shunter only edits regular files"
                )
            blob = Path(tmp) / f"blob-{i}"
            blob.write_bytes(texts[path].encode("utf-8"))
            blob_files.append(str(blob))
        # --no-filters: the text is stored exactly as given, whatever .gitattributes says.
        oids = git.run(
            "hash-object", "-w", "--no-filters", "--stdin-paths", input="\n".join(blob_files)
        ).split()
        info = "".join(
            f"{modes.get(p, '100644')} {oid}\t{p}\0" for p, oid in zip(paths, oids, strict=True)
        )
        git.run("update-index", "-z", "--index-info", input=info, env=env)
        return git.run("write-tree", env=env)


def _commit(git: Git, tree: str, parent: str | None, message: str) -> str:
    parents = ["-p", parent] if parent else []
    return git.run("commit-tree", "--no-gpg-sign", tree, *parents, "-F", "-", input=message)


#: ``git diff --raw`` status letters as GitHub names a PR file's status
#: (https://git-scm.com/docs/git-diff#_raw_output_format).
_RAW_STATUS: dict[str, FileStatus] = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}
_REGULAR_MODES = frozenset({"100644", "100755"})


def _parse_raw_diff(out: str) -> tuple[ChangedFile, ...]:
    """``git diff --raw -z`` output as :class:`ChangedFile` values."""
    from bot.core.decide.pulls import ChangedFile

    parts = out.split("\x00")
    files: list[ChangedFile] = []
    i = 0
    while i < len(parts) - 1:
        meta = parts[i].lstrip(":").split()
        i += 1
        if len(meta) < 5:
            continue
        old_mode, new_mode, old_sha, new_sha, letter = meta[:5]
        previous = None
        if letter[0] in "RC":
            previous, path = parts[i], parts[i + 1]
            i += 2
        else:
            path = parts[i]
            i += 1
        status = _RAW_STATUS.get(letter[0], "changed")
        if status == "modified" and old_mode != new_mode and old_sha == new_sha:
            status = "changed"
        regular = new_mode in _REGULAR_MODES
        files.append(
            ChangedFile(
                path=path,
                status=status,
                blob_sha=new_sha if status != "removed" and regular else None,
                previous_path=previous if status == "renamed" else None,
            )
        )
    return tuple(files)


def _tree_of(git: Git, commit: str) -> str:
    return git.run("rev-parse", "--verify", f"{commit}^{{tree}}")


def _read_blobs(git: Git, specs: list[str]) -> list[bytes | None]:
    """Contents of each ``<rev>:<path>`` (None when missing or not a file), in one process."""
    if not specs:
        return []
    data = git.run_bytes("cat-file", "--batch", input="".join(f"{s}\n" for s in specs).encode())
    out = data.stdout
    blobs: list[bytes | None] = []
    pos = 0
    # --batch answers "<oid> <type> <size>\n<content>\n" or "<spec> missing\n":
    # https://git-scm.com/docs/git-cat-file#_batch_output
    for _ in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        pos = end + 1
        if len(header) != 3 or header[-1] in (b"missing", b"ambiguous"):
            blobs.append(None)
            continue
        size = int(header[2])
        content = out[pos : pos + size]
        pos += size + 1
        blobs.append(content if header[1] == b"blob" else None)
    return blobs


def _decode(content: bytes, where: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PermanentError(f"{where} is not UTF-8 text; Shunter reads text files only") from exc


# --------------------------------------------------------------------------- GitOps repository


class GitRemoteRepo:
    """The GitOps repository, reached through ``remote`` of the local clone ``workdir``.

    Implements ``bot.ports.GitRepo``. Each branch is fetched at most once per instance
    (call :meth:`refresh` to see newer remote state); the clone's work tree, index and
    branches are never touched.
    """

    def __init__(
        self,
        workdir: Path,
        remote: str = "origin",
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.git = Git(workdir, author=author, timeout=timeout)
        self._remote = _Remote(self.git, remote)

    def refresh(self) -> None:
        """Forget every remote head seen so far: the next call fetches again."""
        self._remote.forget()

    def head(self, branch: str) -> str | None:
        """Return the commit ``branch`` points at on the remote, or ``None`` if it does not exist.

        Raises ``PermanentError`` (bad branch name, missing remote, refused credentials) or
        ``TransientError`` (network).
        """
        return self._remote.heads(branch)[branch]

    def read_file(self, ref: str, path: str) -> str | None:
        """Return the text of ``path`` on branch ``ref`` of the remote, or ``None`` when the
        branch or the file does not exist.

        Raises ``PermanentError`` when the file is not UTF-8 text or git fails.
        """
        head = self.head(ref)
        if head is None:
            return None
        (content,) = _read_blobs(self.git, [f"{head}:{_check_path(path)}"])
        return None if content is None else _decode(content, f"{path} on {ref}")

    def read_file_at(self, revision: str, path: str, *, branch: str) -> str | None:
        """Return the text of ``path`` at ``revision`` (a SHA, or ``<sha>^1``) in the history
        of remote ``branch``, or ``None`` when the file is absent there.

        ``branch`` is fetched again when the commit is not known locally (a merge that
        landed after this instance last looked). Raises ``PermanentError`` when the commit
        is not in ``branch``'s history, the file is not UTF-8 text, or git fails.
        """
        if not _REVISION.fullmatch(revision):
            raise PermanentError(f"{revision!r} is not a commit SHA (or <sha>^<n>)")
        commit = revision.partition("^")[0]
        if not self._remote._has_commit(commit):
            self._remote.forget(branch)
            self._remote.heads(branch)
            if not self._remote._has_commit(commit):
                raise PermanentError(
                    f"commit {commit[:12]} is not on branch {branch} of {self._remote.remote}"
                )
        (content,) = _read_blobs(self.git, [f"{revision}:{_check_path(path)}"])
        return None if content is None else _decode(content, f"{path} at {revision}")

    def commit_message(self, revision: str, *, branch: str) -> str:
        """The message of commit ``revision`` (a SHA) in the history of remote ``branch``.

        ``branch`` is fetched again when the commit is not known locally. Raises
        ``PermanentError`` when the commit is not there or git fails.
        """
        if not _REVISION.fullmatch(revision) or "^" in revision:
            raise PermanentError(f"{revision!r} is not a commit SHA")
        if not self._remote._has_commit(revision):
            self._remote.forget(branch)
            self._remote.heads(branch)
            if not self._remote._has_commit(revision):
                raise PermanentError(
                    f"commit {revision[:12]} is not on branch {branch} of {self._remote.remote}"
                )
        out = self.git.run_bytes("show", "-s", "--format=%B", revision)
        return out.stdout.decode("utf-8", "replace")

    def merge_base(
        self, a: str, b: str, *, branches: tuple[str, ...], pull: int | None = None
    ) -> str | None:
        """The best common ancestor of ``a`` and ``b`` (commit SHAs, or ``<sha>^1``), as
        GitHub compares a pull request (its files are the diff from this commit to the
        head). ``branches`` are fetched again when a commit is not known locally, then
        PR ``pull``'s ``refs/pull/<n>/head``, where GitHub keeps a head that was
        squash-merged and whose branch has moved on since. Returns
        ``None`` when one is still unknown or they share no history; raises
        ``PermanentError`` for a malformed revision or when git fails otherwise."""
        for rev in (a, b):
            if not _REVISION.fullmatch(rev):
                raise PermanentError(f"{rev!r} is not a commit SHA (or <sha>^<n>)")
        commits = [rev.partition("^")[0] for rev in (a, b)]
        if not all(self._remote._has_commit(c) for c in commits):
            self._remote.forget(*branches)
            self._remote.heads(*branches)
            if pull is not None and not all(self._remote._has_commit(c) for c in commits):
                self._remote.fetch_pull(pull)
                if not all(self._remote._has_commit(c) for c in commits):
                    # GitHub keeps every PR's head: not finding it is a failed look, and
                    # guessing another base could judge the bot's own edit foreign.
                    raise TransientError(
                        f"the head of PR #{pull} could not be fetched (refs/pull/{pull}/head);"
                        " the next run looks again"
                    )
            if not all(self._remote._has_commit(c) for c in commits):
                return None
        # Exit 1 with no output: no common ancestor
        # (https://git-scm.com/docs/git-merge-base#_discussion).
        result = self.git.run_bytes("merge-base", a, b, check=False)
        out = result.stdout.decode("ascii", "replace").strip()
        if result.returncode == 1 and not out:
            return None
        if result.returncode != 0:
            raise self.git.error(("merge-base", a, b), result)
        return out

    def changed_files(self, a: str, b: str) -> tuple[ChangedFile, ...]:
        """The files that differ from commit ``a`` to commit ``b``, each with its blob at
        ``b``, as GitHub lists a pull request's files when ``a`` is its merge base and
        ``b`` its head (renames detected the same way).

        Read from git for exactly ``b``, never from a listing of whatever head a PR has
        by the time it answers: a check of one head and a merge of another cannot meet.
        A file that is not a regular file at ``b`` (a symlink, a submodule) carries no
        blob, so it never matches a text the bot writes. Both commits must be known
        (``merge_base`` fetched them); raises ``TransientError`` when one is not,
        ``PermanentError`` for a malformed revision or when git fails.
        """
        for rev in (a, b):
            if not _REVISION.fullmatch(rev):
                raise PermanentError(f"{rev!r} is not a commit SHA (or <sha>^<n>)")
        args = ("diff", "--raw", "-z", "-M", "--no-abbrev", a, b)
        raw = self.git.run_bytes(*args, check=False)
        if raw.returncode != 0:
            for rev in (a, b):
                if not self._remote._has_commit(rev.partition("^")[0]):
                    raise TransientError(
                        f"commit {rev[:12]} is not fetched yet; the next run looks again"
                    )
            raise self.git.error(args, raw)
        return _parse_raw_diff(raw.stdout.decode("utf-8", "surrogateescape"))

    def commit_files(
        self, *, base: str, branch: str, files: dict[str, str], message: str, force: bool
    ) -> str:
        """Commit ``files`` (path -> text) on top of remote branch ``base``; push it to ``branch``.

        Returns the commit ``branch`` now points at. When the new tree equals the tree
        ``branch`` already has on the remote, nothing is committed or pushed and the
        existing head is returned. ``force`` rewrites ``branch``, but only from the head
        this instance observed (``--force-with-lease``): a branch another run pushed
        meanwhile is never overwritten blind. Without ``force`` the push must fast-forward.
        Raises ``ConflictError`` when the push is rejected (the branch moved; it is fetched
        again on the next call, so the caller re-reads and retries), ``PermanentError`` when
        ``base`` does not exist, the remote refuses the push by rule, or git fails,
        ``TransientError`` on network failures.
        """
        heads = self._remote.heads(base, branch)
        base_head = heads[base]
        if base_head is None:
            raise PermanentError(
                f"branch {base!r} does not exist on remote {self._remote.remote}; "
                "create it or fix the target branch in the stage's config"
            )
        tree = _build_tree(self.git, files, base_head)
        current = heads[branch]
        if current is not None and _tree_of(self.git, current) == tree:
            return current
        commit = _commit(self.git, tree, base_head, message)
        # A forced push is a compare-and-swap on the head read above ("" = must not exist):
        # https://git-scm.com/docs/git-push#Documentation/git-push.txt---force-with-leaseltrefnamegtltexpectgt
        lease = (current or "") if force else None
        if self._remote.push(commit, branch, lease=lease) == "rejected":
            self._remote.forget(base, branch)
            raise ConflictError(
                f"branch {branch} moved on remote {self._remote.remote} while Shunter was "
                "writing it (another run pushed first); the next attempt re-reads it"
            )
        self._remote.record(branch, commit)
        return commit


# --------------------------------------------------------------------------- state branch


class GitStateStore:
    """The ledger's branch (``shunter/state``) on ``remote``, written with compare-and-swap.

    Implements ``bot.ports.StateStore``.
    """

    def __init__(
        self,
        workdir: Path,
        branch: str = "shunter/state",
        remote: str = "origin",
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.git = Git(workdir, author=author, timeout=timeout)
        self.branch = branch
        self._remote = _Remote(self.git, remote)

    def load(self) -> tuple[dict[str, str], str | None]:
        """Fetch the branch; return (path -> text of each ledger file on it, its head or ``None``).

        The ledger files are the regular files at the top of the tree: ``archive/`` and
        any other folder is neither listed nor read, so what reconcile reads costs what
        the ledger retains, never what history it archived. A file over
        ``MAX_FILE_BYTES`` is refused before it is read (``LedgerError``).
        Raises ``PermanentError`` (a file is not UTF-8 text, a missing remote, refused
        credentials) or ``TransientError`` (network).
        """
        self._remote.forget(self.branch)
        head = self._remote.heads(self.branch)[self.branch]
        if head is None:
            return {}, None
        return self._read(head, ""), head

    def load_archive(self) -> dict[str, str]:
        """Return path -> text of every file under ``archive/`` on the branch (``{}``: none).

        For ``shunter get promotions --all``; reconcile never calls it. Raises like
        :meth:`load`.
        """
        self._remote.forget(self.branch)
        head = self._remote.heads(self.branch)[self.branch]
        if head is None:
            return {}
        return self._read(head, ARCHIVE_DIR)

    def _read(self, head: str, folder: str) -> dict[str, str]:
        """The files of ``head`` but ``archive/`` (``folder`` ""), or those in ``folder``."""
        # ``ls-tree -l`` lists (mode, type, id, size, path) without reading any blob:
        # https://git-scm.com/docs/git-ls-tree#_output_format. The top level is listed
        # alone first, so the archive's folder is skipped without even being listed.
        entries = self._list(head, [folder] if folder else [])
        if not folder:
            folders = [p for kind, _s, p in entries if kind == "tree" and f"{p}/" != ARCHIVE_DIR]
            if folders:
                entries += self._list(head, folders, recursive=True)
        paths: list[str] = []
        too_big: list[Problem] = []
        for kind, size, path in entries:
            if kind != "blob":
                continue
            if size > MAX_FILE_BYTES:
                too_big.append(
                    Problem(
                        path,
                        1,
                        0,
                        "(file)",
                        f"the file is {size:,} bytes; Shunter reads at most {MAX_FILE_BYTES:,}",
                        "restore it from the branch history: git log -p on the state branch",
                    )
                )
            paths.append(path)
        if too_big:
            raise LedgerError(too_big)
        blobs = _read_blobs(self.git, [f"{head}:{p}" for p in paths])
        return {
            p: _decode(b, f"{p} on {self.branch}")
            for p, b in zip(paths, blobs, strict=True)
            if b is not None
        }

    def save(self, files: dict[str, str], message: str, *, expected_head: str | None) -> str:
        """Commit ``files`` as the branch's whole tree, with parent ``expected_head``.

        ``archive/`` is the exception: the files already archived on ``expected_head``
        are carried over by their tree's id (never read), and ``files`` only adds to
        them. Returns the new head, or ``expected_head`` unchanged when ``files`` equal its tree
        (no empty commits). The push is a compare-and-swap: it succeeds only while the
        remote branch still points at ``expected_head`` (``None``: does not exist yet).
        Raises ``ConflictError`` when another writer got there first (the branch is fetched
        again, so the next ``load`` sees the winner), ``PermanentError`` when the remote
        refuses by rule or git fails, ``TransientError`` on network failures.
        """
        carried: dict[str, str] = {}
        if expected_head is not None:
            if not self._has_commit(expected_head):
                self._remote.forget(self.branch)
                self._remote.heads(self.branch)
                if not self._has_commit(expected_head):
                    raise self._conflict(expected_head)
            archive = (
                self.git.run_bytes(
                    "rev-parse",
                    "-q",
                    "--verify",
                    f"{expected_head}:{ARCHIVE_DIR.rstrip('/')}",
                    check=False,
                )
                .stdout.decode()
                .strip()
            )
            if archive:
                carried[ARCHIVE_DIR] = archive
        tree = _build_tree(self.git, files, None, subtrees=carried)
        if expected_head is not None and _tree_of(self.git, expected_head) == tree:
            return expected_head
        commit = _commit(self.git, tree, expected_head, message)
        outcome = self._remote.push(commit, self.branch, lease=expected_head or "")
        if outcome == "rejected":
            raise self._conflict(expected_head)
        self._remote.record(self.branch, commit)
        return commit

    def _list(
        self, head: str, paths: list[str], *, recursive: bool = False
    ) -> list[tuple[str, int, str]]:
        """(type, size, path) of the tree entries at ``paths`` (the top level when none)."""
        args = ["ls-tree", "-l", "-z", "--full-tree", *(["-r"] if recursive else []), head]
        listing = self.git.run_bytes(*args, *(["--", *paths] if paths else [])).stdout
        out = []
        for entry in filter(None, listing.decode("utf-8").split("\0")):
            meta, _, path = entry.partition("\t")
            _mode, kind, _oid, size = meta.split()
            out.append((kind, int(size) if size.isdigit() else 0, path))
        return out

    def _has_commit(self, sha: str) -> bool:
        return self._remote._has_commit(sha)

    def _conflict(self, expected_head: str | None) -> ConflictError:
        self._remote.forget(self.branch)
        now = self._remote.heads(self.branch)[self.branch]
        return ConflictError(
            f"state branch {self.branch} moved: expected "
            f"{expected_head or 'no branch'}, the remote has {now or 'no branch'}; "
            "another run wrote first, re-read the state and retry"
        )

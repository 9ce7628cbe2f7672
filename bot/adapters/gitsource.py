"""The git source adapter: commits and tags a ``git`` subscription follows.

Each repository URL gets a bare mirror under ``cache_dir``; every discovery fetches into it
(``git fetch --prune``, only the refs the strategy needs) and selects with ``git log`` and
``git for-each-ref``. Git runs through :class:`bot.adapters.git.Git`: list arguments, a
scrubbed environment, no terminal prompts, a timeout, errors mapped to ``bot.errors`` with
credentials redacted.

Selection follows Kargo's git subscription (``commitSelectionStrategy``):

* ``NewestFromBranch``: commits of ``branch`` (default: the branch the remote's ``HEAD``
  names), newest first (``git log`` order); merges are judged by their change against their
  first parent;
* ``SemVer``: tags that are versions and satisfy ``semverConstraint``, highest first;
* ``Lexical``: tags in reverse lexical order;
* ``NewestTag``: tags by creation date (tagger date of annotated tags, commit date of
  lightweight ones), newest first.

``allowTags`` (a regex searched in the tag) and ``ignoreTags`` (exact names) filter tags;
``includePaths`` / ``excludePaths`` keep only commits that touch at least one file that is
included and not excluded. A path pattern is a regex with a ``regex:`` or ``regexp:``
prefix, a glob with a ``glob:`` prefix, and otherwise a glob that also matches everything
under it as a folder (``charts`` matches ``charts/app/values.yaml``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import semver

from bot.adapters.git import DEFAULT_TIMEOUT, Git, redact
from bot.core.discover.artifacts import Commit
from bot.core.discover.versions import parse_constraint
from bot.core.model import GitSubscription
from bot.errors import PermanentError
from bot.ports import Deadline

__all__ = ["GitSource", "PathFilter", "tag_name_is_safe"]

# Tags end up in branch names, file contents and PR text. Git's own rules
# (https://git-scm.com/docs/git-check-ref-format) still admit "$(x)", quotes and "`",
# so the rule here is narrower: letters, digits and "_.+-/", no "..", "//" or ".lock".
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/-]{0,127}")
# A branch name as a subscription may give it (same alphabet as tags).
_BRANCH_RE = _TAG_RE
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Commits looked at when path filters decide: enough for any real discovery_limit, and a
# bound on the work one run does in a huge repository.
_PATH_FILTER_WINDOW = 1000
# A commit subject is shown in PRs and summaries; a bounded, single line is enough.
_MAX_SUBJECT = 200


def tag_name_is_safe(name: str) -> bool:
    """Return whether a tag or branch name may be selected (the rule is above ``_TAG_RE``)."""
    return (
        isinstance(name, str)
        and _TAG_RE.fullmatch(name) is not None
        and ".." not in name
        and "//" not in name
        and not name.endswith(("/", ".", ".lock"))
    )


@dataclass(frozen=True)
class PathFilter:
    """``includePaths`` / ``excludePaths`` of a subscription, compiled.

    Build with :meth:`parse`; :meth:`selects` decides for the files one commit touches.
    """

    include: tuple[tuple[str, re.Pattern[str] | str], ...] = ()
    exclude: tuple[tuple[str, re.Pattern[str] | str], ...] = ()

    @staticmethod
    def parse(include: Iterable[str], exclude: Iterable[str]) -> PathFilter:
        """Compile the patterns. Raises ``PermanentError`` naming a regex that does not parse."""
        return PathFilter(_compile(include, "includePaths"), _compile(exclude, "excludePaths"))

    @property
    def active(self) -> bool:
        """Whether any pattern is set (no patterns: every commit is selected)."""
        return bool(self.include or self.exclude)

    def selects(self, files: Iterable[str]) -> bool:
        """Return whether at least one of ``files`` is included and not excluded.

        With no patterns every commit is selected, even one that touches no file.
        """
        if not self.active:
            return True
        for path in files:
            if self.include and not any(_matches(p, path) for p in self.include):
                continue
            if any(_matches(p, path) for p in self.exclude):
                continue
            return True
        return False


def _compile(patterns: Iterable[str], key: str) -> tuple[tuple[str, re.Pattern[str] | str], ...]:
    out: list[tuple[str, re.Pattern[str] | str]] = []
    for raw in patterns:
        for prefix in ("regexp:", "regex:"):
            if raw.startswith(prefix):
                try:
                    out.append(("regex", re.compile(raw[len(prefix) :])))
                except re.error as exc:
                    raise PermanentError(
                        f"{key}: {raw!r} is not a valid regular expression ({exc}); fix it"
                    ) from None
                break
        else:
            if raw.startswith("glob:"):
                out.append(("glob", raw[len("glob:") :]))
            else:
                out.append(("plain", raw.strip("/")))
    return tuple(out)


def _matches(pattern: tuple[str, re.Pattern[str] | str], path: str) -> bool:
    kind, value = pattern
    if isinstance(value, re.Pattern):
        return value.search(path) is not None
    if kind == "glob":
        return fnmatchcase(path, value)
    return fnmatchcase(path, value) or fnmatchcase(path, value + "/*")


def _parse_version(tag: str) -> semver.Version | None:
    body = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(body, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def _subject(text: str) -> str:
    line = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return line[:_MAX_SUBJECT]


@dataclass(frozen=True)
class _Tag:
    name: str
    commit: str
    created: int
    subject: str


class GitSource:
    """Discovers commits and tags of git repositories, keeping bare mirrors in ``cache_dir``.

    ``timeout`` is the seconds one git command may take (a fetch of a large repository
    included), less when the run's ``deadline`` is nearer. Credentials come from the
    environment git sees (``GIT_ASKPASS``, ``GIT_CONFIG_*``, an SSH agent), never from
    the config.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: Deadline | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.timeout = timeout
        self.deadline = deadline

    def _wait(self) -> float:
        return self.deadline.timeout(self.timeout) if self.deadline else self.timeout

    def discover(self, sub: GitSubscription) -> tuple[Commit, ...]:
        """Return the commits ``sub`` selects, best first, at most ``sub.discovery_limit``.

        Each :class:`Commit` has ``repo_url``, the full commit ``id``, the ``branch``
        (``NewestFromBranch``) or the ``tag`` (tag strategies; annotated tags peeled to
        their commit), and the commit's subject line as ``message``.

        Raises ``PermanentError`` (an unreachable or missing repository, refused
        credentials, a branch that does not exist, a bad pattern or constraint) or
        ``TransientError`` (network trouble, a timeout).
        """
        paths = PathFilter.parse(sub.include_paths, sub.exclude_paths)
        git = self._mirror(sub.repo_url)
        if sub.strategy == "NewestFromBranch":
            return self._from_branch(git, sub, paths)
        return self._from_tags(git, sub, paths)

    # ------------------------------------------------------------------ mirror

    def _mirror(self, repo_url: str) -> Git:
        """The bare mirror of ``repo_url`` (created on first use)."""
        digest = hashlib.sha256(repo_url.encode()).hexdigest()[:16]
        tail = re.sub(
            r"[^A-Za-z0-9._-]+", "-", repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        )[:40]
        path = self.cache_dir / f"{tail or 'repo'}-{digest}.git"
        if not (path / "HEAD").is_file():
            path.mkdir(parents=True, exist_ok=True)
            Git(path, timeout=self._wait()).run("init", "--bare", "-q")
        return Git(path, timeout=self._wait())

    def _fetch(self, git: Git, repo_url: str, *refspecs: str) -> None:
        args = ("fetch", "--prune", "--no-tags", "--quiet", "--", repo_url, *refspecs)
        result = git.run_bytes(*args, check=False)
        if result.returncode != 0 and "couldn't find remote ref" in result.stderr:
            branch = refspecs[0].split(":")[0].removeprefix("+refs/heads/")
            raise PermanentError(
                f"branch {branch!r} does not exist in {redact(repo_url)}: fix the "
                "subscription's branch"
            )
        if result.returncode != 0:
            raise git.error(args, result, remote=redact(repo_url))

    def _default_branch(self, git: Git, repo_url: str) -> str:
        args = ("ls-remote", "--symref", "--", repo_url, "HEAD")
        result = git.run_bytes(*args, check=False)
        if result.returncode != 0:
            raise git.error(args, result, remote=redact(repo_url))
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            ref, _, name = line.partition("\t")
            if name == "HEAD" and ref.startswith("ref: refs/heads/"):
                return ref[len("ref: refs/heads/") :]
        raise PermanentError(
            f"git repository {redact(repo_url)} has no default branch (an empty repository, "
            "or HEAD is detached): set the subscription's branch"
        )

    # ------------------------------------------------------------------ branches

    def _from_branch(self, git: Git, sub: GitSubscription, paths: PathFilter) -> tuple[Commit, ...]:
        branch = sub.branch or self._default_branch(git, sub.repo_url)
        if not tag_name_is_safe(branch):
            raise PermanentError(f"{branch!r} is not a usable branch name: fix branch")
        ref = f"refs/heads/{branch}"
        # "+" lets a force-pushed branch replace the mirror's copy.
        self._fetch(git, sub.repo_url, f"+{ref}:{ref}")
        if git.run_bytes("rev-parse", "--verify", "-q", ref, check=False).returncode != 0:
            raise PermanentError(
                f"branch {branch!r} does not exist in {redact(sub.repo_url)}: fix branch"
            )
        limit = max(sub.discovery_limit, 0)
        window = _PATH_FILTER_WINDOW if paths.active else limit
        if limit == 0:
            return ()
        out: list[Commit] = []
        for sha, subject, files in self._log(git, ref, window):
            if paths.selects(files):
                out.append(Commit(sub.repo_url, sha, branch=branch, message=subject))
                if len(out) >= limit:
                    break
        return tuple(out)

    def _log(self, git: Git, ref: str, count: int) -> list[tuple[str, str, list[str]]]:
        """``(sha, subject, files)`` of the newest ``count`` commits of ``ref``."""
        # -z: file names NUL-terminated and unquoted; \x1e starts each commit, \x1f ends
        # its SHA. Merges list their change against the first parent, as a merged PR.
        raw = git.run_bytes(
            "log",
            "-z",
            f"--max-count={count}",
            "--format=%x1e%H%x1f%s",
            "--name-only",
            "--no-renames",
            "--diff-merges=first-parent",
            ref,
            "--",
        ).stdout.decode("utf-8", "replace")
        commits: list[tuple[str, str, list[str]]] = []
        for record in raw.split("\x1e")[1:]:
            header, _, rest = record.partition("\0")
            sha, _, subject = header.partition("\x1f")
            if not _SHA_RE.fullmatch(sha):
                continue
            files = [f for f in rest.lstrip("\n").split("\0") if f]
            commits.append((sha, _subject(subject), files))
        return commits

    def _files(self, git: Git, sha: str) -> list[str]:
        out = git.run_bytes(
            "show",
            "-z",
            "--format=",
            "--name-only",
            "--no-renames",
            "--diff-merges=first-parent",
            sha,
            "--",
        ).stdout.decode("utf-8", "replace")
        return [f for f in out.lstrip("\n").split("\0") if f]

    # ------------------------------------------------------------------ tags

    def _from_tags(self, git: Git, sub: GitSubscription, paths: PathFilter) -> tuple[Commit, ...]:
        self._fetch(git, sub.repo_url, "+refs/tags/*:refs/tags/*")
        try:
            allow = [re.compile(p) for p in sub.allow_tags]
        except re.error as exc:
            raise PermanentError(f"allowTags is not a valid regular expression ({exc})") from None
        ignore = set(sub.ignore_tags)
        tags = [
            t
            for t in self._tags(git)
            if tag_name_is_safe(t.name)
            and t.name not in ignore
            and (not allow or any(r.search(t.name) for r in allow))
        ]
        if sub.strategy == "SemVer":
            try:
                constraint = parse_constraint(sub.semver_constraint or "")
            except ValueError as exc:
                raise PermanentError(f"semverConstraint: {exc}") from None
            versioned = []
            for t in tags:
                version = _parse_version(t.name)
                if version is not None and constraint.allows(version):
                    versioned.append((version, t))
            versioned.sort(key=lambda vt: vt[1].name, reverse=True)
            versioned.sort(key=lambda vt: vt[0], reverse=True)
            ordered = [t for _, t in versioned]
        elif sub.strategy == "Lexical":
            ordered = sorted(tags, key=lambda t: t.name, reverse=True)
        else:  # NewestTag
            ordered = sorted(tags, key=lambda t: (t.created, t.name), reverse=True)
        limit = max(sub.discovery_limit, 0)
        out: list[Commit] = []
        for t in ordered:
            if len(out) >= limit:
                break
            if paths.active and not paths.selects(self._files(git, t.commit)):
                continue
            out.append(Commit(sub.repo_url, t.commit, tag=t.name, message=t.subject))
        return tuple(out)

    def _tags(self, git: Git) -> list[_Tag]:
        """Every tag of the mirror that leads to a commit, annotated tags peeled."""
        fields = (
            "%(refname:strip=2)",
            "%(objecttype)",
            "%(objectname)",
            "%(*objecttype)",
            "%(*objectname)",
            "%(creatordate:unix)",
            "%(subject)",
            "%(*subject)",
        )
        raw = git.run_bytes(
            "for-each-ref", "--format=" + "%00".join(fields) + "%1e", "refs/tags/"
        ).stdout.decode("utf-8", "replace")
        tags: list[_Tag] = []
        for record in raw.split("\x1e"):
            parts = record.lstrip("\n").split("\0")
            if len(parts) != len(fields):
                continue
            name, kind, sha, peeled_kind, peeled, created, subject, peeled_subject = parts
            if kind == "commit":
                commit, text = sha, subject
            elif peeled_kind == "commit":
                commit, text = peeled, peeled_subject
            elif kind == "tag" and peeled_kind == "tag":
                # A tag of a tag: peel all the way with git itself.
                found = git.run_bytes(
                    "rev-parse", "--verify", "-q", f"{sha}^{{commit}}", check=False
                )
                commit = found.stdout.decode("ascii", "replace").strip()
                if found.returncode != 0:
                    continue
                text = git.run("log", "-1", "--format=%s", commit)
            else:
                continue  # a tag of a tree or a blob names no commit
            if not _SHA_RE.fullmatch(commit):
                continue
            tags.append(_Tag(name, commit, int(created or 0), _subject(text)))
        return tags

"""Is this pull request the bot's own promotion, and is its change exactly the bot's edit?

Shunter merges, and records as a promotion, only what it would have written itself: a
PR opened by its own identity from ``shunter/<stage>`` in the same repository, whose
base-to-head change is the edit it computes for the freight (the same files, the same
resulting contents, nothing else). Anything else is somebody else's change, however the
PR body is worded: a marker in it proves nothing, since anyone can write one.

Pure: the loop observes the PR, its changed files and their contents; these functions
compare values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.core.decide.pulls import ChangedFile, PullRequest
from bot.core.promote.promotion import branch_for


class Origin(Enum):
    """Whose pull request this is, as far as promotions go."""

    OURS = "opened by the bot from its promotion branch"
    OTHER_AUTHOR = "opened by someone other than the bot"
    OTHER_BRANCH = "not from the stage's promotion branch"
    FORK = "from another repository"


def pr_origin(pr: PullRequest, *, stage: str, bots: frozenset[str]) -> Origin:
    """``Origin.OURS`` only for a PR by one of ``bots`` (the bot's logins) from
    ``shunter/<stage>`` of the repository it merges into (logins and ``owner/name``
    compared case-insensitively, as GitHub does)."""
    if pr.author.lower() not in {b.lower() for b in bots}:
        return Origin.OTHER_AUTHOR
    if pr.head_branch != branch_for(stage):
        return Origin.OTHER_BRANCH
    if pr.head_repo is None or pr.base_repo is None or pr.head_repo.lower() != pr.base_repo.lower():
        return Origin.FORK
    return Origin.OURS


@dataclass(frozen=True)
class EditCheck:
    """How a PR's change differs from the bot's edit; all empty means exactly the edit."""

    extra: tuple[str, ...] = ()  # files the PR changes that the edit leaves alone
    missing: tuple[str, ...] = ()  # files the edit changes that the PR does not
    different: tuple[str, ...] = ()  # files both change, to other contents

    @property
    def exact(self) -> bool:
        return not (self.extra or self.missing or self.different)

    def describe(self) -> str:
        """``extra: app.py; different: env/prod/values.yaml`` (empty when exact)."""
        parts = [
            f"{label}: {', '.join(paths)}"
            for label, paths in (
                ("files the promotion does not touch", self.extra),
                ("files left unchanged", self.missing),
                ("other contents", self.different),
            )
            if paths
        ]
        return "; ".join(parts)


def git_blob_sha(text: str) -> str:
    """The SHA-1 git gives a regular file holding ``text`` (UTF-8): what GitHub lists as
    a changed file's ``sha`` (https://git-scm.com/book/en/v2/Git-Internals-Git-Objects)."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def check_edit(
    edit: Mapping[str, str],
    base: Mapping[str, str | None],
    changed: tuple[ChangedFile, ...],
) -> EditCheck:
    """Compare a PR's change with the bot's ``edit`` for its freight.

    ``edit`` maps each file the promotion writes to its new text (computed from the
    base branch as it is now); ``base`` holds those files' texts on the base branch
    (``None``: absent). ``changed`` is the PR's file list, each with its blob at the
    head: contents are compared by git blob SHA, so the same text under another file
    mode (a symlink to a file with the right text) is not the same. A file the edit
    writes with the text it already has is no change. Renames and copies count their
    old name as changed too. Never raises.
    """
    want = {path: git_blob_sha(text) for path, text in edit.items() if base.get(path) != text}
    touched: dict[str, str | None] = {}
    for f in changed:
        touched[f.path] = None if f.status == "removed" else f.blob_sha
        if f.previous_path and f.status == "renamed":
            touched.setdefault(f.previous_path, None)
    extra = sorted(p for p in touched if p not in want)
    missing = sorted(p for p in want if p not in touched)
    different = sorted(p for p in want if p in touched and touched[p] != want[p])
    return EditCheck(tuple(extra), tuple(missing), tuple(different))


@dataclass(frozen=True)
class PrCheck:
    """What GitHub says about a stage's promotion PR, checked against the bot's edit."""

    origin: Origin
    edit: EditCheck | None = None  # None: not looked at (not the bot's PR)
    pushers: frozenset[str] = frozenset()  # logins on the head's commits, the bot's aside
    freight: str | None = None  # the freight whose edit ``edit`` compares the PR with

    @property
    def exact(self) -> bool:
        """True for the bot's own PR whose change is exactly the bot's edit."""
        return self.origin is Origin.OURS and self.edit is not None and self.edit.exact


def restore_comment(branch: str, what: str) -> str:
    """The comment a promotion PR gets when the bot puts its own commit back on
    ``branch``; ``what`` is :meth:`EditCheck.describe` of the head it replaced."""
    return (
        f"Shunter put its own commit back on `{branch}`: the head held changes that are not"
        f" this promotion's edit ({what}). Shunter merges only its own edit; approvals given"
        " to the replaced head no longer count."
    )

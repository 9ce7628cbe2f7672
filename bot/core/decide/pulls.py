"""Pull requests and reviews as the forge reports them: plain values the planner reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]


@dataclass(frozen=True)
class Review:
    """A review of a pull request as GitHub reports it; an approval counts only for the
    head commit it names (``commit_id``)."""

    id: int
    user: str
    state: ReviewState
    commit_id: str  # the head commit the review was given on
    submitted_at: datetime | None


@dataclass(frozen=True)
class PullRequest:
    """A pull request as GitHub reports it now (never as the ledger remembers it): the
    planner decides on these fields, and the forge adapter fills them from the REST
    answer."""

    number: int
    url: str  # html_url, what a person clicks
    title: str
    body: str
    author: str
    head_branch: str
    head_sha: str
    base_branch: str
    state: Literal["open", "closed"]
    merged: bool
    merged_by: str | None
    merge_commit_sha: str | None
    created_at: datetime
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    head_repo: str | None = None  # owner/name the head branch lives in (None: fork deleted)
    base_repo: str | None = None  # owner/name the PR asks to merge into
    base_sha: str = ""
    # GitHub's summary of whether it merges now (``clean``, ``blocked``, ``dirty``, ...):
    # only a single PR's GET carries it; ``None`` when not read.
    # https://docs.github.com/en/graphql/reference/enums#mergestatestatus
    mergeable_state: str | None = None


FileStatus = Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]


@dataclass(frozen=True)
class ChangedFile:
    """One file a pull request changes, as ``GET /pulls/{n}/files`` lists it
    (https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files)."""

    path: str
    status: FileStatus
    blob_sha: str | None  # the git blob at the head (``None``: removed)
    previous_path: str | None = None  # a rename's old name


@dataclass(frozen=True)
class HeadCommit:
    """A commit on a pull request's head: the GitHub users it is attributed to
    (``None`` when its e-mail belongs to no GitHub account)."""

    sha: str
    author: str | None
    committer: str | None


StatusState = Literal["error", "failure", "pending", "success"]


@dataclass(frozen=True)
class CommitStatus:
    """One commit status on a commit, as ``GET /repos/{o}/{r}/commits/{ref}/statuses``
    lists it (https://docs.github.com/en/rest/commits/statuses). ``creator`` is the
    login whose token set it: GitHub fills it in, nobody can write it."""

    context: str
    state: StatusState
    creator: str
    description: str = ""
    target_url: str | None = None

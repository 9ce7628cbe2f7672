"""Pull requests and reviews as the forge reports them: plain values the planner reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]


@dataclass(frozen=True)
class Review:
    id: int
    user: str
    state: ReviewState
    commit_id: str  # the head commit the review was given on
    submitted_at: datetime | None


@dataclass(frozen=True)
class PullRequest:
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

"""The frozen run context: everything a run takes from its environment and flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    """Everything a run takes from its environment and flags, read once."""

    config_dir: Path
    repo_dir: Path
    state_branch: str | None
    repository: str | None  # owner/name
    api_url: str
    token: str | None = None
    run_id: str | None = None  # GITHUB_RUN_ID: the run whose triggering actor acts
    event: str | None = None  # GITHUB_EVENT_NAME
    now: datetime | None = None
    env: Mapping[str, str] | None = None

    @property
    def owner(self) -> str:
        return (self.repository or "/").split("/")[0]

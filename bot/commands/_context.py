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
    bot_logins: frozenset[str] = frozenset()  # SHUNTER_BOT_LOGIN: whose PRs are the bot's
    now: datetime | None = None
    env: Mapping[str, str] | None = None
    server_url: str = "https://github.com"  # GITHUB_SERVER_URL

    @property
    def owner(self) -> str:
        return (self.repository or "/").split("/")[0]

    @property
    def run_url(self) -> str | None:
        """The Actions run this is (``None`` outside one): what an attestation links to."""
        if not (self.run_id and self.run_id.isdigit() and self.repository):
            return None
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"

"""The shared fakes of Shunter's ports, for tests that need no real service.

Real git, the real registry and the GitHub sandbox are used wherever a test is about
them; these fakes serve the tests of the loop's logic, which would otherwise spend their
time starting services.
"""

from __future__ import annotations

import hashlib
import threading

from bot.errors import ConflictError, PermanentError


class FakeRegistry:
    """``bot.ports.Registry`` over a dict of repository -> {tag: digest}."""

    def __init__(self, repos: dict[str, list[str]] | None = None) -> None:
        self.repos: dict[str, dict[str, str]] = {}
        self.requests = 0
        for repo, tags in (repos or {}).items():
            for tag in tags:
                self.push(repo, tag)

    def push(self, repo: str, tag: str, content: str = "") -> str:
        digest = "sha256:" + hashlib.sha256(f"{repo}:{tag}:{content}".encode()).hexdigest()
        self.repos.setdefault(repo, {})[tag] = digest
        return digest

    def list_tags(self, repo_url: str) -> list[str]:
        self.requests += 1
        if repo_url not in self.repos:
            raise PermanentError(f"repository {repo_url} not found in the registry")
        return list(self.repos[repo_url])

    def digest(self, repo_url: str, tag: str, platform: str | None = None) -> str:
        self.requests += 1
        return self.repos[repo_url][tag]


class MemoryStateStore:
    """``bot.ports.StateStore`` in memory, with the same compare-and-swap rule as git."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.head: str | None = None
        self.commits: list[str] = []  # messages, oldest first
        self._lock = threading.Lock()

    def load(self) -> tuple[dict[str, str], str | None]:
        with self._lock:
            return dict(self.files), self.head

    def save(self, files: dict[str, str], message: str, *, expected_head: str | None) -> str:
        with self._lock:
            if expected_head != self.head:
                raise ConflictError("state branch moved")
            if files == self.files and self.head is not None:
                return self.head
            self.files = dict(files)
            self.commits.append(message)
            self.head = f"c{len(self.commits)}"
            return self.head

"""The shared fakes of Shunter's ports, for tests that need no real service.

Real git, the real registry and the GitHub sandbox are used wherever a test is about
them; these fakes serve the tests of the loop's logic, which would otherwise spend their
time starting services.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime

from bot.errors import ConflictError, PermanentError, ShunterError
from bot.ports import ImageInfo, TagList


class FakeRegistry:
    """``bot.ports.Registry`` over a dict of repository -> {tag: digest}.

    ``requests`` counts every call that would be an HTTP request (``calls`` names them:
    ``tags``, ``tags-304``, ``digest``, ``info``); ``image_info`` counts as the two
    requests it costs (manifest, config blob). The tag list's ETag is a hash of the
    tags, and ``etags=False`` makes the registry send none (as docker-registry 2.8).
    ``created`` holds build dates for ``image_info``; ``failing`` maps a repository to
    the error every call about it raises.
    """

    def __init__(self, repos: dict[str, list[str]] | None = None, *, etags: bool = True) -> None:
        self.repos: dict[str, dict[str, str]] = {}
        self.created: dict[tuple[str, str], datetime] = {}
        self.failing: dict[str, ShunterError] = {}
        self.etags = etags
        self.requests = 0
        self.calls: list[tuple[str, str]] = []
        for repo, tags in (repos or {}).items():
            for tag in tags:
                self.push(repo, tag)

    def push(
        self, repo: str, tag: str, content: str = "", *, created: datetime | None = None
    ) -> str:
        digest = "sha256:" + hashlib.sha256(f"{repo}:{tag}:{content}".encode()).hexdigest()
        self.repos.setdefault(repo, {})[tag] = digest
        if created is not None:
            self.created[(repo, tag)] = created
        return digest

    def _call(self, kind: str, repo_url: str, cost: int = 1) -> None:
        self.requests += cost
        self.calls.append((kind, repo_url))
        if repo_url in self.failing:
            raise self.failing[repo_url]
        if repo_url not in self.repos:
            raise PermanentError(f"repository {repo_url} not found in the registry")

    def _etag(self, repo_url: str) -> str | None:
        if not self.etags:
            return None
        return '"' + hashlib.sha256(" ".join(self.repos[repo_url]).encode()).hexdigest()[:16] + '"'

    def list_tags(self, repo_url: str) -> list[str]:
        self._call("tags", repo_url)
        return list(self.repos[repo_url])

    def list_tags_if_changed(self, repo_url: str, etag: str | None) -> TagList:
        if repo_url in self.repos and etag is not None and etag == self._etag(repo_url):
            self._call("tags-304", repo_url)
            return TagList(None, etag)
        self._call("tags", repo_url)
        return TagList(list(self.repos[repo_url]), self._etag(repo_url))

    def _digest(self, repo_url: str, tag: str) -> str:
        if tag not in self.repos[repo_url]:
            raise PermanentError(f"tag {tag} of repository {repo_url} not found")
        return self.repos[repo_url][tag]

    def digest(self, repo_url: str, tag: str, platform: str | None = None) -> str:
        self._call("digest", repo_url)
        return self._digest(repo_url, tag)

    def image_info(self, repo_url: str, tag: str, platform: str | None = None) -> ImageInfo:
        self._call("info", repo_url, cost=2)
        return ImageInfo(self._digest(repo_url, tag), self.created.get((repo_url, tag)))


class MemoryStateStore:
    """``bot.ports.StateStore`` in memory, with the same compare-and-swap rule as git."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.head: str | None = None
        self.commits: list[str] = []  # messages, oldest first
        self._lock = threading.Lock()

    def load(self) -> tuple[dict[str, str], str | None]:
        with self._lock:
            return {k: v for k, v in self.files.items() if not k.startswith("archive/")}, self.head

    def load_archive(self) -> dict[str, str]:
        with self._lock:
            return {k: v for k, v in self.files.items() if k.startswith("archive/")}

    def save(self, files: dict[str, str], message: str, *, expected_head: str | None) -> str:
        with self._lock:
            if expected_head != self.head:
                raise ConflictError("state branch moved")
            # As on git: files already archived are carried over; ``files`` only adds to them.
            files = {**{k: v for k, v in self.files.items() if k.startswith("archive/")}, **files}
            if files == self.files and self.head is not None:
                return self.head
            self.files = dict(files)
            self.commits.append(message)
            self.head = f"c{len(self.commits)}"
            return self.head

"""The shared fakes of Shunter's ports, for tests that need no real service.

Real git, the real registry and the GitHub sandbox are used wherever a test is about
them; these fakes serve the tests of the loop's logic, which would otherwise spend their
time starting services.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime

from bot.core.decide.observations import HealthReport, StepRun
from bot.core.model import ArgoCDHealth, HttpCheck, HttpHealth
from bot.errors import ConflictError, PermanentError, ShunterError
from bot.ports import HttpErrorKind, ImageInfo, TagList, http_error


class FakeRegistry:
    """``bot.ports.Registry`` over a dict of repository -> {tag: digest}.

    ``requests`` counts every call that would be an HTTP request (``calls`` names them:
    ``tags``, ``tags-304``, ``digest``, ``info``); ``image_info`` counts as the two
    requests it costs (manifest, config blob). The tag list's ETag is a hash of the
    tags, and ``etags=False`` makes the registry send none (as docker-registry 2.8).
    ``created`` holds build dates for ``image_info``; ``failing`` maps a repository to
    the error every call about it raises. As the real adapter, it refuses a call past
    ``budget`` requests to one host (``BUDGET``) and says ``NOT_FOUND`` for a missing
    repository or tag. ``on_call(kind, repo_url)`` runs before each call is answered
    (a test's moving clock, a pause).
    """

    def __init__(
        self,
        repos: dict[str, list[str]] | None = None,
        *,
        etags: bool = True,
        budget: int | None = None,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self.repos: dict[str, dict[str, str]] = {}
        self.created: dict[tuple[str, str], datetime] = {}
        self.failing: dict[str, ShunterError] = {}
        self.etags = etags
        self.budget = budget
        self.on_call = on_call
        self.requests = 0
        self.by_host: dict[str, int] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
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
        host = repo_url.split("/", 1)[0]
        with self._lock:
            if self.budget is not None and self.by_host.get(host, 0) + cost > self.budget:
                raise http_error(HttpErrorKind.BUDGET, f"registry {host}: this run used its budget")
            self.by_host[host] = self.by_host.get(host, 0) + cost
            self.requests += cost
            self.calls.append((kind, repo_url))
        if self.on_call is not None:
            self.on_call(kind, repo_url)
        if repo_url in self.failing:
            raise self.failing[repo_url]
        if repo_url not in self.repos:
            raise http_error(
                HttpErrorKind.NOT_FOUND, f"repository {repo_url} not found in the registry"
            )

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
            raise http_error(
                HttpErrorKind.NOT_FOUND, f"tag {tag} of repository {repo_url} not found"
            )
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


class FakeApplications:
    """``bot.ports.ApplicationHealth`` over a dict of Argo CD applications.

    ``apps`` maps an application name to ``(health, sync, revision)`` as Argo CD reports
    them (``"Healthy"``, ``"Synced"``, a commit); a name not in it is not found, and with
    ``token`` set a check whose environment variable is not given that token is refused
    (``tokens`` maps variable names to values, as the CLI hands them to the adapter).
    """

    def __init__(
        self,
        apps: dict[str, tuple[str, str, str | None]] | None = None,
        *,
        token: str | None = None,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.apps = dict(apps or {})
        self.token = token
        self.tokens = dict(tokens or {})
        self.asked: list[str] = []

    def health(self, check: ArgoCDHealth) -> HealthReport:
        self.asked.append(check.app)
        if self.token is not None and self.tokens.get(check.token_env) != self.token:
            raise http_error(HttpErrorKind.AUTH, f"Argo CD refused app {check.app}", status=401)
        if check.app not in self.apps:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no Argo CD app {check.app}", status=404)
        health, sync, revision = self.apps[check.app]
        return HealthReport(
            healthy=health == "Healthy" and sync == "Synced",
            message=f"Argo CD app {check.app}: {health}, {sync}",
            revision=revision,
        )


class FakeIncidents:
    """``bot.ports.IncidentSource`` over a list of ``(service id, title, status)``.

    Only ``triggered`` and ``acknowledged`` incidents are active; ``key=None`` is a
    missing API key, which is refused before anything is asked."""

    def __init__(
        self, incidents: list[tuple[str, str, str]] | None = None, *, key: str | None = "key"
    ) -> None:
        self.incidents = list(incidents or [])
        self.key = key

    def active_incidents(self, service_ids: tuple[str, ...]) -> tuple[str, ...]:
        if self.key is None:
            raise PermanentError("set PAGERDUTY_TOKEN to a PagerDuty REST API key")
        return tuple(
            title
            for service, title, status in self.incidents
            if status in ("triggered", "acknowledged")
            and (not service_ids or service in service_ids)
        )


class FakeHttpProbe:
    """``bot.ports.HttpProbe`` over a dict of URL -> status code (``None``: nothing answers;
    a URL not in it answers 404)."""

    def __init__(self, statuses: dict[str, int | None] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.calls: list[str] = []

    def _status(self, url: str) -> int | None:
        self.calls.append(url)
        return self.statuses.get(url, 404)

    def health(self, check: HttpHealth) -> HealthReport:
        status = self._status(check.url)
        if status is None:
            return HealthReport(False, f"GET {check.url}: could not connect")
        return HealthReport(status in check.expect_status, f"GET {check.url}: {status}")

    def run(self, check: HttpCheck, *, timeout: float) -> StepRun:
        status = self._status(check.url)
        where = f"{check.method} {check.url}"
        if status is None:
            return StepRun("http", "running", f"{where}: could not connect; will try again")
        if status in check.expect_status:
            return StepRun("http", "succeeded", f"{where}: {status}")
        if status == 429 or status >= 500:
            return StepRun("http", "running", f"{where}: {status}; will try again")
        return StepRun("http", "failed", f"{where}: {status}")

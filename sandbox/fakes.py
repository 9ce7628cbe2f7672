"""The shared fakes of Shunter's ports, for tests that need no real service.

Real git, the real registry and the GitHub sandbox are used wherever a test is about
them; these fakes serve the tests of the loop's logic, which would otherwise spend their
time starting services.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from bot.core.decide.identity import RunActor
from bot.core.decide.mainrules import BranchRules
from bot.core.decide.observations import CheckRun, HealthReport, StepRun
from bot.core.decide.pulls import (
    ChangedFile,
    CommitStatus,
    FileStatus,
    HeadCommit,
    PullRequest,
    Review,
    ReviewState,
    StatusState,
)
from bot.core.model import ArgoCDHealth, HttpCheck, HttpHealth
from bot.errors import ConflictError, ShunterError
from bot.ports import ActionsSettings, HttpErrorKind, ImageInfo, TagList, http_error


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
            raise http_error(HttpErrorKind.AUTH, "set PAGERDUTY_TOKEN to a PagerDuty REST API key")
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


class FakeForge:
    """``bot.ports.Forge`` in memory: one repository, its branches, PRs, reviews, checks.

    Branch heads are made-up SHAs: :meth:`push_branch` (the test world pushing) moves a
    branch to a new one. People act through :meth:`review`; ``permissions`` and ``teams``
    say who may do what. Workflow runs, deployments and code scanning alerts are what a
    test puts in ``runs``, ``deployments`` and ``alerts``. What GitHub refuses, this
    refuses with the same error types: a second open PR for a head (``ConflictError``),
    a merge of a head that moved (``ConflictError``), an unknown PR (``NOT_FOUND``).
    """

    def __init__(
        self,
        *,
        login: str = "shunter-bot",
        repository: str = "alkon/gitops",
        default_branch: str = "main",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.login = login
        self.repository = repository
        self.main = default_branch
        self.clock = clock or (lambda: datetime.now(UTC))
        self._count = 0
        root = self._sha("root")
        self.branches: dict[str, str] = {default_branch: root}
        self.trees: dict[str, dict[str, str]] = {root: {}}  # commit -> path -> text
        self.prs: dict[int, PullRequest] = {}
        self.pr_reviews: dict[int, list[Review]] = {}
        self.comments: dict[int, list[str]] = {}
        self.requested: dict[int, tuple[list[str], list[str]]] = {}
        self.labels: dict[int, list[str]] = {}
        self.permissions: dict[str, str] = {login: "write"}
        self.teams: dict[str, frozenset[str]] = {}
        self.checks: dict[str, dict[str, CheckRun]] = {}
        self.commit_statuses: dict[str, list[CommitStatus]] = {}  # sha -> newest first
        self.dispatched: list[tuple[str, str, dict[str, str]]] = []
        self.runs: dict[str, StepRun] = {}
        self.actors: dict[int, RunActor] = {}
        self.deployments: dict[str, HealthReport] = {}
        # What record_deployment wrote: (environment, sha, description, url), oldest first.
        self.recorded: list[tuple[str, str, str, str]] = []
        self.deployments_writable = True  # False: the token lacks deployments: write
        self.alerts: dict[str, int] = {}
        self.private = True
        self.settings: ActionsSettings | None = None  # None: the token may not read them
        self.rules: dict[str, BranchRules] = {}  # branch -> rules; none: unprotected
        self.repository_dispatches: list[tuple[str, dict[str, str]]] = []
        self.packages: dict[tuple[str, str], str | None] = {}  # (owner, name) -> repository

    # ------------------------------------------------------------------ the test world

    def _sha(self, seed: str) -> str:
        self._count += 1
        return hashlib.sha1(f"{seed}:{self._count}".encode()).hexdigest()  # noqa: S324

    def seed(self, files: dict[str, str]) -> str:
        """Commit ``files`` onto ``main``; return the new head."""
        head = self._sha(self.main)
        self.trees[head] = {**self.trees[self.branches[self.main]], **files}
        self.branches[self.main] = head
        return head

    def push_branch(self, branch: str, files: dict[str, str]) -> str:
        """Point ``branch`` at a new commit holding ``files`` over ``main``'s; return it."""
        head = self._sha(branch)
        self.trees[head] = {**self.trees[self.branches[self.main]], **files}
        self.branches[branch] = head
        for n, pr in self.prs.items():
            if pr.head_branch == branch and pr.state == "open":
                self.prs[n] = replace(pr, head_sha=self.branches[branch])
        return self.branches[branch]

    def review(self, number: int, login: str, state: ReviewState = "APPROVED") -> None:
        """``login`` reviews PR ``number`` on its current head."""
        pr = self.pull_request(number)
        reviews = self.pr_reviews.setdefault(number, [])
        reviews.append(Review(len(reviews) + 1, login, state, pr.head_sha, self.clock()))

    # ------------------------------------------------------------------ the port

    def whoami(self) -> str:
        return self.login

    def default_branch(self) -> str:
        return self.main

    def pull_request(self, number: int) -> PullRequest:
        if number not in self.prs:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no pull request #{number}", status=404)
        return self.prs[number]

    def open_pull_requests(self, head_branch: str) -> list[PullRequest]:
        return [p for p in self.prs.values() if p.head_branch == head_branch and p.state == "open"]

    def recent_pull_requests(self, head_branch: str, *, limit: int = 10) -> list[PullRequest]:
        mine = [p for p in self.prs.values() if p.head_branch == head_branch]
        # As GitHub's list answer: no merged_by (pull_request reads it).
        listed = sorted(mine, key=lambda p: p.number, reverse=True)[:limit]
        return [replace(p, merged_by=None) for p in listed]

    def create_pull_request(self, *, base: str, head: str, title: str, body: str) -> PullRequest:
        if head not in self.branches:
            raise http_error(HttpErrorKind.PERMANENT, f"no branch {head}", status=422)
        if self.open_pull_requests(head):
            raise ConflictError(f"a pull request for {head} already exists")
        number = max(self.prs, default=0) + 1
        self.prs[number] = PullRequest(
            number=number,
            url=f"https://github.com/{self.repository}/pull/{number}",
            title=title,
            body=body,
            author=self.login,
            head_branch=head,
            head_sha=self.branches[head],
            base_branch=base,
            state="open",
            merged=False,
            merged_by=None,
            merge_commit_sha=None,
            created_at=self.clock(),
            head_repo=self.repository,
            base_repo=self.repository,
            base_sha=self.branches[base],
        )
        return self.prs[number]

    def update_pull_request(self, number: int, *, title: str, body: str, head_sha: str) -> None:
        pr = self.pull_request(number)
        if pr.state != "open" or pr.head_sha != head_sha:
            raise ConflictError(f"pull request #{number} moved since this run looked")
        self.prs[number] = replace(pr, title=title, body=body)

    def close_pull_request(self, number: int, comment: str) -> None:
        pr = self.pull_request(number)
        self.comments.setdefault(number, []).append(comment)
        self.prs[number] = replace(pr, state="closed", closed_at=self.clock())

    def comment_pull_request(self, number: int, body: str) -> None:
        self.pull_request(number)  # an unknown PR is NOT_FOUND, as on GitHub
        self.comments.setdefault(number, []).append(body)

    def merge_pull_request(self, number: int, *, sha: str, title: str, message: str) -> str:
        pr = self.pull_request(number)
        if pr.state != "open" or pr.head_sha != sha:
            raise ConflictError(f"pull request #{number} head moved or is not open")
        merged = self._sha(f"squash {title}")
        self.trees[merged] = dict(self.trees[pr.head_sha])
        self.branches[pr.base_branch] = merged
        now = self.clock()
        self.prs[number] = replace(
            pr,
            state="closed",
            merged=True,
            merged_by=self.login,
            merge_commit_sha=merged,
            merged_at=now,
            closed_at=now,
        )
        return merged

    def reviews(self, number: int) -> list[Review]:
        self.pull_request(number)
        return list(self.pr_reviews.get(number, []))

    def request_reviewers(self, number: int, *, users: list[str], teams: list[str]) -> None:
        self.pull_request(number)
        self.requested[number] = (list(users), list(teams))

    def add_labels(self, number: int, labels: list[str]) -> None:
        self.pull_request(number)
        have = self.labels.setdefault(number, [])
        have += [n for n in labels if n.lower() not in {h.lower() for h in have}]

    def team_members(self, team: str) -> frozenset[str]:
        if team not in self.teams:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no team {team}", status=404)
        return self.teams[team]

    def permission(self, user: str) -> str:
        return self.permissions.get(user, "none")

    def set_check(
        self,
        *,
        sha: str,
        name: str,
        conclusion: Literal["success", "failure", "neutral"] | None,
        title: str,
        summary: str,
    ) -> None:
        status = "in_progress" if conclusion is None else "completed"
        self.checks.setdefault(sha, {})[name] = CheckRun(name, status, conclusion, title)

    def check_runs(self, sha: str) -> tuple[CheckRun, ...]:
        return tuple(self.checks.get(sha, {}).values())

    def set_status(
        self,
        sha: str,
        *,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None,
    ) -> None:
        if sha not in self.trees:
            raise http_error(HttpErrorKind.PERMANENT, f"No commit found for SHA: {sha}", status=422)
        st = CommitStatus(context, state, self.login, description[:140], target_url)
        self.commit_statuses.setdefault(sha, []).insert(0, st)

    def statuses(self, sha: str) -> tuple[CommitStatus, ...]:
        if sha not in self.trees:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no commit {sha}", status=404)
        return tuple(self.commit_statuses.get(sha, []))

    def dispatch_workflow(self, file: str, *, ref: str, inputs: dict[str, str]) -> None:
        self.dispatched.append((file, ref, dict(inputs)))

    def find_workflow_run(
        self, file: str, *, marker: str, created_after: datetime
    ) -> StepRun | None:
        return self.runs.get(marker)

    def workflow_run(self, run_id: str) -> StepRun:
        found = [r for r in self.runs.values() if r.run_id == run_id]
        if not found:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no workflow run {run_id}", status=404)
        return found[0]

    def deployment_health(self, environment: str) -> HealthReport:
        return self.deployments.get(
            environment, HealthReport(False, f"no deployment to {environment}")
        )

    def record_deployment(self, environment: str, sha: str, *, description: str, url: str) -> int:
        if not self.deployments_writable:
            raise http_error(
                HttpErrorKind.AUTH,
                f"record the deployment to {environment}: needs deployments: write",
                status=403,
            )
        for i, (env, done, _, _) in enumerate(self.recorded):
            if (env, done) == (environment, sha):
                return i + 1
        self.recorded.append((environment, sha, description, url))
        self.deployments[environment] = HealthReport(True, f"deployed {sha[:12]}", sha)
        return len(self.recorded)

    def open_code_scanning_alerts(self, ref: str) -> int:
        return self.alerts.get(ref, 0)

    def blob_text(self, sha: str) -> str:
        for tree in self.trees.values():
            for text in tree.values():
                if hashlib.sha1(text.encode()).hexdigest() == sha:  # noqa: S324
                    return text
        raise http_error(HttpErrorKind.NOT_FOUND, f"no blob {sha}")

    def pull_request_files(self, number: int) -> tuple[ChangedFile, ...]:
        pr = self.pull_request(number)
        base, head = self.trees[pr.base_sha], self.trees[pr.head_sha]
        changed = []
        for path in sorted(set(base) | set(head)):
            if base.get(path) == head.get(path):
                continue
            status: FileStatus = (
                "added" if path not in base else "removed" if path not in head else "modified"
            )
            blob = None
            if path in head:
                blob = hashlib.sha1(head[path].encode()).hexdigest()  # noqa: S324
            changed.append(ChangedFile(path, status, blob))
        return tuple(changed)

    def pull_request_commits(self, number: int) -> tuple[HeadCommit, ...]:
        pr = self.pull_request(number)
        return (HeadCommit(pr.head_sha, self.login, self.login),)

    def run_actor(self, run_id: int) -> RunActor:
        if run_id not in self.actors:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no workflow run {run_id}", status=404)
        return self.actors[run_id]

    def is_private(self) -> bool:
        return self.private

    def actions_settings(self) -> ActionsSettings | None:
        return self.settings

    def branch_rules(self, branch: str) -> BranchRules:
        return self.rules.get(branch, BranchRules(branch))

    def repository_dispatch(self, event_type: str, payload: dict[str, str]) -> None:
        self.repository_dispatches.append((event_type, dict(payload)))

    def package_repository(self, owner: str, name: str) -> str | None:
        if (owner, name) not in self.packages:
            raise http_error(HttpErrorKind.NOT_FOUND, f"no package {owner}/{name}", status=404)
        return self.packages[owner, name]

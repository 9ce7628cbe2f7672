"""A GitHub-compatible REST server on loopback, backed by real bare git repositories.

The tests and the demo point PyGithub at it through a base URL, exactly as the bot
points PyGithub at a GitHub Enterprise server. Answers follow the shapes of GitHub's
published REST description (https://docs.github.com/en/rest, the OpenAPI document at
https://github.com/github/rest-api-description): the fields PyGithub reads plus the
usual ones, GitHub's error bodies and status codes. Everything is served under both
``/`` and ``/api/v3``.

State lives in memory behind one lock; branches and merges live in the bare
repositories on disk, so a promotion branch force-pushed with plain ``git push`` shows
up at once as the pull request's new ``head.sha``, and a squash merge really lands on
the base branch.

Run it by hand::

    python -m sandbox.github_server --repo alkon/gitops=/tmp/gitops.git \\
        --user shunter-bot=bot-token --user alice=alice-token
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import operator
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["GitHubSandbox", "RecordedRequest", "SandboxRun"]

DOCS = "https://docs.github.com/rest"
# https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
ROLES = ("read", "triage", "write", "maintain", "admin")
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
RATE_LIMIT = 5000
_NOT_FOUND = "Not Found"


# https://docs.github.com/en/rest/actions/workflow-runs (status and conclusion values)
_CONCLUSIONS = frozenset(
    {
        "success",
        "failure",
        "neutral",
        "cancelled",
        "skipped",
        "timed_out",
        "action_required",
        "stale",
    }
)
# https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
_DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
# https://docs.github.com/en/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository:
# a security level lives beside the rule severity a SARIF result carries.
_SECURITY_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_RULE_SEVERITIES = ("error", "warning", "note", "none")


class RecordedRequest(NamedTuple):
    """One request the sandbox answered: ``path`` has no ``/api/v3`` prefix and no query.

    ``content_type`` and ``body`` are the answer as it left the sandbox (the media type
    without parameters; an empty body for 204, 304, HEAD and a dropped connection), so a
    test can check the answer against GitHub's REST description.
    """

    method: str
    path: str
    status: int
    login: str | None
    query: str = ""
    content_type: str = ""
    body: bytes = b""
    injected: bool = False  # answered by ``inject_fault``, not by the sandbox's routes


class HttpError(Exception):
    """Raised by a route to answer with GitHub's error body."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def _ts(when: datetime | None) -> str | None:
    # GitHub's timestamps: ISO 8601 in UTC, seconds precision, "Z" suffix.
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


# --------------------------------------------------------------------------- state


@dataclass
class _User:
    id: int
    login: str
    type: str  # "User" | "Bot" | "Organization"


@dataclass
class _Review:
    id: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: datetime | None


@dataclass
class _Comment:
    id: int
    user: str
    body: str
    created_at: datetime


@dataclass
class _Pull:
    id: int
    number: int
    title: str
    body: str
    user: str
    head_ref: str
    base_ref: str
    head_sha: str  # frozen once the PR is closed; live from the bare repo while open
    base_sha: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[_Review] = field(default_factory=list)
    comments: list[_Comment] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # names, as first written


@dataclass
class _CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    title: str | None
    summary: str | None
    text: str | None
    details_url: str | None
    external_id: str | None
    started_at: datetime
    completed_at: datetime | None


@dataclass
class _CommitStatus:
    """A commit status (``POST /repos/{o}/{r}/statuses/{sha}``): who set it is the token's
    owner, which is what ``creator`` reports and what Shunter trusts."""

    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: datetime


@dataclass
class _WorkflowRun:
    id: int
    workflow_id: int
    path: str  # .github/workflows/<file>
    name: str  # the workflow's ``name:`` (its path when it has none)
    display_title: str
    event: str
    head_branch: str | None
    head_sha: str
    actor: str
    inputs: dict[str, str]
    run_number: int
    created_at: datetime
    updated_at: datetime
    status: str = "queued"
    conclusion: str | None = None
    run_started_at: datetime | None = None
    run_attempt: int = 1
    triggering_actor: str | None = None  # who started this attempt (a re-run's re-runner)


@dataclass
class _DeploymentStatus:
    id: int
    state: str
    creator: str
    description: str
    created_at: datetime
    log_url: str = ""
    environment_url: str = ""


@dataclass
class _Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    creator: str
    created_at: datetime
    statuses: list[_DeploymentStatus] = field(default_factory=list)
    description: str = ""


@dataclass
class _Alert:
    number: int
    ref: str
    rule_id: str
    severity: str
    security_severity_level: str | None
    state: str
    commit_sha: str
    created_at: datetime


@dataclass(frozen=True)
class SandboxRun:
    """A workflow run as the sandbox holds it (for tests and the demo)."""

    id: int
    path: str
    display_title: str
    event: str
    ref: str | None
    head_sha: str
    inputs: dict[str, str]
    status: str
    conclusion: str | None


@dataclass
class _Repo:
    id: int
    owner: str
    name: str
    bare: Path
    default_branch: str
    created_at: datetime
    pulls: dict[int, _Pull] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    check_runs: dict[int, _CheckRun] = field(default_factory=dict)
    statuses: list[_CommitStatus] = field(default_factory=list)
    next_number: int = 1
    runs: dict[int, _WorkflowRun] = field(default_factory=dict)
    workflow_ids: dict[str, int] = field(default_factory=dict)  # path -> id
    deployments: dict[int, _Deployment] = field(default_factory=dict)
    alerts: list[_Alert] = field(default_factory=list)
    code_scanning: bool = False  # an analysis was uploaded: alerts answer 200, not 404
    # Settings -> Actions -> General; GitHub's defaults for a new repository.
    workflow_permissions: str = "read"
    actions_can_create_prs: bool = False
    protection: dict[str, _Protection] = field(default_factory=dict)  # branch -> classic rules
    rulesets: dict[int, _Ruleset] = field(default_factory=dict)
    dispatches: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list
    )  # repository_dispatch
    labels: dict[str, tuple[int, str]] = field(default_factory=dict)  # lower name: (id, name)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class _Protection:
    """Classic branch protection, as the settings page sets it."""

    required_approvals: int | None = None  # None: reviews not required at all
    code_owners: bool = False
    dismiss_stale: bool = False
    required_checks: tuple[str, ...] = ()
    enforce_admins: bool = False


@dataclass
class _Ruleset:
    """A repository ruleset: ``include`` holds ref patterns (``~DEFAULT_BRANCH``,
    ``~ALL``, ``refs/heads/shunter/*``); ``rules`` are GitHub's rule objects
    (``{"type": ..., "parameters": {...}}``); ``bypass`` the logins that may bypass it."""

    id: int
    name: str
    include: tuple[str, ...]
    rules: list[dict[str, Any]]
    bypass: tuple[str, ...] = ()
    enforcement: str = "active"


@dataclass
class _Team:
    id: int
    org: str
    slug: str
    members: list[str]


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: bytes
    headers: dict[str, str]
    times: int
    delay: float


# --------------------------------------------------------------------------- git


def _git(bare: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run git against ``bare``; return (exit code, stdout stripped)."""
    full_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        ["git", "-C", str(bare), *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode, out.stdout.strip()


def _pull_ref(bare: Path, number: int, sha: str) -> None:
    """Point ``refs/pull/<number>/head`` at ``sha``: GitHub keeps each PR's head there, so a
    clone can fetch it after the branch moved on or was deleted
    (https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/checking-out-pull-requests-locally).
    Here it follows the head whenever the sandbox looks at an open PR."""
    _git(bare, "update-ref", f"refs/pull/{number}/head", sha)


def _tip(bare: Path, branch: str) -> str | None:
    code, out = _git(bare, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}")
    return out if code == 0 and out else None


def _is_ancestor(bare: Path, older: str, newer: str) -> bool:
    return _git(bare, "merge-base", "--is-ancestor", older, newer)[0] == 0


def _merge_tree(bare: Path, base: str, head: str) -> str | None:
    """The tree of merging ``head`` into ``base``, or ``None`` on conflicts (git >= 2.38)."""
    code, out = _git(bare, "merge-tree", "--write-tree", base, head)
    if code != 0:
        return None
    return out.splitlines()[0]


# --------------------------------------------------------------------------- server


class GitHubSandbox:
    """A GitHub REST server on loopback. See the module docstring.

    ``clock`` returns the server's idea of now (timestamps of PRs, reviews, merges);
    tests may replace it.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 1000
        self._users: dict[str, _User] = {}
        self._tokens: dict[str, str] = {}
        self._repos: dict[str, _Repo] = {}
        self._teams: dict[tuple[str, str], _Team] = {}
        self._orgs: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._packages: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._used: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.api_url = ""
        self.base_url = ""

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> GitHubSandbox:
        """Start serving in a daemon thread; return ``self`` (``api_url`` is then set)."""
        sandbox = self

        class Handler(_Handler):
            server_state = sandbox

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self.api_url = f"{self.base_url}/api/v3"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="github-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> GitHubSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- set-up API

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def add_user(self, login: str, token: str, *, type: str = "User") -> None:
        """Register ``login`` authenticating with ``token``; ``type="Bot"`` behaves like
        ``GITHUB_TOKEN`` (``GET /user`` and org team reads are refused)."""
        with self._lock:
            user = self._users.get(login) or _User(self._next_id(), login, type)
            user.type = type
            self._users[login] = user
            self._tokens[token] = login

    def add_repo(self, full_name: str, bare_path: Path, *, default_branch: str = "main") -> None:
        """Serve the bare repository at ``bare_path`` as ``owner/name``."""
        owner, name = full_name.split("/", 1)
        with self._lock:
            self._repos[full_name.lower()] = _Repo(
                self._next_id(), owner, name, Path(bare_path), default_branch, self.clock()
            )
            if owner not in self._users:
                self._orgs.setdefault(owner, self._next_id())

    def add_team(self, org: str, slug: str, members: list[str]) -> None:
        """Create (or replace) team ``org/slug`` with ``members`` (logins)."""
        with self._lock:
            self._orgs.setdefault(org, self._next_id())
            self._teams[(org.lower(), slug.lower())] = _Team(
                self._next_id(), org, slug, list(members)
            )

    def set_permission(self, full_name: str, login: str, permission: str) -> None:
        """Give ``login`` the role ``admin|maintain|write|triage|read`` on the repository."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {ROLES}, not {permission!r}")
        with self._lock:
            self._repos[full_name.lower()].permissions[login] = permission

    def inject_fault(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (``"*"``: any) and
        ``path_regex`` (searched in the path without ``/api/v3`` and query) with
        ``status`` and ``body`` (default: GitHub's error body) after ``delay`` seconds.
        ``status=0`` closes the connection without answering."""
        if body is None:
            body = json.dumps({"message": _reason(status), "documentation_url": DOCS})
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    raw,
                    dict(headers or {}),
                    times,
                    delay,
                )
            )

    def write_requests(self) -> list[RecordedRequest]:
        """Every recorded request that was not a ``GET`` or ``HEAD``."""
        with self._lock:
            return [r for r in self.requests if r.method not in ("GET", "HEAD")]

    def pull_head(self, full_name: str, number: int) -> str:
        """The head SHA the server reports for PR ``number`` (for assertions)."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            return self._head_sha(repo, repo.pulls[number])

    # ----------------------------------------------------------------- actions, deployments, alerts

    def runs(self, full_name: str) -> list[SandboxRun]:
        """Every workflow run of the repository, newest first."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            return [
                SandboxRun(
                    r.id,
                    r.path,
                    r.display_title,
                    r.event,
                    r.head_branch,
                    r.head_sha,
                    dict(r.inputs),
                    r.status,
                    r.conclusion,
                )
                for r in sorted(repo.runs.values(), key=lambda r: -r.id)
            ]

    def _run(self, run_id: int) -> _WorkflowRun:
        for repo in self._repos.values():
            if run_id in repo.runs:
                return repo.runs[run_id]
        raise KeyError(f"no workflow run {run_id}")

    def start_run(self, run_id: int) -> None:
        """Move run ``run_id`` from ``queued`` to ``in_progress``."""
        with self._lock:
            run = self._run(run_id)
            if run.status == "completed":
                raise ValueError(f"run {run_id} has already completed")
            run.status = "in_progress"
            run.run_started_at = run.updated_at = self.clock()

    def complete_run(self, run_id: int, conclusion: str = "success") -> None:
        """Finish run ``run_id`` with ``conclusion`` (success, failure, cancelled, ...)."""
        # https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
        if conclusion not in _CONCLUSIONS:
            raise ValueError(
                f"conclusion must be one of {sorted(_CONCLUSIONS)}, not {conclusion!r}"
            )
        with self._lock:
            run = self._run(run_id)
            now = self.clock()
            run.run_started_at = run.run_started_at or now
            run.status, run.conclusion, run.updated_at = "completed", conclusion, now

    def add_deployment(
        self, full_name: str, environment: str, sha: str, states: list[str] | tuple[str, ...] = ()
    ) -> int:
        """Record a deployment of ``sha`` (a commit, or a ref that names one) to
        ``environment`` with ``states`` as its statuses, oldest first; return its id."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            code, commit = _git(repo.bare, "rev-parse", "--verify", "-q", f"{sha}^{{commit}}")
            if code != 0:
                raise ValueError(f"{sha!r} names no commit of {full_name}")
            creator = self._creator()
            dep = _Deployment(self._next_id(), commit, sha, environment, creator, self.clock())
            repo.deployments[dep.id] = dep
            for state in states:
                self.add_deployment_status(full_name, dep.id, state)
            return dep.id

    def add_deployment_status(
        self, full_name: str, deployment_id: int, state: str, description: str = ""
    ) -> int:
        """Give deployment ``deployment_id`` a new (newest) status; return the status id."""
        if state not in _DEPLOYMENT_STATES:
            raise ValueError(f"state must be one of {_DEPLOYMENT_STATES}, not {state!r}")
        with self._lock:
            dep = self._repos[full_name.lower()].deployments[deployment_id]
            status = _DeploymentStatus(
                self._next_id(), state, self._creator(), description, self.clock()
            )
            dep.statuses.append(status)
            return status.id

    def enable_code_scanning(self, full_name: str) -> None:
        """Behave as if an analysis was uploaded: the alert list answers 200 (maybe empty)."""
        with self._lock:
            self._repos[full_name.lower()].code_scanning = True

    def add_code_scanning_alert(
        self,
        full_name: str,
        ref: str,
        severity: str,
        *,
        rule_id: str = "py/sql-injection",
        state: str = "open",
    ) -> int:
        """Record an alert on ``ref`` (a branch name, ``refs/heads/...`` or ``refs/pull/N/...``);
        ``severity`` is a security level (critical, high, medium, low) or a rule severity
        (error, warning, note). Enables code scanning; returns the alert number."""
        if severity not in _SECURITY_LEVELS and severity not in _RULE_SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        if state not in ("open", "dismissed", "fixed"):
            raise ValueError(f"unknown alert state {state!r}")
        with self._lock:
            repo = self._repos[full_name.lower()]
            repo.code_scanning = True
            full_ref = _full_ref(ref)
            _, sha = _git(repo.bare, "rev-parse", "--verify", "-q", f"{full_ref}^{{commit}}")
            alert = _Alert(
                number=len(repo.alerts) + 1,
                ref=full_ref,
                rule_id=rule_id,
                severity=_SECURITY_LEVELS.get(severity, severity),
                security_severity_level=severity if severity in _SECURITY_LEVELS else None,
                state=state,
                commit_sha=sha,
                created_at=self.clock(),
            )
            repo.alerts.append(alert)
            return alert.number

    def set_actions_permissions(
        self, full_name: str, *, default: str = "read", can_create_prs: bool = False
    ) -> None:
        """Settings -> Actions -> General: the default ``GITHUB_TOKEN`` permissions and
        "Allow GitHub Actions to create and approve pull requests"."""
        if default not in ("read", "write"):
            raise ValueError(f"default must be read or write, not {default!r}")
        with self._lock:
            repo = self._repos[full_name.lower()]
            repo.workflow_permissions = default
            repo.actions_can_create_prs = can_create_prs

    def protect_branch(
        self,
        full_name: str,
        branch: str,
        *,
        required_approvals: int | None = None,
        code_owners: bool = False,
        dismiss_stale: bool = False,
        required_checks: tuple[str, ...] = (),
        enforce_admins: bool = False,
    ) -> None:
        """Classic branch protection on ``branch`` (``required_approvals=None``: no
        review rule; 0-6 otherwise, as GitHub allows)."""
        if required_approvals is not None and not 0 <= required_approvals <= 6:
            raise ValueError("GitHub allows 0 to 6 required approving reviews")
        with self._lock:
            self._repos[full_name.lower()].protection[branch] = _Protection(
                required_approvals,
                code_owners,
                dismiss_stale,
                tuple(required_checks),
                enforce_admins,
            )

    def add_ruleset(
        self,
        full_name: str,
        name: str,
        *,
        include: tuple[str, ...] = ("~DEFAULT_BRANCH",),
        rules: list[dict[str, Any]],
        bypass: tuple[str, ...] = (),
        enforcement: str = "active",
    ) -> int:
        """Add a branch ruleset; return its id."""
        with self._lock:
            rid = self._next_id()
            self._repos[full_name.lower()].rulesets[rid] = _Ruleset(
                rid,
                name,
                tuple(include),
                [_full_rule(r) for r in rules],
                tuple(bypass),
                enforcement,
            )
            return rid

    def repository_dispatches(self, full_name: str) -> list[tuple[str, dict[str, Any]]]:
        """(event_type, client_payload) of every ``repository_dispatch`` received."""
        with self._lock:
            return list(self._repos[full_name.lower()].dispatches)

    def add_package(self, owner: str, name: str, *, repository: str | None = None) -> None:
        """A container package ``owner/name``, linked to ``repository`` (or to none)."""
        with self._lock:
            self._packages[(owner.lower(), name)] = (self._next_id(), repository)

    def _creator(self) -> str:
        return next((u.login for u in self._users.values() if u.type == "User"), "octocat")

    # ----------------------------------------------------------------- internals

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _rate_headers(self, login: str | None, *, count: bool) -> dict[str, str]:
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
        key = login or ""
        with self._lock:
            if count:
                self._used[key] = self._used.get(key, 0) + 1
            used = self._used.get(key, 0)
        reset = int(time.time()) // 3600 * 3600 + 3600
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(RATE_LIMIT - used, 0)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
        }

    def _head_sha(self, repo: _Repo, pull: _Pull) -> str:
        if pull.state == "open":
            tip = _tip(repo.bare, pull.head_ref)
            if tip and tip != pull.head_sha:
                pull.head_sha = tip
                _pull_ref(repo.bare, pull.number, tip)
        return pull.head_sha

    def _role(self, repo: _Repo, login: str) -> str:
        if login in repo.permissions:
            return repo.permissions[login]
        return "admin" if login == repo.owner else "none"


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --------------------------------------------------------------------------- rendering


def _permissions(role: str) -> dict[str, bool]:
    """GitHub's ``permissions`` object (``pull``, ``triage``, ``push``, ``maintain``,
    ``admin``) for a repository role: each holds for the role and every role above it."""
    rank = ROLES.index(role) if role in ROLES else -1
    names = ("pull", "triage", "push", "maintain", "admin")
    return {name: rank >= i for i, name in enumerate(names)}


# https://docs.github.com/en/rest/repos/repos#get-a-repository: the hypermedia URLs.
_REPO_URLS = {
    "archive": "{archive_format}{/ref}",
    "assignees": "assignees{/user}",
    "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}",
    "collaborators": "collaborators{/collaborator}",
    "comments": "comments{/number}",
    "commits": "commits{/sha}",
    "compare": "compare/{base}...{head}",
    "contents": "contents/{+path}",
    "contributors": "contributors",
    "deployments": "deployments",
    "downloads": "downloads",
    "events": "events",
    "forks": "forks",
    "git_commits": "git/commits{/sha}",
    "git_refs": "git/refs{/sha}",
    "git_tags": "git/tags{/sha}",
    "hooks": "hooks",
    "issue_comment": "issues/comments{/number}",
    "issue_events": "issues/events{/number}",
    "issues": "issues{/number}",
    "keys": "keys{/key_id}",
    "labels": "labels{/name}",
    "languages": "languages",
    "merges": "merges",
    "milestones": "milestones{/number}",
    "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}",
    "releases": "releases{/id}",
    "stargazers": "stargazers",
    "statuses": "statuses/{sha}",
    "subscribers": "subscribers",
    "subscription": "subscription",
    "tags": "tags",
    "teams": "teams",
    "trees": "git/trees{/sha}",
}


class _View:
    """Renders state as GitHub JSON for one request (URLs use the request's base)."""

    def __init__(self, sb: GitHubSandbox, api: str, web: str) -> None:
        self.sb = sb
        self.api = api
        self.web = web

    def user(self, login: str) -> dict[str, Any]:
        u = self.sb._users.get(login)
        if u is None:
            oid = self.sb._orgs.get(login, 0)
            u = _User(oid, login, "Organization")
        # GitHub's ``simple-user``: every field it requires, URL templates included.
        url = f"{self.api}/users/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": f"U_{u.id}",
            "avatar_url": f"{self.web}/avatars/{u.login}",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.web}/{u.login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": u.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def profile(self, login: str, *, private: bool) -> dict[str, Any]:
        """GitHub's ``public-user`` (``/users/{username}``), or ``private-user`` (``/user``:
        the token's owner also sees their plan and two-factor setting)."""
        data = self.user(login)
        data.update(
            {
                "name": login,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00Z",
            }
        )
        if private:
            data.update(
                {
                    "user_view_type": "private",
                    "private_gists": 0,
                    "total_private_repos": 0,
                    "owned_private_repos": 0,
                    "disk_usage": 0,
                    "collaborators": 0,
                    "two_factor_authentication": True,
                }
            )
        return data

    def team(self, team: _Team) -> dict[str, Any]:
        return {
            "id": team.id,
            "node_id": f"T_{team.id}",
            "url": f"{self.api}/orgs/{team.org}/teams/{team.slug}",
            "html_url": f"{self.web}/orgs/{team.org}/teams/{team.slug}",
            "name": team.slug,
            "slug": team.slug,
            "description": None,
            "privacy": "closed",
            "permission": "pull",
            "members_url": f"{self.api}/orgs/{team.org}/teams/{team.slug}/members{{/member}}",
            "repositories_url": f"{self.api}/orgs/{team.org}/teams/{team.slug}/repos",
            "parent": None,
            "type": "organization",
        }

    def repo(self, repo: _Repo, login: str | None) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        role = self.sb._role(repo, login) if login else "none"
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": True,
            "visibility": "private",
            "owner": self.user(repo.owner),
            "html_url": f"{self.web}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            # GitHub's URL templates (RFC 6570), as ``full-repository`` requires them.
            **{f"{key}_url": f"{api}/{tail}" for key, tail in _REPO_URLS.items()},
            # The bare repository itself, so a sandboxed bot can clone what it sees.
            "clone_url": repo.bare.as_uri(),
            "git_url": repo.bare.as_uri(),
            "ssh_url": repo.bare.as_uri(),
            "svn_url": f"{self.web}/{repo.full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "license": None,
            "size": 0,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "subscribers_count": 0,
            "network_count": 0,
            "open_issues": 0,
            "open_issues_count": 0,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "default_branch": repo.default_branch,
            "archived": False,
            "disabled": False,
            "created_at": _ts(repo.created_at),
            "updated_at": _ts(repo.created_at),
            "pushed_at": _ts(repo.created_at),
            "permissions": _permissions(role),
        }

    def minimal_repo(self, repo: _Repo) -> dict[str, Any]:
        """GitHub's ``minimal-repository`` (as inside a workflow run): no permissions."""
        data = self.repo(repo, None)
        del data["permissions"]
        return data

    def branch_ref(self, repo: _Repo, ref: str, sha: str, login: str | None) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo, login),
        }

    def pull(self, repo: _Repo, pr: _Pull, login: str | None, *, full: bool) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        url = f"{api}/pulls/{pr.number}"
        html_url = f"{self.web}/{repo.full_name}/pull/{pr.number}"
        head_sha = self.sb._head_sha(repo, pr)
        base_sha = _tip(repo.bare, pr.base_ref) or pr.base_sha
        teams = [self.sb._teams.get((repo.owner.lower(), s.lower())) for s in pr.requested_teams]
        data: dict[str, Any] = {
            "url": url,
            "id": pr.id,
            "node_id": f"PR_{pr.id}",
            "html_url": html_url,
            "diff_url": f"{html_url}.diff",
            "patch_url": f"{html_url}.patch",
            "issue_url": f"{api}/issues/{pr.number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self.user(pr.user),
            "body": pr.body,
            "labels": [self.label(repo, n) for n in pr.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": _ts(pr.created_at),
            "updated_at": _ts(pr.updated_at),
            "closed_at": _ts(pr.closed_at),
            "merged_at": _ts(pr.merged_at),
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(u) for u in pr.requested_reviewers],
            "requested_teams": [self.team(t) for t in teams if t is not None],
            "head": self.branch_ref(repo, pr.head_ref, head_sha, login),
            "base": self.branch_ref(repo, pr.base_ref, base_sha, login),
            "_links": {
                "self": {"href": url},
                "html": {"href": html_url},
                "issue": {"href": f"{api}/issues/{pr.number}"},
                "comments": {"href": f"{api}/issues/{pr.number}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{api}/statuses/{head_sha}"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": False,
        }
        if full:
            mergeable: bool | None = None
            blocked = False
            commits = 0
            if pr.state == "open":
                mergeable = _merge_tree(repo.bare, base_sha, head_sha) is not None
                # "blocked": the branch's rules stop the viewer merging it now.
                # https://docs.github.com/en/graphql/reference/enums#mergestatestatus
                blocked = bool(
                    mergeable
                    and login
                    and _merge_violations(self.sb, repo, pr, head_sha, base_sha, login)
                )
                _, count = _git(repo.bare, "rev-list", "--count", f"{base_sha}..{head_sha}")
                commits = int(count or 0)
            data.update(
                {
                    "merged": pr.merged_at is not None,
                    "mergeable": mergeable,
                    "rebaseable": mergeable,
                    "mergeable_state": (
                        "unknown"
                        if mergeable is None
                        else "blocked"
                        if blocked
                        else "clean"
                        if mergeable
                        else "dirty"
                    ),
                    "merged_by": self.user(pr.merged_by) if pr.merged_by else None,
                    "comments": len(pr.comments),
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": commits,
                    "additions": 0,
                    "deletions": 0,
                    "changed_files": 0,
                }
            )
        return data

    def review(self, repo: _Repo, pr: _Pull, rv: _Review) -> dict[str, Any]:
        html_url = f"{self.web}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{rv.id}"
        pull_url = f"{self.api}/repos/{repo.full_name}/pulls/{pr.number}"
        return {
            "id": rv.id,
            "node_id": f"PRR_{rv.id}",
            "user": self.user(rv.user),
            "body": rv.body,
            "state": rv.state,
            "html_url": html_url,
            "pull_request_url": pull_url,
            "_links": {"html": {"href": html_url}, "pull_request": {"href": pull_url}},
            "submitted_at": _ts(rv.submitted_at),
            "commit_id": rv.commit_id,
            "author_association": "MEMBER",
        }

    def label(self, repo: _Repo, name: str) -> dict[str, Any]:
        """A repository label, as https://docs.github.com/en/rest/issues/labels shows it."""
        label_id, written = repo.labels[name.lower()]
        return {
            "id": label_id,
            "node_id": f"LA_{label_id}",
            "url": f"{self.api}/repos/{repo.full_name}/labels/{urllib.parse.quote(written)}",
            "name": written,
            "description": "",  # pulls/list's label shape has no null here
            "color": "ededed",  # GitHub's colour for a label made by adding it to an issue
            "default": False,
        }

    def comment(self, repo: _Repo, pr: _Pull, c: _Comment) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"{self.web}/{repo.full_name}/pull/{pr.number}#issuecomment-{c.id}",
            "issue_url": f"{api}/issues/{pr.number}",
            "body": c.body,
            "user": self.user(c.user),
            "created_at": _ts(c.created_at),
            "updated_at": _ts(c.created_at),
            "author_association": "MEMBER",
        }

    def commit_status(self, repo: _Repo, st: _CommitStatus) -> dict[str, Any]:
        # https://docs.github.com/en/rest/commits/statuses (the ``status`` schema)
        return {
            "url": f"{self.api}/repos/{repo.full_name}/statuses/{st.sha}",
            "avatar_url": f"{self.web}/{st.creator}.png",
            "id": st.id,
            "node_id": f"SC_{st.id}",
            "state": st.state,
            "description": st.description,
            "target_url": st.target_url,
            "context": st.context,
            "created_at": _ts(st.created_at),
            "updated_at": _ts(st.created_at),
            "creator": self.user(st.creator),
        }

    def check_run(self, repo: _Repo, cr: _CheckRun) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}/check-runs/{cr.id}"
        return {
            "id": cr.id,
            "node_id": f"CR_{cr.id}",
            "head_sha": cr.head_sha,
            "external_id": cr.external_id or "",
            "url": url,
            "html_url": f"{self.web}/{repo.full_name}/runs/{cr.id}",
            "details_url": cr.details_url or f"{self.web}/{repo.full_name}/runs/{cr.id}",
            "status": cr.status,
            "conclusion": cr.conclusion,
            "started_at": _ts(cr.started_at),
            "completed_at": _ts(cr.completed_at),
            "output": {
                "title": cr.title,
                "summary": cr.summary,
                "text": cr.text,
                "annotations_count": 0,
                "annotations_url": f"{url}/annotations",
            },
            "name": cr.name,
            "check_suite": {"id": cr.id},
            "app": None,
            "pull_requests": [],
        }

    def workflow(self, repo: _Repo, path: str, name: str) -> dict[str, Any]:
        wid = repo.workflow_ids[path]
        file = path.rpartition("/")[2]
        return {
            "id": wid,
            "node_id": f"W_{wid}",
            "name": name,
            "path": path,
            "state": "active",
            "created_at": _ts(repo.created_at),
            "updated_at": _ts(repo.created_at),
            "url": f"{self.api}/repos/{repo.full_name}/actions/workflows/{wid}",
            "html_url": f"{self.web}/{repo.full_name}/actions/workflows/{file}",
            "badge_url": f"{self.web}/{repo.full_name}/workflows/{file}/badge.svg",
        }

    def workflow_run(self, repo: _Repo, run: _WorkflowRun) -> dict[str, Any]:
        # https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run
        api = f"{self.api}/repos/{repo.full_name}"
        url = f"{api}/actions/runs/{run.id}"
        return {
            "id": run.id,
            "name": run.name,
            "node_id": f"WFR_{run.id}",
            "check_suite_id": run.id,
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.path,
            "display_title": run.display_title,
            "run_number": run.run_number,
            "run_attempt": run.run_attempt,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": url,
            "html_url": f"{self.web}/{repo.full_name}/actions/runs/{run.id}",
            "pull_requests": [],
            "created_at": _ts(run.created_at),
            "updated_at": _ts(run.updated_at),
            "run_started_at": _ts(run.run_started_at or run.created_at),
            "actor": self.user(run.actor),
            "triggering_actor": self.user(run.triggering_actor or run.actor),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": f"{api}/check-suites/{run.id}",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "previous_attempt_url": (
                f"{url}/attempts/{run.run_attempt - 1}" if run.run_attempt > 1 else None
            ),
            "workflow_url": f"{api}/actions/workflows/{run.workflow_id}",
            "head_commit": _simple_commit(repo.bare, run.head_sha),
            "repository": self.minimal_repo(repo),
            "head_repository": self.minimal_repo(repo),
        }

    def deployment(self, repo: _Repo, dep: _Deployment) -> dict[str, Any]:
        # https://docs.github.com/en/rest/deployments/deployments#get-a-deployment
        api = f"{self.api}/repos/{repo.full_name}"
        return {
            "url": f"{api}/deployments/{dep.id}",
            "id": dep.id,
            "node_id": f"DE_{dep.id}",
            "sha": dep.sha,
            "ref": dep.ref,
            "task": "deploy",
            "payload": {},
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description or None,
            "creator": self.user(dep.creator),
            "created_at": _ts(dep.created_at),
            "updated_at": _ts(dep.statuses[-1].created_at if dep.statuses else dep.created_at),
            "statuses_url": f"{api}/deployments/{dep.id}/statuses",
            "repository_url": api,
            "transient_environment": False,
            "production_environment": dep.environment == "production",
        }

    def deployment_status(
        self, repo: _Repo, dep: _Deployment, st: _DeploymentStatus
    ) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        return {
            "url": f"{api}/deployments/{dep.id}/statuses/{st.id}",
            "id": st.id,
            "node_id": f"DES_{st.id}",
            "state": st.state,
            "creator": self.user(st.creator),
            "description": st.description,
            "environment": dep.environment,
            "target_url": st.log_url,
            "log_url": st.log_url,
            "environment_url": st.environment_url,
            "created_at": _ts(st.created_at),
            "updated_at": _ts(st.created_at),
            "deployment_url": f"{api}/deployments/{dep.id}",
            "repository_url": api,
        }

    def alert(self, repo: _Repo, alert: _Alert) -> dict[str, Any]:
        # https://docs.github.com/en/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository
        url = f"{self.api}/repos/{repo.full_name}/code-scanning/alerts/{alert.number}"
        return {
            "number": alert.number,
            "created_at": _ts(alert.created_at),
            "updated_at": _ts(alert.created_at),
            "url": url,
            "html_url": f"{self.web}/{repo.full_name}/security/code-scanning/{alert.number}",
            "instances_url": f"{url}/instances",
            "state": alert.state,
            "fixed_at": None,
            "dismissed_by": None,
            "dismissed_at": None,
            "dismissed_reason": None,
            "dismissed_comment": None,
            "rule": {
                "id": alert.rule_id,
                "severity": alert.severity,
                "security_severity_level": alert.security_severity_level,
                "description": alert.rule_id,
                "name": alert.rule_id,
                "tags": ["security"],
            },
            "tool": {"name": "CodeQL", "guid": None, "version": "2.0.0"},
            "most_recent_instance": {
                "ref": alert.ref,
                "analysis_key": ".github/workflows/codeql.yml:analyze",
                "environment": "{}",
                "category": ".github/workflows/codeql.yml:analyze",
                "state": alert.state,
                "commit_sha": alert.commit_sha,
                "message": {"text": alert.rule_id},
                "location": {"path": "app.py", "start_line": 1, "end_line": 1},
                "classifications": [],
            },
        }


# --------------------------------------------------------------------------- routes

_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = []
_SEG = r"([^/]+)"
_REPO = r"/repos/([^/]+)/([^/]+)"


def _route(method: str, pattern: str) -> Callable[[Any], Any]:
    def register(fn: Any) -> Any:
        _ROUTES.append((method, re.compile(f"^{pattern}$"), fn))
        return fn

    return register


@dataclass
class _Request:
    sb: GitHubSandbox
    view: _View
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    login: str | None
    full_url: str  # without query, for pagination links

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json_field(self, name: str, default: Any = None) -> Any:
        if isinstance(self.body, dict):
            return self.body.get(name, default)
        return default

    def repo(self, owner: str, name: str) -> _Repo:
        repo = self.sb._repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise HttpError(404, _NOT_FOUND)
        return repo

    def pull(self, owner: str, name: str, number: str) -> tuple[_Repo, _Pull]:
        repo = self.repo(owner, name)
        pr = repo.pulls.get(int(number))
        if pr is None:
            raise HttpError(404, _NOT_FOUND)
        return repo, pr

    def need_role(self, repo: _Repo, role: str) -> str:
        assert self.login is not None
        have = self.sb._role(repo, self.login)
        if have not in ROLES or ROLES.index(have) < ROLES.index(role):
            raise HttpError(403, "Resource not accessible by integration")
        return self.login

    def page(self, items: list[Any]) -> tuple[int, _Paged]:
        """Slice ``items`` by ``per_page``/``page``; return (200, slice with its Link header).

        https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
        """
        per_page = max(1, min(int(self.arg("per_page", "30") or 30), 100))
        page = max(1, int(self.arg("page", "1") or 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            params = {k: v[0] for k, v in self.query.items()}
            params.update({"per_page": str(per_page), "page": str(n)})
            return f'<{self.full_url}?{urllib.parse.urlencode(params)}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        return 200, _Paged(chunk, {"Link": ", ".join(links)} if links else {})


class _Paged(NamedTuple):
    data: Any
    headers: dict[str, str]


def _unq(s: str) -> str:
    return urllib.parse.unquote(s)


@_route("GET", "/user")
def _get_user(req: _Request) -> tuple[int, Any]:
    assert req.login is not None
    user = req.sb._users[req.login]
    if user.type == "Bot":
        raise HttpError(403, "Resource not accessible by integration")
    return 200, req.view.profile(req.login, private=True)


@_route("GET", "/users/" + _SEG)
def _get_named_user(req: _Request, login: str) -> tuple[int, Any]:
    if _unq(login) not in req.sb._users:
        raise HttpError(404, _NOT_FOUND)
    return 200, req.view.profile(_unq(login), private=False)


@_route("GET", "/rate_limit")
def _rate_limit(req: _Request) -> tuple[int, Any]:
    used = req.sb._used.get(req.login or "", 0)
    core = {
        "limit": RATE_LIMIT,
        "used": used,
        "remaining": max(RATE_LIMIT - used, 0),
        "reset": int(time.time()) // 3600 * 3600 + 3600,
    }
    return 200, {"resources": {"core": core, "graphql": core, "search": core}, "rate": core}


@_route("GET", "/orgs/" + _SEG)
def _get_org(req: _Request, org: str) -> tuple[int, Any]:
    oid = req.sb._orgs.get(org)
    if oid is None:
        raise HttpError(404, _NOT_FOUND)
    return 200, _org_json(req, org, oid)


def _org_json(req: _Request, org: str, oid: int) -> dict[str, Any]:
    """GitHub's ``organization-full``."""
    url = f"{req.view.api}/orgs/{org}"
    return {
        "login": org,
        "id": oid,
        "node_id": f"O_{oid}",
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": f"{req.view.web}/avatars/{org}",
        "description": None,
        "html_url": f"{req.view.web}/{org}",
        "has_organization_projects": False,
        "has_repository_projects": False,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "type": "Organization",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "archived_at": None,
    }


def _team(req: _Request, org: str, slug: str) -> _Team:
    assert req.login is not None
    team = req.sb._teams.get((_unq(org).lower(), _unq(slug).lower()))
    if req.sb._users[req.login].type == "Bot" and team is not None:
        # GITHUB_TOKEN has no organization scope at all.
        raise HttpError(403, "Resource not accessible by integration")
    if team is None:
        raise HttpError(404, _NOT_FOUND)
    return team


@_route("GET", "/orgs/" + _SEG + "/teams/" + _SEG)
def _get_team(req: _Request, org: str, slug: str) -> tuple[int, Any]:
    # GitHub's ``team-full``: the team plus its counts and organization.
    team = _team(req, org, slug)
    data = req.view.team(team)
    data.update(
        {
            "members_count": len(team.members),
            "repos_count": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
            "organization": _org_json(req, team.org, req.sb._orgs.get(team.org, 0)),
        }
    )
    return 200, data


@_route("GET", "/orgs/" + _SEG + "/teams/" + _SEG + "/members")
def _team_members(req: _Request, org: str, slug: str) -> tuple[int, Any]:
    team = _team(req, org, slug)
    return req.page([req.view.user(m) for m in team.members])


@_route("GET", _REPO)
def _get_repo(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    return 200, req.view.repo(req.repo(owner, name), req.login)


class _GitCommit(NamedTuple):
    author: dict[str, str | None]  # name, email, date
    committer: dict[str, str | None]
    tree: str
    parents: list[str]
    message: str


def _read_commit(bare: Path, sha: str) -> _GitCommit:
    _, raw = _git(
        bare, "show", "-s", "--format=%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%P%x00%B", sha
    )
    an, ae, ad, cn, ce, cd, tree, parents, message = (raw.split("\x00") + [""] * 9)[:9]

    def when(iso: str) -> str | None:
        return _ts(datetime.fromisoformat(iso)) if iso else None

    return _GitCommit(
        {"name": an, "email": ae, "date": when(ad)},
        {"name": cn, "email": ce, "date": when(cd)},
        tree,
        parents.split(),
        message.strip(),
    )


def _simple_commit(bare: Path, sha: str) -> dict[str, Any]:
    """GitHub's ``simple-commit`` (a workflow run's ``head_commit``)."""
    c = _read_commit(bare, sha)
    return {
        "id": sha,
        "tree_id": c.tree,
        "message": c.message,
        "timestamp": c.committer["date"],
        "author": {"name": c.author["name"], "email": c.author["email"]},
        "committer": {"name": c.committer["name"], "email": c.committer["email"]},
    }


def _commit_json(req: _Request, repo: _Repo, sha: str) -> dict[str, Any]:
    api = f"{req.view.api}/repos/{repo.full_name}"
    c = _read_commit(repo.bare, sha)
    return {
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "url": f"{api}/commits/{sha}",
        "html_url": f"{req.view.web}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{sha}",
            "author": c.author,
            "committer": c.committer,
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
            "comment_count": 0,
        },
        # The sandbox's commits are by e-mail addresses no account holds: GitHub says null.
        "author": None,
        "committer": None,
        "parents": [{"sha": p, "url": f"{api}/commits/{p}"} for p in c.parents],
    }


@_route("GET", _REPO + "/commits/([^/]+)")
def _get_commit(req: _Request, owner: str, name: str, ref: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    code, sha = _git(repo.bare, "rev-parse", "--verify", "-q", f"{_unq(ref)}^{{commit}}")
    if code != 0:
        raise HttpError(422, f"No commit found for SHA: {_unq(ref)}")
    data = _commit_json(req, repo, sha)
    data["files"] = []
    return 200, data


@_route("GET", _REPO + "/branches/(.+)(?<!/protection)")
def _get_branch(req: _Request, owner: str, name: str, branch: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    branch = _unq(branch)
    sha = _tip(repo.bare, branch)
    if sha is None:
        raise HttpError(404, "Branch not found")
    api = f"{req.view.api}/repos/{repo.full_name}"
    classic = repo.protection.get(branch)
    checks = list(classic.required_checks) if classic else []
    return 200, {
        "name": branch,
        "commit": _commit_json(req, repo, sha),
        "protected": classic is not None or bool(_branch_rules(repo, branch)),
        # https://docs.github.com/en/rest/branches/branches#get-a-branch: the summary any
        # reader sees; the full rules need administration: read.
        "protection": {
            "enabled": classic is not None,
            "required_status_checks": {
                "enforcement_level": "non_admins" if checks else "off",
                "contexts": checks,
                "checks": [{"context": c, "app_id": None} for c in checks],
            },
        },
        "protection_url": f"{api}/branches/{branch}/protection",
        "_links": {
            "self": f"{api}/branches/{branch}",
            "html": f"{req.view.web}/{repo.full_name}/tree/{branch}",
        },
    }


@_route("GET", _REPO + "/git/refs?/heads/(.+)")
def _get_ref(req: _Request, owner: str, name: str, branch: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    branch = _unq(branch)
    sha = _tip(repo.bare, branch)
    if sha is None:
        raise HttpError(404, _NOT_FOUND)
    api = f"{req.view.api}/repos/{repo.full_name}"
    return 200, {
        "ref": f"refs/heads/{branch}",
        "node_id": f"REF_{sha[:12]}",
        "url": f"{api}/git/refs/heads/{branch}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


@_route("GET", _REPO + "/pulls")
def _list_pulls(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    state = req.arg("state", "open")
    head = req.arg("head")
    base = req.arg("base")
    if state not in ("open", "closed", "all"):
        raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    found = []
    for pr in sorted(repo.pulls.values(), key=lambda p: -p.number):  # newest first
        if state != "all" and pr.state != state:
            continue
        if head is not None:
            h_owner, _, h_ref = head.rpartition(":")
            if h_ref != pr.head_ref or (h_owner and h_owner.lower() != repo.owner.lower()):
                continue
        if base is not None and base != pr.base_ref:
            continue
        found.append(req.view.pull(repo, pr, req.login, full=False))
    return req.page(found)


@_route("POST", _REPO + "/pulls")
def _create_pull(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    login = req.need_role(repo, "write")
    if req.sb._users[login].type == "Bot" and not repo.actions_can_create_prs:
        # https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/enabling-features-for-your-repository/managing-github-actions-settings-for-a-repository#preventing-github-actions-from-creating-or-approving-pull-requests
        raise HttpError(403, "GitHub Actions is not permitted to create or approve pull requests.")
    title, head, base = (req.json_field(k) for k in ("title", "head", "base"))
    missing = [k for k, v in (("title", title), ("head", head), ("base", base)) if not v]
    if missing:
        raise HttpError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": k, "code": "missing_field"} for k in missing],
        )
    head_ref = str(head).rpartition(":")[2]
    head_sha = _tip(repo.bare, head_ref)
    base_sha = _tip(repo.bare, str(base))
    invalid = [k for k, sha in (("head", head_sha), ("base", base_sha)) if sha is None]
    if invalid:
        raise HttpError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": k, "code": "invalid"} for k in invalid],
        )
    assert head_sha is not None and base_sha is not None
    for pr in repo.pulls.values():
        if pr.state == "open" and pr.head_ref == head_ref and pr.base_ref == base:
            raise HttpError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head_ref}.",
                    }
                ],
            )
    if _is_ancestor(repo.bare, head_sha, base_sha):
        raise HttpError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head_ref}",
                }
            ],
        )
    now = req.sb.clock()
    number = repo.next_number
    repo.next_number += 1
    pr = _Pull(
        id=req.sb._next_id(),
        number=number,
        title=str(title),
        body=str(req.json_field("body") or ""),
        user=login,
        head_ref=head_ref,
        base_ref=str(base),
        head_sha=head_sha,
        base_sha=base_sha,
        created_at=now,
        updated_at=now,
    )
    repo.pulls[number] = pr
    _pull_ref(repo.bare, number, head_sha)
    return 201, req.view.pull(repo, pr, req.login, full=True)


@_route("GET", _REPO + r"/pulls/(\d+)")
def _get_pull(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    return 200, req.view.pull(repo, pr, req.login, full=True)


@_route("PATCH", _REPO + r"/pulls/(\d+)")
def _edit_pull(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    req.need_role(repo, "write")
    state = req.json_field("state")
    if state not in (None, "open", "closed"):
        raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    if state == "open" and pr.state == "closed" and pr.merged_at is not None:
        raise HttpError(422, "Validation Failed", [{"code": "custom", "message": "merged"}])
    if req.json_field("title") is not None:
        pr.title = str(req.json_field("title"))
    if req.json_field("body") is not None:
        pr.body = str(req.json_field("body"))
    if req.json_field("base") is not None:
        pr.base_ref = str(req.json_field("base"))
    if state == "closed" and pr.state == "open":
        req.sb._head_sha(repo, pr)  # freeze the head as it was when closed
        pr.state = "closed"
        pr.closed_at = req.sb.clock()
    elif state == "open" and pr.state == "closed":
        pr.state = "open"
        pr.closed_at = None
    pr.updated_at = req.sb.clock()
    return 200, req.view.pull(repo, pr, req.login, full=True)


def _pull_range(sb: GitHubSandbox, repo: _Repo, pr: _Pull) -> tuple[str, str]:
    """(merge base, head) of ``pr``: what GitHub compares for its files and commits. A
    merged PR is compared with the base as it was when it was merged."""
    head = sb._head_sha(repo, pr)
    base = _tip(repo.bare, pr.base_ref) or pr.base_sha
    if pr.merge_commit_sha and pr.merge_commit_sha != head:
        base = pr.merge_commit_sha + "^1"
    code, mb = _git(repo.bare, "merge-base", base, head)
    return (mb if code == 0 and mb else pr.base_sha), head


_FILE_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied"}


@_route("GET", _REPO + r"/pulls/(\d+)/files")
def _pull_files(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files
    repo, pr = req.pull(owner, name, number)
    base, head = _pull_range(req.sb, repo, pr)
    _, raw = _git(repo.bare, "diff", "--raw", "-z", "-M", "--no-abbrev", base, head)
    _, numstat = _git(repo.bare, "diff", "--numstat", "-z", "-M", base, head)
    counts: dict[str, tuple[int, int]] = {}
    fields = numstat.split("\x00")
    i = 0
    while i < len(fields):
        head_part = fields[i].split("\t")
        if len(head_part) < 3:
            i += 1
            continue
        added, deleted, path = head_part[0], head_part[1], head_part[2]
        if not path:  # a rename: the next two fields are the old and new names
            path = fields[i + 2]
            i += 2
        counts[path] = (
            int(added) if added.isdigit() else 0,
            int(deleted) if deleted.isdigit() else 0,
        )
        i += 1
    api = f"{req.view.api}/repos/{repo.full_name}"
    web = f"{req.view.web}/{repo.full_name}"
    out: list[dict[str, Any]] = []
    parts = raw.split("\x00")
    i = 0
    while i < len(parts) - 1:
        meta = parts[i].lstrip(":").split()
        if len(meta) < 5:
            i += 1
            continue
        old_mode, new_mode, old_sha, new_sha, letter = meta[:5]
        paths = [parts[i + 1]]
        i += 2
        if letter[0] in "RC":
            paths.append(parts[i])
            i += 1
        path = paths[-1]
        status = _FILE_STATUS.get(letter[0], "changed")
        if letter[0] == "M" and old_mode != new_mode and old_sha == new_sha:
            status = "changed"
        if letter[0] == "T":
            status = "changed"
        sha = old_sha if status == "removed" else new_sha
        plus, minus = counts.get(path, (0, 0))
        quoted = urllib.parse.quote(path)
        entry: dict[str, Any] = {
            "sha": sha,
            "filename": path,
            "status": status,
            "additions": plus,
            "deletions": minus,
            "changes": plus + minus,
            "blob_url": f"{web}/blob/{head}/{quoted}",
            "raw_url": f"{web}/raw/{head}/{quoted}",
            "contents_url": f"{api}/contents/{quoted}?ref={head}",
        }
        if len(paths) == 2:
            entry["previous_filename"] = paths[0]
        out.append(entry)
    return req.page(out)


def _login_for_email(sb: GitHubSandbox, email: str) -> str | None:
    """The user a commit e-mail belongs to: GitHub's no-reply forms
    (``login@users.noreply.github.com``, ``id+login@...``) of a known user."""
    local, _, domain = email.partition("@")
    if domain != "users.noreply.github.com":
        return None
    login = local.partition("+")[2] or local
    return login if login in sb._users else None


@_route("GET", _REPO + "/git/blobs/([0-9a-f]{40})")
def _get_blob(req: _Request, owner: str, name: str, sha: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/git/blobs#get-a-blob: the content base64-encoded
    # (wrapped at 60 characters, as GitHub sends it); a SHA that is not a blob is 404.
    repo = req.repo(owner, name)
    kind = subprocess.run(
        ["git", "-C", str(repo.bare), "cat-file", "-t", sha],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if kind.returncode != 0 or kind.stdout.strip() != "blob":
        raise HttpError(404, "Not Found")
    data = subprocess.run(
        ["git", "-C", str(repo.bare), "cat-file", "blob", sha], capture_output=True, check=True
    ).stdout
    encoded = base64.b64encode(data).decode()
    return 200, {
        "sha": sha,
        "node_id": f"B_{sha[:16]}",
        "size": len(data),
        "url": f"{req.view.api}/repos/{repo.full_name}/git/blobs/{sha}",
        "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
        "encoding": "base64",
    }


@_route("GET", _REPO + r"/pulls/(\d+)/commits")
def _pull_commits(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request: oldest
    # first; ``author``/``committer`` are the GitHub users the e-mails belong to, or null.
    repo, pr = req.pull(owner, name, number)
    base, head = _pull_range(req.sb, repo, pr)
    _, shas = _git(repo.bare, "rev-list", "--reverse", f"{base}..{head}")
    out = []
    for sha in shas.split():
        data = _commit_json(req, repo, sha)
        _, emails = _git(repo.bare, "show", "-s", "--format=%ae%x00%ce", sha)
        ae, _, ce = emails.partition("\x00")
        for key, email in (("author", ae), ("committer", ce)):
            login = _login_for_email(req.sb, email)
            data[key] = req.view.user(login) if login else None
        out.append(data)
    return req.page(out)


@_route("GET", _REPO + r"/pulls/(\d+)/merge")
def _is_merged(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    _, pr = req.pull(owner, name, number)
    if pr.merged_at is None:
        raise HttpError(404, _NOT_FOUND)
    return 204, None


@_route("PUT", _REPO + r"/pulls/(\d+)/merge")
def _merge(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request
    repo, pr = req.pull(owner, name, number)
    login = req.need_role(repo, "write")
    method = req.json_field("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise HttpError(422, "Validation Failed", [{"field": "merge_method", "code": "invalid"}])
    if pr.state != "open":
        raise HttpError(405, "Pull Request is not mergeable")
    head = req.sb._head_sha(repo, pr)
    sha = req.json_field("sha")
    if sha is not None and sha != head:
        raise HttpError(409, "Head branch was modified. Review and try the merge again.")
    base = _tip(repo.bare, pr.base_ref)
    if base is None:
        raise HttpError(405, "Pull Request is not mergeable")
    violations = _merge_violations(req.sb, repo, pr, head, base, login)
    if violations:
        raise HttpError(405, "\n".join(violations))
    merger = req.sb._users[login]
    env = {
        "GIT_AUTHOR_NAME": login,
        "GIT_AUTHOR_EMAIL": f"{merger.id}+{login}@users.noreply.github.com",
        "GIT_COMMITTER_NAME": "GitHub",
        "GIT_COMMITTER_EMAIL": "noreply@github.com",
    }
    if method == "rebase":
        # A rebase merge that needs no rewriting is a fast-forward; the sandbox does
        # not replay commits, and says so with GitHub's own message.
        if not _is_ancestor(repo.bare, base, head):
            raise HttpError(405, "This branch can't be rebased")
        new = head
    else:
        tree = _merge_tree(repo.bare, base, head)
        if tree is None:
            raise HttpError(405, "Pull Request is not mergeable")
        if method == "squash":
            title = req.json_field("commit_title") or f"{pr.title} (#{pr.number})"
            _, log = _git(repo.bare, "log", "--reverse", "--format=* %s", f"{base}..{head}")
            parents = ["-p", base]
        else:
            title = req.json_field("commit_title") or (
                f"Merge pull request #{pr.number} from {repo.owner}/{pr.head_ref}"
            )
            log = pr.title
            parents = ["-p", base, "-p", head]
        body = req.json_field("commit_message")
        message = f"{title}\n\n{log if body is None else body}".rstrip() + "\n"
        code, new = _git(repo.bare, "commit-tree", tree, *parents, "-m", message, env=env)
        if code != 0:
            raise HttpError(500, "Server Error")
    code, _ = _git(repo.bare, "update-ref", f"refs/heads/{pr.base_ref}", new, base)
    if code != 0:
        raise HttpError(409, "Base branch was modified. Review and try the merge again.")
    now = req.sb.clock()
    pr.state = "closed"
    pr.merged_at = pr.closed_at = pr.updated_at = now
    pr.merged_by = login
    pr.merge_commit_sha = new
    return 200, {"sha": new, "merged": True, "message": "Pull Request successfully merged"}


_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


@_route("GET", _REPO + r"/pulls/(\d+)/reviews")
def _list_reviews(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    return req.page([req.view.review(repo, pr, r) for r in pr.reviews])


@_route("POST", _REPO + r"/pulls/(\d+)/reviews")
def _create_review(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request
    repo, pr = req.pull(owner, name, number)
    assert req.login is not None
    event = req.json_field("event")
    if event is not None and event not in _EVENTS:
        raise HttpError(422, "Unprocessable Entity", [f"Unknown review event {event}"])
    if req.login == pr.user and event == "APPROVE":
        raise HttpError(422, "Unprocessable Entity", ["Can not approve your own pull request"])
    if req.login == pr.user and event == "REQUEST_CHANGES":
        raise HttpError(
            422, "Unprocessable Entity", ["Can not request changes on your own pull request"]
        )
    body = str(req.json_field("body") or "")
    if event in ("REQUEST_CHANGES", "COMMENT") and not body:
        raise HttpError(
            422, "Unprocessable Entity", [f"Review body is required for {event} events"]
        )
    commit_id = str(req.json_field("commit_id") or req.sb._head_sha(repo, pr))
    state = _EVENTS[event] if event else "PENDING"
    review = _Review(
        req.sb._next_id(),
        req.login,
        state,
        body,
        commit_id,
        req.sb.clock() if event else None,
    )
    pr.reviews.append(review)
    if event and req.login in pr.requested_reviewers:
        pr.requested_reviewers.remove(req.login)
    return 200, req.view.review(repo, pr, review)


@_route("GET", _REPO + r"/pulls/(\d+)/requested_reviewers")
def _get_requested(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    data = req.view.pull(repo, pr, req.login, full=False)
    return 200, {"users": data["requested_reviewers"], "teams": data["requested_teams"]}


@_route("POST", _REPO + r"/pulls/(\d+)/requested_reviewers")
def _request_reviewers(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/pulls/review-requests
    repo, pr = req.pull(owner, name, number)
    req.need_role(repo, "write")
    users = [str(u) for u in req.json_field("reviewers") or []]
    teams = [str(t) for t in req.json_field("team_reviewers") or []]
    if pr.user in users:
        raise HttpError(422, "Review cannot be requested from pull request author.")
    unknown = [u for u in users if req.sb._role(repo, u) == "none"] + [
        t for t in teams if (repo.owner.lower(), t.lower()) not in req.sb._teams
    ]
    if unknown:
        raise HttpError(
            422,
            "Reviews may only be requested from collaborators. One or more of the users or "
            f"teams you specified is not a collaborator of the {repo.full_name} repository.",
        )
    for u in users:
        if u not in pr.requested_reviewers:
            pr.requested_reviewers.append(u)
    for t in teams:
        if t not in pr.requested_teams:
            pr.requested_teams.append(t)
    return 201, req.view.pull(repo, pr, req.login, full=False)


@_route("DELETE", _REPO + r"/pulls/(\d+)/requested_reviewers")
def _remove_reviewers(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    req.need_role(repo, "write")
    users = set(req.json_field("reviewers") or [])
    teams = set(req.json_field("team_reviewers") or [])
    pr.requested_reviewers = [u for u in pr.requested_reviewers if u not in users]
    pr.requested_teams = [t for t in pr.requested_teams if t not in teams]
    return 200, req.view.pull(repo, pr, req.login, full=False)


@_route("GET", _REPO + "/collaborators/" + _SEG + "/permission")
def _permission(req: _Request, owner: str, name: str, user: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    user = _unq(user)
    if user not in req.sb._users:
        raise HttpError(404, _NOT_FOUND)
    role = req.sb._role(repo, user)
    data = req.view.user(user)
    data.update({"permissions": _permissions(role), "role_name": role})
    return 200, {
        "permission": _LEGACY_PERMISSION.get(role, "none"),
        "role_name": role,
        "user": data,
    }


@_route("GET", _REPO + r"/issues/(\d+)")
def _get_issue(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    # Every pull request is an issue too: https://docs.github.com/en/rest/issues/issues#get-an-issue
    repo, pr = req.pull(owner, name, number)
    data = req.view.pull(repo, pr, req.login, full=False)
    issue = {
        key: data[key]
        for key in (
            "id",
            "node_id",
            "html_url",
            "number",
            "state",
            "locked",
            "title",
            "user",
            "body",
            "labels",
            "milestone",
            "assignee",
            "assignees",
            "created_at",
            "updated_at",
            "closed_at",
            "author_association",
            "active_lock_reason",
        )
    }
    issue.update(
        {
            "url": data["issue_url"],
            "repository_url": f"{req.view.api}/repos/{repo.full_name}",
            "labels_url": f"{data['issue_url']}/labels{{/name}}",
            "comments_url": data["comments_url"],
            "events_url": f"{data['issue_url']}/events",
            "comments": len(pr.comments),
            "pull_request": {
                "url": data["url"],
                "html_url": data["html_url"],
                "diff_url": data["diff_url"],
                "patch_url": data["patch_url"],
                "merged_at": data["merged_at"],
            },
        }
    )
    return 200, issue


@_route("POST", _REPO + r"/issues/(\d+)/labels")
def _add_labels(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    """https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue: the body is
    ``{"labels": [...]}`` or a bare array, of names or ``{"name": ...}``; a label the
    repository lacks is created; the answer is every label the issue has now."""
    repo, pr = req.pull(owner, name, number)
    given = req.body.get("labels") if isinstance(req.body, dict) else req.body
    if not isinstance(given, list) or not given:
        raise HttpError(
            422, "Validation Failed", [{"resource": "Label", "field": "labels", "code": "invalid"}]
        )
    names = [g.get("name") if isinstance(g, dict) else g for g in given]
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise HttpError(
            422, "Validation Failed", [{"resource": "Label", "field": "name", "code": "invalid"}]
        )
    for n in names:
        assert isinstance(n, str)
        if n.lower() not in repo.labels:
            repo.labels[n.lower()] = (req.sb._next_id(), n)
        if n.lower() not in {x.lower() for x in pr.labels}:
            pr.labels.append(repo.labels[n.lower()][1])
    return 200, [req.view.label(repo, n) for n in pr.labels]


@_route("GET", _REPO + r"/issues/(\d+)/comments")
def _list_comments(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    return req.page([req.view.comment(repo, pr, c) for c in pr.comments])


@_route("POST", _REPO + r"/issues/(\d+)/comments")
def _create_comment(req: _Request, owner: str, name: str, number: str) -> tuple[int, Any]:
    repo, pr = req.pull(owner, name, number)
    assert req.login is not None
    body = req.json_field("body")
    if not body:
        raise HttpError(
            422,
            "Validation Failed",
            [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
        )
    comment = _Comment(req.sb._next_id(), req.login, str(body), req.sb.clock())
    pr.comments.append(comment)
    return 201, req.view.comment(repo, pr, comment)


def _apply_check(req: _Request, cr: _CheckRun) -> None:
    status = req.json_field("status")
    conclusion = req.json_field("conclusion")
    if conclusion is not None:
        cr.conclusion = str(conclusion)
        cr.status = "completed"
        cr.completed_at = req.sb.clock()
    elif status is not None:
        if status not in ("queued", "in_progress", "completed"):
            raise HttpError(422, "Validation Failed", [{"field": "status", "code": "invalid"}])
        cr.status = str(status)
        if status != "completed":
            cr.conclusion = None
            cr.completed_at = None
    output = req.json_field("output")
    if isinstance(output, dict):
        cr.title = output.get("title", cr.title)
        cr.summary = output.get("summary", cr.summary)
        cr.text = output.get("text", cr.text)
    if req.json_field("details_url") is not None:
        cr.details_url = str(req.json_field("details_url"))
    if req.json_field("external_id") is not None:
        cr.external_id = str(req.json_field("external_id"))


@_route("POST", _REPO + "/check-runs")
def _create_check(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/checks/runs#create-a-check-run
    repo = req.repo(owner, name)
    req.need_role(repo, "write")
    check_name, head_sha = req.json_field("name"), req.json_field("head_sha")
    if not check_name or not head_sha:
        raise HttpError(422, 'Invalid request.\n\n"name", "head_sha" weren\'t supplied.')
    if _git(repo.bare, "cat-file", "-e", f"{head_sha}^{{commit}}")[0] != 0:
        raise HttpError(422, "No commit found for SHA: " + str(head_sha))
    cr = _CheckRun(
        req.sb._next_id(),
        str(check_name),
        str(head_sha),
        "queued",
        None,
        None,
        None,
        None,
        None,
        None,
        req.sb.clock(),
        None,
    )
    _apply_check(req, cr)
    repo.check_runs[cr.id] = cr
    return 201, req.view.check_run(repo, cr)


@_route("GET", _REPO + r"/check-runs/(\d+)")
def _get_check(req: _Request, owner: str, name: str, cid: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    cr = repo.check_runs.get(int(cid))
    if cr is None:
        raise HttpError(404, _NOT_FOUND)
    return 200, req.view.check_run(repo, cr)


@_route("PATCH", _REPO + r"/check-runs/(\d+)")
def _update_check(req: _Request, owner: str, name: str, cid: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    req.need_role(repo, "write")
    cr = repo.check_runs.get(int(cid))
    if cr is None:
        raise HttpError(404, _NOT_FOUND)
    if req.json_field("name"):
        cr.name = str(req.json_field("name"))
    _apply_check(req, cr)
    return 200, req.view.check_run(repo, cr)


@_route("GET", _REPO + "/commits/(.+)/check-runs")
def _list_checks(req: _Request, owner: str, name: str, ref: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    ref = _unq(ref)
    code, sha = _git(repo.bare, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    if code != 0:
        raise HttpError(422, f"No commit found for SHA: {ref}")
    wanted_name, wanted_status = req.arg("check_name"), req.arg("status")
    # https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference:
    # ``filter=latest`` (the default) shows only the newest run of each name.
    latest = req.arg("filter", "latest") != "all"
    seen: set[str] = set()
    runs = []
    for cr in sorted(repo.check_runs.values(), key=lambda c: -c.id):
        if cr.head_sha != sha or (latest and cr.name in seen):
            continue
        seen.add(cr.name)
        if (wanted_name is None or cr.name == wanted_name) and (
            wanted_status is None or cr.status == wanted_status
        ):
            runs.append(req.view.check_run(repo, cr))
    status, paged = req.page(runs)
    return status, _Paged({"total_count": len(runs), "check_runs": paged.data}, paged.headers)


@_route("POST", _REPO + r"/statuses/([0-9a-fA-F]{40})")
def _create_status(req: _Request, owner: str, name: str, sha: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
    repo = req.repo(owner, name)
    who = req.need_role(repo, "write")
    state = req.json_field("state")
    if state not in ("error", "failure", "pending", "success"):
        raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    if _git(repo.bare, "cat-file", "-e", f"{sha}^{{commit}}")[0] != 0:
        raise HttpError(422, "No commit found for SHA: " + sha)
    description = req.json_field("description")
    if description is not None and len(str(description)) > 140:
        # GitHub keeps a status description to 140 characters.
        raise HttpError(422, "Validation Failed", [{"field": "description", "code": "custom"}])
    target = req.json_field("target_url")
    st = _CommitStatus(
        req.sb._next_id(),
        sha.lower(),
        str(state),
        str(req.json_field("context") or "default"),
        None if description is None else str(description),
        None if target is None else str(target),
        who,
        req.sb.clock(),
    )
    repo.statuses.append(st)
    return 201, req.view.commit_status(repo, st)


@_route("GET", _REPO + "/commits/(.+)/statuses")
def _list_statuses(req: _Request, owner: str, name: str, ref: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference
    # (newest first, every status of every context)
    repo = req.repo(owner, name)
    ref = _unq(ref)
    code, sha = _git(repo.bare, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    if code != 0:
        raise HttpError(404, _NOT_FOUND)
    found = [st for st in reversed(repo.statuses) if st.sha == sha]
    return req.page([req.view.commit_status(repo, st) for st in found])


# --------------------------------------------------------------------------- actions


def _full_ref(ref: str) -> str:
    # Code scanning's ``ref``: "refs/heads/<branch> or simply <branch>", or refs/pull/<n>/...
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def _resolve_ref(repo: _Repo, ref: str) -> tuple[str | None, str] | None:
    """(branch name or ``None`` for a tag, commit SHA) of a dispatch ``ref``, or ``None``."""
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for candidate in candidates:
        code, sha = _git(repo.bare, "rev-parse", "--verify", "-q", f"{candidate}^{{commit}}")
        if code == 0 and sha:
            branch = candidate.removeprefix("refs/heads/")
            return (branch if candidate.startswith("refs/heads/") else None), sha
    return None


def _workflow_path(repo: _Repo, workflow: str) -> str:
    """The path of the workflow named by its file name or its numeric id."""
    workflow = _unq(workflow)
    if workflow.isdigit():
        for path, wid in repo.workflow_ids.items():
            if wid == int(workflow):
                return path
        raise HttpError(404, _NOT_FOUND)
    return f".github/workflows/{workflow}"


def _workflow_doc(repo: _Repo, path: str, sha: str) -> dict[Any, Any] | None:
    """The parsed workflow file at ``sha``; ``None`` when it does not exist there."""
    import yaml

    code, text = _git(repo.bare, "show", f"{sha}:{path}")
    if code != 0:
        return None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict):
        raise HttpError(422, f"Invalid workflow file: {path}")
    return doc


def _triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    # PyYAML reads YAML 1.1, where a bare ``on`` key is the boolean true.
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(event): None for event in on}
    if isinstance(on, dict):
        return {str(k): v for k, v in on.items()}
    return {}


_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _expand(template: str, inputs: dict[str, str], actor: str, ref_name: str) -> str:
    """``run-name`` with its ``${{ inputs.X }}`` (and ``github.actor``/``ref_name``) filled in.

    https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions#run-name
    Other expressions are beyond the sandbox and expand to nothing."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        for prefix in ("inputs.", "github.event.inputs."):
            if expr.startswith(prefix):
                return inputs.get(expr.removeprefix(prefix), "")
        return {"github.actor": actor, "github.ref_name": ref_name}.get(expr, "")

    return _EXPR.sub(one, template).strip()


@_route("GET", _REPO + "/actions/workflows/([^/]+)")
def _get_workflow(req: _Request, owner: str, name: str, workflow: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/workflows#get-a-workflow
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    path = _workflow_path(repo, workflow)
    tip = _tip(repo.bare, repo.default_branch)
    doc = _workflow_doc(repo, path, tip) if tip else None
    if doc is None and path not in repo.workflow_ids:
        raise HttpError(404, _NOT_FOUND)
    repo.workflow_ids.setdefault(path, req.sb._next_id())
    return 200, req.view.workflow(repo, path, str((doc or {}).get("name") or path))


@_route("POST", _REPO + "/actions/workflows/([^/]+)/dispatches")
def _dispatch_workflow(req: _Request, owner: str, name: str, workflow: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
    repo = req.repo(owner, name)
    login = req.need_role(repo, "write")
    path = _workflow_path(repo, workflow)
    ref = req.json_field("ref")
    if not isinstance(ref, str) or not ref:
        raise HttpError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    resolved = _resolve_ref(repo, ref)
    if resolved is None:
        raise HttpError(422, f"No ref found for: {ref}")
    branch, sha = resolved
    doc = _workflow_doc(repo, path, sha)
    if doc is None:
        raise HttpError(404, _NOT_FOUND)
    triggers = _triggers(doc)
    if "workflow_dispatch" not in triggers:
        raise HttpError(422, "Workflow does not have 'workflow_dispatch' trigger")
    given = req.json_field("inputs")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise HttpError(
            422, f"Invalid request.\n\nFor 'properties/inputs', {given!r} is not an object."
        )
    for key, value in given.items():
        if not isinstance(value, str):
            raise HttpError(
                422,
                f"Invalid request.\n\nFor 'properties/{key}', {json.dumps(value)} is not a string.",
            )
    config = triggers["workflow_dispatch"]
    declared = config.get("inputs") if isinstance(config, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    unexpected = sorted(set(given) - set(declared))
    if unexpected:
        raise HttpError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
    inputs: dict[str, str] = {}
    for key, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if key in given:
            inputs[str(key)] = given[key]
        elif spec.get("required") and spec.get("default") is None:
            raise HttpError(422, f"Required input '{key}' not provided")
        elif spec.get("default") is not None:
            default = spec["default"]
            inputs[str(key)] = str(default).lower() if isinstance(default, bool) else str(default)
    workflow_name = str(doc.get("name") or path)
    run_name = doc.get("run-name")
    title = (
        _expand(run_name, inputs, login, branch or ref)
        if isinstance(run_name, str) and run_name.strip()
        else ""
    ) or workflow_name
    wid = repo.workflow_ids.setdefault(path, req.sb._next_id())
    now = req.sb.clock()
    run = _WorkflowRun(
        id=req.sb._next_id(),
        workflow_id=wid,
        path=path,
        name=workflow_name,
        display_title=title,
        event="workflow_dispatch",
        head_branch=branch or ref,
        head_sha=sha,
        actor=login,
        inputs=inputs,
        run_number=1 + sum(1 for r in repo.runs.values() if r.workflow_id == wid),
        created_at=now,
        updated_at=now,
    )
    repo.runs[run.id] = run
    if req.json_field("return_run_details") is True:
        data = req.view.workflow_run(repo, run)
        return 200, {
            "workflow_run_id": run.id,
            "run_url": data["url"],
            "html_url": data["html_url"],
        }
    return 204, None


_COMPARISONS: tuple[tuple[str, Callable[[datetime, datetime], bool]], ...] = (
    (">=", operator.ge),
    ("<=", operator.le),
    (">", operator.gt),
    ("<", operator.lt),
)


def _date_filter(expr: str) -> Callable[[datetime], bool]:
    """A predicate for GitHub's date qualifier syntax (``>=T``, ``<T``, ``A..B``, a day).

    https://docs.github.com/en/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates
    """

    def when(text: str, *, end: bool = False) -> datetime:
        value = datetime.fromisoformat(text)
        if len(text) == 10 and end:  # a bare date as an upper bound means the whole day
            value = value.replace(hour=23, minute=59, second=59)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    try:
        for op, compare in _COMPARISONS:
            if expr.startswith(op):
                bound = when(expr[len(op) :], end=op[0] == "<")
                return lambda t: compare(t, bound)
        low, dots, high = expr.partition("..")
        if not dots:
            low = high = expr
        lo = None if low == "*" else when(low)
        hi = None if high == "*" else when(high, end=True)
    except ValueError:
        raise HttpError(
            422, "Validation Failed", [{"field": "created", "code": "invalid"}]
        ) from None
    return lambda t: (lo is None or t >= lo) and (hi is None or t <= hi)


def _list_runs(req: _Request, repo: _Repo, runs: list[_WorkflowRun]) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow
    event, branch, status = req.arg("event"), req.arg("branch"), req.arg("status")
    head_sha, created = req.arg("head_sha"), req.arg("created")
    in_window = _date_filter(created) if created else (lambda t: True)
    found = [
        req.view.workflow_run(repo, r)
        for r in sorted(runs, key=lambda r: -r.id)  # newest first
        if (event is None or r.event == event)
        and (branch is None or r.head_branch == branch)
        and (status is None or status in (r.status, r.conclusion))
        and (head_sha is None or r.head_sha == head_sha)
        # GitHub's timestamps have whole seconds, and so do its comparisons.
        and in_window(r.created_at.astimezone(UTC).replace(microsecond=0))
    ]
    _, paged = req.page(found)
    return 200, _Paged({"total_count": len(found), "workflow_runs": paged.data}, paged.headers)


@_route("GET", _REPO + "/actions/workflows/([^/]+)/runs")
def _list_workflow_runs(req: _Request, owner: str, name: str, workflow: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    path = _workflow_path(repo, workflow)
    tip = _tip(repo.bare, repo.default_branch)
    if path not in repo.workflow_ids and (tip is None or _workflow_doc(repo, path, tip) is None):
        raise HttpError(404, _NOT_FOUND)
    return _list_runs(req, repo, [r for r in repo.runs.values() if r.path == path])


@_route("GET", _REPO + "/actions/runs")
def _list_repo_runs(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    return _list_runs(req, repo, list(repo.runs.values()))


@_route("GET", _REPO + r"/actions/runs/(\d+)")
def _get_run(req: _Request, owner: str, name: str, run_id: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    run = repo.runs.get(int(run_id))
    if run is None:
        raise HttpError(404, _NOT_FOUND)
    return 200, req.view.workflow_run(repo, run)


@_route("POST", _REPO + r"/actions/runs/(\d+)/rerun")
def _rerun(req: _Request, owner: str, name: str, run_id: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/workflow-runs#re-run-a-workflow: a new
    # attempt of the same run; ``actor`` stays, ``triggering_actor`` is who re-ran it.
    repo = req.repo(owner, name)
    login = req.need_role(repo, "write")
    run = repo.runs.get(int(run_id))
    if run is None:
        raise HttpError(404, _NOT_FOUND)
    if run.status != "completed":
        raise HttpError(403, "This workflow is already running")
    now = req.sb.clock()
    run.run_attempt += 1
    run.triggering_actor = login
    run.status, run.conclusion = "queued", None
    run.run_started_at, run.updated_at = None, now
    return 201, {}


# --------------------------------------------------------------------------- deployments


@_route("GET", _REPO + "/deployments")
def _list_deployments(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/deployments/deployments#list-deployments (newest first)
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    wanted = {k: req.arg(k) for k in ("environment", "sha", "ref")}
    found = [
        req.view.deployment(repo, d)
        for d in sorted(repo.deployments.values(), key=lambda d: -d.id)
        if all(v is None or getattr(d, k) == v for k, v in wanted.items())
        and req.arg("task") in (None, "deploy")
    ]
    return req.page(found)


def _deployment(req: _Request, owner: str, name: str, dep_id: str) -> tuple[_Repo, _Deployment]:
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    dep = repo.deployments.get(int(dep_id))
    if dep is None:
        raise HttpError(404, _NOT_FOUND)
    return repo, dep


@_route("GET", _REPO + r"/deployments/(\d+)")
def _get_deployment(req: _Request, owner: str, name: str, dep_id: str) -> tuple[int, Any]:
    repo, dep = _deployment(req, owner, name, dep_id)
    return 200, req.view.deployment(repo, dep)


@_route("GET", _REPO + r"/deployments/(\d+)/statuses")
def _list_deployment_statuses(req: _Request, owner: str, name: str, dep_id: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses (newest first)
    repo, dep = _deployment(req, owner, name, dep_id)
    statuses = sorted(dep.statuses, key=lambda s: -s.id)
    return req.page([req.view.deployment_status(repo, dep, s) for s in statuses])


@_route("POST", _REPO + r"/deployments/(\d+)/statuses")
def _create_deployment_status(req: _Request, owner: str, name: str, dep_id: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
    repo, dep = _deployment(req, owner, name, dep_id)
    login = req.need_role(repo, "write")
    state = req.json_field("state")
    if state not in _DEPLOYMENT_STATES:
        raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    # log_url replaces target_url; either sets both in GitHub's answer.
    log_url = req.json_field("log_url") or req.json_field("target_url") or ""
    st = _DeploymentStatus(
        req.sb._next_id(),
        str(state),
        login,
        str(req.json_field("description") or ""),
        req.sb.clock(),
        log_url=str(log_url),
        environment_url=str(req.json_field("environment_url") or ""),
    )
    dep.statuses.append(st)
    if state == "success" and req.json_field("auto_inactive", True) is not False:
        # GitHub marks the environment's earlier deployments inactive (not production's).
        for other in repo.deployments.values():
            if (
                other.id != dep.id
                and other.environment == dep.environment
                and dep.environment != "production"
                and other.statuses
                and other.statuses[-1].state != "inactive"
            ):
                other.statuses.append(
                    _DeploymentStatus(req.sb._next_id(), "inactive", login, "", req.sb.clock())
                )
    return 201, req.view.deployment_status(repo, dep, st)


@_route("POST", _REPO + "/deployments")
def _create_deployment(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
    # Not modelled: auto_merge of a branch behind the default branch (202) and checking
    # required_contexts (409); Shunter sends a commit, auto_merge false and no contexts.
    repo = req.repo(owner, name)
    login = req.need_role(repo, "write")
    ref = req.json_field("ref")
    if not isinstance(ref, str) or not ref:
        raise HttpError(422, "Validation Failed", [{"field": "ref", "code": "missing_field"}])
    code, commit = _git(repo.bare, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    if code != 0:
        raise HttpError(422, f"No ref found for: {ref}")
    dep = _Deployment(
        req.sb._next_id(),
        commit,
        ref,
        str(req.json_field("environment") or "production"),
        login,
        req.sb.clock(),
        description=str(req.json_field("description") or ""),
    )
    repo.deployments[dep.id] = dep
    return 201, req.view.deployment(repo, dep)


# --------------------------------------------------------------------------- code scanning


@_route("GET", _REPO + "/code-scanning/alerts")
def _list_alerts(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository
    repo = req.repo(owner, name)
    req.need_role(repo, "read")
    if not repo.code_scanning:
        # GitHub's answer while no analysis was ever uploaded (code scanning not set up).
        raise HttpError(404, "no analysis found")
    ref = _full_ref(req.arg("ref") or repo.default_branch)
    state, severity = req.arg("state"), req.arg("severity")
    if state not in (None, "open", "closed", "dismissed", "fixed"):
        raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    found = [
        req.view.alert(repo, a)
        for a in sorted(repo.alerts, key=lambda a: -a.number)
        if a.ref == ref
        and (state is None or a.state == state or (state == "closed" and a.state != "open"))
        and (severity is None or severity in (a.severity, a.security_severity_level))
    ]
    return req.page(found)


# --------------------------------------------------------------------------- rules and settings


# Every parameter GitHub returns for a rule, with the value the settings page starts from
# (https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch).
_RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "pull_request": {
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_approving_review_count": 0,
        "required_review_thread_resolution": False,
    },
    "required_status_checks": {
        "required_status_checks": [],
        "strict_required_status_checks_policy": False,
    },
}


def _full_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """``rule`` with every parameter GitHub would list for it."""
    defaults = _RULE_DEFAULTS.get(rule["type"])
    if defaults is None:
        return dict(rule)
    return {"type": rule["type"], "parameters": {**defaults, **(rule.get("parameters") or {})}}


def _ref_matches(repo: _Repo, pattern: str, branch: str) -> bool:
    # https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/creating-rulesets-for-a-repository#using-fnmatch-syntax
    if pattern == "~ALL":
        return True
    if pattern == "~DEFAULT_BRANCH":
        return branch == repo.default_branch
    regex = re.escape(pattern.removeprefix("refs/heads/"))
    regex = regex.replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, branch) is not None


def _rulesets_of(repo: _Repo, branch: str) -> list[_Ruleset]:
    return [
        rs
        for rs in repo.rulesets.values()
        if rs.enforcement == "active" and any(_ref_matches(repo, p, branch) for p in rs.include)
    ]


def _branch_rules(repo: _Repo, branch: str) -> list[dict[str, Any]]:
    return [
        {
            **rule,
            "ruleset_source_type": "Repository",
            "ruleset_source": repo.full_name,
            "ruleset_id": rs.id,
        }
        for rs in _rulesets_of(repo, branch)
        for rule in rs.rules
    ]


def _codeowners_of(repo: _Repo, ref: str) -> list[tuple[str, list[str]]]:
    """(pattern, owners) lines of the first CODEOWNERS GitHub finds on ``ref``."""
    for path in (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"):
        code, text = _git(repo.bare, "show", f"{ref}:{path}")
        if code == 0:
            out = []
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if parts:
                    out.append((parts[0], [o.lstrip("@") for o in parts[1:]]))
            return out
    return []


def _owners(lines: list[tuple[str, list[str]]], path: str) -> list[str]:
    import fnmatch

    found: list[str] = []
    for pattern, owners in lines:
        bare = pattern.strip("/")
        anchored = "/" in pattern.rstrip("/")
        candidates = (
            [path]
            if anchored
            else [path, *(path.split("/", i)[-1] for i in range(1, path.count("/") + 1))]
        )
        for cand in candidates:
            if fnmatch.fnmatchcase(cand, bare) or (
                not pattern.endswith("*") and cand.startswith(bare + "/")
            ):
                found = owners
                break
    return found


def _merge_violations(
    sb: GitHubSandbox, repo: _Repo, pr: _Pull, head: str, base: str, login: str
) -> list[str]:
    """What stops ``login`` merging ``pr`` under the base branch's protection and
    rulesets, in GitHub's words; empty when nothing does."""
    branch = pr.base_ref
    classic = repo.protection.get(branch)
    needed: list[tuple[int, bool, bool, tuple[str, ...]]] = []  # approvals, owners, stale, checks
    if classic is not None and not (
        sb._role(repo, login) == "admin" and not classic.enforce_admins
    ):
        needed.append(
            (
                classic.required_approvals or 0,
                classic.code_owners,
                classic.dismiss_stale,
                classic.required_checks,
            )
        )
    for rs in _rulesets_of(repo, branch):
        if login in rs.bypass:
            continue
        for rule in rs.rules:
            params = rule.get("parameters") or {}
            if rule["type"] == "pull_request":
                needed.append(
                    (
                        int(params.get("required_approving_review_count", 0)),
                        bool(params.get("require_code_owner_review")),
                        bool(params.get("dismiss_stale_reviews_on_push")),
                        (),
                    )
                )
            elif rule["type"] == "required_status_checks":
                contexts = tuple(c["context"] for c in params.get("required_status_checks", []))
                needed.append((0, False, False, contexts))
    if not needed:
        return []
    latest: dict[str, _Review] = {}
    for rv in pr.reviews:
        if rv.user == pr.user or rv.state in ("COMMENTED", "PENDING"):
            continue
        latest.pop(rv.user, None)
        if rv.state != "DISMISSED":
            latest[rv.user] = rv
    stale = any(n[2] for n in needed)
    approvers = [
        u
        for u, rv in latest.items()
        if rv.state == "APPROVED"
        and (not stale or rv.commit_id == head)
        and ROLES.index(sb._role(repo, u)) >= ROLES.index("write")
        if sb._role(repo, u) in ROLES
    ]
    out = []
    count = max(n[0] for n in needed)
    if any(rv.state == "CHANGES_REQUESTED" for rv in latest.values()) and count:
        out.append("Changes must be made through a pull request. Changes were requested.")
    if len(approvers) < count:
        noun = "review is" if count == 1 else "reviews are"
        out.append(f"At least {count} approving {noun} required by reviewers with write access.")
    if any(n[1] for n in needed):
        lines = _codeowners_of(repo, base)
        _, diff = _git(repo.bare, "diff", "--name-only", base, head)
        for path in diff.splitlines():
            owners = _owners(lines, path)
            if owners and not any(
                u == o
                or any(
                    u in t.members
                    for (org, slug), t in sb._teams.items()
                    if f"{org}/{slug}" == o.lower()
                )
                for u in approvers
                for o in owners
            ):
                out.append(f"Waiting on code owner review from {', '.join(owners)}.")
                break
    runs: dict[str, _CheckRun] = {}
    for cr in sorted(repo.check_runs.values(), key=operator.attrgetter("id")):
        if cr.head_sha == head:
            runs[cr.name] = cr
    # A required check is met by a check run or by a commit status of that context
    # (https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/about-status-checks).
    statuses = {st.context: st.state for st in repo.statuses if st.sha == head}
    for contexts in (n[3] for n in needed):
        for ctx in contexts:
            found = runs.get(ctx)
            if statuses.get(ctx) == "success":
                continue
            if (
                found is None
                or found.status != "completed"
                or found.conclusion not in ("success", "neutral", "skipped")
            ):
                out.append(f'Required status check "{ctx}" is expected.')
    return list(dict.fromkeys(out))


@_route("POST", _REPO + "/dispatches")
def _repository_dispatch(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
    repo = req.repo(owner, name)
    req.need_role(repo, "write")
    event_type = req.json_field("event_type")
    payload = req.json_field("client_payload", {})
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
        raise HttpError(422, "Validation Failed", [{"field": "event_type", "code": "invalid"}])
    if not isinstance(payload, dict) or len(payload) > 10:
        raise HttpError(422, "Validation Failed", [{"field": "client_payload", "code": "invalid"}])
    repo.dispatches.append((event_type, dict(payload)))
    return 204, None


@_route("GET", _REPO + "/actions/permissions/workflow")
def _workflow_permissions(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/actions/permissions#get-default-workflow-permissions-for-a-repository
    repo = req.repo(owner, name)
    req.need_role(repo, "admin")
    return 200, {
        "default_workflow_permissions": repo.workflow_permissions,
        "can_approve_pull_request_reviews": repo.actions_can_create_prs,
    }


@_route("GET", _REPO + "/branches/(.+)/protection")
def _get_protection(req: _Request, owner: str, name: str, branch: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/branches/branch-protection#get-branch-protection
    repo = req.repo(owner, name)
    req.need_role(repo, "admin")
    branch = _unq(branch)
    p = repo.protection.get(branch)
    if p is None:
        raise HttpError(404, "Branch not protected")
    url = f"{req.view.api}/repos/{repo.full_name}/branches/{branch}/protection"
    data: dict[str, Any] = {
        "url": url,
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": p.enforce_admins},
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": False},
        "allow_deletions": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
    }
    if p.required_checks:
        data["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "strict": False,
            "contexts": list(p.required_checks),
            "checks": [{"context": c, "app_id": None} for c in p.required_checks],
        }
    if p.required_approvals is not None:
        data["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": p.dismiss_stale,
            "require_code_owner_reviews": p.code_owners,
            "required_approving_review_count": p.required_approvals,
            "require_last_push_approval": False,
        }
    return 200, data


@_route("GET", _REPO + "/rules/branches/(.+)")
def _rules_for_branch(req: _Request, owner: str, name: str, branch: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch: metadata: read
    # is enough; the branch need not exist.
    repo = req.repo(owner, name)
    return req.page(_branch_rules(repo, _unq(branch)))


def _ruleset_json(req: _Request, repo: _Repo, rs: _Ruleset) -> dict[str, Any]:
    login = req.login or ""
    admin = req.sb._role(repo, login) == "admin"
    data: dict[str, Any] = {
        "id": rs.id,
        "name": rs.name,
        "target": "branch",
        "source_type": "Repository",
        "source": repo.full_name,
        "enforcement": rs.enforcement,
        "conditions": {"ref_name": {"include": list(rs.include), "exclude": []}},
        "rules": rs.rules,
        "current_user_can_bypass": "always" if login in rs.bypass else "never",
        "node_id": f"RRS_{rs.id}",
        "_links": {"self": {"href": f"{req.view.api}/repos/{repo.full_name}/rulesets/{rs.id}"}},
    }
    if admin:  # bypass actors are shown only to those who may edit the ruleset
        data["bypass_actors"] = [
            {"actor_id": req.sb._users[b].id, "actor_type": "Integration", "bypass_mode": "always"}
            for b in rs.bypass
            if b in req.sb._users
        ]
    return data


@_route("GET", _REPO + "/rulesets")
def _list_rulesets(req: _Request, owner: str, name: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/repos/rules#get-all-repository-rulesets
    repo = req.repo(owner, name)
    return req.page([_ruleset_json(req, repo, rs) for rs in repo.rulesets.values()])


@_route("GET", _REPO + r"/rulesets/(\d+)")
def _get_ruleset(req: _Request, owner: str, name: str, rid: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/repos/rules#get-a-repository-ruleset
    repo = req.repo(owner, name)
    rs = repo.rulesets.get(int(rid))
    if rs is None:
        raise HttpError(404, _NOT_FOUND)
    return 200, _ruleset_json(req, repo, rs)


def _package(req: _Request, kind: str, owner: str, package: str) -> tuple[int, Any]:
    # https://docs.github.com/en/rest/packages/packages#get-a-package-for-an-organization
    owner, package = _unq(owner), _unq(package)
    is_org = owner in req.sb._orgs and owner not in req.sb._users
    found = req.sb._packages.get((owner.lower(), package))
    if found is None or (kind == "orgs") != is_org:
        raise HttpError(404, "Package not found.")
    pid, linked = found
    data: dict[str, Any] = {
        "id": pid,
        "name": package,
        "package_type": "container",
        "owner": req.view.user(owner),
        "version_count": 1,
        "visibility": "private",
        "url": f"{req.view.api}/{kind}/{owner}/packages/container/"
        + urllib.parse.quote(package, safe=""),
        "html_url": f"{req.view.web}/{owner}/packages/container/package/{package}",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    repo = req.sb._repos.get((linked or "").lower())
    if repo is not None:
        data["repository"] = req.view.repo(repo, req.login)
    return 200, data


@_route("GET", "/orgs/" + _SEG + "/packages/container/" + _SEG)
def _org_package(req: _Request, org: str, package: str) -> tuple[int, Any]:
    return _package(req, "orgs", org, package)


@_route("GET", "/users/" + _SEG + "/packages/container/" + _SEG)
def _user_package(req: _Request, user: str, package: str) -> tuple[int, Any]:
    return _package(req, "users", user, package)


# --------------------------------------------------------------------------- HTTP


_API_PREFIX = "/api/v3"


class _Handler(BaseHTTPRequestHandler):
    server_state: GitHubSandbox
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: no Nagle / delayed-ACK stalls on keep-alive.
    disable_nagle_algorithm = True
    wbufsize = -1
    server_version = "GitHubSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the sandbox's record of requests is ``GitHubSandbox.requests``."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], ctype: str = "application/json"
    ) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status not in (204, 304):
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _serve(self) -> None:
        sb = self.server_state
        split = urllib.parse.urlsplit(self.path)
        raw_path = split.path
        prefix = ""
        if raw_path == _API_PREFIX or raw_path.startswith(_API_PREFIX + "/"):
            prefix = _API_PREFIX
            raw_path = raw_path[len(_API_PREFIX) :] or "/"
        path = raw_path.rstrip("/") or "/"
        method = self.command
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or sb.base_url.removeprefix("http://")
        web = f"http://{host}"
        api = f"{web}{prefix}"

        login = self._login()
        fault = sb._take_fault(method, path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status == 0:
                sb._record(RecordedRequest(method, path, 0, login, split.query, injected=True))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers = {**sb._rate_headers(login, count=True), **fault.headers}
            sent = self._sent(fault.status, fault.body)
            sb._record(RecordedRequest(method, path, fault.status, login, split.query, *sent, True))
            self._send(fault.status, fault.body, headers)
            return

        html_match = re.fullmatch(r"/([^/]+)/([^/]+)/pull/(\d+)", path)
        if method == "GET" and not prefix and html_match:
            status, page = self._html(*html_match.groups())
            sent = self._sent(status, page.encode(), "text/html")
            sb._record(RecordedRequest(method, path, status, login, split.query, *sent))
            self._send(status, page.encode(), {}, "text/html")
            return

        status, payload, extra = self._dispatch(
            method, path, prefix, api, web, split, raw_body, login
        )
        body = b"" if payload is None else json.dumps(payload, indent=1).encode()
        headers = dict(extra)
        if method in ("GET", "HEAD") and status == 200:
            # https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
            etag = f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'
            headers["ETag"] = etag
            headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            headers["Vary"] = "Accept, Authorization"
            wanted = [t.strip() for t in (self.headers.get("If-None-Match") or "").split(",")]
            if etag in wanted or etag.removeprefix("W/") in wanted:
                status, body = 304, b""
        # A 304 costs nothing against the rate limit, as on GitHub.
        count = status != 304 and path != "/rate_limit"
        rate_login = login if status != 401 else None
        headers = {**sb._rate_headers(rate_login, count=count), **headers}
        sb._record(
            RecordedRequest(method, path, status, login, split.query, *self._sent(status, body))
        )
        self._send(status, body, headers)

    def _sent(self, status: int, body: bytes, ctype: str = "application/json") -> tuple[str, bytes]:
        """The media type and body the client receives for this answer (as ``_send`` sends
        it); recorded before sending, so a client never sees an answer not yet on record."""
        if self.command == "HEAD" or status in (204, 304):
            return "", b""
        return ctype, body

    def _login(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        with self.server_state._lock:
            return self.server_state._tokens.get(token.strip())

    def _dispatch(
        self,
        method: str,
        path: str,
        prefix: str,
        api: str,
        web: str,
        split: urllib.parse.SplitResult,
        raw_body: bytes,
        login: str | None,
    ) -> tuple[int, Any, dict[str, str]]:
        sb = self.server_state
        try:
            if not (self.headers.get("Authorization") or ""):
                raise HttpError(401, "Requires authentication")
            if login is None:
                raise HttpError(401, "Bad credentials")
            try:
                body = json.loads(raw_body) if raw_body else None
            except ValueError:
                raise HttpError(400, "Problems parsing JSON") from None
            lookup = "GET" if method == "HEAD" else method
            for route_method, pattern, fn in _ROUTES:
                match = pattern.match(path)
                if match and route_method == lookup:
                    req = _Request(
                        sb,
                        _View(sb, api, web),
                        method,
                        path,
                        urllib.parse.parse_qs(split.query),
                        body,
                        login,
                        f"{api}{path}",
                    )
                    with sb._lock:
                        status, data = fn(req, *match.groups())
                    if isinstance(data, _Paged):
                        return status, data.data, data.headers
                    return status, data, {}
            raise HttpError(404, _NOT_FOUND)
        except HttpError as err:
            payload: dict[str, Any] = {"message": err.message}
            if err.errors is not None:
                payload["errors"] = err.errors
            payload["documentation_url"] = DOCS
            payload["status"] = str(err.status)
            return err.status, payload, {}

    def _html(self, owner: str, name: str, number: str) -> tuple[int, str]:
        sb = self.server_state
        with sb._lock:
            repo = sb._repos.get(f"{owner}/{name}".lower())
            pr = repo.pulls.get(int(number)) if repo else None
            if repo is None or pr is None:
                return 404, "<!doctype html><title>Not Found</title><h1>Not Found</h1>"
            head = sb._head_sha(repo, pr)
            state = "merged" if pr.merged_at else pr.state
            reviews = "".join(
                f"<li>{html.escape(r.user)}: {html.escape(r.state)} on "
                f"<code>{html.escape(r.commit_id[:12])}</code></li>"
                for r in pr.reviews
            )
            e = html.escape
            return 200, (
                "<!doctype html><meta charset='utf-8'>"
                f"<title>{e(pr.title)} #{pr.number}</title>"
                f"<h1>{e(pr.title)} <small>#{pr.number}</small></h1>"
                f"<p><strong>{e(state)}</strong> · {e(pr.head_ref)} → {e(pr.base_ref)} · "
                f"head <code>{e(head[:12])}</code> · by {e(pr.user)}</p>"
                f"<pre style='white-space:pre-wrap'>{e(pr.body)}</pre>"
                f"<h2>Reviews</h2><ul>{reviews or '<li>none</li>'}</ul>"
            )


# --------------------------------------------------------------------------- CLI


def _pairs(values: list[str], what: str) -> Iterator[tuple[str, str]]:
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise SystemExit(f"--{what} wants KEY=VALUE, got {value!r}")
        yield key, rest


def main(argv: list[str] | None = None) -> int:
    """Serve a sandbox until interrupted; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.github_server",
        description="A GitHub-compatible REST server backed by local bare git repositories.",
    )
    parser.add_argument("--repo", action="append", default=[], help="owner/name=/path/to/bare.git")
    parser.add_argument("--user", action="append", default=[], help="login=token (repeatable)")
    parser.add_argument("--bot", action="append", default=[], help="login=token of a bot token")
    parser.add_argument("--team", action="append", default=[], help="org/slug=login,login")
    parser.add_argument(
        "--permission", action="append", default=[], help="owner/name:login=write (repeatable)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sandbox = GitHubSandbox(host=args.host, port=args.port)
    for login, token in _pairs(args.user, "user"):
        sandbox.add_user(login, token)
    for login, token in _pairs(args.bot, "bot"):
        sandbox.add_user(login, token, type="Bot")
    for full_name, path in _pairs(args.repo, "repo"):
        sandbox.add_repo(full_name, Path(path))
    for team, members in _pairs(args.team, "team"):
        org, _, slug = team.partition("/")
        sandbox.add_team(org, slug, [m for m in members.split(",") if m])
    for target, role in _pairs(args.permission, "permission"):
        full_name, _, login = target.partition(":")
        sandbox.set_permission(full_name, login, role)
    sandbox.start()
    print(sandbox.api_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

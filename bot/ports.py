"""The roles outside systems play for the reconcile loop, as ``Protocol``s.

Each port has one real adapter under ``bot/adapters/`` and one shared fake used by the
tests (``sandbox/fakes.py``); nothing else talks to the outside world. Every method returns
domain values (``bot.core``) and raises only ``bot.errors`` types; a failure of an
outside service carries its :class:`HttpErrorKind`, so the loop acts on kinds, not words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Literal, Protocol

from bot.errors import PermanentError, TransientError

# The domain values the ports speak appear here only in signatures: importing the ports
# (every adapter and the loop do) costs none of their modules.
if TYPE_CHECKING:
    from bot.core.decide.identity import RunActor
    from bot.core.decide.mainrules import BranchRules
    from bot.core.decide.observations import CheckRun, HealthReport, StepRun
    from bot.core.decide.pulls import (
        ChangedFile,
        CommitStatus,
        HeadCommit,
        PullRequest,
        Review,
        StatusState,
    )
    from bot.core.discover.artifacts import Chart, Commit
    from bot.core.model import (
        ArgoCDHealth,
        ChartSubscription,
        GitSubscription,
        HttpCheck,
        HttpHealth,
    )

__all__ = [
    "ActionsSettings",
    "ApplicationHealth",
    "ChartSource",
    "CommitSource",
    "Deadline",
    "DeploymentStatuses",
    "Forge",
    "GitRepo",
    "HttpErrorKind",
    "HttpPermanentError",
    "HttpProbe",
    "HttpTransientError",
    "ImageInfo",
    "IncidentSource",
    "Registry",
    "StateStore",
    "TagList",
    "http_error",
]


# --------------------------------------------------------------------------- errors


class HttpErrorKind(Enum):
    """Why an HTTP exchange failed, as a value the loop can act on without reading words."""

    TRANSIENT = "transient"  # 5xx, a reset connection, a body that is not what was asked
    RATE_LIMITED = "rate-limited"  # 429, or 403 with a rate-limit signal (GitHub's secondary)
    TIMED_OUT = "timed out"  # no answer within the request's timeout or the run's deadline
    BUDGET = "budget"  # this run's request budget for the host is spent; the next run goes on
    AUTH = "auth"  # 401/403: credentials missing or refused
    NOT_FOUND = "not found"  # 404/410
    REDIRECTED = "redirected"  # a 3xx where none is followed (the URL should be the final one)
    PERMANENT = "permanent"  # any other 4xx


_TRANSIENT_KINDS = frozenset(
    {
        HttpErrorKind.TRANSIENT,
        HttpErrorKind.RATE_LIMITED,
        HttpErrorKind.TIMED_OUT,
        HttpErrorKind.BUDGET,
    }
)


class HttpTransientError(TransientError):
    """An HTTP failure the next run may not see. ``retry_after`` is the server's own wait."""

    def __init__(
        self,
        kind: HttpErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.kind = kind
        self.status = status


class HttpPermanentError(PermanentError):
    """An HTTP failure a person must fix (a credential, a name, a URL)."""

    def __init__(self, kind: HttpErrorKind, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after: float | None = None


def http_error(
    kind: HttpErrorKind,
    message: str,
    *,
    status: int | None = None,
    retry_after: float | None = None,
) -> HttpTransientError | HttpPermanentError:
    """The error of ``kind``: transient kinds are ``TransientError``, the rest permanent."""
    if kind in _TRANSIENT_KINDS:
        return HttpTransientError(kind, message, status=status, retry_after=retry_after)
    return HttpPermanentError(kind, message, status=status)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class TagList:
    """A conditional tag listing: ``tags`` is ``None`` when the registry answered
    304 Not Modified to ``If-None-Match`` (the caller's cached listing still holds);
    ``etag`` is the validator to send next time, or ``None`` if the registry gave none
    (or the listing spanned several pages, which one ETag does not describe)."""

    tags: list[str] | None
    etag: str | None = None


@dataclass(frozen=True)
class ImageInfo:
    """What one manifest says: its digest (for a platform of an index, that platform's
    manifest) and the build date from its config blob's ``created`` (``None``: absent)."""

    digest: str
    created: datetime | None = None


class Registry(Protocol):
    """An OCI distribution registry (https://github.com/opencontainers/distribution-spec)."""

    def list_tags(self, repo_url: str) -> list[str]:
        """Every tag of ``repo_url`` (``host/path``), following pagination.

        Raises ``PermanentError`` (401/403/404: the message says which credential or
        name to fix) or ``TransientError`` (429, 5xx, timeouts, unreadable bodies).
        """
        ...

    def digest(self, repo_url: str, tag: str, platform: str | None = None) -> str:
        """The manifest digest (``sha256:...``) ``tag`` points at; for an image index and
        a ``platform`` such as ``linux/amd64``, the digest of that platform's manifest."""
        ...

    def list_tags_if_changed(self, repo_url: str, etag: str | None) -> TagList:
        """The tag list, asked with ``If-None-Match: etag`` when ``etag`` is given.

        Returns ``TagList(None, etag)`` on 304 Not Modified; raises as :meth:`list_tags`.
        """
        ...

    def image_info(self, repo_url: str, tag: str, platform: str | None = None) -> ImageInfo:
        """The digest and build date of ``tag`` (manifest, then config blob: two requests,
        three for an image index). Raises as :meth:`digest`."""
        ...


# --------------------------------------------------------------------------- sources


class ChartSource(Protocol):
    """Helm chart repositories, HTTP (``index.yaml``) and OCI (``bot.adapters.helm``)."""

    def discover(
        self, sub: ChartSubscription, cache: dict[str, str] | None = None
    ) -> tuple[tuple[Chart, ...], dict[str, str]]:
        """Return (the chart versions matching ``sub``, newest first and at most its
        ``discoveryLimit``; the validators to keep for the next conditional request).

        ``cache`` is what the previous call returned for this subscription: when the
        repository answers 304 Not Modified, the versions it holds are returned again.
        Raises ``PermanentError`` or ``TransientError`` as :class:`Registry` does.
        """
        ...


class CommitSource(Protocol):
    """Git repositories a warehouse follows (``bot.adapters.gitsource``)."""

    def discover(self, sub: GitSubscription) -> tuple[Commit, ...]:
        """The commits ``sub`` selects, newest first. Raises ``PermanentError`` (no such
        repository or branch, refused credentials) or ``TransientError``."""
        ...


# --------------------------------------------------------------------------- gates


class ApplicationHealth(Protocol):
    """Argo CD's view of one application (``bot.adapters.argocd``); the adapter holds the
    API tokens, which no other part of the loop ever sees."""

    def health(self, check: ArgoCDHealth) -> HealthReport:
        """Healthy only when the application is ``Healthy`` and ``Synced``; ``revision`` is
        the commit it last synced to. Raises ``PermanentError`` (token refused, no such
        application, wrong server) or ``TransientError`` (429, 5xx, timeouts)."""
        ...


class DeploymentStatuses(Protocol):
    """GitHub deployments of an environment; :class:`Forge` plays this role."""

    def deployment_health(self, environment: str) -> HealthReport:
        """Healthy iff the newest deployment to ``environment`` has ``success`` as its
        newest status; ``revision`` is that deployment's commit."""
        ...

    def record_deployment(self, environment: str, sha: str, *, description: str, url: str) -> int:
        """Record that commit ``sha`` now runs in ``environment``: a deployment with a
        ``success`` status linking to ``url`` (the promotion's PR); return its id.

        Keyed by (``sha``, ``environment``): when such a deployment already has a
        ``success`` status nothing is written. Raises ``PermanentError`` (no
        ``deployments: write``) or ``TransientError``."""
        ...


class HttpProbe(Protocol):
    """Plain HTTP calls for ``spec.health.http`` and AnalysisTemplates' ``spec.http``
    (``bot.adapters.httpcheck``). An unreachable service is an answer, never an error."""

    def health(self, check: HttpHealth) -> HealthReport:
        """Healthy iff ``GET check.url`` answers one of ``check.expect_status`` now."""
        ...

    def run(self, check: HttpCheck, *, timeout: float) -> StepRun:
        """Call ``check.url`` once: ``succeeded`` on an expected status, ``running`` while
        the service does not answer properly yet (no connection, 429, 5xx), else ``failed``."""
        ...


class IncidentSource(Protocol):
    """An incident tracker (PagerDuty, ``bot.adapters.pagerduty``); it holds its own key."""

    def active_incidents(self, service_ids: tuple[str, ...]) -> tuple[str, ...]:
        """One line per open (triggered or acknowledged) incident of ``service_ids`` (all
        services when empty); an empty tuple means none. Raises ``PermanentError`` (no
        key, key refused, wrong API URL) or ``TransientError`` (429, 5xx, timeouts)."""
        ...


# --------------------------------------------------------------------------- forge


@dataclass(frozen=True)
class ActionsSettings:
    """The repository's Actions settings that decide whether Shunter can work at all.

    https://docs.github.com/en/rest/actions/permissions#get-default-workflow-permissions-for-a-repository
    (``can_create_pull_requests`` is GitHub's ``can_approve_pull_request_reviews``: the
    one setting "Allow GitHub Actions to create and approve pull requests")."""

    default_workflow_permissions: Literal["read", "write"]
    can_create_pull_requests: bool


class Forge(DeploymentStatuses, Protocol):
    """GitHub (or a GitHub-compatible server) for one repository."""

    def whoami(self) -> str:
        """The login the token acts as (``github-actions[bot]`` for ``GITHUB_TOKEN``)."""
        ...

    def default_branch(self) -> str: ...

    def pull_request(self, number: int) -> PullRequest: ...

    def open_pull_requests(self, head_branch: str) -> list[PullRequest]:
        """Open PRs whose head is ``head_branch`` in this repository."""
        ...

    def recent_pull_requests(self, head_branch: str, *, limit: int = 10) -> list[PullRequest]:
        """PRs, open or closed, whose head is ``head_branch``, newest first. One list
        request: ``merged_by`` is ``None`` on each (``pull_request`` reads it)."""
        ...

    def create_pull_request(
        self, *, base: str, head: str, title: str, body: str
    ) -> PullRequest: ...

    def update_pull_request(self, number: int, *, title: str, body: str, head_sha: str) -> None:
        """Rewrite PR ``number``'s title and body while it is open at ``head_sha``; raise
        ``ConflictError`` when it moved or closed (its texts describe another head)."""

    def close_pull_request(self, number: int, comment: str) -> None: ...

    def comment_pull_request(self, number: int, body: str) -> None:
        """Add ``body`` to PR ``number``'s conversation (an issue comment)."""
        ...

    def merge_pull_request(self, number: int, *, sha: str, title: str, message: str) -> str:
        """Squash-merge, only if the head is still ``sha``; return the merge commit SHA.

        Raises ``ConflictError`` when the head moved or the PR cannot be merged now.
        """
        ...

    def reviews(self, number: int) -> list[Review]: ...

    def request_reviewers(self, number: int, *, users: list[str], teams: list[str]) -> None: ...

    def add_labels(self, number: int, labels: list[str]) -> None:
        """Put ``labels`` on PR ``number`` (those it has stay; a label the repository
        lacks is created)."""
        ...

    def team_members(self, team: str) -> frozenset[str]:
        """Logins in ``team`` (``slug`` of the repository owner's org, or ``org/slug``).

        Raises ``PermanentError`` when the token may not read the team.
        """
        ...

    def permission(self, user: str) -> str:
        """``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``."""
        ...

    def set_check(
        self,
        *,
        sha: str,
        name: str,
        conclusion: Literal["success", "failure", "neutral"] | None,
        title: str,
        summary: str,
    ) -> None:
        """Create or update the check run ``name`` on ``sha`` (``conclusion=None``: in progress)."""
        ...

    def check_runs(self, sha: str) -> tuple[CheckRun, ...]:
        """The newest check run of each name on commit ``sha``."""
        ...

    def set_status(
        self,
        sha: str,
        *,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None,
    ) -> None:
        """Add a commit status ``context`` to ``sha`` (GitHub records the token's owner as
        its ``creator``). Raises ``PermanentError`` (no such commit, no
        ``statuses: write``) or ``TransientError``."""
        ...

    def statuses(self, sha: str) -> tuple[CommitStatus, ...]:
        """Every commit status on ``sha``, newest first (every page)."""
        ...

    def dispatch_workflow(self, file: str, *, ref: str, inputs: dict[str, str]) -> None:
        """Start ``.github/workflows/<file>`` on ``ref`` (``workflow_dispatch``) with ``inputs``.

        Raises ``PermanentError`` when the workflow is missing on ``ref`` or refuses the inputs.
        """
        ...

    def find_workflow_run(
        self, file: str, *, marker: str, created_after: datetime
    ) -> StepRun | None:
        """The newest dispatched run of ``file`` since ``created_after`` whose title (the
        workflow's ``run-name``) contains ``marker``, or ``None`` while there is none."""
        ...

    def workflow_run(self, run_id: str) -> StepRun:
        """Workflow run ``run_id`` now (running, succeeded or failed)."""
        ...

    def open_code_scanning_alerts(self, ref: str) -> int:
        """Open code scanning alerts on ``ref``; 0 when code scanning is not set up."""
        ...

    def pull_request_files(self, number: int) -> tuple[ChangedFile, ...]:
        """The files PR ``number`` changes from its merge base to its head, each with its
        blob at the head. Raises ``PermanentError`` when GitHub lists no more than part
        of them (it stops at 3,000 files)."""
        ...

    def blob_text(self, sha: str) -> str:
        """The text of git blob ``sha`` (a changed file's ``blob_sha``). A PR's head is in
        the repository it merges into (``refs/pull/N/head``), forks' PRs included.
        Raises ``PermanentError`` when there is no such blob or it is not UTF-8 text."""
        ...

    def pull_request_commits(self, number: int) -> tuple[HeadCommit, ...]:
        """The commits of PR ``number``, oldest first, with the users they are attributed to.
        Raises ``PermanentError`` when GitHub lists no more than part of them (250)."""
        ...

    def run_actor(self, run_id: int) -> RunActor:
        """Who workflow run ``run_id`` of this repository acts for, now."""
        ...

    def is_private(self) -> bool:
        """Whether the repository is private or internal (its Actions minutes are billed)."""
        ...

    def actions_settings(self) -> ActionsSettings | None:
        """Default workflow permissions and whether Actions may create PRs; ``None`` when
        the token may not read them (``GITHUB_TOKEN`` may not)."""
        ...

    def branch_rules(self, branch: str) -> BranchRules:
        """Classic protection and rulesets of ``branch``, combined (the strictest wins)."""
        ...

    def repository_dispatch(self, event_type: str, payload: dict[str, str]) -> None:
        """Send ``repository_dispatch`` ``event_type`` with ``payload`` to the repository."""
        ...

    def package_repository(self, owner: str, name: str) -> str | None:
        """The repository a container package is linked to, or ``None``.

        Raises ``PermanentError`` when the package is unknown or unreadable."""
        ...


# --------------------------------------------------------------------------- git


class GitRepo(Protocol):
    """A git repository reached through a remote (the GitOps repo Shunter edits)."""

    def read_file(self, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref`` (a branch of the remote), or ``None`` if absent."""
        ...

    def head(self, branch: str) -> str | None:
        """The commit ``branch`` points at on the remote, or ``None``."""
        ...

    def read_file_at(self, revision: str, path: str, *, branch: str) -> str | None:
        """The text of ``path`` at ``revision`` (a commit SHA, or ``<sha>^1``) of remote
        ``branch``'s history, or ``None`` if absent there. ``branch`` is fetched again
        when the commit is not known yet (it landed after the last look)."""
        ...

    def merge_base(
        self, a: str, b: str, *, branches: tuple[str, ...], pull: int | None = None
    ) -> str | None:
        """The best common ancestor of revisions ``a`` and ``b`` (SHAs, or ``<sha>^1``),
        fetching ``branches`` (and PR ``pull``'s head ref) when either is not known yet;
        ``None`` when they share no history or one cannot be found there."""
        ...

    def commit_message(self, revision: str, *, branch: str) -> str:
        """The message of commit ``revision`` (a SHA) of remote ``branch``'s history,
        fetching ``branch`` when the commit is not known yet."""
        ...

    def changed_files(self, a: str, b: str) -> tuple[ChangedFile, ...]:
        """The files that differ from commit ``a`` to commit ``b`` (both known: fetched by
        ``merge_base``), each with its blob at ``b``, as GitHub lists a PR's files from
        its merge base to its head."""
        ...

    def refresh(self) -> None:
        """Forget the remote heads seen so far: the next read sees the remote as it is now."""
        ...

    def commit_files(
        self, *, base: str, branch: str, files: dict[str, str], message: str, force: bool
    ) -> str:
        """Commit ``files`` (path -> new text) on top of ``base`` (branch name) and push the
        commit to ``branch``; ``force`` rewrites ``branch`` (a promotion branch),
        otherwise the push must fast-forward. Return the new commit SHA."""
        ...


class StateStore(Protocol):
    """The ledger's home: a branch of files, written with compare-and-swap."""

    def load(self) -> tuple[dict[str, str], str | None]:
        """Return (path -> text of every file on the branch except those under ``archive/``,
        the branch head or ``None``). Archived files are never read here."""
        ...

    def load_archive(self) -> dict[str, str]:
        """Return path -> text of every file under ``archive/`` (``get promotions --all``)."""
        ...

    def save(self, files: dict[str, str], message: str, *, expected_head: str | None) -> str:
        """Commit ``files`` as the whole content of the branch, on top of ``expected_head``,
        except that the files already under ``archive/`` stay: ``files`` only adds to them.

        Raises ``ConflictError`` if the branch no longer points at ``expected_head``.
        Returns the new head.
        """
        ...


# --------------------------------------------------------------------------- deadline


class Deadline:
    """The moment a run must be done by, on a monotonic clock (never the wall clock, which
    a test or NTP may move). Adapters bound every request's timeout by it; the loop stops
    starting work after it.

    ``Deadline(seconds)`` ends ``seconds`` from now; ``clock`` returns seconds (default
    ``time.monotonic``).
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.monotonic
        self._end = self._clock() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(self._end - self._clock(), 0.0)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, cap: float) -> float:
        """A request timeout: ``cap``, or less when the deadline is nearer (at least 1 ms,
        so a request at the very end fails as timed out instead of waiting forever)."""
        return max(min(cap, self.remaining()), 0.001)

    def earlier(self, reserve: float) -> Deadline:
        """A deadline ``reserve`` seconds before this one, sharing its clock."""
        d = Deadline(0.0, clock=self._clock)
        d._end = self._end - reserve
        d.seconds = self.seconds - reserve
        return d

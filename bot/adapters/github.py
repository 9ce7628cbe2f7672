"""The forge port on GitHub's REST API, through PyGithub.

One ``GitHubForge`` serves one repository. It turns PyGithub objects into the values of
``bot.core.decide.pulls`` and every failure into a ``bot.errors`` type whose message says what
a person must fix, never the token itself:

    401                                  PermanentError: the token in ``token_env`` was refused
    403 (not a rate limit)               PermanentError: names the permission the token lacks
    404                                  PermanentError: names what was not found
    405 / 409 (merge), 422 duplicate PR  ConflictError: re-read and try again
    403 rate limit / 429                 retried by PyGithub's ``GithubRetry`` (Retry-After
                                         honoured, capped), then TransientError(retry_after)
    5xx, timeouts, connection errors,
    unreadable bodies                    TransientError

Status codes and error bodies: https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
Rate limits: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api

PyGithub is imported inside the constructor: ``shunter --help`` must not pay for it.
The client is built with ``lazy=True``, so reaching an object by number costs no request
until a field is read (merging PR #3 is one ``PUT``, not a ``GET`` and a ``PUT``).
"""

from __future__ import annotations

import email.utils
import logging
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from bot.core.decide.identity import RunActor
from bot.core.decide.mainrules import BranchRules
from bot.core.decide.observations import CheckRun, HealthReport, StepRun, StepState
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
from bot.errors import ConflictError, PermanentError, ShunterError, TransientError
from bot.ports import ActionsSettings, Deadline, HttpErrorKind, http_error

if TYPE_CHECKING:
    from github.GithubException import GithubException
    from github.PullRequest import PullRequest as GhPullRequest
    from github.Repository import Repository
    from github.WorkflowRun import WorkflowRun

__all__ = ["ACTIONS_BOT", "GitHubForge"]

#: Who ``GITHUB_TOKEN`` acts as; ``GET /user`` is refused to it, so ``whoami`` says this.
ACTIONS_BOT = "github-actions[bot]"

_REVIEW_STATES: frozenset[str] = frozenset(
    {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}
)
_ROLES = frozenset({"admin", "maintain", "write", "triage", "read", "none"})
_FILE_STATUSES: frozenset[str] = frozenset(
    {"added", "removed", "modified", "renamed", "copied", "changed", "unchanged"}
)
_MAX_PR_FILES = 3000
_MAX_PR_COMMITS = 250


class GitHubForge:
    """``bot.ports.Forge`` for the repository ``owner/name`` on GitHub (or GHES).

    ``retries`` is the budget PyGithub's ``GithubRetry`` spends on rate-limited and
    refused-connection requests; ``max_retry_wait`` caps how long one wait may be (a
    longer ``Retry-After`` ends the call with ``TransientError(retry_after=...)``);
    ``throttle`` keeps PyGithub's pauses between requests (default: on, except for a
    server on loopback, i.e. the sandbox).
    ``token_env`` only names the variable in error messages.
    """

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        api_url: str = "https://api.github.com",
        token_env: str = "GITHUB_TOKEN",  # noqa: S107 - a variable name, not a secret
        timeout: int = 30,
        retries: int = 3,
        max_retry_wait: float = 60.0,
        backoff: float = 1.0,
        throttle: bool | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        from github import Auth, Github

        owner, sep, name = repository.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise PermanentError(f"repository must be 'owner/name', not {repository!r}")
        self.repository = repository
        self.owner = owner
        self._token = token
        self._token_env = token_env
        self._max_retry_wait = max_retry_wait
        if throttle is None:
            # GitHub asks integrations to pace requests (writes a second apart); a
            # server on this machine is the sandbox, which needs no pacing.
            host = urllib.parse.urlsplit(api_url).hostname or ""
            throttle = host not in ("127.0.0.1", "localhost", "::1")
        throttling: dict[str, Any] = (
            {} if throttle else {"seconds_between_requests": None, "seconds_between_writes": None}
        )
        # PyGithub logs every 403 it weighs for a retry at INFO on its own stderr handler;
        # an expected one (branch protection a write token may not read) then reads as a
        # failure in the workflow log. Shunter says what failed itself.
        logging.getLogger("github").setLevel(logging.WARNING)
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            retry=_make_retry(retries, max_retry_wait, backoff),
            lazy=True,
            **throttling,
        )
        self._repo: Repository = self._gh.get_repo(repository)
        self._login: str | None = None
        # After GitHub asks to be left alone for longer than the run has left, nothing
        # more is asked this run: the error that said so is raised again at once.
        self._deadline = deadline
        self._given_up: ShunterError | None = None
        # Read once per run: a run's rounds and attempts ask the same question many times,
        # and GITHUB_TOKEN's hourly budget is small. GitHub still enforces both at merge.
        self._rules: dict[str, BranchRules] = {}
        self._teams: dict[str, frozenset[str]] = {}

    # ----------------------------------------------------------------- identity

    def whoami(self) -> str:
        """The login the token acts as; ``github-actions[bot]`` when ``GET /user`` is
        refused (403), as it is for ``GITHUB_TOKEN`` and app installation tokens.

        Raises ``PermanentError`` (token refused) or ``TransientError``."""
        if self._login is None:
            from github.GithubException import GithubException

            with self._translate("read the token's user", permission="", what="the user"):
                try:
                    self._login = _text(self._gh.get_user().login)
                except GithubException as err:
                    if err.status != 403 or _is_rate_limited(err):
                        raise
                    self._login = ACTIONS_BOT
        return self._login

    def default_branch(self) -> str:
        """The repository's default branch. Raises ``PermanentError`` / ``TransientError``."""
        with self._translate("read the repository", permission="metadata: read", what=""):
            return _text(self._repo.default_branch)

    # ----------------------------------------------------------------- pull requests

    def pull_request(self, number: int) -> PullRequest:
        """Pull request ``number``. Raises ``PermanentError`` when it does not exist."""
        with self._translate(
            f"read pull request #{number}",
            permission="pull-requests: read",
            what=f"pull request #{number}",
        ):
            pr = self._repo.get_pull(number)
            seen = _to_pull(pr)  # first: a malformed answer is "unreadable", as anywhere
            state = pr.mergeable_state
            return replace(seen, mergeable_state=None if state is None else _text(state))

    def open_pull_requests(self, head_branch: str) -> list[PullRequest]:
        """Open PRs whose head is ``head_branch`` of this repository, newest first."""
        with self._translate(
            f"list open pull requests from {head_branch}",
            permission="pull-requests: read",
            what="",
        ):
            pulls = self._repo.get_pulls(state="open", head=f"{self.owner}:{head_branch}")
            return [_to_pull(pr) for pr in pulls]

    def recent_pull_requests(self, head_branch: str, *, limit: int = 10) -> list[PullRequest]:
        """PRs (open or closed) whose head is ``head_branch``, newest first, at most ``limit``.

        One request: GitHub lists pulls newest first (``sort=created``, ``direction=desc``).
        """
        with self._translate(
            f"list pull requests from {head_branch}",
            permission="pull-requests: read",
            what="",
        ):
            pulls = self._repo.get_pulls(
                state="all", head=f"{self.owner}:{head_branch}", sort="created", direction="desc"
            )
            # A list answer has no merged_by: reading it would cost a GET for each merged
            # PR listed, every run. The loop reads the few PRs it must place in full.
            return [_to_pull(pr, listed=True) for pr in pulls.get_page(0)[:limit]]

    def create_pull_request(self, *, base: str, head: str, title: str, body: str) -> PullRequest:
        """Open a PR from ``head`` into ``base``; return it.

        Raises ``ConflictError`` when an open PR for the same branches already exists,
        ``PermanentError`` when GitHub refuses it (no commits, unknown branch)."""
        with self._translate(
            f"open a pull request from {head} into {base}",
            permission="pull-requests: write",
            what="",
        ):
            return _to_pull(self._repo.create_pull(base=base, head=head, title=title, body=body))

    def update_pull_request(self, number: int, *, title: str, body: str, head_sha: str) -> None:
        """Rewrite the title and body of PR ``number`` while it is open at ``head_sha``.

        GitHub has no conditional edit of a PR, so the PR is read just before: one that
        another run moved on (newer freight pushed) or merged raises ``ConflictError``
        instead of getting back the texts of the head this run saw."""
        with self._translate(
            f"update pull request #{number}",
            permission="pull-requests: write",
            what=f"pull request #{number}",
        ):
            pull = self._repo.get_pull(number)
            if pull.state != "open" or pull.head.sha != head_sha:
                raise ConflictError(
                    f"pull request #{number} moved since this run looked ({pull.state}, head "
                    f"{pull.head.sha[:7]}, not {head_sha[:7]}); the next round looks again"
                )
            pull.edit(title=title, body=body)

    def close_pull_request(self, number: int, comment: str) -> None:
        """Say why in a comment (when ``comment`` is not empty), then close PR ``number``."""
        with self._translate(
            f"close pull request #{number}",
            permission="pull-requests: write",
            what=f"pull request #{number}",
        ):
            if comment:
                self._repo.get_issue(number).create_comment(comment)
            self._repo.get_pull(number).edit(state="closed")

    def comment_pull_request(self, number: int, body: str) -> None:
        """Add ``body`` to PR ``number``'s conversation.

        https://docs.github.com/en/rest/issues/comments#create-an-issue-comment"""
        with self._translate(
            f"comment on pull request #{number}",
            permission="pull-requests: write",
            what=f"pull request #{number}",
        ):
            self._repo.get_issue(number).create_comment(body)

    def add_labels(self, number: int, labels: list[str]) -> None:
        """Put ``labels`` on PR ``number`` (a pull request is an issue).

        https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue"""
        with self._translate(
            f"label pull request #{number}",
            permission="pull-requests: write",
            what=f"pull request #{number}",
        ):
            self._repo.get_issue(number).add_to_labels(*labels)

    def merge_pull_request(self, number: int, *, sha: str, title: str, message: str) -> str:
        """Squash-merge PR ``number`` only if its head is still ``sha``; return the merge
        commit SHA.

        https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request: 409 when the
        head moved, 405 when the PR cannot be merged; both raise ``ConflictError``."""
        with self._translate(
            f"merge pull request #{number}",
            permission="contents: write",
            what=f"pull request #{number}",
        ):
            status = self._repo.get_pull(number).merge(
                commit_title=title, commit_message=message, merge_method="squash", sha=sha
            )
            if not status.merged:
                raise ConflictError(
                    f"GitHub did not merge pull request #{number} of {self.repository}: "
                    f"{status.message}"
                )
            return _text(status.sha)

    def reviews(self, number: int) -> list[Review]:
        """Every review of PR ``number``, oldest first, each with the commit it was given on."""
        with self._translate(
            f"read the reviews of pull request #{number}",
            permission="pull-requests: read",
            what=f"pull request #{number}",
        ):
            out = []
            for rv in self._repo.get_pull(number).get_reviews():
                state = rv.state
                if state not in _REVIEW_STATES:
                    raise _unreadable(f"review state {state!r}")
                out.append(
                    Review(
                        id=_int(rv.id),
                        user=_text(rv.user.login),
                        state=_review_state(state),
                        commit_id=_text(rv.commit_id),
                        submitted_at=rv.submitted_at,
                    )
                )
            return out

    def request_reviewers(self, number: int, *, users: list[str], teams: list[str]) -> None:
        """Ask ``users`` and ``teams`` (slugs) to review PR ``number``; nothing to ask, no call."""
        if not users and not teams:
            return
        with self._translate(
            f"request reviewers on pull request #{number}",
            permission="pull-requests: write",
            what=f"pull request #{number}",
        ):
            self._repo.get_pull(number).create_review_request(
                reviewers=list(users), team_reviewers=[t.rpartition("/")[2] for t in teams]
            )

    def pull_request_files(self, number: int) -> tuple[ChangedFile, ...]:
        """The files PR ``number`` changes (merge base to head), each with its head blob.

        https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files: at most
        3,000 files are listed; a PR that reaches the cap raises ``PermanentError``,
        since what it does beyond them cannot be seen."""
        with self._translate(
            f"list the files of pull request #{number}",
            permission="pull-requests: read",
            what=f"pull request #{number}",
        ):
            out: list[ChangedFile] = []
            for f in self._repo.get_pull(number).get_files():
                status = _text(f.status)
                if status not in _FILE_STATUSES:
                    raise _unreadable(f"file status {status!r}")
                out.append(
                    ChangedFile(
                        path=_text(f.filename),
                        status=_file_status(status),
                        blob_sha=None if status == "removed" else _text(f.sha),
                        previous_path=f.previous_filename or None,
                    )
                )
            if len(out) >= _MAX_PR_FILES:
                raise PermanentError(
                    f"pull request #{number} changes {len(out)} or more files, more than "
                    "GitHub lists; it is not a promotion Shunter can check"
                )
            return tuple(out)

    def blob_text(self, sha: str) -> str:
        """The UTF-8 text of git blob ``sha``.

        https://docs.github.com/en/rest/git/blobs#get-a-blob (``content`` base64-encoded).
        A PR's head commit, a fork's included, is reachable in the base repository as
        ``refs/pull/N/head``, so its blobs are read here without touching the fork
        (https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/checking-out-pull-requests-locally).
        Raises ``PermanentError`` (no such blob, not UTF-8) or ``TransientError``."""
        import base64
        import binascii

        with self._translate(
            f"read blob {sha[:12]}", permission="contents: read", what=f"blob {sha[:12]}"
        ):
            blob = self._repo.get_git_blob(sha)
            content, encoding = _text(blob.content), _text(blob.encoding)
        try:
            data = base64.b64decode(content) if encoding == "base64" else content.encode()
            return data.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise PermanentError(
                f"blob {sha[:12]} of {self.repository} is not UTF-8 text"
            ) from None

    def pull_request_commits(self, number: int) -> tuple[HeadCommit, ...]:
        """The commits of PR ``number``, oldest first, with their GitHub author and committer.

        https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request (at
        most 250; a PR that reaches the cap raises ``PermanentError``)."""
        with self._translate(
            f"list the commits of pull request #{number}",
            permission="pull-requests: read",
            what=f"pull request #{number}",
        ):
            out = [
                HeadCommit(
                    sha=_text(c.sha),
                    author=_text(c.author.login) if c.author is not None else None,
                    committer=_text(c.committer.login) if c.committer is not None else None,
                )
                for c in self._repo.get_pull(number).get_commits()
            ]
            if len(out) >= _MAX_PR_COMMITS:
                raise PermanentError(
                    f"pull request #{number} has {len(out)} or more commits, more than "
                    "GitHub lists; it is not a promotion Shunter can check"
                )
            return tuple(out)

    # ----------------------------------------------------------------- people

    def run_actor(self, run_id: int) -> RunActor:
        """Who workflow run ``run_id`` acts for (``triggering_actor``, ``actor``, ``event``,
        ``run_attempt``, ``status``).

        https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run. Raises
        ``PermanentError`` when there is no such run here or the token lacks ``actions: read``."""
        with self._translate(
            f"read workflow run {run_id}",
            permission="actions: read",
            what=f"workflow run {run_id}",
        ):
            run = self._repo.get_workflow_run(run_id)
            triggering = run.triggering_actor or run.actor
            if triggering is None or run.actor is None:
                raise _unreadable(f"workflow run {run_id} names no actor")
            return RunActor(
                run_id=_int(run.id),
                triggering_actor=_text(triggering.login),
                actor=_text(run.actor.login),
                event=_text(run.event),
                run_attempt=_int(run.run_attempt),
                status=_text(run.status),
            )

    def team_members(self, team: str) -> frozenset[str]:
        """Logins in ``team`` (``slug`` of the repository owner's org, or ``org/slug``).

        Raises ``PermanentError`` when the team is unknown or the token may not read it
        (``GITHUB_TOKEN`` never may: it needs a token with ``members: read``)."""
        org, _, slug = team.rpartition("/")
        org = org or self.owner
        if f"{org}/{slug}" in self._teams:
            return self._teams[f"{org}/{slug}"]
        with self._translate(
            f"read the members of team {org}/{slug}",
            permission="members: read (organization)",
            what=f"team {org}/{slug}",
        ):
            members = self._gh.get_organization(org).get_team_by_slug(slug).get_members()
            found = frozenset(_text(m.login) for m in members)
        self._teams[f"{org}/{slug}"] = found
        return found

    def permission(self, user: str) -> str:
        """``user``'s role on the repository: admin, maintain, write, triage, read or none.

        A login GitHub does not know (404: a typo, a deleted account) has ``none``: who may
        dispatch an emergency operation is decided on the safe side, not by an error."""
        from github.GithubException import GithubException

        with self._translate(
            f"read the permission of {user}",
            permission="metadata: read",
            what=f"user {user}",
        ):
            try:
                role = self._repo.get_collaborator_role_name(user)
            except GithubException as err:
                if err.status == 404:
                    return "none"
                raise
            if role in _ROLES:
                return role
            # A custom repository role: its base permission is what counts.
            legacy = self._repo.get_collaborator_permission(user)
            return legacy if legacy in _ROLES else "none"

    # ----------------------------------------------------------------- checks

    def set_check(
        self,
        *,
        sha: str,
        name: str,
        conclusion: Literal["success", "failure", "neutral"] | None,
        title: str,
        summary: str,
    ) -> None:
        """Create or update the check run ``name`` on ``sha`` (``conclusion=None``: in
        progress). Nothing changed since the last call: no write call.

        A completed run is never reopened; a new run with the same name supersedes it,
        which is how GitHub shows re-runs.
        https://docs.github.com/en/rest/checks/runs"""
        with self._translate(
            f"publish check run {name!r} on {sha[:12]}",
            permission="checks: write",
            what=f"commit {sha[:12]}",
        ):
            status = "in_progress" if conclusion is None else "completed"
            runs = self._repo.get_commit(sha).get_check_runs(check_name=name)
            current = next(iter(runs), None)
            output: dict[str, str | list[dict[str, str | int]]] = {
                "title": title,
                "summary": summary,
            }
            if current is not None:
                same = (
                    current.status == status
                    and current.conclusion == conclusion
                    and current.output.title == title
                    and current.output.summary == summary
                )
                if same:
                    return
                if current.status != "completed":
                    if conclusion is None:
                        current.edit(status=status, output=output)
                    else:
                        current.edit(conclusion=conclusion, output=output)
                    return
            if conclusion is None:
                self._repo.create_check_run(name, sha, status=status, output=output)
            else:
                self._repo.create_check_run(name, sha, conclusion=conclusion, output=output)

    def check_runs(self, sha: str) -> tuple[CheckRun, ...]:
        """The newest check run of each name on commit ``sha`` (every page), as GitHub's
        default ``filter=latest`` lists them.

        https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference
        Raises ``PermanentError`` (no such commit, no ``checks: read``) or ``TransientError``."""
        with self._translate(
            f"list the check runs of {sha[:12]}",
            permission="checks: read",
            what=f"commit {sha[:12]}",
        ):
            out: dict[str, CheckRun] = {}
            for run in self._repo.get_commit(sha).get_check_runs():
                name = _text(run.name)
                if name not in out:  # newest first: a re-run supersedes older runs
                    conclusion = run.conclusion
                    out[name] = CheckRun(
                        name=name,
                        status=_text(run.status),
                        conclusion=None if conclusion is None else _text(conclusion),
                        title=_text(run.output.title) if run.output and run.output.title else None,
                    )
            return tuple(out.values())

    def set_status(
        self,
        sha: str,
        *,
        context: str,
        state: StatusState,
        description: str,
        target_url: str | None,
    ) -> None:
        """Add the commit status ``context`` to ``sha``; GitHub keeps a description to 140
        characters, so a longer one is cut with an ellipsis.

        https://docs.github.com/en/rest/commits/statuses#create-a-commit-status"""
        text = description if len(description) <= 140 else description[:139] + "\u2026"
        with self._translate(
            f"set status {context!r} on {sha[:12]}",
            permission="statuses: write",
            what=f"commit {sha[:12]}",
        ):
            # By URL: ``get_commit(sha).create_status`` would GET the commit first.
            body: dict[str, str] = {"state": state, "description": text, "context": context}
            if target_url:
                body["target_url"] = target_url
            self._repo.requester.requestJsonAndCheck(
                "POST", f"{self._repo.url}/statuses/{sha}", input=body
            )

    def statuses(self, sha: str) -> tuple[CommitStatus, ...]:
        """Every commit status on ``sha``, newest first, every page.

        https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference
        Raises ``PermanentError`` (no such commit, no ``statuses: read``) or ``TransientError``."""
        from github.CommitStatus import CommitStatus as GhCommitStatus
        from github.PaginatedList import PaginatedList

        with self._translate(
            f"list the statuses of {sha[:12]}",
            permission="statuses: read",
            what=f"commit {sha[:12]}",
        ):
            # PyGithub's ``Commit.get_statuses`` calls the legacy ``/statuses/{sha}`` path;
            # GitHub documents ``/commits/{ref}/statuses``.
            url = f"{self._repo.url}/commits/{sha}/statuses"
            out = []
            for st in PaginatedList(GhCommitStatus, self._repo.requester, url, None):
                state = _text(st.state)
                if state not in ("error", "failure", "pending", "success"):
                    raise _unreadable(f"status state {state!r}")
                out.append(
                    CommitStatus(
                        context=_text(st.context),
                        state=state,  # type: ignore[arg-type]
                        creator=_text(st.creator.login) if st.creator is not None else "",
                        description=st.description or "",
                        target_url=st.target_url,
                    )
                )
            return tuple(out)

    # ----------------------------------------------------------------- workflows

    def dispatch_workflow(self, file: str, *, ref: str, inputs: dict[str, str]) -> None:
        """Start ``.github/workflows/<file>`` on ``ref`` through ``workflow_dispatch``.

        https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
        GitHub answers 204 without the run: find it with :meth:`find_workflow_run`.
        Raises ``PermanentError`` when the workflow does not exist on ``ref``, has no
        ``workflow_dispatch`` trigger or does not declare an input (422), or the token
        lacks ``actions: write``; ``TransientError`` otherwise."""
        bad = sorted(k for k, v in inputs.items() if not isinstance(v, str))
        if bad:
            raise PermanentError(
                f"workflow inputs must be text; {', '.join(bad)} of {file} are not"
            )
        with self._translate(
            f"dispatch workflow {file} on {ref}",
            permission="actions: write",
            what=f"workflow .github/workflows/{file} on {ref}",
        ):
            self._repo.get_workflow(file).create_dispatch(ref=ref, inputs=dict(inputs), throw=True)

    def find_workflow_run(
        self, file: str, *, marker: str, created_after: datetime
    ) -> StepRun | None:
        """The newest ``workflow_dispatch`` run of ``file`` created at or after
        ``created_after`` whose title (the workflow's ``run-name``) contains ``marker``;
        ``None`` while GitHub lists none (a dispatched run may take seconds to appear).

        Raises ``PermanentError`` (unknown workflow, no ``actions: read``) or ``TransientError``."""
        # https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow
        # ``created`` takes GitHub's search date syntax, which has whole seconds.
        since = created_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._translate(
            f"list the runs of workflow {file}",
            permission="actions: read",
            what=f"workflow .github/workflows/{file}",
        ):
            runs = self._repo.get_workflow(file).get_runs(
                event="workflow_dispatch", created=f">={since}"
            )
            for run in runs:
                if marker in (run.display_title or ""):
                    return _to_step_run(run, file)
            return None

    def workflow_run(self, run_id: str) -> StepRun:
        """Workflow run ``run_id`` (as :meth:`find_workflow_run` returned it) now.

        Raises ``PermanentError`` when it does not exist or the token lacks ``actions: read``."""
        if not run_id.isdigit():
            raise PermanentError(f"workflow run id must be a number, not {run_id!r}")
        with self._translate(
            f"read workflow run {run_id}",
            permission="actions: read",
            what=f"workflow run {run_id}",
        ):
            run = self._repo.get_workflow_run(int(run_id))
            return _to_step_run(run, _text(run.path).rpartition("/")[2])

    # ----------------------------------------------------------------- deployments

    def deployment_health(self, environment: str) -> HealthReport:
        """Healthy iff the newest deployment to ``environment`` has ``success`` as its
        newest status; ``revision`` is that deployment's commit.

        https://docs.github.com/en/rest/deployments/deployments#list-deployments and
        https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses
        (both newest first). Raises ``PermanentError`` (no ``deployments: read``) or
        ``TransientError``."""
        with self._translate(
            f"read the deployments to {environment}",
            permission="deployments: read",
            what=f"environment {environment}",
        ):
            newest = next(iter(self._repo.get_deployments(environment=environment)), None)
            if newest is None:
                return HealthReport(False, f"no deployment to {environment} yet")
            dep_id, sha = _int(newest.id), _text(newest.sha)
            status = next(iter(newest.get_statuses()), None)
            what = f"deployment {dep_id} of {sha[:12]} to {environment}"
            if status is None:
                return HealthReport(False, f"{what} has no status yet", sha)
            state = _text(status.state)
            return HealthReport(state == "success", f"{what} is {state}", sha)

    def record_deployment(self, environment: str, sha: str, *, description: str, url: str) -> int:
        """Record that commit ``sha`` runs in ``environment`` (see the ``Forge`` port).

        https://docs.github.com/en/rest/deployments/deployments#create-a-deployment with
        ``auto_merge: false`` (the commit is already on the base branch) and no required
        contexts (its checks gated the PR already; a deployment must not wait on them
        again), then
        https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
        ``success`` with ``target_url`` (GitHub's name for the log link) set to ``url``;
        ``auto_inactive`` marks the environment's earlier deployments inactive. Raises
        ``PermanentError`` (no ``deployments: write``) or ``TransientError``."""
        with self._translate(
            f"record the deployment of {sha[:12]} to {environment}",
            permission="deployments: write",
            what=f"environment {environment}",
        ):
            dep = next(iter(self._repo.get_deployments(sha=sha, environment=environment)), None)
            if dep is not None and any(_text(s.state) == "success" for s in dep.get_statuses()):
                return _int(dep.id)
            if dep is None:
                dep = self._repo.create_deployment(
                    ref=sha,
                    environment=environment,
                    description=description,
                    auto_merge=False,
                    required_contexts=[],
                    transient_environment=False,
                )
            dep.create_status(
                "success", target_url=url, description=description, auto_inactive=True
            )
            return _int(dep.id)

    # ----------------------------------------------------------------- code scanning

    def open_code_scanning_alerts(self, ref: str) -> int:
        """How many code scanning alerts are open on ``ref`` (``refs/heads/<branch>``,
        a branch name, or ``refs/pull/<n>/head``); 0 when the repository has no analysis
        at all (code scanning not set up), which GitHub answers with 404 "no analysis found".

        https://docs.github.com/en/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository
        Raises ``PermanentError`` (no ``security-events: read``, any other 404) or
        ``TransientError``."""
        from github.GithubException import GithubException

        with self._translate(
            f"list the open code scanning alerts of {ref}",
            permission="security-events: read",
            what=f"code scanning results for {ref}",
        ):
            try:
                return sum(1 for _ in self._repo.get_codescan_alerts(ref=ref, state="open"))
            except GithubException as err:
                if err.status == 404 and "no analysis found" in _github_message(err).lower():
                    return 0
                raise

    # ----------------------------------------------------------------- settings and rules

    def _get_json(self, path: str) -> Any:
        """``GET`` a REST path PyGithub has no object for; the JSON body."""
        _headers, data = self._gh.requester.requestJsonAndCheck("GET", path)
        return data

    def is_private(self) -> bool:
        """Whether the repository is private or internal (Actions minutes are billed)."""
        with self._translate("read the repository", permission="metadata: read", what=""):
            return bool(self._repo.private)

    def actions_settings(self) -> ActionsSettings | None:
        """The repository's default ``GITHUB_TOKEN`` permissions and whether Actions may
        create and approve pull requests; ``None`` when the token may not read them (it
        needs ``administration: read``, which ``GITHUB_TOKEN`` never has).

        https://docs.github.com/en/rest/actions/permissions#get-default-workflow-permissions-for-a-repository
        Raises ``TransientError`` (or ``PermanentError`` for a refused token)."""
        from github.GithubException import GithubException

        with self._translate(
            "read the default workflow permissions",
            permission="administration: read",
            what="",
        ):
            try:
                data = self._get_json(f"/repos/{self.repository}/actions/permissions/workflow")
            except GithubException as err:
                if err.status in (403, 404) and not _is_rate_limited(err):
                    return None
                raise
            default = data.get("default_workflow_permissions")
            if default not in ("read", "write"):
                raise _unreadable(f"default_workflow_permissions {default!r}")
            return ActionsSettings(
                default_workflow_permissions=default,
                can_create_pull_requests=bool(data.get("can_approve_pull_request_reviews")),
            )

    def branch_rules(self, branch: str) -> BranchRules:
        """What GitHub requires of a merge into ``branch`` and of a push to it: classic
        branch protection and every active ruleset, combined (the strictest wins).

        Rulesets come from "get rules for a branch", which any token that can read the
        repository may call (https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch);
        whether the token may bypass a ruleset from the ruleset itself
        (``current_user_can_bypass``, https://docs.github.com/en/rest/repos/rules#get-a-repository-ruleset).
        Classic protection needs ``administration: read``
        (https://docs.github.com/en/rest/branches/branch-protection#get-branch-protection);
        without it ``protection_readable`` is ``False`` and only the required checks the
        branch reports (https://docs.github.com/en/rest/branches/branches#get-a-branch)
        are known. Raises ``PermanentError`` / ``TransientError``."""
        if branch in self._rules:
            return self._rules[branch]
        quoted = urllib.parse.quote(branch, safe="")
        with self._translate(
            f"read the rules of branch {branch}", permission="metadata: read", what=""
        ):
            rules = self._ruleset_rules(branch, quoted)
            found = rules.combine(self._classic_protection(branch, quoted))
        self._rules[branch] = found
        return found

    def _ruleset_rules(self, branch: str, quoted: str) -> BranchRules:
        data = self._get_json(f"/repos/{self.repository}/rules/branches/{quoted}")
        if not isinstance(data, list):
            raise _unreadable("rules of a branch")
        approvals, owners, stale = 0, False, False
        checks: list[str] = []
        push, force = False, False
        restricting: dict[int, str] = {}
        for rule in data:
            kind = rule.get("type")
            params = rule.get("parameters") or {}
            if kind == "pull_request":
                approvals = max(approvals, int(params.get("required_approving_review_count", 0)))
                owners = owners or bool(params.get("require_code_owner_review"))
                stale = stale or bool(params.get("dismiss_stale_reviews_on_push"))
            elif kind == "required_status_checks":
                checks += [c["context"] for c in params.get("required_status_checks", [])]
            elif kind in ("update", "creation", "deletion"):
                push = True
            elif kind == "non_fast_forward":
                force = True
            else:
                continue
            rid = rule.get("ruleset_id")
            if isinstance(rid, int):
                source = rule.get("ruleset_source_type", "Repository")
                restricting[rid] = (
                    str(rule.get("ruleset_source") or "") if source == "Organization" else ""
                )
        bypass = bool(restricting) and all(
            self._can_bypass(rid, org) for rid, org in sorted(restricting.items())
        )
        names = tuple(f"ruleset {rid}" for rid in sorted(restricting))
        return BranchRules(
            branch=branch,
            required_approvals=approvals,
            code_owner_review=owners,
            dismiss_stale_reviews=stale,
            required_checks=tuple(dict.fromkeys(checks)),
            can_bypass=bypass,
            restricts_push=push,
            forbids_force_push=force,
            sources=names,
        )

    def _can_bypass(self, ruleset_id: int, org: str) -> bool:
        from github.GithubException import GithubException

        path = (
            f"/orgs/{org}/rulesets/{ruleset_id}"
            if org
            else f"/repos/{self.repository}/rulesets/{ruleset_id}"
        )
        try:
            data = self._get_json(path)
        except GithubException as err:
            if err.status in (403, 404) and not _is_rate_limited(err):
                return False  # cannot tell: assume the rules apply to us
            raise
        return bool(data.get("current_user_can_bypass") == "always")

    def _classic_protection(self, branch: str, quoted: str) -> BranchRules:
        from github.GithubException import GithubException

        try:
            data = self._get_json(f"/repos/{self.repository}/branches/{quoted}/protection")
        except GithubException as err:
            if _is_rate_limited(err) or err.status not in (403, 404):
                raise
            # 403: no administration: read. 404: "Branch not protected", or (as GitHub
            # hides what a token may not see) protected and unreadable. The branch itself
            # says whether it is protected and which checks it requires.
            try:
                info = self._get_json(f"/repos/{self.repository}/branches/{quoted}")
            except GithubException as inner:
                if inner.status != 404:
                    raise
                # No such branch yet: no classic rule can name it (rulesets still may).
                return BranchRules(branch=branch, protection_readable=False)
            if err.status == 404 and not info.get("protected"):
                return BranchRules(branch=branch)
            status = ((info.get("protection") or {}).get("required_status_checks")) or {}
            return BranchRules(
                branch=branch,
                required_checks=tuple(status.get("contexts") or ()),
                protection_readable=False,
                sources=("branch protection",) if info.get("protected") else (),
            )
        reviews = data.get("required_pull_request_reviews") or {}
        status = data.get("required_status_checks") or {}
        enforce_admins = bool((data.get("enforce_admins") or {}).get("enabled"))
        checks = tuple(
            dict.fromkeys(
                [
                    *(status.get("contexts") or ()),
                    *(c["context"] for c in status.get("checks") or ()),
                ]
            )
        )
        return BranchRules(
            branch=branch,
            required_approvals=int(reviews.get("required_approving_review_count", 0)),
            code_owner_review=bool(reviews.get("require_code_owner_reviews")),
            dismiss_stale_reviews=bool(reviews.get("dismiss_stale_reviews")),
            required_checks=checks,
            # Admins merge past classic protection unless it includes administrators.
            can_bypass=not enforce_admins and self._is_admin(),
            restricts_push=bool(data.get("restrictions")),
            forbids_force_push=not bool((data.get("allow_force_pushes") or {}).get("enabled")),
            sources=("branch protection",),
        )

    def _is_admin(self) -> bool:
        login = self.whoami()
        return login != ACTIONS_BOT and self.permission(login) == "admin"

    def package_repository(self, owner: str, name: str) -> str | None:
        """The repository (``owner/name``) the container package ``owner/name`` is linked
        to, or ``None`` when it is linked to none. ``registry_package`` events reach only
        the linked repository's workflows.

        https://docs.github.com/en/rest/packages/packages#get-a-package-for-an-organization
        (and ``/users/{owner}`` for a personal account). Raises ``PermanentError`` when the
        package is unknown or the token lacks ``packages: read``."""
        from github.GithubException import GithubException

        package = urllib.parse.quote(name, safe="")
        with self._translate(
            f"read the container package {owner}/{name}",
            permission="packages: read",
            what=f"container package {owner}/{name}",
        ):
            try:
                data = self._get_json(f"/orgs/{owner}/packages/container/{package}")
            except GithubException as err:
                if err.status != 404:
                    raise
                # Not an organization's package: a personal account's, or none.
                data = self._get_json(f"/users/{owner}/packages/container/{package}")
            repo = data.get("repository") or {}
            full = repo.get("full_name")
            return str(full) if full else None

    def repository_dispatch(self, event_type: str, payload: dict[str, str]) -> None:
        """Send ``repository_dispatch`` ``event_type`` with ``client_payload`` to this
        repository (it starts workflows even when sent with ``GITHUB_TOKEN``).

        https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
        Raises ``PermanentError`` (no ``contents: write`` on the repository, unknown
        repository) or ``TransientError``."""
        with self._translate(
            f"send repository_dispatch {event_type}",
            permission="contents: write",
            what=f"repository {self.repository}",
        ):
            # PyGithub's create_repository_dispatch hides a refusal in a boolean.
            self._gh.requester.requestJsonAndCheck(
                "POST",
                f"/repos/{self.repository}/dispatches",
                input={"event_type": event_type, "client_payload": dict(payload)},
            )

    # ----------------------------------------------------------------- errors

    @contextmanager
    def _translate(self, action: str, *, permission: str, what: str) -> Iterator[None]:
        """Turn PyGithub, requests and urllib3 failures inside the block into
        ``bot.errors`` types whose message names ``action`` (and the missing
        ``permission`` or ``what`` was not found) and never the token."""
        import requests
        from github.GithubException import GithubException

        if self._given_up is not None:
            raise self._given_up
        try:
            yield
        except ShunterError as err:
            self._reraise_scrubbed(err)
        except GithubException as err:
            error = self._from_github(err, action, permission, what)
            self._give_up_if_too_long(error)
            raise error from None
        except requests.exceptions.Timeout:
            raise http_error(
                HttpErrorKind.TIMED_OUT,
                f"GitHub did not answer in time (timed out) while trying to {action} in "
                f"{self.repository}",
            ) from None
        except requests.exceptions.RequestException as err:
            kind = type(err).__name__
            raise http_error(
                HttpErrorKind.TRANSIENT,
                f"could not reach GitHub to {action} in {self.repository} ({kind})",
            ) from None
        except ValueError:
            # PyGithub lets json.JSONDecodeError through for bodies that look like JSON.
            raise TransientError(
                f"GitHub answered with an unreadable body while trying to {action} "
                f"in {self.repository}"
            ) from None

    def _give_up_if_too_long(self, error: ShunterError) -> None:
        wait = error.retry_after if isinstance(error, TransientError) else None
        left = self._deadline.remaining() if self._deadline is not None else None
        if wait is None or left is None or wait <= left:
            return
        self._given_up = http_error(
            HttpErrorKind.RATE_LIMITED,
            f"GitHub asked to be left alone for {wait:.0f}s, longer than this run has left "
            f"({left:.0f}s); not asking GitHub again this run",
            retry_after=wait,
        )

    def _reraise_scrubbed(self, err: ShunterError) -> NoReturn:
        if self._token and self._token in str(err):
            err.args = (str(err).replace(self._token, "***"),)
        raise err

    def _from_github(
        self, err: GithubException, action: str, permission: str, what: str
    ) -> ShunterError:
        status = err.status
        said = self._scrub(_github_message(err))
        where = f"{action} in {self.repository}"
        if status == 401:
            return http_error(
                HttpErrorKind.AUTH,
                f"GitHub refused the token in {self._token_env} while trying to {where} "
                f"({said or 'Bad credentials'}): set {self._token_env} to a valid, unexpired token",
            )
        if _is_rate_limited(err):
            retry_after = _retry_after(err)
            if retry_after is None and hasattr(err, "wait"):
                retry_after = float(err.wait)
            when = f"; retry in {retry_after:.0f}s" if retry_after is not None else ""
            return http_error(
                HttpErrorKind.RATE_LIMITED,
                f"GitHub's rate limit stopped the attempt to {where} ({said}){when}",
                retry_after=retry_after,
            )
        if status == 403:
            need = f": the token in {self._token_env} needs {permission}" if permission else ""
            return http_error(
                HttpErrorKind.AUTH, f"GitHub forbade the attempt to {where} ({said}){need}"
            )
        if status == 404:
            thing = what or "it"
            return http_error(
                HttpErrorKind.NOT_FOUND,
                f"GitHub found no {thing} while trying to {where}: check that {thing} exists "
                f"and that the token in {self._token_env} can see {self.repository}",
            )
        if status in (405, 409):
            return ConflictError(f"could not {where}: {said}")
        if status == 422:
            details = self._scrub(_github_errors(err))
            if "already exists" in details:
                return ConflictError(f"could not {where}: {details}")
            return http_error(
                HttpErrorKind.PERMANENT, f"GitHub rejected the attempt to {where}: {said} {details}"
            )
        if status >= 500 or status == 0 or not said:
            return http_error(
                HttpErrorKind.TRANSIENT, f"GitHub failed to {where} (HTTP {status}); retry later"
            )
        return http_error(
            HttpErrorKind.PERMANENT, f"GitHub refused to {where} (HTTP {status}: {said})"
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


# --------------------------------------------------------------------------- helpers


def _make_retry(retries: int, max_wait: float, backoff: float) -> Any:
    """PyGithub's ``GithubRetry`` with a small budget and ``Retry-After`` capped at ``max_wait``.

    Only rate-limit answers (429, and 403 that GitHub marks as a rate limit) and refused
    connections are retried: the request was not processed, so retrying a ``POST`` is
    safe. A 5xx or a timeout may have been processed, so it fails at once and the next
    reconcile (which re-reads everything) recovers.
    """
    from github.GithubRetry import GithubRetry
    from urllib3.exceptions import MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    class CappedRetry(GithubRetry):
        def increment(  # type: ignore[override]  # as GithubRetry's: returns a Retry
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Retry:
            # A wait longer than the cap is not slept through: with raise_on_status=False
            # urllib3 hands the answer back, and the caller gets TransientError(retry_after).
            value = response.headers.get("Retry-After") if response is not None else None
            if value and self.parse_retry_after(value) > max_wait:
                raise MaxRetryError(_pool, url, ResponseError("Retry-After exceeds the cap"))
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return CappedRetry(
        total=retries,
        connect=retries,
        read=False,
        status=retries,
        status_forcelist=[429],
        allowed_methods=frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}),
        backoff_factor=backoff,
        secondary_rate_wait=min(60.0, max_wait),
        max_rate_limit_wait=max_wait,
        raise_on_status=False,
    )


def _github_message(err: GithubException) -> str:
    data = err.data
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, str):
            return message
    return ""


def _github_errors(err: GithubException) -> str:
    data = err.data
    if not isinstance(data, dict):
        return ""
    parts = []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("message") or f"{item.get('field')} {item.get('code')}"))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def _is_rate_limited(err: GithubException) -> bool:
    from github.GithubException import RateLimitExceededException

    if isinstance(err, RateLimitExceededException) or err.status == 429:
        return True
    if err.status != 403:
        return False
    headers = {k.lower(): v for k, v in (err.headers or {}).items()}
    message = _github_message(err).lower()
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message
    )


def _retry_after(err: GithubException) -> float | None:
    """Seconds to wait, from ``Retry-After`` or (primary limit) ``X-RateLimit-Reset``."""
    headers = {k.lower(): str(v) for k, v in (err.headers or {}).items()}
    value = headers.get("retry-after")
    if value is not None:
        if value.strip().isdigit():
            return float(value)
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0)
    reset = headers.get("x-ratelimit-reset")
    if reset is not None and reset.isdigit() and headers.get("x-ratelimit-remaining") == "0":
        return max(float(reset) - time.time(), 0.0)
    return None


def _unreadable(detail: str) -> TransientError:
    return TransientError(f"GitHub answered with an unreadable body ({detail})")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _unreadable(f"expected text, got {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise _unreadable(f"expected a number, got {type(value).__name__}")
    return value


def _when(value: object) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise _unreadable(f"expected a timestamp, got {type(value).__name__}")
    return value


def _review_state(state: str) -> ReviewState:
    if state == "APPROVED":
        return "APPROVED"
    if state == "CHANGES_REQUESTED":
        return "CHANGES_REQUESTED"
    if state == "COMMENTED":
        return "COMMENTED"
    if state == "DISMISSED":
        return "DISMISSED"
    return "PENDING"


def _file_status(status: str) -> FileStatus:
    for known in ("added", "removed", "modified", "renamed", "copied", "changed"):
        if status == known:
            return known
    return "unchanged"


def _to_pull(pr: GhPullRequest, *, listed: bool = False) -> PullRequest:
    """The domain value of a PyGithub PR, reading only fields that list answers carry
    (``merged_by`` is read, at the cost of one GET, only for merged PRs, and never for
    ``listed`` ones: their ``merged_by`` is ``None``)."""
    try:
        number = _int(pr.number)
        state = pr.state
        if state not in ("open", "closed"):
            raise _unreadable(f"pull request state {state!r}")
        merged_at = _when(pr.merged_at)
        merged_by = None
        if not listed and merged_at is not None and pr.merged_by is not None:
            merged_by = _text(pr.merged_by.login)
        created_at = _when(pr.created_at)
        if created_at is None:
            raise _unreadable("pull request without created_at")
        return PullRequest(
            number=number,
            url=_text(pr.html_url),
            title=_text(pr.title),
            body=pr.body or "",
            author=_text(pr.user.login),
            head_branch=_text(pr.head.ref),
            head_sha=_text(pr.head.sha),
            base_branch=_text(pr.base.ref),
            state="open" if state == "open" else "closed",
            merged=merged_at is not None,
            merged_by=merged_by,
            merge_commit_sha=_text(pr.merge_commit_sha) if merged_at is not None else None,
            created_at=created_at,
            merged_at=merged_at,
            closed_at=_when(pr.closed_at),
            head_repo=_text(pr.head.repo.full_name) if pr.head.repo is not None else None,
            base_repo=_text(pr.base.repo.full_name) if pr.base.repo is not None else None,
            base_sha=_text(pr.base.sha),
        )
    except (AttributeError, TypeError) as err:
        raise _unreadable(f"pull request fields missing: {err}") from None


def _to_step_run(run: WorkflowRun, file: str) -> StepRun:
    """A workflow run as a verification step's run: queued/in_progress (and GitHub's
    waiting/requested/pending) are running; completed is succeeded only with ``success``.

    https://docs.github.com/en/rest/actions/workflow-runs (status and conclusion values)"""
    status = _text(run.status)
    conclusion = run.conclusion
    title = run.display_title or file
    state: StepState
    if status == "completed":
        state = "succeeded" if conclusion == "success" else "failed"
        message = f"run {run.id} ({title}) finished: {conclusion or 'no conclusion'}"
    else:
        state = "running"
        message = f"run {run.id} ({title}) is {status.replace('_', ' ')}"
    return StepRun(
        step=file,
        state=state,
        message=message,
        url=_text(run.html_url),
        run_id=str(_int(run.id)),
    )

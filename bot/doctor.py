"""``shunter doctor``: will this repository run the pipeline, or stall it?

``gather`` asks GitHub, the registries and the checkout (through the ports) for the
facts; ``diagnose`` (pure) turns facts and config into ``Finding`` values, each with its
fix; ``render`` prints the checklist. A ``FAIL`` is a setting that will stall a stage or
lose work (the command exits 1); a ``WARN`` is a risk or a fact doctor could not read.

The GitHub facts each check rests on (and where GitHub documents them):

- Actions may not create pull requests in a new repository until "Allow GitHub Actions
  to create and approve pull requests" is on (API: ``can_approve_pull_request_reviews``).
  https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/enabling-features-for-your-repository/managing-github-actions-settings-for-a-repository#preventing-github-actions-from-creating-or-approving-pull-requests
- ``GITHUB_TOKEN`` has no organisation scope, so it cannot read team members.
  https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#permissions-for-the-github_token
- Events caused with ``GITHUB_TOKEN`` start no new workflow runs (except
  ``workflow_dispatch`` and ``repository_dispatch``), so a required CI check never runs on
  a promotion PR the bot opened with it.
  https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#using-the-github_token-in-a-workflow
- A concurrency group keeps one running and one pending run; a newer run cancels the
  pending one.
  https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/control-the-concurrency-of-workflows-and-jobs
- ``registry_package`` runs workflows only of the repository the package is linked to.
  https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#registry_package
- Each job's time is rounded up to the whole minute; private repositories spend the
  plan's included minutes (2,000 a month on GitHub Free), public ones run free.
  https://docs.github.com/en/billing/managing-billing-for-your-products/managing-billing-for-github-actions/about-billing-for-github-actions
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import yaml

from bot.core.codeowners import CodeOwners, parse_codeowners
from bot.core.decide.gates import GATE_CHECK, PREVIOUS_GATE_CHECK, SHUNTER_CHECKS
from bot.core.decide.mainrules import BranchRules, managed_paths
from bot.core.model import Config, ImageSubscription, Stage
from bot.errors import PermanentError, ShunterError
from bot.ports import ActionsSettings, Forge, GitRepo, Registry

__all__ = [
    "ACTIONS_BOT",
    "Check",
    "Facts",
    "Finding",
    "Status",
    "WorkflowFacts",
    "diagnose",
    "gather",
    "monthly_minutes",
    "parse_workflow",
    "render",
]

ACTIONS_BOT = "github-actions[bot]"
#: Minutes a month GitHub Free includes for private repositories (standard runners).
FREE_PRIVATE_MINUTES = 2000
#: What the Shunter job needs (README, "Permissions").
NEEDED_PERMISSIONS = {"contents": "write", "pull-requests": "write", "checks": "write"}
#: Events that are not workflow triggers at all, and what to use instead.
NOT_TRIGGERS = {"package": "registry_package"}


class Status(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


class Check(Enum):
    """What was checked (one or more findings each)."""

    TOKEN = "token"  # noqa: S105 - a check name
    ACTIONS_PRS = "actions-create-prs"
    APPROVER_TEAMS = "approver-teams"
    STATE_BRANCH = "state-branch-ruleset"
    PROMOTION_BRANCHES = "promotion-branches"
    MAIN_RULES = "main-rules"
    REQUIRED_CHECKS = "required-checks"
    WORKFLOW = "workflow"
    TRIGGERS = "workflow-triggers"
    PERMISSIONS = "workflow-permissions"
    CONCURRENCY = "workflow-concurrency"
    REGISTRY = "registry"
    PACKAGE_LINK = "package-link"
    COST = "schedule-cost"


@dataclass(frozen=True)
class Finding:
    """One line of the checklist: ``detail`` says what is, ``fix`` what to do (empty when
    nothing is to be done). Tests and callers read ``check``/``status``/``subject``."""

    check: Check
    status: Status
    subject: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class WorkflowFacts:
    """What one workflow file that runs Shunter says (``None``: not stated)."""

    path: str
    triggers: tuple[str, ...]
    crons: tuple[str, ...]
    permissions: Mapping[str, str] | str | None  # the Shunter job's effective block
    concurrency: tuple[tuple[str, str, bool], ...]  # (level, group, cancel-in-progress)
    token_input: str | None  # the `github-token:`/`token:` the Shunter step passes
    dispatch: bool  # has workflow_dispatch


@dataclass
class Facts:
    """Everything ``diagnose`` reads. ``errors`` holds what could not be read, by key."""

    repository: str
    login: str
    default_branch: str = "main"
    private: bool | None = None
    actions: ActionsSettings | None = None
    teams: dict[str, str | None] = field(default_factory=dict)  # team -> error or None
    rules: dict[str, BranchRules | str] = field(default_factory=dict)  # branch -> rules or error
    codeowners: CodeOwners | None = None
    workflows: tuple[WorkflowFacts, ...] = ()
    unreadable_workflows: tuple[tuple[str, str], ...] = ()
    registries: dict[str, tuple[Status, str]] = field(default_factory=dict)
    packages: dict[str, str | PermanentError | None] = field(default_factory=dict)


# --------------------------------------------------------------------------- workflows


def parse_workflow(path: str, text: str) -> WorkflowFacts | None:
    """The facts of a workflow that runs Shunter (a step ``uses`` an action whose name
    contains ``shunter``, or runs ``shunter``), ``None`` for any other workflow.

    Raises ``ValueError`` when the file is not a YAML mapping."""
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError("not a YAML mapping")
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        on = {on: None}
    elif isinstance(on, list):
        on = dict.fromkeys(on)
    on = on if isinstance(on, dict) else {}
    jobs = doc.get("jobs")
    for job in jobs.values() if isinstance(jobs, dict) else ():
        if not isinstance(job, dict):
            continue
        step = next((s for s in job.get("steps") or [] if _runs_shunter(s)), None)
        if step is None:
            continue
        crons = tuple(
            str(c["cron"]) for c in on.get("schedule") or [] if isinstance(c, dict) and "cron" in c
        )
        groups = []
        for level, holder in (("workflow", doc), ("job", job)):
            conc = holder.get("concurrency")
            if isinstance(conc, str):
                groups.append((level, conc, False))
            elif isinstance(conc, dict) and conc.get("group"):
                groups.append((level, str(conc["group"]), bool(conc.get("cancel-in-progress"))))
        perms = job.get("permissions", doc.get("permissions"))
        with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
        token = with_.get("github-token", with_.get("token"))
        return WorkflowFacts(
            path=path,
            triggers=tuple(str(k) for k in on),
            crons=crons,
            permissions=perms if isinstance(perms, dict | str) else None,
            concurrency=tuple(groups),
            token_input=None if token is None else str(token),
            dispatch="workflow_dispatch" in on,
        )
    return None


def _runs_shunter(step: Any) -> bool:
    if not isinstance(step, dict):
        return False
    uses = str(step.get("uses") or "")
    # A `notify` step (sending shunter-refresh from an image build) is not the pipeline,
    # nor is a `check-pr` step (the gate check on PRs, which needs no write access).
    given = step.get("with")
    with_: dict[str, Any] = given if isinstance(given, dict) else {}
    if with_.get("mode") == "notify" or with_.get("operation") == "check-pr":
        return False
    # A `run:` step that calls the command: its first word is the program.
    program = str(step.get("run") or "").split()[:1]
    return "shunter" in uses.split("@")[0].lower() or program == ["shunter"]


def monthly_minutes(cron: str, *, job_minutes: int = 1, days: int = 30) -> int:
    """Billed minutes a month for ``cron``: runs in ``days`` days times ``job_minutes``
    (GitHub rounds each job up to a whole minute)."""
    from croniter import croniter

    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=days)
    it = croniter(cron, start - timedelta(seconds=1))
    runs = 0
    while it.get_next(datetime) < end:
        runs += 1
        if runs > 100_000:
            break
    return runs * job_minutes


def _token_mode_is_github_token(facts: Facts) -> bool:
    """Whether the pipeline acts with ``GITHUB_TOKEN`` (the workflow passes no other token,
    or doctor itself runs with it)."""
    return facts.login == ACTIONS_BOT or any(_uses_github_token(wf) for wf in facts.workflows)


def token_limits(config: Config, workflows: tuple[WorkflowFacts, ...]) -> list[Finding]:
    """What the stages need that ``GITHUB_TOKEN`` cannot give, when a workflow runs
    Shunter with it (``shunter validate`` prints these as warnings; no API needed).

    Team approvers: ``GITHUB_TOKEN`` cannot read organisation teams, so their approvals
    never count. ``SecurityScanPassed``: a PR opened with ``GITHUB_TOKEN`` starts no
    workflow, so no scan ever runs on the promotion's head and the gate stays closed
    (https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#using-the-github_token-in-a-workflow).
    """
    with_token = [wf.path for wf in workflows if _uses_github_token(wf)]
    if not with_token:
        return []
    fix = "act as a GitHub App (examples/app-token; README: Tokens)"
    out: list[Finding] = []
    for stage in config.stages:
        ap = stage.promotion_policy.approvals
        teams = [a.name for a in ap.approvers if a.type == "team"] if ap and ap.required else []
        if teams:
            out.append(
                Finding(
                    Check.APPROVER_TEAMS,
                    Status.WARN,
                    f"stage {stage.name}",
                    f"{with_token[0]} acts with GITHUB_TOKEN, which cannot read team "
                    f"{', '.join(teams)}: those approvals never count",
                    fix,
                )
            )
        scans = [
            c
            for c in stage.promotion_policy.conditions
            if c.type == "SecurityScanPassed" and c.status == "True"
        ]
        if scans and any(u.pull_request for u in stage.git_repo_updates):
            out.append(
                Finding(
                    Check.REQUIRED_CHECKS,
                    Status.WARN,
                    f"stage {stage.name}",
                    f"{with_token[0]} acts with GITHUB_TOKEN, whose promotion PRs start no "
                    "workflow: SecurityScanPassed waits for a scan that never runs",
                    fix,
                )
            )
    return out


def _uses_github_token(wf: WorkflowFacts) -> bool:
    token = (wf.token_input or "").replace(" ", "")
    return not token or token in ("${{github.token}}", "${{secrets.GITHUB_TOKEN}}")


# --------------------------------------------------------------------------- gather


def gather(
    config: Config,
    forge: Forge,
    gitops: GitRepo,
    registry: Registry | None,
    workflows: Mapping[str, str],
    *,
    repository: str,
    state_branch: str,
) -> Facts:
    """Read every fact doctor needs; a fact that cannot be read is recorded, not raised,
    so one refused call never hides the other checks. ``workflows``: path -> text of the
    checkout's ``.github/workflows`` files."""
    facts = Facts(repository=repository, login=forge.whoami())
    facts.default_branch = forge.default_branch()
    try:
        facts.private = forge.is_private()
    except ShunterError:
        facts.private = None
    try:
        facts.actions = forge.actions_settings()
    except ShunterError:
        facts.actions = None
    for team in sorted({a.name for s in config.stages for a in _approvers(s) if a.type == "team"}):
        try:
            forge.team_members(team)
            facts.teams[team] = None
        except ShunterError as err:
            facts.teams[team] = str(err)
    branches = [facts.default_branch, state_branch]
    branches += [f"shunter/{s.name}" for s in config.stages if _uses_pull_requests(s)]
    for branch in dict.fromkeys(branches):
        try:
            facts.rules[branch] = forge.branch_rules(branch)
        except ShunterError as err:
            facts.rules[branch] = str(err)
    for path in (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"):
        try:
            text = gitops.read_file(facts.default_branch, path)
        except ShunterError:
            text = None
        if text is not None:
            facts.codeowners = parse_codeowners(text)
            break
    parsed, bad = [], []
    for path, text in sorted(workflows.items()):
        try:
            wf = parse_workflow(path, text)
        except (ValueError, yaml.YAMLError) as err:
            bad.append((path, str(err).splitlines()[0]))
            continue
        if wf is not None:
            parsed.append(wf)
    facts.workflows, facts.unreadable_workflows = tuple(parsed), tuple(bad)
    for sub in _images(config):
        if registry is None:
            break
        try:
            registry.list_tags(sub.repo_url)
            facts.registries[sub.repo_url] = (Status.OK, "tags listed")
        except PermanentError as err:
            facts.registries[sub.repo_url] = (Status.FAIL, str(err))
        except ShunterError as err:
            facts.registries[sub.repo_url] = (Status.WARN, str(err))
        host, _, path = sub.repo_url.partition("/")
        if host == "ghcr.io" and "/" in path:
            owner, _, name = path.partition("/")
            try:
                facts.packages[sub.repo_url] = forge.package_repository(owner, name)
            except PermanentError as err:
                facts.packages[sub.repo_url] = err
            except ShunterError:
                pass
    return facts


def _approvers(stage: Stage) -> Iterable[Any]:
    ap = stage.promotion_policy.approvals
    return ap.approvers if ap is not None and ap.required else ()


def _uses_pull_requests(stage: Stage) -> bool:
    return any(u.pull_request and u.repo_url is None for u in stage.git_repo_updates)


def _images(config: Config) -> list[ImageSubscription]:
    seen: dict[str, ImageSubscription] = {}
    for wh in config.warehouses:
        for sub in wh.subscriptions:
            if isinstance(sub, ImageSubscription):
                seen.setdefault(sub.repo_url, sub)
    return list(seen.values())


# --------------------------------------------------------------------------- diagnose


def diagnose(config: Config, facts: Facts, *, state_branch: str) -> tuple[Finding, ...]:
    """Every finding, in checklist order. Pure: reads only its arguments."""
    out: list[Finding] = []
    gh_token = _token_mode_is_github_token(facts)
    if gh_token and facts.login != ACTIONS_BOT:
        # Doctor runs as a person but the pipeline as GITHUB_TOKEN: what the person may
        # bypass says nothing about the pipeline, which bypasses nothing GitHub does not
        # let GitHub Actions bypass. Judge on the safe side.
        facts = replace(
            facts,
            rules={
                b: replace(r, can_bypass=False) if isinstance(r, BranchRules) else r
                for b, r in facts.rules.items()
            },
        )
    pr_stages = [s for s in config.stages if _uses_pull_requests(s)]
    out.append(_token_finding(facts, gh_token))
    out += _actions_findings(facts, gh_token, bool(pr_stages))
    out += _team_findings(config, facts, gh_token)
    out += _state_branch_findings(facts, state_branch)
    out += _promotion_branch_findings(facts, pr_stages)
    out += _main_findings(config, facts, gh_token, pr_stages)
    out += _workflow_findings(facts, config)
    out += _registry_findings(facts)
    return tuple(out)


def _token_finding(facts: Facts, gh_token: bool) -> Finding:
    if gh_token:
        return Finding(
            Check.TOKEN,
            Status.OK,
            "GITHUB_TOKEN",
            "the pipeline acts with GITHUB_TOKEN: no team approvers, no CI runs on "
            "promotion PRs, no ruleset bypass (README: Tokens)",
        )
    return Finding(
        Check.TOKEN,
        Status.OK,
        facts.login,
        f"the pipeline acts with its own token ({facts.login})",
    )


def _actions_findings(facts: Facts, gh_token: bool, opens_prs: bool) -> list[Finding]:
    where = "Settings > Actions > General > Workflow permissions"
    if facts.actions is None:
        return [
            Finding(
                Check.ACTIONS_PRS,
                Status.WARN,
                facts.repository,
                "could not read the Actions settings (they need administration: read)",
                f"a repository admin checks {where}: 'Allow GitHub Actions to create and "
                "approve pull requests' must be on when the pipeline uses GITHUB_TOKEN",
            )
        ]
    if not facts.actions.can_create_pull_requests and gh_token and opens_prs:
        return [
            Finding(
                Check.ACTIONS_PRS,
                Status.FAIL,
                facts.repository,
                "GitHub Actions may not create pull requests here, so no promotion PR can "
                "open (GitHub answers 403 whatever `pull-requests: write` says)",
                f"turn on 'Allow GitHub Actions to create and approve pull requests' in {where}, "
                "or give the Action a GitHub App token (`github-token`)",
            )
        ]
    state = (
        "may"
        if facts.actions.can_create_pull_requests
        else "may not (the pipeline does not need it)"
    )
    return [
        Finding(
            Check.ACTIONS_PRS,
            Status.OK,
            facts.repository,
            f"GitHub Actions {state} create pull requests; default GITHUB_TOKEN "
            f"permissions: {facts.actions.default_workflow_permissions}",
        )
    ]


def _team_findings(config: Config, facts: Facts, gh_token: bool) -> list[Finding]:
    out = []
    for team, error in sorted(facts.teams.items()):
        stages = [s.name for s in config.stages if any(a.name == team for a in _approvers(s))]
        subject = f"team {team} ({', '.join(stages)})"
        if gh_token:
            out.append(
                Finding(
                    Check.APPROVER_TEAMS,
                    Status.FAIL,
                    subject,
                    "GITHUB_TOKEN cannot read organisation teams: approvals from this team "
                    "never count, so the gate never opens",
                    "give the Action a GitHub App token with members: read (README: Tokens)",
                )
            )
        elif error:
            out.append(
                Finding(
                    Check.APPROVER_TEAMS,
                    Status.FAIL,
                    subject,
                    f"the token cannot read the team: {error}",
                    "grant the token members: read on the organisation, or fix the team name",
                )
            )
        else:
            out.append(Finding(Check.APPROVER_TEAMS, Status.OK, subject, "members readable"))
    return out


def _state_branch_findings(facts: Facts, branch: str) -> list[Finding]:
    rules = facts.rules.get(branch)
    if isinstance(rules, str) or rules is None:
        return [
            Finding(Check.STATE_BRANCH, Status.WARN, branch, f"could not read its rules: {rules}")
        ]
    fix = (
        f"add a branch ruleset for {branch} and shunter/* that restricts updates, creations "
        "and deletions, with the bot's identity (the GitHub App, or GitHub Actions) as the "
        "only bypass actor"
    )
    if not rules.restricts_push:
        return [
            Finding(
                Check.STATE_BRANCH,
                Status.WARN,
                branch,
                "anyone with write access can push to the ledger branch",
                fix,
            )
        ]
    if not rules.can_bypass:
        return [
            Finding(
                Check.STATE_BRANCH,
                Status.FAIL,
                branch,
                f"a ruleset restricts pushes ({', '.join(rules.sources)}) and {facts.login} "
                "may not bypass it: no run can record anything",
                "add the bot's identity as a bypass actor of that ruleset",
            )
        ]
    return [
        Finding(
            Check.STATE_BRANCH,
            Status.OK,
            branch,
            f"only bypass actors push ({', '.join(rules.sources)}); {facts.login} is one",
        )
    ]


def _promotion_branch_findings(facts: Facts, stages: list[Stage]) -> list[Finding]:
    out = []
    for stage in stages:
        branch = f"shunter/{stage.name}"
        rules = facts.rules.get(branch)
        if not isinstance(rules, BranchRules):
            continue
        blocked = (rules.restricts_push or rules.forbids_force_push) and not rules.can_bypass
        if blocked:
            what = "force pushes" if rules.forbids_force_push else "pushes"
            out.append(
                Finding(
                    Check.PROMOTION_BRANCHES,
                    Status.FAIL,
                    branch,
                    f"a rule forbids {what} to {branch} and {facts.login} may not bypass "
                    "it: Shunter rewrites this branch for each newer candidate",
                    "exempt shunter/* from that rule, or make the bot a bypass actor",
                )
            )
    return out


def _main_findings(
    config: Config, facts: Facts, gh_token: bool, stages: list[Stage]
) -> list[Finding]:
    main = facts.default_branch
    rules = facts.rules.get(main)
    if isinstance(rules, str) or rules is None:
        return [Finding(Check.MAIN_RULES, Status.WARN, main, f"could not read its rules: {rules}")]
    out: list[Finding] = []
    if not rules.protection_readable:
        out.append(
            Finding(
                Check.MAIN_RULES,
                Status.WARN,
                main,
                "classic branch protection is unreadable with this token (administration: "
                "read); rulesets were read",
                "run `shunter doctor` once with an admin's token to see both",
            )
        )
    if not stages:
        return out
    if rules.can_bypass:
        out.append(
            Finding(
                Check.MAIN_RULES,
                Status.OK,
                main,
                f"{facts.login} bypasses {main}'s rules ({', '.join(rules.sources)}): "
                "Shunter's own gates decide each stage",
            )
        )
    else:
        for stage in stages:
            out.append(_stage_vs_main(stage, rules, facts))
    own = set(SHUNTER_CHECKS)
    for check in rules.required_checks:
        if check in own:
            out.append(
                Finding(
                    Check.REQUIRED_CHECKS,
                    Status.OK,
                    f"{main}: {check}",
                    "Shunter publishes it on every PR into "
                    f"{main}: promotions pass when their gates hold, other PRs when they "
                    "leave the promoted values alone",
                )
            )
            continue
        if check == PREVIOUS_GATE_CHECK:
            out.append(
                Finding(
                    Check.REQUIRED_CHECKS,
                    Status.FAIL,
                    f"{main}: {check}",
                    f"{main} requires check {check}, Shunter's old name for its gate check:"
                    " nothing publishes it any more, so no PR can merge",
                    f"require {GATE_CHECK} in its place (branch protection or ruleset of {main})",
                )
            )
            continue
        if gh_token and not rules.can_bypass:
            out.append(
                Finding(
                    Check.REQUIRED_CHECKS,
                    Status.FAIL,
                    f"{main}: {check}",
                    f"{main} requires check {check}, which never runs on a promotion PR "
                    "opened with GITHUB_TOKEN (its events start no workflows)",
                    "give the Action a GitHub App token, or add the bot as a bypass actor",
                )
            )
        else:
            out.append(
                Finding(
                    Check.REQUIRED_CHECKS,
                    Status.OK,
                    f"{main}: {check}",
                    "runs on promotion PRs (they are opened with a token whose events "
                    "start workflows)",
                )
            )
    return out


def _stage_vs_main(stage: Stage, rules: BranchRules, facts: Facts) -> Finding:
    main = rules.branch
    ap = stage.promotion_policy.approvals
    quorum = ap.minimum_approvals if ap is not None and ap.required else 0
    subject = f"stage {stage.name}"
    owners = ""
    if rules.code_owner_review and facts.codeowners is not None:
        names = sorted({o for p in managed_paths(stage) for o in facts.codeowners.owners(p)})
        owners = ", ".join(names)
    fix = (
        f"either give the bot a bypass of {main}'s rules (a ruleset bypass actor) and keep "
        "the stage's approvals as the gate, or scope CODEOWNERS to the stage's folder so "
        "the right people review it (README: Protected main)"
    )
    needs_people = rules.required_approvals > 0 or bool(owners)
    if not needs_people:
        return Finding(
            Check.MAIN_RULES,
            Status.OK,
            subject,
            f"{main} asks no review of its PRs"
            + ("" if not rules.required_checks else "; required checks below"),
        )
    wants = f"{rules.required_approvals} approving review(s)" if rules.required_approvals else ""
    if owners:
        wants = (wants + " and " if wants else "") + f"a code owner's approval ({owners})"
    if not quorum:
        return Finding(
            Check.MAIN_RULES,
            Status.FAIL,
            subject,
            f"{stage.name} promotes without approvals, but {main} requires {wants}: every "
            "promotion PR waits for a person",
            fix,
        )
    if rules.required_approvals > quorum:
        return Finding(
            Check.MAIN_RULES,
            Status.WARN,
            subject,
            f"{main} requires {wants}, more than the stage's {quorum}: GitHub's number wins",
            fix,
        )
    return Finding(
        Check.MAIN_RULES,
        Status.OK,
        subject,
        f"{main} requires {wants}; the stage asks {quorum} of its approvers, "
        "and Shunter merges when both hold",
    )


def _workflow_findings(facts: Facts, config: Config) -> list[Finding]:
    out: list[Finding] = [
        Finding(Check.WORKFLOW, Status.FAIL, path, f"unreadable YAML: {err}", "fix the file")
        for path, err in facts.unreadable_workflows
    ]
    if not facts.workflows:
        out.append(
            Finding(
                Check.WORKFLOW,
                Status.FAIL,
                ".github/workflows",
                "no workflow runs Shunter",
                "copy examples/flask-app/.github/workflows/shunter.yml",
            )
        )
        return out
    for wf in facts.workflows:
        out += _triggers(wf)
        needed = _permissions(wf, facts.actions)
        out.append(needed)
        if needed.status is Status.OK:  # otherwise that finding already says what to add
            out += _feature_permissions(wf, config)
        out += _concurrency(wf)
        out.append(_cost(wf, facts.private))
    return out


def _triggers(wf: WorkflowFacts) -> list[Finding]:
    out = []
    for trigger in wf.triggers:
        if trigger in NOT_TRIGGERS:
            out.append(
                Finding(
                    Check.TRIGGERS,
                    Status.FAIL,
                    f"{wf.path}: on.{trigger}",
                    f"`{trigger}` is not a workflow trigger: GitHub rejects the whole file",
                    f"use `{NOT_TRIGGERS[trigger]}` instead",
                )
            )
        if trigger == "pull_request_target":
            out.append(
                Finding(
                    Check.TRIGGERS,
                    Status.FAIL,
                    f"{wf.path}: on.pull_request_target",
                    "runs with write access on PRs from forks",
                    "check PRs with `pull_request`, and act on fork PRs from a `workflow_run` "
                    "workflow that never checks out their code (README: Forks)",
                )
            )
    if not wf.crons:
        out.append(
            Finding(
                Check.TRIGGERS,
                Status.WARN,
                f"{wf.path}: on.schedule",
                "no schedule: a missed event is never caught up",
                'add a modest schedule, e.g. `- cron: "17 * * * *"`',
            )
        )
    if not out:
        out.append(
            Finding(Check.TRIGGERS, Status.OK, wf.path, "triggers: " + ", ".join(wf.triggers))
        )
    return out


def _permissions(wf: WorkflowFacts, actions: ActionsSettings | None) -> Finding:
    if not _uses_github_token(wf):
        return Finding(
            Check.PERMISSIONS,
            Status.OK,
            wf.path,
            "Shunter acts with the token the workflow passes; its own permissions apply",
        )
    perms = wf.permissions
    if perms is None:
        default = actions.default_workflow_permissions if actions else None
        if default == "write":
            return Finding(
                Check.PERMISSIONS,
                Status.WARN,
                wf.path,
                "no `permissions:`; the repository default (write) is broader than needed",
                "declare the job's permissions (see the example workflow)",
            )
        return Finding(
            Check.PERMISSIONS,
            Status.FAIL if default == "read" else Status.WARN,
            wf.path,
            "no `permissions:`, and the repository default "
            + ("is read-only: no push, no PR" if default == "read" else "could not be read"),
            "give the job contents, pull-requests and checks: write",
        )
    if perms == "write-all":
        return Finding(Check.PERMISSIONS, Status.OK, wf.path, "write-all (broader than needed)")
    if isinstance(perms, str):
        missing = list(NEEDED_PERMISSIONS)
    else:
        missing = [k for k, v in NEEDED_PERMISSIONS.items() if perms.get(k) != v]
    if missing:
        return Finding(
            Check.PERMISSIONS,
            Status.FAIL,
            wf.path,
            "the Shunter job lacks " + ", ".join(f"{k}: write" for k in missing),
            "add them to the job's `permissions:`",
        )
    return Finding(Check.PERMISSIONS, Status.OK, wf.path, "contents, pull-requests, checks: write")


def _feature_permissions(wf: WorkflowFacts, config: Config) -> list[Finding]:
    """What some features need beyond ``NEEDED_PERMISSIONS``, each said once when the
    ``GITHUB_TOKEN`` job lacks it: a person's operations (``workflow_dispatch``) attest
    their grant as a commit status, verification workflows are dispatched, and landed
    promotions become Deployments (skipped quietly without the permission, so a warning:
    ``githubDeployments: false`` says it on purpose)."""
    perms = wf.permissions
    if not _uses_github_token(wf) or not isinstance(perms, Mapping):
        return []  # write-all, read-all or none: _permissions said what that means
    wants: list[tuple[str, Status, str]] = []
    if wf.dispatch:
        wants.append(
            ("statuses", Status.FAIL, "`approve` and emergency `promote` cannot attest who asked")
        )
    if any(t.workflow is not None for t in config.analysis_templates):
        wants.append(("actions", Status.FAIL, "verification workflows cannot be started"))
    if config.settings.github_deployments is not False:
        wants.append(
            (
                "deployments",
                Status.WARN,
                "promotions are not recorded as GitHub Deployments"
                " (or set githubDeployments: false)",
            )
        )
    return [
        Finding(
            Check.PERMISSIONS,
            status,
            wf.path,
            f"the Shunter job lacks {perm}: write: {why}",
            f"add `{perm}: write` to the job's `permissions:`",
        )
        for perm, status, why in wants
        if perms.get(perm) != "write"
    ]


def _concurrency(wf: WorkflowFacts) -> list[Finding]:
    out = []
    for level, group, cancel in wf.concurrency:
        if cancel:
            out.append(
                Finding(
                    Check.CONCURRENCY,
                    Status.FAIL,
                    f"{wf.path}: {level} concurrency",
                    "cancel-in-progress stops a run half-way through a promotion",
                    "drop `cancel-in-progress` (Shunter's writes are compare-and-swap safe)",
                )
            )
        elif wf.dispatch and not _dispatch_has_own_group(group):
            out.append(
                Finding(
                    Check.CONCURRENCY,
                    Status.FAIL,
                    f"{wf.path}: {level} concurrency",
                    f"group {group!r} is shared by every event: GitHub keeps one pending run "
                    "and cancels it for a newer one, so a queued emergency dispatch is lost "
                    "to the next schedule tick or review",
                    "remove the group (runs are safe side by side), or key it on the event: "
                    "`group: shunter-${{ github.event_name == 'workflow_dispatch' && "
                    "github.run_id || 'events' }}`",
                )
            )
    if not out:
        out.append(
            Finding(
                Check.CONCURRENCY,
                Status.OK,
                wf.path,
                "no run can cancel a queued emergency dispatch",
            )
        )
    return out


def _dispatch_has_own_group(group: str) -> bool:
    """A group expression that differs per dispatch: it names the run or the event."""
    compact = group.replace(" ", "")
    return "github.run_id" in compact or "github.event_name" in compact


def _cost(wf: WorkflowFacts, private: bool | None) -> Finding:
    if not wf.crons:
        return Finding(Check.COST, Status.OK, wf.path, "no schedule: minutes only per event")
    minutes = sum(monthly_minutes(c) for c in wf.crons)
    crons = ", ".join(repr(c) for c in wf.crons)
    detail = f"{crons} bills about {minutes:,} minutes a month (each run rounds up to 1 minute)"
    if private is False:
        return Finding(Check.COST, Status.OK, wf.path, detail + "; free in a public repository")
    if minutes > FREE_PRIVATE_MINUTES:
        return Finding(
            Check.COST,
            Status.WARN,
            wf.path,
            detail + f", more than GitHub Free's {FREE_PRIVATE_MINUTES:,} for private repositories",
            'lean on events and schedule hourly (`"17 * * * *"`: about 720 minutes)',
        )
    return Finding(Check.COST, Status.OK, wf.path, detail)


def _registry_findings(facts: Facts) -> list[Finding]:
    out = []
    for url, (status, detail) in sorted(facts.registries.items()):
        fix = (
            "check the image name and the credentials the subscription names "
            "(credentialsEnv: <PREFIX>_USERNAME/_PASSWORD; GHCR: packages: read)"
            if status is not Status.OK
            else ""
        )
        out.append(Finding(Check.REGISTRY, status, url, detail, fix))
    notify = (
        "add the `mode: notify` step of the Shunter action to the image's build workflow "
        "(README: Events)"
    )
    for url, linked in sorted(facts.packages.items()):
        if isinstance(linked, PermanentError):
            out.append(
                Finding(
                    Check.PACKAGE_LINK,
                    Status.WARN,
                    url,
                    f"could not read the package: {linked}",
                    notify,
                )
            )
        elif linked and linked.lower() == facts.repository.lower():
            out.append(
                Finding(
                    Check.PACKAGE_LINK,
                    Status.OK,
                    url,
                    f"linked to {linked}: registry_package events arrive (not for pushes "
                    "made with GITHUB_TOKEN)",
                )
            )
        else:
            where = f"linked to {linked}" if linked else "linked to no repository"
            out.append(
                Finding(
                    Check.PACKAGE_LINK,
                    Status.WARN,
                    url,
                    f"{where}: its registry_package events never reach this repository; "
                    "new tags wait for the schedule",
                    notify,
                )
            )
    return out


# --------------------------------------------------------------------------- render


_MARK = {Status.OK: "[ok]  ", Status.WARN: "[warn]", Status.FAIL: "[FAIL]"}


def render(findings: Iterable[Finding], fmt: str = "text") -> str:
    """The checklist as text (one line per finding, its fix indented below) or JSON."""
    items = list(findings)
    if fmt == "json":
        return json.dumps(
            [
                {
                    "check": f.check.value,
                    "status": f.status.value.lower(),
                    "subject": f.subject,
                    "detail": f.detail,
                    "fix": f.fix,
                }
                for f in items
            ],
            indent=2,
        )
    lines = []
    for f in items:
        lines.append(f"{_MARK[f.status]} {f.check.value}: {f.subject}: {f.detail}")
        if f.fix and f.status is not Status.OK:
            lines.append(f"         fix: {f.fix}")
    fails = sum(f.status is Status.FAIL for f in items)
    warns = sum(f.status is Status.WARN for f in items)
    lines.append(
        f"{fails} problem(s) that stall the pipeline, {warns} warning(s)"
        if fails or warns
        else "all checks passed"
    )
    return "\n".join(lines)


def markdown(findings: Iterable[Finding]) -> str:
    """The checklist for the step summary."""
    rows = ["| | Check | Subject | Finding | Fix |", "|---|---|---|---|---|"]
    icon = {Status.OK: "✅", Status.WARN: "⚠️", Status.FAIL: "❌"}
    for f in findings:
        cells = [icon[f.status], f.check.value, f.subject, f.detail, f.fix]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "### shunter doctor\n\n" + "\n".join(rows) + "\n"

"""Observing what the gates need: health, verification runs, incidents, checks, time zones.

Called by the reconcile loop each round. Every look-up that fails becomes a typed
:class:`~bot.core.decide.outcomes.Failure`: in place of the value, where the planner reads
it as "not known" (and so fails closed), and in the run's errors; one failing provider
never stops the others.

Nothing here builds an adapter or sees a secret: the providers arrive as ports
(:class:`GatePorts`, which the loop's ``World`` satisfies), wired by the CLI. A gate
whose provider is missing is "not known", never passed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Protocol

from bot.core.decide.observations import CheckRun, HealthReport, PromotionPR, StepRun
from bot.core.decide.outcomes import Failure, FailureKind, Subject, System
from bot.core.decide.verification import verification_marker
from bot.core.ledger import Ledger
from bot.core.model import Config, Stage
from bot.errors import ConfigError, PermanentError, ShunterError, TransientError
from bot.ports import (
    ApplicationHealth,
    Forge,
    GitRepo,
    HttpErrorKind,
    HttpPermanentError,
    HttpProbe,
    IncidentSource,
)

if TYPE_CHECKING:
    from bot.core.codeowners import CodeOwners
    from bot.core.decide.mainrules import BranchRules


class GatePorts(Protocol):
    """The providers the gates read, ``None`` where none is wired this run."""

    @property
    def applications(self) -> ApplicationHealth | None: ...

    @property
    def http(self) -> HttpProbe | None: ...

    @property
    def incidents(self) -> IncidentSource | None: ...


def _missing(what: str) -> PermanentError:
    return PermanentError(f"no {what} client is wired into this run")


def failure(
    exc: Exception, system: System, subject: Subject | None = None, *, step: str = ""
) -> Failure:
    """The typed failure for an error raised while talking to ``system``.

    A ``TransientError`` goes away by itself (the next run retries), a ``ConfigError`` or a
    refused or missing credential (``HttpErrorKind.AUTH``) needs the config or a secret
    fixed, anything else needs a person.
    """
    kind = FailureKind.PERMANENT
    if isinstance(exc, TransientError):
        kind = FailureKind.TRANSIENT
    elif isinstance(exc, ConfigError) or (
        isinstance(exc, HttpPermanentError) and exc.kind is HttpErrorKind.AUTH
    ):
        # A refused or missing credential is fixed by changing a secret or the config.
        kind = FailureKind.MISCONFIGURED
    return Failure(kind, system, str(exc), subject, step)


@dataclass
class GateObservations:
    health: dict[str, HealthReport] = field(default_factory=dict)
    verification: dict[str, dict[str, StepRun]] = field(default_factory=dict)
    incidents: dict[str, tuple[str, ...] | Failure] = field(default_factory=dict)
    checks: dict[str, tuple[CheckRun, ...] | Failure] = field(default_factory=dict)
    code_scanning: dict[str, int | Failure] = field(default_factory=dict)
    timezones: dict[str, tzinfo] = field(default_factory=dict)


def timezones(config: Config) -> dict[str, tzinfo]:
    """Every time zone the config names, resolved (an unknown one is left out: UTC)."""
    names = {"UTC"}
    for s in config.stages:
        if s.promotion_policy.timezone:
            names.add(s.promotion_policy.timezone)
        names |= {c.timezone for c in s.promotion_policy.conditions if c.timezone}
    out: dict[str, tzinfo] = {"UTC": UTC}
    if names == {"UTC"}:
        return out  # zoneinfo (and its tz database lookups) only for a config that names one
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for n in names - {"UTC"}:
        try:
            out[n] = ZoneInfo(n)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return out


def _health(stage: Stage, forge: Forge | None, ports: GatePorts) -> HealthReport | None:
    h = stage.health
    if h is None:
        return None
    reports: list[HealthReport] = []
    if h.argocd is not None:
        if ports.applications is None:
            raise _missing("Argo CD")
        reports.append(ports.applications.health(h.argocd))
    if h.github_deployment is not None:
        if forge is None:
            reports.append(HealthReport(False, "GitHub deployment status needs the GitHub API"))
        else:
            reports.append(forge.deployment_health(h.github_deployment.environment))
    if h.http is not None:
        if ports.http is None:
            raise _missing("HTTP")
        reports.append(ports.http.health(h.http))
    if not reports:
        return None
    revision = next((r.revision for r in reports if r.revision), None)
    return HealthReport(
        healthy=all(r.healthy for r in reports),
        message="; ".join(r.message for r in reports),
        revision=revision,
    )


def observe_gates(
    config: Config,
    ledger: Ledger,
    prs: Mapping[str, PromotionPR],
    forge: Forge | None,
    ports: GatePorts,
    errors: list[Failure],
) -> GateObservations:
    """Look up what the stages' gates and verifications need this round."""
    out = GateObservations(timezones=timezones(config))
    for stage in config.stages:
        me = Subject.stage(stage.name)
        try:
            report = _health(stage, forge, ports)
            if report is not None:
                out.health[stage.name] = report
        except ShunterError as exc:
            out.health[stage.name] = HealthReport(False, f"health unknown: {exc}")
            errors.append(failure(exc, System.HEALTH, me))
        _verification(config, stage, ledger, forge, ports.http, out, errors)
        seen = prs.get(stage.name)
        conditions = {c.type for c in stage.promotion_policy.conditions}
        approvals = stage.promotion_policy.approvals
        wants_checks = "SecurityScanPassed" in conditions or (
            approvals is not None and approvals.required
        )
        if forge is not None and seen is not None and seen.pr.state == "open" and wants_checks:
            try:
                out.checks[stage.name] = forge.check_runs(seen.pr.head_sha)
            except ShunterError as exc:
                out.checks[stage.name] = failure(exc, System.GITHUB, me)
            if "SecurityScanPassed" in conditions:
                try:
                    out.code_scanning[stage.name] = forge.open_code_scanning_alerts(
                        f"refs/pull/{seen.pr.number}/head"
                    )
                except ShunterError as exc:
                    out.code_scanning[stage.name] = failure(exc, System.GITHUB, me)
    if uses_pagerduty(config):
        out.incidents["pagerduty"] = _pagerduty(config, ports.incidents)
    return out


def uses_pagerduty(config: Config) -> bool:
    """Whether any stage's ``NoActiveIncidents`` condition asks PagerDuty."""
    return any(
        c.type == "NoActiveIncidents" and "pagerduty" in (c.integrations or ("pagerduty",))
        for s in config.stages
        for c in s.promotion_policy.conditions
    )


def _pagerduty(config: Config, source: IncidentSource | None) -> tuple[str, ...] | Failure:
    try:
        if source is None:
            raise _missing("PagerDuty")
        return source.active_incidents(config.settings.pagerduty.service_ids)
    except ShunterError as exc:
        return failure(exc, System.PAGERDUTY)


def _verification(
    config: Config,
    stage: Stage,
    ledger: Ledger,
    forge: Forge | None,
    http: HttpProbe | None,
    out: GateObservations,
    errors: list[Failure],
) -> None:
    rec = ledger.stages.get(stage.name)
    v = rec.verification if rec else None
    if v is None or v.result is not None or stage.verification is None:
        return
    runs: dict[str, StepRun] = {}
    for step in stage.verification.steps:
        st = v.steps.get(step.name)
        if st is None or st.state != "running" or st.started_at is None:
            continue
        template = config.analysis_template(step.analysis_template)
        try:
            if template is not None and template.http is not None:
                if http is None:
                    raise _missing("HTTP")
                run = http.run(template.http, timeout=template.timeout.total_seconds())
                runs[step.name] = StepRun(step.name, run.state, run.message, run.url, run.run_id)
                continue
            if forge is None:
                continue
            if st.run_id:
                runs[step.name] = forge.workflow_run(st.run_id)
            else:
                file = (
                    template.workflow.file
                    if template is not None and template.workflow is not None
                    else f"{step.analysis_template}.yml"
                )
                marker = verification_marker(stage.name, step.name, v.freight, st.started_at)
                found = forge.find_workflow_run(file, marker=marker, created_after=st.started_at)
                if found is not None:
                    runs[step.name] = found
        except ShunterError as exc:
            errors.append(
                failure(exc, System.VERIFICATION, Subject.stage(stage.name), step=step.name)
            )
    if runs:
        out.verification[stage.name] = runs


def observe_main_rules(
    config: Config,
    prs: dict[str, PromotionPR],
    forge: Forge,
    gitops: GitRepo | None,
    teams: dict[str, frozenset[str] | Failure],
    checks: dict[str, tuple[CheckRun, ...] | Failure],
) -> tuple[dict[str, BranchRules | Failure], CodeOwners | None]:
    """The rules of each open promotion PR's base branch (read once per branch), and what
    those rules need: the PR head's check runs, CODEOWNERS and its teams' members, added
    to ``checks`` and ``teams`` in place. A rule that cannot be read is a ``Failure`` the
    gate reads as unknown; GitHub still enforces it at merge time."""
    from bot.core.codeowners import CODEOWNERS_PATHS, parse_codeowners
    from bot.core.decide.mainrules import BranchRules

    rules: dict[str, BranchRules | Failure] = {}
    owners: CodeOwners | None = None
    for stage in config.stages:
        seen = prs.get(stage.name)
        if seen is None or seen.pr.state != "open":
            continue
        me = Subject.stage(stage.name)
        base = seen.pr.base_branch
        if base not in rules:
            try:
                rules[base] = forge.branch_rules(base)
            except ShunterError as exc:
                rules[base] = failure(exc, System.GITHUB, me)
        found = rules[base]
        if isinstance(found, BranchRules) and not found.protection_readable:
            # Classic protection is hidden from this token: GitHub's own word on this
            # PR (its mergeable_state, which only a single PR's GET carries) stands in.
            # Unread, GitHub's answer to the merge stays the last word, as before.
            with contextlib.suppress(ShunterError):
                prs[stage.name] = replace(seen, pr=forge.pull_request(seen.pr.number))
        if not isinstance(found, BranchRules) or found.can_bypass or not found.restricts_merge:
            continue
        if found.required_checks and stage.name not in checks:
            try:
                checks[stage.name] = forge.check_runs(seen.pr.head_sha)
            except ShunterError as exc:
                checks[stage.name] = failure(exc, System.GITHUB, me)
        if found.code_owner_review and owners is None and gitops is not None:
            for path in CODEOWNERS_PATHS:
                try:
                    text = gitops.read_file(base, path)
                except ShunterError:
                    text = None
                if text is not None:
                    owners = parse_codeowners(text)
                    break
            for team in owners.teams() if owners is not None else ():
                if team not in teams:
                    try:
                        teams[team] = forge.team_members(team)
                    except ShunterError as exc:
                        teams[team] = failure(exc, System.GITHUB, me)
    return rules, owners

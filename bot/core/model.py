"""The config model: frozen values the parser builds from the ``kargo/`` folder.

Nothing past ``bot.core.config`` (the parser) sees raw YAML: every field has a type and a
default here, in one place. Field names are Python spellings of the YAML keys; where the
seed guide and real Kargo spell a thing differently, the parser maps both onto one field.

Durations are ``timedelta``; optional things are ``None`` (never an empty string).
Each top-level object keeps the ``Location`` of its document, so later errors (a
dangling reference found by the planner, say) can still point at a file and line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

API_VERSION = "kargo.akuity.io/v1alpha1"


@dataclass(frozen=True)
class Location:
    """Where a value was written: file (as given to the parser), 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# --------------------------------------------------------------------------- warehouses

ImageSelectionStrategy = Literal["SemVer", "Lexical", "NewestBuild", "Digest"]
CommitSelectionStrategy = Literal["NewestFromBranch", "SemVer", "Lexical", "NewestTag"]


@dataclass(frozen=True)
class Webhook:
    """``subscriptions[].image.webhook``: refresh at once when GitHub says something changed."""

    enabled: bool = False
    repository: str | None = None  # webhook.github.repository, "owner/name"
    events: tuple[str, ...] = ()  # webhook.github.events, e.g. ("push", "release")


@dataclass(frozen=True)
class ImageSubscription:
    """``subscriptions[].image``: a container image repository to watch."""

    repo_url: str  # repoURL, e.g. "ghcr.io/alkon/flask-app" (no scheme, no tag)
    semver_constraint: str | None = None  # semverConstraint / constraint
    strategy: ImageSelectionStrategy = "SemVer"  # imageSelectionStrategy
    discovery_limit: int = 20  # discoveryLimit (1..100)
    cache_ttl: timedelta | None = None  # cacheTTL
    allow_tags: tuple[str, ...] = ()  # allowTags (one regex) / allowTagsRegexes
    ignore_tags: tuple[str, ...] = ()  # ignoreTags (exact tags) / ignoreTagsRegexes
    ignore_tags_regexes: tuple[str, ...] = ()
    strict_semvers: bool = True  # strictSemvers
    platform: str | None = None  # platform, e.g. "linux/amd64"
    insecure_skip_tls_verify: bool = False  # insecureSkipTLSVerify
    credentials_env: str | None = None  # Shunter: env var prefix holding USERNAME/PASSWORD
    webhook: Webhook | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ChartSubscription:
    """``subscriptions[].chart``: a Helm chart in an HTTP or OCI chart repository."""

    repo_url: str  # repoURL: https://charts.example.com or oci://ghcr.io/org/charts
    name: str | None = None  # name (required for HTTP repositories)
    semver_constraint: str | None = None
    discovery_limit: int = 20
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GitSubscription:
    """``subscriptions[].git``: commits or tags of a git repository."""

    repo_url: str
    branch: str | None = None
    strategy: CommitSelectionStrategy = "NewestFromBranch"  # commitSelectionStrategy
    semver_constraint: str | None = None
    allow_tags: tuple[str, ...] = ()
    ignore_tags: tuple[str, ...] = ()
    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    discovery_limit: int = 20
    location: Location | None = field(default=None, compare=False)


Subscription = ImageSubscription | ChartSubscription | GitSubscription


@dataclass(frozen=True)
class Retention:
    """``spec.retention`` of a warehouse (the seed shows it beside the subscriptions)."""

    max_artifacts: int | None = None  # maxArtifacts
    max_age: timedelta | None = None  # maxAge


@dataclass(frozen=True)
class Warehouse:
    name: str
    subscriptions: tuple[Subscription, ...]
    retention: Retention = Retention()
    interval: timedelta | None = None  # spec.interval (Kargo); Shunter polls on its schedule
    # spec.freightCreationPolicy (Kargo): "Manual" means discovery records no new freight.
    freight_creation_policy: Literal["Automatic", "Manual"] = "Automatic"
    annotations: tuple[tuple[str, str], ...] = ()
    location: Location | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class FreightRequest:
    """Where a stage takes freight from.

    The seed's ``subscriptions: {warehouse: flask-app}`` is ``direct=True``; Kargo's
    ``subscriptions: {upstreamStages: [{name: dev}]}`` and
    ``requestedFreight: [{origin: ..., sources: {direct, stages}}]`` map here too.
    """

    warehouse: str
    direct: bool = True
    upstream_stages: tuple[str, ...] = ()
    #: ``sources.requiredSoakTime``: how long freight must have run, verified, in an
    #: upstream stage before it is available from there.
    required_soak_time: timedelta = timedelta(0)
    #: ``sources.availabilityStrategy``: ``OneOf`` (Kargo's default) takes freight verified
    #: in any upstream stage listed, ``All`` only freight verified in every one.
    availability: Literal["OneOf", "All"] = "OneOf"
    #: ``sources.autoPromotionOptions.selectionPolicy``: ``NewestFreight`` (the default), or
    #: ``MatchUpstream``: auto-promotion takes what the single upstream stage runs.
    selection_policy: Literal["NewestFreight", "MatchUpstream"] = "NewestFreight"


ConditionType = Literal[
    "HealthyFor",
    "BusinessHoursOnly",
    "VerificationPassed",
    "SecurityScanPassed",
    "NoActiveIncidents",
]


@dataclass(frozen=True)
class Condition:
    """``promotionPolicy.conditions[]``: one gate a promotion must pass."""

    type: ConditionType
    duration: timedelta | None = None  # HealthyFor
    schedule: str | None = None  # BusinessHoursOnly: cron; default "0 9-17 * * MON-FRI"
    timezone: str | None = None  # IANA name; default UTC
    window: timedelta | None = None  # how long a schedule slot stays open
    status: str = "True"  # VerificationPassed / SecurityScanPassed
    integrations: tuple[str, ...] = ()  # NoActiveIncidents: ("pagerduty",)
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Approver:
    type: Literal["team", "user"]
    name: str  # a user login, or a team slug ("platform-team" or "org/platform-team")


@dataclass(frozen=True)
class Approvals:
    """``promotionPolicy.approvals``: Shunter's multi-approver gate."""

    required: bool = False
    approvers: tuple[Approver, ...] = ()
    minimum_approvals: int = 1  # minimumApprovals
    timeout: timedelta | None = None


@dataclass(frozen=True)
class PromotionPolicy:
    auto_promotion_enabled: bool = False  # autoPromotionEnabled
    auto_promotion_delay: timedelta = timedelta(0)  # autoPromotionDelay
    paused: bool = False
    conditions: tuple[Condition, ...] = ()
    approvals: Approvals | None = None
    schedule: str | None = None  # "Custom Promotion Schedule": cron of allowed slots
    timezone: str | None = None
    schedule_window: timedelta = timedelta(hours=1)  # scheduleWindow: how long a slot stays open


@dataclass(frozen=True)
class VerificationStep:
    name: str
    analysis_template: str  # analysisTemplate.name


@dataclass(frozen=True)
class Verification:
    parallel: bool = False
    steps: tuple[VerificationStep, ...] = ()
    #: ``args`` (Kargo's): (name, value) given to every workflow step as a
    #: ``workflow_dispatch`` input, over the template's own ``inputs`` of that name.
    args: tuple[tuple[str, str], ...] = ()


ImageValue = Literal["Tag", "Digest", "ImageAndTag", "ImageAndDigest"]


@dataclass(frozen=True)
class KustomizeImageUpdate:
    """Set ``images[]`` of ``<path>/kustomization.yaml`` for one image."""

    image: str  # the subscription's repoURL
    path: str  # folder holding kustomization.yaml, relative to the repo root
    use_digest: bool = False


@dataclass(frozen=True)
class YamlValueUpdate:
    """Set one key of a YAML file (Helm ``values.yaml`` ``image.tag``, say)."""

    file: str  # valuesFilePath / path
    key: str  # dotted key path, e.g. "image.tag"
    image: str | None = None  # which image's value goes there (None: the only image)
    value: ImageValue = "Tag"
    literal: str | None = None  # a fixed value instead of the image's (yaml-update step)


@dataclass(frozen=True)
class ProgramStep:
    """One Kargo promotion step that runs at promotion time (an edit or ``git-commit``).

    Route steps (clone, push, open and wait for a PR) are settled by the parser into the
    ``GitRepoUpdate`` around the program; these are the steps whose values depend on
    the freight. Every string in ``config`` is the source of a ``${{ }}`` template.
    """

    uses: str  # the step kind (bot.core.promote.steps.KINDS)
    alias: str  # ``as``, or step-<n>; inside a task, "<task step alias>::<alias>"
    config: object  # the step module's frozen Config value
    task: str = ""  # the alias of the task step that brought it in ("" for none)
    local: str = ""  # its alias inside that task (what task.outputs[...] names)
    when: str | None = None  # ``if:``, when it depends on the freight (else settled)
    continue_on_error: bool = False  # continueOnError: a failing edit is skipped
    vars: tuple[tuple[str, str], ...] = ()  # (name, source) in scope order, later wins
    file: str | None = None  # the repository file an edit step rewrites
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StepProgram:
    """A stage's Kargo 1.x steps as Shunter runs them: edits in order, then the message."""

    steps: tuple[ProgramStep, ...]
    project: str = ""  # ctx.project


@dataclass(frozen=True)
class GitRepoUpdate:
    """One ``gitRepoUpdates[]`` entry (or the steps of a ``promotionTemplate``)."""

    repo_url: str | None = None  # None: the repository Shunter runs in
    write_branch: str | None = None  # None: the repository's default branch
    pull_request: bool = True  # False: push straight to write_branch ("direct")
    commit_message_template: str | None = None
    kustomize: tuple[KustomizeImageUpdate, ...] = ()
    yaml: tuple[YamlValueUpdate, ...] = ()
    # Kargo 1.x steps: ``git-clone``'s repoURL, which a run checks is the repository it
    # runs in (any spelling), and the steps that run at promotion time.
    clone_url: str | None = None
    program: StepProgram | None = None


@dataclass(frozen=True)
class ArgoCDHealth:
    """``spec.health.argocd``: an Argo CD application's health and sync status."""

    server: str  # https://argocd.example.com (http only for loopback)
    app: str  # application name
    namespace: str | None = None  # appNamespace, for apps outside argocd's namespace
    token_env: str = "ARGOCD_AUTH_TOKEN"  # noqa: S105 - the name of an env var, not a secret


@dataclass(frozen=True)
class DeploymentHealth:
    """``spec.health.githubDeployment``: the latest GitHub deployment status of an environment."""

    environment: str


@dataclass(frozen=True)
class HttpHealth:
    """``spec.health.http``: a URL that answers one of ``expect_status`` when healthy."""

    url: str
    expect_status: tuple[int, ...] = (200,)
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class HealthCheck:
    """``spec.health``: how Shunter tells whether a stage is healthy (any set provider counts;
    all that are set must report healthy)."""

    argocd: ArgoCDHealth | None = None
    github_deployment: DeploymentHealth | None = None
    http: HttpHealth | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    requested_freight: tuple[FreightRequest, ...]
    promotion_policy: PromotionPolicy = PromotionPolicy()
    verification: Verification | None = None
    git_repo_updates: tuple[GitRepoUpdate, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()  # kargo.akuity.io/color, description, icon
    health: HealthCheck | None = None  # spec.health (Shunter)
    location: Location | None = field(default=None, compare=False)

    def annotation(self, key: str) -> str | None:
        """Return the annotation ``key`` or ``None``."""
        return dict(self.annotations).get(key)


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class WorkflowCheck:
    """Run ``.github/workflows/<file>`` through ``workflow_dispatch`` and follow the run."""

    file: str
    ref: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HttpCheck:
    url: str
    method: str = "GET"
    expect_status: tuple[int, ...] = (200,)
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AnalysisTemplate:
    """Shunter's ``kind: AnalysisTemplate``: what a verification step runs."""

    name: str
    workflow: WorkflowCheck | None = None
    http: HttpCheck | None = None
    timeout: timedelta = timedelta(minutes=30)
    location: Location | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class Monitoring:
    """The seed's ``monitoring: {enabled, serviceMonitor: {enabled}}``."""

    enabled: bool = False
    service_monitor: bool = False


@dataclass(frozen=True)
class PagerDuty:
    """``ProjectConfig`` ``spec.integrations.pagerduty``: which incidents block promotions."""

    token_env: str = "PAGERDUTY_TOKEN"  # noqa: S105 - the name of an env var, not a secret
    service_ids: tuple[str, ...] = ()  # empty: every service the key can see
    api_url: str = "https://api.pagerduty.com"


@dataclass(frozen=True)
class DiscoveryLimits:
    """``ProjectConfig`` ``spec.discovery``: how much one run may ask the registries."""

    requests_per_host: int = 200  # HTTP requests one run may make to one registry host
    concurrency: int = 8  # subscriptions asked at the same time


@dataclass(frozen=True)
class ArgoCDServer:
    """``ProjectConfig`` ``spec.integrations.argocd``: the Argo CD that ``argocd-update``
    steps' applications live in."""

    server: str  # https://argocd.example.com (http only for loopback)
    token_env: str = "ARGOCD_AUTH_TOKEN"  # noqa: S105 - the name of an env var, not a secret


@dataclass(frozen=True)
class Settings:
    """Project-wide settings (``kind: ProjectConfig``; every field optional)."""

    state_branch: str = "shunter/state"
    emergency_permission: str = "maintain"  # admin | maintain | write
    # promotionHistory: promotion records kept per stage in promotions.yaml; older ones
    # move to archive/ on the state branch (see bot.core.ledger.archive_promotions).
    promotion_history: int = 200
    monitoring: Monitoring = Monitoring()
    # githubDeployments: each promotion that lands is a GitHub Deployment to the stage's
    # environment. None (unset) means on while the token may write deployments, and a
    # refusal is only noted; True makes a refusal a failure; False turns it off.
    github_deployments: bool | None = None
    pagerduty: PagerDuty = PagerDuty()
    argocd: ArgoCDServer | None = None  # where argocd-update's applications are asked
    # The whole run's time limit, well under a workflow job's usual 15-minute timeout; a
    # quarter of it (at most a minute) is kept back from discovery to write the ledger.
    deadline: timedelta = timedelta(minutes=10)
    discovery: DiscoveryLimits = DiscoveryLimits()


class NoteKind(enum.Enum):
    """Why ``validate`` warns about a config that is valid."""

    NO_EFFECT = "no-effect"  # a key Shunter accepts for Kargo configs and does not use
    APPROVALS_OFF = "approvals-off"  # an approvals block without required: true


@dataclass(frozen=True)
class ConfigNote:
    """A warning about a valid config: where, which key, what kind, and why."""

    kind: NoteKind
    location: Location
    path: str
    reason: str  # why it has no effect, or what to write


@dataclass(frozen=True)
class Config:
    """The whole, validated config. Stages are in pipeline (topological) order."""

    warehouses: tuple[Warehouse, ...]
    stages: tuple[Stage, ...]
    analysis_templates: tuple[AnalysisTemplate, ...] = ()
    settings: Settings = Settings()
    notes: tuple[ConfigNote, ...] = field(default=(), compare=False)  # validate's warnings

    def warehouse(self, name: str) -> Warehouse:
        """Return the warehouse called ``name``; raise ``KeyError`` if there is none."""
        for w in self.warehouses:
            if w.name == name:
                return w
        raise KeyError(name)

    def stage(self, name: str) -> Stage:
        """Return the stage called ``name``; raise ``KeyError`` if there is none."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def analysis_template(self, name: str) -> AnalysisTemplate | None:
        """Return the template called ``name``, or ``None`` (then it means a workflow file)."""
        for t in self.analysis_templates:
            if t.name == name:
                return t
        return None

    def downstream(self, stage: str) -> tuple[Stage, ...]:
        """Stages that take freight from ``stage``, in pipeline order."""
        return tuple(
            s for s in self.stages if any(stage in r.upstream_stages for r in s.requested_freight)
        )

"""Turn checked documents into the frozen model, then check what spans documents.

Builders read ``Parsed`` trees (see ``_spec``) and pass only the keys a user wrote to the
model's constructors, so every default stays in ``bot.core.model``. A builder that meets a
missing or invalid required value raises ``Broken`` (the problem is already reported) and
that one object is left out; the rest of the run goes on, so every problem is found.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import yaml

from bot.core.config._spec import Broken, Ctx, Parsed
from bot.core.model import (
    AnalysisTemplate,
    Approvals,
    Approver,
    ArgoCDHealth,
    ArgoCDServer,
    ChartSubscription,
    Condition,
    DeploymentHealth,
    DiscoveryLimits,
    FreightRequest,
    GitRepoUpdate,
    GitSubscription,
    HealthCheck,
    HttpCheck,
    HttpHealth,
    ImageSubscription,
    KustomizeImageUpdate,
    Location,
    Monitoring,
    NoteKind,
    PagerDuty,
    PromotionPolicy,
    Retention,
    Settings,
    Stage,
    Subscription,
    Verification,
    VerificationStep,
    Warehouse,
    Webhook,
    WorkflowCheck,
    YamlValueUpdate,
)

if TYPE_CHECKING:
    # Kargo's promotion steps are read only when a stage has a promotionTemplate: their
    # tables and expression language cost more at start-up than the rest of the config.
    from bot.core.config._steps import Settled, StepApp


def location(ctx: Ctx, node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(ctx.file, mark.line + 1, mark.column + 1)


def _kw(p: Parsed, names: Mapping[str, str]) -> dict[str, Any]:
    """Model keyword arguments for the keys written in ``p`` (YAML key -> field name)."""
    return {attr: p.values[key] for key, attr in names.items() if key in p.values}


def _items(p: Parsed, key: str) -> list[tuple[Any, yaml.Node, str]]:
    """(value, node, path) for each item of the list at ``key``.

    Raises ``Broken`` if an item was invalid: its problem is reported, and a partial
    list would make later checks speak of things the user did not write.
    """
    if key not in p.nodes:
        return []
    values = p.req(key)
    node = p.nodes[key]
    assert isinstance(node, yaml.SequenceNode)
    if len(values) != len(node.value):
        raise Broken(key)
    base = p.path_of(key)
    return [(v, n, f"{base}[{i}]") for i, (v, n) in enumerate(zip(values, node.value, strict=True))]


def _strip(path: str) -> str:
    """``./env/dev/`` -> ``env/dev``; the repository root is ``.``."""
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/")
    return path or "."


# --------------------------------------------------------------------------- warehouses


def build_warehouse(doc: Parsed) -> Warehouse:
    """Return the ``Warehouse`` of a checked document; raise ``Broken`` if it cannot be built."""
    meta: Parsed = doc.req("metadata")
    spec: Parsed = doc.req("spec")
    subs: list[Subscription] = []
    for sub, node, _ in _items(spec, "subscriptions"):
        subs.append(_subscription(sub, location(doc.ctx, node)))
    kw: dict[str, Any] = {}
    if "retention" in spec.values:
        kw["retention"] = Retention(
            **_kw(spec.values["retention"], {"maxArtifacts": "max_artifacts", "maxAge": "max_age"})
        )
    kw.update(
        _kw(spec, {"interval": "interval", "freightCreationPolicy": "freight_creation_policy"})
    )
    return Warehouse(
        name=meta.req("name"),
        subscriptions=tuple(subs),
        annotations=tuple(meta.get("annotations", {}).items()),
        location=location(doc.ctx, doc.node),
        **kw,
    )


def _subscription(sub: Parsed, where: Location) -> Subscription:
    if "image" in sub.values:
        p: Parsed = sub.values["image"]
        kw = _kw(
            p,
            {
                "semverConstraint": "semver_constraint",
                "constraint": "semver_constraint",
                "imageSelectionStrategy": "strategy",
                "discoveryLimit": "discovery_limit",
                "cacheTTL": "cache_ttl",
                "strictSemvers": "strict_semvers",
                "platform": "platform",
                "insecureSkipTLSVerify": "insecure_skip_tls_verify",
                "credentialsEnv": "credentials_env",
            },
        )
        allow = ([p.values["allowTags"]] if "allowTags" in p.values else []) + p.get(
            "allowTagsRegexes", []
        )
        if allow:
            kw["allow_tags"] = tuple(allow)
        if "ignoreTags" in p.values:
            kw["ignore_tags"] = tuple(p.values["ignoreTags"])
        if "ignoreTagsRegexes" in p.values:
            kw["ignore_tags_regexes"] = tuple(p.values["ignoreTagsRegexes"])
        if "webhook" in p.values:
            hook: Parsed = p.values["webhook"]
            hook_kw = _kw(hook, {"enabled": "enabled"})
            if "github" in hook.values:
                gh: Parsed = hook.values["github"]
                hook_kw.update(_kw(gh, {"repository": "repository"}))
                if "events" in gh.values:
                    hook_kw["events"] = tuple(gh.values["events"])
            kw["webhook"] = Webhook(**hook_kw)
        return ImageSubscription(repo_url=p.req("repoURL"), location=where, **kw)
    if "chart" in sub.values:
        p = sub.values["chart"]
        kw = _kw(
            p,
            {
                "name": "name",
                "semverConstraint": "semver_constraint",
                "constraint": "semver_constraint",
                "discoveryLimit": "discovery_limit",
            },
        )
        return ChartSubscription(repo_url=p.req("repoURL"), location=where, **kw)
    if "git" in sub.values:
        p = sub.values["git"]
        kw = _kw(
            p,
            {
                "branch": "branch",
                "commitSelectionStrategy": "strategy",
                "semverConstraint": "semver_constraint",
                "discoveryLimit": "discovery_limit",
            },
        )
        if "allowTags" in p.values:
            kw["allow_tags"] = (p.values["allowTags"],)
        for key, attr in (
            ("ignoreTags", "ignore_tags"),
            ("includePaths", "include_paths"),
            ("excludePaths", "exclude_paths"),
        ):
            if key in p.values:
                kw[attr] = tuple(p.values[key])
        return GitSubscription(repo_url=p.req("repoURL"), location=where, **kw)
    raise Broken("subscription")


# --------------------------------------------------------------------------- stages


@dataclass
class Ref:
    """A name written somewhere, kept with its place so a dangling one can be reported."""

    name: str
    ctx: Ctx
    node: yaml.Node
    path: str

    def problem(self, message: str, hint: str = "") -> None:
        self.ctx.problem(self.node, self.path, message, hint)


@dataclass
class Request:
    warehouse: Ref | None
    direct: bool
    upstream: list[Ref]
    anchor: Ref  # where to report a warehouse that cannot be inherited
    # sources.requiredSoakTime, availabilityStrategy, autoPromotionOptions.selectionPolicy
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageUse:
    """An image a promotion step writes (``None``: "the only image of the warehouse")."""

    image: str | None
    where: Ref


@dataclass
class StageDraft:
    """A stage before its references are resolved; ``broken`` parts are already reported."""

    name: str
    order: int
    ctx: Ctx
    location: Location
    requests: list[Request] = field(default_factory=list)
    policy: PromotionPolicy = field(default_factory=PromotionPolicy)
    verification: Verification | None = None
    updates: tuple[GitRepoUpdate, ...] = ()
    images: list[ImageUse] = field(default_factory=list)
    annotations: tuple[tuple[str, str], ...] = ()
    health: HealthCheck | None = None
    step_app: StepApp | None = None  # argocd-update's application: health once settled
    args_at: Parsed | None = None  # the verification whose args were written
    broken: bool = False
    written_auto_promotion: bool | None = None  # promotionPolicy.autoPromotionEnabled


def build_stage(doc: Parsed, order: int, steps: StepContext | None = None) -> StageDraft:
    """Return a ``StageDraft`` of a checked document; raise ``Broken`` if it has no name."""
    meta: Parsed = doc.req("metadata")
    ctx = doc.ctx
    draft = StageDraft(
        name=meta.req("name"),
        order=order,
        ctx=ctx,
        location=location(ctx, doc.node),
        annotations=tuple(meta.get("annotations", {}).items()),
    )
    spec: Parsed | None = doc.get("spec")
    if spec is None:
        draft.broken = True
        return draft
    for part in (_requests, _policy, _verification, _health):
        try:
            part(spec, draft)
        except Broken:
            draft.broken = True
    try:
        _updates(spec, draft, steps or StepContext())
    except Broken:
        draft.broken = True
    return draft


def _ref(p: Parsed, key: str) -> Ref:
    return Ref(p.req(key), p.ctx, p.node_of(key), p.path_of(key))


def _requests(spec: Parsed, draft: StageDraft) -> None:
    if "subscriptions" in spec.values:
        subs: Parsed = spec.values["subscriptions"]
        upstream = [_ref(item, "name") for item, _, _ in _items(subs, "upstreamStages")]
        warehouse = _ref(subs, "warehouse") if subs.has("warehouse") else None
        anchor = Ref("", subs.ctx, subs.node_of("upstreamStages"), subs.path_of("upstreamStages"))
        draft.requests.append(Request(warehouse, not upstream, upstream, anchor))
    elif "requestedFreight" in spec.values:
        for item, node, path in _items(spec, "requestedFreight"):
            origin: Parsed = item.req("origin")
            sources: Parsed = item.req("sources")
            stages = [Ref(n, sources.ctx, nd, p) for n, nd, p in _items(sources, "stages")]
            anchor = Ref("", spec.ctx, node, path)
            options = _kw(
                sources,
                {"requiredSoakTime": "required_soak_time", "availabilityStrategy": "availability"},
            )
            if "autoPromotionOptions" in sources.values:
                auto: Parsed = sources.values["autoPromotionOptions"]
                options.update(_kw(auto, {"selectionPolicy": "selection_policy"}))
            direct = bool(sources.get("direct", False))
            draft.requests.append(Request(_ref(origin, "name"), direct, stages, anchor, options))
    else:
        raise Broken("subscriptions")


def _policy(spec: Parsed, draft: StageDraft) -> None:
    pp: Parsed | None = spec.get("promotionPolicy")
    kw: dict[str, Any] = {}
    if pp is not None:
        kw = _kw(
            pp,
            {
                "autoPromotionEnabled": "auto_promotion_enabled",
                "autoPromotionDelay": "auto_promotion_delay",
                "paused": "paused",
                "schedule": "schedule",
                "timezone": "timezone",
                "scheduleWindow": "schedule_window",
            },
        )
        if "approvals" in pp.values:
            a: Parsed = pp.values["approvals"]
            akw = _kw(
                a,
                {
                    "required": "required",
                    "minimumApprovals": "minimum_approvals",
                    "timeout": "timeout",
                },
            )
            if not a.get("required", False):
                a.ctx.note(
                    a.node,
                    a.path,
                    NoteKind.APPROVALS_OFF,
                    "approvals without required: true approve nothing: the gate is off; "
                    "write required: true to make promotions wait for them",
                )
            if "approvers" in a.values:
                akw["approvers"] = tuple(
                    Approver(type=x.req("type"), name=x.req("name")) for x in a.values["approvers"]
                )
            kw["approvals"] = Approvals(**akw)
    owner: Parsed | None = None
    if spec.has("conditions"):
        owner = spec
        if pp is not None and pp.has("conditions"):
            spec.problem(
                "conditions",
                "conditions are written both here and under promotionPolicy",
                "keep one list, under promotionPolicy",
            )
            raise Broken("conditions")
    elif pp is not None and pp.has("conditions"):
        owner = pp
    if owner is not None:
        conditions = []
        for c, node, _ in _items(owner, "conditions"):
            ckw = _kw(
                c,
                {
                    "duration": "duration",
                    "schedule": "schedule",
                    "timezone": "timezone",
                    "window": "window",
                    "status": "status",
                },
            )
            if "integrations" in c.values:
                ckw["integrations"] = tuple(c.values["integrations"])
            conditions.append(Condition(type=c.req("type"), location=location(c.ctx, node), **ckw))
        kw["conditions"] = tuple(conditions)
    draft.policy = PromotionPolicy(**kw)
    draft.written_auto_promotion = kw.get("auto_promotion_enabled")


def _verification(spec: Parsed, draft: StageDraft) -> None:
    v: Parsed | None = spec.get("verification")
    if v is None:
        return
    steps: list[VerificationStep] = []
    seen: set[str] = set()
    for step, node, path in _items(v, "steps"):
        name = step.req("name")
        if name in seen:
            v.ctx.problem(node, f"{path}.name", f"step name '{name}' is used twice")
        seen.add(name)
        steps.append(VerificationStep(name, step.req("analysisTemplate").req("name")))
    for t, _, _ in _items(v, "analysisTemplates"):
        steps.append(VerificationStep(t.req("name"), t.req("name")))
    kw = _kw(v, {"parallel": "parallel"})
    args = tuple((a.req("name"), a.req("value")) for a, _, _ in _items(v, "args"))
    draft.verification = Verification(steps=tuple(steps), args=args, **kw)
    if args:
        draft.args_at = v


def _statuses(value: int | list[int]) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _health(spec: Parsed, draft: StageDraft) -> None:
    h: Parsed | None = spec.get("health")
    if h is None:
        if spec.has("health"):
            raise Broken("health")
        return
    kw: dict[str, Any] = {}
    if "argocd" in h.values:
        a: Parsed = h.values["argocd"]
        kw["argocd"] = ArgoCDHealth(
            server=a.req("server").rstrip("/"),
            app=a.req("app"),
            **_kw(a, {"namespace": "namespace", "tokenEnv": "token_env"}),
        )
    if "githubDeployment" in h.values:
        kw["github_deployment"] = DeploymentHealth(h.values["githubDeployment"].req("environment"))
    if "http" in h.values:
        u: Parsed = h.values["http"]
        hkw = _kw(u, {"timeout": "timeout"})
        if "expectStatus" in u.values:
            hkw["expect_status"] = _statuses(u.values["expectStatus"])
        kw["http"] = HttpHealth(url=u.req("url"), **hkw)
    if any(h.has(k) and k not in h.values for k in ("argocd", "githubDeployment", "http")):
        raise Broken("health")  # a part was invalid and is reported: do not half-check
    draft.health = HealthCheck(**kw)


#: The kinds of document that declare promotion tasks for stages' steps.
TASK_KINDS: Final = ("PromotionTask", "ClusterPromotionTask")


@dataclass
class Task:
    """A ``PromotionTask`` document, by kind and name."""

    kind: str
    name: str
    spec: Parsed


@dataclass(frozen=True)
class StepContext:
    """What a stage's Kargo steps need from other documents: tasks and the project name."""

    tasks: Mapping[tuple[str, str], Task] = field(default_factory=dict)
    project: str = ""


def _updates(spec: Parsed, draft: StageDraft, steps: StepContext) -> None:
    if "gitRepoUpdates" in spec.values:
        draft.updates = tuple(
            _git_repo_update(u, draft) for u, _, _ in _items(spec, "gitRepoUpdates")
        )
    elif "promotionMechanisms" in spec.values:
        pm: Parsed = spec.values["promotionMechanisms"]
        draft.updates = tuple(
            _git_repo_update(u, draft) for u, _, _ in _items(pm, "gitRepoUpdates")
        )
    elif "promotionTemplate" in spec.values:
        template: Parsed = spec.values["promotionTemplate"]
        settled = _from_steps(template.req("spec"), draft, steps)
        draft.updates = (settled.update,) if settled.update is not None else ()
        draft.step_app = settled.app
    elif any(spec.has(k) for k in ("gitRepoUpdates", "promotionMechanisms", "promotionTemplate")):
        raise Broken("updates")


def _git_repo_update(u: Parsed, draft: StageDraft) -> GitRepoUpdate:
    kw = _kw(
        u,
        {
            "repoURL": "repo_url",
            "writeBranch": "write_branch",
            "commitMessageTemplate": "commit_message_template",
        },
    )
    if "pullRequest" in u.values:
        # ``pullRequest: {github: {}}`` is Kargo's older way of saying "open one".
        kw["pull_request"] = u.values["pullRequest"] is not False
    kustomize = []
    if "kustomize" in u.values:
        for img, _, path in _items(u.values["kustomize"], "images"):
            image = img.req("image")
            kustomize.append(
                KustomizeImageUpdate(
                    image=image,
                    path=_strip(img.req("path")),
                    **_kw(img, {"useDigest": "use_digest"}),
                )
            )
            draft.images.append(
                ImageUse(image, Ref(image, u.ctx, img.node_of("image"), f"{path}.image"))
            )
    updates = []
    if "helm" in u.values:
        for img, _, path in _items(u.values["helm"], "images"):
            image = img.req("image")
            updates.append(
                YamlValueUpdate(
                    file=_strip(img.req("valuesFilePath")),
                    key=img.req("key"),
                    image=image,
                    value=img.req("value"),
                )
            )
            draft.images.append(
                ImageUse(image, Ref(image, u.ctx, img.node_of("image"), f"{path}.image"))
            )
    for y, node, path in _items(u, "yamlUpdates"):
        image = y.get("image")
        updates.append(
            YamlValueUpdate(
                file=_strip(y.req("file")),
                key=y.req("key"),
                **_kw(y, {"image": "image", "value": "value"}),
            )
        )
        where = y.node_of("image") if image else node
        draft.images.append(
            ImageUse(image, Ref(image or "", u.ctx, where, f"{path}.image" if image else path))
        )
    if kustomize:
        kw["kustomize"] = tuple(kustomize)
    if updates:
        kw["yaml"] = tuple(updates)
    return GitRepoUpdate(**kw)


def _from_steps(template: Parsed, draft: StageDraft, steps: StepContext) -> Settled:
    """Kargo 1.x steps: inflate tasks, check every expression, settle the route."""
    from bot.core.config._steps import check_references, inflate, settle

    entries = inflate(template, steps.tasks)
    if not check_references(entries):
        raise Broken("steps")
    return settle(entries, draft.name, steps.project, template)


def note_idle_args(drafts: list[StageDraft], templates: list[AnalysisTemplate]) -> None:
    """Warn where ``verification.args`` reach no step: they are workflow inputs, and every
    step the stage runs is an HTTP check."""
    http = {t.name for t in templates if t.http is not None and t.workflow is None}
    for draft in drafts:
        v = draft.args_at
        if v is None or draft.verification is None or not draft.verification.steps:
            continue
        if all(step.analysis_template in http for step in draft.verification.steps):
            v.ctx.note(
                v.node_of("args"),
                v.path_of("args"),
                NoteKind.NO_EFFECT,
                "args are inputs of workflow steps, and every step here is an HTTP check",
            )


def apply_step_apps(drafts: list[StageDraft], settings: Settings | None) -> None:
    """Make each ``argocd-update`` application its stage's Argo CD health source, with
    the server and token of ``ProjectConfig`` ``spec.integrations.argocd``."""
    argocd = settings.argocd if settings is not None else None
    for draft in drafts:
        app = draft.step_app
        if app is None:
            continue
        if argocd is None:
            app.where.problem(
                "name",
                "argocd-update needs to know the Argo CD server to ask about the application",
                "set ProjectConfig spec.integrations.argocd.server",
            )
            draft.broken = True
            continue
        health = draft.health or HealthCheck()
        if health.argocd is not None:
            app.where.problem(
                "name",
                f"the stage names its Argo CD application twice (spec.health.argocd: "
                f"{health.argocd.app})",
                "keep one: argocd-update or spec.health.argocd",
            )
            draft.broken = True
            continue
        source = ArgoCDHealth(argocd.server, app.name, app.namespace, argocd.token_env)
        draft.health = replace(health, argocd=source)


def apply_promotion_policies(project: Parsed, drafts: list[StageDraft]) -> None:
    """``ProjectConfig`` ``spec.promotionPolicies``: Kargo 1.x's per-stage auto-promotion.

    A stage's own ``promotionPolicy.autoPromotionEnabled`` may say the same, never the
    opposite; a policy naming no stage is an error.
    """
    by_name = {d.name: d for d in drafts}
    for policy in project.get("promotionPolicies", []):
        selector: Parsed | None = policy.get("stageSelector")
        key, owner = ("stage", policy) if policy.has("stage") else ("name", selector)
        if owner is None or key not in owner.values:
            continue
        name: str = owner.values[key]
        draft = by_name.get(name)
        if draft is None:
            owner.problem(key, f"no Stage named '{name}'", _known("stages", by_name))
            continue
        if "autoPromotionEnabled" not in policy.values:
            continue
        enabled: bool = policy.values["autoPromotionEnabled"]
        own = draft.written_auto_promotion
        if own is not None and own != enabled:
            policy.problem(
                "autoPromotionEnabled",
                f"stage '{name}' says autoPromotionEnabled: {str(own).lower()} in its own "
                "promotionPolicy",
                "keep one of the two",
            )
            continue
        draft.policy = replace(draft.policy, auto_promotion_enabled=enabled)


# --------------------------------------------------------------------------- linking


def link_stages(
    drafts: list[StageDraft], warehouses: Mapping[str, Warehouse | None], complete: bool
) -> tuple[Stage, ...]:
    """Resolve references between stages and warehouses; return stages upstream first.

    Reports dangling warehouse and upstream names (only when every document could be
    read, so a syntax error elsewhere does not cause a cascade), cycles, warehouses that
    cannot be inherited, and promotion steps naming an image no subscription watches.
    Broken stages are left out of the result; their problems are already reported.
    """
    by_name = {d.name: d for d in drafts}
    for d in drafts:
        for r in d.requests:
            if r.warehouse is not None and r.warehouse.name not in warehouses and complete:
                r.warehouse.problem(
                    f"no Warehouse named '{r.warehouse.name}'",
                    _known("warehouses", warehouses),
                )
                d.broken = True
            for u in r.upstream:
                if u.name not in by_name:
                    if complete:
                        u.problem(f"no Stage named '{u.name}'", _known("stages", by_name))
                    d.broken = True
    ordered = _topological(drafts, by_name)
    resolved: dict[str, list[FreightRequest]] = {}
    stages: list[Stage] = []
    for d in ordered:
        requests = _resolve(d, resolved, warehouses)
        if requests is None:
            continue
        resolved[d.name] = requests
        _check_images(d, requests, warehouses)
        if d.broken:
            continue
        stages.append(
            Stage(
                name=d.name,
                requested_freight=tuple(requests),
                promotion_policy=d.policy,
                verification=d.verification,
                git_repo_updates=d.updates,
                annotations=d.annotations,
                health=d.health,
                location=d.location,
            )
        )
    return tuple(stages)


def _known(what: str, names: Iterable[str]) -> str:
    names = sorted(names)
    return f"known {what}: {', '.join(names)}" if names else f"no {what} are defined"


def _topological(drafts: list[StageDraft], by_name: Mapping[str, StageDraft]) -> list[StageDraft]:
    """Kahn's algorithm, taking the earliest-written ready stage first; reports cycles."""
    upstream = {
        d.name: [u for r in d.requests for u in r.upstream if u.name in by_name] for d in drafts
    }
    waiting = {d.name: len({u.name for u in upstream[d.name]}) for d in drafts}
    downstream: dict[str, set[str]] = {d.name: set() for d in drafts}
    for d in drafts:
        for u in upstream[d.name]:
            downstream[u.name].add(d.name)
    ready = [(d.order, d.name) for d in drafts if waiting[d.name] == 0]
    heapq.heapify(ready)
    out: list[StageDraft] = []
    while ready:
        _, name = heapq.heappop(ready)
        out.append(by_name[name])
        for down in downstream[name]:
            waiting[down] -= 1
            if waiting[down] == 0:
                heapq.heappush(ready, (by_name[down].order, down))
    left = {n for n, count in waiting.items() if count > 0}
    reported: set[str] = set()
    for start in sorted(left, key=lambda n: by_name[n].order):
        walk: list[str] = []
        index: dict[str, int] = {}
        current = start
        while current not in index:
            index[current] = len(walk)
            walk.append(current)
            current = next(u.name for u in upstream[current] if u.name in left)
        cycle = walk[index[current] :]
        if not reported.intersection(cycle):
            first = min(cycle, key=lambda n: by_name[n].order)
            i = cycle.index(first)
            rotated = cycle[i:] + cycle[:i]  # each takes freight from the next
            takes_from = rotated[1] if len(rotated) > 1 else first
            flow = [first, *reversed(rotated[1:]), first]  # the way freight would flow
            ref = next(u for u in upstream[first] if u.name == takes_from)
            ref.problem(
                "stages take freight from each other in a cycle: " + " -> ".join(flow),
                "a stage must not take freight from itself or from a stage after it",
            )
        reported.update(walk)
    return out


def _resolve(
    d: StageDraft,
    resolved: Mapping[str, list[FreightRequest]],
    warehouses: Mapping[str, Warehouse | None],
) -> list[FreightRequest] | None:
    out: list[FreightRequest] = []
    for r in d.requests:
        ups = [u for u in r.upstream if u.name in resolved]
        if len(ups) != len(r.upstream):
            return None  # an upstream stage is broken, missing or in a cycle: reported
        if r.warehouse is not None:
            name = r.warehouse.name
            if name not in warehouses:
                return None
            for u in ups:
                if all(req.warehouse != name for req in resolved[u.name]):
                    u.problem(
                        f"stage '{u.name}' does not take freight from warehouse '{name}'",
                        "an upstream stage must take freight from the same warehouse",
                    )
                    return None
        else:
            inherited = sorted({req.warehouse for u in ups for req in resolved[u.name]})
            if len(inherited) > 1:
                r.anchor.problem(
                    f"the upstream stages take freight from several warehouses "
                    f"({', '.join(inherited)})",
                    "name one with subscriptions.warehouse",
                )
                return None
            if not inherited:
                return None
            name = inherited[0]
        out.append(FreightRequest(name, r.direct, tuple(u.name for u in r.upstream), **r.options))
    return out


def _check_images(
    d: StageDraft, requests: list[FreightRequest], warehouses: Mapping[str, Warehouse | None]
) -> None:
    found = [warehouses.get(r.warehouse) for r in requests]
    if any(w is None for w in found):
        return  # a broken warehouse: its problems are reported
    watched = list(
        dict.fromkeys(
            s.repo_url
            for w in found
            if w is not None
            for s in w.subscriptions
            if isinstance(s, ImageSubscription)
        )
    )
    names = ", ".join(dict.fromkeys(r.warehouse for r in requests))
    for use in d.images:
        if use.image is None:
            if len(watched) != 1:
                use.where.problem(
                    f"say which image goes here: warehouse {names} watches "
                    + (f"{len(watched)} images" if watched else "no image"),
                    "add image: <repoURL>" if watched else "add an image subscription",
                )
                d.broken = True
        elif use.image not in watched:
            use.where.problem(
                f"image '{use.image}' is not watched by warehouse {names}",
                f"watched: {', '.join(watched)}" if watched else "add an image subscription",
            )
            d.broken = True


# --------------------------------------------------------------------------- other kinds


def build_analysis_template(doc: Parsed) -> AnalysisTemplate:
    """Return the ``AnalysisTemplate`` of a checked document; raise ``Broken`` if incomplete."""
    meta: Parsed = doc.req("metadata")
    spec: Parsed = doc.req("spec")
    kw = _kw(spec, {"timeout": "timeout"})
    if "workflow" in spec.values:
        w: Parsed = spec.values["workflow"]
        wkw = _kw(w, {"ref": "ref"})
        if "inputs" in w.values:
            wkw["inputs"] = tuple(w.values["inputs"].items())
        kw["workflow"] = WorkflowCheck(file=w.req("file"), **wkw)
    elif "http" in spec.values:
        h: Parsed = spec.values["http"]
        hkw = _kw(h, {"method": "method"})
        if "expectStatus" in h.values:
            hkw["expect_status"] = _statuses(h.values["expectStatus"])
        if "headers" in h.values:
            hkw["headers"] = tuple(h.values["headers"].items())
        kw["http"] = HttpCheck(url=h.req("url"), **hkw)
    else:
        raise Broken("workflow")
    return AnalysisTemplate(name=meta.req("name"), location=location(doc.ctx, doc.node), **kw)


def build_settings(doc: Parsed) -> Settings:
    """Return the ``Settings`` of a checked ``ProjectConfig`` document."""
    spec: Parsed = doc.req("spec")
    kw = _kw(
        spec,
        {
            "stateBranch": "state_branch",
            "emergencyPermission": "emergency_permission",
            "deadline": "deadline",
            "promotionHistory": "promotion_history",
            "githubDeployments": "github_deployments",
        },
    )
    if "discovery" in spec.values:
        d: Parsed = spec.values["discovery"]
        kw["discovery"] = DiscoveryLimits(
            **_kw(d, {"requestsPerHost": "requests_per_host", "concurrency": "concurrency"})
        )
    if "monitoring" in spec.values:
        m: Parsed = spec.values["monitoring"]
        mkw = _kw(m, {"enabled": "enabled"})
        if "serviceMonitor" in m.values:
            mkw.update(_kw(m.values["serviceMonitor"], {"enabled": "service_monitor"}))
        kw["monitoring"] = Monitoring(**mkw)
    integrations: Parsed | None = spec.get("integrations")
    if integrations is not None and "pagerduty" in integrations.values:
        pd: Parsed = integrations.values["pagerduty"]
        pkw = _kw(pd, {"tokenEnv": "token_env", "apiURL": "api_url"})
        if "api_url" in pkw:
            pkw["api_url"] = pkw["api_url"].rstrip("/")
        if "serviceIds" in pd.values:
            pkw["service_ids"] = tuple(pd.values["serviceIds"])
        kw["pagerduty"] = PagerDuty(**pkw)
    if integrations is not None and "argocd" in integrations.values:
        argo: Parsed = integrations.values["argocd"]
        akw = _kw(argo, {"tokenEnv": "token_env"})
        kw["argocd"] = ArgoCDServer(argo.req("server").rstrip("/"), **akw)
    return Settings(**kw)

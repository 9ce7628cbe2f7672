"""The one loop: read the ledger, observe, plan, apply, write the ledger. Level-triggered.

Every trigger runs this same loop. An event only narrows it (refresh one warehouse) or
adds a person's request (an emergency promotion); a missed or doubled event changes
nothing, because the next run converges on the same result. With nothing new in the
world a run makes no write call at all: no GitHub write, no state commit.

The loop plans, applies the plan's actions, observes again and plans again, up to a few
rounds, so that a merge into dev carries on to staging in the same run (GitHub starts
no workflow for events the bot's own token causes). The ledger is written once at the
end with compare-and-swap; if another run wrote first, the whole run starts over from
the newer ledger (the actions it already took are found again on GitHub, not redone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import yaml

from bot.core.decide import stuck
from bot.core.decide.inconsistency import FILE as INCONSISTENCIES_FILE
from bot.core.decide.inconsistency import Inconsistency, InconsistencyKind, to_records
from bot.core.decide.observations import Observations, PromotionPR
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    Decision,
    DecisionKind,
    Failure,
    FailureKind,
    Subject,
    System,
)
from bot.core.decide.planner import plan
from bot.core.ledger import FreightRecord, Ledger, archive_promotions, from_files, to_files
from bot.errors import ConflictError, PermanentError, ShunterError
from bot.loop import trust
from bot.loop.discover import discover_warehouses, discovery_deadline, discovery_failures
from bot.loop.observe import failure, observe_gates

# What only a run with something to promote needs (the PR lifecycle, the promotion's
# edits, GitHub's answers) is imported where it is used: an idle refresh, which plans
# nothing for any stage, starts without those modules and the dataclasses they create.
if TYPE_CHECKING:
    from bot.core.decide.actions import Action, MergePromotionPR, OpenPromotionPR, Plan
    from bot.core.decide.observations import Discovery
    from bot.core.decide.pulls import PullRequest
    from bot.core.discover.freight import Freight
    from bot.core.model import Config
    from bot.core.promote.exact import PrCheck
    from bot.loop.discover import Missed
    from bot.ports import (
        ApplicationHealth,
        ChartSource,
        CommitSource,
        Deadline,
        Forge,
        GitRepo,
        HttpProbe,
        IncidentSource,
        Registry,
        StateStore,
    )

CAS_ATTEMPTS = 5


@dataclass
class World:
    """The ports one run talks to; ``None`` where that system is not used this run.

    The CLI wires the adapters; the loop sees only these ports and never a secret (each
    adapter keeps the credentials it was given)."""

    config: Config
    state: StateStore
    registry: Registry | None = None
    forge: Forge | None = None
    gitops: GitRepo | None = None
    owner: str = ""
    repository: str = ""  # owner/name of the repository Shunter runs in (GITHUB_REPOSITORY)
    server_url: str = "https://github.com"  # GITHUB_SERVER_URL: its host names it in URLs
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    charts: ChartSource | None = None
    git_source: CommitSource | None = None
    applications: ApplicationHealth | None = None  # Argo CD
    http: HttpProbe | None = None  # health.http and AnalysisTemplates' spec.http
    incidents: IncidentSource | None = None  # PagerDuty
    deadline: Deadline | None = None  # the whole run's; discovery stops a reserve before it
    # The bot's identity besides the token's own (SHUNTER_BOT_LOGIN): a person running an
    # emergency operation with their own token still recognises the bot's promotion PRs.
    bot_logins: frozenset[str] = frozenset()
    run_url: str | None = None  # this Actions run: what an attestation links to
    # Told (answered, total) subscriptions while discovery runs: a terminal's progress line.
    progress: Callable[[int, int], None] | None = None

    def bots(self, token_owner: str) -> frozenset[str]:
        """Whose promotion PRs count as the bot's: the token's owner and ``bot_logins``."""
        return frozenset({token_owner, *self.bot_logins})


@dataclass
class Outcome:
    """What a run did, for the CLI to print and the Action to publish: typed values that
    the edge renders (``bot.render.summary``, ``bot.cli``)."""

    ledger: Ledger
    decisions: list[Decision] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    errors: list[Failure] = field(default_factory=list)
    state_commit: str | None = None
    wrote: bool = False
    pushed: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage: (freight, sha)
    # The state branch was missing although the bot had merged promotion PRs: the ledger
    # was rebuilt from GitHub (main's manifests, the latest merged PRs), not from history.
    rebuilt: bool = False
    # What the ledger claimed that GitHub or the registry contradicts: never acted on.
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    granted: frozenset[str] = frozenset()  # stages whose request this run received
    by_hand: frozenset[str] = frozenset()  # of those, a person's ordinary promotion
    unbacked: frozenset[tuple[str, str]] | None = None  # looked up once per run

    @property
    def ok(self) -> bool:
        """No error, no stage stuck behind a rule only a person can satisfy or behind a
        ``main`` that holds what no known freight writes (a hand edit), and nothing in
        the ledger that GitHub or the registry contradicts."""
        stuck = (DecisionKind.STUCK, DecisionKind.DRIFT)
        return (
            not self.errors
            and not self.inconsistencies
            and not any(d.kind in stuck for d in self.decisions)
        )

    @property
    def promoted(self) -> list[Change]:
        """The promotions this run recorded as landed (merged or pushed)."""
        return [c for c in self.changes if c.kind is ChangeKind.PROMOTED]


Mutation = Callable[[Ledger, datetime], list[Change]]


def _by_hand(ledger: Ledger) -> frozenset[str]:
    """The stages whose request (this run's) is a person's ordinary promotion."""
    from bot.core.decide.emergency import promoted_by_hand

    return frozenset(
        n for n, r in ledger.stages.items() if r.request and promoted_by_hand(r.request)
    )


def reconcile(
    world: World,
    *,
    dry_run: bool = False,
    warehouses: set[str] | None = None,
    discover_now: bool = True,
    mutate: Mutation | None = None,
    max_rounds: int | None = None,
    requested: bool = False,
) -> Outcome:
    """Run the loop once and return what happened.

    ``warehouses`` limits discovery to those names (``None``: all); ``discover_now=False``
    skips registries entirely; ``requested`` says a person asked for the discovered
    warehouses' freight (``refresh``), so it is made under ``freightCreationPolicy: Manual``
    too. ``mutate`` applies a person's request to the ledger before
    planning (and again after a lost compare-and-swap). With ``dry_run`` nothing is
    applied or written: the plan of the first round is returned.
    Raises ``PermanentError`` when the ledger cannot be read; other failures are in
    ``Outcome.errors``.
    """
    rounds = max_rounds or 2 * len(world.config.stages) + 3
    seen: dict[str, Freight] = {}  # freight earlier attempts discovered
    for _attempt in range(CAS_ATTEMPTS):
        files, head = world.state.load()
        try:
            # promotions.yaml and the shelf (their size follows the retained history) are
            # read when the run needs them, and always before it acts or writes.
            ledger = from_files(files, defer=True)
        except ValueError as exc:
            raise PermanentError(f"state branch: {exc}") from exc
        now = world.clock()
        changes: list[Change] = []
        changes += _carry(ledger, seen)
        # Only this run's own request is carried out: one read from the ledger is not.
        stale = trust.drop_unreceived_requests(ledger)
        changes += [
            Change(Subject.stage(i.stage), ChangeKind.REQUEST_IGNORED, detail=i.detail)
            for i in stale
        ]
        if mutate is not None:
            ledger.read_deferred()  # a person's request may name any freight the ledger keeps
            changes += mutate(ledger, now)
        granted = frozenset(n for n, r in ledger.stages.items() if r.request is not None)
        by_hand = _by_hand(ledger) if granted else frozenset()
        # Every attempt looks at the world afresh: after a lost compare-and-swap, a plan
        # from the first look would act on stale discovery, PR heads and manifests.
        discoveries, missed = (
            _discover(world, ledger, now, warehouses) if discover_now else ({}, [])
        )
        if requested:
            discoveries = {n: replace(d, requested=True) for n, d in discoveries.items()}
        out = Outcome(ledger=ledger, granted=granted, by_hand=by_hand)
        out.inconsistencies += stale
        # A warehouse not discovered is loud: this run does not pass as done (one cut short
        # by the budget or the deadline also goes first next run).
        out.errors += discovery_failures(discoveries, missed)
        seen_actions: list[Action] = []
        failed: set[tuple[str, str]] = set()
        for round_no in range(rounds):
            if world.gitops is not None:
                world.gitops.refresh()  # main and the promotion branches as they are now
            obs = _observe(world, ledger, discoveries if round_no == 0 else {}, out)
            if round_no == 0 and head is None:
                out.rebuilt = any(
                    pr.merged and pr.author == obs.bot_login
                    for prs in obs.recent.values()
                    for pr in prs
                )
            # The clock moves during a run: GitHub stamps a merge after the run began.
            now = world.clock()
            p: Plan = plan(
                world.config,
                ledger,
                obs,
                now,
                owner=world.owner,
                discovery_only=world.forge is None and not dry_run,
            )
            ledger = p.ledger
            changes += p.changes
            out.inconsistencies += [i for i in p.inconsistencies if i not in out.inconsistencies]
            out.decisions = p.decisions
            if dry_run:
                out.actions = p.actions
                break
            # An action that failed this run is not tried again this run: the run says so
            # once, and the next run tries again.
            todo = [a for a in p.actions if (type(a).__name__, a.stage) not in failed]
            if not todo:
                break
            # A run acts only on a ledger it has wholly read: a bad hand edit in a deferred
            # file stops it here (LedgerError), before GitHub or the state branch changes.
            ledger.read_deferred()
            seen_actions += todo
            for action in todo:
                errors = len(out.errors)
                _apply(world, action, out, obs.main_files.get(action.stage))
                if len(out.errors) > errors:
                    failed.add((type(action).__name__, action.stage))
        out.errors = list(dict.fromkeys(out.errors))
        # Each round may find the same one again (a re-pushed tag holds every round).
        out.inconsistencies = list(dict.fromkeys(out.inconsistencies))
        seen.update((name, r.freight) for name, r in ledger.freight.items())
        out.ledger = ledger
        out.changes = changes
        if not dry_run:
            out.actions = seen_actions
        kept = (
            yaml.safe_dump(to_records(out.inconsistencies), sort_keys=False)
            if out.inconsistencies
            else None
        )
        if kept != files.get(INCONSISTENCIES_FILE):
            count = str(len(out.inconsistencies))
            changes.append(
                Change(Subject.stage("ledger"), ChangeKind.INCONSISTENCIES, detail=count)
            )
        held = stuck.to_records(out.decisions)
        held_text = yaml.safe_dump(held, sort_keys=False) if held else None
        if held_text != files.get(stuck.FILE) and not dry_run:
            changes.append(Change(Subject.stage("ledger"), ChangeKind.STUCK, detail=str(len(held))))
        if dry_run or (not changes and head):
            return out  # nothing to write: an idle run does not even render the ledger
        archived = archive_promotions(ledger, world.config.settings.promotion_history)
        for path in archived.files:
            for stage, n in archived.moved.items():
                detail = f"{n} to {path}"
                changes.append(Change(Subject.stage(stage), ChangeKind.ARCHIVED, detail=detail))
        new_files = {**to_files(ledger), **archived.files}
        if kept is not None:
            new_files[INCONSISTENCIES_FILE] = kept
        if held_text is not None:
            new_files[stuck.FILE] = held_text
        if world.config.settings.monitoring.enabled:
            # prometheus_client (and the http.server it brings) costs a run that exports
            # no metrics about a fifth of its start-up: imported only when they are on.
            from bot.core.metrics import metrics_text

            new_files["metrics.prom"] = metrics_text(world.config, ledger)
        if new_files == files and head is not None:
            return out
        message = _commit_message(changes)
        try:
            out.state_commit = world.state.save(new_files, message, expected_head=head)
            out.wrote = True
            _record_deployments(world, out)
            return out
        except ConflictError:
            continue  # another run wrote first: start over from its ledger
    raise ConflictError(
        f"the state branch kept moving: {CAS_ATTEMPTS} attempts lost the race; the next run retries"
    )


def _carry(ledger: Ledger, seen: dict[str, Freight]) -> list[Change]:
    """Put the freight an attempt that lost the compare-and-swap discovered into the
    winner's ledger: this run may have promoted it already, so the ledger must know it
    (it is ordered by version, so an older one never becomes the newest)."""
    changes = []
    if ledger.deferred and any(name not in ledger.freight for name in seen):
        ledger.read_deferred()  # it may be on the shelf
    for name, f in seen.items():
        if name not in ledger.freight:
            ledger.freight[name] = FreightRecord(freight=f)
            label = f"{f.alias} ({f.summary()})"
            changes.append(
                Change(Subject.warehouse(f.warehouse), ChangeKind.FREIGHT_DISCOVERED, freight=label)
            )
    return changes


def _record_deployments(world: World, out: Outcome) -> None:
    """Each promotion this run landed becomes a GitHub Deployment of its commit to the
    environment named after the stage, ``success``, linking to its PR (ProjectConfig
    ``githubDeployments``). Done after the ledger is written, so a run that lost the
    compare-and-swap records nothing twice; the forge keys each one by commit and
    environment besides. Unset, it is on while the token may write deployments."""
    from bot.ports import HttpErrorKind, HttpPermanentError

    wanted = world.config.settings.github_deployments
    if wanted is False or world.forge is None:
        return
    # An environment a stage's health reads is left alone: a success written by Shunter
    # there would pass its own HealthyFor gate (a grant from the bot's own record).
    watched = {
        s.health.github_deployment.environment
        for s in world.config.stages
        if s.health is not None and s.health.github_deployment is not None
    }
    for change in out.promoted:
        stage = change.subject.name
        if stage in watched:
            continue
        rec = next(
            (
                p
                for p in reversed(out.ledger.promotions)
                if p.stage == stage and p.status == "Succeeded" and p.commit
            ),
            None,
        )
        if rec is None or rec.commit is None:
            continue
        try:
            world.forge.record_deployment(
                stage, rec.commit, description=f"{rec.alias} ({rec.version})", url=rec.url or ""
            )
        except HttpPermanentError as exc:
            if wanted is None and exc.kind is HttpErrorKind.AUTH:
                return  # unset and the token may not write deployments: off (README says so)
            out.errors.append(failure(exc, System.GITHUB, Subject.stage(stage)))
        except ShunterError as exc:
            out.errors.append(failure(exc, System.GITHUB, Subject.stage(stage)))


def _commit_message(changes: list[Change]) -> str:
    """The state commit's message: the first change as its subject, every change listed."""
    if not changes:
        return "shunter: initialise the ledger"
    lines = [c.render() for c in changes]
    head = lines[0] if len(lines) == 1 else f"{lines[0]} (+{len(lines) - 1} more)"
    return f"shunter: {head}\n\n" + "\n".join(f"- {c}" for c in lines) + "\n"


def _discover(
    world: World, ledger: Ledger, now: datetime, only: set[str] | None
) -> tuple[dict[str, Discovery], list[Missed]]:
    """Discover every warehouse (or those in ``only``), from the ledger's cache entries,
    concurrently and within the run's discovery deadline; see
    :func:`bot.loop.discover.discover_warehouses`.

    Warehouses named in ``only`` were asked for explicitly (an event, ``refresh``), so
    their ``cacheTTL`` is ignored; their ETags still save the registry work.
    """
    if world.registry is None:
        return {}, []
    chosen = [wh for wh in world.config.warehouses if only is None or wh.name in only]
    return discover_warehouses(
        chosen,
        world.registry,
        ledger.warehouses,
        now=now,
        refresh=only is not None,
        charts=world.charts,
        git=world.git_source,
        deadline=discovery_deadline(world.deadline) if world.deadline is not None else None,
        workers=world.config.settings.discovery.concurrency,
        progress=world.progress,
    )


def _observe(
    world: World, ledger: Ledger, discoveries: dict[str, Discovery], out: Outcome
) -> Observations:
    forge = world.forge
    if forge is None:
        extra = observe_gates(world.config, ledger, {}, None, world, out.errors)
        return Observations(
            discoveries=discoveries,
            pushed=dict(out.pushed),
            forge=False,
            health=extra.health,
            incidents=extra.incidents,
            timezones=extra.timezones,
        )
    from bot.core.decide.approvals import team_key
    from bot.core.decide.lifecycle import RECENT_PRS, recorded_prs
    from bot.core.promote import promotion as promo
    from bot.loop.observe import observe_main_rules

    prs: dict[str, PromotionPR] = {}
    recent: dict[str, tuple[PullRequest, ...]] = {}
    recent_checks: dict[int, PrCheck] = {}
    teams: dict[str, frozenset[str] | Failure] = {}
    permissions: dict[str, str] = {}
    try:
        bot = forge.whoami()
    except ShunterError as exc:
        out.errors.append(failure(exc, System.GITHUB))
        return Observations(discoveries=discoveries, forge=False)
    bots = world.bots(bot)
    if out.unbacked is None and world.gitops is not None:
        out.unbacked, found_unbacked = trust.unbacked_verifications(
            world.config, ledger, forge, world.gitops, bot=bots
        )
        out.inconsistencies += found_unbacked
    attested: dict[str, str | Failure] = {}
    for stage in world.config.stages:
        rec = ledger.stages.get(stage.name)
        try:
            pr = None
            branch = promo.branch_for(stage.name)
            # The stage's latest PRs, open or closed (one request, bounded): merges that no
            # run recorded are found here, so a crash after a merge is never forgotten.
            latest = tuple(forge.recent_pull_requests(branch, limit=RECENT_PRS))
            done = recorded_prs(ledger, stage.name)
            open_pr = rec.promotion.pr if rec is not None and rec.promotion is not None else None
            # Only a merge no run recorded is read in full (who merged it): the list
            # leaves merged_by out, and the recorded ones need nothing more.
            latest = tuple(
                forge.pull_request(x.number)
                if x.merged and x.number not in done and x.number != open_pr
                else x
                for x in latest
            )
            recent[stage.name] = latest
            for x in latest:
                # A merge no run recorded is checked like any promotion before it counts.
                if x.merged and x.number not in done and x.number != open_pr:
                    who = trust.promoters(world.config, forge, x, bots)
                    found_check = _check(world, forge, ledger, stage.name, x, who, out)
                    if found_check is not None:
                        recent_checks[x.number] = found_check
            if rec is not None and rec.promotion is not None and rec.promotion.pr is not None:
                pr = forge.pull_request(rec.promotion.pr)
            elif rec is not None and rec.promotion is not None:
                # Opened by this run (or a concurrent one) and not yet known by number:
                # find it by its marker, merged or not, so it is never opened twice.
                mine = _ours(list(latest), stage.name, bots)
                pr = _same_promotion(mine, rec.promotion.freight, done)
            else:
                found = [x for x in latest if x.state == "open"]
                # The bot's own PR first: one someone else opened from the branch is
                # seen (and closed when the bot opens its own), never adopted.
                found.sort(key=lambda x: x.author.lower() not in {b.lower() for b in bots})
                pr = found[0] if found else None
            if pr is None:
                continue
            reviews = tuple(forge.reviews(pr.number)) if pr.state == "open" else ()
            approvals = stage.promotion_policy.approvals
            check = _check(
                world,
                forge,
                ledger,
                stage.name,
                pr,
                trust.promoters(world.config, forge, pr, bots),
                out,
            )
            prs[stage.name] = PromotionPR(pr=pr, reviews=reviews, check=check)
            if pr.state == "open" and check is not None and check.exact and check.freight:
                grant = trust.attested(
                    world.config, ledger, forge, stage, pr, check.freight, bots, out.unbacked
                )
                if isinstance(grant, Failure):
                    out.errors.append(grant)
                if grant is not None:
                    attested[stage.name] = grant
            if pr.state == "open" and approvals is not None and not approvals.approvers:
                for r in reviews:
                    if r.user.lower() not in permissions:
                        permissions[r.user.lower()] = forge.permission(r.user)
            if pr.state == "open" and approvals is not None and approvals.required:
                for a in approvals.approvers:
                    if a.type != "team":
                        continue
                    key = team_key(a.name, world.owner)
                    if key in teams:
                        continue
                    try:
                        teams[key] = forge.team_members(key)
                    except ShunterError as exc:
                        teams[key] = failure(exc, System.GITHUB, Subject.stage(stage.name))
        except ShunterError as exc:
            out.errors.append(failure(exc, System.GITHUB, Subject.stage(stage.name)))
    extra = observe_gates(world.config, ledger, prs, forge, world, out.errors)
    main_rules, codeowners = observe_main_rules(
        world.config, prs, forge, world.gitops, teams, extra.checks
    )
    return Observations(
        main_rules=main_rules,
        codeowners=codeowners,
        discoveries=discoveries,
        pushed=dict(out.pushed),
        prs=prs,
        recent=recent,
        recent_checks=recent_checks,
        main_files=_main_files(world, forge, out),
        teams=teams,
        bot_login=bot,
        health=extra.health,
        verification=extra.verification,
        incidents=extra.incidents,
        checks=extra.checks,
        code_scanning=extra.code_scanning,
        timezones=extra.timezones,
        granted=out.granted,
        by_hand=out.by_hand,
        unbacked=out.unbacked or frozenset(),
        permissions=permissions,
        attested=attested,
    )


def _main_files(world: World, forge: Forge, out: Outcome) -> dict[str, dict[str, str | None]]:
    """Each stage's manifests on the branch it promotes into, read after the PRs (so a
    merge the PRs show is in them). A stage whose files cannot be read is left out."""
    from bot.core.promote import promotion as promo

    gitops = world.gitops
    found: dict[str, dict[str, str | None]] = {}
    if gitops is None:
        return found
    for stage in world.config.stages:
        try:
            files: dict[str, str | None] = {}
            for update in stage.git_repo_updates:
                base = update.write_branch or forge.default_branch()
                for path in promo.files_to_read(update):
                    files[path] = gitops.read_file(base, path)
            found[stage.name] = files
        except ShunterError as exc:
            out.errors.append(failure(exc, System.GITHUB, Subject.stage(stage.name)))
    return found


def _check(
    world: World,
    forge: Forge,
    ledger: Ledger,
    stage_name: str,
    pr: PullRequest,
    bot: frozenset[str],
    out: Outcome,
) -> PrCheck | None:
    """Whether ``pr`` is the bot's own promotion and exactly its edit, for an open PR or
    a merge not yet recorded; ``None`` (and a failure reported) when GitHub or git could
    not say, so nothing that depends on it goes ahead."""
    from bot.core.promote.exact import Origin, PrCheck, pr_origin

    if not (pr.state == "open" or pr.merged) or world.gitops is None:
        return None
    gitops = world.gitops
    stage = world.config.stage(stage_name)
    try:
        check: PrCheck | None = None
        for freight in _candidates(gitops, ledger, stage_name, pr):
            check = trust.check_pr(
                forge, gitops, stage, freight, pr, bot=bot, pushers=pr.state == "open"
            )
            check = replace(check, freight=freight.name)
            if check.exact or check.origin is not Origin.OURS:
                break
        return check or PrCheck(pr_origin(pr, stage=stage_name, bots=bot))
    except ShunterError as exc:
        out.errors.append(failure(exc, System.GITHUB, Subject.stage(stage_name)))
    except ValueError as exc:
        where = Subject.stage(stage_name)
        out.errors.append(Failure(FailureKind.MISCONFIGURED, System.PROMOTION, str(exc), where))
    return None


def _candidates(
    gitops: GitRepo, ledger: Ledger, stage_name: str, pr: PullRequest
) -> Iterator[Freight]:
    """The freight ``pr`` is checked as a promotion of, in order (:func:`_proposed`); for
    a merged PR then the known freight its merge commit names. The body is editable
    after a merge (another run may rewrite it for other freight), the merge commit is
    not: the merging run wrote there what it promoted. Each is only a nomination: the
    check counts the one whose edit the merged change exactly is."""
    from bot.core.promote import promotion as promo

    tried: set[str] = set()
    for freight in _proposed(ledger, stage_name, pr):
        tried.add(freight.name)
        yield freight
    if pr.merged and pr.merge_commit_sha:
        message = gitops.commit_message(pr.merge_commit_sha, branch=pr.base_branch)
        for name in promo.freight_ids_in(message):
            if name in ledger.freight and name not in tried:
                tried.add(name)
                yield ledger.freight[name].freight


def _proposed(ledger: Ledger, stage_name: str, pr: PullRequest) -> list[Freight]:
    """The freight ``pr`` is checked as a promotion of, first match wins.

    An open PR: the ledger's open promotion, or (adopting a PR whose ledger write was
    lost) its marker's. A merged PR: what its marker names, then the ledger's open
    promotion. Overlapping runs rewrite an open PR's body for newer freight, and one
    can do so just after another run merged the PR's head for the freight it checked:
    what landed is the freight whose edit the merged change exactly is, and the check
    (never the body alone) decides it. Freight neither the ledger nor the marker's
    artifacts give is left out.
    """
    from bot.core.promote import promotion as promo

    rec = ledger.stages.get(stage_name)
    marker = promo.parse_marker(pr.body)
    named = marker.freight if marker is not None else None
    open_ = rec.promotion.freight if rec is not None and rec.promotion is not None else None
    order = [named, open_] if pr.merged else [open_ if open_ is not None else named]
    out: list[Freight] = []
    for name in dict.fromkeys(n for n in order if n is not None):
        if name in ledger.freight:
            out.append(ledger.freight[name].freight)
        elif marker is not None and marker.artifacts is not None and marker.freight == name:
            out.append(marker.artifacts)
    return out


def _ours(prs: list[PullRequest], stage: str, bot: frozenset[str]) -> list[PullRequest]:
    """The PRs the bot itself opened from ``stage``'s promotion branch of this repository:
    a marker in anyone else's PR body means nothing."""
    from bot.core.promote.exact import Origin, pr_origin

    return [pr for pr in prs if pr_origin(pr, stage=stage, bots=bot) is Origin.OURS]


def _same_promotion(
    prs: list[PullRequest], freight: str, recorded: frozenset[int]
) -> PullRequest | None:
    """The open PR, or the merged one not in ``recorded``, whose marker promotes ``freight``.

    A merged PR the ledger already recorded is an earlier promotion of that freight (a
    rollback promotes it again), never this one.
    """
    from bot.core.promote import promotion as promo

    for pr in prs:
        marker = promo.parse_marker(pr.body)
        if marker is None or marker.freight != freight:
            continue
        if pr.state == "open" or (pr.merged and pr.number not in recorded):
            return pr
    return None


def _apply(
    world: World, action: Action, out: Outcome, looked: Mapping[str, str | None] | None
) -> None:
    """Carry out one action; a failure is recorded and the run goes on with the rest.

    ``looked`` holds the stage's manifests on ``main`` as the round that planned
    ``action`` read them: an edit is built only on a ``main`` that still holds them.
    """
    from bot.core.decide.actions import (
        ClosePromotionPR,
        MergePromotionPR,
        OpenPromotionPR,
        PublishCheck,
        PushPromotion,
        StartVerificationStep,
        UpdatePromotionPR,
    )

    forge = world.forge
    try:
        if forge is None:
            raise PermanentError("promotion pull requests need the GitHub API (set GITHUB_TOKEN)")
        if isinstance(action, OpenPromotionPR):
            _open(world, forge, action, out, looked)
        elif isinstance(action, PushPromotion):
            base, edits = _edits(world, forge, action.stage, action.freight, looked)
            assert world.gitops is not None
            sha = world.gitops.commit_files(
                base=base, branch=base, files=edits, message=action.commit_message, force=False
            )
            out.pushed[action.stage] = (action.freight.name, sha)
        elif isinstance(action, MergePromotionPR):
            _main_unmoved(world, forge, action.stage, looked)
            try:
                forge.merge_pull_request(
                    action.pr, sha=action.head_sha, title=action.title, message=action.message
                )
            except ConflictError as refused:
                _rebuild(world, forge, action, refused, out, looked)
        elif isinstance(action, UpdatePromotionPR):
            forge.update_pull_request(
                action.pr, title=action.title, body=action.body, head_sha=action.head_sha
            )
        elif isinstance(action, ClosePromotionPR):
            forge.close_pull_request(action.pr, action.comment)
        elif isinstance(action, PublishCheck):
            forge.set_check(
                sha=action.sha,
                name=action.name,
                conclusion=action.conclusion,  # type: ignore[arg-type]
                title=action.title,
                summary=action.summary,
            )
        elif isinstance(action, StartVerificationStep) and action.workflow is not None:
            inputs = dict(action.inputs)
            inputs.update(
                shunter_id=action.marker,
                stage=action.stage,
                freight=action.freight.name,
                commit=action.commit,
            )
            forge.dispatch_workflow(
                action.workflow, ref=action.ref or forge.default_branch(), inputs=inputs
            )
    except ConflictError as exc:
        # The PR moved under us (new commit, not mergeable): the next round looks again.
        retry = Decision(Subject.stage(action.stage), DecisionKind.RETRY, True, detail=str(exc))
        out.decisions.append(retry)
    except ShunterError as exc:
        out.errors.append(failure(exc, System.PROMOTION, Subject.stage(action.stage)))
    except ValueError as exc:
        # A manifest the promotion cannot edit as configured (a missing key, an alias).
        where = Subject.stage(action.stage)
        out.errors.append(Failure(FailureKind.MISCONFIGURED, System.PROMOTION, str(exc), where))


def _rebuild(
    world: World,
    forge: Forge,
    action: MergePromotionPR,
    refused: ConflictError,
    out: Outcome,
    looked: Mapping[str, str | None] | None,
) -> None:
    """GitHub would not merge a PR whose head is the one the run verified.

    When its base moved on (a conflict with ``main``), the branch is rebuilt on the base
    with the same freight (pushed with a lease; approvals count again on the new head).
    When the head moved, the next round looks again. When it is already exactly the edit
    on the current base, nothing the bot does can help: ``PermanentError`` says what a
    person must do (it becomes the run's one error, and a non-zero exit).
    """
    from bot.core.promote import promotion as promo

    gitops = world.gitops
    if gitops is None or action.freight is None:
        raise refused
    me = Subject.stage(action.stage)
    branch = promo.branch_for(action.stage)
    gitops.refresh()
    before = gitops.head(branch)
    if before != action.head_sha or forge.pull_request(action.pr).state != "open":
        # Another run or a person moved or closed it first: the next round looks again.
        out.decisions.append(Decision(me, DecisionKind.RETRY, True, detail=str(refused)))
        return
    base, edits = _edits(world, forge, action.stage, action.freight, looked)
    if all(gitops.read_file(base, path) == text for path, text in edits.items()):
        # The base already runs this freight (merged through another PR): nothing to
        # rebuild; the next round reads main and follows it.
        out.decisions.append(Decision(me, DecisionKind.RETRY, True, detail=str(refused)))
        return
    message = f"{action.title}\n\n{action.message}".rstrip() + "\n"
    after = gitops.commit_files(base=base, branch=branch, files=edits, message=message, force=True)
    if after != before:
        label = f"{action.freight.alias} ({action.freight.summary()})"
        rebuilt = Decision(me, DecisionKind.REBUILT, True, freight=label, pr=action.pr)
        out.decisions.append(rebuilt)
        return
    raise PermanentError(
        f"GitHub refuses to merge PR #{action.pr} ({refused}) although it is exactly the "
        f"promotion on top of {base}: a branch protection rule or a required check holds "
        "it; merge it by hand, or let the bot's token merge (rulesets, required reviews)"
    )


def _edits(
    world: World,
    forge: Forge,
    stage_name: str,
    freight: Freight,
    looked: Mapping[str, str | None] | None,
) -> tuple[str, dict[str, str]]:
    """The branch a promotion of ``freight`` writes to, and the new text of each file.

    Raises ``ConflictError`` when the stage's files on that branch are no longer what
    ``looked`` says the planning round read: another run (or a person) changed what the
    stage runs since, perhaps to newer freight, and an edit built on top of that would
    take it back. The next round looks again and decides with what ``main`` holds then.
    """
    from bot.core.promote import promotion as promo

    gitops = world.gitops
    if gitops is None:
        raise PermanentError("promotions need the GitOps repository checkout (--repo-dir)")
    stage = world.config.stage(stage_name)
    base = forge.default_branch()
    edits: dict[str, str] = {}
    for update in stage.git_repo_updates:
        if update.repo_url is not None:
            raise PermanentError(
                f"stage {stage.name}: gitRepoUpdates.repoURL {update.repo_url} names another"
                " repository; this version edits only the repository it runs in (remove repoURL)"
            )
        check_clone_url(stage.name, update.clone_url, world.repository, world.server_url)
        if update.write_branch:
            base = update.write_branch
        current = {path: gitops.read_file(base, path) for path in promo.files_to_read(update)}
        _refuse_moved(stage.name, base, current, looked)
        edits.update(promo.render_edits(stage, update, freight, {**current, **edits}))
    return base, edits


def _still_open(forge: Forge, action: OpenPromotionPR, out: Outcome) -> PullRequest | None:
    """``action``'s PR as GitHub has it now, or ``None`` when it is no longer open.

    Another run may have merged it (or a person closed it) since this round read it:
    its head and body are then what landed, and rewriting them for other freight would
    make the record say what never ran. The next round records what it finds.
    """
    assert action.pr is not None
    pr = forge.pull_request(action.pr)
    if pr.state == "open":
        return pr
    me = Subject.stage(action.stage)
    out.decisions.append(Decision(me, DecisionKind.RETRY, True, pr=action.pr))
    return None


def _refuse_moved(
    stage: str, base: str, now: Mapping[str, str | None], looked: Mapping[str, str | None] | None
) -> None:
    """Raise ``ConflictError`` when a file of ``now`` (the stage's files on ``base`` as they
    are) is not what ``looked`` says the planning round read."""
    moved = sorted(
        p for p, text in now.items() if looked is not None and p in looked and looked[p] != text
    )
    if moved:
        raise ConflictError(
            f"stage {stage}: {', '.join(moved)} on {base} changed since this round read it"
            " (another run or a person promoted meanwhile); the next round decides again"
        )


def _main_unmoved(
    world: World, forge: Forge, stage_name: str, looked: Mapping[str, str | None] | None
) -> None:
    """A merge is sent only while the stage's files on the branch it promotes into are
    what the planning round read: another run may have landed newer freight since, and
    the plan to merge was made without it. Raises ``ConflictError`` (the next round
    decides again) when they moved."""
    from bot.core.promote import promotion as promo

    gitops = world.gitops
    if gitops is None or looked is None:
        return
    gitops.refresh()
    stage = world.config.stage(stage_name)
    for update in stage.git_repo_updates:
        base = update.write_branch or forge.default_branch()
        now = {path: gitops.read_file(base, path) for path in promo.files_to_read(update)}
        _refuse_moved(stage_name, base, now, looked)


def check_clone_url(stage: str, url: str | None, repository: str, server_url: str) -> None:
    """Refuse a ``git-clone`` of another repository than the one Shunter runs in.

    Raises ``PermanentError`` naming both, so the stage is loud, never quietly edited
    somewhere the config did not say.
    """
    from bot.core.promote.repository import names_repository

    if url is None or names_repository(url, repository, server_url):
        return
    raise PermanentError(
        f"stage {stage}: git-clone's repoURL {url} is not {server_url.rstrip('/')}/{repository},"
        " the repository Shunter runs in; it edits only that one (point repoURL at it)"
    )


def _open(
    world: World,
    forge: Forge,
    action: OpenPromotionPR,
    out: Outcome,
    looked: Mapping[str, str | None] | None,
) -> None:
    from bot.core.decide.emergency import ATTESTATION
    from bot.core.promote import promotion as promo
    from bot.core.promote.exact import Origin, pr_origin, restore_comment

    if world.registry is not None and action.freight.images:
        # The ledger's freight is a record: ask the registry again before proposing it.
        wrong = trust.digest_mismatches(world.config, world.registry, action.freight)
        if wrong:
            out.inconsistencies.append(
                Inconsistency(
                    InconsistencyKind.DIGEST,
                    stage=action.stage,
                    freight=f"{action.freight.alias} ({action.freight.summary()})",
                    detail=", ".join(wrong),
                )
            )
            return
    gitops = world.gitops
    if gitops is None:
        raise PermanentError("promotions need the GitOps repository checkout (--repo-dir)")
    # Build on the base as it is now (another run may have merged since this round read
    # it); _edits refuses when the stage's own files moved meanwhile.
    gitops.refresh()
    base, edits = _edits(world, forge, action.stage, action.freight, looked)
    if all(gitops.read_file(base, path) == text for path, text in edits.items()):
        # The base already runs this freight: a PR would change nothing (GitHub refuses
        # one with no commits). The next round reads main and follows it.
        label = f"{action.freight.alias} ({action.freight.summary()})"
        detail = f"{base} already holds this promotion's edit"
        out.decisions.append(
            Decision(
                Subject.stage(action.stage), DecisionKind.RETRY, True, freight=label, detail=detail
            )
        )
        return
    branch = promo.branch_for(action.stage)
    named: PullRequest | None = None
    if action.pr is not None:
        named = _still_open(forge, action, out)
        if named is None:
            return
    # Idempotent: pushes nothing when the branch already holds exactly these files, so
    # pushing first never moves the head of a PR another run opened for this freight.
    head = gitops.commit_files(
        base=base, branch=branch, files=edits, message=action.commit_message, force=True
    )
    if action.restore:
        # Loud: someone changed the promotion PR, and the run says so with exit 1.
        out.errors.append(
            Failure(
                FailureKind.PERMANENT,
                System.PROMOTION,
                f"PR #{action.pr} held changes that are not the promotion's edit"
                f" ({action.restore}); Shunter put its own commit back",
                Subject.stage(action.stage),
            )
        )
    if action.restore and action.pr is not None:
        # Said where the people who approved the other head will look.
        forge.comment_pull_request(action.pr, restore_comment(branch, action.restore))
    if action.attest:
        # The grant this run received, attested where later runs can check who gave it.
        forge.set_status(
            head,
            context=ATTESTATION,
            state="success",
            description=action.attest,
            target_url=world.run_url,
        )
    existing: PullRequest | None = None
    bot = world.bots(forge.whoami())
    if action.pr is None:
        mine = _ours(forge.recent_pull_requests(branch), action.stage, bot)
        existing = _same_promotion(mine, action.freight.name, action.recorded)
        if existing is not None and existing.merged:
            return  # a concurrent run already promoted this freight; the next round records it
        if existing is None:
            opened = forge.open_pull_requests(branch)
            existing = next(iter(_ours(opened, action.stage, bot)), None)
            for pr in opened:
                if pr_origin(pr, stage=action.stage, bots=bot) is not Origin.OURS:
                    # GitHub allows one open PR per branch pair: someone else's from the
                    # bot's promotion branch is closed, never adopted.
                    forge.close_pull_request(
                        pr.number,
                        f"Closed by Shunter: {branch} is Shunter's promotion branch; only"
                        " Shunter opens promotion pull requests from it.",
                    )
    else:
        existing = named
    if existing is None:
        pr = forge.create_pull_request(base=base, head=branch, title=action.title, body=action.body)
        twin = _same_promotion(
            _ours(forge.recent_pull_requests(branch), action.stage, bot),
            action.freight.name,
            action.recorded,
        )
        if twin is not None and twin.number < pr.number:
            # A concurrent run opened the same promotion a moment earlier: keep theirs.
            forge.close_pull_request(pr.number, f"Duplicate of #{twin.number}.")
            return
        # GitHub refuses a review request to the PR's own author (422).
        users = [u for u in action.reviewers if u.lower() != pr.author.lower()]
        if users or action.team_reviewers:
            forge.request_reviewers(pr.number, users=users, teams=list(action.team_reviewers))
        if action.labels:
            forge.add_labels(pr.number, list(action.labels))
    elif (existing.title, existing.body) != (action.title, action.body):
        forge.update_pull_request(
            existing.number, title=action.title, body=action.body, head_sha=head
        )
        if action.labels:
            forge.add_labels(existing.number, list(action.labels))

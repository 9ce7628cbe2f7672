"""What the loop checks before it acts on a grant: GitHub and the registry decide.

The ledger is a record: a PR number, a ``verifiedIn`` entry or a freight record read from
it lets nothing through by itself. Before the loop merges a promotion PR, records a
merge, or opens a promotion, it asks GitHub (and the registry) again:

* is this PR the bot's own (its identity, ``shunter/<stage>``, the same repository), and
  is its base-to-head change exactly the edit the bot computes for the freight?
* who authored or committed the commits on its head (they never count as approvers)?
* does each image of the freight still have the digest the freight records?

The comparisons themselves are pure (``bot.core.promote.exact``); this module only
gathers what they compare.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.core.decide.inconsistency import Inconsistency, InconsistencyKind
from bot.core.decide.outcomes import Failure, Subject, System
from bot.core.model import ImageSubscription
from bot.errors import PermanentError, ShunterError, TransientError
from bot.loop.observe import failure

# Every run drops unreceived requests; only a run that meets a PR or a grant checks one,
# so the promotion's edit and the emergency rules are imported by the checks that use
# them, never by an idle refresh.
if TYPE_CHECKING:
    from bot.core.decide.pulls import PullRequest
    from bot.core.discover.freight import Freight
    from bot.core.ledger import Ledger
    from bot.core.model import Config, Stage
    from bot.core.promote.exact import PrCheck
    from bot.ports import Forge, GitRepo, Registry


def stage_base(stage: Stage, default_branch: str) -> str:
    """The branch a promotion of ``stage`` edits (the last ``writeBranch`` set, else the
    repository's default branch)."""
    base = default_branch
    for update in stage.git_repo_updates:
        if update.write_branch:
            base = update.write_branch
    return base


def expected_edit(
    stage: Stage, freight: Freight, read: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, str | None]]:
    """(path -> new text, path -> text before) of the bot's edit for ``freight``, reading
    the files it edits with ``read``. Raises ``PermanentError`` (another repository) or
    ``ValueError`` (a file or key the edit needs is missing)."""
    from bot.core.promote import promotion as promo

    edits: dict[str, str] = {}
    before: dict[str, str | None] = {}
    for update in stage.git_repo_updates:
        if update.repo_url is not None:
            raise PermanentError(
                f"stage {stage.name}: gitRepoUpdates.repoURL {update.repo_url} names another"
                " repository; this version edits only the repository it runs in (remove repoURL)"
            )
        for path in promo.files_to_read(update):
            if path not in before:
                before[path] = read(path)
        edits.update(promo.render_edits(stage, update, freight, {**before, **edits}))
    return edits, before


def check_pr(
    forge: Forge,
    gitops: GitRepo,
    stage: Stage,
    freight: Freight,
    pr: PullRequest,
    *,
    bot: frozenset[str],
    pushers: bool = True,
    any_author: bool = False,
) -> PrCheck:
    """Check ``pr`` (open, or merged) as the promotion of ``freight`` to ``stage``.

    An open PR is compared with the edit computed from its base branch now; a merged
    one with the edit computed from the base as it was just before its merge commit.
    ``pushers=False`` skips asking who made the head's commits (a merged PR's approvals
    no longer matter); ``any_author`` accepts a PR someone else opened from the
    promotion branch (evidence that a stage ran a freight: a person's own token runs
    the same loop for an emergency operation). Raises ``ShunterError`` when GitHub or
    git cannot answer (the caller does not act).
    """
    from bot.core.promote.exact import Origin, PrCheck, check_edit, pr_origin

    origin = pr_origin(pr, stage=stage.name, bots=bot)
    if origin is Origin.OTHER_AUTHOR and any_author:
        origin = pr_origin(pr, stage=stage.name, bots=frozenset({pr.author}))
    if origin is not Origin.OURS:
        return PrCheck(origin)
    # GitHub lists a PR's files from the merge base of its base and head, and merges
    # with three-way merge from there: the edit is computed against that same commit, so
    # a base that moved on after the head was built (another stage's merge, or this
    # freight landing through another PR) neither hides nor invents a change.
    base = f"{pr.merge_commit_sha}^1" if pr.merged and pr.merge_commit_sha else None
    if base is None:
        base = gitops.head(pr.base_branch)
    if base is None:
        raise PermanentError(f"PR #{pr.number}'s base branch {pr.base_branch} does not exist")
    branches = (pr.base_branch, pr.head_branch)
    # A head no longer on its branch (squash-merged, or rewritten since) is compared
    # with the base itself, as before its merge.
    since = gitops.merge_base(base, pr.head_sha, branches=branches, pull=pr.number) or base
    edits, before = expected_edit(
        stage, freight, lambda p: gitops.read_file_at(since, p, branch=pr.base_branch)
    )
    # The change is read from git for exactly the head the merge will name (the merge
    # sends this SHA), never from GitHub's file list of whatever head the PR has by the
    # time it answers: overlapping runs can move the head between two requests, and back.
    files = gitops.changed_files(since, pr.head_sha)
    people: set[str | None] = set()
    if pushers:
        commits = forge.pull_request_commits(pr.number)
        if commits and commits[-1].sha != pr.head_sha:
            raise TransientError(
                f"PR #{pr.number}'s head moved while it was read; the next round looks again"
            )
        for c in commits:
            people |= {c.author, c.committer}
    bots = {b.lower() for b in bot}
    others = frozenset(p for p in people if p is not None and p.lower() not in bots)
    return PrCheck(origin, check_edit(edits, before, files), others)


def promoters(
    config: Config, forge: Forge, pr: PullRequest, bots: frozenset[str]
) -> frozenset[str]:
    """Whose promotion PRs count for ``pr``: the bot's logins, and the PR's author when
    GitHub says now that they hold ``emergencyPermission`` (a maintainer who ran an
    emergency operation or an approval with their own token opened it). Raises
    ``ShunterError`` when GitHub cannot say."""
    from bot.core.decide.emergency import allowed

    if pr.author.lower() in {b.lower() for b in bots}:
        return bots
    if allowed(forge.permission(pr.author), config.settings.emergency_permission):
        return bots | {pr.author}
    return bots


def attested(
    config: Config,
    ledger: Ledger,
    forge: Forge,
    stage: Stage,
    pr: PullRequest,
    freight: str,
    bots: frozenset[str],
    unbacked: frozenset[tuple[str, str]] | None,
) -> str | Failure | None:
    """``freight`` when the head of ``pr`` (the stage's open promotion of it, already
    checked as the bot's exact edit) carries the grant attestation of
    :mod:`bot.core.decide.emergency`, set by the bot or by someone who holds the
    stage's ``emergencyPermission`` now; ``None`` when it does not, or when upstream
    verification lets the freight in anyway (GitHub is not asked then); a ``Failure``
    when GitHub could not say (nothing that depends on it goes ahead)."""
    from bot.core.decide.emergency import ATTESTATION, attests
    from bot.core.decide.selection import available_freight

    if freight in available_freight(config, stage, ledger, unbacked or frozenset()):
        return None
    try:
        statuses = forge.statuses(pr.head_sha)
        newest = next((st for st in statuses if st.context == ATTESTATION), None)
        roles: dict[str, str] = {}
        if newest is not None and newest.creator.lower() not in {b.lower() for b in bots}:
            roles[newest.creator.lower()] = forge.permission(newest.creator)
    except ShunterError as exc:
        return failure(exc, System.GITHUB, Subject.stage(stage.name))
    need = config.settings.emergency_permission
    return freight if attests(statuses, bots=bots, roles=roles, need=need) else None


def digest_mismatches(config: Config, registry: Registry, freight: Freight) -> tuple[str, ...]:
    """Images of ``freight`` whose tag the registry no longer resolves to the recorded
    digest (for the platform its subscription names) or does not have at all, each as
    ``repo:tag``. Raises ``TransientError`` when the registry cannot answer now."""
    platforms: dict[str, str | None] = {}
    for wh in config.warehouses:
        if wh.name == freight.warehouse:
            for sub in wh.subscriptions:
                if isinstance(sub, ImageSubscription):
                    platforms[sub.repo_url] = sub.platform
    out = []
    for image in freight.images:
        try:
            now = registry.digest(image.repo_url, image.tag, platforms.get(image.repo_url))
        except PermanentError:
            now = None  # no such tag (or repository) in the registry at all
        if now != image.digest:
            out.append(f"{image.repo_url}:{image.tag}")
    return tuple(out)


def drop_unreceived_requests(ledger: Ledger) -> list[Inconsistency]:
    """Remove every emergency request found in ``ledger`` as it was read: requests are
    carried out only by the run that receives them (the mutation applied after this), so
    one read from the ledger is either left over from a run that could not carry it out
    or written there by someone else. Each becomes an inconsistency; nothing acts on it."""
    out = []
    for name, rec in sorted(ledger.stages.items()):
        req = rec.request
        if req is None:
            continue
        rec.request = None
        out.append(
            Inconsistency(
                InconsistencyKind.REQUEST,
                stage=name,
                freight=req.freight[:12],
                detail=f"{req.kind} by {req.by}",
            )
        )
    return out


def unbacked_verifications(
    world_config: Config,
    ledger: Ledger,
    forge: Forge,
    gitops: GitRepo,
    *,
    bot: frozenset[str],
) -> tuple[frozenset[tuple[str, str]], list[Inconsistency]]:
    """The ``(freight, stage)`` pairs of ``verifiedIn`` that could let freight into a
    downstream stage now and that no merged promotion of the bot stands behind.

    Only entries that matter are checked: freight newer than what a downstream stage
    runs, which it has not run, verified in one of its upstream stages, newest first
    until one holds (only those could move now). An entry holds when the stage's
    last ``Succeeded`` promotion of that freight names a PR that GitHub reports merged,
    from the stage's promotion branch, and exactly the bot's edit (or, pushed without a
    PR, a commit whose files are exactly the edit). Raises nothing: a look-up that
    fails leaves the entry unbacked (fail closed)."""
    bad: set[tuple[str, str]] = set()
    found: list[Inconsistency] = []
    checked: dict[tuple[str, str], bool] = {}
    for stage in world_config.stages:
        upstream = {u for req in stage.requested_freight for u in req.upstream_stages}
        if not upstream:
            continue
        rec = ledger.stages.get(stage.name)
        seen: set[str | None] = set()
        if rec is not None:
            seen = {*rec.history, rec.current_freight}
        current = ledger.freight.get(rec.current_freight or "") if rec is not None else None
        floor = _order(current.freight) if current is not None else None
        offered = sorted(
            (
                fr
                for name, fr in ledger.freight.items()
                if name not in seen
                and name not in ledger.shelved  # never offered (selection)
                and stage.name not in fr.rejected_for
                and upstream & set(fr.verified_in)
                and (floor is None or _order(fr.freight) > floor)
            ),
            key=lambda fr: _order(fr.freight),
            reverse=True,
        )
        # Newest first, as selection takes them, until one holds: only those can move now.
        for fr in offered:
            backed = False
            for up in sorted(upstream & set(fr.verified_in)):
                key = (fr.freight.name, up)
                if key not in checked:
                    checked[key] = _backed(world_config, ledger, forge, gitops, up, fr.freight, bot)
                if checked[key]:
                    backed = True
                elif key not in bad:
                    bad.add(key)
                    found.append(
                        Inconsistency(
                            InconsistencyKind.VERIFIED_IN,
                            stage=stage.name,
                            freight=f"{fr.freight.alias} ({fr.freight.summary()})",
                            detail=up,
                        )
                    )
            if backed:
                break
    return frozenset(bad), found


def _order(f: Freight) -> tuple[datetime, str]:
    return (f.discovered_at or _EPOCH, f.name)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _backed(
    config: Config,
    ledger: Ledger,
    forge: Forge,
    gitops: GitRepo,
    stage_name: str,
    freight: Freight,
    bot: frozenset[str],
) -> bool:
    try:
        stage = config.stage(stage_name)
    except KeyError:
        return False
    record = next(
        (
            r
            for r in reversed(ledger.promotions)
            if r.stage == stage_name and r.freight == freight.name and r.status == "Succeeded"
        ),
        None,
    )
    if record is None:
        return False
    try:
        if record.pr is not None:
            pr = forge.pull_request(record.pr)
            check = check_pr(
                forge, gitops, stage, freight, pr, bot=bot, pushers=False, any_author=True
            )
            return pr.merged and check.exact
        if record.commit is None:
            return False
        base = stage_base(stage, forge.default_branch())
        commit = record.commit
        edits, _ = expected_edit(
            stage, freight, lambda p: gitops.read_file_at(f"{commit}^1", p, branch=base)
        )
        return all(gitops.read_file_at(commit, p, branch=base) == t for p, t in edits.items())
    except (ShunterError, ValueError):
        return False

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

from bot.core.decide.pulls import PullRequest
from bot.core.discover.freight import Freight
from bot.core.model import Config, ImageSubscription, Stage
from bot.core.promote import promotion as promo
from bot.core.promote.exact import Origin, PrCheck, check_edit, pr_origin
from bot.errors import PermanentError
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
    bot: str,
) -> PrCheck:
    """Check ``pr`` (open, or merged) as the promotion of ``freight`` to ``stage``.

    An open PR is compared with the edit computed from its base branch now; a merged
    one with the edit computed from the base as it was just before its merge commit.
    Raises ``ShunterError`` when GitHub or git cannot answer (the caller does not act).
    """
    origin = pr_origin(pr, stage=stage.name, bot_login=bot)
    if origin is not Origin.OURS:
        return PrCheck(origin)
    if pr.merged and pr.merge_commit_sha:
        parent = f"{pr.merge_commit_sha}^1"
        edits, before = expected_edit(
            stage, freight, lambda p: gitops.read_file_at(parent, p, branch=pr.base_branch)
        )
    else:
        edits, before = expected_edit(stage, freight, lambda p: gitops.read_file(pr.base_branch, p))
    files = forge.pull_request_files(pr.number)
    commits = forge.pull_request_commits(pr.number)
    people = {c.author for c in commits} | {c.committer for c in commits}
    pushers = frozenset(p for p in people if p is not None and p.lower() != bot.lower())
    return PrCheck(origin, check_edit(edits, before, files), pushers)


def digest_mismatches(config: Config, registry: Registry, freight: Freight) -> tuple[str, ...]:
    """Images of ``freight`` whose tag the registry no longer resolves to the recorded
    digest (for the platform its subscription names), each as ``repo:tag``. Raises
    ``ShunterError`` when the registry cannot answer."""
    platforms: dict[str, str | None] = {}
    for wh in config.warehouses:
        if wh.name == freight.warehouse:
            for sub in wh.subscriptions:
                if isinstance(sub, ImageSubscription):
                    platforms[sub.repo_url] = sub.platform
    out = []
    for image in freight.images:
        now = registry.digest(image.repo_url, image.tag, platforms.get(image.repo_url))
        if now != image.digest:
            out.append(f"{image.repo_url}:{image.tag}")
    return tuple(out)

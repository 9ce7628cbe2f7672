"""The ``shunter/gate`` check on every pull request into a branch Shunter's stages write.
Pure.

On a promotion PR the check says whether the stage's gates hold (:func:`promotion_check`).
On any other PR it says whether the PR leaves the promoted values alone
(:func:`pr_verdict`): does it change a value Shunter manages?

A stage's promotion writes a few exact places in the GitOps repository: the
``images[]`` entry of a ``kustomization.yaml`` for one image, or one key of a YAML file.
Those places are *managed*: only a promotion may change them, so a hand edit of prod's
tag in its ``values.yaml`` is refused (use ``shunter promote`` or the workflow's
``promote`` dispatch instead), and everything else in the repository is not Shunter's
business.

Where the managed places are is found by the promotion's own edit code
(:func:`bot.core.promote.promotion.render_edits`, Kargo 1.x step programs included),
never by a second reading of the files: the stage's promotion is rendered for two probe
freights (every image, chart and commit the warehouses follow, with made-up versions),
and the lines of the file that the probes change are the lines that hold the managed
values. A PR changes
a managed value when those lines read differently at its base and at its head (or the
place is gone from the head: a removed key, file or image entry). Lines are compared as
written, so a comment on a managed line is part of it.

Only updates that write to the repository Shunter runs in (no ``repoURL``) count, and
only on the branch they write to (no ``writeBranch``: the default branch).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.core.decide.actions import PublishCheck
from bot.core.decide.approvals import ApprovalResult
from bot.core.decide.gates import GATE_CHECK
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import Gate, GateKind
from bot.core.decide.pulls import ChangedFile
from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight
from bot.core.errors import CoreError
from bot.core.model import (
    ChartSubscription,
    Config,
    GitRepoUpdate,
    GitSubscription,
    ImageSubscription,
    Stage,
)
from bot.core.promote.promotion import files_to_read, render_edits

__all__ = [
    "ManagedChange",
    "ManagedChangeKind",
    "PRVerdict",
    "managed_files",
    "pr_verdict",
    "promotion_check",
]

# Gates that are not conditions on the merge itself: GitHub enforces its own rules, a
# stage without auto-promotion only means a person merges, and an uncounted approval
# never blocks.
_NOT_THE_CHECKS_BUSINESS = frozenset(
    {GateKind.MAIN_RULES, GateKind.AUTO_PROMOTION, GateKind.NOT_COUNTED}
)


def promotion_check(
    stage: str,
    sha: str,
    gates: list[Gate],
    result: ApprovalResult | None,
    obs: Observations,
) -> PublishCheck | None:
    """The ``shunter/gate`` check for a promotion PR's head ``sha``, or ``None`` when the
    check GitHub shows already says the same.

    Success when every gate of the stage holds (auto stages and emergencies included);
    otherwise in progress, with the first blocking gate as the title, or failure when a
    reviewer asked for changes or an approval is refused. GitHub's own rules and "a person
    merges this PR" are left out: the check is what a person merging by hand must wait
    for, and GitHub enforces its rules itself.
    """
    blocking = [g for g in gates if g.blocks and g.kind not in _NOT_THE_CHECKS_BUSINESS]
    conclusion: str | None = None
    if not blocking:
        conclusion, title = "success", f"{stage}: every gate holds"
    else:
        title = f"{stage}: {blocking[0].render()}"
        if result is not None and (result.changes_requested_by or result.problems):
            conclusion = "failure"
    summary = "\n".join(
        f"- [{' ' if g.blocks else 'x'}] {g.render()}"
        for g in gates
        if g.kind is not GateKind.MAIN_RULES
    )
    seen = obs.checks.get(stage)
    if isinstance(seen, tuple):
        for c in seen:
            if (
                c.name == GATE_CHECK
                and c.conclusion == conclusion
                and ((c.status == "completed") == (conclusion is not None))
                and c.title == title
            ):
                return None
    return PublishCheck(
        stage=stage, sha=sha, name=GATE_CHECK, conclusion=conclusion, title=title, summary=summary
    )


# Two probes that no real value equals both of: every managed place changes under one.
_PROBES = (1, 2)


class ManagedChangeKind(Enum):
    """How a pull request touches a place a stage's promotion writes."""

    VALUE_CHANGED = "changes"  # the value (its line) reads differently at the head
    PLACE_REMOVED = "removes"  # the key or file is gone at the head, or no longer YAML


@dataclass(frozen=True)
class ManagedChange:
    """``stage``'s promotion writes ``path``, and the pull request ``kind`` that value."""

    stage: str
    path: str
    kind: ManagedChangeKind
    detail: str = ""  # what the promotion code said about the head (a missing key)


@dataclass(frozen=True)
class PRVerdict:
    """The gate's verdict on a pull request that is not a promotion.

    ``changes`` empty: the PR changes no managed value (``checked`` lists the managed
    files it touches, read and found unchanged where it matters)."""

    changes: tuple[ManagedChange, ...] = ()
    checked: tuple[str, ...] = ()

    @property
    def passes(self) -> bool:
        return not self.changes

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages whose values the PR changes, in config order."""
        return tuple(dict.fromkeys(c.stage for c in self.changes))

    def title(self) -> str:
        """The check run's title."""
        if self.passes:
            return "changes no value a promotion manages"
        return f"changes {', '.join(self.stages)}'s promoted values: use a promotion"

    def summary(self) -> str:
        """The check run's summary (Markdown): what was found and what to do."""
        if self.passes:
            if not self.checked:
                return "This pull request touches no file a Shunter promotion edits."
            files = ", ".join(f"`{p}`" for p in self.checked)
            return (
                f"This pull request edits {files}, which promotions also edit, "
                "but not the values they write."
            )
        lines = ["This pull request edits values that only a promotion may change:", ""]
        for c in self.changes:
            more = f" ({c.detail})" if c.detail else ""
            lines.append(f"- `{c.path}`: {c.kind.value} the value stage **{c.stage}** runs{more}")
        lines += [
            "",
            "Move a stage with a promotion instead, so its gates and the ledger see it:"
            " `shunter promote --stage STAGE --freight FREIGHT --reason WHY`, or the"
            " Shunter workflow's *Run workflow* with operation `promote`."
            " Revert these lines to merge the rest of the change.",
        ]
        return "\n".join(lines)


def _writes_here(update: GitRepoUpdate, base_branch: str, default_branch: str) -> bool:
    """Whether ``update`` writes to this repository's ``base_branch``."""
    if update.repo_url is not None:
        return False
    return (update.write_branch or default_branch) == base_branch


def _stage_updates(
    config: Config, base_branch: str, default_branch: str
) -> list[tuple[Stage, GitRepoUpdate]]:
    return [
        (stage, u)
        for stage in config.stages
        for u in stage.git_repo_updates
        if _writes_here(u, base_branch, default_branch)
    ]


def managed_files(config: Config, base_branch: str, default_branch: str) -> tuple[str, ...]:
    """Paths that promotions write on ``base_branch`` (what to read at base and head)."""
    paths = [
        p for _, u in _stage_updates(config, base_branch, default_branch) for p in files_to_read(u)
    ]
    return tuple(dict.fromkeys(paths))


def _probe(config: Config, stage: Stage, update: GitRepoUpdate, n: int) -> Freight:
    """Freight with every artifact the warehouses follow (and the update names), each at
    a made-up version ``n``: what the stage's promotion would write, at a value no real
    freight has."""
    images: dict[str, None] = {}
    charts: list[Chart] = []
    commits: list[Commit] = []
    for wh in config.warehouses:
        for sub in wh.subscriptions:
            if isinstance(sub, ImageSubscription):
                images[sub.repo_url] = None
            elif isinstance(sub, ChartSubscription):
                charts.append(Chart(sub.repo_url, sub.name or "", f"{n}.0.0-shunter-probe"))
            elif isinstance(sub, GitSubscription):
                commits.append(Commit(sub.repo_url, f"{n}" * 40))
    images.update(dict.fromkeys(k.image for k in update.kustomize))
    images.update(dict.fromkeys(y.image for y in update.yaml if y.image))
    warehouses = [r.warehouse for r in stage.requested_freight if r.warehouse]
    return Freight(
        name=f"{n}" * 40,
        alias=f"shunter-probe-{n}",
        warehouse=warehouses[0] if warehouses else "",
        images=tuple(Image(r, f"{n}.0.0-shunter-probe", "sha256:" + f"{n}" * 64) for r in images),
        charts=tuple(charts),
        commits=tuple(commits),
    )


def _managed_lines(
    config: Config, stage: Stage, update: GitRepoUpdate, texts: Mapping[str, str | None]
) -> dict[str, tuple[str, ...]]:
    """For each file ``update`` edits, the lines of its text in ``texts`` that a
    promotion rewrites, in file order.

    Raises ``CoreError`` when the promotion cannot be rendered on these texts (a file,
    key or image entry it writes is missing)."""
    hit: dict[str, set[int]] = {}
    for n in _PROBES:
        edits = render_edits(stage, update, _probe(config, stage, update, n), texts)
        for path, new in edits.items():
            old = (texts.get(path) or "").splitlines()
            matcher = difflib.SequenceMatcher(None, old, new.splitlines(), autojunk=False)
            lines = hit.setdefault(path, set())
            for tag, i1, i2, _, _ in matcher.get_opcodes():
                if tag in ("replace", "delete"):
                    lines.update(range(i1, i2))
    out: dict[str, tuple[str, ...]] = {}
    for path, lines in hit.items():
        old = (texts.get(path) or "").splitlines()
        out[path] = tuple(old[i] for i in sorted(lines))
    return out


def pr_verdict(
    config: Config,
    *,
    base_branch: str,
    default_branch: str,
    changed: tuple[ChangedFile, ...],
    base_texts: Mapping[str, str | None],
    head_texts: Mapping[str, str | None],
) -> PRVerdict:
    """Judge a pull request into ``base_branch`` that is not a promotion.

    ``changed`` is the PR's file list; ``base_texts`` holds every managed file's text at
    the base (see :func:`managed_files`; ``None``: absent) and ``head_texts`` the text at
    the head of each managed file the PR changes (``None`` or missing: removed). A
    promotion that cannot be rendered at the base (its file or key is missing there)
    protects nothing yet: adding it changes nothing a promotion wrote. Never raises.
    """
    touched: dict[str, ChangedFile] = {}
    for f in changed:
        touched[f.path] = f
        if f.previous_path and f.status == "renamed":
            touched.setdefault(f.previous_path, ChangedFile(f.previous_path, "removed", None))
    out: list[ManagedChange] = []
    checked: list[str] = []
    for stage, update in _stage_updates(config, base_branch, default_branch):
        paths = [p for p in files_to_read(update) if p in touched]
        if not paths:
            continue
        checked += paths
        base = {p: base_texts.get(p) for p in files_to_read(update)}
        head = dict(base)
        for p in paths:
            head[p] = None if touched[p].status == "removed" else head_texts.get(p)
        try:
            before = _managed_lines(config, stage, update, base)
        except CoreError:
            continue  # not there at the base either: nothing to protect yet
        try:
            after = _managed_lines(config, stage, update, head)
        except CoreError as exc:
            gone = [p for p in paths if head[p] is None] or paths
            out += [
                ManagedChange(
                    stage.name,
                    p,
                    ManagedChangeKind.PLACE_REMOVED,
                    "" if head[p] is None else str(exc),  # a removed file says it all
                )
                for p in gone
            ]
            continue
        out += [
            ManagedChange(stage.name, p, ManagedChangeKind.VALUE_CHANGED)
            for p in paths
            if before.get(p, ()) != after.get(p, ())
        ]
    return PRVerdict(tuple(dict.fromkeys(out)), tuple(dict.fromkeys(checked)))

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
(:mod:`bot.core.promote.manifests`), never by a second reading of the files: each
place is written with a probe value, twice with two different probes, and the lines of
the file that the probes change are the lines that hold the managed value. A PR changes
a managed value when those lines read differently at its base and at its head (or the
place is gone from the head: a removed key, file or image entry). Lines are compared as
written, so a comment on a managed line is part of it.

Only updates that write to the repository Shunter runs in (no ``repoURL``) count, and
only on the branch they write to (no ``writeBranch``: the default branch).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from bot.core.decide.actions import PublishCheck
from bot.core.decide.approvals import ApprovalResult
from bot.core.decide.gates import GATE_CHECK
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import Gate, GateKind
from bot.core.decide.pulls import ChangedFile
from bot.core.errors import ManifestError
from bot.core.model import Config, GitRepoUpdate, KustomizeImageUpdate, Stage
from bot.core.promote import manifests
from bot.core.promote.promotion import files_to_read

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
_PROBES = ("shunter-probe-1", "shunter-probe-2")


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


def _probe_writers(update: GitRepoUpdate, path: str) -> list[Callable[[str, str], str]]:
    """Functions ``(text, probe) -> text`` writing ``probe`` where ``update`` writes in
    ``path``: the promotion's own setters, one per place."""
    writers: list[Callable[[str, str], str]] = []
    for k in update.kustomize:
        if files_to_read(GitRepoUpdate(kustomize=(k,))) != [path]:
            continue

        def kustomize(text: str, probe: str, k: KustomizeImageUpdate = k) -> str:
            return manifests.set_kustomize_image(
                text,
                k.image,
                new_tag=None if k.use_digest else probe,
                digest=f"sha256:{probe}" if k.use_digest else None,
                file=path,
            )

        writers.append(kustomize)
    for y in update.yaml:
        if y.file != path:
            continue

        def yaml_value(text: str, probe: str, key: str = y.key) -> str:
            return manifests.set_yaml_value(text, key, probe, file=path)

        writers.append(yaml_value)
    return writers


def _managed_lines(text: str, writers: list[Callable[[str, str], str]]) -> tuple[str, ...]:
    """The lines of ``text`` the writers change, in file order.

    Raises ``ManifestError`` when a writer cannot find its place."""
    old = text.splitlines()
    hit: set[int] = set()
    for probe in _PROBES:
        new = text
        for write in writers:
            new = write(new, probe)
        matcher = difflib.SequenceMatcher(None, old, new.splitlines(), autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                hit.update(range(i1, i2))
    return tuple(old[i] for i in sorted(hit))


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

    ``changed`` is the PR's file list; ``base_texts``/``head_texts`` hold, for each
    managed file it changes (see :func:`managed_files`), its text at the base and at the
    head (``None``: absent). A managed file absent at the base holds no value yet:
    adding it changes nothing a promotion wrote. Never raises.
    """
    touched: dict[str, ChangedFile] = {}
    for f in changed:
        touched[f.path] = f
        if f.previous_path and f.status == "renamed":
            touched.setdefault(f.previous_path, ChangedFile(f.previous_path, "removed", None))
    out: list[ManagedChange] = []
    checked: list[str] = []
    for stage, update in _stage_updates(config, base_branch, default_branch):
        for path in files_to_read(update):
            if path not in touched:
                continue
            checked.append(path)
            base = base_texts.get(path)
            if base is None:
                continue
            writers = _probe_writers(update, path)
            try:
                before = _managed_lines(base, writers)
            except ManifestError:
                continue  # the place is not there at the base either: nothing to protect
            head = head_texts.get(path) if touched[path].status != "removed" else None
            if head is None:
                out.append(ManagedChange(stage.name, path, ManagedChangeKind.PLACE_REMOVED))
                continue
            try:
                after = _managed_lines(head, writers)
            except ManifestError as exc:
                out.append(
                    ManagedChange(stage.name, path, ManagedChangeKind.PLACE_REMOVED, str(exc))
                )
                continue
            if before != after:
                out.append(ManagedChange(stage.name, path, ManagedChangeKind.VALUE_CHANGED))
    return PRVerdict(tuple(dict.fromkeys(out)), tuple(dict.fromkeys(checked)))

"""The ledger: everything Shunter remembers, as it is kept on the state branch.

The ledger is plain data. ``to_files`` turns it into a few YAML files a person can read on
GitHub (``warehouses.yaml``, ``freight.yaml``, ``stages.yaml``, ``promotions.yaml``) and
``from_files`` reads them back; both are pure and deterministic, so an unchanged ledger
serialises to byte-identical files and the state store can skip the write.

Secrets never enter the ledger: it holds names, versions, digests, logins and times.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

import yaml

from bot.core import ledger_yaml
from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight
from bot.errors import LedgerError, Problem

SCHEMA_VERSION = 1

#: Where promotion history past the retention window lives on the state branch.
ARCHIVE_DIR = "archive/"

PromotionKind = Literal["auto", "manual", "emergency", "rollback"]
PromotionStatus = Literal[
    "Succeeded", "Rejected", "Expired", "Superseded", "Failed", "MergedWithForeignChanges"
]


@dataclass
class FreightRecord:
    """One freight the ledger knows, and what happened to it per stage.

    ``verified_in`` and ``approved_for`` are records of what was seen (when a stage
    verified it, who approved it for a stage); like every ledger entry they grant
    nothing by themselves, and are re-checked against GitHub where they are used
    (DESIGN.md, Trust). ``rejected_for`` holds a stage back from the freight: its PR was
    closed unmerged, or expired.
    """

    freight: Freight
    verified_in: dict[str, datetime] = field(default_factory=dict)  # stage -> when
    approved_for: dict[str, str] = field(default_factory=dict)  # stage -> who
    rejected_for: dict[str, str] = field(default_factory=dict)  # stage -> why (PR closed, expired)


@dataclass
class OpenPromotion:
    """A promotion under way: its pull request is open (or about to be)."""

    freight: str
    kind: PromotionKind
    by: str
    reason: str
    started_at: datetime
    pr: int | None = None
    url: str | None = None
    head_sha: str | None = None


@dataclass
class Request:
    """A person asked for a promotion (emergency promote or rollback), not yet opened."""

    freight: str
    kind: PromotionKind
    by: str
    reason: str
    at: datetime
    # ``shunter approve``: the freight goes in without upstream verification, through
    # every other gate. Known only to the run that received it (never written).
    approve: bool = False


@dataclass
class Hold:
    """A person's stop on a stage: a rollback's hold on auto-promotion, or a pause. It only
    ever holds back; ``release-hold`` or ``resume`` (or a newer manual promotion, for a
    hold) clears it."""

    reason: str
    by: str
    at: datetime


@dataclass
class StepRecord:
    """One verification step's run for the freight under verification."""

    state: str  # pending | running | succeeded | failed
    started_at: datetime | None = None
    run_id: str | None = None
    url: str | None = None
    message: str = ""


@dataclass
class VerificationRecord:
    """Verification of the stage's current freight, followed across reconciles."""

    freight: str
    started_at: datetime
    steps: dict[str, StepRecord] = field(default_factory=dict)
    result: str | None = None  # None while under way; "succeeded" or "failed" at the end


@dataclass
class StageRecord:
    """What the ledger remembers of one stage: the freight it runs (``current_freight``,
    since ``since``; ``history`` newest first), its open promotion or pending request,
    holds and pauses, health and verification. The freight it runs is a cache of what
    ``main`` says; a difference is drift, reported (DESIGN.md, Trust).
    """

    current_freight: str | None = None
    since: datetime | None = None
    history: list[str] = field(default_factory=list)  # freight names, newest first
    promotion: OpenPromotion | None = None
    request: Request | None = None
    hold: Hold | None = None
    pause: Hold | None = None  # paused by an emergency operation (config `paused` is separate)
    healthy_since: datetime | None = None  # reset by any unhealthy observation
    health: str | None = None  # the last health message, for `get stages`
    verification: VerificationRecord | None = None
    # The promotion PRs last recorded as merged into the stage, newest first and bounded:
    # the audit log may have archived their records, and a merge counts once all the same.
    merged_prs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CachedSelection:
    """What one image subscription selected last, and how to ask the registry cheaply.

    ``selector`` fingerprints the subscription's selection settings (a config change
    makes the entry stale); ``tag``/``digest`` are the selected image (``None``: no tag
    matched); ``etag`` is the tag list's validator for ``If-None-Match`` (``None``: the
    registry gave none). ``checked_at`` is when the registry last confirmed the entry;
    it is written only along with another change, so an idle run writes nothing.
    """

    selector: str
    tag: str | None
    digest: str | None
    etag: str | None
    checked_at: datetime


@dataclass
class WarehouseRecord:
    """What the ledger remembers of one warehouse's discovery: when it last made freight,
    the words of its last failure (for people; the run keeps the failure's kind), and
    the cache entries that let an idle run ask registries as little as possible."""

    last_freight_at: datetime | None = None
    error: str | None = None  # the last discovery failure, cleared by a good discovery
    cache: dict[str, CachedSelection] = field(default_factory=dict)  # by subscription key
    # Chart repositories: HTTP validators (ETag, Last-Modified) and what they validated.
    validators: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class PromotionRecord:
    """One line of the audit log."""

    stage: str
    freight: str
    alias: str
    version: str
    kind: PromotionKind
    status: PromotionStatus
    by: str
    reason: str
    at: datetime
    pr: int | None = None
    url: str | None = None
    commit: str | None = None


@dataclass
class OperationRecord:
    """One emergency operation a person asked for (the audit log of who did what, and why).

    ``stage`` is empty for an operation on a warehouse (``create-freight``), which names
    its ``warehouse`` instead."""

    operation: str  # promote | rollback | promote-from | pause | resume | release-hold |
    # approve | create-freight
    stage: str
    by: str
    reason: str
    at: datetime
    freight: str | None = None
    warehouse: str | None = None


@dataclass(frozen=True)
class _Unread:
    """The text of the ledger files a run reads only when it needs them (``None``: absent)."""

    promotions: str | None
    shelf: str | None


@dataclass
class Ledger:
    """The whole ledger as read from the state branch: one mutable value per run.

    Read with :func:`from_files` (which refuses a file that is not what Shunter writes) and
    written back with :func:`to_files`, one commit per run; the planner changes a copy and
    says what it changed as ``Change`` values. A record, not an authority: it may hold things
    back, never let anything through on its own.

    ``freight`` holds every freight the ledger knows; the names in ``shelved`` are those
    kept only because a retained promotion record names them (no stage uses them and
    retention would prune them otherwise). They are written to ``SHELF_FILE`` rather than
    ``freight.yaml``, so a run that does not need them does not read them.

    A ledger read with ``from_files(files, defer=True)`` has not read ``promotions.yaml`` and
    ``SHELF_FILE`` yet: ``freight`` holds only ``freight.yaml``'s freight until
    :meth:`read_deferred` (which the first use of ``promotions``, a miss in
    :meth:`find_freight` and :func:`to_files` call) reads both, as strictly as
    :func:`from_files` does.
    """

    warehouses: dict[str, WarehouseRecord] = field(default_factory=dict)
    freight: dict[str, FreightRecord] = field(default_factory=dict)
    stages: dict[str, StageRecord] = field(default_factory=dict)
    operations: list[OperationRecord] = field(default_factory=list)
    shelved: set[str] = field(default_factory=set)
    # The audit log's records as read; use ``promotions``, which reads them first.
    log: list[PromotionRecord] = field(default_factory=list, repr=False)
    # The deferred files' text until :meth:`read_deferred` reads it (``None``: read).
    unread: _Unread | None = field(default=None, repr=False, compare=False)

    @property
    def promotions(self) -> list[PromotionRecord]:
        """The audit log's retained records, oldest first (read now if deferred).

        Raises ``LedgerError`` when a deferred file is not what Shunter writes.
        """
        self.read_deferred()
        return self.log

    @promotions.setter
    def promotions(self, records: list[PromotionRecord]) -> None:
        self.read_deferred()
        self.log = records

    @property
    def deferred(self) -> bool:
        """Whether ``promotions.yaml`` and ``SHELF_FILE`` are still unread."""
        return self.unread is not None

    def read_deferred(self) -> None:
        """Read the files ``from_files(..., defer=True)`` left unread, if any.

        Checks them as :func:`from_files` does (every field, and every freight a record
        names present in ``freight.yaml`` or ``SHELF_FILE``) and adds the shelf's freight to
        ``freight``. Raises ``LedgerError`` with every problem, leaving the ledger unread (a
        second call raises again); nothing may be written after it raises.
        """
        unread = self.unread
        if unread is None:
            return
        problems: list[_Issue] = []
        texts = {"promotions.yaml": unread.promotions, SHELF_FILE: unread.shelf}
        data = _parse_files({k: v for k, v in texts.items() if v is not None}, problems)
        records, shelf = _read_deferred(data, self.freight, problems)
        if problems:
            located = {k: v or "" for k, v in texts.items()}
            raise LedgerError([_locate(located, p) for p in problems])
        self.unread = None
        self.log = records
        for name, rec in shelf.items():
            self.freight.setdefault(name, rec)  # one the run re-made from its artifacts stays
        self.shelved = set(shelf)

    def stage(self, name: str) -> StageRecord:
        """The record of stage ``name``, created empty on first use."""
        return self.stages.setdefault(name, StageRecord())

    def warehouse(self, name: str) -> WarehouseRecord:
        """The record of warehouse ``name``, created empty on first use."""
        return self.warehouses.setdefault(name, WarehouseRecord())

    def find_freight(self, ref: str) -> FreightRecord | None:
        """Find freight by full ID, alias, or an unambiguous ID prefix of 7+ characters
        (reading the deferred files first when ``freight.yaml`` has no match)."""
        found = self._find_freight(ref)
        if found is None and self.deferred:
            self.read_deferred()
            found = self._find_freight(ref)
        return found

    def _find_freight(self, ref: str) -> FreightRecord | None:
        if ref in self.freight:
            return self.freight[ref]
        for rec in self.freight.values():
            if rec.freight.alias == ref:
                return rec
        if len(ref) >= 7:
            hits = [r for n, r in self.freight.items() if n.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
        return None


def stage_freight(ledger: Ledger) -> set[str]:
    """The freight the stages name: run, ran recently, under way, requested or verifying."""
    names: set[str] = set()
    for rec in ledger.stages.values():
        names.update(rec.history)
        for part in (rec.promotion, rec.request, rec.verification):
            if part is not None:
                names.add(part.freight)
        if rec.current_freight:
            names.add(rec.current_freight)
    return names


def copy_ledger(ledger: Ledger) -> Ledger:
    """Return a copy of ``ledger`` that can be changed without changing ``ledger``.

    Every mutable part (the records, their dicts and lists) is new; the immutable values
    inside them (strings, times, frozen ``Freight`` and ``CachedSelection``) are shared,
    which is what makes this cheap: ``copy.deepcopy`` rebuilt every time and every
    artifact too, about a third of an idle reconcile with a few hundred retained records.
    A record type given a new mutable field must copy it here (a test walks every field
    and fails on a shared mutable value).
    """
    return Ledger(
        warehouses={
            name: replace(
                w,
                cache=dict(w.cache),
                validators={url: dict(v) for url, v in w.validators.items()},
            )
            for name, w in ledger.warehouses.items()
        },
        freight={
            name: replace(
                f,
                verified_in=dict(f.verified_in),
                approved_for=dict(f.approved_for),
                rejected_for=dict(f.rejected_for),
            )
            for name, f in ledger.freight.items()
        },
        stages={name: _copy_stage(s) for name, s in ledger.stages.items()},
        operations=[replace(o) for o in ledger.operations],
        shelved=set(ledger.shelved),
        # Unread files stay unread in the copy: their text is immutable, and the copy
        # reads them only if the plan needs them.
        log=[replace(p) for p in ledger.log],
        unread=ledger.unread,
    )


def _copy_stage(s: StageRecord) -> StageRecord:
    v = s.verification
    return replace(
        s,
        history=list(s.history),
        merged_prs=list(s.merged_prs),
        promotion=None if s.promotion is None else replace(s.promotion),
        request=None if s.request is None else replace(s.request),
        hold=None if s.hold is None else replace(s.hold),
        pause=None if s.pause is None else replace(s.pause),
        verification=None
        if v is None
        else replace(v, steps={k: replace(step) for k, step in v.steps.items()}),
    )


# --------------------------------------------------------------------------- serialising


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _hold_out(h: Hold | None) -> dict[str, Any] | None:
    return None if h is None else {"reason": h.reason, "by": h.by, "at": _ts(h.at)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _verification_out(v: VerificationRecord | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return _drop_none(
        {
            "freight": v.freight,
            "startedAt": _ts(v.started_at),
            "result": v.result,
            "steps": {
                name: _drop_none(
                    {
                        "state": st.state,
                        "startedAt": _ts(st.started_at),
                        "runId": st.run_id,
                        "url": st.url,
                        "message": st.message or None,
                    }
                )
                for name, st in v.steps.items()
            },
        }
    )


_HEADER = "# Written by Shunter. Edit with care: every reconcile reads and rewrites this file.\n"


def _dump(data: Any) -> str:
    return _HEADER + ledger_yaml.dump(data)


def to_files(ledger: Ledger) -> dict[str, str]:
    """Serialise the ledger to ``{path: text}`` for the state branch (deterministic).

    Reads the deferred files first (``LedgerError`` if they are bad), so nothing is written
    from a ledger that was not wholly read. Shelved freight goes to ``SHELF_FILE`` (only
    when there is any), except freight a stage names, which is always in ``freight.yaml``.
    """
    ledger.read_deferred()
    on_shelf = ledger.shelved - stage_freight(ledger)
    warehouses = {
        name: _drop_none(
            {
                "lastFreightAt": _ts(w.last_freight_at),
                "error": w.error,
                "cache": {
                    key: _drop_none(
                        {
                            "selector": c.selector,
                            "tag": c.tag,
                            "digest": c.digest,
                            "etag": c.etag,
                            "checkedAt": _ts(c.checked_at),
                        }
                    )
                    for key, c in sorted(w.cache.items())
                },
                "validators": {k: dict(sorted(v.items())) for k, v in sorted(w.validators.items())},
            }
        )
        for name, w in sorted(ledger.warehouses.items())
    }
    freight_items = sorted(
        ledger.freight.values(),
        key=lambda r: (r.freight.discovered_at or _EPOCH, r.freight.name),
    )
    freight: dict[str, Any] = {}
    shelf: dict[str, Any] = {}
    for rec in freight_items:
        f = rec.freight
        (shelf if f.name in on_shelf else freight)[f.name] = _drop_none(
            {
                "alias": f.alias,
                "origin": {"kind": "Warehouse", "name": f.warehouse},
                "discoveredAt": _ts(f.discovered_at),
                "images": [
                    _drop_none(
                        {
                            "repoURL": i.repo_url,
                            "tag": i.tag,
                            "digest": i.digest,
                            "builtAt": _ts(i.built),
                        }
                    )
                    for i in f.images
                ],
                "charts": [
                    {"repoURL": c.repo_url, "name": c.name, "version": c.version} for c in f.charts
                ],
                "commits": [
                    _drop_none(
                        {
                            "repoURL": c.repo_url,
                            "id": c.id,
                            "branch": c.branch or None,
                            "tag": c.tag or None,
                            "message": c.message or None,
                        }
                    )
                    for c in f.commits
                ],
                "verifiedIn": {s: _ts(t) for s, t in sorted(rec.verified_in.items())},
                "approvedFor": dict(sorted(rec.approved_for.items())),
                "rejectedFor": dict(sorted(rec.rejected_for.items())),
            }
        )
    stages = {}
    for name, s in sorted(ledger.stages.items()):
        p = s.promotion
        r = s.request
        stages[name] = _drop_none(
            {
                "currentFreight": s.current_freight,
                "since": _ts(s.since),
                "history": list(s.history),
                "mergedPRs": list(s.merged_prs),
                "promotion": None
                if p is None
                else _drop_none(
                    {
                        "freight": p.freight,
                        "kind": p.kind,
                        "by": p.by,
                        "reason": p.reason or None,
                        "startedAt": _ts(p.started_at),
                        "pr": p.pr,
                        "url": p.url,
                        "headSha": p.head_sha,
                    }
                ),
                "request": None
                if r is None
                else {
                    "freight": r.freight,
                    "kind": r.kind,
                    "by": r.by,
                    "reason": r.reason,
                    "at": _ts(r.at),
                },
                "hold": _hold_out(s.hold),
                "pause": _hold_out(s.pause),
                "healthySince": _ts(s.healthy_since),
                "health": s.health,
                "verification": _verification_out(s.verification),
            }
        )
    promotions = [_promotion_out(p) for p in ledger.promotions]
    shelf_file = {SHELF_FILE: _dump(shelf)} if shelf else {}
    return {
        "README.md": _README,
        "ledger.yaml": _dump({"schemaVersion": SCHEMA_VERSION}),
        "warehouses.yaml": _dump(warehouses),
        "freight.yaml": _dump(freight),
        "stages.yaml": _dump(stages),
        "promotions.yaml": _dump(promotions),
        "operations.yaml": _dump(
            [
                _drop_none(
                    {
                        "operation": o.operation,
                        "stage": o.stage,
                        "by": o.by,
                        "reason": o.reason,
                        "at": _ts(o.at),
                        "freight": o.freight,
                        "warehouse": o.warehouse,
                    }
                )
                for o in ledger.operations
            ]
        ),
        **shelf_file,
    }


def _promotion_out(p: PromotionRecord) -> dict[str, Any]:
    return _drop_none(
        {
            "stage": p.stage,
            "freight": p.freight,
            "alias": p.alias,
            "version": p.version,
            "kind": p.kind,
            "status": p.status,
            "by": p.by,
            "reason": p.reason or None,
            "at": _ts(p.at),
            "pr": p.pr,
            "url": p.url,
            "commit": p.commit,
        }
    )


# --------------------------------------------------------------------------- archive

_ARCHIVE_HEADER = (
    "# Archived by Shunter: promotion records past the retention window (promotionHistory).\n"
    "# Reconcile never reads this file; `shunter get promotions --all` does.\n"
)


@dataclass(frozen=True)
class Archived:
    """What :func:`archive_promotions` moved: the new file (``{}``: none) and, by stage,
    how many records went into it."""

    files: dict[str, str] = field(default_factory=dict)
    moved: dict[str, int] = field(default_factory=dict)


def archive_promotions(ledger: Ledger, keep: int) -> Archived:
    """Move old promotion records out of ``ledger.promotions`` into a new archive file.

    A stage's records are archived once it has more than ``keep + keep // 2`` of them
    (the slack makes each archive file hold a batch rather than one record per run); its
    oldest records then go, leaving the newest ``keep``. Returns the one new file under
    ``archive/`` (none when nothing moved), named after the month of its newest record and
    a digest of its content, so two runs never pick one name for different records, and
    how many records of each stage it took. Deterministic: same ledger, same result.
    """
    by_stage: dict[str, list[int]] = {}
    for i, rec in enumerate(ledger.promotions):
        by_stage.setdefault(rec.stage, []).append(i)
    moved: set[int] = set()
    counts: dict[str, int] = {}
    for stage, indexes in by_stage.items():
        if len(indexes) > keep + keep // 2:
            # Oldest first by time (then by position: the log is appended in order).
            ordered = sorted(indexes, key=lambda i: (ledger.promotions[i].at, i))
            moved.update(ordered[: len(indexes) - keep])
            counts[stage] = len(indexes) - keep
    if not moved:
        return Archived()
    archived = [rec for i, rec in enumerate(ledger.promotions) if i in moved]
    ledger.promotions = [rec for i, rec in enumerate(ledger.promotions) if i not in moved]
    # Shelved freight is kept only for the records: what only moved records named goes
    # with them (the archive keeps each record's alias and version).
    named = {p.freight for p in ledger.promotions} | stage_freight(ledger)
    for name in sorted(ledger.shelved - named):
        ledger.shelved.discard(name)
        ledger.freight.pop(name, None)
    text = _ARCHIVE_HEADER + ledger_yaml.dump([_promotion_out(p) for p in archived])
    newest = max(p.at for p in archived).astimezone(UTC)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Archived({f"{ARCHIVE_DIR}promotions-{newest:%Y-%m}-{digest}.yaml": text}, counts)


def read_archive(files: dict[str, str]) -> list[PromotionRecord]:
    """Every promotion record in the ``archive/`` files among ``files``, oldest first.

    Raises ``LedgerError`` when an archive file is not what Shunter writes.
    """
    problems: list[_Issue] = []
    records: list[PromotionRecord] = []
    for name in sorted(files):
        if not name.startswith(ARCHIVE_DIR):
            continue
        try:
            value = ledger_yaml.load(files[name])
        except (ledger_yaml.AliasFound, ValueError, yaml.YAMLError) as exc:
            problems.append(_Issue(name, (), f"not readable YAML: {exc}", _RESTORE))
            continue
        records += read_promotions(_File(name, problems), value or [])
    if problems:
        raise LedgerError([_locate(files, p) for p in problems])
    return sorted(records, key=lambda r: r.at)


_README = """\
# Shunter state

This branch is Shunter's ledger. Each reconcile that changes something writes one commit
here, saying what changed. The files are plain YAML:

- `freight.yaml`: the freight (artifacts, when it was found, where it was verified or
  approved) that the stages and the warehouses' retention keep;
- `shelved-freight.yaml`: freight kept only because a record in `promotions.yaml` names
  it (read only with that file);
- `stages.yaml`: what each stage runs now, its history, open promotions, holds and pauses;
- `promotions.yaml`: the audit log of promotions (who, when, what, why, PR, commit): the
  newest records of each stage; older ones are in `archive/promotions-*.yaml`;
- `operations.yaml`: the emergency operations people asked for (who, when, why);
- `warehouses.yaml`: discovery bookkeeping.

Do not push to this branch by hand while Shunter runs; Shunter writes it with
compare-and-swap, so a concurrent edit makes its write retry rather than be lost.
"""


# --------------------------------------------------------------------------- reading

#: The files of a ledger; ``operations.yaml`` may be missing (ledgers written before it).
LEDGER_FILES = ("ledger.yaml", "warehouses.yaml", "freight.yaml", "stages.yaml", "promotions.yaml")
#: Freight only retained promotion records name (see ``Ledger.shelved``); optional.
SHELF_FILE = "shelved-freight.yaml"
OPTIONAL_FILES = ("operations.yaml", SHELF_FILE)
#: The files ``from_files(..., defer=True)`` leaves for :meth:`Ledger.read_deferred`.
DEFERRED_FILES = ("promotions.yaml", SHELF_FILE)

OPERATIONS = (
    "promote",
    "rollback",
    "promote-from",
    "pause",
    "resume",
    "release-hold",
    "approve",
    "create-freight",
)
STEP_STATES = ("pending", "running", "succeeded", "failed")
VERIFICATION_RESULTS = ("succeeded", "failed")
PROMOTION_KINDS: tuple[str, ...] = get_args(PromotionKind)
PROMOTION_STATUSES: tuple[str, ...] = get_args(PromotionStatus)

_RESTORE = "restore it from the branch history: git log -p on the state branch"

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class _Issue:
    """A problem found while reading: the file, the key path, and the line when known."""

    file: str
    path: KeyPath
    message: str
    hint: str = ""
    line: int | None = None


def _show(path: KeyPath) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(file)"


def _what(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class _File:
    """One ledger file being read: typed getters that record problems instead of raising.

    Each getter returns a usable value even when the input is bad (``None``, ``""``,
    the epoch), so reading carries on and every problem of the ledger is reported at once.
    """

    def __init__(self, name: str, problems: list[_Issue]) -> None:
        self.name = name
        self._problems = problems

    def fail(self, path: KeyPath, message: str, hint: str = "") -> None:
        self._problems.append(_Issue(self.name, path, message, hint))

    def fields(self, value: Any, path: KeyPath, known: tuple[str, ...]) -> dict[str, Any]:
        """``value`` as a mapping whose keys are all in ``known`` (else problems, and {})."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, found {_what(value)}", _RESTORE)
            return {}
        for key in value:
            if key not in known:
                self.fail(
                    (*path, str(key)),
                    "unknown key: Shunter never writes it",
                    f"remove it; the keys here are {', '.join(known)}",
                )
        return value

    def names(self, value: Any, path: KeyPath) -> dict[str, Any]:
        """``value`` as a mapping of names (text keys) to anything."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of names, found {_what(value)}", _RESTORE)
            return {}
        for key in value:
            if not isinstance(key, str) or not key:
                self.fail((*path, str(key)), f"a name must be text, found {_what(key)}", "quote it")
        return {k: v for k, v in value.items() if isinstance(k, str) and k}

    def items(self, value: Any, path: KeyPath) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list, found {_what(value)}", _RESTORE)
            return []
        return value

    def rows(
        self,
        d: dict[str, Any],
        key: str,
        at: KeyPath,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> list[dict[str, str]]:
        """Each item of the list ``d[key]`` as its text fields (``""`` for an absent one)."""
        out = []
        for i, item in enumerate(self.items(d.get(key) or [], (*at, key))):
            ip: KeyPath = (*at, key, i)
            fd = self.fields(item, ip, (*required, *optional))
            keys = (*required, *optional)
            out.append({k: self.text(fd, k, ip, required=k in required) for k in keys})
        return out

    def _get(self, d: dict[str, Any], key: str, path: KeyPath, required: bool, what: str) -> Any:
        """``d[key]``, or ``None`` when absent (a problem too when ``required``)."""
        value = d.get(key)
        if value is None and required:
            self.fail((*path, key), "missing", f"add {key}: with {what}")
        return value

    def text(self, d: dict[str, Any], key: str, path: KeyPath, *, required: bool = False) -> str:
        value = self._get(d, key, path, required, "a value")
        if value is None:
            return ""
        if not isinstance(value, str):
            hint = (
                f"quote it: {key}: '{value}'"
                if isinstance(value, int | float)
                else "write one line of text, as Shunter does"
            )
            self.fail((*path, key), f"expected text, found {_what(value)}", hint)
            return str(value)
        return value

    def opt_text(self, d: dict[str, Any], key: str, path: KeyPath) -> str | None:
        return self.text(d, key, path) if d.get(key) is not None else None

    def choice(self, d: dict[str, Any], key: str, path: KeyPath, allowed: tuple[str, ...]) -> str:
        if d.get(key) is not None and not isinstance(d[key], str):
            self.fail(
                (*path, key), f"{_what(d[key])} is not one of {', '.join(allowed)}", "use one"
            )
            return allowed[0]
        value = self.text(d, key, path, required=True)
        if value and value not in allowed:
            self.fail((*path, key), f"{value!r} is not one of {', '.join(allowed)}", "use one")
        return value if value in allowed else allowed[0]

    def integer(self, d: dict[str, Any], key: str, path: KeyPath) -> int | None:
        value = d.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(
                (*path, key),
                f"expected a positive whole number, found {_what(value)}",
                "write the number without quotes, or remove the key",
            )
            return None
        return value

    def time(self, d: dict[str, Any], key: str, path: KeyPath, *, required: bool = False) -> Any:
        value = self._get(d, key, path, required, "a UTC time")
        return None if value is None else self.time_value(value, (*path, key))

    def time_value(self, value: Any, path: KeyPath) -> datetime:
        try:
            parsed = _parse_ts(value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(
                path,
                f"{_what(value)} is not a UTC time",
                "write it as Shunter does, e.g. '2026-11-30T09:00:00Z'",
            )
            return _EPOCH
        return parsed


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _parse_ts(value: Any) -> datetime | None:
    """A stored time: a datetime (an unquoted YAML timestamp) or ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError(value)
    # fromisoformat is several times faster than strptime; the regex keeps the format exact.
    return datetime.fromisoformat(value)


def from_files(files: dict[str, str], *, defer: bool = False) -> Ledger:
    """Read a ledger back from the state branch's files, checking every field.

    ``{}`` (no state branch yet) is an empty ledger. Otherwise every file of
    ``LEDGER_FILES`` must be there and hold what Shunter writes: known keys only, enums
    from their lists, times as ``YYYY-MM-DDTHH:MM:SSZ``, text where text belongs, every
    freight a stage names present in ``freight.yaml``, and every freight a promotion record
    names present there or in ``SHELF_FILE``. Files under ``archive/`` are not part of the
    ledger and are ignored here (see :func:`read_archive`).

    ``defer=True`` leaves ``promotions.yaml`` and ``SHELF_FILE`` unread (their size follows
    the retained history, and an idle reconcile needs neither): the ledger reads them,
    just as strictly, on first need (:meth:`Ledger.read_deferred`).

    Raises ``LedgerError`` listing every problem as ``FILE:LINE: key: message`` with the
    fix; nothing is partially read.
    """
    files = {k: v for k, v in files.items() if not k.startswith(ARCHIVE_DIR)}
    problems: list[_Issue] = []
    if not files:
        return Ledger()
    later = DEFERRED_FILES if defer else ()
    for name in LEDGER_FILES:
        if name not in files:
            problems.append(_Issue(name, (), "missing from the state branch", _RESTORE))
    data = _parse_files({k: v for k, v in files.items() if k not in later}, problems)
    if "ledger.yaml" in data:
        meta = _File("ledger.yaml", problems).fields(data["ledger.yaml"], (), ("schemaVersion",))
        version = meta.get("schemaVersion")
        if not isinstance(version, int) or isinstance(version, bool):
            problems.append(
                _Issue("ledger.yaml", ("schemaVersion",), "expected a number", "write 1")
            )
        elif version > SCHEMA_VERSION:
            problems.append(
                _Issue(
                    "ledger.yaml",
                    ("schemaVersion",),
                    f"{version} is newer than this Shunter understands ({SCHEMA_VERSION})",
                    "upgrade Shunter",
                )
            )
    ledger = Ledger()
    if not problems:
        _read_warehouses(_File("warehouses.yaml", problems), data["warehouses.yaml"], ledger)
        _read_freight(_File("freight.yaml", problems), data["freight.yaml"], ledger)
        _read_stages(_File("stages.yaml", problems), data["stages.yaml"], ledger)
        _read_operations(
            _File("operations.yaml", problems), data.get("operations.yaml", []), ledger
        )
        if not problems:  # a broken file would only add echoes of its own problems
            _check_stage_references(ledger, problems)
        if defer:
            ledger.unread = _Unread(files.get("promotions.yaml"), files.get(SHELF_FILE))
        else:
            records, shelf = _read_deferred(data, ledger.freight, problems)
            ledger.log = records
            ledger.freight.update(shelf)
            ledger.shelved = set(shelf)
    if problems:
        raise LedgerError([_locate(files, p) for p in problems])
    return ledger


def _parse_files(files: dict[str, str], problems: list[_Issue]) -> dict[str, Any]:
    """The YAML of each of the ledger's ``files`` (by name) that parses to something;
    a problem for each that does not (bad YAML, an alias, an emptied file)."""
    data: dict[str, Any] = {}
    for name in (*LEDGER_FILES, *OPTIONAL_FILES):
        text = files.get(name)
        if text is None:
            continue
        try:
            value = ledger_yaml.load(text)
        except ledger_yaml.AliasFound as exc:
            problems.append(
                _Issue(
                    name,
                    (),
                    "a YAML anchor used by an alias: aliases are not allowed in the ledger",
                    "write the value out in full; Shunter never writes aliases",
                    exc.line,
                )
            )
            continue
        except (ValueError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = None if mark is None else mark.line + 1
            problems.append(
                _Issue(name, (), f"not readable YAML: {_yaml_problem(exc)}", _RESTORE, line)
            )
            continue
        if value is None:
            empty = "[]" if name in ("promotions.yaml", "operations.yaml") else "{}"
            problems.append(
                _Issue(
                    name, (), "the file is empty", f"{_RESTORE}, or write {empty} for no entries"
                )
            )
            continue
        data[name] = value
    return data


def _read_deferred(
    data: dict[str, Any], known: dict[str, FreightRecord], problems: list[_Issue]
) -> tuple[list[PromotionRecord], dict[str, FreightRecord]]:
    """The promotion records and shelved freight in ``data`` (parsed ``promotions.yaml``
    and ``SHELF_FILE``), checked against ``known`` (``freight.yaml``'s freight)."""
    if "promotions.yaml" not in data:
        return [], {}  # its problem (missing, empty, unreadable) is already in ``problems``
    shelf = Ledger()
    _read_freight(_File(SHELF_FILE, problems), data.get(SHELF_FILE, {}), shelf)
    for name in shelf.freight:
        if name in known:
            problems.append(
                _Issue(
                    SHELF_FILE,
                    (name,),
                    "is in freight.yaml too",
                    "keep one of the two entries (Shunter writes each freight once)",
                )
            )
    records = read_promotions(_File("promotions.yaml", problems), data["promotions.yaml"])
    hint = (
        "put back the freight.yaml entry it names (it is in the branch history), "
        "or name a freight that freight.yaml holds"
    )
    for i, p in enumerate(records if not problems else ()):  # else: echoes of problems
        if p.freight and p.freight not in known and p.freight not in shelf.freight:
            problems.append(
                _Issue(
                    "promotions.yaml",
                    (i, "freight"),
                    f"names freight {p.freight} that freight.yaml does not hold",
                    hint,
                )
            )
    return records, shelf.freight


def _yaml_problem(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        return exc.problem
    return str(exc).splitlines()[0]


def _locate(files: dict[str, str], issue: _Issue) -> Problem:
    """``issue`` as a Problem with its line: given, or found by walking the file to its path."""
    line = issue.line
    if line is None:
        text = files.get(issue.file)
        line = ledger_yaml.line_of(text, issue.path) if text and issue.path else 1
    return Problem(issue.file, line, 0, _show(issue.path), issue.message, issue.hint)


def _read_warehouses(f: _File, value: Any, ledger: Ledger) -> None:
    for name, w in f.names(value, ()).items():
        at: KeyPath = (name,)
        d = f.fields(w, at, ("lastFreightAt", "error", "cache", "validators"))
        cache: dict[str, CachedSelection] = {}
        for key, c in f.names(d.get("cache") or {}, (*at, "cache")).items():
            cp: KeyPath = (*at, "cache", key)
            cd = f.fields(c, cp, ("selector", "tag", "digest", "etag", "checkedAt"))
            cache[key] = CachedSelection(
                selector=f.text(cd, "selector", cp, required=True),
                tag=f.opt_text(cd, "tag", cp),
                digest=f.opt_text(cd, "digest", cp),
                etag=f.opt_text(cd, "etag", cp),
                checked_at=f.time(cd, "checkedAt", cp, required=True) or _EPOCH,
            )
        validators: dict[str, dict[str, str]] = {}
        for key, v in f.names(d.get("validators") or {}, (*at, "validators")).items():
            vp: KeyPath = (*at, "validators", key)
            vd = f.names(v, vp)
            validators[key] = {k: f.text(vd, k, vp) for k in vd}
        ledger.warehouses[name] = WarehouseRecord(
            last_freight_at=f.time(d, "lastFreightAt", at),
            error=f.opt_text(d, "error", at),
            cache=cache,
            validators=validators,
        )


_FREIGHT_KEYS = (
    "alias", "origin", "discoveredAt", "images", "charts", "commits",
    "verifiedIn", "approvedFor", "rejectedFor",
)  # fmt: skip


def _read_freight(f: _File, value: Any, ledger: Ledger) -> None:
    for name, v in f.names(value, ()).items():
        at: KeyPath = (name,)
        d = f.fields(v, at, _FREIGHT_KEYS)
        origin = f.fields(d.get("origin") or {}, (*at, "origin"), ("kind", "name"))
        f.choice(origin, "kind", (*at, "origin"), ("Warehouse",))
        images = [
            Image(
                repo_url=r["repoURL"],
                tag=r["tag"],
                digest=r["digest"],
                built=f.time_value(r["builtAt"], (*at, "images", i, "builtAt"))
                if r["builtAt"]
                else None,
            )
            for i, r in enumerate(
                f.rows(d, "images", at, ("repoURL", "tag", "digest"), ("builtAt",))
            )
        ]
        charts = [
            Chart(repo_url=r["repoURL"], name=r["name"], version=r["version"])
            for r in f.rows(d, "charts", at, ("repoURL", "name", "version"))
        ]
        commits = [
            Commit(r["repoURL"], r["id"], r["branch"], r["tag"], r["message"])
            for r in f.rows(d, "commits", at, ("repoURL", "id"), ("branch", "tag", "message"))
        ]
        verified = f.names(d.get("verifiedIn") or {}, (*at, "verifiedIn"))
        approved = f.names(d.get("approvedFor") or {}, (*at, "approvedFor"))
        rejected = f.names(d.get("rejectedFor") or {}, (*at, "rejectedFor"))
        ledger.freight[name] = FreightRecord(
            freight=Freight(
                name=name,
                alias=f.text(d, "alias", at, required=True),
                warehouse=f.text(origin, "name", (*at, "origin"), required=True),
                images=tuple(images),
                charts=tuple(charts),
                commits=tuple(commits),
                discovered_at=f.time(d, "discoveredAt", at),
            ),
            verified_in={s: f.time_value(t, (*at, "verifiedIn", s)) for s, t in verified.items()},
            approved_for={s: f.text(approved, s, (*at, "approvedFor")) for s in approved},
            rejected_for={s: f.text(rejected, s, (*at, "rejectedFor")) for s in rejected},
        )


_STAGE_KEYS = (
    "currentFreight", "since", "history", "promotion", "request", "hold", "pause",
    "healthySince", "health", "verification", "mergedPRs",
)  # fmt: skip
_PROMOTION_KEYS = ("freight", "kind", "by", "reason", "startedAt", "pr", "url", "headSha")


def _read_stages(f: _File, value: Any, ledger: Ledger) -> None:
    for name, v in f.names(value, ()).items():
        at: KeyPath = (name,)
        d = f.fields(v, at, _STAGE_KEYS)
        history = []
        for i, h in enumerate(f.items(d.get("history") or [], (*at, "history"))):
            if not isinstance(h, str):
                f.fail(
                    (*at, "history", i),
                    f"expected a freight ID, found {_what(h)}",
                    "write the freight's ID as freight.yaml names it",
                )
            history.append(str(h))
        merged_prs = []
        for i, n in enumerate(f.items(d.get("mergedPRs") or [], (*at, "mergedPRs"))):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                f.fail(
                    (*at, "mergedPRs", i),
                    f"expected a pull request number, found {_what(n)}",
                    "write the number without quotes, or remove the entry",
                )
                continue
            merged_prs.append(n)
        promotion = request = None
        if d.get("promotion"):
            pp: KeyPath = (*at, "promotion")
            pd = f.fields(d["promotion"], pp, _PROMOTION_KEYS)
            promotion = OpenPromotion(
                freight=f.text(pd, "freight", pp, required=True),
                kind=cast(PromotionKind, f.choice(pd, "kind", pp, PROMOTION_KINDS)),
                by=f.text(pd, "by", pp, required=True),
                reason=f.text(pd, "reason", pp),
                started_at=f.time(pd, "startedAt", pp, required=True) or _EPOCH,
                pr=f.integer(pd, "pr", pp),
                url=f.opt_text(pd, "url", pp),
                head_sha=f.opt_text(pd, "headSha", pp),
            )
        if d.get("request"):
            rp: KeyPath = (*at, "request")
            rd = f.fields(d["request"], rp, ("freight", "kind", "by", "reason", "at"))
            request = Request(
                freight=f.text(rd, "freight", rp, required=True),
                kind=cast(PromotionKind, f.choice(rd, "kind", rp, PROMOTION_KINDS)),
                by=f.text(rd, "by", rp, required=True),
                reason=f.text(rd, "reason", rp, required=True),
                at=f.time(rd, "at", rp, required=True) or _EPOCH,
            )
        ledger.stages[name] = StageRecord(
            current_freight=f.opt_text(d, "currentFreight", at),
            since=f.time(d, "since", at),
            history=history,
            merged_prs=merged_prs,
            promotion=promotion,
            request=request,
            hold=_read_hold(f, d.get("hold"), (*at, "hold")),
            pause=_read_hold(f, d.get("pause"), (*at, "pause")),
            healthy_since=f.time(d, "healthySince", at),
            health=f.opt_text(d, "health", at),
            verification=_read_verification(f, d.get("verification"), (*at, "verification")),
        )


def _read_hold(f: _File, value: Any, at: KeyPath) -> Hold | None:
    if not value:
        return None
    d = f.fields(value, at, ("reason", "by", "at"))
    return Hold(
        reason=f.text(d, "reason", at, required=True),
        by=f.text(d, "by", at, required=True),
        at=f.time(d, "at", at, required=True) or _EPOCH,
    )


def _read_verification(f: _File, value: Any, at: KeyPath) -> VerificationRecord | None:
    if not value:
        return None
    d = f.fields(value, at, ("freight", "startedAt", "result", "steps"))
    result = None
    if d.get("result") is not None:
        result = f.choice(d, "result", at, VERIFICATION_RESULTS)
    steps = {}
    for name, st in f.names(d.get("steps") or {}, (*at, "steps")).items():
        sp: KeyPath = (*at, "steps", name)
        sd = f.fields(st, sp, ("state", "startedAt", "runId", "url", "message"))
        steps[name] = StepRecord(
            state=f.choice(sd, "state", sp, STEP_STATES),
            started_at=f.time(sd, "startedAt", sp),
            run_id=f.opt_text(sd, "runId", sp),
            url=f.opt_text(sd, "url", sp),
            message=f.text(sd, "message", sp),
        )
    return VerificationRecord(
        freight=f.text(d, "freight", at, required=True),
        started_at=f.time(d, "startedAt", at, required=True) or _EPOCH,
        steps=steps,
        result=result,
    )


_RECORD_KEYS = (
    "stage", "freight", "alias", "version", "kind", "status", "by", "reason", "at",
    "pr", "url", "commit",
)  # fmt: skip


def read_promotions(f: _File, value: Any) -> list[PromotionRecord]:
    """The promotion records of ``value`` (a list, as in ``promotions.yaml``)."""
    out = []
    for i, p in enumerate(f.items(value, ())):
        at: KeyPath = (i,)
        d = f.fields(p, at, _RECORD_KEYS)
        out.append(
            PromotionRecord(
                stage=f.text(d, "stage", at, required=True),
                freight=f.text(d, "freight", at, required=True),
                alias=f.text(d, "alias", at, required=True),
                version=f.text(d, "version", at, required=True),
                kind=cast(PromotionKind, f.choice(d, "kind", at, PROMOTION_KINDS)),
                status=cast(PromotionStatus, f.choice(d, "status", at, PROMOTION_STATUSES)),
                by=f.text(d, "by", at, required=True),
                reason=f.text(d, "reason", at),
                at=f.time(d, "at", at, required=True) or _EPOCH,
                pr=f.integer(d, "pr", at),
                url=f.opt_text(d, "url", at),
                commit=f.opt_text(d, "commit", at),
            )
        )
    return out


def _read_operations(f: _File, value: Any, ledger: Ledger) -> None:
    for i, o in enumerate(f.items(value, ())):
        at: KeyPath = (i,)
        d = f.fields(o, at, ("operation", "stage", "by", "reason", "at", "freight", "warehouse"))
        warehouse = f.opt_text(d, "warehouse", at)
        ledger.operations.append(
            OperationRecord(
                operation=f.choice(d, "operation", at, OPERATIONS),
                stage=f.text(d, "stage", at, required=warehouse is None),
                by=f.text(d, "by", at, required=True),
                reason=f.text(d, "reason", at),
                at=f.time(d, "at", at, required=True) or _EPOCH,
                freight=f.opt_text(d, "freight", at),
                warehouse=warehouse,
            )
        )


def _check_stage_references(ledger: Ledger, problems: list[_Issue]) -> None:
    """Every freight a stage names must be in ``freight.yaml`` (never only on the shelf)."""
    known = ledger.freight
    hint = (
        "put back the freight.yaml entry it names (it is in the branch history), "
        "or name a freight that freight.yaml holds"
    )

    def check(path: KeyPath, ref: str | None) -> None:
        if ref and ref not in known:
            message = f"names freight {ref} that freight.yaml does not hold"
            problems.append(_Issue("stages.yaml", path, message, hint))

    for name, s in ledger.stages.items():
        check((name, "currentFreight"), s.current_freight)
        for i, h in enumerate(s.history):
            check((name, "history", i), h)
        for part, rec in (("promotion", s.promotion), ("request", s.request),
                          ("verification", s.verification)):  # fmt: skip
            if rec is not None:
                check((name, part, "freight"), rec.freight)

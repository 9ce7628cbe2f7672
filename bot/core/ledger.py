"""The ledger: everything Shunter remembers, as it is kept on the state branch.

The ledger is plain data. ``to_files`` turns it into a few YAML files a person can read on
GitHub (``warehouses.yaml``, ``freight.yaml``, ``stages.yaml``, ``promotions.yaml``) and
``from_files`` reads them back; both are pure and deterministic, so an unchanged ledger
serialises to byte-identical files and the state store can skip the write.

Secrets never enter the ledger: it holds names, versions, digests, logins and times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import yaml

from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight

SCHEMA_VERSION = 1

PromotionKind = Literal["auto", "manual", "emergency", "rollback"]
PromotionStatus = Literal["Succeeded", "Rejected", "Expired", "Superseded", "Failed"]


@dataclass
class FreightRecord:
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


@dataclass
class Hold:
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
    """One emergency operation a person asked for (the audit log of who did what, and why)."""

    operation: str  # promote | rollback | promote-from | pause | resume | release-hold
    stage: str
    by: str
    reason: str
    at: datetime
    freight: str | None = None


@dataclass
class Ledger:
    warehouses: dict[str, WarehouseRecord] = field(default_factory=dict)
    freight: dict[str, FreightRecord] = field(default_factory=dict)
    stages: dict[str, StageRecord] = field(default_factory=dict)
    promotions: list[PromotionRecord] = field(default_factory=list)
    operations: list[OperationRecord] = field(default_factory=list)

    def stage(self, name: str) -> StageRecord:
        """The record of stage ``name``, created empty on first use."""
        return self.stages.setdefault(name, StageRecord())

    def warehouse(self, name: str) -> WarehouseRecord:
        """The record of warehouse ``name``, created empty on first use."""
        return self.warehouses.setdefault(name, WarehouseRecord())

    def find_freight(self, ref: str) -> FreightRecord | None:
        """Find freight by full ID, alias, or an unambiguous ID prefix of 7+ characters."""
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


# --------------------------------------------------------------------------- serialising


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _hold_out(h: Hold | None) -> dict[str, Any] | None:
    return None if h is None else {"reason": h.reason, "by": h.by, "at": _ts(h.at)}


def _hold_in(d: Any) -> Hold | None:
    if not d:
        return None
    return Hold(reason=str(d["reason"]), by=str(d["by"]), at=_parse_ts(d["at"]) or _EPOCH)


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


def _verification_in(d: Any) -> VerificationRecord | None:
    if not d:
        return None
    return VerificationRecord(
        freight=str(d["freight"]),
        started_at=_parse_ts(d["startedAt"]) or _EPOCH,
        result=d.get("result"),
        steps={
            name: StepRecord(
                state=str(st["state"]),
                started_at=_parse_ts(st.get("startedAt")),
                run_id=st.get("runId"),
                url=st.get("url"),
                message=st.get("message", ""),
            )
            for name, st in (d.get("steps") or {}).items()
        },
    )


_HEADER = "# Written by Shunter. Edit with care: every reconcile reads and rewrites this file.\n"


def _dump(data: Any) -> str:
    return _HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def to_files(ledger: Ledger) -> dict[str, str]:
    """Serialise the ledger to ``{path: text}`` for the state branch (deterministic)."""
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
    freight = {}
    for rec in freight_items:
        f = rec.freight
        freight[f.name] = _drop_none(
            {
                "alias": f.alias,
                "origin": {"kind": "Warehouse", "name": f.warehouse},
                "discoveredAt": _ts(f.discovered_at),
                "images": [
                    {"repoURL": i.repo_url, "tag": i.tag, "digest": i.digest} for i in f.images
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
    promotions = [
        _drop_none(
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
        for p in ledger.promotions
    ]
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
                    }
                )
                for o in ledger.operations
            ]
        ),
    }


_README = """\
# Shunter state

This branch is Shunter's ledger. Each reconcile that changes something writes one commit
here, saying what changed. The files are plain YAML:

- `freight.yaml`: every piece of freight (artifacts, when it was found, where it was
  verified or approved);
- `stages.yaml`: what each stage runs now, its history, open promotions, holds and pauses;
- `promotions.yaml`: the audit log of promotions (who, when, what, why, PR, commit);
- `operations.yaml`: the emergency operations people asked for (who, when, why);
- `warehouses.yaml`: discovery bookkeeping.

Do not push to this branch by hand while Shunter runs; Shunter writes it with
compare-and-swap, so a concurrent edit makes its write retry rather than be lost.
"""


def _load(files: dict[str, str], name: str, default: Any) -> Any:
    text = files.get(name)
    if not text:
        return default
    # LibYAML's loader when PyYAML has it (same result, several times faster); the writer
    # stays the pure-Python one so the files are byte-identical on every machine.
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return default if data is None else data


def from_files(files: dict[str, str]) -> Ledger:
    """Read a ledger back from the state branch's files (missing files mean empty parts).

    Raises ``ValueError`` if a file is not the YAML Shunter writes (a hand edit gone wrong).
    """
    try:
        return _from_files(files)
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
        raise ValueError(f"the state branch holds a file Shunter cannot read: {exc}") from exc


def _from_files(files: dict[str, str]) -> Ledger:
    meta = _load(files, "ledger.yaml", {})
    version = meta.get("schemaVersion", SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schemaVersion {version} is newer than this Shunter understands ({SCHEMA_VERSION});"
            " upgrade Shunter"
        )
    ledger = Ledger()
    for name, w in _load(files, "warehouses.yaml", {}).items():
        ledger.warehouses[name] = WarehouseRecord(
            last_freight_at=_parse_ts(w.get("lastFreightAt")),
            error=w.get("error"),
            cache={
                str(key): CachedSelection(
                    selector=str(c["selector"]),
                    tag=None if c.get("tag") is None else str(c["tag"]),
                    digest=None if c.get("digest") is None else str(c["digest"]),
                    etag=None if c.get("etag") is None else str(c["etag"]),
                    checked_at=_parse_ts(c.get("checkedAt")) or _EPOCH,
                )
                for key, c in (w.get("cache") or {}).items()
            },
            validators={
                str(k): {str(a): str(b) for a, b in v.items()}
                for k, v in (w.get("validators") or {}).items()
            },
        )
    for name, f in _load(files, "freight.yaml", {}).items():
        fr = Freight(
            name=name,
            alias=str(f["alias"]),
            warehouse=str(f["origin"]["name"]),
            images=tuple(
                Image(repo_url=i["repoURL"], tag=str(i["tag"]), digest=i["digest"])
                for i in f.get("images", [])
            ),
            charts=tuple(
                Chart(repo_url=c["repoURL"], name=c["name"], version=str(c["version"]))
                for c in f.get("charts", [])
            ),
            commits=tuple(
                Commit(
                    repo_url=c["repoURL"],
                    id=c["id"],
                    branch=c.get("branch", ""),
                    tag=str(c.get("tag", "")),
                    message=c.get("message", ""),
                )
                for c in f.get("commits", [])
            ),
            discovered_at=_parse_ts(f.get("discoveredAt")),
        )
        ledger.freight[name] = FreightRecord(
            freight=fr,
            verified_in={s: _parse_ts(t) or _EPOCH for s, t in (f.get("verifiedIn") or {}).items()},
            approved_for=dict(f.get("approvedFor") or {}),
            rejected_for=dict(f.get("rejectedFor") or {}),
        )
    for name, s in _load(files, "stages.yaml", {}).items():
        p = s.get("promotion")
        r = s.get("request")
        ledger.stages[name] = StageRecord(
            current_freight=s.get("currentFreight"),
            since=_parse_ts(s.get("since")),
            history=list(s.get("history", [])),
            promotion=None
            if not p
            else OpenPromotion(
                freight=p["freight"],
                kind=p["kind"],
                by=p["by"],
                reason=p.get("reason", ""),
                started_at=_parse_ts(p["startedAt"]) or _EPOCH,
                pr=p.get("pr"),
                url=p.get("url"),
                head_sha=p.get("headSha"),
            ),
            request=None
            if not r
            else Request(
                freight=r["freight"],
                kind=r["kind"],
                by=r["by"],
                reason=r["reason"],
                at=_parse_ts(r["at"]) or _EPOCH,
            ),
            hold=_hold_in(s.get("hold")),
            pause=_hold_in(s.get("pause")),
            healthy_since=_parse_ts(s.get("healthySince")),
            health=s.get("health"),
            verification=_verification_in(s.get("verification")),
        )
    for p in _load(files, "promotions.yaml", []):
        ledger.promotions.append(
            PromotionRecord(
                stage=p["stage"],
                freight=p["freight"],
                alias=p["alias"],
                version=str(p["version"]),
                kind=p["kind"],
                status=p["status"],
                by=p["by"],
                reason=p.get("reason", ""),
                at=_parse_ts(p["at"]) or _EPOCH,
                pr=p.get("pr"),
                url=p.get("url"),
                commit=p.get("commit"),
            )
        )
    for o in _load(files, "operations.yaml", []):
        ledger.operations.append(
            OperationRecord(
                operation=str(o["operation"]),
                stage=str(o["stage"]),
                by=str(o["by"]),
                reason=str(o.get("reason", "")),
                at=_parse_ts(o["at"]) or _EPOCH,
                freight=o.get("freight"),
            )
        )
    return ledger

"""What ``shunter get`` and ``shunter describe`` print, built from the ledger.

JSON and YAML output use Kargo's field names (``name``, ``alias``, ``origin``,
``images[].repoURL``, ...), so scripts written against ``kubectl get freight -o json``
read Shunter's output with few changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.adapters.actions import one_line
from bot.core.ledger import FreightRecord, Ledger
from bot.core.model import Config


def _ts(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def freight_json(rec: FreightRecord, ledger: Ledger) -> dict[str, Any]:
    """One freight in Kargo's shape, with where it is used and verified."""
    f = rec.freight
    return {
        "name": f.name,
        "alias": f.alias,
        "origin": {"kind": "Warehouse", "name": f.warehouse},
        "images": [{"repoURL": i.repo_url, "tag": i.tag, "digest": i.digest} for i in f.images],
        "charts": [{"repoURL": c.repo_url, "name": c.name, "version": c.version} for c in f.charts],
        "commits": [
            {"repoURL": c.repo_url, "id": c.id, "branch": c.branch, "tag": c.tag} for c in f.commits
        ],
        "discoveredAt": _ts(f.discovered_at),
        "status": {
            "currentlyIn": sorted(
                s for s, r in ledger.stages.items() if r.current_freight == f.name
            ),
            "verifiedIn": {s: {"verifiedAt": _ts(t)} for s, t in sorted(rec.verified_in.items())},
            "approvedFor": {s: {"by": who} for s, who in sorted(rec.approved_for.items())},
        },
    }


def rows(kind: str, config: Config, ledger: Ledger) -> list[dict[str, Any]]:
    """The records of ``kind`` (stages, freight, promotions, warehouses) as JSON-ready dicts."""
    if kind == "freight":
        recs = sorted(
            ledger.freight.values(),
            key=lambda r: r.freight.discovered_at or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        return [freight_json(r, ledger) for r in recs]
    if kind == "stages":
        out: list[dict[str, Any]] = []
        for stage in config.stages:
            rec = ledger.stages.get(stage.name)
            cur = ledger.freight.get(rec.current_freight or "") if rec else None
            promo = rec.promotion if rec else None
            out.append(
                {
                    "name": stage.name,
                    "currentFreight": None
                    if cur is None
                    else {
                        "name": cur.freight.name,
                        "alias": cur.freight.alias,
                        "version": cur.freight.summary(),
                    },
                    "since": _ts(rec.since) if rec else None,
                    "autoPromotion": stage.promotion_policy.auto_promotion_enabled,
                    "promotion": None
                    if promo is None
                    else {
                        "freight": promo.freight,
                        "kind": promo.kind,
                        "pr": promo.pr,
                        "url": promo.url,
                    },
                    "hold": None if not rec or not rec.hold else rec.hold.reason,
                    "paused": bool(stage.promotion_policy.paused or (rec and rec.pause)),
                    "history": list(rec.history) if rec else [],
                    "health": None
                    if not rec or rec.health is None
                    else {
                        "healthy": rec.healthy_since is not None,
                        "since": _ts(rec.healthy_since),
                        "message": rec.health,
                    },
                    "verification": None
                    if not rec or rec.verification is None
                    else {
                        "freight": rec.verification.freight,
                        "result": rec.verification.result or "Running",
                        "steps": {
                            n: {"state": st.state, "url": st.url, "message": st.message}
                            for n, st in rec.verification.steps.items()
                        },
                    },
                    "color": stage.annotation("kargo.akuity.io/color"),
                    "description": stage.annotation("kargo.akuity.io/description"),
                }
            )
        return out
    if kind == "promotions":
        return [
            {
                "stage": p.stage,
                "freight": p.freight,
                "alias": p.alias,
                "version": p.version,
                "kind": p.kind,
                "status": p.status,
                "by": p.by,
                "reason": p.reason,
                "at": _ts(p.at),
                "pr": p.pr,
                "url": p.url,
                "commit": p.commit,
            }
            for p in reversed(ledger.promotions)
        ]
    result: list[dict[str, Any]] = []
    for wh in config.warehouses:
        wrec = ledger.warehouses.get(wh.name)
        newest = max(
            (r for r in ledger.freight.values() if r.freight.warehouse == wh.name),
            key=lambda r: r.freight.discovered_at or datetime.min.replace(tzinfo=UTC),
            default=None,
        )
        result.append(
            {
                "name": wh.name,
                "subscriptions": [s.repo_url for s in wh.subscriptions],
                # Manual: only `refresh` or `create freight` makes freight (Kargo's spelling).
                "freightCreationPolicy": wh.freight_creation_policy,
                "freight": sum(
                    1 for r in ledger.freight.values() if r.freight.warehouse == wh.name
                ),
                "newest": None if newest is None else newest.freight.alias,
                "lastFreightAt": _ts(wrec.last_freight_at) if wrec else None,
                "error": wrec.error if wrec else None,
            }
        )
    return result


_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "stages": [
        ("NAME", "name"),
        ("FREIGHT", "freight"),
        ("VERSION", "version"),
        ("SINCE", "since"),
        ("PROMOTION", "promotion"),
        ("STATUS", "status"),
    ],
    "freight": [
        ("ALIAS", "alias"),
        ("VERSION", "version"),
        ("WAREHOUSE", "warehouse"),
        ("IN", "in"),
        ("DISCOVERED", "discoveredAt"),
    ],
    "promotions": [
        ("STAGE", "stage"),
        ("VERSION", "version"),
        ("ALIAS", "alias"),
        ("KIND", "kind"),
        ("STATUS", "status"),
        ("BY", "by"),
        ("PR", "pr"),
        ("AT", "at"),
    ],
    "warehouses": [
        ("NAME", "name"),
        ("FREIGHT", "freight"),
        ("NEWEST", "newest"),
        ("LAST FREIGHT", "lastFreightAt"),
        ("ERROR", "error"),
    ],
}
_WIDE: dict[str, list[tuple[str, str]]] = {
    "stages": [
        ("FREIGHT ID", "id"),
        ("HEALTH", "health"),
        ("VERIFIED", "verified"),
        ("HISTORY", "history"),
    ],
    "freight": [("ID", "name"), ("VERIFIED IN", "verified"), ("IMAGES", "images")],
    "promotions": [("REASON", "reason"), ("COMMIT", "commit")],
    "warehouses": [("SUBSCRIPTIONS", "subscriptions")],
}


def _flat(kind: str, row: dict[str, Any]) -> dict[str, str]:
    """Turn a JSON row into the strings of its table columns."""
    r = dict(row)
    if kind == "stages":
        cur = row["currentFreight"]
        r["freight"] = cur["alias"] if cur else "-"
        r["version"] = cur["version"] if cur else "-"
        r["id"] = cur["name"][:12] if cur else "-"
        p = row["promotion"]
        r["promotion"] = (
            f"PR #{p['pr']} ({p['kind']})" if p and p["pr"] else ("opening" if p else "-")
        )
        status = []
        if row["paused"]:
            status.append("paused")
        if row["hold"]:
            status.append("held")
        status.append("auto" if row["autoPromotion"] else "manual")
        r["status"] = ",".join(status)
        r["history"] = ",".join(h[:7] for h in row["history"]) or "-"
        h = row["health"]
        r["health"] = "-" if h is None else ("Healthy" if h["healthy"] else "Unhealthy")
        v = row["verification"]
        r["verified"] = "-" if v is None else str(v["result"])
    elif kind == "freight":
        r["version"] = ", ".join(i["tag"] for i in row["images"]) or "-"
        r["warehouse"] = row["origin"]["name"]
        r["in"] = ",".join(row["status"]["currentlyIn"]) or "-"
        r["verified"] = ",".join(row["status"]["verifiedIn"]) or "-"
        r["images"] = ", ".join(f"{i['repoURL']}@{i['digest'][:19]}" for i in row["images"])
    elif kind == "promotions":
        r["pr"] = f"#{row['pr']}" if row["pr"] else "-"
        r["commit"] = (row["commit"] or "-")[:12]
    elif kind == "warehouses":
        r["subscriptions"] = ", ".join(row["subscriptions"])
    return {k: "-" if v is None or v == "" else str(v) for k, v in r.items()}


def table(kind: str, rows_: list[dict[str, Any]], *, wide: bool = False) -> str:
    """A plain, aligned text table like ``kubectl get`` prints."""
    cols = _COLUMNS[kind] + (_WIDE[kind] if wide else [])
    # Cells hold outside text (reasons, tags, PR titles): each stays on its row.
    flat = [{k: one_line(str(v)) for k, v in _flat(kind, r).items()} for r in rows_]
    if not flat:
        return f"No {kind} yet.\n"
    widths = [max(len(h), *(len(f.get(k, "-")) for f in flat)) for h, k in cols]
    lines = ["   ".join(h.ljust(w) for (h, _), w in zip(cols, widths, strict=True)).rstrip()]
    for f in flat:
        lines.append(
            "   ".join(
                f.get(k, "-").ljust(w) for (_, k), w in zip(cols, widths, strict=True)
            ).rstrip()
        )
    return "\n".join(lines) + "\n"


def describe_freight(rec: FreightRecord, ledger: Ledger) -> str:
    """A readable page about one freight: artifacts, where it runs, its promotions."""
    data = freight_json(rec, ledger)
    lines = [
        f"Name:        {data['name']}",
        f"Alias:       {data['alias']}",
        f"Origin:      Warehouse/{data['origin']['name']}",
        f"Discovered:  {data['discoveredAt'] or '-'}",
    ]
    for i in data["images"]:
        lines.append(f"Image:       {i['repoURL']}:{i['tag']}")
        lines.append(f"  Digest:    {i['digest']}")
    for c in data["charts"]:
        lines.append(f"Chart:       {c['repoURL']} {c['name']} {c['version']}")
    for c in data["commits"]:
        lines.append(f"Commit:      {c['repoURL']} {c['tag'] or c['id']}")
    st = data["status"]
    lines.append(f"Currently in: {', '.join(st['currentlyIn']) or '-'}")
    lines.append("Verified in:")
    for s, v in st["verifiedIn"].items():
        lines.append(f"  {s}: {v['verifiedAt']}")
    if st["approvedFor"]:
        lines.append("Approved for:")
        for s, v in st["approvedFor"].items():
            lines.append(f"  {s}: by {v['by']}")
    promos = [p for p in ledger.promotions if p.freight == rec.freight.name]
    if promos:
        lines.append("Promotions:")
        for p in promos:
            pr = f" PR #{p.pr}" if p.pr else ""
            lines.append(f"  {_ts(p.at)} {p.stage} {p.status} ({p.kind} by {p.by}){pr}")
    return _page(lines)


def describe_stage(name: str, config: Config, ledger: Ledger) -> str:
    """A readable page about one stage: what it runs, its gates' state, its history."""
    (row,) = [r for r in rows("stages", config, ledger) if r["name"] == name]
    stage = config.stage(name)
    policy = stage.promotion_policy
    lines = [f"Name:          {name}"]
    if row["description"]:
        lines.append(f"Description:   {row['description']}")
    cur = row["currentFreight"]
    lines.append(
        "Freight:       " + (f"{cur['alias']} ({cur['version']}) {cur['name']}" if cur else "-")
    )
    lines.append(f"Since:         {row['since'] or '-'}")
    lines.append(
        "Auto-promote:  "
        + ("yes" if policy.auto_promotion_enabled else "no (manual)")
        + (f", after {policy.auto_promotion_delay}" if policy.auto_promotion_delay else "")
    )
    if row["paused"]:
        lines.append("Paused:        yes")
    if row["hold"]:
        lines.append(f"Hold:          {row['hold']} (release with `shunter release-hold {name}`)")
    if row["promotion"]:
        pr = row["promotion"]
        lines.append(f"Promotion:     PR #{pr['pr']} ({pr['kind']}) {pr['url'] or ''}".rstrip())
    if row["health"]:
        h = row["health"]
        state = f"healthy since {h['since']}" if h["healthy"] else "unhealthy"
        lines.append(f"Health:        {state}: {h['message']}")
    if row["verification"]:
        v = row["verification"]
        lines.append(f"Verification:  {v['result']} for {v['freight'][:12]}")
        for step, st in v["steps"].items():
            extra = f" {st['url']}" if st["url"] else ""
            why = f" ({st['message']})" if st["message"] else ""
            lines.append(f"  {step}: {st['state']}{why}{extra}")
    history = [ledger.freight[h].freight for h in row["history"] if h in ledger.freight]
    lines.append(
        "History:       " + (", ".join(f"{f.alias} ({f.summary()})" for f in history) or "-")
    )
    recent = [p for p in reversed(ledger.promotions) if p.stage == name][:5]
    if recent:
        lines.append("Promotions:")
        for p in recent:
            pr_text = f" PR #{p.pr}" if p.pr else ""
            lines.append(f"  {_ts(p.at)} {p.version} {p.status} ({p.kind} by {p.by}){pr_text}")
    return _page(lines)


def _page(lines: list[str]) -> str:
    """``lines`` as printed text; each may hold outside text, which stays on its line."""
    return "".join(one_line(line) + "\n" for line in lines)

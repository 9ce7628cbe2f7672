"""Stages that GitHub's own rules hold back, kept beside the ledger for ``describe``.

A stage is stuck when every gate of Shunter's holds and ``main``'s rules do not (a
required review, a code owner, a check). The run that sees it says so in its summary,
exit code and annotations; ``shunter describe stage`` reads the state branch alone and
would not know. So each run keeps every stuck stage's blocking gates in :data:`FILE`: a
report like ``inconsistencies.yaml``, never read by the planner, and rewritten only when
it changes (the gates' details say which rule holds, not how long it has held), so an
idle run still writes nothing. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.decide.outcomes import Decision, DecisionKind, Gate, GateKind, SubjectKind

__all__ = ["FILE", "from_records", "to_records"]

FILE = "stuck.yaml"


def to_records(decisions: Iterable[Decision]) -> list[dict[str, object]]:
    """The list kept in :data:`FILE`: each stuck stage, its PR and its blocking gates, in
    stage-name order."""
    out: list[dict[str, object]] = []
    for d in decisions:
        if d.kind is not DecisionKind.STUCK or d.subject.kind is not SubjectKind.STAGE:
            continue
        gates = [{"gate": g.kind.value, "detail": g.detail} for g in d.gates if g.blocks]
        out.append({"stage": d.subject.name, "pr": d.pr, "gates": gates})
    return sorted(out, key=lambda r: str(r["stage"]))


def from_records(records: object) -> dict[str, tuple[Gate, ...]]:
    """Stage -> its blocking gates, from :data:`FILE` as read (entries that are not
    mappings, or name an unknown gate, are skipped: the file is a report, not state)."""
    kinds = {k.value: k for k in GateKind}
    out: dict[str, tuple[Gate, ...]] = {}
    for r in records if isinstance(records, list) else []:
        stage = str(r.get("stage") or "") if isinstance(r, dict) else ""
        if not stage:
            continue
        gates = r.get("gates")
        out[stage] = tuple(
            Gate(kinds[g["gate"]], False, str(g.get("detail", "")))
            for g in (gates if isinstance(gates, list) else [])
            if isinstance(g, dict) and g.get("gate") in kinds
        )
    return out

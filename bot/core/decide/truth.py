"""What a stage runs is what ``main`` says: reading the freight back from the manifests.

The ledger caches which freight each stage runs; the manifests on the stage's branch are
the truth. A freight "is on main" when promoting it would change nothing there: every
file its promotion writes already holds exactly that text. The reconcile loop reads
those files each run and the planner compares; a difference is :class:`Drift`, reported
and followed (never hidden, never papered over by the ledger's word).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.core.decide.actions import Plan, freight_label
from bot.core.decide.lifecycle import HISTORY_LIMIT, is_direct
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import Change, ChangeKind, Subject
from bot.core.discover.freight import Freight
from bot.core.discover.order import newest_first
from bot.core.ledger import StageRecord
from bot.core.model import Stage, Warehouse
from bot.core.promote import promotion as promo

__all__ = ["Drift", "DriftKind", "confirm_main", "files_of", "freight_on_main", "runs"]


class DriftKind(enum.Enum):
    """How the ledger and ``main`` disagree about a stage."""

    #: ``main`` runs another freight the ledger knows; the ledger now follows ``main``.
    FOLLOWED = "followed"
    #: ``main`` runs something no freight in the ledger would write (a hand edit, a
    #: freight pruned or never recorded); the ledger keeps its word until a promotion.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Drift:
    """Stage ``stage``: the ledger said ``ledger`` (a freight ID), ``main`` holds ``main``."""

    stage: str
    kind: DriftKind
    ledger: str | None
    main: str | None


def files_of(stage: Stage) -> list[str]:
    """Every path a promotion of ``stage`` writes (the files to read from ``main``)."""
    paths: list[str] = []
    for update in stage.git_repo_updates:
        paths += promo.files_to_read(update)
    return list(dict.fromkeys(paths))


def runs(stage: Stage, freight: Freight, files: Mapping[str, str | None]) -> bool:
    """True when promoting ``freight`` to ``stage`` would change none of ``files``.

    ``files`` maps each of :func:`files_of` to its text on the branch (``None``: absent).
    A freight that cannot be written there (a missing file or key, no matching image)
    does not run there. Never raises.
    """
    merged = dict(files)
    for update in stage.git_repo_updates:
        try:
            edits = promo.render_edits(stage, update, freight, merged)
        except ValueError:
            return False
        if any(merged.get(path) != text for path, text in edits.items()):
            return False
    return bool(stage.git_repo_updates)


def freight_on_main(
    stage: Stage,
    warehouse: Warehouse,
    files: Mapping[str, str | None],
    known: Iterable[Freight],
    *,
    ledger_says: Freight | None,
) -> tuple[Freight | None, Drift | None]:
    """Which of ``known`` freight ``files`` (the stage's manifests on ``main``) hold.

    Returns ``(freight, None)`` when the ledger's own word ``ledger_says`` holds (or the
    stage has never been promoted and ``main`` holds nothing Shunter knows), and
    ``(freight or None, Drift)`` otherwise. Among several freight that write the same
    text (they differ only where the stage does not look), the ledger's own wins, then
    the newest by the warehouse's order.
    """
    if ledger_says is not None and runs(stage, ledger_says, files):
        return ledger_says, None
    for f in newest_first(warehouse, known):
        if runs(stage, f, files):
            return f, Drift(
                stage.name,
                DriftKind.FOLLOWED,
                None if ledger_says is None else ledger_says.name,
                f.name,
            )
    if ledger_says is None:
        return None, None  # never promoted: main still holds what the repository began with
    return None, Drift(stage.name, DriftKind.UNKNOWN, ledger_says.name, None)


def confirm_main(stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime) -> bool:
    """What the stage runs is what its manifests on ``main`` say; the ledger follows.

    ``obs.main_files`` holds the stage's files as the branch has them now (read after the
    PRs, so a merge seen there is in them too). A ledger that says otherwise is drift: when
    ``main`` holds another freight Shunter knows, the ledger follows it and says so (a
    ``DRIFT`` change, and no ``verifiedIn``: only the bot's merged promotion verifies
    freight for the stages downstream); when it holds something no known freight writes
    (a hand edit), the stage's record stays and True is returned (the caller moves the
    stage only on a person's request until main holds a freight Shunter knows).
    """
    files = obs.main_files.get(stage.name)
    if files is None or not stage.git_repo_updates or is_direct(stage):
        return False
    led = p.ledger
    me = Subject.stage(stage.name)
    wanted = {r.warehouse for r in stage.requested_freight}
    if len(wanted) != 1:
        return False  # several warehouses' freight in one stage's files: none says it all
    known = [r.freight for r in led.freight.values() if r.freight.warehouse in wanted]
    said = led.freight[rec.current_freight].freight if rec.current_freight in led.freight else None
    for name in wanted:
        wh = p.warehouses.get(name)
        if wh is None:
            continue
        mine = [f for f in known if f.warehouse == name]
        found, drift = freight_on_main(stage, wh, files, mine, ledger_says=said)
        if drift is not None and drift.kind is DriftKind.UNKNOWN and led.deferred:
            led.read_deferred()  # main may run freight kept only for the audit log (shelved)
            mine = [r.freight for r in led.freight.values() if r.freight.warehouse == name]
            found, drift = freight_on_main(stage, wh, files, mine, ledger_says=said)
        if drift is None:
            return False
        if drift.kind is DriftKind.FOLLOWED and found is not None:
            rec.current_freight = found.name
            rec.since = now
            # Following main grants nothing downstream: no verifiedIn from a drift. A merge
            # of the bot's own PR is recorded (and verified) as a promotion; a hand edit
            # only says what the stage runs.
            rec.history = [found.name, *[h for h in rec.history if h != found.name]]
            rec.history = rec.history[:HISTORY_LIMIT]
            p.changed(
                Change(
                    me,
                    ChangeKind.DRIFT,
                    freight=freight_label(found),
                    detail=freight_label(said) if said is not None else "",
                )
            )
            return False
    return said is not None

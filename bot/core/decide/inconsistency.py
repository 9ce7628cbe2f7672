"""Ledger entries that GitHub or the registry contradict: reported, never acted on. Pure.

The ledger is a record anyone with push access to ``shunter/state`` could write. When a
grant read from it does not hold up against the authority it claims (GitHub for a PR,
a merge or a verification; the registry for a digest; the run itself for an emergency
request), the loop reports one of these and carries on as if the entry were absent.
The summary and ``shunter describe`` show them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

#: Where the last run's inconsistencies are kept, beside the ledger on its branch.
FILE = "inconsistencies.yaml"


class InconsistencyKind(Enum):
    """What the ledger claimed that does not hold."""

    DIGEST = "digest"  # the registry resolves the freight's tag to another digest
    FREIGHT_ID = "freight id"  # the freight's ID is not the hash of its artifacts
    VERIFIED_IN = "verifiedIn"  # no merged promotion PR of the bot's stands behind it
    PROMOTION_PR = "promotion PR"  # the PR the ledger names is not the bot's promotion
    REQUEST = "request"  # an emergency request read from the ledger, not received now
    FOREIGN_MERGE = "foreign merge"  # the promotion PR was merged with others' changes
    APPROVED_FOR = "approvedFor"  # no attested promotion PR stands behind the approval
    PROMOTION = "promotion"  # an open promotion of freight the stage may not take


_TEXT = {
    InconsistencyKind.DIGEST: (
        "freight {freight}: the registry resolves {detail} to another digest than the"
        " ledger records; it is not promoted"
    ),
    InconsistencyKind.FREIGHT_ID: (
        "freight {freight}: its ID is not the hash of its artifacts; it is not promoted"
    ),
    InconsistencyKind.VERIFIED_IN: (
        "freight {freight}: verifiedIn {detail} has no merged promotion PR of Shunter's"
        " behind it; it does not let the freight into {stage}"
    ),
    InconsistencyKind.PROMOTION_PR: (
        "PR #{pr} is not Shunter's promotion ({detail}); it counts for nothing"
    ),
    InconsistencyKind.REQUEST: (
        "a request read from the ledger ({detail}) was not received by this run;"
        " emergency operations act only in the run that receives them"
    ),
    InconsistencyKind.APPROVED_FOR: (
        "freight {freight}: approvedFor (by {detail}) has no promotion PR carrying"
        " Shunter's attestation behind it; it does not let the freight in"
    ),
    InconsistencyKind.PROMOTION: (
        "the open promotion of {freight} ({detail}) proposes freight {stage} may not take:"
        " not verified upstream, not approved, not asked for in this run; it is not merged"
    ),
    InconsistencyKind.FOREIGN_MERGE: (
        "PR #{pr} was merged with changes that are not Shunter's edit ({detail});"
        " recorded as merged with foreign changes, not as a promotion of {freight}"
    ),
}


@dataclass(frozen=True)
class Inconsistency:
    """One ledger entry the authorities contradict."""

    kind: InconsistencyKind
    stage: str = ""
    freight: str = ""
    pr: int | None = None
    detail: str = ""

    def render(self) -> str:
        """``prod: PR #7 is not Shunter's promotion (...)`` and the like."""
        text = _TEXT[self.kind].format(
            stage=self.stage, freight=self.freight, pr=self.pr, detail=self.detail
        )
        return f"{self.stage}: {text}" if self.stage else text

    def to_dict(self) -> dict[str, object]:
        """The form kept beside the ledger (``inconsistencies.yaml``)."""
        out: dict[str, object] = {"kind": self.kind.value}
        for key, value in (
            ("stage", self.stage), ("freight", self.freight), ("pr", self.pr),
            ("detail", self.detail),
        ):  # fmt: skip
            if value:
                out[key] = value
        return out


def from_records(records: object) -> list[Inconsistency]:
    """Inconsistencies from the list kept in :data:`FILE` (entries of unknown kinds, or
    not mappings, are skipped: the file is a report, not state)."""
    kinds = {k.value: k for k in InconsistencyKind}
    out = []
    for r in records if isinstance(records, list) else []:
        if not isinstance(r, dict) or r.get("kind") not in kinds:
            continue
        pr = r.get("pr")
        out.append(
            Inconsistency(
                kinds[r["kind"]],
                stage=str(r.get("stage", "")),
                freight=str(r.get("freight", "")),
                pr=pr if isinstance(pr, int) else None,
                detail=str(r.get("detail", "")),
            )
        )
    return out


def to_records(items: Iterable[Inconsistency]) -> list[dict[str, object]]:
    """The list kept in :data:`FILE`, in a stable order."""
    return sorted((i.to_dict() for i in items), key=lambda d: sorted(map(str, d.items())))

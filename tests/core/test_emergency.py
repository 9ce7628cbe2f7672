"""Emergency operations, the one core module: what each does to the ledger, which is a
rollback (by version order), and what later runs believe of a grant (GitHub's
attestation, never the ledger)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.decide.emergency import (
    Ask,
    Operation,
    allowed,
    attestation_text,
    attests,
    carry_out,
    promotion_kind,
    unattested_approvals,
)
from bot.core.decide.inconsistency import InconsistencyKind
from bot.core.decide.outcomes import ChangeKind
from bot.core.decide.pulls import CommitStatus
from bot.core.discover.artifacts import Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.errors import RefusedError
from bot.core.ledger import FreightRecord, Hold, Ledger, Request
from bot.errors import EXIT_ACT, exit_code
from sandbox.planning import CONFIG, REPO, T0


def freight(tag: str, minutes: int) -> Freight:
    """Freight of ``tag``, discovered ``minutes`` after T0."""
    image = Image(REPO, tag, "sha256:" + tag.replace(".", "").ljust(64, "0"))
    return make_freight("flask-app", images=[image], discovered_at=T0 + timedelta(minutes=minutes))


def ledger(*items: Freight, prod: Freight | None = None) -> Ledger:
    led = Ledger()
    for f in items:
        led.freight[f.name] = FreightRecord(f)
    if prod is not None:
        led.stage("prod").current_freight = prod.name
    return led


@pytest.mark.parametrize(
    ("asked", "runs", "kind"),
    [
        # 1.9.0 found first, 1.8.5 (a backport) found later: 1.8.5 is still the older.
        (("1.8.5", 10), ("1.9.0", 0), "rollback"),
        (("1.9.0", 0), ("1.8.5", 10), "emergency"),
        (("1.9.0", 0), None, "emergency"),
        (("1.9.0", 0), ("1.9.0", 5), "emergency"),  # the same version is no rollback
    ],
)
def test_a_rollback_is_judged_by_version_order_not_discovery_time(
    asked: tuple[str, int], runs: tuple[str, int] | None, kind: str
) -> None:
    current = freight(*runs) if runs else None
    assert promotion_kind(CONFIG, freight(*asked), current) == kind


def test_promote_asks_this_run_for_a_rollback_and_records_it() -> None:
    old, new = freight("1.8.5", 10), freight("1.9.0", 0)
    led = ledger(old, new, prod=new)
    ask = Ask(Operation.PROMOTE, "prod", "tech-lead", "bad release", freight=old.alias)
    (change,) = carry_out(CONFIG, led, ask, T0)
    req = led.stages["prod"].request
    assert req is not None
    assert (req.freight, req.kind, req.by) == (old.name, "rollback", "tech-lead")
    assert not req.approve
    assert (change.kind, change.promotion) == (ChangeKind.PROMOTION_REQUESTED, "rollback")
    assert [(o.operation, o.freight) for o in led.operations] == [("rollback", old.name)]
    assert led.freight[old.name].approved_for == {}  # an emergency is no approval


def test_approve_asks_for_a_gated_promotion_and_keeps_approved_for_as_audit() -> None:
    f = freight("1.9.0", 0)
    led = ledger(f)
    (change,) = carry_out(CONFIG, led, Ask(Operation.APPROVE, "prod", "tl", "cve", f.name), T0)
    req = led.stages["prod"].request
    assert req is not None
    # prod is a manual stage: the approval's promotion is gated like any manual one.
    assert (req.kind, req.approve) == ("manual", True)
    assert led.freight[f.name].approved_for == {"prod": "tl"}
    assert change.kind is ChangeKind.APPROVED
    assert attestation_text(req) == "approved by tl: cve"


def test_promote_from_takes_what_the_source_stage_runs() -> None:
    f = freight("1.9.0", 0)
    led = ledger(f)
    led.stage("dev").current_freight = f.name
    carry_out(CONFIG, led, Ask(Operation.PROMOTE_FROM, "prod", "tl", "x", source="dev"), T0)
    req = led.stages["prod"].request
    assert req is not None and (req.freight, req.kind) == (f.name, "emergency")
    assert led.operations[-1].operation == "promote-from"


@pytest.mark.parametrize(
    "ask",
    [
        Ask(Operation.PROMOTE, "prod", "tl", "x", freight="no-such-freight"),
        Ask(Operation.APPROVE, "prod", "tl", "x", freight="no-such-freight"),
        Ask(Operation.PROMOTE_FROM, "prod", "tl", "x", source="staging"),  # runs nothing
    ],
)
def test_an_operation_naming_nothing_is_refused_and_changes_nothing(ask: Ask) -> None:
    led = ledger(freight("1.9.0", 0))
    before = repr(led)
    with pytest.raises(RefusedError):
        carry_out(CONFIG, led, ask, T0)
    assert repr(led) == before
    assert exit_code(RefusedError("x")) == EXIT_ACT


def test_pause_resume_and_release() -> None:
    led = Ledger()
    led.stage("prod").hold = Hold("bad release", "tl", T0)
    carry_out(CONFIG, led, Ask(Operation.PAUSE, "prod", "tl", "freeze"), T0)
    assert led.stages["prod"].pause == Hold("freeze", "tl", T0)
    carry_out(CONFIG, led, Ask(Operation.RESUME, "prod", "tl", ""), T0)
    carry_out(CONFIG, led, Ask(Operation.RELEASE, "prod", "tl", ""), T0)
    after = led.stages["prod"]
    assert after.pause is None and after.hold is None
    assert [o.operation for o in led.operations] == ["pause", "resume", "release-hold"]


def status(creator: str, state: str = "success", context: str = "shunter/approved") -> CommitStatus:
    return CommitStatus(context, state, creator)  # type: ignore[arg-type]


BOTS = frozenset({"shunter-bot"})


@pytest.mark.parametrize(
    ("statuses", "roles", "held"),
    [
        ((status("shunter-bot"),), {}, True),
        ((status("Shunter-Bot"),), {}, True),  # logins compare as GitHub compares them
        ((status("tech-lead"),), {"tech-lead": "maintain"}, True),
        ((status("mallory"),), {"mallory": "write"}, False),  # a writer attests nothing
        ((status("ghost"),), {}, False),  # nobody GitHub knows
        ((status("shunter-bot", "pending"),), {}, False),
        ((status("shunter-bot", context="shunter/approvals"),), {}, False),
        # The newest status of the context decides: a later failure withdraws the grant.
        ((status("shunter-bot", "failure"), status("shunter-bot")), {}, False),
        ((status("mallory"), status("shunter-bot")), {"mallory": "write"}, False),
        ((), {}, False),
    ],
)
def test_who_can_attest_a_grant(
    statuses: tuple[CommitStatus, ...], roles: dict[str, str], held: bool
) -> None:
    assert attests(statuses, bots=BOTS, roles=roles, need="maintain") is held


@pytest.mark.parametrize(
    ("have", "need", "ok"),
    [("admin", "maintain", True), ("maintain", "maintain", True), ("write", "maintain", False),
     ("write", "write", True), ("custom", "write", False), ("admin", "", True),
     ("write", "", False)],
)  # fmt: skip
def test_allowed_ranks_github_roles(have: str, need: str, ok: bool) -> None:
    assert allowed(have, need) is ok


def test_an_approved_for_without_an_attested_pr_is_an_inconsistency() -> None:
    runs, approved = freight("1.8.5", 0), freight("1.9.0", 5)
    led = ledger(runs, approved, prod=runs)
    led.freight[approved.name].approved_for["prod"] = "tech-lead"
    (found,) = unattested_approvals(CONFIG, led, {}, ())
    assert (found.kind, found.stage, found.detail) == (
        InconsistencyKind.APPROVED_FOR,
        "prod",
        "tech-lead",
    )
    # Attested on prod's open PR, received this run, or already run there: nothing to say.
    assert unattested_approvals(CONFIG, led, {"prod": approved.name}, ()) == []
    assert unattested_approvals(CONFIG, led, {}, ("prod",)) == []
    led.stage("prod").history = [approved.name]
    assert unattested_approvals(CONFIG, led, {}, ()) == []


def test_an_approval_request_is_never_a_ledger_field() -> None:
    """``approve`` lives only in the run that received the request: the ledger form of
    a request (which a later run drops anyway) does not carry it."""
    from bot.core.ledger import from_files, to_files

    f = freight("1.9.0", 0)
    led = ledger(f)
    led.stage("prod").request = Request(f.name, "manual", "tl", "x", T0, approve=True)
    again = from_files(to_files(led)).stages["prod"].request
    assert again is not None and again.approve is False

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import ledger_yaml
from bot.core.decide.actions import Plan
from bot.core.decide.outcomes import ChangeKind
from bot.core.decide.retention import protected_freight, retain
from bot.core.discover.artifacts import Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.ledger import (
    SHELF_FILE,
    Archived,
    CachedSelection,
    FreightRecord,
    Hold,
    Ledger,
    OpenPromotion,
    OperationRecord,
    PromotionRecord,
    Request,
    StageRecord,
    StepRecord,
    VerificationRecord,
    archive_promotions,
    copy_ledger,
    from_files,
    read_archive,
    to_files,
)
from bot.core.model import Config, ImageSubscription, Settings, Warehouse
from bot.errors import LedgerError, Problem

T = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def sample() -> Ledger:
    f = make_freight(
        "flask-app",
        images=[Image("ghcr.io/alkon/flask-app", "1.8.4", "sha256:" + "c" * 64)],
        discovered_at=T,
    )
    led = Ledger()
    led.freight[f.name] = FreightRecord(f, verified_in={"dev": T}, approved_for={"prod": "alice"})
    led.stages["dev"] = StageRecord(
        current_freight=f.name, since=T, history=[f.name], merged_prs=[1]
    )
    led.stages["prod"] = StageRecord(
        promotion=OpenPromotion(f.name, "manual", "shunter", "", T, pr=3, url="http://x/3"),
        hold=Hold("rollback", "alice", T),
    )
    led.promotions.append(
        PromotionRecord("dev", f.name, f.alias, "1.8.4", "auto", "Succeeded", "shunter", "", T, 1)
    )
    led.warehouse("flask-app").last_freight_at = T
    return led


def test_round_trip_is_lossless_and_deterministic() -> None:
    led = sample()
    files = to_files(led)
    again = from_files(files)
    assert again == led
    assert to_files(again) == files


def test_an_images_build_date_round_trips() -> None:
    led = sample()
    (rec,) = led.freight.values()
    image = replace(rec.freight.images[0], built=T - timedelta(days=1))
    rec.freight = replace(rec.freight, images=(image,))
    files = to_files(led)
    assert "builtAt: '2026-04-30T12:30:00Z'" in files["freight.yaml"]
    (again,) = from_files(files).freight.values()
    assert again.freight.images[0].built == T - timedelta(days=1)


def test_files_are_readable_yaml_with_kargo_names() -> None:
    files = to_files(sample())
    freight = yaml.safe_load(files["freight.yaml"])
    (entry,) = freight.values()
    assert entry["origin"] == {"kind": "Warehouse", "name": "flask-app"}
    assert entry["images"][0]["tag"] == "1.8.4"
    assert entry["verifiedIn"] == {"dev": "2026-05-01T12:30:00Z"}
    assert "Shunter" in files["README.md"]


def test_empty_branch_is_an_empty_ledger() -> None:
    assert from_files({}) == Ledger()


def problems_of(files: dict[str, str]) -> list[Problem]:
    with pytest.raises(LedgerError) as caught:
        from_files(files)
    return caught.value.problems


def edited(name: str, old: str, new: str) -> dict[str, str]:
    """The sample ledger's files with one hand edit to ``name``."""
    files = to_files(sample())
    assert old in files[name], (name, old)
    files[name] = files[name].replace(old, new, 1)
    return files


FREIGHT = sample().stages["dev"].current_freight or ""
F = FREIGHT


# (file, old text, new text, the key path the problem must name, and the text on its line
# when that is not the new text)
HAND_EDITS = [
    ("promotions.yaml", "status: Succeeded", "status: Bogus", "[0].status", None),
    ("promotions.yaml", "kind: auto", "kind: sometimes", "[0].kind", None),
    ("promotions.yaml", "pr: 1", "pr: one", "[0].pr", None),
    ("promotions.yaml", "at: '2026-05-01T12:30:00Z'", "at: yesterday", "[0].at", None),
    ("promotions.yaml", f"freight: {FREIGHT}", "freight: deadbeef", "[0].freight", None),
    ("promotions.yaml", "  by: shunter\n", "  by: shunter\n  approvedBy: x\n", "[0].approvedBy",
     "approvedBy"),
    ("stages.yaml", f"currentFreight: {FREIGHT}", "currentFreight: fe", "dev.currentFreight", None),
    ("stages.yaml", f"  - {FREIGHT}", "  - 42", "dev.history[0]", None),
    ("stages.yaml", "kind: manual", "kind: 7", "prod.promotion.kind", None),
    ("stages.yaml", "mergedPRs:\n  - 1", "mergedPRs:\n  - '#1'", "dev.mergedPRs[0]", "'#1'"),
    ("stages.yaml", "    by: alice", "    by: [alice]", "prod.hold.by", None),
    ("stages.yaml", "    at: '2026-05-01T12:30:00Z'", "    at: soon", "prod.hold.at", None),
    ("freight.yaml", "tag: 1.8.4", "tag: 1.10", F + ".images[0].tag", None),
    ("freight.yaml", "kind: Warehouse", "kind: Stage", F + ".origin.kind", None),
    ("freight.yaml", "    dev: '2026", "    dev: 'May 2026", F + ".verifiedIn.dev", None),
    ("warehouses.yaml", "lastFreightAt", "lastFreightAtt", "flask-app.lastFreightAtt", None),
    ("ledger.yaml", "schemaVersion: 1", "schemaVersion: 99", "schemaVersion", None),
    ("freight.yaml", "88c11a5b", "- 88c11a5b", "(file)", "# Written"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "path", "on_line"), HAND_EDITS)
def test_a_bad_hand_edit_is_refused_with_its_file_line_and_key(
    name: str, old: str, new: str, path: str, on_line: str | None
) -> None:
    files = edited(name, old, new)
    needle = on_line or new.strip().splitlines()[0]
    line = next(i for i, t in enumerate(files[name].splitlines(), 1) if needle in t)
    problems = problems_of(files)
    assert [(p.file, p.path, p.line) for p in problems] == [(name, path, line)]
    assert problems[0].hint  # every problem says how to fix it
    assert str(problems[0]).startswith(f"{name}:{line}: {path}: ")


def test_every_problem_is_reported_at_once() -> None:
    files = edited("promotions.yaml", "status: Succeeded", "status: Bogus")
    files["stages.yaml"] = files["stages.yaml"].replace("kind: manual", "kind: bogus")
    problems = problems_of(files)
    assert {(p.file, p.path) for p in problems} == {
        ("promotions.yaml", "[0].status"),
        ("stages.yaml", "prod.promotion.kind"),
    }


@pytest.mark.parametrize("name", ["freight.yaml", "stages.yaml", "promotions.yaml", "ledger.yaml"])
@pytest.mark.parametrize("text", ["", "# emptied by hand\n"])
def test_an_emptied_file_is_a_clear_error(name: str, text: str) -> None:
    files = to_files(sample())
    files[name] = text
    problems = problems_of(files)
    assert (problems[0].file, problems[0].path) == (name, "(file)")
    assert "empty" in problems[0].message  # and no KeyError on the way


def test_a_missing_file_is_a_clear_error_but_operations_may_be_absent() -> None:
    files = to_files(sample())
    del files["operations.yaml"]  # ledgers written before it existed
    assert from_files(files) == sample()
    del files["freight.yaml"]
    assert [(p.file, p.path) for p in problems_of(files)] == [("freight.yaml", "(file)")]


def test_unparsable_yaml_names_its_line() -> None:
    files = to_files(sample())
    files["stages.yaml"] += "qa: {promotion: [unclosed\n"
    (problem,) = problems_of(files)
    assert (problem.file, problem.line) == ("stages.yaml", files["stages.yaml"].count("\n") + 1)


def billion_laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_ledger_is_refused_quickly() -> None:
    files = to_files(sample())
    files["freight.yaml"] = billion_laughs()
    start = time.perf_counter()
    (problem,) = problems_of(files)
    assert time.perf_counter() - start < 1.0
    assert (problem.file, problem.line) == ("freight.yaml", 1)  # the anchor an alias reuses
    assert "alias" in problem.message


def test_merge_keys_are_refused() -> None:
    files = edited("stages.yaml", "prod:\n", "base: &b {health: ok}\nprod:\n  <<: *b\n")
    assert [p.file for p in problems_of(files)] == ["stages.yaml"]


def test_text_with_ampersands_and_stars_is_not_an_alias() -> None:
    led = sample()
    led.promotions[0].reason = "fix & *ship* it: &now"
    led.promotions[0].url = "https://x/?a=1&b=*"
    assert from_files(to_files(led)) == led


def test_a_file_over_the_size_cap_is_refused_before_parsing() -> None:
    files = to_files(sample())
    files["operations.yaml"] = "[]\n" + "#" * ledger_yaml.MAX_FILE_BYTES
    (problem,) = problems_of(files)
    assert problem.file == "operations.yaml" and "at most" in problem.message


def test_the_writer_never_writes_aliases() -> None:
    shared = ["x", "y"]
    text = ledger_yaml.dump({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text
    assert ledger_yaml.load(text) == {"a": shared, "b": shared}


def test_archive_files_are_not_part_of_the_ledger() -> None:
    files = to_files(sample())
    files["archive/promotions-2026-01-0000.yaml"] = "not: [even yaml"
    assert from_files(files) == sample()


# --------------------------------------------------------------------------- archive


def history(led: Ledger, stage: str, n: int, start: int = 0) -> None:
    """Append ``n`` promotion records of the sample freight to ``stage``, a minute apart."""
    f = led.freight[FREIGHT].freight
    for i in range(start, start + n):
        at = T.replace(minute=0) + timedelta(minutes=i)
        led.promotions.append(
            PromotionRecord(
                stage, f.name, f.alias, "1.8.4", "auto", "Succeeded", "bot", "", at, i + 1
            )
        )


def test_promotion_history_past_the_window_moves_to_an_archive_file() -> None:
    led = sample()
    led.promotions.clear()
    history(led, "dev", 6)  # keep 4: up to 4 + 2 stay, no archive file for one record
    history(led, "prod", 3)
    assert archive_promotions(led, keep=4) == Archived()

    history(led, "dev", 1, start=6)
    result = archive_promotions(led, keep=4)

    archived = result.files
    (path,) = archived
    assert result.moved == {"dev": 3}
    assert path.startswith("archive/promotions-2026-05-") and path.endswith(".yaml")
    assert [p.pr for p in led.promotions if p.stage == "dev"] == [4, 5, 6, 7]
    assert [p.pr for p in led.promotions if p.stage == "prod"] == [1, 2, 3]
    assert [p.pr for p in read_archive(archived)] == [1, 2, 3]
    # The retained ledger reads as before; the archive is not part of it.
    files = {**to_files(led), **archived}
    assert from_files(files) == led
    assert archive_promotions(led, keep=4) == Archived()  # nothing more to move


def test_an_archive_file_is_checked_like_the_ledger() -> None:
    led = sample()
    history(led, "dev", 10)
    archived = archive_promotions(led, keep=2)
    ((path, text),) = archived.files.items()
    with pytest.raises(LedgerError) as caught:
        read_archive({path: text.replace("status: Succeeded", "status: Bogus", 1)})
    assert [(p.file, p.path) for p in caught.value.problems] == [(path, "[0].status")]


def test_freight_only_archived_records_name_is_no_longer_protected() -> None:
    led = sample()
    Y = T - timedelta(days=1)
    old = make_freight(
        "flask-app", images=[Image("ghcr.io/alkon/flask-app", "1.8.3", "sha256:" + "b" * 64)]
    )
    led.freight[old.name] = FreightRecord(old)
    led.promotions.insert(
        0, PromotionRecord("dev", old.name, old.alias, "1.8.3", "auto", "Succeeded", "bot", "", Y)
    )
    history(led, "dev", 4)
    assert old.name in protected_freight(led)

    archive_promotions(led, keep=2)

    assert old.name not in protected_freight(led)


def _mutable_parts(value: object) -> Iterator[object]:
    """Every list, dict and non-frozen dataclass reachable from ``value``."""
    params = getattr(type(value), "__dataclass_params__", None)  # set on dataclasses only
    if isinstance(value, list | dict) or (params is not None and not params.frozen):
        yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _mutable_parts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _mutable_parts(v)
    elif is_dataclass(value):
        for f in fields(value):
            yield from _mutable_parts(getattr(value, f.name))


def test_a_copied_ledger_is_equal_and_shares_nothing_mutable() -> None:
    led = sample()
    name = next(iter(led.freight))
    led.stages["staging"] = StageRecord(
        request=Request(name, "rollback", "alice", "bad", T),
        pause=Hold("incident", "bob", T),
        verification=VerificationRecord(name, T, steps={"smoke": StepRecord("running", T)}),
    )
    wh = led.warehouse("flask-app")
    wh.cache["img"] = CachedSelection("sel", "1.8.4", "sha256:" + "c" * 64, '"e"', T)
    wh.validators["https://charts"] = {"etag": '"x"'}
    led.freight[name].rejected_for["staging"] = "closed"
    led.operations.append(OperationRecord("pause", "staging", "bob", "incident", T))
    copied = copy_ledger(led)
    assert copied == led
    shared = {id(o) for o in _mutable_parts(led)} & {id(o) for o in _mutable_parts(copied)}
    assert not shared
    copied.stages["staging"].verification.steps["smoke"].state = "failed"  # type: ignore[union-attr]
    copied.freight[name].verified_in["prod"] = T
    copied.promotions[0].status = "Failed"
    assert led.promotions[0].status == "Succeeded"
    assert led.stages["staging"].verification.steps["smoke"].state == "running"  # type: ignore[union-attr]
    assert "prod" not in led.freight[name].verified_in


_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(UTC)),
    st.text(),
    st.sampled_from(["yes", "no", "on", "~", "0o17", "0x1f", "1_000", "2026-05-01", ".inf"]),
)
_PLAIN = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


# Generating nested documents is slow when the shared machine is busy; the property, not
# the generator's speed, is under test.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_PLAIN, st.sampled_from([None, False, True]))
def test_the_ledger_reads_any_plain_document_as_the_safe_loader_does(
    data: object, flow: bool | None
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    assert ledger_yaml.load(text) == yaml.load(text, Loader=yaml.SafeLoader)


@pytest.mark.parametrize(
    "text",
    [
        "a: !!set {x, y}\n",
        "a: !!binary aGk=\n",
        "a: !!str 1\nb: !!int '7'\n",
        "<<: {a: 1}\nb: 2\n",
        "? [1]\n: 2\n",
        "a: !!map [1]\n",
        "a: !!python/name:os.system\n",
        "= : 1\n",
        "",
    ],
)
def test_the_ledger_reads_tagged_and_odd_documents_as_the_safe_loader_does(text: str) -> None:
    def read(load: object) -> object:
        try:
            return load(text)  # type: ignore[operator]
        except yaml.YAMLError as exc:
            return type(exc), str(exc)

    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the loader the ledger used before
    expected = read(lambda t: yaml.load(t, Loader=safe))
    assert read(ledger_yaml.load) == expected


# --------------------------------------------------------------------------- the shelf
# An idle reconcile reads promotions.yaml and shelved-freight.yaml only when it needs them:
# the deferred read is exactly as strict as the eager one, and retention puts freight that
# only the audit log keeps on the shelf.

SHELF_REPO = "ghcr.io/alkon/flask-app"
# Retention keeps the newest two of the warehouse's freight (discoveryLimit 2).
CONFIG = Config(
    warehouses=(
        Warehouse(
            name="flask-app",
            subscriptions=(ImageSubscription(repo_url=SHELF_REPO, discovery_limit=2),),
        ),
    ),
    stages=(),
    settings=Settings(),
)
VERSIONS = [f"1.8.{n}" for n in range(5)]


def _freight(version: str, n: int) -> Freight:
    image = Image(SHELF_REPO, version, f"sha256:{n:064x}")
    return make_freight("flask-app", images=[image], discovered_at=T + timedelta(minutes=n))


BY_VERSION = {v: _freight(v, n) for n, v in enumerate(VERSIONS)}


def _record(version: str, n: int) -> PromotionRecord:
    f = BY_VERSION[version]
    at = T + timedelta(minutes=10 + n)
    return PromotionRecord(
        "dev", f.name, f.alias, version, "auto", "Succeeded", "bot", "", at, n + 1
    )


def shelf_ledger() -> Ledger:
    """Five freight; dev runs 1.8.4; the audit log names 1.8.0, 1.8.1 and 1.8.4."""
    led = Ledger()
    for f in BY_VERSION.values():
        led.freight[f.name] = FreightRecord(f)
    newest = BY_VERSION["1.8.4"].name
    led.stages["dev"] = StageRecord(current_freight=newest, since=T, history=[newest])
    led.promotions = [_record(v, n) for n, v in enumerate(("1.8.0", "1.8.1", "1.8.4"))]
    return led


def retained(led: Ledger) -> Plan:
    p = Plan(ledger=led, warehouses={w.name: w for w in CONFIG.warehouses})
    retain(CONFIG, p, T + timedelta(hours=1))
    return p


def names(*versions: str) -> set[str]:
    return {BY_VERSION[v].name for v in versions}


def shelved() -> dict[str, str]:
    """The files of :func:`ledger` after retention shelved and pruned."""
    return to_files(retained(shelf_ledger()).ledger)


def test_freight_past_retention_that_only_the_audit_log_names_goes_to_the_shelf() -> None:
    p = retained(shelf_ledger())

    assert [c.kind for c in p.changes] == [ChangeKind.PRUNED, ChangeKind.SHELVED]
    assert set(p.ledger.freight) == names("1.8.0", "1.8.1", "1.8.3", "1.8.4")  # 1.8.2 pruned
    files = to_files(p.ledger)
    assert set(yaml.safe_load(files[SHELF_FILE])) == names("1.8.0", "1.8.1")
    assert set(from_files(files, defer=True).freight) == names("1.8.3", "1.8.4")
    assert from_files(files) == p.ledger  # read eagerly, the shelf is part of the ledger


def test_a_ledger_with_nothing_past_retention_leaves_the_deferred_files_unread() -> None:
    led = from_files(shelved(), defer=True)

    p = retained(led)

    assert p.changes == []
    assert led.deferred
    # Found on the shelf when asked for by alias: the deferred files are read then.
    found = led.find_freight(BY_VERSION["1.8.0"].alias)
    assert found is not None and found.freight == BY_VERSION["1.8.0"]
    assert not led.deferred


def test_shelved_freight_a_stage_asks_for_again_goes_back_to_freight_yaml() -> None:
    led = from_files(shelved())
    old = BY_VERSION["1.8.0"].name
    led.stages["dev"].request = Request(old, "rollback", "alice", "bad release", T)

    p = retained(led)

    assert [c.kind for c in p.changes] == [ChangeKind.SHELVED]
    files = to_files(p.ledger)
    assert old in from_files(files, defer=True).freight
    assert old not in files[SHELF_FILE]


def test_archiving_takes_the_shelved_freight_only_the_moved_records_named() -> None:
    led = from_files(shelved())
    led.promotions += [_record("1.8.4", n) for n in range(3, 12)]

    archive_promotions(led, keep=4)

    assert set(led.freight) == names("1.8.3", "1.8.4")
    assert SHELF_FILE not in to_files(led)


PROMOTION_EDITS = [e for e in HAND_EDITS if e[0] == "promotions.yaml"]


def _problems(led: Ledger) -> list[Problem]:
    with pytest.raises(LedgerError) as caught:
        led.read_deferred()
    return caught.value.problems


@pytest.mark.parametrize(("name", "old", "new", "path", "on_line"), PROMOTION_EDITS)
def test_a_bad_hand_edit_in_a_deferred_file_is_refused_as_strictly_when_read(
    name: str, old: str, new: str, path: str, on_line: str | None
) -> None:
    files = edited(name, old, new)
    led = from_files(files, defer=True)  # freight.yaml, stages.yaml and the rest are good

    problems = _problems(led)

    assert problems == problems_of(files)  # the same FILE:LINE: key: message and fix
    assert led.deferred  # still unread: the next use raises again
    with pytest.raises(LedgerError):
        to_files(led)  # so nothing can be written from it
    with pytest.raises(LedgerError):
        _ = led.promotions


def _line(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


def test_a_bad_hand_edit_on_the_shelf_is_refused_with_its_line() -> None:
    files = shelved()
    tag = "tag: 1.8.0"
    files[SHELF_FILE] = files[SHELF_FILE].replace(tag, "tag: [1.8.0]")
    line = _line(files[SHELF_FILE], "tag: [1.8.0]")
    expected = (SHELF_FILE, f"{BY_VERSION['1.8.0'].name}.images[0].tag", line)

    for problems in (problems_of(files), _problems(from_files(files, defer=True))):
        assert [(p.file, p.path, p.line) for p in problems] == [expected]


def test_a_stage_that_names_shelved_freight_is_refused() -> None:
    files = shelved()  # a stage may name freight.yaml's freight only, never the shelf's
    dev, old = BY_VERSION["1.8.4"].name, BY_VERSION["1.8.0"].name
    files["stages.yaml"] = files["stages.yaml"].replace(dev, old)

    paths = [(p.file, p.path) for p in problems_of(files)]

    assert paths == [("stages.yaml", "dev.currentFreight"), ("stages.yaml", "dev.history[0]")]


def test_a_record_whose_freight_is_neither_in_freight_yaml_nor_on_the_shelf_is_refused() -> None:
    files = shelved()
    files[SHELF_FILE] = files[SHELF_FILE].replace(BY_VERSION["1.8.0"].name, "f" * 40)

    for led in (None, from_files(files, defer=True)):
        problems = problems_of(files) if led is None else _problems(led)
        assert [(p.file, p.path) for p in problems] == [("promotions.yaml", "[0].freight")]

"""Reading back from main's manifests which freight a stage runs, and naming drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.configdir import load_config_dir
from bot.core.decide.actions import Plan
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import ChangeKind
from bot.core.decide.truth import DriftKind, confirm_main, files_of, freight_on_main, runs
from bot.core.discover.artifacts import Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.ledger import (
    FreightRecord,
    Ledger,
    PromotionRecord,
    StageRecord,
    from_files,
    to_files,
)
from bot.core.model import Config
from sandbox.world import EXAMPLE, IMAGE

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config_dir(EXAMPLE / "kargo")


def freight(tag: str, minutes: int = 0) -> Freight:
    return make_freight(
        "flask-app",
        images=[Image(IMAGE, tag, "sha256:" + tag.replace(".", "") * 8)],
        discovered_at=T0 + timedelta(minutes=minutes),
    )


def main_files(config: Config, stage: str, tag: str | None = None) -> dict[str, str | None]:
    """The example's manifests of ``stage``, promoted to ``tag`` when given."""
    st = config.stage(stage)
    files: dict[str, str | None] = {p: (EXAMPLE / p).read_text() for p in files_of(st)}
    if tag is not None:
        from bot.core.promote.promotion import render_edits

        for update in st.git_repo_updates:
            files.update(render_edits(st, update, freight(tag), files))
    return files


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_stage_runs_the_freight_its_manifests_hold(config: Config, stage: str) -> None:
    st = config.stage(stage)
    files = main_files(config, stage, "1.9.2")
    assert runs(st, freight("1.9.2"), files)
    assert not runs(st, freight("1.9.1"), files)
    assert not runs(st, freight("1.9.2"), {p: None for p in files})  # no manifests, no run


def test_the_ledger_agreeing_with_main_is_no_drift(config: Config) -> None:
    st, wh = config.stage("dev"), config.warehouse("flask-app")
    ledger = freight("1.9.2")
    files = main_files(config, "dev", "1.9.2")
    assert freight_on_main(st, wh, files, [freight("1.9.1"), ledger], ledger_says=ledger) == (
        ledger,
        None,
    )


def test_main_running_another_known_freight_is_drift_the_ledger_follows(config: Config) -> None:
    st, wh = config.stage("dev"), config.warehouse("flask-app")
    said, merged = freight("1.9.5", 5), freight("1.9.4", 1)
    files = main_files(config, "dev", "1.9.4")

    found, drift = freight_on_main(st, wh, files, [said, merged], ledger_says=said)

    assert found == merged
    assert drift is not None
    assert (drift.kind, drift.ledger, drift.main) == (DriftKind.FOLLOWED, said.name, merged.name)


def test_main_running_what_no_freight_writes_is_unknown_drift(config: Config) -> None:
    st, wh = config.stage("dev"), config.warehouse("flask-app")
    said = freight("1.9.5")
    files = main_files(config, "dev", "1.7.0")  # a hand edit to a tag Shunter never saw

    found, drift = freight_on_main(st, wh, files, [said], ledger_says=said)

    assert found is None
    assert drift is not None and (drift.kind, drift.main) == (DriftKind.UNKNOWN, None)


def test_a_stage_never_promoted_has_no_drift_until_main_holds_known_freight(
    config: Config,
) -> None:
    st, wh = config.stage("dev"), config.warehouse("flask-app")
    untouched = main_files(config, "dev")
    assert freight_on_main(st, wh, untouched, [freight("1.9.1")], ledger_says=None) == (None, None)
    # A lost ledger: main already runs 1.9.1, which discovery knows again.
    found, drift = freight_on_main(
        st, wh, main_files(config, "dev", "1.9.1"), [freight("1.9.1")], ledger_says=None
    )
    assert found == freight("1.9.1")
    assert drift is not None and drift.kind is DriftKind.FOLLOWED and drift.ledger is None


def test_main_running_freight_kept_only_for_the_audit_log_is_found_on_the_shelf(
    config: Config,
) -> None:
    """A reconcile reads the shelf before calling what main runs unknown."""
    st, wh = config.stage("dev"), config.warehouse("flask-app")
    said, old = freight("1.9.5", 5), freight("1.9.1", 1)
    led = Ledger()
    for f in (said, old):
        led.freight[f.name] = FreightRecord(f)
    led.stages["dev"] = StageRecord(current_freight=said.name, since=T0, history=[said.name])
    led.promotions = [
        PromotionRecord("dev", old.name, old.alias, "1.9.1", "auto", "Succeeded", "bot", "", T0, 1)
    ]
    led.shelved = {old.name}
    deferred = from_files(to_files(led), defer=True)
    assert old.name not in deferred.freight  # on the shelf, unread
    p = Plan(ledger=deferred, warehouses={wh.name: wh})
    obs = Observations(main_files={"dev": main_files(config, "dev", "1.9.1")})

    held = confirm_main(st, deferred.stages["dev"], p, obs, T0 + timedelta(hours=1))

    assert not held
    assert deferred.stages["dev"].current_freight == old.name
    assert [c.kind for c in p.changes] == [ChangeKind.DRIFT]

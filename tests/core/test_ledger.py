from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from bot.core.discover.artifacts import Image
from bot.core.discover.freight import make_freight
from bot.core.ledger import (
    FreightRecord,
    Hold,
    Ledger,
    OpenPromotion,
    PromotionRecord,
    StageRecord,
    from_files,
    to_files,
)

T = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def sample() -> Ledger:
    f = make_freight(
        "flask-app",
        images=[Image("ghcr.io/alkon/flask-app", "1.8.4", "sha256:" + "c" * 64)],
        discovered_at=T,
    )
    led = Ledger()
    led.freight[f.name] = FreightRecord(f, verified_in={"dev": T}, approved_for={"prod": "alice"})
    led.stages["dev"] = StageRecord(current_freight=f.name, since=T, history=[f.name])
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


@pytest.mark.parametrize(
    "files",
    [
        {"freight.yaml": "abc: [unclosed"},
        {"stages.yaml": "dev: {promotion: {freight: x}}"},
        {"ledger.yaml": "schemaVersion: 99"},
    ],
)
def test_unreadable_state_is_a_clear_error(files: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"state branch|newer than this Shunter"):
        from_files(files)

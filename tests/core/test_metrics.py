from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.core.discover.artifacts import Image
from bot.core.discover.freight import make_freight
from bot.core.ledger import FreightRecord, Ledger, OpenPromotion, PromotionRecord, StageRecord
from bot.core.metrics import metrics_text
from sandbox.planning import CONFIG

T = datetime(2026, 5, 1, tzinfo=UTC)


def test_metrics_describe_the_pipeline() -> None:
    f = make_freight(
        "flask-app", images=[Image("ghcr.io/alkon/flask-app", "1.8.4", "sha256:" + "a" * 64)]
    )
    led = Ledger()
    led.freight[f.name] = FreightRecord(f)
    led.stages["dev"] = StageRecord(current_freight=f.name)
    led.promotions += [
        PromotionRecord("dev", f.name, f.alias, "1.8.4", "auto", "Succeeded", "bot", "", T),
        PromotionRecord("dev", f.name, f.alias, "1.8.4", "auto", "Rejected", "bot", "", T),
    ]
    text = metrics_text(CONFIG, led)
    got = samples(text)
    assert got[("shunter_freight", (("warehouse", "flask-app"),))] == 1
    info = (("alias", f.alias), ("freight", f.name), ("stage", "dev"), ("version", "1.8.4"))
    assert got[("shunter_stage_freight_info", info)] == 1
    assert got[("shunter_promotions_total", (("stage", "dev"), ("status", "Succeeded")))] == 1
    assert got[("shunter_stage_promotion_open", (("stage", "dev"),))] == 0
    kinds = {m.name: m.type for m in text_string_to_metric_families(text)}
    assert kinds["shunter_promotions"] == "counter"  # exposed as shunter_promotions_total
    # Deterministic: the same ledger renders the same text (so an idle run writes nothing).
    assert metrics_text(CONFIG, led) == text


def test_an_open_promotion_says_since_when_for_a_stuck_stage_alert() -> None:
    led = Ledger()
    led.stages["prod"] = StageRecord(
        promotion=OpenPromotion("f" * 40, "manual", "bot", "", started_at=T, pr=7)
    )
    got = samples(metrics_text(CONFIG, led))
    assert got[("shunter_stage_promotion_open", (("stage", "prod"),))] == 1
    key = ("shunter_stage_promotion_open_since_timestamp_seconds", (("stage", "prod"),))
    assert got[key] == T.timestamp()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed by prometheus_client's own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_readme_documents_every_metric() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    families = text_string_to_metric_families(metrics_text(CONFIG, Ledger()))
    names = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    assert len(names) == 8
    assert [n for n in sorted(names) if f"`{n}`" not in readme] == []

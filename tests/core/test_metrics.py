from __future__ import annotations

from datetime import UTC, datetime

from bot.core.discover.artifacts import Image
from bot.core.discover.freight import make_freight
from bot.core.ledger import FreightRecord, Ledger, PromotionRecord, StageRecord
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
    assert 'shunter_freight{warehouse="flask-app"} 1' in text
    assert (
        f'shunter_stage_freight_info{{stage="dev",freight="{f.name}",alias="{f.alias}",'
        'version="1.8.4"} 1'
    ) in text
    assert 'shunter_promotions_total{stage="dev",status="Succeeded"} 1' in text
    assert "# TYPE shunter_promotions_total counter" in text
    # Deterministic: the same ledger renders the same text (so an idle run writes nothing).
    assert metrics_text(CONFIG, led) == text

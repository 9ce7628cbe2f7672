"""Prometheus metrics of the pipeline, for ``ProjectConfig`` ``spec.monitoring.enabled``.

Made from the ledger alone and written beside it on the state branch as ``metrics.prom``
in the Prometheus text exposition format, by ``prometheus_client``'s own writer (one
collector, a private registry: nothing global, nothing served). Only values that change
when the ledger changes are exported (times are the ledger's own, no "last run"
timestamps), so enabling metrics never makes an idle run write. Names follow Prometheus'
conventions: ``shunter_`` prefix, base units (``_seconds``), ``_total`` for counters,
``_info`` for label-carrying constants. README "Monitoring" lists each with an alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.ledger import Ledger
from bot.core.model import Config


def _ts(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()


class _Pipeline(Collector):
    """Every metric, read from one config and ledger."""

    def __init__(self, config: Config, ledger: Ledger) -> None:
        self.config, self.ledger = config, ledger

    def collect(self) -> Iterator[Metric]:
        config, ledger = self.config, self.ledger
        ledger.read_deferred()  # the count includes shelved freight; the log is counted below
        freight = GaugeMetricFamily(
            "shunter_freight", "Freight the ledger holds, by warehouse.", labels=["warehouse"]
        )
        per_wh = Counter(r.freight.warehouse for r in ledger.freight.values())
        failing = GaugeMetricFamily(
            "shunter_warehouse_discovery_failing",
            "1 while the warehouse's last discovery failed.",
            labels=["warehouse"],
        )
        for wh in config.warehouses:
            freight.add_metric([wh.name], per_wh.get(wh.name, 0))
            wrec = ledger.warehouses.get(wh.name)
            failing.add_metric([wh.name], 1 if wrec is not None and wrec.error else 0)
        yield freight
        yield failing

        info = GaugeMetricFamily(
            "shunter_stage_freight_info",
            "The freight each stage runs (value 1).",
            labels=["stage", "freight", "alias", "version"],
        )
        since = GaugeMetricFamily(
            "shunter_stage_freight_since_timestamp_seconds",
            "When the stage started running its current freight (Unix time).",
            labels=["stage"],
        )
        healthy = GaugeMetricFamily(
            "shunter_stage_healthy",
            "1 when the stage's health provider says healthy.",
            labels=["stage"],
        )
        is_open = GaugeMetricFamily(
            "shunter_stage_promotion_open", "1 while a promotion PR is open.", labels=["stage"]
        )
        opened = GaugeMetricFamily(
            "shunter_stage_promotion_open_since_timestamp_seconds",
            "When the stage's open promotion started (Unix time); absent when none is open.",
            labels=["stage"],
        )
        for stage in config.stages:
            rec = ledger.stages.get(stage.name)
            cur = ledger.freight.get(rec.current_freight or "") if rec else None
            if rec is not None and cur is not None:
                f = cur.freight
                info.add_metric([stage.name, f.name, f.alias, f.summary()], 1)
                at = _ts(rec.since)
                if at is not None:
                    since.add_metric([stage.name], at)
            if stage.health is not None:
                good = rec is not None and rec.healthy_since is not None
                healthy.add_metric([stage.name], 1 if good else 0)
            promo = rec.promotion if rec is not None else None
            is_open.add_metric([stage.name], 1 if promo is not None else 0)
            if promo is not None:
                opened.add_metric([stage.name], promo.started_at.timestamp())
        yield from (info, since, healthy, is_open, opened)

        promotions = CounterMetricFamily(
            "shunter_promotions",
            "Promotions recorded in the ledger, by stage and status.",
            labels=["stage", "status"],
        )
        counts = Counter((p.stage, p.status) for p in ledger.promotions)
        for (stage_name, status), n in sorted(counts.items()):
            promotions.add_metric([stage_name, status], n)
        yield promotions


def metrics_registry(config: Config, ledger: Ledger) -> CollectorRegistry:
    """A private registry holding the pipeline's metrics (for a Pushgateway push)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Pipeline(config, ledger))
    return registry


def metrics_text(config: Config, ledger: Ledger) -> str:
    """The metrics in Prometheus' text format: freight per warehouse, discovery failures,
    what each stage runs and since when, its health, its open promotion and since when,
    and promotions by stage and status. The same ledger always gives the same text."""
    return generate_latest(metrics_registry(config, ledger)).decode()

"""Prometheus metrics of the pipeline, for ``ProjectConfig`` ``spec.monitoring.enabled``.

Rendered in the Prometheus text exposition format
(https://prometheus.io/docs/instrumenting/exposition_formats/) from the ledger alone, and
written beside it on the state branch as ``metrics.prom``. Only values that change when
the ledger changes are exported (no "last run" timestamps), so enabling metrics never
makes an idle run write.
"""

from __future__ import annotations

from collections import Counter

from bot.core.ledger import Ledger
from bot.core.model import Config


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: dict[str, str], value: float | int) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}"


def metrics_text(config: Config, ledger: Ledger) -> str:
    """The metrics as text: freight per warehouse, what each stage runs, its health and
    verification, promotions by stage and status, discovery failures."""
    out: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    family("shunter_freight", "gauge", "Freight the ledger holds, by warehouse.")
    per_wh = Counter(r.freight.warehouse for r in ledger.freight.values())
    for wh in config.warehouses:
        out.append(_line("shunter_freight", {"warehouse": wh.name}, per_wh.get(wh.name, 0)))
    family("shunter_warehouse_discovery_failing", "gauge", "1 while discovery fails.")
    for wh in config.warehouses:
        wrec = ledger.warehouses.get(wh.name)
        failing = 1 if wrec is not None and wrec.error else 0
        out.append(_line("shunter_warehouse_discovery_failing", {"warehouse": wh.name}, failing))
    family("shunter_stage_freight_info", "gauge", "The freight each stage runs (value 1).")
    family_rows = []
    for stage in config.stages:
        rec = ledger.stages.get(stage.name)
        cur = ledger.freight.get(rec.current_freight or "") if rec else None
        if cur is not None:
            family_rows.append(
                _line(
                    "shunter_stage_freight_info",
                    {"stage": stage.name, "freight": cur.freight.name,
                     "alias": cur.freight.alias, "version": cur.freight.summary()},
                    1,
                )
            )  # fmt: skip
    out += family_rows
    family("shunter_stage_healthy", "gauge", "1 when the stage's health provider says healthy.")
    for stage in config.stages:
        rec = ledger.stages.get(stage.name)
        if stage.health is not None:
            healthy = 1 if rec is not None and rec.healthy_since is not None else 0
            out.append(_line("shunter_stage_healthy", {"stage": stage.name}, healthy))
    family("shunter_stage_promotion_open", "gauge", "1 while a promotion PR is open.")
    for stage in config.stages:
        rec = ledger.stages.get(stage.name)
        is_open = 1 if rec is not None and rec.promotion is not None else 0
        out.append(_line("shunter_stage_promotion_open", {"stage": stage.name}, is_open))
    family("shunter_promotions_total", "counter", "Promotions recorded, by stage and status.")
    counts = Counter((p.stage, p.status) for p in ledger.promotions)
    for (stage_name, status), n in sorted(counts.items()):
        out.append(_line("shunter_promotions_total", {"stage": stage_name, "status": status}, n))
    return "\n".join(out) + "\n"

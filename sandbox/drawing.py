"""Pipelines to draw: the planning world's config with Kargo's looks, and a large one.

The graph tests (``tests/core/test_pipeline.py``) and the Mermaid parser test
(``tests/render/test_mermaid.py``) share them. Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.decide.actions import Plan
from bot.core.decide.planner import plan
from bot.core.ledger import Ledger
from bot.core.model import Config, FreightRequest, Stage
from sandbox.planning import CONFIG, T0, obs

#: The planning world's dev, staging and prod with a colour (hex or a palette name), a
#: description and an icon each, as Kargo's annotations give them.
ANNOTATED = replace(
    CONFIG,
    stages=tuple(
        replace(
            s,
            annotations=(
                ("kargo.akuity.io/color", c),
                ("kargo.akuity.io/description", f"{s.name} environment"),
                ("kargo.akuity.io/icon", i),
            ),
        )
        for s, c, i in zip(
            CONFIG.stages,
            ("#4CAF50", "orange", "#F44336"),
            ("rocket", "flask", "shield"),
            strict=True,
        )
    ),
)


def planned(config: Config, led: Ledger, **kw: object) -> Plan:
    """The plan for ``config`` at ``T0`` with the observations ``kw``."""
    return plan(config, led, obs(**kw), T0, owner="alkon")


def big_config(n: int) -> Config:
    """``n`` stages, each fed by the one warehouse and with a 200-character description."""
    wh = CONFIG.warehouses[0].name
    return replace(
        CONFIG,
        stages=tuple(
            Stage(
                f"stage-{i:04d}",
                (FreightRequest(wh),),
                annotations=(("kargo.akuity.io/description", "x" * 200),),
            )
            for i in range(n)
        ),
    )

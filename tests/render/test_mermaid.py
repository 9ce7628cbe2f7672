"""Every graph Shunter draws is valid Mermaid, as Mermaid's own parser (npm ``mermaid``,
run in headless Chromium because it needs a DOM) reads it; and the check can fail."""

from __future__ import annotations

from dataclasses import replace

from bot.core.ledger import Ledger
from bot.core.pipeline import mermaid, pipeline, pipeline_markdown
from sandbox.browser import mermaid_errors
from sandbox.drawing import ANNOTATED, big_config, planned
from sandbox.planning import CONFIG, found

HOSTILE = ['"] --> evil["x', "a;b%%c", "```\nend", "<script>x</script>", "#quot; {x} & \\ `y`"]


def graphs() -> list[str]:
    p1 = planned(ANNOTATED, Ledger(), discoveries=found("1.8.4"))
    out = [
        mermaid(pipeline(ANNOTATED, p1.ledger, p1.decisions)),
        mermaid(pipeline(ANNOTATED, p1.ledger, p1.decisions), highlight="prod", detail=False),
    ]
    for text in HOSTILE:
        stage = replace(ANNOTATED.stages[0], annotations=(("kargo.akuity.io/description", text),))
        out.append(mermaid(pipeline(replace(CONFIG, stages=(stage,)), Ledger(), [])))
    section = pipeline_markdown(
        pipeline(big_config(1500), Ledger(), []), highlight="stage-0700", budget=60_000
    )
    out.append(section.split("```mermaid\n", 1)[1].split("```", 1)[0])
    return out


def test_mermaids_parser_accepts_every_graph_and_rejects_a_broken_one() -> None:
    drawn = graphs()
    broken = drawn[0].replace('"]', '"', 1)  # a label that never closes
    results = mermaid_errors([*drawn, broken])
    assert results[:-1] == [None] * len(drawn)
    assert results[-1] is not None  # the validator really parses

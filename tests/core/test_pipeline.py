"""The pipeline graph and freight table: what each node says, the PR's own stage
highlighted, hostile text kept inside its label, and the size limits GitHub sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.colors import NAMED, contrast_ratio, resolve, text_on
from bot.core.config._tables import COLOR_NAMES
from bot.core.decide.actions import OpenPromotionPR, UpdatePromotionPR
from bot.core.decide.observations import PromotionPR
from bot.core.decide.outcomes import Decision, DecisionKind, Gate, GateKind, Subject
from bot.core.decide.planner import plan
from bot.core.decide.pr_pipeline import PR_BODY_MAX
from bot.core.ledger import Ledger
from bot.core.model import Approvals, Approver
from bot.core.pipeline import (
    MARKER,
    MERMAID_EDGES,
    MERMAID_MAX,
    icon_text,
    mermaid,
    pipeline,
    pipeline_markdown,
    waits_for,
    without_pipeline,
)
from sandbox.drawing import ANNOTATED, big_config, planned
from sandbox.planning import CONFIG, T0, found, obs, pr_for


@pytest.mark.parametrize("color", [*NAMED.values(), "#000000", "#FFFFFF", "#777777", "#FFFF00"])
def test_text_on_any_stage_colour_meets_wcag_aa(color: str) -> None:
    assert contrast_ratio(color, text_on(color)) >= 4.5


@pytest.mark.parametrize(
    ("written", "hex_"),
    [("#4caf50", "#4CAF50"), ("#fa0", "#FFAA00"), ("red", NAMED["red"]), ("blurple", None)],
)
def test_colours_resolve_from_hex_and_names(written: str, hex_: str | None) -> None:
    assert resolve(written) == hex_


def test_every_colour_name_the_config_accepts_is_drawn() -> None:
    assert set(COLOR_NAMES) <= set(NAMED)


def test_graph_draws_warehouse_then_stages_in_source_order_with_their_looks() -> None:
    p1 = planned(ANNOTATED, Ledger(), discoveries=found("1.8.4"))
    view = pipeline(ANNOTATED, p1.ledger, p1.decisions)
    assert [s.name for s in view.stages] == ["dev", "staging", "prod"]
    assert [s.sources for s in view.stages] == [("w0",), ("s0",), ("s1",)]
    src = mermaid(view)
    edges = [line.strip() for line in src.splitlines() if "-->" in line]
    assert edges == ["w0 --> s0", "s0 --> s1", "s1 --> s2"]
    assert "style s0 fill:#4CAF50,color:#000000" in src
    assert f"style s1 fill:{NAMED['orange']}" in src
    assert "🚀 dev" in src and "🧪 staging" in src and "🛡️ prod" in src
    assert "dev environment" in src
    # dev is opening its promotion; staging has nothing to take yet.
    assert view.stages[0].waits == DecisionKind.OPENING.value
    assert view.stages[1].waits == DecisionKind.NO_FREIGHT.value


def test_waits_names_blocking_gates_by_kind_never_by_their_changing_detail() -> None:
    d1 = Decision(
        Subject.stage("staging"),
        DecisionKind.SOAKING,
        blocked=True,
        gates=(Gate(GateKind.DELAY, False, "29m left"),),
    )
    d2 = replace(d1, gates=(Gate(GateKind.DELAY, False, "3m left"),))
    assert waits_for([d1]) == waits_for([d2]) == "soaking: autoPromotionDelay"


@pytest.mark.parametrize(
    "hostile",
    ['"] --> evil["x', "a;b%%c", "```\nend", "<script>x</script>", "#quot; {x} & \\"],
)
def test_hostile_descriptions_stay_inside_their_label(hostile: str) -> None:
    cfg = replace(
        CONFIG,
        stages=(
            replace(CONFIG.stages[0], annotations=(("kargo.akuity.io/description", hostile),)),
        ),
    )
    src = mermaid(pipeline(cfg, Ledger(), []))
    label = next(line for line in src.splitlines() if line.strip().startswith("s0["))
    assert label.count('"') == 2  # the label's own quotes, nothing that ends it early
    assert "```" not in src and "<script" not in src
    assert len(src.splitlines()) == 4  # flowchart, warehouse, stage, edge: no injected node


def test_unknown_icon_is_shown_as_written() -> None:
    assert icon_text("rocket") == "🚀"
    assert icon_text("kubernetes") == "kubernetes"
    assert icon_text(None) == ""


def test_a_large_pipeline_is_cut_to_fit_and_says_what_was_cut() -> None:
    cfg = big_config(1500)
    view = pipeline(cfg, Ledger(), [])
    assert len(mermaid(view)) > MERMAID_MAX  # too large for GitHub as a whole
    text = pipeline_markdown(view, highlight="stage-1499", budget=60_000)
    assert 0 < len(text.encode()) <= 60_000
    source = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert len(source) <= MERMAID_MAX and source.count(" --> ") < MERMAID_EDGES
    assert "stage-1499" in source  # the highlighted stage survives the cut
    assert "stages (" in text and "Cut to fit" in text


def test_a_small_pipeline_is_drawn_whole() -> None:
    view = pipeline(ANNOTATED, Ledger(), [])
    text = pipeline_markdown(view, budget=PR_BODY_MAX)
    assert "Cut to fit" not in text and text.startswith(MARKER)


def test_pr_body_carries_the_graph_and_an_unchanged_world_rewrites_nothing() -> None:
    """dev behind one approval: the PR opens with the graph (its stage highlighted), is
    rewritten once when dev starts waiting, and then never again while nothing changes."""
    policy = replace(
        CONFIG.stages[0].promotion_policy,
        approvals=Approvals(required=True, approvers=(Approver("user", "lead"),)),
    )
    cfg = replace(ANNOTATED, stages=(replace(ANNOTATED.stages[0], promotion_policy=policy),))
    p1 = planned(cfg, Ledger(), discoveries=found("1.8.4"))
    (opened,) = [a for a in p1.actions if isinstance(a, OpenPromotionPR)]
    assert "```mermaid" in opened.body and "▶ 🚀 dev" in opened.body
    assert "stroke-width:4px" in opened.body
    pr = pr_for(p1, "dev", 7)
    p2 = planned(cfg, p1.ledger, prs={"dev": PromotionPR(pr)})
    (update,) = [a for a in p2.actions if isinstance(a, UpdatePromotionPR)]
    assert without_pipeline(update.body) == without_pipeline(pr.body)  # only the graph moved
    assert "waiting (PR #35;7): approvals" in update.body  # #35; is Mermaid's "#"
    p3 = planned(cfg, p2.ledger, prs={"dev": PromotionPR(replace(pr, body=update.body))})
    assert not [a for a in p3.actions if isinstance(a, UpdatePromotionPR)]
    p4 = plan(
        cfg, p3.ledger, obs(prs={"dev": PromotionPR(replace(pr, body=update.body))}),
        T0 + timedelta(hours=5), owner="alkon",
    )  # fmt: skip
    assert not [a for a in p4.actions if isinstance(a, UpdatePromotionPR)]

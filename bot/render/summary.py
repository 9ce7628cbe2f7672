"""The Markdown step summary a run leaves on its GitHub Actions page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.pipeline import pipeline, pipeline_markdown

if TYPE_CHECKING:
    from bot.core.model import Config
    from bot.loop.reconcile import Outcome

SUMMARY_MAX = 1024 * 1024  # GitHub shows a step summary of at most 1 MiB


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def step_summary(outcome: Outcome, config: Config | None = None) -> str:
    """What happened and what waits, stage by stage, as Markdown; with ``config``, the
    pipeline graph and freight table after it, cut to stay inside GitHub's 1 MiB."""
    lines = ["## Shunter", ""]
    if outcome.changes:
        lines += ["**Changed**", ""]
        lines += [f"- {_cell(c.render())}" for c in outcome.changes]
        lines.append("")
    lines += ["| | Where | What |", "|---|---|---|"]
    for d in outcome.decisions:
        icon = "⏸️" if d.blocked else "✅"
        lines.append(f"| {icon} | {_cell(d.subject.render())} | {_cell(d.render())} |")
    if outcome.errors:
        lines += ["", "**Errors**", ""]
        lines += [f"- {_cell(e.render())}" for e in outcome.errors]
    if outcome.inconsistencies:
        lines += ["", "**Ledger inconsistencies** (not acted on)", ""]
        lines += [f"- {_cell(i.render())}" for i in outcome.inconsistencies]
    if outcome.state_commit:
        lines += ["", f"Ledger commit: `{outcome.state_commit[:12]}`"]
    text = "\n".join(lines) + "\n"
    if config is None:
        return text
    view = pipeline(config, outcome.ledger, outcome.decisions)
    section = pipeline_markdown(view, budget=SUMMARY_MAX - len(text.encode()) - 1)
    return text + "\n" + section if section else text

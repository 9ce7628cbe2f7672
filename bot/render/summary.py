"""The Markdown step summary a run leaves on its GitHub Actions page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.loop.reconcile import Outcome


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def step_summary(outcome: Outcome) -> str:
    """What happened and what waits, stage by stage, as Markdown."""
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
    return "\n".join(lines) + "\n"

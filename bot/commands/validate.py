"""``shunter validate``: check the config and print every problem.

It also warns, from the checkout's workflow files, when a stage needs more than the
``GITHUB_TOKEN`` the workflow acts with gives (team approvers, scans on promotion PRs).
"""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _load_config


def cmd_validate(ctx: RunContext, out: TextIO) -> int:
    """Print every problem (exit 2, from the error handler) or "valid" and the warnings:
    keys that are accepted and do nothing, with why, and what a stage needs that the
    workflow's GITHUB_TOKEN cannot give. Warnings do not fail validation."""
    config = _load_config(ctx)
    for note in config.notes:
        print(f"warning: {note.location}: {note.path}: {note.reason}", file=out)
    print(
        f"{ctx.config_dir}: valid ({len(config.warehouses)} warehouse(s), "
        f"{len(config.stages)} stage(s): {' -> '.join(s.name for s in config.stages)})",
        file=out,
    )
    import yaml

    from bot import doctor

    workflows = []
    folder = ctx.repo_dir / ".github" / "workflows"
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else ():
        try:
            wf = doctor.parse_workflow(f".github/workflows/{path.name}", path.read_text())
        except (OSError, ValueError, yaml.YAMLError):
            continue  # doctor reports unreadable workflows; validate judges the config
        if wf is not None:
            workflows.append(wf)
    for f in doctor.token_limits(config, tuple(workflows)):
        print(f"warning: {f.subject}: {f.detail}. Fix: {f.fix}", file=out)
    return 0

"""``shunter doctor``: the repository's settings, rules, workflow and registries, checked.

The checks themselves are ``bot.doctor``; this reads the checkout's workflow files, wires
the adapters, prints the checklist (and, in Actions, the step summary and an error
annotation per problem) and exits 1 when a finding stalls the pipeline.
"""

from __future__ import annotations

from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _actions_io, _load_config, _world


def cmd_doctor(ctx: RunContext, out: TextIO, fmt: str = "text") -> int:
    """Check the repository through the API; 1 when a finding stalls the pipeline."""
    from bot import doctor

    config = _load_config(ctx)
    world = _world(ctx, config, forge=True)
    assert world.forge is not None and world.gitops is not None
    folder = ctx.repo_dir / ".github" / "workflows"
    workflows = {
        f".github/workflows/{p.name}": p.read_text()
        for p in sorted(folder.glob("*.y*ml"))
        if p.is_file()
    }
    branch = ctx.state_branch or config.settings.state_branch
    facts = doctor.gather(
        config,
        world.forge,
        world.gitops,
        world.registry,
        workflows,
        repository=ctx.repository or "",
        state_branch=branch,
    )
    findings = doctor.diagnose(config, facts, state_branch=branch)
    print(doctor.render(findings, fmt), file=out)
    io = _actions_io(ctx, out)
    if io.enabled:
        io.summary(doctor.markdown(findings))
        for f in findings:
            if f.status is doctor.Status.FAIL:
                io.error(f"{f.subject}: {f.detail}. Fix: {f.fix}", title="shunter doctor")
    return 1 if any(f.status is doctor.Status.FAIL for f in findings) else 0

"""``shunter check-pr --pr N``: publish the ``shunter/gate`` check on one pull request.

A promotion PR (the bot's own, from ``shunter/<stage>``) gets its gate from the
reconcile, which knows its gates; this leaves it alone. Any other PR is judged by
:mod:`bot.core.decide.prgate`: ``success`` when it changes no value a promotion writes,
``failure`` (exit 1 and an error annotation) when it does. Nothing of the PR is checked
out or run: its file list and the changed files' blobs are read through the API, the
base through git, so a ``workflow_run`` job with a write token can check a PR from a fork
(README: Forks).
"""

from __future__ import annotations

import re
from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _actions_io, _load_config, _world
from bot.errors import UsageError


def cmd_check_pr(ctx: RunContext, out: TextIO, number: str | int) -> int:
    """Publish ``shunter/gate`` on PR ``number``; 1 when it changes a managed value.

    Raises ``UsageError`` when ``number`` is not a PR number, ``PermanentError`` when
    there is no such PR or a file cannot be read (nothing is published then)."""
    from bot.core.decide.gates import GATE_CHECK
    from bot.core.decide.prgate import managed_files, pr_verdict
    from bot.core.promote.exact import Origin, pr_origin

    pr_number = _pr_number(number)
    config = _load_config(ctx)
    world = _world(ctx, config, forge=True, registry=False)
    forge, gitops = world.forge, world.gitops
    assert forge is not None and gitops is not None
    pr = forge.pull_request(pr_number)
    if pr.state != "open":
        print(f"PR #{pr_number} is {pr.state}: nothing to check", file=out)
        return 0
    bot = forge.whoami()
    for stage in config.stages:
        if pr_origin(pr, stage=stage.name, bots=world.bots(bot)) is Origin.OURS:
            print(f"PR #{pr_number} promotes to {stage.name}: the reconcile judges it", file=out)
            return 0
    managed = set(managed_files(config, pr.base_branch, forge.default_branch()))
    changed = forge.pull_request_files(pr_number)
    # Every managed file at the base: a promotion renders all of its files at once.
    base_texts = {
        path: (
            gitops.read_file_at(pr.base_sha, path, branch=pr.base_branch)
            if pr.base_sha
            else gitops.read_file(pr.base_branch, path)
        )
        for path in sorted(managed)
    }
    head_texts = {
        f.path: forge.blob_text(f.blob_sha)
        for f in changed
        if f.path in managed and f.blob_sha is not None and f.status != "removed"
    }
    verdict = pr_verdict(
        config,
        base_branch=pr.base_branch,
        default_branch=forge.default_branch(),
        changed=changed,
        base_texts=base_texts,
        head_texts=head_texts,
    )
    forge.set_check(
        sha=pr.head_sha,
        name=GATE_CHECK,
        conclusion="success" if verdict.passes else "failure",
        title=verdict.title(),
        summary=verdict.summary(),
    )
    print(f"PR #{pr_number}: {GATE_CHECK} {verdict.title()}", file=out)
    io = _actions_io(ctx, out)
    if io.enabled:
        io.summary(f"### {GATE_CHECK} on #{pr_number}\n\n{verdict.summary()}\n")
        if not verdict.passes:
            io.error(f"PR #{pr_number} {verdict.title()}", title=GATE_CHECK)
    return 0 if verdict.passes else 1


def _pr_number(value: str | int) -> int:
    """A positive PR number; anything else (an artifact's text, say) is a usage error."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) == 0:
        raise UsageError(f"{text!r} is not a pull request number")
    return int(text)

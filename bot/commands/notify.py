"""``shunter notify``: from another repository's image build, ask Shunter to refresh now.

GitHub sends ``registry_package`` only to the repository a package is linked to, and not
for pushes made with ``GITHUB_TOKEN``; a ``repository_dispatch`` reaches any repository
the token may write to, and starts its workflows whatever token sent it.
https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#repository_dispatch
"""

from __future__ import annotations

from dataclasses import replace
from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _forge
from bot.errors import PermanentError

#: The event type Shunter's workflow listens to (README: Events).
REFRESH_EVENT = "shunter-refresh"


def cmd_notify(ctx: RunContext, out: TextIO, target: str, warehouse: str) -> int:
    """Send ``repository_dispatch`` ``shunter-refresh`` naming ``warehouse`` to ``target``."""
    if not warehouse:
        raise PermanentError("say which warehouse to refresh (the action's `warehouse` input)")
    if target.count("/") != 1:
        raise PermanentError(
            f"the repository to notify must be owner/name, not {target!r} "
            "(the action's `repository` input)"
        )
    _forge(replace(ctx, repository=target)).repository_dispatch(
        REFRESH_EVENT, {"warehouse": warehouse}
    )
    print(f"asked {target} to refresh warehouse {warehouse}", file=out)
    return 0

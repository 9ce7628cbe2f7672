"""``shunter dashboard --out DIR``: write the pipeline's static site from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.commands._context import RunContext
from bot.commands._wiring import _ledger, _load_config
from bot.errors import UsageError


def cmd_dashboard(ctx: RunContext, out: TextIO, dest: str) -> int:
    """Write ``DIR/index.html`` (one self-contained page) and print its path.

    Reads the config and the state branch only: no GitHub API, no network. ``DIR`` is
    created when missing; only ``index.html`` inside it is written.
    """
    from bot.render.dashboard import render_dashboard

    folder = Path(dest)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {dest}: not a directory; name a folder for the site")
    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    page = render_dashboard(config, ledger, generated=ctx.now or datetime.now(UTC))
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    out.write(f"wrote {index}\n")
    return 0

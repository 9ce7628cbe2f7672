"""Discovery's progress on a terminal: one line on stderr, rewritten in place.

Only when stderr is a terminal that can rewrite a line; piped or in a workflow log it
says nothing, so logs and scripts read exactly what they read before. Kept apart from
the colour code so that a run pays no import for it when stderr is not a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO


def wants_progress(stream: TextIO, env: Mapping[str, str] | None) -> bool:
    """True when ``stream`` is a terminal that can rewrite a line (not ``TERM=dumb``)."""
    if env is not None and env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def progress_line(stream: TextIO) -> Callable[[int, int], None]:
    """Discovery's progress as one line of ``stream`` rewritten in place (``\r``), and
    wiped once every subscription has answered, so what follows starts on a clean line."""
    width = 0

    def show(answered: int, total: int) -> None:
        nonlocal width
        text = "" if answered >= total else f"discovery: {answered} of {total} answered"
        stream.write("\r" + text.ljust(width) + ("\r" if not text else ""))
        stream.flush()
        width = max(width, len(text))

    return show

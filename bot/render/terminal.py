"""Colour for people at a terminal: each stage's name in its own colour.

Only when the output is a terminal and ``NO_COLOR`` is unset or empty
(https://no-color.org); piped output stays plain, byte for byte what scripts read. The
colours are 24-bit ANSI (``ESC[48;2;R;G;Bm``) with black or white text by WCAG contrast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from bot.core.colors import resolve, text_on
from bot.core.model import Config
from bot.core.pipeline import COLOR

RESET = "\033[0m"


def wants_color(out: TextIO, env: Mapping[str, str] | None) -> bool:
    """True when ``out`` is a terminal and ``NO_COLOR`` is not set to a value."""
    if env is not None and env.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty())


def _rgb(hex_color: str) -> str:
    return ";".join(str(int(hex_color[i : i + 2], 16)) for i in (1, 3, 5))


def paint(name: str, color: str | None) -> str:
    """``name`` on its colour (``#RRGGBB``), or as it is when there is none."""
    if color is None:
        return name
    return f"\033[48;2;{_rgb(color)}m\033[38;2;{_rgb(text_on(color))}m{name}{RESET}"


def paint_stages(text: str, config: Config, *, prefix: str = "") -> str:
    """``text`` with each line that starts with ``prefix`` + a stage's name showing that
    name in the stage's colour (the table's first column, ``describe``'s Name line).
    Alignment is kept: the escapes take no room on screen."""
    colors = {s.name: resolve(s.annotation(COLOR)) for s in config.stages}
    out = []
    for line in text.splitlines(keepends=True):
        rest = line[len(prefix) :] if line.startswith(prefix) else None
        name = rest.split(None, 1)[0] if rest and rest.strip() else None
        if name is not None and colors.get(name) is not None:
            start = len(prefix)
            line = line[:start] + paint(name, colors[name]) + line[start + len(name) :]
        out.append(line)
    return "".join(out)

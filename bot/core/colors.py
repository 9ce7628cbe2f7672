"""Stage colours: Kargo's ``kargo.akuity.io/color`` values and readable text on them. Pure.

A stage's colour is written as ``#RGB``/``#RRGGBB`` or as one of Kargo's colour names
(``bot.core.config._tables.COLOR_NAMES`` checks the config; each has a value below). Text
drawn on a colour is black or white, whichever contrasts more by WCAG 2's relative
luminance (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance); on any sRGB colour the
better of the two reaches at least 4.5:1, WCAG's AA level for normal text.
"""

from __future__ import annotations

import re
from typing import Final

# Shunter's own values for the palette names; each is a mid-tone of its hue.
NAMED: Final[dict[str, str]] = {
    "red": "#E53935",
    "salmon": "#FA8072",
    "orange": "#FB8C00",
    "amber": "#FFB300",
    "yellow": "#FDD835",
    "lime": "#C0CA33",
    "avocado": "#7CB342",
    "green": "#43A047",
    "teal": "#00897B",
    "cyan": "#00ACC1",
    "sky": "#039BE5",
    "blue": "#1E88E5",
    "indigo": "#3949AB",
    "periwinkle": "#7986CB",
    "violet": "#7E57C2",
    "purple": "#8E24AA",
    "fuchsia": "#D81B60",
    "pink": "#EC407A",
    "rose": "#F06292",
    "dragonfruit": "#E91E8C",
    "gray": "#757575",
}

_HEX = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
BLACK: Final = "#000000"
WHITE: Final = "#FFFFFF"


def resolve(text: str | None) -> str | None:
    """``#RRGGBB`` (upper case) for a hex colour or a palette name; ``None`` for anything else."""
    if not text:
        return None
    named = NAMED.get(text.strip())
    if named is not None:
        return named
    m = _HEX.fullmatch(text.strip())
    if m is None:
        return None
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits.upper()


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of ``#RRGGBB``, from 0 (black) to 1 (white)."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#RRGGBB`` colours, from 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever is more readable on ``background`` (``#RRGGBB``)."""
    if contrast_ratio(background, BLACK) >= contrast_ratio(background, WHITE):
        return BLACK
    return WHITE

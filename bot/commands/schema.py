"""``shunter schema``: print the JSON Schema of the config, for editors."""

from __future__ import annotations

import json
from typing import TextIO


def cmd_schema(out: TextIO) -> int:
    from bot.core.config import config_schema

    json.dump(config_schema(), out, indent=2)
    out.write("\n")
    return 0

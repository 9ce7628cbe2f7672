"""``yaml-update``: set keys of a YAML file to values, usually expressions of the freight.

Honoured keys: ``path`` (the file) and ``updates[]`` of ``key`` (dotted, with ``[n]``
list indexes) and ``value`` (any expression: ``imageFrom(...).Tag``,
``chartFrom(...).Version``, ``commitFrom(...).ID``, ``vars.*`` ...). Each edit changes
only the value's characters. Output: ``commitMessage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.config._spec import F, ListOf, Obj, Parsed
from bot.core.promote import manifests
from bot.core.promote.steps.base import Edit, Expr, Role, StepKind, step_path


@dataclass(frozen=True)
class Update:
    key: str
    value: str


@dataclass(frozen=True)
class Config:
    path: str
    updates: tuple[Update, ...]


TABLE = Obj(
    {
        "path": F(step_path("the YAML file to edit"), required=True),
        "updates": F(
            ListOf(
                Obj(
                    {
                        "key": F(Expr("a dotted key path, such as image.tag"), required=True),
                        "value": F(Expr("the value to write"), required=True),
                    }
                ),
                min_items=1,
            ),
            required=True,
        ),
    }
)


def build(p: Parsed) -> Config:
    return Config(
        path=p.req("path"),
        updates=tuple(Update(u.req("key"), u.req("value")) for u in p.req("updates")),
    )


def run(config: Any, e: Edit) -> tuple[str | None, dict[str, Any]]:
    assert isinstance(config, Config)
    text = e.before
    lines = []
    for u in config.updates:
        key, value = e.text(u.key), e.text(u.value)
        if text is not None:
            text = manifests.set_yaml_value(text, key, value, file=e.file)
        lines.append(f"- {key}: {value}")
    message = f"Updated {e.file}\n\n" + "\n".join(lines)
    return text, {"commitMessage": message}


KIND = StepKind("yaml-update", Role.EDIT, TABLE, build, run, doc="sets keys of a YAML file")

"""Reading the state branch's YAML safely: no aliases, a size cap, lines for error messages.

The state branch can be pushed to by anyone with ``write`` access, so its files are
outside input. Three rules keep a hostile or broken file from hurting a run:

- **Size cap.** A file larger than :data:`MAX_FILE_BYTES` is refused before it is parsed.
  The retained ledger of a large project (200 warehouses, a few hundred promotions per
  stage) is well under a tenth of it; promotion history past the retention window lives
  in ``archive/`` files, which reconcile never reads.
- **No aliases.** Shunter never writes anchors or aliases (its dumper refuses to), so a
  ``*alias`` in a ledger file is refused with its line instead of being expanded: a
  "billion laughs" file fails in milliseconds rather than filling memory as it is walked.
- **Plain data only.** ``SafeLoader`` semantics (no Python tags); LibYAML's ``CSafeLoader``
  when PyYAML has it, because it parses several times faster.

The alias check costs a Python call per node, so it runs only on files that contain a
``&`` or ``*`` at all (anchors and aliases cannot be written without them); everything
else goes through the C loader untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

#: The largest ledger file Shunter reads, in bytes of UTF-8 (8 MiB).
MAX_FILE_BYTES = 8 * 1024 * 1024

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasFound(Exception):
    """A YAML alias (``*name``) or merge key in a ledger file; ``line`` is 1-based."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}")
        self.line = line


class _NoAliasLoader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, refusing any node reached a second time (which only an alias does)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise AliasFound(node.start_mark.line + 1)
        return super().construct_object(node, deep)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        for key, _value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                raise AliasFound(key.start_mark.line + 1)
        super().flatten_mapping(node)


class _NoAliasDumper(yaml.SafeDumper):
    """The safe dumper that writes a shared object twice rather than as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    """Return ``data`` as block-style YAML, keys in insertion order, never with aliases."""
    return yaml.dump(
        data, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False, width=100
    )


def load(text: str) -> Any:
    """Parse one YAML document of plain data.

    Raises ``ValueError`` when ``text`` is larger than :data:`MAX_FILE_BYTES`,
    ``AliasFound`` for an alias or merge key, and ``yaml.YAMLError`` for bad YAML.
    """
    size = len(text.encode("utf-8")) if len(text) * 4 > MAX_FILE_BYTES else len(text)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"the file is {size:,} bytes; Shunter reads at most {MAX_FILE_BYTES:,}")
    loader = _NoAliasLoader if ("&" in text or "*" in text) else _BaseLoader
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader (see above)


def line_of(text: str, path: Sequence[str | int]) -> int:
    """The 1-based line of the value at ``path`` (mapping keys and list indexes) in ``text``.

    Walks as far down ``path`` as the document goes and returns the line of the deepest
    node found (the key's line for a mapping entry); 1 when ``text`` does not parse.
    Used only to locate a problem, so it never raises.
    """
    try:
        node = yaml.compose(text, Loader=_BaseLoader)
    except (yaml.YAMLError, ValueError):
        return 1
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for step in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    line, child = key.start_mark.line + 1, value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            child = node.value[step]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line

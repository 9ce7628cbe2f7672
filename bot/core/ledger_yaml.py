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
``&`` or ``*`` at all (anchors and aliases cannot be written without them). Everything
else is parsed by the C loader and built in one plain walk of its node tree
(:class:`_PlainLoader`), which makes exactly what the safe loader makes at a fraction of
its cost; a file using any other tag is left to the safe loader itself.
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


_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _TAG + "str", _TAG + "map", _TAG + "seq"
#: The tags the resolver gives plain scalars other than strings; the safe loader's own
#: functions build them (so ``yes``, ``0o17`` and times read as they always did).
_SCALARS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "timestamp"))


class _Unusual(Exception):
    """A node :class:`_PlainLoader` leaves to the safe loader: another tag (``!!set``,
    ``!!binary``, a merge key), a tag on the wrong kind of node, or an unhashable key."""


class _PlainLoader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, building the document in one walk of the node tree.

    PyYAML's constructor spends most of a ledger's parse on bookkeeping for aliases,
    recursion and deferred construction (a profile of an idle reconcile put about half
    of reading ``promotions.yaml`` there). For a document without aliases (the caller
    makes sure: no ``&`` or ``*`` in the text) none of it is needed: strings, mappings,
    sequences and plain scalars become exactly what the safe loader makes of them, and
    anything else raises :class:`_Unusual` so the caller hands the text to the safe loader.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        scalars = self.yaml_constructors

        def build(node: yaml.Node) -> Any:
            tag = node.tag
            if isinstance(node, yaml.ScalarNode):
                if tag == _STR:
                    return node.value
                if tag in _SCALARS:
                    return scalars[tag](self, node)
            elif isinstance(node, yaml.MappingNode):
                if tag == _MAP:
                    out: dict[Any, Any] = {}
                    for key_node, value_node in node.value:
                        key = build(key_node)
                        if isinstance(key, dict | list):  # PyYAML's own error, below
                            raise _Unusual
                        out[key] = build(value_node)
                    return out
            elif isinstance(node, yaml.SequenceNode) and tag == _SEQ:
                return [build(child) for child in node.value]
            raise _Unusual

        return build(node)


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
    if "&" in text or "*" in text:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader (see above)
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - plain data only (see above)
    except _Unusual:
        return yaml.load(text, Loader=_BaseLoader)  # noqa: S506 - a safe loader (see above)


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

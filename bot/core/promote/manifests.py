"""Minimal edits to users' YAML manifests: change one value, keep every other byte.

A promotion's diff must show only the value that moved. Re-serialising a parsed
document would lose comments, quoting, key order, indentation and line endings, so
instead we let PyYAML *compose* the text (a node tree that remembers where every scalar
starts and ends in the source) and splice the new value into that exact span, as
pre-commit's ``autoupdate`` rewrites nothing but ``rev:``.

The new value keeps the old value's quoting style when that style can carry it, and is
quoted whenever a plain scalar would change its type or meaning (``1.10`` is a float,
``on`` a boolean, ``1e3`` a number under YAML 1.2). Every edit is checked by parsing
the result again: the target must read back as exactly the new string.

Scalar syntax follows YAML 1.1 as PyYAML implements it (https://yaml.org/spec/1.1/),
plus the YAML 1.2 core schema's numbers and booleans
(https://yaml.org/spec/1.2.2/#1032-tag-resolution), which Go YAML libraries read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.errors import ManifestError

_STR_TAG = "tag:yaml.org,2002:str"

# Plain scalars that some YAML reader takes as something other than a string: YAML 1.2
# core numbers, special floats, and the YAML 1.1 booleans Go readers still honour.
_NOT_A_PLAIN_STRING = re.compile(
    r"""
    [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
    | 0o[0-7]+ | 0x[0-9a-fA-F]+ | 0b[01]+
    | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
    | y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE
    | on|On|ON|off|Off|OFF|null|Null|NULL|~
    """,
    re.VERBOSE,
)

# First characters that make a plain scalar mean something else (indicators, YAML 1.1
# section 4.1.3), and characters we never leave unquoted anywhere in a value.
_PLAIN_BAD_FIRST = set("-?:,[]{}#&*!|>'\"%@`")
_PLAIN_BAD_ANYWHERE = set(",[]{}")


@dataclass(frozen=True)
class _Step:
    key: str | None  # mapping key, or None for a list index
    index: int = 0


# --------------------------------------------------------------------------- public API


def set_yaml_value(text: str, key_path: str, value: str, *, file: str = "") -> str:
    """Return ``text`` with the scalar at ``key_path`` set to the string ``value``.

    ``key_path`` is dotted with optional list indexes: ``image.tag``,
    ``spec.template.spec.containers[0].image``. In a file of several documents the
    first document that has the key is edited. Only the value's characters change;
    setting the value it already has returns ``text`` unchanged.

    Raises ``ManifestError`` naming ``file`` and the key when the text is not YAML, the key
    is missing, or the key holds a mapping, a list or an alias (Shunter never invents
    structure in a user's file).
    """
    steps = _parse_key_path(key_path)
    where = file or "<yaml>"
    docs = _compose_all(text, where)
    misses: list[str] = []
    for doc in docs:
        found = _walk(doc, steps)
        if isinstance(found, str):
            misses.append(found)
            continue
        return _set_scalar(text, found, value, where=where, key=key_path, steps=steps)
    detail = misses[0] if misses else "the file is empty"
    raise ManifestError(f"{where}: cannot set {key_path!r}: {detail}")


def set_kustomize_image(
    text: str,
    image: str,
    *,
    new_tag: str | None = None,
    digest: str | None = None,
    new_name: str | None = None,
    file: str = "",
) -> str:
    """Return a kustomization's text with the ``images:`` entry for ``image`` updated.

    ``new_name`` also sets the entry's ``newName`` (the image kustomize deploys in place
    of ``name``), as Kargo's ``kustomize-set-image`` step does.

    The entry is the one whose ``name`` equals ``image``, or equals it without the
    registry host (``alkon/flask-app`` for ``ghcr.io/alkon/flask-app``). Its ``newTag``
    (or ``digest``) is set in place; a missing key is added right after ``name`` with the
    entry's indentation. Setting a tag removes a stale ``digest`` of that entry and
    setting only a digest removes a stale ``newTag``, because kustomize would otherwise
    keep deploying the old image
    (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/images/).
    With no matching entry, one is appended to ``images:`` (which is created at the end
    of the file when absent), indented like the file's other lists.

    Raises ``ManifestError`` naming ``file`` when neither ``new_tag`` nor ``digest`` is given,
    the text is not a YAML mapping, or the entry is written in flow style and would need
    a key added or removed.
    """
    where = file or "kustomization.yaml"
    if not new_tag and not digest:
        raise ManifestError(f"{where}: set_kustomize_image needs a new tag or a digest")
    docs = _compose_all(text, where)
    root = docs[0] if docs else None
    if root is not None and not isinstance(root, MappingNode):
        raise ManifestError(f"{where}: expected a mapping of kustomization fields at the top")
    wanted: dict[str, str] = {}
    if new_name:
        wanted["newName"] = new_name
    if new_tag:
        wanted["newTag"] = new_tag
    if digest:
        wanted["digest"] = digest
    stale = [] if new_tag and digest else (["digest"] if new_tag else ["newTag"])

    images = _mapping_get(root, "images") if root is not None else None
    if images is None:
        return _append_images_key(text, root, image, wanted, where)
    key_node, seq = images
    if isinstance(seq, ScalarNode) and seq.tag == "tag:yaml.org,2002:null":
        return _replace_empty_images(text, root, key_node, seq, image, wanted)
    if isinstance(seq, SequenceNode) and seq.flow_style and not seq.value:
        return _replace_empty_images(text, root, key_node, seq, image, wanted)
    if not isinstance(seq, SequenceNode):
        raise ManifestError(f"{where}: images must be a list of {{name, newTag}} entries")

    # An exact name wins over one that only matches without the registry host.
    for exact in (True, False):
        for i, entry in enumerate(seq.value):
            if not isinstance(entry, MappingNode):
                continue
            name = _mapping_get(entry, "name")
            if name is None or not isinstance(name[1], ScalarNode):
                continue
            written = name[1].value
            if written == image if exact else _same_image(written, image):
                return _update_entry(text, entry, name[1], wanted, stale, where, i)
    return _append_entry(text, seq, image, wanted, where)


def image_value(repo_url: str, tag: str, digest: str, kind: str) -> str:
    """Return the string a ``yaml-update`` writes for an image.

    ``kind`` is ``Tag`` (``1.8.4``), ``Digest`` (``sha256:...``), ``ImageAndTag``
    (``ghcr.io/alkon/flask-app:1.8.4``) or ``ImageAndDigest``
    (``ghcr.io/alkon/flask-app@sha256:...``). Raises ``ManifestError`` for another kind or
    when the part it needs is empty.
    """
    if kind in ("Tag", "ImageAndTag"):
        if not tag:
            raise ManifestError(f"{repo_url}: no tag to write for {kind}")
        return tag if kind == "Tag" else f"{repo_url}:{tag}"
    if kind in ("Digest", "ImageAndDigest"):
        if not digest:
            raise ManifestError(f"{repo_url}: no digest to write for {kind}")
        return digest if kind == "Digest" else f"{repo_url}@{digest}"
    raise ManifestError(
        f"unknown image value kind {kind!r}: use Tag, Digest, ImageAndTag or ImageAndDigest"
    )


# --------------------------------------------------------------------------- key paths

_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[\d+\])*)")


def _parse_key_path(key_path: str) -> list[_Step]:
    if not key_path or key_path.startswith(".") or key_path.endswith(".") or ".." in key_path:
        raise ManifestError(f"bad key path {key_path!r}: write it like image.tag or items[0].name")
    steps: list[_Step] = []
    for part in key_path.split("."):
        m = _SEGMENT.fullmatch(part)
        if m is None or (m.group(1) is None and not steps):
            raise ManifestError(
                f"bad key path {key_path!r}: write it like image.tag or items[0].name"
            )
        if m.group(1) is not None:
            steps.append(_Step(key=m.group(1)))
        steps += [_Step(key=None, index=int(i)) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return steps


def _describe(steps: list[_Step]) -> str:
    out = ""
    for s in steps:
        out += f"[{s.index}]" if s.key is None else (f".{s.key}" if out else s.key)
    return out or "the top"


# --------------------------------------------------------------------------- walking


def _compose_all(text: str, where: str) -> list[Node]:
    try:
        return [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{where}{at}: not valid YAML: {problem}") from exc


def _mapping_get(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The last ``(key node, value node)`` pair for ``key`` (loaders keep the last one)."""
    if not isinstance(node, MappingNode):
        return None
    found: tuple[ScalarNode, Node] | None = None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            found = (k, v)
    return found


def _walk(root: Node, steps: list[_Step]) -> ScalarNode | str:
    """The scalar at ``steps``, or a message saying where the path stops."""
    node = root
    for n, step in enumerate(steps):
        here = _describe(steps[:n])
        floor = node.start_mark.index
        if step.key is not None:
            pair = _mapping_get(node, step.key)
            if pair is None:
                if not isinstance(node, MappingNode):
                    return f"{here} is not a mapping"
                keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
                return f"{here} has no key {step.key!r}; it has {', '.join(keys) or 'no keys'}"
            key_node, child = pair
            floor = key_node.end_mark.index
        else:
            if not isinstance(node, SequenceNode):
                return f"{here} is not a list"
            if step.index >= len(node.value):
                return f"{here} has only {len(node.value)} item(s)"
            child = node.value[step.index]
        # An alias resolves to the anchored node, which sits earlier in the text: editing
        # it would silently change every other place that uses the anchor.
        if child.start_mark.index < floor:
            return f"{_describe(steps[: n + 1])} is an alias (*name); edit its anchor instead"
        node = child
    if not isinstance(node, ScalarNode):
        kind = "mapping" if isinstance(node, MappingNode) else "list"
        return f"{_describe(steps)} holds a {kind}, not a single value"
    return node


# --------------------------------------------------------------------------- splicing


def _set_scalar(
    text: str, node: ScalarNode, value: str, *, where: str, key: str, steps: list[_Step]
) -> str:
    # Same string already there: nothing to do. (A plain ``1.10`` is a float, not the
    # string "1.10", so that one does get rewritten, as "1.10".)
    if node.value == value and node.tag == _STR_TAG:
        return text
    start, end = node.start_mark.index, node.end_mark.index
    span = text[start:end]
    # Keep an anchor (&a) or an explicit tag (!!str) written before the value.
    props = re.match(r"(?:[&!]\S*\s+)*", span)
    keep = props.group(0) if props else ""
    body_start = start + len(keep)
    body = text[body_start:end]
    suffix = ""
    if node.style in ("|", ">"):
        # A block scalar's span runs through its trailing line breaks; keep them.
        lines = body.splitlines(keepends=True)
        last = max((i for i, ln in enumerate(lines) if ln.strip()), default=0)
        newline = lines[last][len(lines[last].rstrip("\r\n")) :] if lines else ""
        suffix = newline + "".join(lines[last + 1 :])
    lead = ""
    if not body and not keep:
        # An empty value (``tag:``) gets the one space YAML needs after the colon.
        lead = "" if text[start : start + 1] == " " else " "
        if lead == "":
            body_start = end = start + 1
    for candidate in _renderings(value, node.style, explicit_str=_STR_TAG_RE.search(keep)):
        new = text[:body_start] + lead + candidate + suffix + text[end:]
        if _reads_back(new, steps, value):
            return new
    raise ManifestError(f"{where}: cannot write {value!r} at {key!r} without changing its meaning")


_STR_TAG_RE = re.compile(r"!!str\b|!<tag:yaml\.org,2002:str>")


def _renderings(value: str, style: str | None, *, explicit_str: object) -> Iterator[str]:
    """Ways to write ``value``, the one closest to the old ``style`` first."""
    if style == "'" and _single_ok(value):
        yield _single(value)
    if style is None and (_plain_ok(value) or (explicit_str and _plain_chars_ok(value))):
        yield value
    yield _double(value)


def _plain_chars_ok(value: str) -> bool:
    return (
        bool(value)
        and value == value.strip()
        and all(_printable(c) and c not in "\t\n\r\x85\u2028\u2029" for c in value)
        and value[0] not in _PLAIN_BAD_FIRST
        and not (set(value) & _PLAIN_BAD_ANYWHERE)
        and ": " not in value
        and " #" not in value
        and not value.endswith(":")
    )


def _plain_ok(value: str) -> bool:
    if not _plain_chars_ok(value) or _NOT_A_PLAIN_STRING.fullmatch(value):
        return False
    # The SafeLoader's own implicit resolvers (the ones Shunter's config reader uses).
    resolver: Any = yaml.resolver.Resolver()
    return bool(resolver.resolve(ScalarNode, value, (True, False)) == _STR_TAG)


def _single_ok(value: str) -> bool:
    # Single quotes cannot escape anything but the quote; line breaks would be folded.
    return all(_printable(c) and c not in "\t\n\r\x85\u2028\u2029" for c in value)


def _single(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _printable(c: str) -> bool:
    # The characters a YAML stream may hold unescaped (YAML 1.1 section 5.1).
    o = ord(c)
    return (
        c in "\t\n\r"
        or 0x20 <= o <= 0x7E
        or o == 0x85
        or 0xA0 <= o <= 0xD7FF
        or 0xE000 <= o <= 0xFFFD
        or 0x10000 <= o <= 0x10FFFF
    ) and c != "\ufeff"


_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _double(value: str) -> str:
    """``value`` as a double-quoted scalar (YAML 1.1 section 5.7 escapes)."""
    out = []
    for c in value:
        if c in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[c])
        elif _printable(c) and c not in "\x85\u2028\u2029":
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _reads_back(text: str, steps: list[_Step], value: str) -> bool:
    try:
        docs = [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError:
        return False
    for doc in docs:
        found = _walk(doc, steps)
        if isinstance(found, ScalarNode):
            return found.value == value and found.tag == _STR_TAG
    return False


# --------------------------------------------------------------------------- kustomize


def _strip_host(name: str) -> str:
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
        if first in ("docker.io", "index.docker.io") and name.startswith("library/"):
            name = name[len("library/") :]
    return name


def _same_image(written: str, image: str) -> bool:
    return written == image or _strip_host(written) == _strip_host(image)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_end(text: str, index: int) -> int:
    """Index just past the line break of the line holding ``index`` (or the text's end)."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _last_scalar_end(node: Node) -> int:
    """Where the last value inside ``node`` ends (a block node's own end mark can sit
    past trailing comments and blank lines that belong to what follows)."""
    while isinstance(node, (MappingNode, SequenceNode)) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


def _entry_lines(image: str, wanted: dict[str, str], dash_col: int, nl: str) -> str:
    pad = " " * dash_col
    lines = [f"{pad}- name: {_value_for_new_key(image)}"]
    lines += [f"{pad}  {k}: {_value_for_new_key(v)}" for k, v in wanted.items()]
    return nl.join(lines) + nl


def _value_for_new_key(value: str) -> str:
    return value if _plain_ok(value) else _double(value)


def _list_indent(root: Node | None) -> int:
    """How far the file indents a block list under its key (0 for kustomize's own style)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if isinstance(v, SequenceNode) and not v.flow_style and v.value:
                    return max(0, int(v.start_mark.column) - int(k.start_mark.column))
                stack.append(v)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return 0


def _ensure_final_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + _newline(text)


def _append_images_key(
    text: str, root: Node | None, image: str, wanted: dict[str, str], where: str
) -> str:
    if isinstance(root, MappingNode) and root.flow_style:
        raise ManifestError(f"{where}: the file is a flow mapping {{...}}; add images: by hand")
    nl = _newline(text)
    return (
        _ensure_final_newline(text)
        + "images:"
        + nl
        + _entry_lines(image, wanted, _list_indent(root), nl)
    )


def _replace_empty_images(
    text: str,
    root: Node | None,
    key: ScalarNode,
    value: Node,
    image: str,
    wanted: dict[str, str],
) -> str:
    nl = _newline(text)
    # Replace from the colon after ``images`` to the end of the empty value (``[]``).
    colon = text.index(":", key.end_mark.index) + 1
    indent = key.start_mark.column + _list_indent(root)
    block = nl + _entry_lines(image, wanted, indent, nl).rstrip("\r\n")
    rest = text[value.end_mark.index :]
    if value.end_mark.index == value.start_mark.index:
        # ``images:`` with nothing after it: keep a trailing comment, drop the spaces.
        rest = rest.lstrip(" ")
        rest = ("  " + rest) if rest.startswith("#") else rest
    return text[:colon] + block + rest


def _update_entry(
    text: str,
    entry: MappingNode,
    name: ScalarNode,
    wanted: dict[str, str],
    stale: list[str],
    where: str,
    index: int,
) -> str:
    """Set, drop and add keys of ``images[index]``, one edit at a time (each edit
    re-reads the text, so no offset goes stale)."""
    label = f"images[{index}]"
    missing = [k for k in wanted if _mapping_get(entry, k) is None]
    drop = [k for k in stale if _mapping_get(entry, k) is not None]
    if (missing or drop) and entry.flow_style:
        raise ManifestError(
            f"{where}: {label} is written as {{...}}; write it as a block so Shunter can "
            "add or remove keys"
        )
    for key, value in wanted.items():
        if key not in missing:
            text = set_yaml_value(text, f"images[{index}].{key}", value, file=where)
    for key in drop:
        text = _drop_key(text, index, key, where)
    if missing:
        entry = _images_entry(text, index, where)
        name_pair = _mapping_get(entry, "name")
        assert name_pair is not None  # we matched the entry by its name
        nl = _newline(text)
        at = _line_end(text, name_pair[1].end_mark.index)
        # New keys line up with the entry's first key (after the "- " of the item).
        pad = " " * int(entry.value[0][0].start_mark.column)
        block = "".join(f"{pad}{k}: {_value_for_new_key(wanted[k])}{nl}" for k in missing)
        lead = "" if at == 0 or text[at - 1] == "\n" else nl
        text = text[:at] + lead + block + text[at:]
    del name
    return text


def _images_entry(text: str, index: int, where: str) -> MappingNode:
    root = _compose_all(text, where)[0]
    pair = _mapping_get(root, "images")
    assert pair is not None and isinstance(pair[1], SequenceNode)
    entry = pair[1].value[index]
    assert isinstance(entry, MappingNode)
    return entry


def _drop_key(text: str, index: int, key: str, where: str) -> str:
    entry = _images_entry(text, index, where)
    pair = _mapping_get(entry, key)
    assert pair is not None
    k, v = pair
    line_start = _line_start(text, k.start_mark.index)
    before = text[line_start : k.start_mark.index]
    if before.strip():
        # ``- digest: ...`` opens the item: removing the line would merge it into the
        # previous item, so this one shape is left for a person to tidy.
        raise ManifestError(
            f"{where}: images[{index}] starts with {key}; put name first so Shunter can "
            f"remove the stale {key}"
        )
    if text.find("\n", k.start_mark.index, v.end_mark.index) >= 0:
        raise ManifestError(
            f"{where}: images[{index}].{key} spans several lines; remove it by hand"
        )
    return text[:line_start] + text[_line_end(text, v.end_mark.index) :]


def _append_entry(
    text: str, seq: SequenceNode, image: str, wanted: dict[str, str], where: str
) -> str:
    if seq.flow_style:
        raise ManifestError(f"{where}: images is written as [...]; write it as a block list")
    nl = _newline(text)
    at = _line_end(text, _last_scalar_end(seq))
    lead = "" if at == 0 or text[at - 1] == "\n" else nl
    return text[:at] + lead + _entry_lines(image, wanted, seq.start_mark.column, nl) + text[at:]

"""A small vocabulary for describing config fields once, as data.

Every key Shunter reads is described by a ``Spec``. The same description does two jobs:

* ``Spec.parse`` walks a PyYAML node (from ``yaml.compose_all``, so every node carries its
  ``start_mark``) and returns a checked Python value, reporting each problem with the
  exact line and column of the offending key or value;
* ``Spec.schema`` returns the JSON Schema (draft 2020-12) fragment for the same rules.

Because both come from one table, the parser and ``shunter schema`` cannot drift apart.
A ``parse`` that finds a problem records it in the ``Ctx`` and returns ``INVALID``;
callers drop invalid values and carry on, so one run reports every problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import yaml

from bot.core.model import ConfigNote, Location, NoteKind
from bot.errors import Problem

# YAML 1.1 core tags as PyYAML's SafeLoader resolves them (https://yaml.org/type/).
STR_TAG: Final = "tag:yaml.org,2002:str"
INT_TAG: Final = "tag:yaml.org,2002:int"
FLOAT_TAG: Final = "tag:yaml.org,2002:float"
BOOL_TAG: Final = "tag:yaml.org,2002:bool"
NULL_TAG: Final = "tag:yaml.org,2002:null"


class _Invalid:
    """The one value ``parse`` returns after it has reported a problem."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


class Broken(Exception):
    """Raised by ``Parsed.req`` when a required value was missing or invalid.

    The problem has already been reported; the builder of that object gives up quietly.
    """


class Ctx:
    """Collects problems for one file; ``loader`` builds plain values from scalar nodes."""

    def __init__(
        self, file: str, problems: list[Problem], notes: list[ConfigNote] | None = None
    ) -> None:
        self.file = file
        self.problems = problems
        self.notes: list[ConfigNote] = notes if notes is not None else []
        self._loader = yaml.SafeLoader("")

    def note(self, node: yaml.Node, path: str, kind: NoteKind, reason: str) -> None:
        """Record a warning at ``node``: the config is valid, but this key does nothing."""
        mark = node.start_mark
        where = Location(self.file, mark.line + 1, mark.column + 1)
        self.notes.append(ConfigNote(kind, where, path or "(document)", reason))

    def problem(self, node: yaml.Node, path: str, message: str, hint: str = "") -> None:
        """Record a problem at ``node`` (PyYAML marks are 0-based; ours are 1-based)."""
        mark = node.start_mark
        self.problems.append(
            Problem(self.file, mark.line + 1, mark.column + 1, path or "(document)", message, hint)
        )

    def construct(self, node: yaml.Node) -> Any:
        """Return the plain Python value of ``node`` (SafeLoader rules, nothing executable)."""
        return self._loader.construct_object(node, deep=True)

    def flatten(self, node: yaml.MappingNode) -> None:
        """Resolve YAML merge keys (``<<: *anchor``) in place, as SafeLoader would."""
        self._loader.flatten_mapping(node)


def join(path: str, key: str) -> str:
    """Append ``key`` to a dotted path; keys that hold dots or slashes are bracketed."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def describe(node: yaml.Node) -> str:
    """Say what a node holds, for 'expected X, got Y' messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {
        STR_TAG: "a string",
        INT_TAG: "a number",
        FLOAT_TAG: "a number",
        BOOL_TAG: "a boolean",
        NULL_TAG: "nothing",
    }
    what = names.get(node.tag, "a value")
    value = str(node.value)
    if node.tag == NULL_TAG or not value:
        return what
    return f"{what} ({value if len(value) < 40 else value[:37] + '...'})"


def is_scalar(node: yaml.Node, *tags: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag in tags


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return "did you mean 'x'?" for the closest choice, or ''."""
    import difflib  # only a config with a misspelt key pays for it

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def with_doc(schema: dict[str, Any], doc: str) -> dict[str, Any]:
    if doc:
        schema["description"] = doc
    return schema


# --------------------------------------------------------------------------- base


class Spec:
    """One kind of value. Subclasses set ``expected`` and implement ``_parse``/``schema``."""

    #: Completes "expected ...": "a string", "a list of ...".
    expected = "a value"
    #: Shown as a hint on a type mismatch.
    type_hint = ""

    def accepts(self, node: yaml.Node) -> bool:
        """Whether ``node`` has the right YAML shape for this spec (not yet its content)."""
        raise NotImplementedError

    def parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        """Return the checked value of ``node``, or ``INVALID`` after reporting why."""
        if not self.accepts(node):
            ctx.problem(
                node, path, f"expected {self.expected}, got {describe(node)}", self.type_hint
            )
            return INVALID
        return self._parse(node, ctx, path)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        """Return the JSON Schema fragment for this spec."""
        raise NotImplementedError


class Deferred(Spec):
    """A spec whose table is built on first use: ``load`` imports and returns it.

    Kargo's promotion steps describe a dozen step kinds and an expression language; a
    config without ``promotionTemplate`` or ``PromotionTask`` documents never needs them,
    and every command pays for what the config tables import at start-up.
    """

    def __init__(self, load: Callable[[], Spec]) -> None:
        self._load = load
        self._spec: Spec | None = None

    @property
    def spec(self) -> Spec:
        if self._spec is None:
            self._spec = self._load()
        return self._spec

    def accepts(self, node: yaml.Node) -> bool:
        return self.spec.accepts(node)

    def parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        return self.spec.parse(node, ctx, path)

    def schema(self) -> dict[str, Any]:
        return self.spec.schema()


Check = Callable[[str], "str | None"]


class Str(Spec):
    """A string, optionally matched against a pattern or passed to a check.

    ``check`` returns an error message or ``None``. Kargo's ``${{ ... }}`` expressions
    are refused unless ``allow_expr`` is set: Shunter has no expression engine.
    """

    expected = "a string"
    type_hint = "put the value in quotes"

    def __init__(
        self,
        doc: str = "",
        *,
        pattern: str | None = None,
        pattern_message: str = "",
        check: Check | None = None,
        hint: str = "",
        max_length: int | None = None,
        allow_expr: bool = False,
        schema_pattern: str | None = None,
    ) -> None:
        self.doc = doc
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_message = pattern_message
        self.check = check
        self.hint = hint
        self.max_length = max_length
        self.allow_expr = allow_expr
        self.schema_pattern = schema_pattern if schema_pattern is not None else pattern

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, STR_TAG)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        value = str(node.value)
        if not value.strip():
            ctx.problem(node, path, "must not be empty", self.hint)
            return INVALID
        if "${{" in value and not self.allow_expr:
            ctx.problem(
                node,
                path,
                "expressions (${{ ... }}) are not supported here",
                "write the value itself",
            )
            return INVALID
        if self.max_length is not None and len(value) > self.max_length:
            ctx.problem(
                node, path, f"'{value}' is longer than {self.max_length} characters", self.hint
            )
            return INVALID
        if self.pattern is not None and not self.pattern.fullmatch(value):
            ctx.problem(node, path, f"'{value}' {self.pattern_message}", self.hint)
            return INVALID
        if self.check is not None:
            message = self.check(value)
            if message is not None:
                ctx.problem(node, path, message, self.hint)
                return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.schema_pattern:
            out["pattern"] = f"^(?:{self.schema_pattern})$"
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        return with_doc(out, self.doc)


class Const(Str):
    """A string that must be exactly ``value`` (``apiVersion``, a union's tag)."""

    def __init__(self, value: str, doc: str = "") -> None:
        super().__init__(doc)
        self.value = value

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        if node.value != self.value:
            ctx.problem(node, path, f"must be '{self.value}', not '{node.value}'")
            return INVALID
        return self.value

    def schema(self) -> dict[str, Any]:
        return with_doc({"const": self.value}, self.doc)


class Enum(Spec):
    """One of a fixed set of strings. ``bools`` also takes YAML true/false as "True"/"False"."""

    def __init__(self, values: Iterable[str], doc: str = "", *, bools: bool = False) -> None:
        self.values = tuple(values)
        self.doc = doc
        self.bools = bools
        self.expected = "one of " + ", ".join(self.values)

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, STR_TAG, *((BOOL_TAG,) if self.bools else ()))

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        value = str(node.value)
        if node.tag == BOOL_TAG:
            value = "True" if ctx.construct(node) else "False"
        if value not in self.values:
            hint = suggest(value, self.values)
            ctx.problem(node, path, f"'{value}' is not one of {', '.join(self.values)}", hint)
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        values: list[Any] = list(self.values)
        if self.bools:
            values += [True, False]
        return with_doc({"enum": values}, self.doc)


class Int(Spec):
    expected = "a whole number"

    def __init__(self, doc: str = "", *, minimum: int | None = None, maximum: int | None = None):
        self.doc = doc
        self.minimum = minimum
        self.maximum = maximum

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, INT_TAG)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        value = int(ctx.construct(node))
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                rule = f"at least {low}"
            elif low is None:
                rule = f"at most {high}"
            else:
                rule = f"between {low} and {high}"
            ctx.problem(node, path, f"{value} is out of range: must be {rule}")
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return with_doc(out, self.doc)


class Bool(Spec):
    expected = "true or false"

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, BOOL_TAG)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        return bool(ctx.construct(node))

    def schema(self) -> dict[str, Any]:
        return with_doc({"type": "boolean"}, self.doc)


class Scalar(Spec):
    """Any string, number or boolean, kept as text (YAML booleans as ``true``/``false``)."""

    expected = "a string, number or boolean"

    def __init__(
        self, doc: str = "", *, allow_expr: bool = False, check: Check | None = None
    ) -> None:
        self.doc = doc
        self.allow_expr = allow_expr
        self.check = check

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        if node.tag == BOOL_TAG:
            return "true" if ctx.construct(node) else "false"
        value = str(node.value)
        if "${{" in value and not self.allow_expr:
            ctx.problem(
                node, path, "expressions (${{ ... }}) are not supported here", "write the value"
            )
            return INVALID
        message = self.check(value) if self.check is not None else None
        if message is not None:
            ctx.problem(node, path, message)
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        return with_doc({"type": ["string", "number", "boolean"]}, self.doc)


class AnyValue(Spec):
    """Anything at all: settings Shunter accepts for compatibility but does not read."""

    expected = "a value"

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def accepts(self, node: yaml.Node) -> bool:
        return True

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        return ctx.construct(node)

    def schema(self) -> dict[str, Any]:
        return with_doc({}, self.doc)


# --------------------------------------------------------------------------- durations

# Go's time.ParseDuration units (https://pkg.go.dev/time#ParseDuration) plus "d" for days,
# which the seed guide writes (maxAge: "30d").
_UNITS: Final[Mapping[str, float]] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}
_DURATION_PART = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)"
DURATION_PATTERN: Final = rf"0|(?:{_DURATION_PART})+"
DURATION_ADVICE: Final = "write a duration like 30m, 2h or 1h30m"


def parse_duration(text: str) -> timedelta | None:
    """Return the ``timedelta`` of a Go-style duration (``1h30m``, ``30d``), or ``None``."""
    if not re.fullmatch(DURATION_PATTERN, text):
        return None
    seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(_DURATION_PART, text))
    return timedelta(seconds=seconds)


class Duration(Spec):
    expected = "a duration"
    type_hint = DURATION_ADVICE

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def accepts(self, node: yaml.Node) -> bool:
        # A bare 0 is an integer in YAML and a valid duration in Go.
        return is_scalar(node, STR_TAG) or (is_scalar(node, INT_TAG) and node.value == "0")

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        value = parse_duration(str(node.value).strip())
        if value is None:
            ctx.problem(node, path, f"'{node.value}' is not a duration: {DURATION_ADVICE}")
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        return with_doc(
            {"type": "string", "pattern": f"^(?:{DURATION_PATTERN})$"},
            self.doc or f"a duration: {DURATION_ADVICE} (d for days)",
        )


# --------------------------------------------------------------------------- containers


class ListOf(Spec):
    def __init__(self, item: Spec, doc: str = "", *, min_items: int = 0) -> None:
        self.item = item
        self.doc = doc
        self.min_items = min_items
        self.expected = f"a list of {item.expected}"

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.SequenceNode)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        assert isinstance(node, yaml.SequenceNode)
        if len(node.value) < self.min_items:
            ctx.problem(node, path, f"needs at least {self.min_items} item(s)")
            return INVALID
        out = []
        for i, child in enumerate(node.value):
            value = self.item.parse(child, ctx, f"{path}[{i}]")
            if value is not INVALID:
                out.append(value)
        return out

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.item.schema()}
        if self.min_items:
            out["minItems"] = self.min_items
        return with_doc(out, self.doc)


def _pairs(
    node: yaml.MappingNode, ctx: Ctx, path: str
) -> Iterable[tuple[str, yaml.Node, yaml.Node]]:
    """Yield (key, key node, value node), reporting non-string and repeated keys.

    Keys merged in with ``<<: *anchor`` may be overridden by keys written in the mapping
    itself (https://yaml.org/type/merge.html); a key written twice by hand is an error.
    """
    written = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
    ctx.flatten(node)  # merged pairs first, then the written ones
    merged = node.value[: len(node.value) - written]
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    seen: dict[str, yaml.Node] = {}
    for i, (key_node, value_node) in enumerate(node.value):
        if not is_scalar(key_node, STR_TAG):
            ctx.problem(key_node, path, f"keys must be strings, got {describe(key_node)}")
            continue
        key = str(key_node.value)
        if i >= len(merged):
            if key in seen:
                first = seen[key].start_mark.line + 1
                ctx.problem(
                    key_node, join(path, key), f"'{key}' is written twice (first on line {first})"
                )
                continue
            seen[key] = key_node
        out.pop(key, None)  # keep the overriding value, in the order it was written
        out[key] = (key_node, value_node)
    for key, (key_node, value_node) in out.items():
        yield key, key_node, value_node


class MapOf(Spec):
    """A mapping of free-form string keys to values; ``known`` keys get their own spec."""

    def __init__(self, value: Spec, doc: str = "", known: Mapping[str, Spec] | None = None):
        self.value = value
        self.doc = doc
        self.known = dict(known or {})
        self.expected = f"a mapping of names to {value.expected}"

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.MappingNode)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        assert isinstance(node, yaml.MappingNode)
        out: dict[str, Any] = {}
        for key, _, value_node in _pairs(node, ctx, path):
            spec = self.known.get(key, self.value)
            value = spec.parse(value_node, ctx, join(path, key))
            if value is not INVALID:
                out[key] = value
        return out

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "additionalProperties": self.value.schema()}
        if self.known:
            out["properties"] = {k: s.schema() for k, s in self.known.items()}
        return with_doc(out, self.doc)


@dataclass(frozen=True)
class F:
    """One key of an ``Obj``: its spec, whether it must be written, what it means.

    ``no_effect`` says why a key accepted for Kargo configs does nothing in Shunter;
    writing it makes ``validate`` warn "accepted, no effect" with that reason.
    """

    spec: Spec
    required: bool = False
    doc: str = ""
    no_effect: str = ""


@dataclass
class Parsed:
    """A checked mapping: the values that passed, and where each key was written."""

    node: yaml.MappingNode
    path: str
    ctx: Ctx
    values: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, yaml.Node] = field(default_factory=dict)  # value nodes, valid or not

    def has(self, key: str) -> bool:
        """Whether ``key`` was written (even if its value was invalid)."""
        return key in self.nodes

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def req(self, key: str) -> Any:
        """Return the value of ``key``; raise ``Broken`` if it was missing or invalid."""
        if key not in self.values:
            raise Broken(key)
        return self.values[key]

    def path_of(self, key: str) -> str:
        return join(self.path, key)

    def node_of(self, key: str) -> yaml.Node:
        return self.nodes.get(key, self.node)

    def problem(self, key: str | None, message: str, hint: str = "") -> None:
        """Report a problem at ``key``'s value (or at the mapping itself)."""
        if key is None:
            self.ctx.problem(self.node, self.path, message, hint)
        else:
            self.ctx.problem(self.node_of(key), self.path_of(key), message, hint)


ObjCheck = Callable[[Parsed], None]


class Obj(Spec):
    """A mapping with a fixed set of keys; unknown keys are errors that list the allowed ones.

    ``one_of`` groups need exactly one of their keys, ``at_most_one`` groups at most one;
    ``check`` runs cross-field rules on the result, and ``extra_schema`` states the same
    rules in JSON Schema (``allOf`` entries).
    """

    expected = "a mapping"

    def __init__(
        self,
        fields: Mapping[str, F],
        doc: str = "",
        *,
        one_of: Iterable[tuple[str, ...]] = (),
        at_most_one: Iterable[tuple[str, ...]] = (),
        check: ObjCheck | None = None,
        extra_schema: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.fields = dict(fields)
        self.doc = doc
        self.one_of = tuple(one_of)
        self.at_most_one = tuple(at_most_one)
        self.check = check
        self.extra_schema = list(extra_schema)

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.MappingNode)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        assert isinstance(node, yaml.MappingNode)
        out = Parsed(node, path, ctx)
        for key, key_node, value_node in _pairs(node, ctx, path):
            spec = self.fields.get(key)
            if spec is None:
                allowed = ", ".join(self.fields)
                ctx.problem(
                    key_node,
                    join(path, key),
                    f"unknown key '{key}'; allowed here: {allowed}",
                    suggest(key, self.fields),
                )
                continue
            out.nodes[key] = value_node
            if spec.no_effect:
                ctx.note(key_node, join(path, key), NoteKind.NO_EFFECT, spec.no_effect)
            value = spec.spec.parse(value_node, ctx, join(path, key))
            if value is not INVALID:
                out.values[key] = value
        for key, spec in self.fields.items():
            if spec.required and key not in out.nodes:
                ctx.problem(node, join(path, key), f"missing required key '{key}'")
        for group in self.one_of:
            written = [k for k in group if k in out.nodes]
            if not written:
                ctx.problem(node, path, f"write one of {', '.join(group)}")
            elif len(written) > 1:
                ctx.problem(
                    out.nodes[written[1]],
                    join(path, written[1]),
                    f"write only one of {', '.join(group)}, not {' and '.join(written)}",
                )
        for group in self.at_most_one:
            written = [k for k in group if k in out.nodes]
            if len(written) > 1:
                ctx.problem(
                    out.nodes[written[1]],
                    join(path, written[1]),
                    f"write only one of {', '.join(group)}, not {' and '.join(written)}",
                )
        if self.check is not None:
            self.check(out)
        return out

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: _field_schema(f) for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [k for k, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        rules: list[dict[str, Any]] = []
        for group in self.one_of:
            rules.append({"oneOf": [{"required": [k]} for k in group]})
        for group in self.at_most_one:
            pairs = [(a, b) for i, a in enumerate(group) for b in group[i + 1 :]]
            rules.extend({"not": {"required": [a, b]}} for a, b in pairs)
        rules.extend(self.extra_schema)
        if rules:
            out["allOf"] = rules
        return with_doc(out, self.doc)


def _field_schema(f: F) -> dict[str, Any]:
    schema = with_doc(f.spec.schema(), f.doc) if f.doc else f.spec.schema()
    if f.no_effect:
        schema["x-shunter-no-effect"] = f.no_effect
    return schema


class Tagged(Spec):
    """A mapping whose ``tag`` key (``type``, ``uses``) chooses which ``Obj`` describes it."""

    expected = "a mapping"

    def __init__(self, tag: str, variants: Mapping[str, Obj], doc: str = "") -> None:
        self.tag = tag
        self.variants = dict(variants)
        self.doc = doc

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.MappingNode)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        assert isinstance(node, yaml.MappingNode)
        ctx.flatten(node)
        found = [v for k, v in node.value if is_scalar(k, STR_TAG) and k.value == self.tag]
        if not found:
            ctx.problem(
                node,
                join(path, self.tag),
                f"missing required key '{self.tag}' (one of {', '.join(self.variants)})",
            )
            return INVALID
        value_node = found[0]
        name = str(value_node.value) if is_scalar(value_node, STR_TAG) else None
        variant = self.variants.get(name) if name is not None else None
        if variant is None:
            ctx.problem(
                value_node,
                join(path, self.tag),
                f"unknown {self.tag} {describe(value_node) if name is None else repr(name)}; "
                f"known: {', '.join(self.variants)}",
                suggest(name or "", self.variants),
            )
            return INVALID
        return variant.parse(node, ctx, path)

    def schema(self) -> dict[str, Any]:
        return with_doc(
            {
                "type": "object",
                "required": [self.tag],
                "properties": {self.tag: {"enum": list(self.variants)}},
                "allOf": [
                    {
                        "if": {
                            "properties": {self.tag: {"const": name}},
                            "required": [self.tag],
                        },
                        "then": variant.schema(),
                    }
                    for name, variant in self.variants.items()
                ],
            },
            self.doc,
        )


class Union(Spec):
    """One of several specs, chosen by the YAML shape (``pullRequest: true`` or a mapping)."""

    def __init__(self, *options: Spec, doc: str = "") -> None:
        self.options = options
        self.doc = doc
        self.expected = " or ".join(o.expected for o in options)

    def accepts(self, node: yaml.Node) -> bool:
        return any(o.accepts(node) for o in self.options)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        option = next(o for o in self.options if o.accepts(node))
        return option.parse(node, ctx, path)

    def schema(self) -> dict[str, Any]:
        return with_doc({"anyOf": [o.schema() for o in self.options]}, self.doc)

"""Kargo's ``${{ }}`` expressions, parsed and evaluated without ``eval``.

Kargo evaluates the configuration of promotion steps with the expr language; what users
write in practice is a small part of it::

    ${{ vars.image }}                           variables of the task, stage and step
    ${{ ctx.stage }}                            the promotion's context
    ${{ imageFrom(vars.image).Tag }}            a function of the freight, then a field
    ${{ task.outputs['update-image'].commit }}  an earlier step's output, by its alias
    ${{ vars.openpr == 'true' }}                comparisons, && || !, a ? b : c, and +

This module parses that subset into a small tree and walks it. Nothing reaches ``eval``,
``exec`` or Python attributes: a member (``a.b``) or index (``a['b']``) reads a mapping key
or a list item only, and only the functions the caller hands in can be called. Operators
are as strict as the expr language's: ``&&``, ``||``, ``!`` and the ternary's condition
take booleans, ``+`` adds two numbers or joins two strings, never one of each.

A value that is exactly one expression keeps the expression's type (``if: ${{ false }}``
is the boolean false); anything else is text with each expression's value written into it.

Errors are ``ExpressionError`` with the column (1-based, in the whole value) where the
problem starts, so a config error can point at its line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPEN = "${{"
CLOSE = "}}"
MAX_LENGTH = 4096  # one expression; a config value is never anywhere near this


class ExpressionError(Exception):
    """An expression that does not parse, names something unknown, or cannot be evaluated.

    ``column`` is 1-based within the whole value that held the expression (0 when unknown).
    """

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}" if self.column else self.message


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Literal:
    value: Any
    at: int


@dataclass(frozen=True)
class Name:
    name: str
    at: int


@dataclass(frozen=True)
class Member:
    target: Node
    name: str
    at: int


@dataclass(frozen=True)
class Index:
    target: Node
    key: Node
    at: int


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    at: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    at: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    at: int


@dataclass(frozen=True)
class Conditional:
    test: Node
    then: Node
    otherwise: Node
    at: int


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]
    at: int


Node = Literal | Name | Member | Index | Call | Unary | Binary | Conditional | ListOf


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "str", "name", "op", "end"
    text: str
    value: Any
    at: int  # 0-based offset in the expression's text


_OPERATORS = (
    "==", "!=", "<=", ">=", "&&", "||",
    "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",", "(", ")", "[", "]",
)  # fmt: skip
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_KEYWORDS = {"true": True, "false": False, "nil": None, "null": None}
_WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!", "in": "in"}


def _tokens(text: str, offset: int) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c in "'\"`":
            value, i = _string(text, i, offset)
            out.append(_Token("str", text[start:i], value, start))
            continue
        m = _NUMBER.match(text, i)
        if m:
            raw = m.group(0)
            num: int | float = float(raw) if ("." in raw or "e" in raw.lower()) else int(raw)
            out.append(_Token("num", raw, num, start))
            i = m.end()
            continue
        m = _NAME.match(text, i)
        if m:
            word = m.group(0)
            if word in _WORD_OPERATORS:
                out.append(_Token("op", _WORD_OPERATORS[word], None, start))
            else:
                out.append(_Token("name", word, None, start))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                out.append(_Token("op", op, None, start))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {c!r}", offset + i + 1)
    out.append(_Token("end", "", None, len(text)))
    return out


def _string(text: str, i: int, offset: int) -> tuple[str, int]:
    """The string literal opening at ``text[i]``, and the index just past its end."""
    quote = text[i]
    j = i + 1
    chars: list[str] = []
    while j < len(text):
        c = text[j]
        if c == quote:
            return "".join(chars), j + 1
        if c == "\\" and quote != "`":
            nxt = text[j + 1 : j + 2]
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{nxt} in a string", offset + j + 1)
            chars.append(_ESCAPES[nxt])
            j += 2
            continue
        chars.append(c)
        j += 1
    raise ExpressionError("a string is not closed", offset + i + 1)


# --------------------------------------------------------------------------- parsing

# Binding power of each binary operator, loosest first (as in the expr language).
_BINARY = {
    "||": 1,
    "&&": 2,
    "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
    "+": 4, "-": 4,
    "*": 5, "/": 5, "%": 5,
}  # fmt: skip
_UNARY_POWER = 6


class _Parser:
    def __init__(self, text: str, offset: int) -> None:
        self.offset = offset
        self.tokens = _tokens(text, offset)
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def col(self, tok: _Token) -> int:
        return self.offset + tok.at + 1

    def expect(self, op: str) -> _Token:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            shown = tok.text or "the end of the expression"
            raise ExpressionError(f"expected {op!r}, found {shown!r}", self.col(tok))
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", self.col(self.peek()))
        node = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"unexpected {tok.text!r}", self.col(tok))
        return node

    def expression(self) -> Node:
        test = self.binary(0)
        tok = self.peek()
        if tok.kind == "op" and tok.text == "?":
            self.take()
            then = self.expression()
            self.expect(":")
            otherwise = self.expression()
            return Conditional(test, then, otherwise, self.col(tok))
        return test

    def binary(self, min_power: int) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            power = _BINARY.get(tok.text) if tok.kind == "op" else None
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.binary(power)
            left = Binary(tok.text, left, right, self.col(tok))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("!", "-"):
            self.take()
            operand = self.unary()
            return Unary(tok.text, operand, self.col(tok))
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == ".":
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise ExpressionError("expected a field name after '.'", self.col(name))
                node = Member(node, name.text, self.col(name))
            elif tok.kind == "op" and tok.text == "[":
                self.take()
                key = self.expression()
                self.expect("]")
                node = Index(node, key, self.col(tok))
            elif tok.kind == "op" and tok.text == "(":
                raise ExpressionError("only a function's name can be called", self.col(tok))
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        at = self.col(tok)
        if tok.kind in ("num", "str"):
            return Literal(tok.value, at)
        if tok.kind == "name":
            if tok.text in _KEYWORDS:
                return Literal(_KEYWORDS[tok.text], at)
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == "(":
                self.take()
                return Call(tok.text, self.arguments(")"), at)
            return Name(tok.text, at)
        if tok.kind == "op" and tok.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            return ListOf(self.arguments("]"), at)
        shown = tok.text or "the end of the expression"
        raise ExpressionError(f"unexpected {shown!r}", at)

    def arguments(self, close: str) -> tuple[Node, ...]:
        args: list[Node] = []
        if self.peek().kind == "op" and self.peek().text == close:
            self.take()
            return ()
        while True:
            args.append(self.expression())
            tok = self.take()
            if tok.kind == "op" and tok.text == close:
                return tuple(args)
            if tok.kind != "op" or tok.text != ",":
                raise ExpressionError(f"expected ',' or {close!r}", self.col(tok))


def parse_expression(text: str, *, column: int = 1) -> Node:
    """Parse one expression (the text between ``${{`` and ``}}``) into its tree.

    ``column`` is where ``text`` starts in the whole value, for error positions.
    Raises ``ExpressionError``.
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression longer than {MAX_LENGTH} characters", column)
    return _Parser(text, column - 1).parse()


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    """A config value: literal text and ``${{ }}`` expressions, in order."""

    source: str
    parts: tuple[str | Node, ...]

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def evaluate(self, scope: Scope) -> Any:
        """The value: an exact single expression keeps its type, anything else is text.

        Raises ``ExpressionError`` for a name, key or function the scope does not have,
        or operands of the wrong type.
        """
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return _evaluate(self.parts[0], scope)
        return "".join(
            part if isinstance(part, str) else to_text(_evaluate(part, scope))
            for part in self.parts
        )

    def references(self) -> Iterator[tuple[Reference, int]]:
        """Every variable path and function the value uses, with its column."""
        for part in self.parts:
            if not isinstance(part, str):
                yield from _references(part)


def parse_template(source: str) -> Template:
    """Split ``source`` into text and parsed expressions. Raises ``ExpressionError``."""
    parts: list[str | Node] = []
    i = 0
    while True:
        start = source.find(OPEN, i)
        if start < 0:
            if i < len(source) or not parts:
                parts.append(source[i:])
            return Template(source, tuple(parts))
        if start > i:
            parts.append(source[i:start])
        body_at = start + len(OPEN)
        end = _closing(source, body_at)
        if end < 0:
            raise ExpressionError("'${{' is not closed by '}}'", start + 1)
        parts.append(parse_expression(source[body_at:end], column=body_at + 1))
        i = end + len(CLOSE)


def _closing(source: str, i: int) -> int:
    """Index of the ``}}`` that closes an expression starting at ``i``; quotes skipped."""
    quote = ""
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        elif source.startswith(CLOSE, i):
            return i
        i += 1
    return -1


def has_expression(value: object) -> bool:
    """Whether a config value holds ``${{`` at all (most do not)."""
    return isinstance(value, str) and OPEN in value


# --------------------------------------------------------------------------- evaluation


Function = Callable[..., Any]


@dataclass(frozen=True)
class Scope:
    """What expressions may read: root names (``vars``, ``ctx``, ``outputs``, ``task``)
    and callable functions (``quote``, ``imageFrom``, …)."""

    names: Mapping[str, Any]
    functions: Mapping[str, Function]


@dataclass(frozen=True)
class Reference:
    """A static path an expression reads (``("vars", "image")``) or a function it calls."""

    path: tuple[str, ...] = ()
    function: str = ""


def to_text(value: Any) -> str:
    """How a value is written into text: booleans as ``true``/``false``, nil as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    return "list"


def _bool(value: Any, what: str, at: int) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{what} needs true or false, got {_type(value)} {value!r}", at)
    return value


def _number(value: Any, op: str, at: int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{op!r} needs numbers, got {_type(value)} {value!r}", at)
    return value


def _lookup(target: Any, key: Any, at: int) -> Any:
    if isinstance(target, Mapping):
        if key not in target:
            known = ", ".join(sorted(map(str, target))) or "none"
            raise ExpressionError(f"no field {key!r} (known: {known})", at)
        return target[key]
    if isinstance(target, Sequence) and not isinstance(target, str):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExpressionError(f"a list is indexed by a number, not {key!r}", at)
        if not -len(target) <= key < len(target):
            raise ExpressionError(f"index {key} is outside a list of {len(target)}", at)
        return target[key]
    raise ExpressionError(f"{_type(target)} {target!r} has no field {key!r}", at)


def _evaluate(node: Node, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        if node.name not in scope.names:
            known = ", ".join(sorted(scope.names))
            raise ExpressionError(f"unknown name {node.name!r} (known: {known})", node.at)
        return scope.names[node.name]
    if isinstance(node, Member):
        return _lookup(_evaluate(node.target, scope), node.name, node.at)
    if isinstance(node, Index):
        return _lookup(_evaluate(node.target, scope), _evaluate(node.key, scope), node.at)
    if isinstance(node, ListOf):
        return [_evaluate(item, scope) for item in node.items]
    if isinstance(node, Call):
        fn = scope.functions.get(node.function)
        if fn is None:
            known = ", ".join(sorted(scope.functions))
            raise ExpressionError(f"unknown function {node.function!r} (known: {known})", node.at)
        args = [_evaluate(a, scope) for a in node.args]
        try:
            return fn(*args)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, exc.column or node.at) from None
        except TypeError:
            raise ExpressionError(
                f"{node.function}() does not take {len(args)} argument(s)", node.at
            ) from None
    if isinstance(node, Unary):
        value = _evaluate(node.operand, scope)
        if node.op == "!":
            return not _bool(value, "'!'", node.at)
        return -_number(value, "-", node.at)
    if isinstance(node, Conditional):
        test = _bool(_evaluate(node.test, scope), "'?' (the condition)", node.at)
        return _evaluate(node.then if test else node.otherwise, scope)
    return _binary(node, scope)


def _binary(node: Binary, scope: Scope) -> Any:
    op, at = node.op, node.at
    left = _evaluate(node.left, scope)
    if op == "&&":  # short-circuit, as the expr language does
        return _bool(left, "'&&'", at) and _bool(_evaluate(node.right, scope), "'&&'", at)
    if op == "||":
        return _bool(left, "'||'", at) or _bool(_evaluate(node.right, scope), "'||'", at)
    right = _evaluate(node.right, scope)
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    if op == "in":
        if isinstance(right, str):
            if not isinstance(left, str):
                raise ExpressionError(f"'in' a string needs a string, got {left!r}", at)
            return left in right
        if isinstance(right, Mapping):
            return left in right
        if isinstance(right, list):
            return any(_same(left, item) for item in right)
        raise ExpressionError(f"'in' needs a list, map or string, got {right!r}", at)
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if op in ("<", "<=", ">", ">=") and isinstance(left, str) and isinstance(right, str):
        return _compare(op, left, right)
    a, b = _number(left, op, at), _number(right, op, at)
    if op in ("<", "<=", ">", ">="):
        return _compare(op, a, b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ExpressionError(f"{op!r} by zero", at)
    if op == "/":
        return a / b
    return a % b


def _same(a: Any, b: Any) -> bool:
    # true == 1 is false in the expr language; Python would say True.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


# --------------------------------------------------------------------------- checking


def _static_path(node: Node) -> tuple[tuple[str, ...], int] | None:
    """``vars.image`` → (("vars", "image"), column); ``None`` for a computed path."""
    if isinstance(node, Name):
        return (node.name,), node.at
    if isinstance(node, Member):
        inner = _static_path(node.target)
        return None if inner is None else ((*inner[0], node.name), inner[1])
    if (
        isinstance(node, Index)
        and isinstance(node.key, Literal)
        and isinstance(node.key.value, str)
    ):
        inner = _static_path(node.target)
        return None if inner is None else ((*inner[0], node.key.value), inner[1])
    return None


def _references(node: Node) -> Iterator[tuple[Reference, int]]:
    path = _static_path(node)
    if path is not None:
        yield Reference(path=path[0]), path[1]
        return
    if isinstance(node, Call):
        yield Reference(function=node.function), node.at
        for arg in node.args:
            yield from _references(arg)
    elif isinstance(node, Member):
        yield from _references(node.target)
    elif isinstance(node, Index):
        yield from _references(node.target)
        yield from _references(node.key)
    elif isinstance(node, Unary):
        yield from _references(node.operand)
    elif isinstance(node, Binary):
        yield from _references(node.left)
        yield from _references(node.right)
    elif isinstance(node, Conditional):
        yield from _references(node.test)
        yield from _references(node.then)
        yield from _references(node.otherwise)
    elif isinstance(node, ListOf):
        for item in node.items:
            yield from _references(item)


def check(
    source: str,
    *,
    names: Mapping[str, Collection[str] | None],
    functions: Collection[str],
) -> list[ExpressionError]:
    """Problems ``validate`` reports for one config value, without evaluating it.

    ``names`` maps each root name to the fields known under it (``{"vars": {"image"},
    "ctx": {"stage", "project", "promotion"}}``), or ``None`` where any field may exist
    at run time (a step's outputs). Returns ``[]`` when the value is fine.
    """
    try:
        template = parse_template(source)
    except ExpressionError as exc:
        return [exc]
    problems: list[ExpressionError] = []
    for ref, at in template.references():
        if ref.function:
            if ref.function not in functions:
                known = ", ".join(sorted(functions))
                problems.append(
                    ExpressionError(f"unknown function {ref.function!r} (known: {known})", at)
                )
            continue
        root, *rest = ref.path
        if root not in names:
            known = ", ".join(sorted(names))
            problems.append(ExpressionError(f"unknown name {root!r} (known: {known})", at))
            continue
        fields = names[root]
        if fields is not None and rest and rest[0] not in fields:
            known = ", ".join(sorted(fields)) or "none"
            problems.append(ExpressionError(f"{root} has no {rest[0]!r} (known: {known})", at))
    return problems

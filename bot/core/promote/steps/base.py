"""What every promotion step module shares: its role, its config table, how it runs.

Kargo 1.x describes a promotion as a list of steps (``git-clone``, ``kustomize-set-image``,
``git-commit``, ``git-push``, ``git-open-pr`` ...). Shunter runs on GitHub, in the one
repository it was started in, so the steps fall into two groups:

* **route** steps (clone, commit, push, open and wait for a PR) say *where* a promotion
  lands. They are settled when the config is read, from ``vars`` and ``ctx.stage`` /
  ``ctx.project`` alone, so the planner knows before any promotion whether a stage
  pushes or opens a pull request;
* **edit** steps (``kustomize-set-image``, ``yaml-update``, ``helm-update-image``,
  ``helm-update-chart``) change files. They run at promotion time with the freight in
  scope, in order, each reading what the one before it wrote.

A step Shunter cannot honour fully is ``REJECTED``: ``validate`` refuses it at its line
and says what to write instead, so nothing is accepted and then ignored.

Each step module holds its ``TABLE`` (the keys of ``config``; every string may hold
``${{ }}`` expressions), ``build`` (checked keys to a frozen config value) and, for edit
steps, ``run``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.core.config._spec import (
    BOOL_TAG,
    FLOAT_TAG,
    INT_TAG,
    INVALID,
    STR_TAG,
    Check,
    Ctx,
    Obj,
    Parsed,
    Spec,
    is_scalar,
    with_doc,
)
from bot.core.promote.expressions import ExpressionError, has_expression, parse_template


class Role(enum.Enum):
    """What a step kind does in Shunter's model of a promotion."""

    CLONE = "clone"  # names the repository and the branch checked out at a path
    EDIT = "edit"  # changes one file, at promotion time
    COMMIT = "commit"  # the commit message
    PUSH = "push"  # where the commit goes
    OPEN_PR = "open-pr"  # the push goes through a pull request
    WAIT_PR = "wait-for-pr"  # the promotion ends when the pull request merges
    HEALTH = "health"  # names what tells whether the stage is healthy
    REJECTED = "rejected"  # validate refuses it, saying what to write instead


class Expr(Spec):
    """A config value that may hold ``${{ }}`` expressions; kept as its source text.

    ``kind`` says what a literal must be (``text``, ``bool``, ``int``); an expression is
    checked for syntax here and for the names it uses once the step's vars are known.
    ``check`` runs on a literal only (a path inside the repository, say).
    """

    def __init__(self, doc: str = "", *, kind: str = "text", check: Check | None = None) -> None:
        self.doc = doc
        self.kind = kind
        self.check = check
        self.expected = {"bool": "true or false", "int": "a whole number"}.get(
            kind, "a string, number or boolean"
        )

    def accepts(self, node: yaml.Node) -> bool:
        return is_scalar(node, STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        if node.tag == BOOL_TAG:
            value = "true" if ctx.construct(node) else "false"
        else:
            value = str(node.value)
        if has_expression(value):
            try:
                parse_template(value)
            except ExpressionError as exc:
                ctx.problem(
                    node,
                    path,
                    f"expression does not parse at column {exc.column}: {exc.message}",
                    "write ${{ ... }} as in Kargo's expression docs",
                )
                return INVALID
            return value
        if self.kind == "bool" and value not in ("true", "false"):
            ctx.problem(node, path, f"expected true or false, got '{value}'")
            return INVALID
        if self.kind == "int" and not value.lstrip("-").isdigit():
            ctx.problem(node, path, f"expected a whole number, got '{value}'")
            return INVALID
        if not value.strip():
            ctx.problem(node, path, "must not be empty")
            return INVALID
        message = self.check(value) if self.check is not None else None
        if message is not None:
            ctx.problem(node, path, message)
            return INVALID
        return value

    def schema(self) -> dict[str, Any]:
        types = {"bool": ["boolean", "string"], "int": ["integer", "string"]}
        return with_doc({"type": types.get(self.kind, ["string", "number", "boolean"])}, self.doc)


def check_step_path(text: str) -> str | None:
    """A path a step works in: relative, inside the working tree, without ``..``."""
    if text.startswith("/") or ".." in text.split("/"):
        return f"'{text}' must be a relative path inside the working tree (no '..')"
    return None


def step_path(doc: str = "a path in the working tree, such as ./src/env/dev") -> Expr:
    return Expr(doc, check=check_step_path)


@dataclass(frozen=True)
class Edit:
    """What an edit step sees while it runs: the file it edits and the expressions' values.

    ``value`` evaluates a config value (the step's vars, ``ctx``, ``outputs`` and the
    freight functions are in scope); ``text`` is ``value`` written as text. A step run
    with ``before=None`` returns no text, only its outputs.
    """

    file: str
    before: str | None  # None: only the outputs are wanted (the commit message)
    value: Callable[[str], Any]
    images: tuple[Mapping[str, str], ...] = ()  # every image of the freight, in ID order
    charts: tuple[Mapping[str, str], ...] = ()

    def text(self, source: str) -> str:
        from bot.core.promote.expressions import to_text

        return to_text(self.value(source))

    def flag(self, source: str | None, default: bool = False) -> bool:
        if source is None:
            return default
        value = self.value(source)
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise ExpressionError(f"'{source}' must be true or false, got {value!r}")
        return value


#: An edit step's work: (new text of its file, or None without ``before``; its outputs).
Run = Callable[[Any, Edit], tuple[str | None, dict[str, Any]]]


@dataclass(frozen=True)
class StepKind:
    """One ``uses:`` value: its role, config table and (for edit steps) how it runs.

    ``file`` maps an edit step's resolved ``path`` to the file it edits. A ``REJECTED``
    kind carries ``reason`` (why Shunter cannot honour it) and ``instead`` (what to write).
    """

    name: str
    role: Role
    table: Obj | None = None
    build: Callable[[Parsed], Any] = field(default=lambda p: p)
    run: Run | None = None
    file: Callable[[str], str] = field(default=lambda path: path)
    reason: str = ""
    instead: str = ""
    doc: str = ""

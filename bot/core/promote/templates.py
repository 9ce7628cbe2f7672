"""Commit-message templates for promotions.

Users write ``commitMessageTemplate`` the way the seed guide shows, with Go-style
placeholders (``{{.ArtifactVersion}}``). Shunter renders templates with Jinja2's
sandbox (https://jinja.palletsprojects.com/en/3.1.x/sandbox/) and ``StrictUndefined``:
a template is config, so it must not reach Python internals, and a misspelt variable is
an error that lists the variables that exist rather than an empty string in a commit.

Only the ``{{.Name}}`` form of Go templates is translated (to ``{{ Name }}``), trim
markers included (``{{- .Name -}}`` means the same in both languages); Go's
``{{if}}``/``{{range}}`` logic is not supported, Jinja's own syntax is.

Rendering is bounded (a template is config anyone with ``write`` access may change, and
the sandbox keeps it from Python internals but not from using the machine up:
``{{ 'x' * 400000000 }}`` would build 400 MB, nested loops would run for hours). The core
has no clock, so time is bounded by counting work:

- every call, filter, arithmetic operation and loop iteration is a step; one render
  takes at most :data:`MAX_STEPS`;
- no value a template builds (text, list, number) may exceed :data:`MAX_VALUE`
  characters, items or digits; the operations that could build a large one (``*``,
  ``**``, ``%``, padding widths, ``replace``, ``join``) are checked before they run,
  every other result right after;
- the output stops at :data:`MAX_OUTPUT` characters;
- constructs that buffer output where those checks cannot see it (macros, call and
  filter blocks, ``{% set %}...{% endset %}``, recursive loops, includes) are refused.

Each step copies at most :data:`MAX_VALUE` characters, so a render ends within a fraction
of a second. A template that breaks a bound is refused by ``validate`` (it is rendered
once with sample values as long as real ones get) and, should real values push it over,
fails its promotion with the same message rather than writing a huge commit.

Jinja2 is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any

from bot.core import errors

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

#: The most characters a rendered commit message may have (GitHub shows 65,536 of a body).
MAX_OUTPUT = 65_536
#: The largest text, list or number (in characters, items or digits) a template may build.
MAX_VALUE = MAX_OUTPUT
#: The most steps (calls, filters, operations, loop iterations) one render may take.
MAX_STEPS = 50_000

#: The variables a template may use, with what each holds.
KNOWN_VARIABLES: Mapping[str, str] = {
    "ArtifactType": "image, chart or commit",
    "ArtifactVersion": "the version promoted (an image tag, a chart version, a commit)",
    "PreviousVersion": "the version the stage ran before",
    "Stage": "the stage promoted to",
    "PromotedBy": "who or what promoted (a login, or the bot)",
    "FreightID": "the freight's ID (SHA-1 hex)",
    "FreightAlias": "the freight's short alias",
    "Warehouse": "the warehouse the freight came from",
    "Image": "the image repository (repoURL)",
    "Digest": "the image digest (sha256:...)",
}

#: The message used when a stage sets no ``commitMessageTemplate``.
DEFAULT_TEMPLATE = (
    "shunter: promote {{ ArtifactVersion }} to {{ Stage }}\n"
    "\n"
    "Freight: {{ FreightID }} ({{ FreightAlias }}) from warehouse {{ Warehouse }}\n"
    "Previous: {{ PreviousVersion }}\n"
    "Promoted by: {{ PromotedBy }}\n"
)

# ``{{.Name}}``, ``{{ .Name }}``, ``{{- .Name -}}``: Go's field reference on the root.
_GO_FIELD = re.compile(r"(\{\{-?\s*)\.([A-Za-z_][A-Za-z0-9_]*)(\s*-?\}\})")


def go_to_jinja(template: str) -> str:
    """Return ``template`` with every Go-style ``{{.Name}}`` written as ``{{ Name }}``.

    Trim markers and surrounding text are kept as they are; nothing else changes.
    """
    return _GO_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}", template)


def render_commit_message(template: str | None, context: Mapping[str, str]) -> str:
    """Return ``template`` (``DEFAULT_TEMPLATE`` when ``None``) rendered with ``context``.

    The result is the template with its placeholders replaced, nothing more: line
    breaks, blank lines and a trailing newline stay as written.

    Raises ``TemplateError`` when the template does not parse, uses a variable that is
    not in ``context`` (the message names it and lists the ones that exist), tries
    something the sandbox forbids, breaks a bound (see the module docstring), or fails
    in any other way while rendering.
    """
    source = go_to_jinja(DEFAULT_TEMPLATE if template is None else template)
    message = _render(source, dict(context))
    if isinstance(message, _Failure):
        raise errors.TemplateError(message.text)
    return message


def check_template(template: str) -> str | None:
    """Return ``None`` if ``template`` is usable, else a message saying what to fix.

    The template is parsed, checked for variables outside ``KNOWN_VARIABLES`` and for
    constructs outside the bounds, and rendered once with sample values as long as real
    ones get (:data:`SAMPLE_LENGTH`), so filters, the sandbox and the bounds get their say.
    A template of plain ``{{ Name }}`` placeholders of known variables is accepted without
    compiling it (see ``_only_known_placeholders``): the answer would be the same.
    """
    source = go_to_jinja(template)
    if _only_known_placeholders(source):
        return None
    return _check_compiled(source)


def _check_compiled(source: str) -> str | None:
    """``check_template``'s answer from Jinja2 itself, for a template already in its syntax."""
    from jinja2 import TemplateError, meta

    known = sorted(KNOWN_VARIABLES)
    try:
        unknown = sorted(meta.find_undeclared_variables(_environment().parse(source)) - set(known))
    except TemplateError as exc:
        return _explain(exc, source, known)
    except _OutOfBounds as exc:
        return _bounds(exc)
    if unknown:
        return (
            f"unknown variable(s) {', '.join(unknown)} in the commit message template; "
            f"known: {', '.join(known)}"
        )
    sample = {k: f"<{k}>".ljust(SAMPLE_LENGTH, "x") for k in known}
    rendered = _render(source, sample)
    return rendered.text if isinstance(rendered, _Failure) else None


#: How long each sample value is when ``validate`` renders a template: longer than any
#: real one (a 40-character freight ID, an image reference, a 128-character tag).
SAMPLE_LENGTH = 256

# Only placeholders of known variables (``{{ Name }}``, trim markers allowed): the common
# template, which is checked here without loading Jinja2 (read-only commands parse the
# config too, and should not pay for a template engine they never run).
_PLACEHOLDER = re.compile(r"(?<!\{)\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
_JINJA_START = re.compile(r"\{[{%#]")


def _only_known_placeholders(source: str) -> bool:
    """Whether ``source`` uses no Jinja syntax but ``{{ Name }}`` of ``KNOWN_VARIABLES``,
    and renders within :data:`MAX_OUTPUT` with sample values.

    Such a template parses and renders in Jinja2 whatever the values are, so it needs no
    compiling to be checked; anything else (a filter, a block, an unknown name, a size
    near the bound) is not decided here.
    """
    names = _PLACEHOLDER.findall(source)
    rest = _PLACEHOLDER.sub("", source)
    return (
        all(n in KNOWN_VARIABLES for n in names)
        and _JINJA_START.search(rest) is None
        and len(rest) + SAMPLE_LENGTH * len(names) <= MAX_OUTPUT
    )


def _bounds(exc: _OutOfBounds) -> str:
    return (
        f"commit message template {exc}: a template may render at most {MAX_OUTPUT:,}"
        f" characters in {MAX_STEPS:,} steps; keep it to the variables and simple filters"
    )


class _Failure:
    """Why a render failed, in words for the user (the one outcome ``_render`` returns
    besides the text)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _render(source: str, context: dict[str, str]) -> str | _Failure:
    """``source`` rendered with ``context`` within the bounds, or why it could not be."""
    from jinja2 import TemplateError

    env = _environment()
    known = sorted(context)
    try:
        template = env.from_string(source)
        out: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _OutOfBounds(f"renders more than {MAX_OUTPUT:,} characters")
            out.append(chunk)
        return "".join(out)
    except TemplateError as exc:
        return _Failure(_explain(exc, source, known))
    except _OutOfBounds as exc:
        return _Failure(_bounds(exc))
    except RecursionError:
        return _Failure("commit message template: nests too deeply")
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        # What a Python operation raised inside the sandbox: 1/0, int('x'), 'a' - 1 ...
        return _Failure(f"commit message template: {type(exc).__name__}: {exc}")


def _environment() -> SandboxedEnvironment:
    """A fresh bounded sandbox: its step count belongs to one render, so none is shared."""
    if not _BOUNDED:
        _BOUNDED.append(_make_bounded_class())
    return _BOUNDED[0]()


_BOUNDED: list[Callable[[], SandboxedEnvironment]] = []


class _OutOfBounds(Exception):
    """A render went past a bound; the message completes "commit message template ..."."""


def _size(value: Any) -> int:
    """How big ``value`` is for the bounds: characters, items, or decimal digits."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() * 30103 // 100000 + 1  # log10(2) = 0.30103
    return 0


def _check(value: Any) -> Any:
    """``value``, unless it is larger than ``MAX_VALUE``."""
    if _size(value) > MAX_VALUE:
        raise _OutOfBounds(f"builds a value larger than {MAX_VALUE:,} characters or items")
    return value


# A width or precision in a format string ("%400000000s", "{:>400000000}", "%-.400000000f")
# with as many digits as MAX_VALUE has.
_WIDE = re.compile(r"[%:<>^=.+\- #]\d{" + str(len(str(MAX_VALUE))) + ",}")


def _check_format(fmt: Any) -> None:
    """Refuse a format string (``%``, ``format``, ``str.format``) with a huge width."""
    if isinstance(fmt, str) and _WIDE.search(fmt):
        raise _OutOfBounds(f"formats with a width of more than {MAX_VALUE:,}")


def _check_inputs(args: Iterable[Any]) -> None:
    """Refuse inputs that could make a call build a value past the bounds before it runs:
    a number larger than ``MAX_VALUE`` (a padding width, a count), or two inputs whose
    sizes multiply past it (``replace``, ``join``)."""
    sizes = []
    for arg in args:
        if isinstance(arg, int | float) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE:
            raise _OutOfBounds(f"uses the number {arg}, larger than {MAX_VALUE:,}")
        sizes.append(_size(arg))
    sizes.sort()
    if len(sizes) >= 2 and sizes[-1] * max(sizes[-2], 1) > 4 * MAX_VALUE:
        raise _OutOfBounds(f"combines values that could build more than {MAX_VALUE:,}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` when its result would pass the bounds."""
    number = isinstance(right, int) and not isinstance(right, bool)
    if operator == "*" and number and _size(left) * abs(right) > MAX_VALUE:
        raise _OutOfBounds(f"repeats a value past {MAX_VALUE:,} characters or items")
    if operator == "*" and isinstance(left, int) and _size(right) * abs(left) > MAX_VALUE:
        raise _OutOfBounds(f"repeats a value past {MAX_VALUE:,} characters or items")
    if operator == "**" and number and _size(left) * abs(right) > MAX_VALUE:
        raise _OutOfBounds(f"raises to a power of more than {MAX_VALUE:,} digits")
    if operator == "%":
        _check_format(left)
        _check_inputs(right if isinstance(right, tuple) else [right])  # "%*s" % (width, x)


def _make_bounded_class() -> Callable[[], SandboxedEnvironment]:
    from jinja2 import StrictUndefined, nodes
    from jinja2.filters import FILTERS as DEFAULT_FILTERS
    from jinja2.sandbox import SandboxedEnvironment
    from jinja2.utils import Namespace

    format_filter = DEFAULT_FILTERS["format"]

    refused = {
        nodes.Macro: "macros",
        nodes.CallBlock: "call blocks",
        nodes.FilterBlock: "filter blocks",
        nodes.AssignBlock: "{% set %}...{% endset %} blocks",
        nodes.Include: "includes",
        nodes.Import: "imports",
        nodes.FromImport: "imports",
        nodes.Extends: "extends",
    }

    class BoundedNamespace(Namespace):
        def __setitem__(self, name: str, value: Any) -> None:
            super().__setitem__(name, _check(value))

    class Bounded(SandboxedEnvironment):
        intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

        def __init__(self) -> None:
            # keep_trailing_newline: a template ending in a newline renders to one too.
            # autoescape off: the output is a plain-text commit message, not HTML.
            super().__init__(undefined=StrictUndefined, keep_trailing_newline=True)
            self.steps = 0
            # lipsum, cycler and joiner are left out: nothing a commit message needs.
            self.globals = {
                "range": self.bounded_range,
                "namespace": BoundedNamespace,
                "dict": dict,
            }
            self.filters = {name: self._bounded(f) for name, f in self.filters.items()}

        def step(self) -> None:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _OutOfBounds(f"takes more than {MAX_STEPS:,} steps")

        def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
            tree = super()._parse(source, name, filename)
            for kind, what in refused.items():
                node = tree.find(kind)
                if node is not None:
                    raise _OutOfBounds(f"uses {what} (line {node.lineno}), which it may not")
            for loop in tree.find_all(nodes.For):
                if loop.recursive:
                    raise _OutOfBounds(f"uses a recursive loop (line {loop.lineno})")
                # Every loop goes through bounded_iter, which counts each item as a step.
                loop.iter = nodes.Call(
                    nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None
                )
            return tree

        def bounded_iter(self, items: Iterable[Any]) -> Iterator[Any]:
            for item in items:
                self.step()
                yield item

        def bounded_range(self, *args: int) -> range:
            _check_inputs(args)
            return _check(range(*args))  # type: ignore[no-any-return]

        def _bounded(self, f: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(f)  # keeps jinja_pass_arg: a filter that takes the context still gets it
            def bounded(*args: Any, **kwargs: Any) -> Any:
                self.step()
                if f is format_filter and args:
                    _check_format(args[0])
                _check_inputs([*args, *kwargs.values()])
                return _check(f(*args, **kwargs))

            return bounded

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            self.step()
            _check_binop(operator, left, right)
            return _check(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            __self.step()
            inputs = [*args, *kwargs.values()]
            owner = getattr(__obj, "__self__", None)  # the text of "abc".replace(...)
            if isinstance(owner, str | list | tuple | dict):
                inputs.append(owner)
            _check_inputs(inputs)
            return _check(super().call(__context, __obj, *args, **kwargs))

        def getattr(self, obj: Any, attribute: str) -> Any:
            self.step()
            if attribute in ("format", "format_map"):
                _check_format(obj)
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            self.step()
            return super().getitem(obj, argument)

    return Bounded


def _explain(exc: Exception, source: str, known: list[str]) -> str:
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    if isinstance(exc, UndefinedError):
        # StrictUndefined says "'Foo' is undefined"; add what the user could have meant.
        return (
            f"commit message template: {exc.message}; known variables: {', '.join(known) or 'none'}"
        )
    if isinstance(exc, TemplateSyntaxError):
        line = (
            source.splitlines()[exc.lineno - 1] if 0 < exc.lineno <= source.count("\n") + 1 else ""
        )
        return f"commit message template line {exc.lineno}: {exc.message} (in: {line.strip()})"
    if isinstance(exc, SecurityError):
        return f"commit message template does something the sandbox forbids: {exc}"
    return f"commit message template: {exc}"

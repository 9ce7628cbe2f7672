"""Commit-message templates for promotions.

Users write ``commitMessageTemplate`` the way the seed guide shows, with Go-style
placeholders (``{{.ArtifactVersion}}``). Shunter renders templates with Jinja2's
sandbox (https://jinja.palletsprojects.com/en/3.1.x/sandbox/) and ``StrictUndefined``:
a template is config, so it must not reach Python internals, and a misspelt variable is
an error that lists the variables that exist rather than an empty string in a commit.

Only the ``{{.Name}}`` form of Go templates is translated (to ``{{ Name }}``), trim
markers included (``{{- .Name -}}`` means the same in both languages); Go's
``{{if}}``/``{{range}}`` logic is not supported, Jinja's own syntax is.

Jinja2 is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

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

    Raises ``ValueError`` when the template does not parse, uses a variable that is
    not in ``context`` (the message names it and lists the ones that exist), or tries
    something the sandbox forbids.
    """
    from jinja2 import TemplateError

    source = go_to_jinja(DEFAULT_TEMPLATE if template is None else template)
    env = _environment()
    try:
        return env.from_string(source).render(dict(context))
    except TemplateError as exc:
        raise ValueError(_explain(exc, source, sorted(context))) from exc


def check_template(template: str) -> str | None:
    """Return ``None`` if ``template`` is usable, else a message saying what to fix.

    The template is parsed, checked for variables outside ``KNOWN_VARIABLES``, and
    rendered once with sample values so filters and the sandbox get their say.
    """
    from jinja2 import TemplateError, meta

    source = go_to_jinja(template)
    env = _environment()
    known = sorted(KNOWN_VARIABLES)
    try:
        unknown = sorted(meta.find_undeclared_variables(env.parse(source)) - set(known))
    except TemplateError as exc:
        return _explain(exc, source, known)
    if unknown:
        return (
            f"unknown variable(s) {', '.join(unknown)} in the commit message template; "
            f"known: {', '.join(known)}"
        )
    try:
        env.from_string(source).render({k: f"<{k}>" for k in known})
    except TemplateError as exc:
        return _explain(exc, source, known)
    return None


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # keep_trailing_newline: a template ending in a newline renders to one that does too.
    # autoescape off: the output is a plain-text commit message, not HTML.
    return SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )


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

"""No code path decides by reading a message back: decisions, gates, changes and errors
are typed values (``bot.core.decide.outcomes``) and words are only rendered from them.

Checked on the source of every module of ``bot/``, like ``test_purity.py``, so new code is
covered at once. Two rules:

* everywhere, no ``startswith``/``endswith``/``in``/``==`` against a string literal on
  something named like a message (``message``, ``reason``, ``detail``, an error,
  ``str(exc)``, a command's ``stderr``...);
* in the modules that handle outcomes (the planner's package, the loop, the renderers,
  the commands' output), no string test with a literal at all, and no ``isinstance(x, str)``
  (the "a value or an error string" pattern).

The exceptions are listed below, each with why. In the adapters they are the outside
systems that answer only in words (git's stderr and porcelain summaries, GitHub's
rate-limit and validation messages): deciphering those is an adapter's job, and each
turns the words into a typed error at once. Shunter's own messages are never read back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
MESSAGE_NAMES = {
    "message", "msg", "messages", "reason", "detail", "details", "error", "errors", "err",
    "exc", "summary", "title", "comment", "description", "what", "change", "changes",
    "decision", "decisions", "why", "problem", "problems", "stage", "stderr",
}  # fmt: skip
OUTCOME_MODULES = ("core/decide", "loop", "render", "commands/_output.py", "cli.py")
# (module, source line fragment): string tests on values that are names, never messages.
ALLOWED = {
    ("core/decide/approvals.py", '"/" in name'),  # a team reference: org/slug or slug
    ("loop/observe.py", '"SecurityScanPassed" in conditions'),  # condition types from config
    ("loop/observe.py", '"pagerduty" in (c.integrations'),  # integration names from config
    # Outside systems that answer only in words; each becomes a typed error on the spot.
    # git push --porcelain: "!" then a summary, "[rejected]" for a non-fast-forward
    # (https://git-scm.com/docs/git-push#_output): the lost compare-and-swap.
    ("adapters/git.py", 'summary.startswith("[rejected]")'),
    # git fetch of a branch the remote lacks: git says so only on stderr.
    ("adapters/gitsource.py", '"couldn\'t find remote ref" in result.stderr'),
    # GitHub's secondary rate limit may come as a 403 with neither header, only these words
    # (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
    ("adapters/github.py", '"rate limit" in message'),
    # A second open PR for the same branches: 422 with code "custom"; only the words say why.
    ("adapters/github.py", '"already exists" in details'),
}


def _name(node: ast.AST) -> str | None:
    """The identifier a value is known by: ``x`` for ``x``, ``b`` for ``a.b``, ``str`` calls."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return "exc"  # str(exc): an exception's message
    return None


def _is_text_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _string_tests(tree: ast.AST) -> list[tuple[int, ast.AST, str]]:
    """Every (line, receiver, how) where a value is tested against a string literal."""
    out: list[tuple[int, ast.AST, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
            and node.args
            and (
                _is_text_literal(node.args[0])
                or (
                    isinstance(node.args[0], ast.Tuple)
                    and all(_is_text_literal(e) for e in node.args[0].elts)
                )
            )
        ):
            out.append((node.lineno, node.func.value, node.func.attr))
        elif isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn) and _is_text_literal(node.left):
                    out.append((node.lineno, right, "in"))
                elif isinstance(op, ast.Eq | ast.NotEq) and _is_text_literal(right):
                    out.append((node.lineno, node.left, "=="))
    return out


def _str_isinstance(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
        and isinstance(node.args[1], ast.Name)
        and node.args[1].id == "str"
    ]


def violations(source: str, *, outcome_module: bool, module: str = "") -> list[str]:
    """Every place in ``source`` that decides by reading text back."""
    tree = ast.parse(source)
    lines = source.splitlines()
    problems = []
    for lineno, receiver, how in _string_tests(tree):
        line = lines[lineno - 1]
        if any(m == module and frag in line for m, frag in ALLOWED):
            continue
        if _name(receiver) in MESSAGE_NAMES or (outcome_module and how != "=="):
            problems.append(f"line {lineno}: {how} on text: {line.strip()}")
    if outcome_module:
        problems += [f"line {n}: isinstance(..., str): {lines[n - 1].strip()}" for n in
                     _str_isinstance(tree)]  # fmt: skip
    return problems


def bot_files() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


@pytest.mark.parametrize("path", bot_files(), ids=lambda p: str(p.relative_to(BOT)))
def test_no_logic_is_keyed_on_message_text(path: Path) -> None:
    module = str(path.relative_to(BOT))
    outcome_module = module.startswith(OUTCOME_MODULES)
    assert violations(path.read_text(), outcome_module=outcome_module, module=module) == []


@pytest.mark.parametrize(
    ("source", "outcome_module"),
    [
        # what the planner and the CLI did before outcomes were typed
        ('ignored = [t for ok, t in gates if t.startswith("not counted")]', True),
        ('promoted = [c for c in changes if ": promoted " in c]', True),
        ('warn = d.stage.startswith("warehouse/")', True),
        ("err = isinstance(got, str)", True),
        ('retry = "rate limit" in str(exc)', False),
        ('missing = error.message.startswith("404")', False),
        ('tag = what.startswith("tag ")', False),
        ('same = reason == "rollback"', False),
    ],
)
def test_the_check_catches_message_logic(source: str, outcome_module: bool) -> None:
    assert violations(source, outcome_module=outcome_module)


@pytest.mark.parametrize(
    "source",
    [
        "blocked = any(g.blocks for g in gates)",
        "promoted = [c for c in changes if c.kind is ChangeKind.PROMOTED]",
        'url = "https://" + host',
        'ok = kind == "rollback"',  # a Literal-typed kind, not a message
    ],
)
def test_the_check_lets_typed_code_through(source: str) -> None:
    assert violations(source, outcome_module=False) == []


@pytest.mark.parametrize(("module", "fragment"), sorted(ALLOWED))
def test_every_exception_is_still_needed(module: str, fragment: str) -> None:
    source = (BOT / module).read_text()
    flagged = [
        source.splitlines()[line - 1]
        for line, receiver, how in _string_tests(ast.parse(source))
        if _name(receiver) in MESSAGE_NAMES or (module.startswith(OUTCOME_MODULES) and how != "==")
    ]
    assert [line for line in flagged if fragment in line]  # else: drop it from ALLOWED

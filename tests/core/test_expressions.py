"""Kargo's ``${{ }}`` expressions: the subset users write, evaluated without ``eval``."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.promote.expressions import (
    ExpressionError,
    Reference,
    Scope,
    check,
    parse_template,
)


def _image_from(repo_url: str, origin: object = None) -> dict[str, str]:
    images = {"ghcr.io/alkon/flask-app": {"RepoURL": "ghcr.io/alkon/flask-app", "Tag": "1.8.4",
                                          "Digest": "sha256:" + "a" * 64}}  # fmt: skip
    if repo_url not in images:
        raise ExpressionError(f"the freight has no image {repo_url}")
    return images[repo_url]


SCOPE = Scope(
    names={
        "vars": {"image": "ghcr.io/alkon/flask-app", "openpr": "false", "replicas": 3},
        "ctx": {"stage": "dev", "project": "flask-app", "promotion": "dev.01abc"},
        "outputs": {"update-image": {"commitMessage": "Updated flask-app to 1.8.4"}},
        "task": {"outputs": {"push": {"branch": "kargo/promotion/dev"}}},
    },
    functions={
        "imageFrom": _image_from,
        "quote": lambda v: '"' + str(v).replace('"', '\\"') + '"',
    },
)


def ev(source: str) -> Any:
    return parse_template(source).evaluate(SCOPE)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # what the official starter and the docs write
        ("${{ vars.image }}", "ghcr.io/alkon/flask-app"),
        ("./src/env/${{ ctx.stage }}", "./src/env/dev"),
        ("${{ imageFrom( vars.image ).Tag }}", "1.8.4"),
        ("${{ imageFrom(vars.image).RepoURL }}:${{ imageFrom(vars.image).Tag }}",
         "ghcr.io/alkon/flask-app:1.8.4"),
        ("${{ outputs['update-image'].commitMessage }}", "Updated flask-app to 1.8.4"),
        ("${{ task.outputs.push.branch }}", "kargo/promotion/dev"),
        ("${{ task.outputs['push'].branch }}", "kargo/promotion/dev"),
        ("${{ vars.openpr != 'true' }}", True),
        ("${{ vars.openpr == 'true' }}", False),
        ("${{ quote(vars.replicas) }}", '"3"'),
        # a single expression keeps its type; text around it makes text
        ("${{ false }}", False),
        ("${{ vars.replicas }}", 3),
        ("n=${{ vars.replicas }}", "n=3"),
        ("flag ${{ true }}", "flag true"),
        ("${{ nil }}x", "x"),
        ("no expression at all", "no expression at all"),
        ("", ""),
        # operators, precedence, strings
        ("${{ 1 + 2 * 3 == 7 }}", True),
        ("${{ (1 + 2) * 3 }}", 9),
        ("${{ !true || true }}", True),
        ("${{ not (true and false) }}", True),
        ("${{ ctx.stage == 'dev' ? 'small' : 'large' }}", "small"),
        ("${{ ctx.stage == 'prod' ? 'large' : ctx.stage == 'dev' ? 'small' : 'medium' }}",
         "small"),
        ("${{ 'env/' + ctx.stage }}", "env/dev"),
        ("${{ \"a\\\"b\" }}", 'a"b'),
        ("${{ `raw\\n` }}", "raw\\n"),
        ("${{ '}}' }}", "}}"),
        ("${{ 'dev' in ['dev', 'staging'] }}", True),
        ("${{ 'ev' in ctx.stage }}", True),
        ("${{ 'image' in vars }}", True),
        ("${{ vars.replicas >= 3 && vars.replicas < 4 }}", True),
        ("${{ 'a' < 'b' }}", True),
        ("${{ -vars.replicas + 1 }}", -2),
        ("${{ 7 % 4 }}", 3),
        ("${{ true == 1 }}", False),
        ("${{ [1, 2][1] }}", 2),
    ],
)  # fmt: skip
def test_evaluates(source: str, expected: object) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("${{ vars. }}", 11),  # a field name must follow '.'
        ("${{ a", 1),  # not closed
        ("${{ 'abc }}", 1),  # the quote swallows the closing braces
        ("${{ }}", 5),  # empty
        ("${{ 1 + }}", 9),
        ("${{ a b }}", 7),
        ("${{ f(1 2) }}", 9),
        ("${{ vars.image() }}", 15),  # methods cannot be called
        ("x ${{ 1 # 2 }}", 9),
        ("${{ '\\q' }}", 6),
        ("${{ a ? b }}", 11),
    ],
)
def test_parse_errors_say_where(source: str, column: int) -> None:
    with pytest.raises(ExpressionError) as err:
        parse_template(source)
    assert err.value.column == column


@pytest.mark.parametrize(
    "source",
    [
        "${{ 'a' + 1 }}",  # no mixing of strings and numbers, as in the expr language
        "${{ 1 && true }}",
        "${{ !'x' }}",
        "${{ 'x' ? 1 : 2 }}",
        "${{ missing }}",
        "${{ vars.missing }}",
        "${{ imageFrom('ghcr.io/other/app').Tag }}",
        "${{ quote() }}",
        "${{ open('/etc/passwd') }}",  # only the functions handed in exist
        "${{ vars.image.__class__ }}",  # no Python attribute is reachable
        "${{ ctx['__class__'] }}",
        "${{ [1][5] }}",
        "${{ 1 / 0 }}",
        "${{ 1 in 2 }}",
    ],
)
def test_evaluation_errors_are_expression_errors(source: str) -> None:
    template = parse_template(source)
    with pytest.raises(ExpressionError) as err:
        template.evaluate(SCOPE)
    assert err.value.column > 0


def test_short_circuit_skips_the_right_side() -> None:
    assert ev("${{ false && missing }}") is False
    assert ev("${{ true || missing }}") is True
    assert ev("${{ true ? 1 : missing }}") == 1


def test_references_list_paths_and_functions() -> None:
    template = parse_template("${{ imageFrom(vars.image).Tag + task.outputs['push'].branch }}")
    refs = [r for r, _ in template.references()]
    assert Reference(function="imageFrom") in refs
    assert Reference(path=("vars", "image")) in refs
    assert Reference(path=("task", "outputs", "push", "branch")) in refs


NAMES: dict[str, set[str] | None] = {
    "vars": {"image", "openpr"},
    "ctx": {"stage", "project", "promotion"},
    "outputs": None,
}


@pytest.mark.parametrize(
    ("source", "problems"),
    [
        ("${{ vars.image }}/${{ ctx.stage }}", 0),
        ("${{ outputs.anything.at.all }}", 0),
        ("${{ vars.imagee }}", 1),
        ("${{ ctxx.stage }}", 1),
        ("${{ ctx.stagee == 'x' && vars.nope }}", 2),
        ("${{ imageFromm(vars.image).Tag }}", 1),
        ("${{ vars. }}", 1),
    ],
)
def test_check_finds_what_validate_reports(source: str, problems: int) -> None:
    found = check(source, names=NAMES, functions={"imageFrom", "quote"})
    assert len(found) == problems
    assert all(p.column > 0 for p in found)


@given(st.text(max_size=80))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        template = parse_template(text)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        template.evaluate(SCOPE)


@given(st.text(alphabet="${}()[]'\"`!&|?:.,+-*/%<>= abcvars0123", max_size=40))
def test_expression_shaped_text_parses_or_fails_cleanly(text: str) -> None:
    with contextlib.suppress(ExpressionError):
        parse_template("${{ " + text + " }}").evaluate(SCOPE)

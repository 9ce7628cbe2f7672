from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import parse_config
from bot.core.promote.templates import (
    DEFAULT_TEMPLATE,
    KNOWN_VARIABLES,
    _check_compiled,
    check_template,
    go_to_jinja,
    render_commit_message,
)
from bot.errors import ConfigError

CONTEXT = {
    "ArtifactType": "image",
    "ArtifactVersion": "1.8.4",
    "PreviousVersion": "1.8.3",
    "Stage": "staging",
    "PromotedBy": "shunter[bot]",
    "FreightID": "3f2a9c0e5b7d1a4c6e8f0b2d4a6c8e0f1a3b5c7d",
    "FreightAlias": "brave-otter",
    "Warehouse": "flask-app",
    "Image": "ghcr.io/alkon/flask-app",
    "Digest": "sha256:0123",
}

# Verbatim from the seed guide (its blank lines carry the block's six spaces of indent).
SEED_SNIPPET = (
    "gitRepoUpdates:\n"
    "  - commitMessageTemplate: |\n"
    "      Kargo: Promote {{.ArtifactType}} {{.ArtifactVersion}} to {{.Stage}}\n"
    "      \n"
    "      Previous: {{.PreviousVersion}}\n"
    "      New: {{.ArtifactVersion}}\n"
    "      Promoted by: {{.PromotedBy}}\n"
    "      \n"
    "      Freight ID: {{.FreightID}}\n"
)


def test_the_seed_template_renders_what_a_user_expects() -> None:
    template = yaml.safe_load(SEED_SNIPPET)["gitRepoUpdates"][0]["commitMessageTemplate"]

    assert check_template(template) is None
    assert render_commit_message(template, CONTEXT) == (
        "Kargo: Promote image 1.8.4 to staging\n"
        "\n"
        "Previous: 1.8.3\n"
        "New: 1.8.4\n"
        "Promoted by: shunter[bot]\n"
        "\n"
        "Freight ID: 3f2a9c0e5b7d1a4c6e8f0b2d4a6c8e0f1a3b5c7d\n"
    )


def test_no_template_means_the_default_one() -> None:
    message = render_commit_message(None, CONTEXT)
    assert message == render_commit_message(DEFAULT_TEMPLATE, CONTEXT)
    assert message.splitlines()[0] == "shunter: promote 1.8.4 to staging"
    assert "3f2a9c0e5b7d1a4c6e8f0b2d4a6c8e0f1a3b5c7d" in message
    assert check_template(DEFAULT_TEMPLATE) is None


@pytest.mark.parametrize(
    ("go", "jinja"),
    [
        ("{{.Stage}}", "{{Stage}}"),
        ("{{ .Stage }}", "{{ Stage }}"),
        ("{{- .Stage -}}", "{{- Stage -}}"),
        ("a {{.Stage}}-{{.FreightAlias}} b", "a {{Stage}}-{{FreightAlias}} b"),
        ("{{ Stage }}", "{{ Stage }}"),  # already Jinja: untouched
        ("{{ .Stage.Name }}", "{{ .Stage.Name }}"),  # Go field chains are not translated
    ],
)
def test_go_placeholders_become_jinja(go: str, jinja: str) -> None:
    assert go_to_jinja(go) == jinja


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Stage}}", "staging"),
        ("{{ Stage | upper }}: {{ ArtifactVersion }}", "STAGING: 1.8.4"),
        ("x  {{- .Stage }}", "xstaging"),
        ("{{ Image }}@{{ Digest }}", "ghcr.io/alkon/flask-app@sha256:0123"),
        ("no placeholders\n\n", "no placeholders\n\n"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render_commit_message(template, CONTEXT) == expected


def test_unknown_variable_is_named_with_the_ones_that_exist() -> None:
    with pytest.raises(ValueError, match="'Stag' is undefined") as info:
        render_commit_message("promote to {{.Stag}}", CONTEXT)
    assert "Stage" in str(info.value)
    message = check_template("promote to {{.Stag}}")
    assert message is not None
    assert "Stag" in message
    assert all(name in message for name in KNOWN_VARIABLES)


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{% if %}", "line 1"),
        ("ok\n{{ Stage", "line 2"),
        ("{{ Stage.__class__.__mro__ }}", "sandbox"),
        ("{{ Stage | nosuchfilter }}", "nosuchfilter"),
    ],
)
def test_broken_templates_are_reported(template: str, fragment: str) -> None:
    message = check_template(template)
    assert message is not None
    assert fragment in message
    with pytest.raises(ValueError, match="template"):
        render_commit_message(template, CONTEXT)


# --------------------------------------------------------------------------- bounds

HOSTILE = {
    "huge repeat": "{{ 'x' * 400000000 }}",
    "huge range": "{{ range(100000000)|length }}",
    "nested loops": "{% for a in range(60000) %}{% for b in range(60000) %}{% endfor %}"
    "{% endfor %}",
    "padding filter": "{{ 'x'|center(400000000) }}",
    "format filter width": "{{ '%400000000s'|format('x') }}",
    "percent width": "{{ '%-400000000s' % 'x' }}",
    "star width": "{{ '%*s' % (400000000, 'x') }}",
    "str.format width": '{{ "{:>400000000}".format(1) }}',
    "huge power": "{{ 9 ** 400000000 }}",
    "doubling namespace": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
    ),
    "replace blow-up": "{{ ('x' * 60000).replace('x', 'y' * 60000) }}",
    "join blow-up": "{{ ('x' * 60000)|list|join('y' * 60000) }}",
    "macro recursion": "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "buffered block": "{% set s %}{% for i in range(9) %}{{ FreightID }}{% endfor %}{% endset %}",
    "recursive loop": "{% for i in [[1]] recursive %}{{ loop(i) }}{% endfor %}",
    "long output": "{% for i in range(5000) %}{{ FreightID }}{% endfor %}",
    "division by zero": "{{ 1 / 0 }}",
    "type error": "{{ ('a', 'b')|sum }}",
}


@pytest.mark.parametrize("template", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_template_that_cannot_render_within_the_bounds_is_refused_quickly(template: str) -> None:
    start = time.perf_counter()
    message = check_template(template)
    assert message is not None and message.startswith("commit message template")
    with pytest.raises(ValueError):
        render_commit_message(template, CONTEXT)
    assert time.perf_counter() - start < 5  # both, on a loaded 2-core runner


@pytest.mark.parametrize(
    "template",
    [
        "{{ Digest|replace('sha256:', '') }} {{ '%s-%s' % (Stage, ArtifactVersion) }}",
        "{{ '{}:{}'.format(Image, ArtifactVersion) }} {{ '%.2f'|format(1.5) }}",
        "{% for part in ArtifactVersion.split('.') %}{{ part }}{% if not loop.last %}-{% endif %}"
        "{% endfor %}",
        "{% set ns = namespace(n=0) %}{% for c in FreightID %}{% set ns.n = ns.n + 1 %}"
        "{% endfor %}{{ ns.n }}",
    ],
)
def test_ordinary_templates_stay_within_the_bounds(template: str) -> None:
    assert check_template(template) is None
    assert render_commit_message(template, CONTEXT)


def test_the_output_is_capped_even_when_validate_passed() -> None:
    # 200 freight IDs: within the bounds for validate's samples, not for real values
    # someone made longer than any real one.
    template = "{% for i in range(200) %}{{ Stage }}{% endfor %}"
    assert check_template(template) is None
    with pytest.raises(ValueError, match="more than 65,536 characters"):
        render_commit_message(template, {**CONTEXT, "Stage": "s" * 1000})


def document(kind: str, spec: dict[str, object]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "flask-app" if kind == "Warehouse" else "dev"},
            "spec": spec,
        },
        sort_keys=False,
    )


def test_a_template_past_the_bounds_is_a_located_config_error() -> None:
    image = {"image": {"repoURL": "ghcr.io/alkon/flask-app"}}
    template = "{{ range(100000000)|length }}"
    updates = [{"commitMessageTemplate": template}]
    warehouse = document("Warehouse", {"subscriptions": [image]})
    dev = document(
        "Stage", {"subscriptions": {"warehouse": "flask-app"}, "gitRepoUpdates": updates}
    )
    with pytest.raises(ConfigError) as caught:
        parse_config([("kargo/warehouse.yaml", warehouse), ("kargo/dev.yaml", dev)])
    (problem,) = caught.value.problems
    line = next(i for i, text in enumerate(dev.splitlines(), 1) if "range(" in text)
    assert (problem.file, problem.line, problem.path) == (
        "kargo/dev.yaml",
        line,
        "spec.gitRepoUpdates[0].commitMessageTemplate",
    )


# Read-only commands parse the config, templates included, and should not load Jinja2:
# plain placeholders are accepted without it. These pin that shortcut to Jinja's answer.
PLACEHOLDER_CASES = [
    "promote {{.ArtifactVersion}} to {{.Stage}}",
    "{{- .Stage -}}\n{{ Warehouse}}{{FreightAlias }}",
    "{{ Stage -}} and {{- Stage }}",
    "no placeholders at all",
    "braces alone: { } }} {",
    "{{{ Stage }}",  # Jinja reads a dict literal here and fails
    "{{ Stag }}",  # unknown
    "{{ Stage }}{% if true %}x{% endif %}",
    "{# a comment #}{{ Stage }}",
    "{{ Stage | upper }}",
    "{{ Stage.__class__ }}",
    "{{ Stage + }}",
    "{{ Stage - }}",
    "{{ true }}",
]


@pytest.mark.parametrize("template", PLACEHOLDER_CASES)
def test_the_placeholder_shortcut_agrees_with_jinja(template: str) -> None:
    assert (check_template(template) is None) == (_check_compiled(go_to_jinja(template)) is None)


@given(st.lists(st.sampled_from(["{{", "}}", "{", "}", "-", " ", "%", "#", "Stage", "x", "\n"])))
def test_the_placeholder_shortcut_never_accepts_what_jinja_refuses(parts: list[str]) -> None:
    template = "".join(parts)
    if check_template(template) is None:
        assert _check_compiled(go_to_jinja(template)) is None

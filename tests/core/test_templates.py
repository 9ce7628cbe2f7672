from __future__ import annotations

import pytest
import yaml

from bot.core.promote.templates import (
    DEFAULT_TEMPLATE,
    KNOWN_VARIABLES,
    check_template,
    go_to_jinja,
    render_commit_message,
)

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

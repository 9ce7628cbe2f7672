from __future__ import annotations

from typing import Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.promote.manifests import image_value, set_kustomize_image, set_yaml_value

VALUES = """\
# Values for the dev environment.
replicaCount: 2

image:
  repository: ghcr.io/alkon/flask-app   # the app image
  tag: "1.8.3"  # shunter writes this
  pullPolicy: IfNotPresent

sidecar:
  tag: '0.4'
  plain: 0.4.1
containers:
  - name: app
    image: ghcr.io/alkon/flask-app:1.8.3
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), "the edit added or removed lines"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


@pytest.mark.parametrize(
    ("key", "value", "old_line", "new_line"),
    [
        (
            "image.tag",
            "1.8.4",
            '  tag: "1.8.3"  # shunter writes this\n',
            '  tag: "1.8.4"  # shunter writes this\n',
        ),
        ("sidecar.tag", "0.5", "  tag: '0.4'\n", "  tag: '0.5'\n"),
        ("sidecar.plain", "0.4.2", "  plain: 0.4.1\n", "  plain: 0.4.2\n"),
        (
            "containers[0].image",
            "ghcr.io/alkon/flask-app:1.8.4",
            "    image: ghcr.io/alkon/flask-app:1.8.3\n",
            "    image: ghcr.io/alkon/flask-app:1.8.4\n",
        ),
        # A plain value that would read as a number or a boolean gets quoted.
        ("sidecar.plain", "1.10", "  plain: 0.4.1\n", '  plain: "1.10"\n'),
        ("sidecar.plain", "on", "  plain: 0.4.1\n", '  plain: "on"\n'),
        ("sidecar.plain", "1e3", "  plain: 0.4.1\n", '  plain: "1e3"\n'),
        ("sidecar.plain", "20240101", "  plain: 0.4.1\n", '  plain: "20240101"\n'),
        ("sidecar.plain", "null", "  plain: 0.4.1\n", '  plain: "null"\n'),
        # Single quotes double an embedded quote; double quotes escape a line break.
        ("sidecar.tag", "it's", "  tag: '0.4'\n", "  tag: 'it''s'\n"),
        (
            "image.tag",
            'a"b\nc',
            '  tag: "1.8.3"  # shunter writes this\n',
            '  tag: "a\\"b\\nc"  # shunter writes this\n',
        ),
    ],
)
def test_set_yaml_value_changes_only_the_target(
    key: str, value: str, old_line: str, new_line: str
) -> None:
    after = set_yaml_value(VALUES, key, value, file="dev/values.yaml")

    assert changed_lines(VALUES, after) == [(old_line, new_line)]
    doc = yaml.safe_load(after)
    node = doc
    for part in key.replace("[0]", ".0").split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    assert node == value


def test_setting_the_current_value_returns_the_text_byte_identical() -> None:
    for key, value in [("image.tag", "1.8.3"), ("sidecar.tag", "0.4"), ("sidecar.plain", "0.4.1")]:
        assert set_yaml_value(VALUES, key, value) == VALUES


def test_a_plain_number_is_rewritten_as_the_string_it_should_be() -> None:
    # ``tag: 1.10`` reads as the float 1.1: writing the string "1.10" is a real change.
    assert set_yaml_value("tag: 1.10\n", "tag", "1.10") == 'tag: "1.10"\n'


def test_crlf_line_endings_and_missing_final_newline_are_kept() -> None:
    text = "a: 1\r\nimage:\r\n  tag: v1 # keep\r\nz: 2"
    assert set_yaml_value(text, "image.tag", "v2") == "a: 1\r\nimage:\r\n  tag: v2 # keep\r\nz: 2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image:\n  tag:\n", "image:\n  tag: v2\n"),
        ("image:\n  tag:   # set by shunter\n", "image:\n  tag: v2  # set by shunter\n"),
        ("image:\n  tag: &t !!str v1\n", "image:\n  tag: &t !!str v2\n"),
        ("image:\n  tag: |\n    v1\n\nnext: 1\n", 'image:\n  tag: "v2"\n\nnext: 1\n'),
        ("{image: {tag: v1}, other: 1}\n", "{image: {tag: v2}, other: 1}\n"),
    ],
)
def test_unusual_value_shapes(text: str, expected: str) -> None:
    assert set_yaml_value(text, "image.tag", "v2") == expected


def test_several_documents_edit_the_first_that_has_the_key() -> None:
    text = "kind: A\n---\nkind: B\nimage:\n  tag: v1\n---\nimage:\n  tag: v1\n"
    assert set_yaml_value(text, "image.tag", "v2") == (
        "kind: A\n---\nkind: B\nimage:\n  tag: v2\n---\nimage:\n  tag: v1\n"
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("image:\n  repository: x\n", "image.tag", "image has no key 'tag'; it has repository"),
        ("image:\n  tag: {a: 1}\n", "image.tag", "image.tag holds a mapping"),
        ("image: [1]\n", "image", "image holds a list"),
        ("items: [a]\n", "items[2]", "items has only 1 item(s)"),
        ("image: x\n", "image.tag", "image is not a mapping"),
        ("base: &b v1\nimage:\n  tag: *b\n", "image.tag", "is an alias"),
        ("", "image.tag", "the file is empty"),
        ("image: [\n", "image.tag", "not valid YAML"),
    ],
)
def test_missing_or_structured_keys_are_errors_naming_file_and_key(
    text: str, key: str, message: str
) -> None:
    with pytest.raises(ValueError, match=r"dev/values\.yaml") as info:
        set_yaml_value(text, key, "v2", file="dev/values.yaml")
    assert message in str(info.value)


@pytest.mark.parametrize("key", ["", ".a", "a.", "a..b", "[0]", "a[x]"])
def test_bad_key_paths_are_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="key path"):
        set_yaml_value("a: 1\n", key, "v")


_TEMPLATE_STYLES = ["tag: {}", "tag: '{}'", 'tag: "{}"']
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # not encodable as UTF-8, so never in a file


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(
        st.characters(codec="utf-8", exclude_categories=SURROGATES)
        | st.sampled_from(list(":#'\"*&!- \n\t{}[],|>%@`")),
        max_size=30,
    ),
    style=st.sampled_from(_TEMPLATE_STYLES),
)
def test_hostile_values_round_trip_and_touch_one_line(value: str, style: str) -> None:
    text = f"# head\nbefore: 1\nimage:\n  {style.format('v1')}  # note\nafter: [a, b]\n"
    after = set_yaml_value(text, "image.tag", value, file="values.yaml")

    assert yaml.safe_load(after)["image"]["tag"] == value
    a, b = text.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(b) == len(a)
    assert [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y] in ([], [3])
    assert b[3].endswith("  # note\n")


# --------------------------------------------------------------------------- kustomize

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml   # the app

images:
  - name: alkon/flask-app
    newTag: 1.8.3 # set by shunter
  - name: redis
    digest: sha256:aaaa
    # keep this comment
namespace: dev
"""


def test_kustomize_sets_new_tag_in_place_matching_a_name_without_registry() -> None:
    after = set_kustomize_image(KUSTOMIZATION, "ghcr.io/alkon/flask-app", new_tag="1.8.4")
    assert changed_lines(KUSTOMIZATION, after) == [
        ("    newTag: 1.8.3 # set by shunter\n", "    newTag: 1.8.4 # set by shunter\n")
    ]


def test_kustomize_same_tag_is_byte_identical() -> None:
    assert set_kustomize_image(KUSTOMIZATION, "alkon/flask-app", new_tag="1.8.3") == KUSTOMIZATION


def test_kustomize_adds_the_missing_key_after_name_and_drops_a_stale_digest() -> None:
    after = set_kustomize_image(KUSTOMIZATION, "redis", new_tag="7.2")
    assert after == KUSTOMIZATION.replace(
        "  - name: redis\n    digest: sha256:aaaa\n", '  - name: redis\n    newTag: "7.2"\n'
    )
    assert yaml.safe_load(after)["images"][1] == {"name": "redis", "newTag": "7.2"}


def test_kustomize_digest_replaces_a_stale_tag() -> None:
    after = set_kustomize_image(KUSTOMIZATION, "alkon/flask-app", digest="sha256:bbbb")
    assert yaml.safe_load(after)["images"][0] == {
        "name": "alkon/flask-app",
        "digest": "sha256:bbbb",
    }
    assert "    digest: sha256:bbbb\n" in after
    assert "newTag: 1.8.3" not in after


def test_kustomize_appends_an_entry_in_the_files_indentation() -> None:
    after = set_kustomize_image(KUSTOMIZATION, "ghcr.io/alkon/worker", new_tag="2.0.1")
    assert after == KUSTOMIZATION.replace(
        "    digest: sha256:aaaa\n",
        "    digest: sha256:aaaa\n  - name: ghcr.io/alkon/worker\n    newTag: 2.0.1\n",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "resources:\n- deployment.yaml\n",
            "resources:\n- deployment.yaml\nimages:\n- name: nginx\n  newTag: 1.27.0\n",
        ),
        (
            "resources:\n  - deployment.yaml",
            "resources:\n  - deployment.yaml\nimages:\n  - name: nginx\n    newTag: 1.27.0\n",
        ),
        ("images: []\nnamespace: x\n", "images:\n- name: nginx\n  newTag: 1.27.0\nnamespace: x\n"),
        ("images:\nnamespace: x\n", "images:\n- name: nginx\n  newTag: 1.27.0\nnamespace: x\n"),
        ("", "images:\n- name: nginx\n  newTag: 1.27.0\n"),
        ("kind: K\r\n", "kind: K\r\nimages:\r\n- name: nginx\r\n  newTag: 1.27.0\r\n"),
    ],
)
def test_kustomize_creates_images_when_absent(text: str, expected: str) -> None:
    assert set_kustomize_image(text, "nginx", new_tag="1.27.0") == expected


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("images: []\n", {}, "needs a new tag or a digest"),
        ("- a\n", {"new_tag": "1"}, "expected a mapping"),
        ("images: {a: 1}\n", {"new_tag": "1"}, "must be a list"),
        ("images: [{name: nginx, digest: x}]\n", {"new_tag": "1"}, "write it as a block"),
        ("images:\n- digest: x\n  name: nginx\n", {"new_tag": "1"}, "put name first"),
    ],
)
def test_kustomize_errors_name_the_file(text: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=r"dev/kustomization\.yaml") as info:
        set_kustomize_image(text, "nginx", file="dev/kustomization.yaml", **kwargs)
    assert message in str(info.value)


def test_kustomize_flow_entry_value_is_set_in_place() -> None:
    text = "images: [{name: nginx, newTag: '1.0'}]\n"
    assert set_kustomize_image(text, "nginx", new_tag="1.1") == (
        "images: [{name: nginx, newTag: '1.1'}]\n"
    )


# --------------------------------------------------------------------------- image_value


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Tag", "1.8.4"),
        ("Digest", "sha256:abc"),
        ("ImageAndTag", "ghcr.io/alkon/flask-app:1.8.4"),
        ("ImageAndDigest", "ghcr.io/alkon/flask-app@sha256:abc"),
    ],
)
def test_image_value(kind: str, expected: str) -> None:
    assert image_value("ghcr.io/alkon/flask-app", "1.8.4", "sha256:abc", kind) == expected


@pytest.mark.parametrize(
    ("tag", "digest", "kind"), [("1", "d", "Version"), ("1", "", "Digest"), ("", "d", "Tag")]
)
def test_image_value_rejects_unknown_kinds_and_missing_parts(
    tag: str, digest: str, kind: str
) -> None:
    with pytest.raises(ValueError, match=kind):
        image_value("ghcr.io/x", tag, digest, kind)


def test_kustomize_prefers_the_exact_name_over_one_without_registry() -> None:
    text = "images:\n- name: alkon/app\n  newTag: '1'\n- name: ghcr.io/alkon/app\n  newTag: '1'\n"
    after = set_kustomize_image(text, "ghcr.io/alkon/app", new_tag="2")
    assert after == text[: text.rindex("'1'")] + "'2'\n"


def test_kustomize_inserts_after_name_when_name_is_not_the_first_key() -> None:
    text = "images:\n  - newName: registry.local/app # mirror\n    name: app\n"
    assert set_kustomize_image(text, "app", new_tag="v3") == (
        "images:\n  - newName: registry.local/app # mirror\n    name: app\n    newTag: v3\n"
    )

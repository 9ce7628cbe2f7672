from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import (
    alias_for,
    canonical_artifacts,
    freight_id,
    is_oci_repository,
    make_freight,
    normalize_chart_url,
    normalize_git_url,
)

DIGEST = "sha256:" + "a" * 64
IMAGE = Image("ghcr.io/alkon/flask-app", "1.8.4", DIGEST)


def test_worked_example_matches_kargo_identity() -> None:
    # sha1("Warehouse/flask-app:ghcr.io/alkon/flask-app:1.8.4@sha256:aaa...a"), computed
    # with sha1sum outside this code base.
    assert freight_id("flask-app", [IMAGE]) == "508208416a578f3f8bfbdd217bbc75f888eb45b9"


def test_mixed_artifacts_are_sorted_before_hashing() -> None:
    chart = Chart("https://charts.example.com/", "flask-app", "1.0.9")
    commit = Commit("https://github.com/alkon/app.git", "abc123")
    assert canonical_artifacts([IMAGE], [chart], [commit]) == [
        f"ghcr.io/alkon/flask-app:1.8.4@{DIGEST}",
        "https://github.com/alkon/app:abc123",
        # Kargo joins the chart with Go's path.Join, which cleans "//" to "/".
        "https:/charts.example.com/flask-app:1.0.9",
    ]
    # Order of the inputs does not matter; the value is sha1 of
    # "Warehouse/mixed:" + the strings above joined with "|".
    assert freight_id("mixed", [IMAGE], [chart], [commit]) == (
        "d0629f1f8aa7fb4aac7ad540c6db2410b38af859"
    )


def test_an_oci_chart_is_named_as_kargo_names_it() -> None:
    # Kargo's OCI chart has the name in its repoURL and an empty name; the URL is
    # lower-cased and loses oci://. sha1("Warehouse/charts:ghcr.io/alkon/charts/flask-app:0.3.1")
    chart = Chart("oci://ghcr.io/Alkon/charts/flask-app", "flask-app", "0.3.1")
    assert canonical_artifacts(charts=[chart]) == ["ghcr.io/alkon/charts/flask-app:0.3.1"]
    assert freight_id("charts", charts=[chart]) == "d3e4c5883b60a56e8f1b74e6e18fdf299d225d81"


def test_an_scp_like_git_url_is_named_as_kargo_names_it() -> None:
    # sha1("Warehouse/src:ssh://git@github.com/alkon/app:v1.2.0:ccc...c")
    commit = Commit("git@github.com:Alkon/app.git", "c" * 40, tag="v1.2.0")
    assert canonical_artifacts(commits=[commit]) == [
        "ssh://git@github.com/alkon/app:v1.2.0:" + "c" * 40
    ]
    assert freight_id("src", commits=[commit]) == "bfa7aae8e8235341f813b28ee89e791631ad580b"


@pytest.mark.parametrize(
    ("url", "kargo"),
    [
        ("https://github.com/alkon/app.git", "https://github.com/alkon/app"),
        ("https://GitHub.com/Alkon/App/", "https://github.com/alkon/app"),
        ("https://user:token@github.com/alkon/app", "https://github.com/alkon/app"),
        ("http://localhost:8080/r.git", "http://localhost:8080/r"),
        ("ssh://git@github.com/alkon/app.git", "ssh://git@github.com/alkon/app"),
        ("git@github.com:alkon/app.git", "ssh://git@github.com/alkon/app"),
        ("https://github.com/alkon/app?ref=x", "https://github.com/alkon/app?ref=x"),
    ],
)
def test_git_urls_normalise_as_kargo_does(url: str, kargo: str) -> None:
    assert normalize_git_url(url) == kargo


@pytest.mark.parametrize(
    ("url", "kargo"),
    [
        ("oci://ghcr.io/alkon/charts/app", "ghcr.io/alkon/charts/app"),
        ("oci://docker.io/library/nginx", "nginx"),
        ("oci://registry-1.docker.io/bitnamicharts/redis", "bitnamicharts/redis"),
        ("oci://localhost:5000/charts/app", "localhost:5000/charts/app"),
        (" https://Charts.Example.com ", "https://charts.example.com"),
    ],
)
def test_chart_urls_normalise_as_kargo_does(url: str, kargo: str) -> None:
    assert normalize_chart_url(url) == kargo


def test_tagged_commit_includes_tag() -> None:
    assert canonical_artifacts(commits=[Commit("https://g.example/r", "c0ffee", tag="v1.0.0")]) == [
        "https://g.example/r:v1.0.0:c0ffee"
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (IMAGE, Image(IMAGE.repo_url, "1.8.5", DIGEST)),  # re-tagged digest
        (IMAGE, Image(IMAGE.repo_url, "1.8.4", "sha256:" + "b" * 64)),  # re-pushed tag
    ],
)
def test_tag_and_digest_both_change_identity(a: Image, b: Image) -> None:
    assert freight_id("w", [a]) != freight_id("w", [b])


def test_warehouse_is_part_of_identity() -> None:
    assert freight_id("one", [IMAGE]) != freight_id("two", [IMAGE])


def test_alias_is_stable_and_avoids_collisions() -> None:
    name = freight_id("flask-app", [IMAGE])
    first = alias_for(name)
    assert first == alias_for(name)
    assert first.count("-") == 1
    assert alias_for(name, taken={first}) == f"{first}-2"
    assert alias_for(name, taken={first, f"{first}-2"}) == f"{first}-3"


def test_make_freight_summary() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    f = make_freight("flask-app", images=[IMAGE], discovered_at=when)
    assert f.summary() == "1.8.4"
    assert f.image() == IMAGE
    assert f.discovered_at == when


@pytest.mark.parametrize(
    ("url", "oci"),
    [
        ("oci://ghcr.io/org/charts/app", True),
        (" OCI://ghcr.io/org/charts/app", True),
        ("https://charts.example.com", False),
        ("http://oci.example.com/charts", False),
        ("ghcr.io/oci://app", False),
    ],
)
def test_a_chart_repository_is_oci_by_its_scheme(url: str, oci: bool) -> None:
    assert is_oci_repository(url) is oci

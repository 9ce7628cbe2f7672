from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import alias_for, canonical_artifacts, freight_id, make_freight

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
        "https://charts.example.com/flask-app:1.0.9",
        "https://github.com/alkon/app:abc123",
    ]
    # Order of the inputs does not matter; the value was computed with sha1sum.
    assert freight_id("mixed", [IMAGE], [chart], [commit]) == (
        "b9ad4ba53bc92a2d1e966b02d5c54de8cd7d0af4"
    )


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

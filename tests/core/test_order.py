"""Freight order follows the subscriptions' selection order; discovery time only breaks ties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.discover.order import freight_order, is_newer, newest_first
from bot.core.model import (
    ChartSubscription,
    GitSubscription,
    ImageSubscription,
    Subscription,
    Warehouse,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
APP = "ghcr.io/alkon/app"
CHARTS = "https://charts.example.com"
SRC = "https://github.com/alkon/app.git"


def image_freight(tag: str, *, minutes: int, digest: str = "sha256:aa") -> Freight:
    return make_freight(
        "wh", images=[Image(APP, tag, digest)], discovered_at=T0 + timedelta(minutes=minutes)
    )


def wh(*subs: Subscription) -> Warehouse:
    return Warehouse("wh", subscriptions=subs)


@pytest.mark.parametrize(
    ("strategy", "older", "newer"),
    [
        ("SemVer", "1.9.4", "1.9.10"),
        ("SemVer", "1.10.0-rc.1", "1.10.0"),
        ("SemVer", "v1.2.0", "1.3.0"),
        ("Lexical", "2026-11-29", "2026-11-30"),
    ],
)
def test_an_older_tag_seen_later_is_still_older(strategy: str, older: str, newer: str) -> None:
    w = wh(ImageSubscription(APP, strategy=strategy))  # type: ignore[arg-type]
    seen_first = image_freight(newer, minutes=0)
    seen_later = image_freight(older, minutes=5)  # a lagging replica, or a slow run

    assert is_newer(w, seen_first, seen_later)
    assert not is_newer(w, seen_later, seen_first)
    assert newest_first(w, [seen_later, seen_first]) == [seen_first, seen_later]


@pytest.mark.parametrize("strategy", ["NewestBuild", "Digest"])
def test_orders_not_in_the_tag_fall_back_to_discovery_time(strategy: str) -> None:
    w = wh(ImageSubscription(APP, strategy=strategy))  # type: ignore[arg-type]
    first = image_freight("latest", minutes=0, digest="sha256:01")
    second = image_freight("latest", minutes=5, digest="sha256:02")

    assert is_newer(w, second, first)
    assert not is_newer(w, first, second)


def test_newest_build_follows_the_build_date_not_the_time_a_run_saw_it() -> None:
    w = wh(ImageSubscription(APP, strategy="NewestBuild"))

    def built(tag: str, day: int, minutes: int) -> Freight:
        image = Image(APP, tag, f"sha256:{tag}", built=T0 + timedelta(days=day))
        return make_freight("wh", images=[image], discovered_at=T0 + timedelta(minutes=minutes))

    newer = built("b", day=2, minutes=0)
    older_seen_later = built("a", day=1, minutes=5)  # a replica that lags behind
    undated = image_freight("c", minutes=9)  # discovered before build dates were kept

    assert newest_first(w, [older_seen_later, undated, newer]) == [
        newer,
        older_seen_later,
        undated,
    ]


def test_equal_versions_are_ordered_by_discovery_time_then_id() -> None:
    w = wh(ImageSubscription(APP))
    a = image_freight("1.0.0", minutes=0, digest="sha256:01")
    b = image_freight("1.0.0", minutes=1, digest="sha256:02")
    assert is_newer(w, b, a)
    c = Freight(name="c", alias="c", warehouse="wh", images=a.images, discovered_at=a.discovered_at)
    assert freight_order(w, c) != freight_order(w, a)  # total: never equal for two IDs
    assert is_newer(w, a, None)


def test_subscriptions_compare_in_the_warehouse_order() -> None:
    w = wh(ImageSubscription(APP), ChartSubscription(CHARTS, name="app"))

    def freight(tag: str, chart: str, minutes: int) -> Freight:
        return make_freight(
            "wh",
            images=[Image(APP, tag, "sha256:aa")],
            charts=[Chart(CHARTS, "app", chart)],
            discovered_at=T0 + timedelta(minutes=minutes),
        )

    newer_image = freight("1.1.0", "0.1.0", minutes=0)
    newer_chart = freight("1.0.0", "0.9.0", minutes=9)
    assert is_newer(w, newer_image, newer_chart)
    assert is_newer(w, freight("1.1.0", "0.2.0", minutes=0), newer_image)


def test_commit_tags_follow_their_strategy_and_branch_heads_follow_time() -> None:
    tags = wh(GitSubscription(SRC, strategy="SemVer"))
    old = make_freight("wh", commits=[Commit(SRC, "b" * 40, tag="v1.2.0")], discovered_at=T0)
    new = make_freight(
        "wh", commits=[Commit(SRC, "a" * 40, tag="v1.10.0")], discovered_at=T0 - timedelta(1)
    )
    assert is_newer(tags, new, old)

    branch = wh(GitSubscription(SRC, branch="main"))
    first = make_freight("wh", commits=[Commit(SRC, "f" * 40, branch="main")], discovered_at=T0)
    later = make_freight(
        "wh", commits=[Commit(SRC, "0" * 40, branch="main")], discovered_at=T0 + timedelta(1)
    )
    assert is_newer(branch, later, first)


def test_freight_missing_a_subscription_sorts_below_freight_that_has_it() -> None:
    w = wh(ImageSubscription(APP))
    other = make_freight("wh", images=[Image("ghcr.io/alkon/old", "9.9.9", "sha256:aa")])
    assert is_newer(w, image_freight("0.0.1", minutes=-60), other)

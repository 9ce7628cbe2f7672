"""The ``Registry`` port's contract, run against the shared fake and the real adapter on
Debian's docker-registry. A fake that drifts from the real thing fails here first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.adapters.http import HttpErrorKind
from bot.adapters.registry import OciRegistry
from bot.errors import PermanentError, TransientError
from bot.ports import Registry
from sandbox.fakes import FakeRegistry
from sandbox.registry import LocalRegistry, push_image

#: The request budget per host both sides are given.
BUDGET = 4


@dataclass
class Side:
    """One implementation of the port, and how a test puts images into it. Repository
    paths are made the test's own (``prefix``), as the real registry is shared."""

    registry: Registry
    host: str
    prefix: str
    pushing: Callable[[str, str], str]  # (repoURL, tag) -> manifest digest

    def url(self, path: str) -> str:
        return f"{self.host}/{self.prefix}-{path}"

    def push(self, path: str, tag: str) -> str:
        return self.pushing(self.url(path), tag)


@pytest.fixture(params=["fake", "docker-registry"])
def side(
    request: pytest.FixtureRequest, tmp_path: Path, oci_registry: LocalRegistry
) -> Iterator[Side]:
    prefix = "contract/" + request.node.name.split("[")[0].replace("_", "-").lower()
    if request.param == "fake":
        fake = FakeRegistry(budget=BUDGET)
        yield Side(fake, "registry.example", prefix, fake.push)
        return
    real = OciRegistry(retries=0, budget=BUDGET)

    def push_real(url: str, tag: str) -> str:
        host, path = url.split("/", 1)
        return push_image(host, path, tag, workdir=tmp_path)

    yield Side(real, oci_registry.host, prefix, push_real)
    real.close()


def test_tags_are_every_pushed_tag(side: Side) -> None:
    for tag in ("1.0.0", "1.1.0", "latest"):
        side.push("app", tag)
    assert sorted(side.registry.list_tags(side.url("app"))) == [
        "1.0.0",
        "1.1.0",
        "latest",
    ]


def test_digest_is_the_pushed_manifests(side: Side) -> None:
    pushed = side.push("app", "1.0.0")
    url = side.url("app")
    assert side.registry.digest(url, "1.0.0") == pushed
    info = side.registry.image_info(url, "1.0.0")
    assert info.digest == pushed


def test_a_conditional_listing_is_the_listing_or_not_modified(side: Side) -> None:
    side.push("app", "1.0.0")
    url = side.url("app")
    first = side.registry.list_tags_if_changed(url, None)
    assert first.tags == ["1.0.0"]
    again = side.registry.list_tags_if_changed(url, first.etag)
    # A registry that gives a validator may answer 304 (tags None); one that gives none
    # lists again. Either way the caller ends up with the same tags.
    assert again.tags in (None, ["1.0.0"])
    assert (again.tags is None) == (first.etag is not None)


@pytest.mark.parametrize("ask", ["tags", "digest"])
def test_a_missing_repository_is_permanent_not_found(side: Side, ask: str) -> None:
    url = side.url("never-pushed")
    with pytest.raises(PermanentError) as info:
        if ask == "tags":
            side.registry.list_tags(url)
        else:
            side.registry.digest(url, "1.0.0")
    assert getattr(info.value, "kind", None) is HttpErrorKind.NOT_FOUND


def test_a_missing_tag_is_permanent_not_found(side: Side) -> None:
    side.push("app", "1.0.0")
    with pytest.raises(PermanentError) as info:
        side.registry.digest(side.url("app"), "9.9.9")
    assert getattr(info.value, "kind", None) is HttpErrorKind.NOT_FOUND


def test_the_request_budget_per_host_is_a_transient_budget_error(side: Side) -> None:
    side.push("app", "1.0.0")
    url = side.url("app")
    for _ in range(BUDGET):
        side.registry.list_tags(url)
    with pytest.raises(TransientError) as info:
        side.registry.list_tags(url)
    assert getattr(info.value, "kind", None) is HttpErrorKind.BUDGET

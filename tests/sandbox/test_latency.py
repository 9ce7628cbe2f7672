"""The latency proxy and the slow git: the delays, the lagging replica and the held answer."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.latency import Exchange, LatencyProxy, slow_git
from sandbox.registry import LocalRegistry, push_image


@pytest.fixture
def replica(oci_registry: LocalRegistry) -> Iterator[LatencyProxy]:
    with LatencyProxy(f"http://{oci_registry.host}", delay=(0.02, 0.03), seed=1) as proxy:
        yield proxy


def tags(proxy: LatencyProxy, name: str) -> tuple[list[str], str | None, float]:
    start = time.monotonic()
    with urllib.request.urlopen(f"{proxy.url}/v2/{name}/tags/list", timeout=10) as resp:
        body = json.load(resp)
        return sorted(body["tags"]), resp.headers.get("ETag"), time.monotonic() - start


def test_the_replica_is_slow_and_may_miss_the_newest_tags(
    replica: LatencyProxy, oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    for tag in ("1.0.0", "1.1.0"):
        push_image(oci_registry.host, "latency/app", tag, workdir=tmp_path, content=tag)

    full, _, took = tags(replica, "latency/app")
    assert full == ["1.0.0", "1.1.0"]
    assert took >= 0.02

    replica.hidden_tags = frozenset({"1.1.0"})
    lagging, etag, _ = tags(replica, "latency/app")
    assert lagging == ["1.0.0"]
    assert etag is not None  # its own validator, never the full list's

    replica.hidden_tags = frozenset()
    assert tags(replica, "latency/app")[0] == full
    assert [x.method for x in replica.exchanges] == ["GET"] * 3


def test_a_held_answer_waits_for_release_after_the_upstream_acted(
    replica: LatencyProxy, oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    push_image(oci_registry.host, "latency/held", "2.0.0", workdir=tmp_path, content="x")

    def tag_list(x: Exchange) -> bool:
        return x.path.endswith("/tags/list")

    replica.hold = tag_list
    got: list[list[str]] = []
    client = threading.Thread(target=lambda: got.append(tags(replica, "latency/held")[0]))
    client.start()
    assert replica.held.wait(10)
    time.sleep(0.1)
    assert got == []  # the upstream answered; the client has not heard yet
    replica.release()
    client.join(10)
    assert got == [["2.0.0"]]


def test_an_outage_answers_its_status_without_asking_the_registry(
    replica: LatencyProxy, oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    push_image(oci_registry.host, "latency/down", "3.0.0", workdir=tmp_path, content="x")
    replica.outage = 503
    with pytest.raises(urllib.error.HTTPError) as refused:
        tags(replica, "latency/down")
    assert refused.value.code == 503
    assert json.load(refused.value)["errors"][0]["code"] == "UNAVAILABLE"
    replica.outage = None
    assert tags(replica, "latency/down")[0] == ["3.0.0"]
    assert [x.status for x in replica.exchanges] == [503, 200]


def test_slow_git_waits_before_remote_commands_only(tmp_path: Path) -> None:
    folder = slow_git(tmp_path / "bin", delay=(0.2, 0.25))
    env = {"PATH": f"{folder}:/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], env=env, check=True)

    def took(*args: str) -> float:
        start = time.monotonic()
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
        return time.monotonic() - start

    assert took("ls-remote", str(tmp_path / "r.git")) >= 0.2
    assert took("--version") < 0.2

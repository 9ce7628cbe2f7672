"""An idle reconcile of 100 warehouses, in its own process: ``python -m benchmarks.idle``.

Each scenario builds its own world: 100 warehouses of one image each (50 tags), the
shared fake registry (``sandbox/fakes.py``), which counts every call that would be an HTTP
request, and the in-memory state store, which counts commits. A first run at ``T0``
records the freight and each subscription's cache entry; the measured runs follow with
nothing new in the registry, as scheduled runs would:

* ``etag``: no ``cacheTTL``; the registry sends ETags (GHCR, Docker Hub), so each check
  is one conditional tag list answered 304 Not Modified;
* ``no_etag``: no ``cacheTTL``; the registry sends none (docker-registry 2.8), so each
  check is one full tag list, and the cached digest of the unchanged best tag is reused;
* ``ttl``: ``cacheTTL: 5m``, runs one minute after the last write: no request at all;
* ``ttl_expired``: ``cacheTTL: 5m``, runs ten minutes after the last write (an idle run
  writes nothing, so the TTL counts from the last write): one conditional tag list.

Every run must succeed and the counts must be the same in every repeat, otherwise this
exits non-zero rather than print numbers of a broken setup. Prints one JSON object.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.model import Config, ImageSubscription, Warehouse
from bot.loop.reconcile import World, reconcile
from sandbox.fakes import FakeRegistry, MemoryStateStore

WAREHOUSES = 100
TAGS_PER_IMAGE = 50
REPEATS = 5
TTL = timedelta(minutes=5)
T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)

# name: (cacheTTL, registry sends ETags, minutes after the first run)
SCENARIOS: dict[str, tuple[timedelta | None, bool, int]] = {
    "etag": (None, True, 1),
    "no_etag": (None, False, 1),
    "ttl": (TTL, True, 1),
    "ttl_expired": (TTL, True, 10),
}


def _repos() -> dict[str, list[str]]:
    return {
        f"ghcr.io/alkon/app-{i:03d}": [f"1.{m}.{p}" for m in range(5) for p in range(10)]
        for i in range(WAREHOUSES)
    }


def scenario(ttl: timedelta | None, etags: bool, minutes: int) -> dict[str, Any]:
    """Seed one world, then time ``REPEATS`` idle runs ``minutes`` after the seed and
    trace the memory of one more. Returns the scenario's numbers; raises
    ``RuntimeError`` if a run fails or the runs disagree on what they cost."""
    repos = _repos()
    config = Config(
        warehouses=tuple(
            Warehouse(
                name=f"app-{i:03d}",
                subscriptions=(
                    ImageSubscription(
                        repo_url=repo,
                        semver_constraint=">=1.0.0",
                        discovery_limit=10,
                        cache_ttl=ttl,
                    ),
                ),
            )
            for i, repo in enumerate(repos)
        ),
        stages=(),
    )
    registry = FakeRegistry(repos, etags=etags)
    state = MemoryStateStore()
    clock = [T0]
    world = World(config=config, state=state, registry=registry, clock=lambda: clock[0])
    first = reconcile(world)
    if not first.ok or not state.commits:
        raise RuntimeError(f"the first run recorded nothing: {first.errors}")
    first_requests, first_writes = registry.requests, len(state.commits)
    clock[0] = T0 + timedelta(minutes=minutes)

    def idle_run() -> tuple[float, int, int, Counter[str]]:
        registry.requests, registry.calls = 0, []
        writes = len(state.commits)
        start = time.perf_counter()
        out = reconcile(world)
        wall = time.perf_counter() - start
        if not out.ok:
            raise RuntimeError(f"an idle run failed: {out.errors}")
        kinds = Counter(kind for kind, _repo in registry.calls)
        return wall, registry.requests, len(state.commits) - writes, kinds

    runs = [idle_run() for _ in range(REPEATS)]
    # Memory in one more idle run: tracing slows Python down, so it is not timed.
    tracemalloc.start()
    traced = idle_run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    costs = {
        (requests, writes, tuple(sorted(kinds.items())))
        for _, requests, writes, kinds in [*runs, traced]
    }
    if len(costs) != 1:
        raise RuntimeError(f"idle runs disagree on their cost: {sorted(costs)}")
    _, requests, writes, kinds = runs[0]
    return {
        "cache_ttl_s": None if ttl is None else ttl.total_seconds(),
        "etags": etags,
        "minutes_after_last_write": minutes,
        "first_run_requests": first_requests,
        "first_run_writes": first_writes,
        "idle_registry_requests": requests,  # per idle run
        "idle_requests_per_subscription": requests / WAREHOUSES,
        "idle_calls": dict(sorted(kinds.items())),  # tags, tags-304, digest, info
        "idle_state_writes": writes,  # per idle run
        "idle_wall_s": statistics.median(wall for wall, *_ in runs),
        "idle_wall_best_s": min(wall for wall, *_ in runs),
        "idle_traced_peak_mib": peak / 2**20,
    }


def main() -> int:
    """Run every scenario and print their numbers as JSON; return the exit status."""
    results: dict[str, Any] = {
        "warehouses": WAREHOUSES,
        "subscriptions": WAREHOUSES,
        "tags_per_image": TAGS_PER_IMAGE,
        "repeats": REPEATS,
        "scenarios": {},
    }
    try:
        for name, (ttl, etags, minutes) in SCENARIOS.items():
            results["scenarios"][name] = scenario(ttl, etags, minutes)
    except RuntimeError as exc:
        print(f"idle benchmark: {exc}", file=sys.stderr)
        return 1
    # Linux reports ru_maxrss in KiB; it covers every scenario of this process.
    results["process_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

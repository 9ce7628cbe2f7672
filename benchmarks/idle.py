"""An idle reconcile of 100 warehouses, in its own process: ``python -m benchmarks.idle``.

The first run records the freight; the measured run follows with nothing new in the
registry, as a scheduled run would. Registry requests are counted by the shared fake
registry (``tests/fakes.py``) and state writes by the in-memory state store, so the
numbers are Shunter's own (no network time). Prints one JSON object.
"""

from __future__ import annotations

import json
import resource
import time
import tracemalloc
from datetime import UTC, datetime

from bot.core.model import Config, ImageSubscription, Warehouse
from bot.reconcile import World, reconcile
from tests.fakes import FakeRegistry, MemoryStateStore

WAREHOUSES = 100
TAGS_PER_IMAGE = 50


def main() -> None:
    """Run the benchmark and print its numbers as JSON."""
    repos = {
        f"ghcr.io/alkon/app-{i:03d}": [f"1.{m}.{p}" for m in range(5) for p in range(10)]
        for i in range(WAREHOUSES)
    }
    config = Config(
        warehouses=tuple(
            Warehouse(
                name=f"app-{i:03d}",
                subscriptions=(
                    ImageSubscription(
                        repo_url=repo, semver_constraint=">=1.0.0", discovery_limit=10
                    ),
                ),
            )
            for i, repo in enumerate(repos)
        ),
        stages=(),
    )
    registry = FakeRegistry(repos)
    state = MemoryStateStore()
    fixed = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    world = World(config=config, state=state, registry=registry, clock=lambda: fixed)
    first = reconcile(world)
    seeded_writes = len(state.commits)
    registry.requests = 0
    writes_before = len(state.commits)
    start = time.perf_counter()
    idle = reconcile(world)
    wall = time.perf_counter() - start
    # Memory in a second idle run: tracing slows Python down, so it is not timed.
    tracemalloc.start()
    again = reconcile(world)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    idle.errors += again.errors
    print(
        json.dumps(
            {
                "warehouses": WAREHOUSES,
                "subscriptions": WAREHOUSES,
                "first_run_ok": first.ok,
                "first_run_writes": seeded_writes,
                "idle_ok": idle.ok,
                "idle_registry_requests": registry.requests // 2,  # per idle run
                "idle_state_writes": len(state.commits) - writes_before,  # both idle runs
                "idle_wall_s": wall,
                "idle_traced_peak_mib": peak / 2**20,
                # Linux reports ru_maxrss in KiB.
                "process_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Tag selection on a 10,000-tag repository: how long ``select_tags`` takes."""

from __future__ import annotations

import random
import statistics
import time

from bot.core.discover.versions import select_tags
from bot.core.model import ImageSubscription

TAGS = 10_000


def make_tags(n: int = TAGS, seed: int = 7) -> list[str]:
    """``n`` tags as real repositories hold them: releases, ``v`` prefixes, pre-releases,
    build metadata, partial versions, and junk (``latest``, ``sha-...``, branch names)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    tags: list[str] = []
    while len(tags) < n:
        major, minor, patch = rng.randint(0, 3), rng.randint(0, 30), rng.randint(0, 40)
        roll = rng.random()
        if roll < 0.55:
            tags.append(f"{major}.{minor}.{patch}")
        elif roll < 0.65:
            tags.append(f"v{major}.{minor}.{patch}")
        elif roll < 0.80:
            pre = rng.choice(("rc", "alpha", "beta"))
            tags.append(f"{major}.{minor}.{patch}-{pre}.{rng.randint(1, 9)}")
        elif roll < 0.85:
            tags.append(f"{major}.{minor}.{patch}+build.{rng.randint(1, 999)}")
        elif roll < 0.90:
            tags.append(f"{major}.{minor}")
        else:
            tags.append(
                rng.choice(
                    (
                        "latest",
                        f"sha-{rng.getrandbits(28):07x}",
                        f"main-{rng.randint(1000, 9999)}",
                        f"pr-{rng.randint(1, 900)}",
                        "nightly",
                    )
                )
            )
    return tags


def run(repeats: int = 21) -> dict[str, float | int | str]:
    """Median and best wall time (ms) of ``select_tags`` over ``repeats`` runs, and the
    first run's alone (it also fills the caches of constraints, regexes and pre-releases)."""
    tags = make_tags()
    sub = ImageSubscription(
        repo_url="ghcr.io/alkon/flask-app", semver_constraint=">=1.8.0 <2.0.0", discovery_limit=20
    )
    times: list[float] = []
    picked: list[str] = []
    for _ in range(repeats):
        start = time.perf_counter()
        picked = select_tags(tags, sub)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "tags": len(tags),
        "repeats": repeats,
        "median_ms": statistics.median(times),
        "best_ms": min(times),
        "first_ms": times[0],
        "newest": picked[0] if picked else "",
    }

"""``python -m benchmarks`` (``make bench``): measure, print, and write ``BENCHMARKS.md``.

``--no-write`` prints only. Times are wall-clock medians of repeated runs on this
machine; the file records the machine and date beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cli, tags

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _idle() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.idle"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: dict[str, Any], machine: str, date: str) -> str:
    """The text of ``BENCHMARKS.md`` for ``results``."""
    t, idle, h, r = results["tags"], results["idle"], results["help"], results["refresh"]
    per_sub = idle["idle_registry_requests"] / idle["subscriptions"]
    rows = [
        (
            f"`select_tags`, {t['tags']:,} tags (median of {t['repeats']})",
            f"{t['median_ms']:.1f} ms (best {t['best_ms']:.1f})",
            "≤ 50 ms",
            _mark(t["median_ms"] <= 50),
        ),
        (
            f"idle reconcile, {idle['warehouses']} warehouses: registry requests",
            f"{idle['idle_registry_requests']} ({per_sub:g} per subscription)",
            "≤ 1 per subscription; 0 inside cacheTTL",
            _mark(per_sub <= 1),
        ),
        (
            "idle reconcile: state writes",
            str(idle["idle_state_writes"]),
            "0",
            _mark(idle["idle_state_writes"] == 0),
        ),
        (
            "idle reconcile: wall time",
            f"{idle['idle_wall_s']:.2f} s",
            "≤ 2 s",
            _mark(idle["idle_wall_s"] <= 2),
        ),
        (
            "idle reconcile: peak memory",
            f"{idle['process_maxrss_mib']:.0f} MiB max RSS of the process "
            f"({idle['idle_traced_peak_mib']:.1f} MiB traced Python peak of the idle run)",
            "≤ 150 MiB",
            _mark(idle["process_maxrss_mib"] <= 150),
        ),
        (
            f"`shunter --help`, whole process (median of {h['runs']})",
            f"{h['median_ms']:.0f} ms (best {h['best_ms']:.0f})",
            "≤ 150 ms",
            _mark(h["median_ms"] <= 150),
        ),
        (
            f"`shunter refresh warehouse flask-app`, whole process (median of {r['runs']})",
            f"{r['median_ms']:.0f} ms (best {r['best_ms']:.0f})",
            "< 0.5 s",
            _mark(r["median_ms"] < 500),
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    imports = "\n".join(f"  | `{name}` | {ms:.1f} ms |" for name, ms in results["imports"])
    return f"""# Shunter benchmarks

Written by `make bench` (`python -m benchmarks`); run it again to refresh these numbers.
They are measurements, not tests: no test asserts a time.

Measured {date} on {machine}.

| What | Measured | Target | |
| --- | --- | --- | --- |
{table}

## How each number is made

- **Tag selection** (`benchmarks/tags.py`): `bot.core.versions.select_tags` on 10,000 tags
  made from a fixed seed: releases, `v`-prefixed releases, pre-releases, build metadata,
  partial versions (`1.2`) and junk (`latest`, `sha-…`, `main-…`, `pr-…`), with
  `semverConstraint: ">=1.8.0 <2.0.0"` and `discoveryLimit: 20`; the median of repeated
  runs in one process. Medians swing between about 42 and 63 ms from run to run on this
  shared 2-core machine (the best run stays near 41 ms). A profile puts about 60% of
  the time in `semver.Version.compare`/`to_tuple`, called by the constraint check and
  the precedence sort: comparing precomputed tuple keys instead is the way under 50 ms.
- **Idle reconcile** (`benchmarks/idle.py`, in its own process): 100 warehouses of one
  image each (50 tags each), the shared fakes of `tests/fakes.py` (a counting registry and
  an in-memory compare-and-swap state store) and no GitHub (discovery only). A first run
  records the freight; the measured run follows with nothing new. Requests are the fake
  registry's count; writes are state commits; memory is the process's `ru_maxrss` and
  the `tracemalloc` peak of the idle run. No network time is included: against GHCR each
  request adds a round trip. Discovery asks for the tag list and then the newest match's
  digest, so an idle run makes 2 requests per subscription until the cacheTTL work
  (being built beside this) lets an unchanged tag list skip the digest and a fresh cache
  skip both.
- **`shunter --help`**: the console script in a fresh process, repeated; the slowest imports
  at start-up (`python -X importtime -m bot --help`, cumulative) were:

  | Module | Cumulative import |
  | --- | --- |
{imports}

- **`shunter refresh warehouse flask-app`** (`benchmarks/cli.py`): the sandbox of `make demo`
  (`bot.sandbox.world.SandboxWorld`: Debian's `docker-registry` on loopback holding one
  image, `flask-app:1.8.5`, and a clone of the flask-app GitOps repository); the first
  run records the freight on the state branch, the runs after it are timed. Each run
  loads the config, reads the state branch with git, lists tags and reads one digest.
"""


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the results, and write ``BENCHMARKS.md``; return 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    machine = (
        f"{os.cpu_count()} cores ({_cpu()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"machine: {machine}", flush=True)
    results: dict[str, Any] = {}
    results["tags"] = tags.run()
    print(f"select_tags: {json.dumps(results['tags'])}", flush=True)
    results["idle"] = _idle()
    print(f"idle reconcile: {json.dumps(results['idle'])}", flush=True)
    results["help"] = cli.help_time()
    print(f"shunter --help: {json.dumps(results['help'])}", flush=True)
    results["imports"] = cli.slowest_imports()
    print(f"slowest imports: {results['imports']}", flush=True)
    results["refresh"] = cli.refresh_time()
    print(f"shunter refresh: {json.dumps(results['refresh'])}", flush=True)
    if not args.no_write:
        date = datetime.now(UTC).strftime("%Y-%m-%d")
        (ROOT / "BENCHMARKS.md").write_text(render(results, machine, date))
        print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

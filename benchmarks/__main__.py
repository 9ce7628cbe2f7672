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
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cli, history, tags

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
    t, idle = results["tags"], results["idle"]
    runs = idle["scenarios"]
    etag, no_etag, ttl, expired = (runs[k] for k in ("etag", "no_etag", "ttl", "ttl_expired"))
    ttl_text = f"{ttl['cache_ttl_s'] / 60:g}m"
    writes = max(s["idle_state_writes"] for s in runs.values())
    peak = max(runs.values(), key=lambda s: s["idle_traced_peak_mib"])["idle_traced_peak_mib"]

    def requests(s: dict[str, Any]) -> str:
        if not s["idle_registry_requests"]:
            return "0 (none at all)"
        kinds = ", ".join(f"{n} {kind}" for kind, n in s["idle_calls"].items())
        per_sub = s["idle_requests_per_subscription"]
        return f"{s['idle_registry_requests']} ({per_sub:g} per subscription: {kinds})"

    rows = [
        (
            f"`select_tags`, {t['tags']:,} tags (median of {t['repeats']})",
            f"{t['median_ms']:.1f} ms (best {t['best_ms']:.1f}, first run {t['first_ms']:.1f})",
            "< 25 ms (required: ≤ 50 ms)",
            _mark(t["median_ms"] < 25),
        ),
        (
            f"idle reconcile, {idle['warehouses']} warehouses: registry requests, "
            "no cacheTTL (registry sends ETags)",
            requests(etag),
            "≤ 1 per subscription",
            _mark(etag["idle_requests_per_subscription"] <= 1),
        ),
        (
            "idle reconcile: registry requests, no cacheTTL, registry without ETags",
            requests(no_etag),
            "≤ 1 per subscription",
            _mark(no_etag["idle_requests_per_subscription"] <= 1),
        ),
        (
            f"idle reconcile: registry requests, inside cacheTTL ({ttl_text})",
            requests(ttl),
            "0 inside cacheTTL",
            _mark(ttl["idle_registry_requests"] == 0),
        ),
        (
            f"idle reconcile: registry requests, past cacheTTL ({ttl_text})",
            requests(expired),
            "≤ 1 per subscription",
            _mark(expired["idle_requests_per_subscription"] <= 1),
        ),
        (
            "idle reconcile: state writes (every case above)",
            str(writes),
            "0",
            _mark(writes == 0),
        ),
        (
            f"idle reconcile: wall time (median of {idle['repeats']})",
            f"{etag['idle_wall_s']:.2f} s without cacheTTL (best {etag['idle_wall_best_s']:.2f}); "
            f"{ttl['idle_wall_s']:.2f} s inside cacheTTL (best {ttl['idle_wall_best_s']:.2f})",
            "≤ 2 s",
            _mark(max(etag["idle_wall_s"], ttl["idle_wall_s"]) <= 2),
        ),
        (
            "idle reconcile: peak memory",
            f"{idle['process_maxrss_mib']:.0f} MiB max RSS of the process "
            f"({peak:.1f} MiB traced Python peak of an idle run)",
            "≤ 150 MiB",
            _mark(idle["process_maxrss_mib"] <= 150),
        ),
        *cli.summary_rows(results),
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

{cli.section(results)}
## How each number is made

- **Tag selection** (`benchmarks/tags.py`): `bot.core.discover.versions.select_tags` on 10,000 tags
  made from a fixed seed: releases, `v`-prefixed releases, pre-releases, build metadata,
  partial versions (`1.2`) and junk (`latest`, `sha-…`, `main-…`, `pr-…`), with
  `semverConstraint: ">=1.8.0 <2.0.0"` and `discoveryLimit: 20`; the median of repeated
  runs in one process (the first run included). Each tag is read once, by one regex,
  straight into a tuple that orders exactly as `semver.Version.compare` does (a
  hypothesis property in `tests/core/test_versions.py` proves it); constraint bounds
  carry the same tuples, parsed constraints and compiled regexes are cached, and only
  the best `discoveryLimit` candidates are ordered. Before that, selection compared
  `semver.Version` objects (about 60% of the time in `compare`/`to_tuple`). Both, run
  alternately in one process on this shared machine (5 rounds of 21 runs each, same
  tags, same picks): medians 41.5 to 63.6 ms before (best 40.0), 8.9 to 15.2 ms after
  (best 8.7); the spread is other work on the 2 cores, the best runs barely move.
- **Idle reconcile** (`benchmarks/idle.py`, in its own process): 100 warehouses of one
  image each (50 tags each), the shared fakes of `sandbox/fakes.py` (a counting registry and
  an in-memory compare-and-swap state store) and no GitHub (discovery only). Each case
  has its own world: a first run records the freight and every subscription's cache
  entry (200 requests: a tag list and a digest each; one write), then idle runs follow
  with nothing new in the registry, one minute after that write (ten minutes for "past
  cacheTTL": an idle run writes nothing, so the TTL counts from the last write). Requests
  are the fake registry's count per idle run, by kind (`tags-304`: a conditional tag list
  answered 304 Not Modified; `tags`: a full tag list, after which the cached digest of
  the unchanged best tag is reused); writes are state commits; wall time is the median
  of the timed idle runs; memory is the process's `ru_maxrss` (all cases) and the
  largest `tracemalloc` peak of one more idle run per case. The benchmark stops with an
  error instead of writing numbers if any run fails or the repeats disagree on their
  cost. No network time is included: against GHCR each request adds a round trip. A
  profile puts nearly all of the idle wall time in reading and re-rendering the ledger's
  YAML with pure-Python PyYAML, not in discovery: that is why a run inside cacheTTL,
  which asks nothing, takes about as long as one that asks.
- **`shunter --help`**: the console script in a fresh process, repeated, the installs
  taking turns run by run; the slowest imports at start-up
  (`python -X importtime -m bot --help`, cumulative) were:

  | Module | Cumulative import |
  | --- | --- |
{imports}

- **`shunter refresh warehouse flask-app`** (`benchmarks/cli.py`): the sandbox of `make demo`
  (`sandbox.world.SandboxWorld`: Debian's `docker-registry` on loopback holding one
  image, `flask-app:1.8.5`, and a clone of the flask-app GitOps repository); the first
  run records the freight on the state branch, the runs after it are timed, the
  installs taking turns run by run. Each run
  loads the config, reads the state branch with git and lists the tags (docker-registry
  sends no ETag, so in full); the best tag is unchanged, so its cached digest is reused.

{history.section(results["history"]) if "history" in results else ""}"""


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the results, and write ``BENCHMARKS.md``; return 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    machine = (
        f"{os.cpu_count()} cores ({_cpu()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start"
    )
    print(f"machine: {machine}", flush=True)
    results: dict[str, Any] = {}
    results["tags"] = tags.run()
    print(f"select_tags: {json.dumps(results['tags'])}", flush=True)
    results["idle"] = _idle()
    print(f"idle reconcile: {json.dumps(results['idle'])}", flush=True)
    with cli.installed_script() as installed, cli.installed_script(cli.BEFORE_REV) as before:
        scripts = {"before": before, "dev": cli.dev_script(), "installed": installed}
        results["help"] = cli.help_time(scripts)
        print(f"shunter --help: {json.dumps(results['help'])}", flush=True)
        results["imports"] = cli.slowest_imports()
        print(f"slowest imports: {results['imports']}", flush=True)
        results["refresh"] = cli.refresh_time(scripts)
        print(f"shunter refresh: {json.dumps(results['refresh'])}", flush=True)
    with tempfile.TemporaryDirectory(prefix="shunter-bench-") as tmp:
        results["history"] = history.run(Path(tmp))
    print(f"history: {json.dumps(results['history'])}", flush=True)
    if not args.no_write:
        date = datetime.now(UTC).strftime("%Y-%m-%d")
        (ROOT / "BENCHMARKS.md").write_text(render(results, machine, date))
        print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Whole-process times of the ``shunter`` command, as a workflow step pays them."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shunter() -> list[str]:
    script = Path(sys.executable).with_name("shunter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def _time(cmd: list[str], *, repeats: int, cwd: Path, env: dict[str, str]) -> list[float]:
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return times


def _summary(times: list[float]) -> dict[str, float | int]:
    return {"runs": len(times), "median_ms": statistics.median(times), "best_ms": min(times)}


def help_time(repeats: int = 15) -> dict[str, float | int]:
    """``shunter --help``: median and best whole-process time in ms."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    _time([*_shunter(), "--help"], repeats=2, cwd=ROOT, env=env)  # warm the file cache
    return _summary(_time([*_shunter(), "--help"], repeats=repeats, cwd=ROOT, env=env))


def slowest_imports(limit: int = 8) -> list[tuple[str, float]]:
    """The modules ``python -X importtime -m bot --help`` spends most time on (ms, cumulative)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    rows: list[tuple[str, float]] = []
    # Lines read "import time: <self us> | <cumulative us> | <indented module>".
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((name.strip(), int(cumulative) / 1000))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows[:limit]


def refresh_time(repeats: int = 10) -> dict[str, float | int]:
    """``shunter refresh warehouse flask-app`` against the sandbox's local registry
    (one image, tag 1.8.5) and GitOps checkout: median and best whole-process ms of the
    runs after the first (which records the freight)."""
    from sandbox.world import SandboxWorld

    with tempfile.TemporaryDirectory(prefix="shunter-bench-") as tmp:
        world = SandboxWorld(Path(tmp)).start()
        try:
            world.push("1.8.5")
            env = world.env()
            cmd = [*_shunter(), "refresh", "warehouse", "flask-app"]
            _time(cmd, repeats=1, cwd=world.checkout, env=env)
            return _summary(_time(cmd, repeats=repeats, cwd=world.checkout, env=env))
        finally:
            world.stop()

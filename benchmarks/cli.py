"""Whole-process times of the ``shunter`` command, as a workflow step pays them.

Each command is timed three ways, run by run in turn so that the machine's load falls on
each alike: a throwaway virtualenv holding ``pip install .`` of the current tree exactly
as ``action.yml`` installs it (what a workflow step pays), the same for commit
:data:`BEFORE_REV` (the tree before the last start-up work), and the development
virtualenv's console script (an editable install, whose import hook every process pays).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: The figures BENCHMARKS.md recorded before (2026-11-30 about 21:30 UTC, as the Action
#: installs it, load average 7.5 falling to 4.5): median ms. Kept for the record; this
#: machine's load moves every figure.
BEFORE = {"help": 69.0, "refresh": 696.0}
#: The commit before the last start-up work (every command's parser built for --help, the
#: step tables loaded for every config, the registry asked through ``requests``).
#: ``make bench`` installs it as the Action would and times it in turn with the current
#: tree, so before and after share the same load.
BEFORE_REV = "1474abc"
#: What issue 7 asks of a whole process: median ms.
TARGET = {"help": 60.0, "refresh": 150.0}


#: What a process must import before any of Shunter runs, as ``python -c`` code: the
#: interpreter and argparse for ``--help``; for a refresh also PyYAML (the config and the
#: ledger are YAML), ``http.client`` (the registry's tag list) and ``json`` (its answer).
FLOOR = {
    "help": "import argparse",
    "refresh": "import argparse, json, http.client, yaml",
}


def dev_script() -> list[str]:
    """The development virtualenv's ``shunter`` (an editable install)."""
    script = Path(sys.executable).with_name("shunter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


@contextmanager
def installed_script(rev: str | None = None) -> Iterator[list[str]]:
    """A fresh virtualenv with ``pip install .`` in it, as the Action makes; its ``shunter``.

    ``rev``: install that commit of this repository (``git archive``) instead of the tree.
    """
    with tempfile.TemporaryDirectory(prefix="shunter-bench-venv-") as tmp:
        source = ROOT
        if rev is not None:
            source = Path(tmp) / "source"
            source.mkdir()
            archive = subprocess.run(
                ["git", "archive", "--format=tar", rev],
                cwd=ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            subprocess.run(
                ["tar", "-x", "-C", str(source)], input=archive.stdout, check=True, timeout=120
            )
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", str(source)],
            check=True, timeout=900, capture_output=True,
        )  # fmt: skip
        yield [str(venv / "bin" / "shunter")]


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """One whole-process run of ``cmd``: wall-clock ms, and CPU ms (user + system, the
    process and the git it runs); raises if it fails. On a machine shared with other
    work the CPU time moves far less than the wall time."""
    cpu = _cpu_ms()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return elapsed, _cpu_ms() - cpu


def _alternate(
    scripts: dict[str, list[str]],
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    repeats: int,
) -> dict[str, dict[str, float | int]]:
    """Median and best wall ms, and median CPU ms, of ``SCRIPT ARGS`` for each script,
    after one untimed run each.

    The scripts take turns run by run, so load from other work on the machine falls on
    each alike.
    """
    for script in scripts.values():
        _run([*script, *args], cwd=cwd, env=env)  # warm the file cache; record the freight
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in scripts}
    for _ in range(repeats):
        for name, script in scripts.items():
            runs[name].append(_run([*script, *args], cwd=cwd, env=env))
    return {
        name: {
            "runs": len(r),
            "median_ms": statistics.median(wall for wall, _ in r),
            "best_ms": min(wall for wall, _ in r),
            "cpu_median_ms": statistics.median(cpu for _, cpu in r),
        }
        for name, r in runs.items()
    }


def _floor(scripts: dict[str, list[str]], key: str) -> dict[str, list[str]]:
    """``scripts`` and, as ``floor``, the interpreter of the ``installed`` one importing
    :data:`FLOOR` ``[key]``: what a whole process costs before a line of Shunter runs."""
    python = str(Path(scripts["installed"][0]).with_name("python"))
    return {**scripts, "floor": [python, "-c", FLOOR[key]]}


def instructions(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> int | None:
    """Instructions the process of ``cmd`` executes (valgrind's callgrind, the process
    alone: the git it starts is not counted), or ``None`` without valgrind.

    A count moves by well under 1% from run to run and not at all with the machine's
    load, where a time on this shared machine moves by 20-50%: it is the figure to
    compare across commits.
    """
    if shutil.which("valgrind") is None:
        return None
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed under valgrind: {done.stderr[-2000:]}")
    # callgrind's summary on stderr: "==PID== Collected : <instructions>".
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"valgrind printed no instruction count: {done.stderr[-2000:]}")


def _measure(
    scripts: dict[str, list[str]],
    args: list[str],
    key: str,
    *,
    cwd: Path,
    env: dict[str, str],
    repeats: int,
) -> dict[str, dict[str, float | int]]:
    """Times of ``SCRIPT ARGS`` for each script and of the floor (taking turns), then the
    instructions of each, counted after the timed runs (the first run records freight)."""
    scripts = _floor(scripts, key)
    timed = _alternate(
        {n: s + ([] if n == "floor" else args) for n, s in scripts.items()},
        [],
        cwd=cwd,
        env=env,
        repeats=repeats,
    )
    for name, script in scripts.items():
        count = instructions(script + ([] if name == "floor" else args), cwd=cwd, env=env)
        if count is not None:
            timed[name]["instructions"] = count
    return timed


def help_time(
    scripts: dict[str, list[str]], repeats: int = 25
) -> dict[str, dict[str, float | int]]:
    """``shunter --help``: median and best whole-process ms, and instructions, for each
    of ``scripts`` and the floor."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return _measure(scripts, ["--help"], "help", cwd=ROOT, env=env, repeats=repeats)


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


def refresh_time(
    scripts: dict[str, list[str]], repeats: int = 20
) -> dict[str, dict[str, float | int]]:
    """``shunter refresh warehouse flask-app`` against the sandbox's local registry
    (one image, tag 1.8.5) and GitOps checkout: median and best whole-process ms of the
    runs after the first (which records the freight), for each of ``scripts``."""
    from sandbox.world import SandboxWorld

    with tempfile.TemporaryDirectory(prefix="shunter-bench-") as tmp:
        world = SandboxWorld(Path(tmp)).start()
        try:
            world.push("1.8.5")
            args = ["refresh", "warehouse", "flask-app"]
            timed: dict[str, Any] = _measure(
                scripts, args, "refresh", cwd=world.checkout, env=world.env(), repeats=repeats
            )
            python = str(Path(scripts["installed"][0]).with_name("python"))
            timed["imports"] = import_shares([python, "-m", "bot", *args], world)
            timed["dataclasses"] = dataclass_cost(python, args, world)
            return timed
        finally:
            world.stop()


# Runs the command with each dataclass the process creates counted; the count goes last
# on stderr.
_COUNT_DATACLASSES = """
import dataclasses, sys
made = []
create = dataclasses._process_class
def counted(cls, *args, **kwargs):
    made.append(cls)
    return create(cls, *args, **kwargs)
dataclasses._process_class = counted
from bot.cli import main
code = main(sys.argv[1:])
print(len(made), file=sys.stderr)
sys.exit(code)
"""

# A hundred frozen dataclasses of three fields, each as a refresh's records are written.
_HUNDRED_DATACLASSES = """
from dataclasses import dataclass
for _ in range(100):
    @dataclass(frozen=True)
    class Record:
        \"\"\"A record.\"\"\"
        name: str
        count: int
        note: str = ""
"""


def dataclass_cost(python: str, args: list[str], world: Any) -> dict[str, float] | None:
    """How many dataclasses the command creates, and what creating one costs in
    instructions (a hundred made in a loop, less importing ``dataclasses``), with the
    import of ``dataclasses`` itself; ``None`` without valgrind."""
    done = subprocess.run(
        [python, "-c", _COUNT_DATACLASSES, *args],
        cwd=world.checkout, env=world.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"counting dataclasses failed: {done.stderr[-2000:]}")
    made = int(done.stderr.strip().splitlines()[-1])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    bare = instructions([python, "-c", "pass"], cwd=ROOT, env=env)
    imported = instructions([python, "-c", "import dataclasses"], cwd=ROOT, env=env)
    hundred = instructions([python, "-c", _HUNDRED_DATACLASSES], cwd=ROOT, env=env)
    if bare is None or imported is None or hundred is None:
        return None
    return {
        "created": made,
        "each": (hundred - imported) / 100,
        "import": float(imported - bare),
    }


def import_shares(cmd: list[str], world: Any, runs: int = 5) -> list[tuple[str, float]]:
    """Where ``cmd``'s imports spend their own time (``python -X importtime`` self times,
    the median of ``runs`` runs): each of Shunter's modules alone, every other package
    summed under its top-level name, largest first."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [cmd[0], "-X", "importtime", *cmd[1:]],
            cwd=world.checkout, env=world.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
        shares: dict[str, float] = {}
        # Lines read "import time: <self us> | <cumulative us> | <indented module>".
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            own, _cumulative, name = line.removeprefix("import time:").split("|")
            module = name.strip()
            key = module if module.startswith("bot.") else module.split(".")[0]
            shares[key] = shares.get(key, 0.0) + int(own) / 1000
        for key, ms in shares.items():
            samples.setdefault(key, []).append(ms)
    medians = {k: statistics.median(v + [0.0] * (runs - len(v))) for k, v in samples.items()}
    return sorted(medians.items(), key=lambda kv: kv[1], reverse=True)


def _timed(run: dict[str, Any]) -> str:
    return (
        f"{run['median_ms']:.0f} ms (best {run['best_ms']:.0f}; CPU {run['cpu_median_ms']:.0f} ms)"
    )


def _millions(run: dict[str, Any]) -> str:
    count = run.get("instructions")
    return f"{count / 1e6:,.0f} M" if count is not None else "not counted (no valgrind)"


TIMED_HEADER = (
    "| Command | Recorded | Before (`{rev}`), this session | Now, as the Action installs it "
    "| Now, editable | Floor | Target |"
)
COMMANDS = (("help", "`shunter --help`"), ("refresh", "`shunter refresh warehouse flask-app`"))


def section(results: dict[str, Any]) -> str:
    """The start-up section of ``BENCHMARKS.md`` for ``results`` (``help`` and
    ``refresh`` from :func:`help_time` and :func:`refresh_time`)."""
    timed = "\n".join(
        f"| {what} | {BEFORE[key]:.0f} ms | {_timed(results[key]['before'])} | "
        f"{_timed(results[key]['installed'])} | {_timed(results[key]['dev'])} | "
        f"{_timed(results[key]['floor'])} | ≤ {TARGET[key]:.0f} ms |"
        for key, what in COMMANDS
    )
    counted = "\n".join(
        f"| {what} | {_millions(results[key]['before'])} | {_millions(results[key]['installed'])} "
        f"| {_millions(results[key]['dev'])} | {_millions(results[key]['floor'])} |"
        for key, what in COMMANDS
    )
    shares = "\n".join(
        f"| `{name}` | {ms:.1f} ms |" for name, ms in results["refresh"]["imports"][:16]
    )
    floor = results["refresh"]["floor"]
    return f"""## Start-up, before and after

Whole-process wall-clock medians, the best run, and the median CPU time (user + system
of the process and the git it runs; other work on this shared machine stretches the
wall time far more than the CPU time, so compare within a row, not with another day).
"Recorded" is the previous `make bench` figure (its load is noted in `benchmarks/cli.py`).
"Before" is commit `{BEFORE_REV}`, the tree before the last start-up work, and "now" the
current tree, both installed as a workflow step installs them (a fresh virtualenv with
`pip install .`) and timed in turn, run by run, in this session; "editable" is the
development virtualenv (its import hook costs every process). "Floor" is the same
interpreter importing only what the command cannot run without, and nothing of Shunter:
for `--help`, `{FLOOR["help"]}`; for a refresh, whose config and ledger are YAML
and which asks the registry over HTTP, `{FLOOR["refresh"]}`.

{TIMED_HEADER.format(rev=BEFORE_REV)}
| --- | --- | --- | --- | --- | --- | --- |
{timed}

The same commands in instructions executed (valgrind's callgrind; the Python process
alone, not the git it starts), which the machine's load does not move:

| Command | Before (`{BEFORE_REV}`) | Now, as the Action installs it | Now, editable | Floor |
| --- | --- | --- | --- | --- |
{counted}

On this machine the refresh's floor alone takes {floor["median_ms"]:.0f} ms (best
{floor["best_ms"]:.0f}) against the {TARGET["refresh"]:.0f} ms target. Where a refresh's
imports spend their own time now (`python -X importtime`, as the Action installs it, the
median of 5 runs; Shunter's modules each alone, other packages summed):

| Module or package | Own import time |
| --- | --- |
{shares}
{_dataclass_text(results["refresh"])}"""


def _dataclass_text(refresh: dict[str, Any]) -> str:
    """What creating dataclasses costs a refresh, from :func:`dataclass_cost`."""
    cost = refresh.get("dataclasses")
    now, floor = refresh["installed"].get("instructions"), refresh["floor"].get("instructions")
    if cost is None or now is None or floor is None:
        return "\nDataclass costs are counted with valgrind, which this machine lacks.\n"
    own = now - floor
    spent = cost["created"] * cost["each"] + cost["import"]
    return f"""
Of the refresh's {now / 1e6:,.0f} million instructions, {floor / 1e6:,.0f} million are the
floor, so Shunter's own part is {own / 1e6:,.0f} million. Creating dataclasses is the largest
piece of it: the refresh creates {cost["created"]} (the typed records of the config, the
ledger, discovery, observations and the plan), {cost["each"] / 1e6:.1f} million instructions
each (the `dataclass` decorator compiles six methods per class), and importing
`dataclasses` (with `inspect` and `ast`) costs {cost["import"] / 1e6:.0f} million: together
{spent / 1e6:,.0f} million, {100 * spent / own:.0f}% of Shunter's own part.
"""


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The two rows of ``BENCHMARKS.md``'s first table: what, measured, target, verdict."""
    rows = []
    for key, what in COMMANDS:
        run = results[key]["installed"]
        rows.append(
            (
                f"{what}, whole process, as the Action installs it (median of {run['runs']})",
                f"{run['median_ms']:.0f} ms (best {run['best_ms']:.0f}); "
                f"floor {results[key]['floor']['median_ms']:.0f} ms",
                f"≤ {TARGET[key]:.0f} ms",
                "met" if run["median_ms"] <= TARGET[key] else "**missed**",
            )
        )
    return rows


def write(path: Path, results: dict[str, Any]) -> None:
    """Put :func:`section` of ``results`` in place of that section of ``path``
    (``BENCHMARKS.md``), and its rows in the first table, leaving the rest as it is."""
    text = path.read_text()
    for (what, measured, target, verdict), (_key, command) in zip(
        summary_rows(results), COMMANDS, strict=True
    ):
        start = text.index(f"| {command}, whole process")
        end = text.index("\n", start)
        text = text[:start] + f"| {what} | {measured} | {target} | {verdict} |" + text[end:]
    start = text.index("## Start-up, before and after")
    end = text.find("\n## ", start + 1)
    rest = text[end + 1 :] if end != -1 else ""
    path.write_text(text[:start] + section(results) + ("\n" + rest if rest else ""))


def main(argv: list[str]) -> int:
    """``python -m benchmarks.cli write``: measure start-up alone and rewrite its section
    of ``BENCHMARKS.md`` in place (``make bench`` writes the whole file)."""
    if argv != ["write"]:
        print("usage: python -m benchmarks.cli write", file=sys.stderr)
        return 2
    with installed_script() as installed, installed_script(BEFORE_REV) as before:
        scripts = {"before": before, "dev": dev_script(), "installed": installed}
        results = {"help": help_time(scripts), "refresh": refresh_time(scripts)}
    print(json.dumps(results), flush=True)
    write(ROOT / "BENCHMARKS.md", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

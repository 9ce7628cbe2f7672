"""The flask-app world with real latency, and the real ``shunter`` command run as processes.

``OverlapWorld`` is ``SandboxWorld`` seen through ``LatencyProxy``s: every GitHub call and
every registry call takes a random round trip, every remote git command too
(``slow_git``). Runs are separate ``python -m bot`` processes, each with its own clone,
runner temp folder and real clock, as separate workflow runs (or a person's laptop) are.
The tests read the outcome as state: files on ``main``, pull requests, the ledger.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.latency import LatencyProxy, slow_git
from sandbox.registry import LocalRegistry, push_image
from sandbox.world import REPOSITORY, USERS, SandboxWorld, _git

__all__ = ["OverlapWorld", "Run", "manifest_versions"]

ROOT = Path(__file__).resolve().parents[1]

#: Where each stage's version lives in the flask-app example, and how to read it.
STAGE_FILES = {
    "dev": "env/dev/kustomization.yaml",
    "staging": "env/staging/kustomization.yaml",
    "prod": "env/prod/values.yaml",
}


@dataclass
class _Via:
    """The registry as runs reach it (through the proxy); pushes go to the real one."""

    host: str
    real: LocalRegistry

    def stop(self) -> None:
        """Not ours to stop."""


@dataclass
class Run:
    """One ``shunter`` process."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[str]
    folder: Path
    output: str = ""
    code: int | None = None

    def wait(self, timeout: float = 240) -> int:
        out, _ = self.proc.communicate(timeout=timeout)
        self.output = out
        self.code = self.proc.returncode
        return self.code

    @property
    def annotations(self) -> list[str]:
        """The workflow commands (``::error``/``::warning``) the run printed."""
        return [
            line for line in self.output.splitlines() if line.startswith(("::error", "::warning"))
        ]


@dataclass
class OverlapWorld:
    """A running flask-app world behind proxies; see the module docstring."""

    root: Path
    registry: LocalRegistry
    image_path: str
    overrides: dict[str, str] = field(default_factory=dict)
    delay: tuple[float, float] = (0.02, 0.08)
    world: SandboxWorld = field(init=False)
    github_proxy: LatencyProxy = field(init=False)
    registry_proxy: LatencyProxy = field(init=False)
    bin: Path = field(init=False)
    _runs: int = field(init=False, default=0)

    def start(self) -> OverlapWorld:
        self.registry_proxy = LatencyProxy(f"http://{self.registry.host}", delay=self.delay).start()
        via = _Via(self.registry_proxy.host, self.registry)
        self.world = SandboxWorld(
            self.root / "world",
            registry=via,  # type: ignore[arg-type]  # only .host is read for the config
            image_path=self.image_path,
            overrides=self.overrides,
        ).start()
        assert self.world.github is not None
        self.github_proxy = LatencyProxy(self.world.github.base_url, delay=self.delay).start()
        self.bin = slow_git(self.root / "slow-bin", delay=self.delay)
        return self

    def stop(self) -> None:
        self.github_proxy.stop()
        self.world.stop()
        self.registry_proxy.stop()

    @property
    def bare(self) -> Path:
        return self.world.bare

    def push(self, tag: str) -> str:
        """Push ``flask-app:<tag>`` straight to the registry (not through the replica)."""
        return push_image(
            self.registry.host,
            self.image_path,
            tag,
            workdir=self.root / "images",
            content=f"flask-app {tag}",
        )

    def env(
        self, folder: Path, *, login: str = "shunter-bot", action: bool = False
    ) -> dict[str, str]:
        """What a workflow step (``action``) or a person's shell gives the command."""
        env = {
            "GITHUB_TOKEN": USERS[login],
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": f"{self.github_proxy.url}/api/v3",
            "GITHUB_ACTOR": login,
            "SHUNTER_CONFIG": str(folder / "checkout" / "kargo"),
            "GITHUB_WORKSPACE": str(folder / "checkout"),
            "RUNNER_TEMP": str(folder / "tmp"),
            "HOME": str(folder),
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            # As a team sets it for emergency commands run with a person's own token, so
            # that run knows which promotion PRs are the bot's (README, Security).
            "SHUNTER_BOT_LOGIN": "shunter-bot",
        }
        if action:
            summary, output = folder / "summary.md", folder / "output.txt"
            summary.touch()
            output.touch()
            env.update(
                GITHUB_ACTIONS="true",
                GITHUB_EVENT_NAME="schedule",
                GITHUB_STEP_SUMMARY=str(summary),
                GITHUB_OUTPUT=str(output),
                GITHUB_TRIGGERING_ACTOR=login,
            )
        return env

    def start_run(
        self,
        *args: str,
        login: str = "shunter-bot",
        action: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> Run:
        """Start ``python -m bot <args>`` in a fresh clone (as a new workflow run would)."""
        self._runs += 1
        name = f"run-{self._runs:02d}"
        folder = self.root / "runs" / name
        (folder / "tmp").mkdir(parents=True)
        _git(folder, "clone", "-q", str(self.bare), str(folder / "checkout"))
        env = self.env(folder, login=login, action=action)
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "bot", *args]
        proc = subprocess.Popen(
            argv,
            cwd=folder / "checkout",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return Run(name, argv, proc, folder)

    def run(self, *args: str, **kw: Any) -> Run:
        """Run to completion; return the finished ``Run``."""
        r = self.start_run(*args, **kw)
        r.wait()
        return r

    def get(self, kind: str) -> Any:
        """``shunter get <kind> -o json`` against the remote ledger, parsed. It only reads,
        so it runs in this process (the command is the same; a process start is not)."""
        from bot.cli import main

        self._runs += 1
        folder = self.root / "runs" / f"get-{self._runs:02d}"
        (folder / "tmp").mkdir(parents=True)
        _git(folder, "clone", "-q", str(self.bare), str(folder / "checkout"))
        out = io.StringIO()
        code = main(["get", kind, "-o", "json"], env=self.env(folder), out=out)
        assert code == 0, out.getvalue()
        return json.loads(out.getvalue())

    def git(self, *args: str) -> str:
        """Run git in the bare GitOps repository (the remote's truth)."""
        return _git(self.bare, *args)

    def state_head(self) -> str | None:
        """The ledger branch's head on the remote, or None before the first write."""
        heads = self.git("for-each-ref", "--format=%(objectname)", "refs/heads/shunter/state")
        return heads or None

    def __enter__(self) -> OverlapWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _version_in(path: str, text: str) -> str | None:
    import yaml

    doc = yaml.safe_load(text) or {}
    if path.endswith("values.yaml"):
        tag = (doc.get("image") or {}).get("tag")
        return None if tag is None else str(tag)
    for image in doc.get("images") or []:
        if "newTag" in image:
            return str(image["newTag"])
    return None


def manifest_versions(bare: Path, stage: str) -> list[str | None]:
    """Every version stage ``stage``'s manifest on ``main`` has held, oldest first."""
    path = STAGE_FILES[stage]
    shas = _git(bare, "log", "--reverse", "--format=%H", "main", "--", path).split()
    return [_version_in(path, _git(bare, "show", f"{sha}:{path}")) for sha in shas]


def main_version(bare: Path, stage: str) -> str | None:
    """The version ``main`` says ``stage`` runs now."""
    path = STAGE_FILES[stage]
    return _version_in(path, _git(bare, "show", f"main:{path}"))

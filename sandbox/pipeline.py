"""The seed's flask-app pipeline driven end to end, the way the Action drives it.

``Pipeline`` runs the real ``shunter`` command (``bot.cli.main``) against a running
``SandboxWorld`` with a simulated clock that the GitHub sandbox's timestamps follow;
``pipeline_world`` starts such a world, yields its ``Pipeline`` and checks every answer
the GitHub sandbox gave against GitHub's REST description. The end-to-end tests share
both.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import github
import yaml
from github import Auth
from github.PullRequest import PullRequest
from github.Repository import Repository

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog, checked_world
from sandbox.registry import LocalRegistry
from sandbox.world import REPOSITORY, USERS, SandboxWorld

#: The bot's identity in the sandbox world (a machine user's token).
BOT = "shunter-bot"

#: Where the simulated clock starts.
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class Pipeline:
    """A running world plus the clock the next ``shunter`` command reads."""

    def __init__(self, world: SandboxWorld) -> None:
        self.w = world
        self.now = T0

    def shunter(self, *args: str, login: str = "shunter-bot", expect: int = 0, **env: str) -> str:
        """Run ``shunter *args`` as ``login``; return its output, asserting its exit code."""
        out = io.StringIO()
        # As a team sets it for emergency commands run with their own tokens.
        e = self.w.env(login=login, SHUNTER_NOW=self.now.isoformat(), SHUNTER_BOT_LOGIN=BOT)
        e.update(env)
        code = main(["--repo-dir", str(self.w.checkout), *args], env=e, out=out)
        assert code == expect, out.getvalue()
        return out.getvalue()

    def gh(self, login: str = "alice") -> github.Github:
        """A PyGithub client authenticated as ``login``."""
        assert self.w.github is not None
        return github.Github(auth=Auth.Token(USERS[login]), base_url=self.w.github.api_url)

    def pr(self, number: int, login: str = "alice") -> PullRequest:
        """Pull request ``number`` of the GitOps repository, as ``login`` sees it."""
        return self.gh(login).get_repo(REPOSITORY).get_pull(number)

    def stages(self) -> dict[str, dict[str, Any]]:
        """``shunter get stages -o json``, keyed by stage name."""
        rows = json.loads(self.shunter("get", "stages", "-o", "json"))
        return {r["name"]: r for r in rows}

    def version(self, stage: str) -> str | None:
        """The app image's tag ``stage`` runs according to the ledger, or None (a freight
        that carries the example's chart too is still named by its image)."""
        cur = self.stages()[stage]["currentFreight"]
        if cur is None:
            return None
        (freight,) = [
            f for f in json.loads(self.shunter("get", "freight", "-o", "json"))
            if f["name"] == cur["name"]
        ]  # fmt: skip
        return str(freight["images"][0]["tag"])

    def dispatch(self, login: str) -> str:
        """``login`` starts the Shunter workflow by hand (``workflow_dispatch``); return
        the id of the run it started."""
        assert self.w.github is not None
        assert self.repo(login).get_workflow("shunter.yml").create_dispatch("main")
        return str(self.w.github.runs(REPOSITORY)[0].id)

    def repo(self, login: str = "alice") -> Repository:
        """The GitOps repository, as ``login`` reaches it through PyGithub."""
        return self.gh(login).get_repo(REPOSITORY)

    def operations(self) -> list[dict[str, Any]]:
        """The ledger's record of emergency operations (``operations.yaml``)."""
        text = subprocess.run(
            ["git", "show", "shunter/state:operations.yaml"],
            cwd=self.w.bare,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return list(yaml.safe_load(text) or [])

    def prod_pr(self, *, push: bool = True) -> int:
        """Push 1.8.4 (unless the test already has), let it reach staging, and return the
        number of prod's waiting PR."""
        if push:
            self.w.push("1.8.4")
        self.shunter("reconcile")
        self.now += timedelta(minutes=31)
        self.shunter("reconcile")
        return int(self.stages()["prod"]["promotion"]["pr"])

    def writes(self) -> int:
        """How many writing requests the GitHub sandbox has answered so far."""
        assert self.w.github is not None
        return len(self.w.github.write_requests())

    def state_head(self) -> str:
        """The commit the ledger branch ``shunter/state`` points at."""
        return subprocess.run(
            ["git", "rev-parse", "refs/heads/shunter/state"],
            cwd=self.w.bare,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


def image_path_for(prefix: str, test_name: str) -> str:
    """A registry path of its own for one test's images: ``prefix/`` and the test's name
    in lower case, anything but letters and digits made a dash."""
    return f"{prefix}/" + re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")


@contextmanager
def pipeline_world(
    root: Path,
    registry: LocalRegistry,
    image_path: str,
    overrides: dict[str, str] | None = None,
    *,
    conformance: ConformanceLog,
) -> Iterator[Pipeline]:
    """Start a ``SandboxWorld`` under ``root`` (images under ``image_path`` in the shared
    ``registry``, repository files replaced by ``overrides``) and yield its ``Pipeline``.

    When the block ends without error, every answer the GitHub sandbox gave is checked
    against GitHub's REST description (``conformance``); a non-conforming one fails it."""
    world = SandboxWorld(root, registry=registry, image_path=image_path, overrides=overrides or {})
    with checked_world(world, conformance) as w:
        p = Pipeline(w)
        assert w.github is not None
        w.github.clock = lambda: p.now  # GitHub's timestamps follow the simulated clock
        yield p

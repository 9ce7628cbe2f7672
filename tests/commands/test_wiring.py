"""The adapters a run builds are the ones its config needs: a git source when a warehouse
follows a git repository, none when every subscription is an image (so a refresh does
not import what it will not use). Decided by the freight recorded and the modules a
fresh ``shunter`` process imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sandbox.fixtures.gitrepos import git, make_remote

CONFIG = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: src
spec:
  subscriptions:
    - git:
        repoURL: {url}
        branch: main
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  subscriptions:
    warehouse: src
  promotionPolicy:
    autoPromotionEnabled: false
"""


def shunter(argv: list[str], work: Path) -> tuple[str, set[str]]:
    """Run ``python -m bot ARGV`` in ``work``; return its stdout and the modules it imported."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUNNER_TEMP": str(work.parent)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *argv],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    mods = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }
    return done.stdout, mods


def test_a_git_subscription_gets_a_git_source_and_its_commit_becomes_freight(
    tmp_path: Path,
) -> None:
    source = make_remote(tmp_path, {"README.md": "app\n"}, name="app")
    head = git(source, "rev-parse", "main")
    gitops = make_remote(
        tmp_path, {"kargo/pipeline.yaml": CONFIG.format(url=source)}, name="gitops"
    )
    work = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(gitops), str(work))
    _, mods = shunter(["refresh", "warehouse", "src"], work)
    assert "bot.adapters.gitsource" in mods
    assert "bot.adapters.helm" not in mods  # no chart subscription, no Helm client
    out, _ = shunter(["get", "freight", "-o", "json"], work)
    (freight,) = json.loads(out)
    assert [c["id"] for c in freight["commits"]] == [head]

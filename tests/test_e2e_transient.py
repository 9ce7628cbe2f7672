"""A registry that is down for a while ends a run with 75 (the next run retries), never 1;
a failure a person must fix beside it ends the run with 1; and the ledger is left as it
was or moved forward, never corrupted, so the run after the outage picks up the new tag.

Real ``shunter`` processes as the Action runs them, the real registry behind a proxy that
answers 503 (with a real round trip per request), real git, the GitHub sandbox. Decided
by exit codes, the annotations GitHub would act on, and the ledger read back with
``shunter get … -o json``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import EXIT_ACT, EXIT_OK, EXIT_TRANSIENT
from sandbox.overlap import OverlapWorld
from sandbox.registry import LocalRegistry

# A second warehouse whose repository was never pushed: the registry answers 404, a
# failure only a person can fix (the repoURL is wrong). It is asked directly, not through
# the proxy that plays the outage.
MISSING = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: sidecar
  namespace: flask-app
spec:
  subscriptions:
    - image:
        repoURL: {host}/e2e/transient-never-pushed
"""


@pytest.fixture
def world(tmp_path: Path, oci_registry: LocalRegistry) -> Iterator[OverlapWorld]:
    with OverlapWorld(tmp_path, oci_registry, "e2e/transient") as w:
        yield w


def versions(w: OverlapWorld) -> list[str]:
    """The image tags of the freight in the ledger, as ``shunter get freight -o json`` says."""
    rows: list[dict[str, Any]] = w.get("freight")
    return sorted(str(i["tag"]) for r in rows for i in r["images"])


def descends(w: OverlapWorld, old: str | None, new: str | None) -> bool:
    """Whether the ledger branch's head ``new`` is ``old`` or a commit after it."""
    if old is None or new is None:
        return old == new or old is None
    done = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=w.bare, check=False)
    return done.returncode == 0


def test_a_registry_outage_exits_75_and_the_ledger_only_moves_forward(
    world: OverlapWorld,
) -> None:
    w = world
    w.push("1.8.4")
    first = w.run("refresh", "warehouse", "flask-app")
    assert first.code == EXIT_OK, first.output
    assert versions(w) == ["1.8.4"]
    before = w.state_head()

    w.registry_proxy.outage = 503
    w.push("1.8.5")  # pushed while the registry's front door is down
    down = w.run("refresh", "warehouse", "flask-app")
    assert down.code == EXIT_TRANSIENT, down.output
    down = w.run("reconcile", action=True)
    assert down.code == EXIT_TRANSIENT, down.output
    # GitHub shows it as a warning (heals by itself), and nothing as an error.
    assert any(a.startswith("::warning") for a in down.annotations), down.output
    assert not [a for a in down.annotations if a.startswith("::error")], down.output
    assert any(x.status == 503 for x in w.registry_proxy.exchanges)  # really asked, 503'd
    after = w.state_head()
    assert descends(w, before, after)
    assert versions(w) == ["1.8.4"]  # what was known is kept; nothing half-written

    w.registry_proxy.outage = None
    back = w.run("refresh", "warehouse", "flask-app")
    assert back.code == EXIT_OK, back.output
    assert versions(w) == ["1.8.4", "1.8.5"]
    assert descends(w, after, w.state_head())


def test_an_outage_beside_a_failure_a_person_must_fix_exits_1(
    tmp_path: Path, oci_registry: LocalRegistry
) -> None:
    extra = {"kargo/sidecar.yaml": MISSING.format(host=oci_registry.host)}
    with OverlapWorld(tmp_path, oci_registry, "e2e/transient-mix", overrides=extra) as w:
        w.push("1.8.4")
        w.registry_proxy.outage = 503
        mixed = w.run("reconcile", action=True)
        assert mixed.code == EXIT_ACT, mixed.output
        assert [a for a in mixed.annotations if a.startswith("::error")], mixed.output
        # The same outage alone is transient: asking only the warehouse behind it.
        alone = w.run("refresh", "warehouse", "flask-app")
        assert alone.code == EXIT_TRANSIENT, alone.output
        w.registry_proxy.outage = None
        assert w.run("refresh", "warehouse", "flask-app").code == EXIT_OK
        assert versions(w) == ["1.8.4"]

"""What the Action publishes is made from the run's typed outcomes, and agrees with the
ledger: the ``promotions`` output lists exactly the promotions the ledger recorded this
run, and the state commit lists the changes. Real command, real registry, real git, the
GitHub sandbox.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry


@pytest.fixture
def pipeline(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> Iterator[Pipeline]:
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/outcomes", conformance=github_conformance
    ) as p:
        yield p


def outputs(path: Path) -> dict[str, str]:
    """Read GITHUB_OUTPUT the way the runner does (``name<<DELIM`` ... ``DELIM``)."""
    out: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        name, _, delim = line.partition("<<")
        value = []
        for body in lines:
            if body == delim:
                break
            value.append(body)
        out[name] = "\n".join(value)
    return out


def in_actions(p: Pipeline, tmp: Path) -> tuple[list[str], Path]:
    """``shunter reconcile`` as the Action runs it; the promotions output and the summary."""
    out, summary = tmp / "output", tmp / "summary.md"
    out.write_text("")
    p.shunter(
        "reconcile",
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(out),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    return json.loads(outputs(out)["promotions"]), summary


def succeeded(p: Pipeline) -> list[dict[str, object]]:
    rows = json.loads(p.shunter("get", "promotions", "-o", "json"))
    return [r for r in rows if r["status"] == "Succeeded"]


def state_message(p: Pipeline) -> str:
    return subprocess.run(
        ["git", "log", "-1", "--format=%B", "refs/heads/shunter/state"],
        cwd=p.w.bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_promotions_output_and_state_commit_agree_with_the_ledger(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    p = pipeline
    p.w.push("1.8.4")
    promoted, summary = in_actions(p, tmp_path)
    (dev,) = succeeded(p)
    assert dev["stage"] == "dev"
    assert len(promoted) == 1 and promoted[0].startswith("dev: ")
    assert str(dev["alias"]) in promoted[0] and f"PR #{dev['pr']}" in promoted[0]
    message = state_message(p)
    bullets = [line for line in message.splitlines() if line.startswith("- ")]
    assert f"- {promoted[0]}" in bullets  # the commit lists the same change
    assert any(line.startswith("- flask-app: ") for line in bullets)  # the new freight
    assert promoted[0] in summary.read_text()

    # Nothing new: nothing promoted, no ledger commit.
    head = p.state_head()
    p.now += timedelta(minutes=5)
    promoted, _ = in_actions(p, tmp_path)
    assert (promoted, p.state_head()) == ([], head)

    # The soak is over: staging is promoted, and only staging is listed.
    p.now += timedelta(minutes=26)
    promoted, _ = in_actions(p, tmp_path)
    now_succeeded = succeeded(p)
    assert [r["stage"] for r in now_succeeded] == ["staging", "dev"]
    assert len(promoted) == 1 and promoted[0].startswith("staging: ")

"""The seed's flask-app pipeline end to end: real registry, real git, PyGithub over HTTP.

Each test drives the real ``shunter`` command (``bot.cli.main``) the way the Action
does, against ``SandboxWorld``: Debian's docker-registry with images pushed by skopeo, a
bare GitOps repository, and the GitHub REST sandbox backed by it.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import github
import pytest
import yaml

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.kargo_steps import SEED_OVERRIDES
from sandbox.pipeline import T0, Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import ACTIONS_BOT, REPOSITORY


@pytest.fixture(params=["gitRepoUpdates", "kargo-steps"])
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    """The seed's pipeline as the example writes it, and the same pipeline in Kargo 1.x
    steps (``examples/flask-app/kargo-steps``): every story must hold for both."""
    # Each test gets its own image repository in the shared registry.
    path = "e2e/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    overrides = SEED_OVERRIDES if request.param == "kargo-steps" else None
    with pipeline_world(
        tmp_path / "world", oci_registry, path, overrides, conformance=github_conformance
    ) as p:
        yield p


def test_seed_pipeline_dev_staging_prod(pipeline: Pipeline) -> None:
    p = pipeline
    before_dev = p.w.main_file("env/dev/kustomization.yaml")
    p.w.push("1.8.4")

    out = p.shunter("reconcile")
    # The Kargo-steps variant's freight carries the example's chart too.
    assert re.search(
        r"staging: 1\.8\.4( \+ chart \S+)? waits 30m more for autoPromotionDelay 30m", out
    )
    assert p.version("dev") == "1.8.4"
    assert p.version("staging") is None
    after_dev = p.w.main_file("env/dev/kustomization.yaml")
    changed = [
        (a, b)
        for a, b in zip(before_dev.splitlines(), after_dev.splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1 and "1.8.4" in changed[0][1], changed

    # Nothing new: no GitHub write and no ledger commit.
    writes, head = p.writes(), p.state_head()
    p.now += timedelta(minutes=5)
    out = p.shunter("reconcile")
    assert re.search(r"staging: 1\.8\.4( \+ chart \S+)? waits 25m more", out)
    assert (p.writes(), p.state_head()) == (writes, head)

    p.now += timedelta(minutes=26)
    p.shunter("reconcile")
    assert p.version("staging") == "1.8.4"
    prod = p.stages()["prod"]
    assert prod["currentFreight"] is None
    number = prod["promotion"]["pr"]
    pr = p.pr(number)
    assert pr.state == "open" and "approvals: 0 of 2" in pr.body
    requested = {u.login for u in pr.get_review_requests()[0]}
    assert requested == {"tech-lead"}

    # An ineligible reviewer and one eligible approval are not enough.
    p.pr(number, "mallory").create_review(event="APPROVE")
    p.pr(number, "alice").create_review(event="APPROVE")
    out = p.shunter("reconcile")
    assert "approvals: 1 of 2 (alice)" in out
    assert p.pr(number).state == "open"
    assert "mallory (not an eligible approver)" in p.pr(number).body

    checks = p.gh().get_repo(REPOSITORY).get_commit(p.pr(number).head.sha).get_check_runs()
    (check,) = [c for c in checks if c.name == "shunter/gate"]
    assert check.status == "in_progress" and check.conclusion is None

    p.pr(number, "tech-lead").create_review(event="APPROVE")
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert p.version("prod") == "1.8.4"
    values = yaml.safe_load(p.w.main_file("env/prod/values.yaml"))
    assert values["image"]["tag"] == "1.8.4"

    metrics = subprocess.run(
        ["git", "show", "shunter/state:metrics.prom"], cwd=p.w.bare, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert 'shunter_promotions_total{stage="prod",status="Succeeded"} 1' in metrics
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert [(r["stage"], r["status"]) for r in reversed(promotions)] == [
        ("dev", "Succeeded"),
        ("staging", "Succeeded"),
        ("prod", "Succeeded"),
    ]
    assert promotions[0]["by"] == "shunter-bot"  # the bot merged once the quorum held
    # The squash commit carries the stage's commit message template.
    log = subprocess.run(
        ["git", "log", "-1", "--format=%B", "main"],
        cwd=p.w.bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "1.8.4" in log and "prod" in log


def test_approvals_on_an_old_head_do_not_count(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "alice").create_review(event="APPROVE")
    p.pr(number, "tech-lead").create_review(event="APPROVE")
    # Before the next run, 1.8.5 arrives and goes through dev and staging...
    p.w.push("1.8.5")
    p.shunter("refresh", "warehouse", "flask-app")  # no GitHub API needed for this
    p.now += timedelta(minutes=1)
    # ...but prod has two approvals for 1.8.4 now: the run merges it first.
    p.shunter("reconcile")
    assert p.version("prod") == "1.8.4"
    assert p.version("dev") == "1.8.5"
    p.now += timedelta(minutes=31)
    p.shunter("reconcile")
    prod = p.stages()["prod"]
    new_number = prod["promotion"]["pr"]
    new_pr = p.pr(new_number)
    assert "1.8.5" in new_pr.title
    # The old approvals were for another PR/head: the rewritten PR starts at 0.
    assert "approvals: 0 of 2" in new_pr.body


def test_rewritten_pr_resets_approvals(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "alice").create_review(event="APPROVE")
    p.w.push("1.8.5")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    p.now += timedelta(minutes=31)
    p.shunter("reconcile")  # staging takes 1.8.5, prod's PR is rewritten in place
    assert p.stages()["prod"]["promotion"]["pr"] == number
    pr = p.pr(number)
    assert "1.8.5" in pr.title
    p.pr(number, "tech-lead").create_review(event="APPROVE")
    out = p.shunter("reconcile")
    # alice approved the 1.8.4 head; only tech-lead's approval is on the new head.
    assert "approvals: 1 of 2 (tech-lead)" in out
    assert p.pr(number).state == "open"


def test_person_merging_manual_pr_is_recorded(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "carol").merge(merge_method="squash", sha=p.pr(number).head.sha)
    p.shunter("reconcile")
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert (promotions[0]["stage"], promotions[0]["by"]) == ("prod", "carol")
    assert p.version("prod") == "1.8.4"


def test_read_only_commands_need_no_api(pipeline: Pipeline) -> None:
    p = pipeline
    p.w.push("1.8.4")
    env = p.w.env()
    del env["GITHUB_TOKEN"]
    base = ["--repo-dir", str(p.w.checkout)]
    out = io.StringIO()
    assert main([*base, "refresh", "warehouse", "flask-app"], env=env, out=out) == 0
    assert "new freight" in out.getvalue()
    out = io.StringIO()
    assert main([*base, "reconcile", "--dry-run"], env=env, out=out) == 0
    assert "would open" in out.getvalue()
    out = io.StringIO()
    assert main([*base, "get", "freight", "-o", "json"], env=env, out=out) == 0
    (freight,) = json.loads(out.getvalue())
    assert freight["images"][0]["tag"] == "1.8.4"
    out = io.StringIO()
    assert main([*base, "describe", "freight", freight["alias"]], env=env, out=out) == 0
    assert freight["name"] in out.getvalue()
    assert p.writes() == 0


def test_concurrent_runs_lose_nothing(pipeline: Pipeline) -> None:
    """Several reconciles at once, each from its own checkout of one remote."""
    p = pipeline
    p.w.push("1.8.4")
    clones = []
    for i in range(4):
        c = p.w.root / f"clone{i}"
        subprocess.run(["git", "clone", "-q", str(p.w.bare), str(c)], check=True)
        clones.append(c)
    env = {
        **p.w.env(),
        "SHUNTER_NOW": T0.isoformat(),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "SHUNTER_CONFIG": str(clones[0] / "kargo"),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "--repo-dir", str(c), "reconcile"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clones
    ]
    results = [pr.communicate(timeout=240) for pr in procs]
    codes = [pr.returncode for pr in procs]
    # A run that lost a merge race may report it; none may corrupt or lose the ledger.
    assert all(c in (0, 1) for c in codes), results
    p.shunter("reconcile")
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    dev = [r for r in promotions if r["stage"] == "dev" and r["status"] == "Succeeded"]
    assert len(dev) == 1, promotions
    freight = json.loads(p.shunter("get", "freight", "-o", "json"))
    assert len(freight) == 1
    # Exactly one promotion PR for dev was merged; a twin opened in the same instant by
    # a concurrent run is closed as a duplicate, never merged.
    pulls = list(p.gh().get_repo(REPOSITORY).get_pulls(state="all"))
    assert [pr.head.ref for pr in pulls if pr.merged].count("shunter/dev") == 1
    assert not [pr for pr in pulls if pr.state == "open" and pr.head.ref == "shunter/dev"]


def test_rollback_holds_until_released(pipeline: Pipeline) -> None:
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    old = p.stages()["dev"]["currentFreight"]["alias"]
    p.w.push("1.8.5")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.5"

    out = p.shunter("promote", old, "--to", "dev", "--reason", "1.8.5 crashes", login="carol")
    assert p.version("dev") == "1.8.4"
    dev = p.stages()["dev"]
    assert dev["hold"] == "1.8.5 crashes"
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert (promotions[0]["kind"], promotions[0]["by"], promotions[0]["reason"]) == (
        "rollback",
        "carol",
        "1.8.5 crashes",
    )
    # The hold stops auto-promotion of the newer freight.
    p.now += timedelta(minutes=5)
    out = p.shunter("reconcile")
    assert "held" in out and p.version("dev") == "1.8.4"
    p.shunter("release-hold", "dev", login="carol")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.5"


def test_skip_staging_in_an_emergency(pipeline: Pipeline) -> None:
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    p.shunter("promote", "--from", "dev", "--to", "prod", "--reason", "CVE fix", login="tech-lead")
    assert p.version("prod") == "1.8.4"  # no approvals needed for an emergency promotion
    assert p.version("staging") is None
    record = json.loads(p.shunter("get", "promotions", "-o", "json"))[0]
    assert (record["stage"], record["kind"], record["by"]) == ("prod", "emergency", "tech-lead")


def test_emergency_operations_check_who_asks(pipeline: Pipeline) -> None:
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    head = p.state_head()
    out = io.StringIO()
    e = p.w.env(login="mallory", GITHUB_ACTOR="mallory", SHUNTER_NOW=p.now.isoformat())
    code = main(
        ["--repo-dir", str(p.w.checkout), "promote", "--from", "dev", "--to", "prod",
         "--reason", "trust me"],
        env=e, out=out,
    )  # fmt: skip
    assert code == 1
    assert p.state_head() == head  # nothing recorded, nothing promoted
    assert p.version("prod") is None


def test_pause_and_resume(pipeline: Pipeline) -> None:
    p = pipeline
    p.shunter("pause", "dev", "--reason", "freeze", login="tech-lead")
    p.w.push("1.8.4")
    out = p.shunter("reconcile")
    assert "paused by tech-lead: freeze" in out
    assert p.version("dev") is None
    p.shunter("resume", "dev", login="tech-lead")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"
    ops = yaml.safe_load(
        subprocess.run(
            ["git", "show", "shunter/state:operations.yaml"], cwd=p.w.bare, capture_output=True,
            text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert [(o["operation"], o["by"], o["reason"]) for o in ops] == [
        ("pause", "tech-lead", "freeze"),
        ("resume", "tech-lead", ""),
    ]


def test_github_failure_loses_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.w.github.inject_fault("PUT", r"/pulls/\d+/merge$", 502, times=20)
    out = p.shunter("reconcile", expect=75)  # transient: the next run merges
    # The freight and the opened PR are in the ledger; the merge waits for the next run.
    assert p.version("dev") is None
    assert p.stages()["dev"]["promotion"]["pr"] is not None
    freight = json.loads(p.shunter("get", "freight", "-o", "json"))
    assert len(freight) == 1
    assert "dev" in out
    p.w.github._faults.clear()  # GitHub recovers
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"


def test_the_same_person_approving_twice_counts_once(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "alice").create_review(event="APPROVE")
    p.pr(number, "alice").create_review(event="APPROVE")
    out = p.shunter("reconcile")
    assert "approvals: 1 of 2 (alice)" in out
    assert p.pr(number).state == "open"


def test_the_bot_cannot_approve_its_own_promotion(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    with pytest.raises(github.GithubException) as refused:
        p.pr(number, "shunter-bot").create_review(event="APPROVE")
    assert refused.value.status == 422  # GitHub refuses; Shunter would not count it either
    p.pr(number, "tech-lead").create_review(event="APPROVE")
    p.shunter("reconcile")
    assert p.pr(number).state == "open"


def test_changes_requested_by_an_approver_blocks(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "alice").create_review(event="APPROVE")
    p.pr(number, "tech-lead").create_review(event="APPROVE")
    p.pr(number, "bob").create_review(event="REQUEST_CHANGES", body="wait for the migration")
    out = p.shunter("reconcile")
    assert "changes requested by bob" in out
    assert p.pr(number).state == "open"


def test_approval_after_the_timeout_is_too_late(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    p.now += timedelta(hours=25)
    out = p.shunter("reconcile")
    assert "expired" in out
    pr = p.pr(number)
    assert pr.state == "closed" and not pr.merged
    assert "did not reach 2 within 1d" in list(pr.get_issue_comments())[-1].body
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert (promotions[0]["stage"], promotions[0]["status"]) == ("prod", "Expired")
    # Approving the closed PR afterwards changes nothing.
    p.pr(number, "alice").create_review(event="APPROVE")
    p.pr(number, "tech-lead").create_review(event="APPROVE")
    p.shunter("reconcile")
    assert p.version("prod") is None


def test_events_narrow_the_run(pipeline: Pipeline, tmp_path: Path) -> None:
    p = pipeline
    p.w.push("1.8.4")
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(
            {
                "action": "published",
                "registry_package": {
                    "name": "other-app",
                    "namespace": "alkon",
                    "package_type": "CONTAINER",
                    "package_version": {
                        "package_url": "ghcr.io/alkon/other-app:2.0.0",
                        "container_metadata": {"tag": {"name": "2.0.0"}},
                    },
                },
            }
        )
    )
    out = p.shunter("run", GITHUB_EVENT_NAME="registry_package", GITHUB_EVENT_PATH=str(other))
    assert "trigger:" in out
    assert json.loads(p.shunter("get", "freight", "-o", "json")) == []  # nothing watched it
    dispatch = tmp_path / "dispatch.json"
    dispatch.write_text(
        json.dumps({"action": "shunter-refresh", "client_payload": {"warehouse": "flask-app"}})
    )
    p.shunter("run", GITHUB_EVENT_NAME="repository_dispatch", GITHUB_EVENT_PATH=str(dispatch))
    assert p.version("dev") == "1.8.4"


def test_workflow_dispatch_inputs_drive_an_emergency_promotion(pipeline: Pipeline) -> None:
    """What the Action does with its workflow_dispatch inputs (``shunter run``)."""
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile", login=ACTIONS_BOT)  # the workflow's own identity
    # tech-lead dispatches the workflow; its run holds the workflow's own token, and the
    # run's triggering actor (read from the API) is who asks.
    run = p.dispatch("tech-lead")
    out = p.shunter(
        "run",
        login=ACTIONS_BOT,
        GITHUB_RUN_ID=run,
        GITHUB_EVENT_NAME="workflow_dispatch",
        SHUNTER_OPERATION="promote-from",
        SHUNTER_FROM="dev",
        SHUNTER_STAGE="prod",
        SHUNTER_REASON="CVE-2026-1234",
    )
    assert "asked for emergency promotion" in out
    assert p.version("prod") == "1.8.4"
    # Without a reason the same dispatch is a usage error (2) and changes nothing.
    p.shunter(
        "run",
        expect=2,
        login=ACTIONS_BOT,
        GITHUB_RUN_ID=run,
        GITHUB_EVENT_NAME="workflow_dispatch",
        SHUNTER_OPERATION="pause",
        SHUNTER_STAGE="prod",
    )
    assert p.stages()["prod"]["paused"] is False

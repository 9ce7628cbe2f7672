"""The security properties a reviewer checks in action.yml and the workflows.

Cheap structural checks that run with the unit tests; ``scripts/lint-actions.sh``
(actionlint and zizmor) runs the full linters.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"
EXAMPLE = ROOT / "examples" / "flask-app" / ".github" / "workflows" / "shunter.yml"
ALL_FILES = [ACTION, CI, EXAMPLE]

OPERATIONS = ["promote", "promote-from", "rollback", "pause", "resume", "refresh", "release-hold"]
EMERGENCY_INPUTS = ["operation", "freight", "from", "stage", "warehouse", "reason"]
# The environment the CLI reads, and the action input that feeds each name.
CLI_ENV = {
    "GITHUB_TOKEN": "token",
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


@pytest.mark.parametrize("path", [CI, EXAMPLE], ids=lambda p: p.name)
def test_top_level_permissions_are_empty_or_read_only(path: Path) -> None:
    permissions = load(path)["permissions"]
    assert permissions == {} or set(permissions.values()) == {"read"}


def test_the_example_job_asks_for_least_privilege_and_says_why() -> None:
    job = load(EXAMPLE)["jobs"]["shunter"]
    assert job["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "checks": "write",
        "packages": "read",
        "actions": "write",
    }
    text = EXAMPLE.read_text()
    for scope in job["permissions"]:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{scope}:"))
        assert "#" in line, f"permission {scope} has no comment saying why"


def test_the_example_never_cancels_a_running_reconcile() -> None:
    concurrency = load(EXAMPLE)["jobs"]["shunter"]["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert concurrency["group"]


def test_the_example_listens_to_the_events_shunter_reacts_to() -> None:
    on = load(EXAMPLE)["on"]
    assert on["schedule"] == [{"cron": "*/10 * * * *"}]
    assert on["registry_package"]["types"] == ["published", "updated"]
    assert on["pull_request_review"]["types"] == ["submitted"]
    assert "pull_request_target" not in on and "workflow_run" not in on


def test_the_example_checkout_makes_a_deliberate_credentials_choice() -> None:
    checkout = next(s for s in steps_of(EXAMPLE) if s["uses"].startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is True  # the bot pushes with git
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    ci_checkout = next(s for s in steps_of(CI) if s["uses"].startswith("actions/checkout@"))
    assert ci_checkout["with"]["persist-credentials"] is False


def test_dispatch_inputs_mirror_the_actions_emergency_inputs() -> None:
    dispatch = load(EXAMPLE)["on"]["workflow_dispatch"]["inputs"]
    assert list(dispatch) == EMERGENCY_INPUTS
    assert dispatch["operation"]["type"] == "choice"
    assert dispatch["operation"]["options"] == ["reconcile", *OPERATIONS]
    shunter = next(s for s in steps_of(EXAMPLE) if s.get("id") == "shunter")
    assert shunter["with"] == {name: f"${{{{ inputs.{name} }}}}" for name in EMERGENCY_INPUTS}
    action_inputs = load(ACTION)["inputs"]
    for name in EMERGENCY_INPUTS:
        assert action_inputs[name]["default"] == ""
    assert all(op in action_inputs["operation"]["description"] for op in OPERATIONS)


def test_action_inputs_and_defaults() -> None:
    inputs = load(ACTION)["inputs"]
    assert {name: spec.get("default") for name, spec in inputs.items()} == {
        "token": "${{ github.token }}",
        "config": "kargo",
        "state-branch": "shunter/state",
        "dry-run": "false",
        "api-url": "${{ github.api_url }}",
        "deadline": "",  # ProjectConfig spec.deadline, 10m
        **dict.fromkeys(EMERGENCY_INPUTS, ""),
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
    assert first["env"] == {"SHUNTER_TOKEN": "${{ inputs.token }}"}
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

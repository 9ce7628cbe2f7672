"""The Action's `notify` mode and its `refresh` operation, through `shunter run`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from sandbox.fixtures.github import BOT_TOKEN, GitHubWorld

GITOPS = "alkon/gitops"


@pytest.mark.parametrize(
    ("env", "code", "sent"),
    [
        ({"SHUNTER_WAREHOUSE": "flask-app"}, 0, [("shunter-refresh", {"warehouse": "flask-app"})]),
        ({"SHUNTER_WAREHOUSE": ""}, 1, []),  # nothing named: refused, nothing sent
    ],
)
def test_notify_mode_sends_shunter_refresh_to_the_gitops_repository(
    github_sandbox: GitHubWorld, env: dict[str, str], code: int, sent: list[object]
) -> None:
    github_sandbox.add_repo(GITOPS)
    environ = {
        "GITHUB_TOKEN": BOT_TOKEN,
        "GITHUB_API_URL": github_sandbox.api_url,
        "GITHUB_REPOSITORY": "alkon/flask-app",  # the image's repository runs the step
        "SHUNTER_MODE": "notify",
        "SHUNTER_NOTIFY_REPOSITORY": GITOPS,
        **env,
    }
    assert main(["run"], env=environ, out=io.StringIO()) == code
    assert github_sandbox.sandbox.repository_dispatches(GITOPS) == sent


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    assert main(["run"], env={"SHUNTER_MODE": "notfy"}, out=io.StringIO()) == 2  # usage


def test_refresh_of_an_unknown_warehouse_fails_in_the_action_as_on_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Path(__file__).resolve().parents[1] / "examples" / "flask-app" / "kargo"
    env = {"SHUNTER_CONFIG": str(config), "GITHUB_WORKSPACE": str(tmp_path)}
    out = io.StringIO()
    assert main(["refresh", "warehouse", "nope"], env=env, out=out) == 2  # usage
    action = {**env, "SHUNTER_OPERATION": "refresh", "SHUNTER_WAREHOUSE": "nope"}
    assert main(["run"], env=action, out=out) == 2
    assert out.getvalue() == ""  # nothing ran

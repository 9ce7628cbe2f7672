"""The shunter command's contract: exit codes, messages, annotations; nothing written on error."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import COMMANDS, main, parse
from sandbox.fixtures.github import GitHubWorld, token_of
from sandbox.fixtures.gitrepos import git, make_remote

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flask-app"

BAD_STAGE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: staging
spec:
  subscriptions:
    warehouse: flask-app
  promotionPolicy:
    autoPromotionEnabled: true
    autoPromotionDelay: soon
    autoPromotionDelai: 30m
"""


def checkout(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    files = {
        str(p.relative_to(EXAMPLE)): p.read_text()
        for p in EXAMPLE.rglob("*")
        if p.is_file() and ".github" not in p.parts
    }
    files.update(extra or {})
    bare = make_remote(tmp_path, files)
    work = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    return work


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = main(args, env=env, out=out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_invalid_config_lists_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    work = checkout(tmp_path, {"kargo/stages/staging.yaml": BAD_STAGE})
    env = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_secret"}
    code, out, err = run(
        ["--repo-dir", str(work), "--config", str(work / "kargo"), "reconcile"], env
    )
    assert code == 2
    lines = [line for line in err.splitlines() if "staging.yaml" in line]
    assert any(":10:" in line and "autoPromotionDelay" in line for line in lines), err
    assert any(":11:" in line and "autoPromotionDelai" in line for line in lines), err
    assert (
        "file=kargo/stages/staging.yaml,line=10,col=25::spec.promotionPolicy.autoPromotionDelay"
        in out
    )
    assert "ghs_secret" not in out + err
    refs = git(tmp_path / "gitops.git", "for-each-ref", "--format=%(refname)")
    assert refs.split() == ["refs/heads/main"]  # no state branch, no promotion branch


def test_validate_example(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    code, out, _ = run(["--config", str(work / "kargo"), "validate"], {})
    assert code == 0
    assert "dev -> staging -> prod" in out


def test_schema_is_json_schema() -> None:
    code, out, _ = run(["schema"], {})
    schema = json.loads(out)
    assert code == 0 and "$schema" in schema


def test_get_on_a_fresh_repository_says_nothing_yet(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    code, out, _ = run(
        ["--repo-dir", str(work), "--config", str(work / "kargo"), "get", "freight"], {}
    )
    assert (code, out) == (0, "No freight yet.\n")


def test_promote_needs_the_api_with_or_without_a_reason(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    base = ["--repo-dir", str(work), "--config", str(work / "kargo")]
    # Without a reason it is an ordinary promotion; either way GitHub says who asks.
    for extra in ([], ["--reason", "hotfix"]):
        code, _, err = run([*base, "promote", "abc1234", "--to", "prod", *extra], {})
        assert code == 2 and "GITHUB_TOKEN" in err
    code, _, err = run([*base, "promote", "abc1234", "--to", "nowhere", "--reason", "x"], {})
    assert code == 2 and "no stage 'nowhere'" in err


def test_unknown_warehouse_is_named(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    code, _, err = run(
        ["--repo-dir", str(work), "--config", str(work / "kargo"), "refresh", "warehouse", "nope"],
        {},
    )
    assert code == 2 and "no warehouse 'nope'" in err


def test_help_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("validate", "reconcile", "get", "describe", "promote", "refresh", "schema"):
        assert command in done.stdout


@pytest.mark.parametrize("bad", ["not-a-time", "2026-13-01"])
def test_bad_now_is_a_usage_error(bad: str) -> None:
    code, _, err = run(["--now", bad, "schema"], {})
    assert code == 2 and "shunter:" in err


# --------------------------------------------------------------------------- exit codes
# 0 done; 1 a person must act; 2 bad config or usage; 3 a bug; 75 transient (bot.errors).


def refs(tmp_path: Path) -> list[str]:
    return git(tmp_path / "gitops.git", "for-each-ref", "--format=%(refname)").split()


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],  # no such command
        ["get"],  # a missing argument
        ["get", "stages", "-o", "xml"],  # a value argparse refuses
        ["--now", "yesterday", "schema"],  # a flag Shunter refuses
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    code, _, _ = run(argv, {})
    assert code == 2


def test_help_exits_0() -> None:
    code, _, _ = run(["--help"], {})
    assert code == 0


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_own_help(command: str) -> None:
    # Each command's parser is built only when the command runs: its help must still come.
    code, _, _ = run([command, "--help"], {})
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "config", "repo"),
    [
        (["--config", "a", "get", "stages"], "a", None),
        (["get", "stages", "--config", "b", "--repo", "o/n"], "b", "o/n"),
        (["--config", "a", "--repo", "o/n", "get", "stages", "--config", "b"], "b", "o/n"),
    ],
)
def test_global_options_go_before_or_after_the_command(
    argv: list[str], config: str, repo: str | None
) -> None:
    args = parse(argv)
    assert (args.command, args.kind, args.config, args.repo) == ("get", "stages", config, repo)


def test_unreadable_ledger_exits_1_and_is_left_as_it_was(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    git(work, "checkout", "-q", "--orphan", "shunter/state")
    git(work, "rm", "-rqf", ".")
    (work / "stages.yaml").write_text("- this is a list, not the stages mapping\n")
    git(work, "add", "stages.yaml")
    git(work, "commit", "-qm", "a hand edit gone wrong")
    git(work, "push", "-q", "origin", "shunter/state")
    head = git(tmp_path / "gitops.git", "rev-parse", "shunter/state")
    git(work, "checkout", "-q", "main")
    base = ["--repo-dir", str(work), "--config", str(work / "kargo")]
    for argv in (["get", "stages"], ["describe", "stage", "dev"]):
        code, _, err = run([*base, *argv], {})
        assert code == 1, err
    assert git(tmp_path / "gitops.git", "rev-parse", "shunter/state") == head


def test_refused_emergency_operation_exits_1_and_records_nothing(
    tmp_path: Path, github_sandbox: GitHubWorld
) -> None:
    work = checkout(tmp_path)
    github_sandbox.sandbox.add_repo("alkon/gitops", tmp_path / "gitops.git")
    github_sandbox.sandbox.set_permission("alkon/gitops", "alice", "write")  # needs maintain
    env = {
        "GITHUB_TOKEN": token_of("alice"),
        "GITHUB_REPOSITORY": "alkon/gitops",
        "GITHUB_API_URL": github_sandbox.api_url,
    }
    base = ["--repo-dir", str(work), "--config", str(work / "kargo")]
    code, _, _ = run([*base, "pause", "prod", "--reason", "freeze"], env)
    assert code == 1
    assert refs(tmp_path) == ["refs/heads/main"]


@pytest.mark.parametrize(
    ("argv", "code", "annotation"),
    [
        # The scheduled loop: the next run retries, nobody is told to act.
        (["reconcile"], 75, "::warning title=shunter::"),
        # A person's request is carried out only by the run that receives it: a transient
        # failure leaves nothing for the next run, so the person is told to run it again.
        (["pause", "prod", "--reason", "freeze"], 1, "::error title=shunter::"),
    ],
    ids=["loop-retries-next-run", "operation-is-on-the-person"],
)
def test_github_unavailable_is_75_for_the_loop_and_1_for_a_persons_operation(
    tmp_path: Path, github_sandbox: GitHubWorld, argv: list[str], code: int, annotation: str
) -> None:
    work = checkout(tmp_path)
    github_sandbox.sandbox.add_repo("alkon/gitops", tmp_path / "gitops.git")
    github_sandbox.sandbox.set_permission("alkon/gitops", "tech-lead", "maintain")
    github_sandbox.sandbox.inject_fault("*", ".*", 503, times=50)
    env = {
        "GITHUB_TOKEN": token_of("tech-lead"),
        "GITHUB_REPOSITORY": "alkon/gitops",
        "GITHUB_API_URL": github_sandbox.api_url,
        "GITHUB_ACTIONS": "true",
    }
    base = ["--repo-dir", str(work), "--config", str(work / "kargo")]
    got, out, _ = run([*base, *argv], env)
    assert got == code
    assert annotation in out  # the run is marked, never silently green
    if code == 75:
        assert "::error" not in out  # and nobody is told to act


def test_a_bug_exits_3_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.commands.validate

    def broken(ctx: object, out: object) -> int:
        table: dict[str, int] = {}
        return table["no such key"]

    monkeypatch.setattr(bot.commands.validate, "cmd_validate", broken)
    work = checkout(tmp_path)
    code, out, err = run(["--config", str(work / "kargo"), "validate"], {"GITHUB_ACTIONS": "true"})
    assert code == 3
    assert "Traceback (most recent call last)" in err and "KeyError" in err
    assert "::error title=shunter::" in out

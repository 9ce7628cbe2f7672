"""The shunter command's contract: exit codes, messages, annotations; nothing written on error."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
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


def test_promote_needs_a_reason_and_the_api(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    base = ["--repo-dir", str(work), "--config", str(work / "kargo")]
    code, _, err = run([*base, "promote", "abc1234", "--to", "prod"], {})
    assert code == 1 and "needs a reason" in err
    code, _, err = run([*base, "promote", "abc1234", "--to", "prod", "--reason", "hotfix"], {})
    assert code == 1 and "GITHUB_TOKEN" in err
    code, _, err = run([*base, "promote", "abc1234", "--to", "nowhere", "--reason", "x"], {})
    assert code == 1 and "no stage 'nowhere'" in err


def test_unknown_warehouse_is_named(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    code, _, err = run(
        ["--repo-dir", str(work), "--config", str(work / "kargo"), "refresh", "warehouse", "nope"],
        {},
    )
    assert code == 1 and "no warehouse 'nope'" in err


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

"""``shunter doctor`` against sandboxed repositories set up well and badly.

Each case is a real GitOps repository served by the GitHub sandbox (which answers the
settings, branch protection, rulesets and packages endpoints in GitHub's shapes) with
the real registry; the command's exit code and its JSON findings (check, status,
subject) decide, never its wording.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.doctor import Facts, WorkflowFacts, diagnose, monthly_minutes, parse_workflow
from sandbox.registry import LocalRegistry
from sandbox.world import REPOSITORY, SandboxWorld

ROOT = Path(__file__).resolve().parents[1]
GITHUB_TOKEN_WORKFLOW = (ROOT / "examples/flask-app/.github/workflows/shunter.yml").read_text()
APP_WORKFLOW = (ROOT / "examples/app-token/.github/workflows/shunter.yml").read_text()
WORKFLOW = ".github/workflows/shunter.yml"
GHA, GHA_TOKEN = "github-actions[bot]", "gha-token"
LEDGER_RULES = [{"type": "update"}, {"type": "creation"}, {"type": "deletion"}]


@pytest.fixture
def make_world(
    tmp_path: Path, oci_registry: LocalRegistry, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], SandboxWorld]]:
    worlds: list[SandboxWorld] = []

    def make(workflow: str) -> SandboxWorld:
        path = "doctor/" + request.node.name.replace("_", "-").replace("[", "-").strip("]").lower()
        w = SandboxWorld(
            tmp_path / f"world{len(worlds)}",
            registry=oci_registry,
            image_path=path,
            overrides={WORKFLOW: workflow},
        ).start()
        worlds.append(w)
        assert w.github is not None
        w.github.add_user(GHA, GHA_TOKEN, type="Bot")
        w.github.set_permission(REPOSITORY, GHA, "write")
        return w

    yield make
    for w in worlds:
        w.stop()


def doctor(w: SandboxWorld, *, token: str = "bot-token", expect: int) -> list[dict[str, str]]:
    out = io.StringIO()
    env = w.env(GITHUB_TOKEN=token)
    code = main(["--repo-dir", str(w.checkout), "doctor", "-o", "json"], env=env, out=out)
    assert code == expect, out.getvalue()
    findings: list[dict[str, str]] = json.loads(out.getvalue())
    return findings


def statuses(findings: list[dict[str, str]], check: str) -> dict[str, str]:
    return {f["subject"]: f["status"] for f in findings if f["check"] == check}


def set_up_well(w: SandboxWorld) -> None:
    """The README's recommended set-up: an App token, the ledger and promotion branches
    writable only by the bot, main's review rule bypassed by the bot, the gate required."""
    gh = w.github
    assert gh is not None
    w.push("1.8.4")
    gh.add_ruleset(
        REPOSITORY,
        "shunter branches",
        include=("refs/heads/shunter/**",),
        rules=LEDGER_RULES,
        bypass=("shunter-bot",),
    )
    gh.add_ruleset(
        REPOSITORY,
        "main",
        rules=[
            {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
            {
                "type": "required_status_checks",
                "parameters": {"required_status_checks": [{"context": "shunter/gate"}]},
            },
        ],
        bypass=("shunter-bot",),
    )


def test_a_well_set_up_repository_passes(make_world: Callable[[str], SandboxWorld]) -> None:
    w = make_world(APP_WORKFLOW)
    set_up_well(w)
    findings = doctor(w, expect=0)
    assert not [f for f in findings if f["status"] == "fail"]
    assert statuses(findings, "approver-teams") == {"team platform-team (prod)": "ok"}
    assert statuses(findings, "state-branch-ruleset") == {"shunter/state": "ok"}
    assert statuses(findings, "registry") == {w.image_repo: "ok"}
    assert set(statuses(findings, "main-rules").values()) == {"ok"}
    assert statuses(findings, "workflow-concurrency") == {WORKFLOW: "ok"}
    assert statuses(findings, "schedule-cost") == {WORKFLOW: "ok"}
    assert statuses(findings, "required-checks") == {"main: shunter/gate": "ok"}
    # The bot is not an admin: the Actions settings are unreadable, which is a warning.
    assert statuses(findings, "actions-create-prs") == {REPOSITORY: "warn"}


def bad_actions_setting(w: SandboxWorld) -> None:
    assert w.github is not None
    w.github.set_actions_permissions(REPOSITORY, default="read", can_create_prs=False)


def main_requires_review_and_ci(w: SandboxWorld) -> None:
    assert w.github is not None
    w.github.protect_branch(REPOSITORY, "main", required_approvals=1, required_checks=("ci/test",))


def main_requires_the_old_check_name(w: SandboxWorld) -> None:
    assert w.github is not None
    w.github.protect_branch(REPOSITORY, "main", required_checks=("shunter/approvals",))


def ledger_locked_for_the_bot(w: SandboxWorld) -> None:
    assert w.github is not None
    w.github.add_ruleset(
        REPOSITORY, "ledger", include=("refs/heads/shunter/state",), rules=LEDGER_RULES
    )


def promotion_branches_no_force_push(w: SandboxWorld) -> None:
    assert w.github is not None
    w.github.add_ruleset(
        REPOSITORY,
        "no rewrites",
        include=("~ALL",),
        rules=[{"type": "non_fast_forward"}],
    )


SHARED_GROUP = GITHUB_TOKEN_WORKFLOW.replace(
    "shunter-${{ github.event_name == 'workflow_dispatch' && github.run_id || 'events' }}",
    "shunter-${{ github.repository }}",
)
PACKAGE_TRIGGER = GITHUB_TOKEN_WORKFLOW.replace(
    "  registry_package:\n", "  package:\n    types: [published]\n  registry_package:\n"
)
EVERY_TEN_MINUTES = GITHUB_TOKEN_WORKFLOW.replace('"17 * * * *"', '"*/10 * * * *"')
# workflow_dispatch runs a person's approve and promote, which attest on a commit status.
NO_STATUSES = GITHUB_TOKEN_WORKFLOW.replace(
    "      statuses: write # shunter/approved on a PR head: who granted an emergency or an"
    " approval\n",
    "",
)
NO_PERMISSIONS = GITHUB_TOKEN_WORKFLOW.replace(
    "    permissions:\n      contents: write", "    x-permissions:\n      contents: write"
)


@pytest.mark.parametrize(
    ("workflow", "setup", "login_token", "check", "subject", "status"),
    [
        # New repositories forbid Actions to open PRs; the pipeline uses GITHUB_TOKEN.
        (
            GITHUB_TOKEN_WORKFLOW,
            bad_actions_setting,
            "carol-token",
            "actions-create-prs",
            REPOSITORY,
            "fail",
        ),
        # GITHUB_TOKEN cannot read prod's approver team.
        (
            GITHUB_TOKEN_WORKFLOW,
            None,
            "gha-token",
            "approver-teams",
            "team platform-team (prod)",
            "fail",
        ),
        # Auto stages cannot pass main's review rule, and CI never runs on the bot's PRs.
        (
            GITHUB_TOKEN_WORKFLOW,
            main_requires_review_and_ci,
            "carol-token",
            "main-rules",
            "stage dev",
            "fail",
        ),
        (
            GITHUB_TOKEN_WORKFLOW,
            main_requires_review_and_ci,
            "carol-token",
            "required-checks",
            "main: ci/test",
            "fail",
        ),
        (
            APP_WORKFLOW,
            main_requires_review_and_ci,
            "bot-token",
            "required-checks",
            "main: ci/test",
            "ok",
        ),
        # A rule still requires the gate check by its old name, which nothing publishes.
        (
            APP_WORKFLOW,
            main_requires_the_old_check_name,
            "bot-token",
            "required-checks",
            "main: shunter/approvals",
            "fail",
        ),
        # The ledger is locked and the bot is no bypass actor.
        (
            APP_WORKFLOW,
            ledger_locked_for_the_bot,
            "bot-token",
            "state-branch-ruleset",
            "shunter/state",
            "fail",
        ),
        (
            APP_WORKFLOW,
            promotion_branches_no_force_push,
            "bot-token",
            "promotion-branches",
            "shunter/prod",
            "fail",
        ),
        # The workflow itself.
        (
            SHARED_GROUP,
            None,
            "bot-token",
            "workflow-concurrency",
            f"{WORKFLOW}: job concurrency",
            "fail",
        ),
        (
            PACKAGE_TRIGGER,
            None,
            "bot-token",
            "workflow-triggers",
            f"{WORKFLOW}: on.package",
            "fail",
        ),
        (
            NO_PERMISSIONS,
            bad_actions_setting,
            "carol-token",
            "workflow-permissions",
            WORKFLOW,
            "fail",
        ),
        (EVERY_TEN_MINUTES, None, "bot-token", "schedule-cost", WORKFLOW, "warn"),
        (NO_STATUSES, None, "bot-token", "workflow-permissions", WORKFLOW, "fail"),
    ],
    ids=[
        "actions-may-not-open-prs",
        "github-token-cannot-read-teams",
        "auto-stage-vs-required-review",
        "required-ci-never-runs-with-github-token",
        "required-ci-runs-with-an-app-token",
        "old-gate-check-name-required",
        "ledger-locked",
        "promotion-branch-force-push-forbidden",
        "shared-concurrency-group",
        "package-is-not-a-trigger",
        "no-permissions-and-read-default",
        "every-ten-minutes-costs-too-much",
        "dispatch-without-statuses-write",
    ],
)
def test_a_badly_set_up_repository_is_diagnosed(
    make_world: Callable[[str], SandboxWorld],
    workflow: str,
    setup: Callable[[SandboxWorld], None] | None,
    login_token: str,
    check: str,
    subject: str,
    status: str,
) -> None:
    w = make_world(workflow)
    w.push("1.8.4")
    if setup is not None:
        setup(w)
    gh_token_mode = workflow is not APP_WORKFLOW
    # Under GITHUB_TOKEN prod's team approvers alone make the pipeline stall.
    stalls = status == "fail" or gh_token_mode
    findings = doctor(w, token=login_token, expect=1 if stalls else 0)
    assert statuses(findings, check).get(subject) == status, findings


def test_an_unreachable_registry_stalls_discovery(
    make_world: Callable[[str], SandboxWorld],
) -> None:
    w = make_world(APP_WORKFLOW)  # nothing pushed: the image repository does not exist
    findings = doctor(w, expect=1)
    assert statuses(findings, "registry") == {w.image_repo: "fail"}


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [("*/10 * * * *", 4320), ("*/5 * * * *", 8640), ("17 * * * *", 720), ("0 */6 * * *", 120)],
)
def test_billed_minutes_of_a_schedule(cron: str, minutes: int) -> None:
    assert monthly_minutes(cron) == minutes


def test_a_ghcr_package_not_linked_here_gets_the_notify_advice() -> None:
    from bot.core.model import Config

    wf = parse_workflow(WORKFLOW, APP_WORKFLOW)
    assert isinstance(wf, WorkflowFacts)
    facts = Facts(repository="alkon/gitops", login="shunter-app[bot]", workflows=(wf,))
    facts.packages = {
        "ghcr.io/alkon/flask-app": "alkon/flask-app",
        "ghcr.io/alkon/linked": "alkon/gitops",
        "ghcr.io/alkon/orphan": None,
    }
    config = Config(warehouses=(), stages=())
    found = {
        f.subject: f.status.value
        for f in diagnose(config, facts, state_branch="s")
        if f.check.value == "package-link"
    }
    assert found == {
        "ghcr.io/alkon/flask-app": "warn",
        "ghcr.io/alkon/linked": "ok",
        "ghcr.io/alkon/orphan": "warn",
    }


def test_the_readme_cost_table_matches_the_billing_arithmetic() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)`[^|]*\| ([\d,]+)(?:-([\d,]+))? \| ~([\d,]+)", readme, re.M)
    assert len(rows) >= 4
    for cron, low, high, billed in rows:

        def n(text: str) -> int:
            return int(text.replace(",", ""))

        assert n(low) == monthly_minutes(cron, days=30)
        assert n(high or low) == monthly_minutes(cron, days=31) == n(billed)


@pytest.mark.parametrize(
    ("workflow", "findings"),
    [
        (
            GITHUB_TOKEN_WORKFLOW,
            {("approver-teams", "stage prod", "warn")},
        ),
        (APP_WORKFLOW, set()),
    ],
    ids=["github-token", "app-token"],
)
def test_validate_warns_what_github_token_cannot_do(
    workflow: str, findings: set[tuple[str, str, str]]
) -> None:
    from dataclasses import replace

    from bot.adapters.configdir import load_config_dir
    from bot.core.model import Condition
    from bot.doctor import token_limits

    config = load_config_dir(ROOT / "examples/flask-app/kargo")
    wf = parse_workflow(WORKFLOW, workflow)
    assert isinstance(wf, WorkflowFacts)
    got = {(f.check.value, f.subject, f.status.value) for f in token_limits(config, (wf,))}
    assert got == findings
    # A scan on staging's promotion PRs needs a workflow run a GITHUB_TOKEN PR never starts.
    staging = config.stage("staging")
    policy = replace(staging.promotion_policy, conditions=(Condition("SecurityScanPassed"),))
    scanned = replace(
        config,
        stages=tuple(
            replace(s, promotion_policy=policy) if s.name == "staging" else s for s in config.stages
        ),
    )
    scans = {(f.check.value, f.subject) for f in token_limits(scanned, (wf,))}
    assert (("required-checks", "stage staging") in scans) is bool(findings)


def test_validate_prints_the_warnings_and_still_passes(
    make_world: Callable[[str], SandboxWorld],
) -> None:
    w = make_world(GITHUB_TOKEN_WORKFLOW)
    out = io.StringIO()
    code = main(["--repo-dir", str(w.checkout), "validate"], env=w.env(), out=out)
    assert code == 0
    assert sum(line.startswith("warning: stage prod") for line in out.getvalue().splitlines()) == 1

"""GitHubForge's settings, rules and dispatch methods against the sandbox, and the
sandbox's merge refusing what GitHub's branch rules would refuse."""

from __future__ import annotations

import pytest
from github import Auth, Github

from bot.adapters.github import GitHubForge
from bot.core.decide.mainrules import BranchRules
from bot.errors import ConflictError, PermanentError
from bot.ports import ActionsSettings
from sandbox.fixtures.github import BOT_TOKEN, GHA_TOKEN, GitHubWorld, token_of

REPO = "alkon/rules"
FAST: dict[str, None] = {"seconds_between_requests": None, "seconds_between_writes": None}


def make_forge(world: GitHubWorld, token: str) -> GitHubForge:
    return GitHubForge(REPO, token, api_url=world.api_url, throttle=False, backoff=0, retries=1)


def as_user(world: GitHubWorld, login: str) -> Github:
    return Github(auth=Auth.Token(token_of(login)), base_url=world.api_url, retry=None, **FAST)  # type: ignore[arg-type]


def push(world: GitHubWorld, tag: str) -> str:
    bare = world.tmp / "alkon__rules.git"
    return world.push_branch(bare, "shunter/dev", {"app/values.yaml": f"image:\n  tag: {tag}\n"})


@pytest.fixture
def world(github_sandbox: GitHubWorld) -> GitHubWorld:
    github_sandbox.add_repo(REPO, {"app/values.yaml": "image:\n  tag: 1.0.0\n"})
    github_sandbox.sandbox.set_permission(REPO, "carol", "admin")
    return github_sandbox


def test_actions_settings_are_read_by_an_admin_and_unreadable_to_github_token(
    world: GitHubWorld,
) -> None:
    world.sandbox.set_actions_permissions(REPO, default="write", can_create_prs=True)
    assert make_forge(world, token_of("carol")).actions_settings() == ActionsSettings("write", True)
    assert make_forge(world, GHA_TOKEN).actions_settings() is None


def test_github_token_may_not_open_prs_until_the_setting_allows_it(world: GitHubWorld) -> None:
    push(world, "1.1.0")
    gha = make_forge(world, GHA_TOKEN)
    with pytest.raises(PermanentError, match="pull-requests: write"):
        gha.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    world.sandbox.set_actions_permissions(REPO, can_create_prs=True)
    assert gha.create_pull_request(base="main", head="shunter/dev", title="t", body="b").number


def test_branch_rules_combine_classic_protection_and_rulesets(world: GitHubWorld) -> None:
    world.sandbox.protect_branch(
        REPO, "main", required_approvals=1, code_owners=True, required_checks=("ci/test",)
    )
    world.sandbox.add_ruleset(
        REPO,
        "two reviews",
        rules=[
            {"type": "pull_request", "parameters": {"required_approving_review_count": 2}},
            {
                "type": "required_status_checks",
                "parameters": {"required_status_checks": [{"context": "shunter/approvals"}]},
            },
        ],
        bypass=("shunter-bot",),
    )
    admin = make_forge(world, token_of("carol")).branch_rules("main")
    assert (admin.required_approvals, admin.code_owner_review, admin.required_checks) == (
        2,
        True,
        ("shunter/approvals", "ci/test"),
    )
    # The bot bypasses the ruleset, not classic protection (which it cannot even read:
    # only the required checks show through the branch itself).
    bot = make_forge(world, BOT_TOKEN).branch_rules("main")
    assert bot.protection_readable is False
    assert (bot.required_approvals, bot.code_owner_review, bot.can_bypass) == (2, False, False)
    assert bot.required_checks == ("shunter/approvals", "ci/test")


def test_rules_of_branches_that_do_not_exist_yet(world: GitHubWorld) -> None:
    rid = world.sandbox.add_ruleset(
        REPO,
        "ledger",
        include=("refs/heads/shunter/**",),
        rules=[{"type": "update"}, {"type": "non_fast_forward"}],
        bypass=("shunter-bot",),
    )
    bot = make_forge(world, BOT_TOKEN).branch_rules("shunter/state")
    assert (bot.restricts_push, bot.forbids_force_push, bot.can_bypass, bot.sources) == (
        True,
        True,
        True,
        (f"ruleset {rid}",),
    )
    alice = make_forge(world, token_of("alice")).branch_rules("shunter/state")
    assert alice.can_bypass is False
    assert make_forge(world, BOT_TOKEN).branch_rules("feature/x") == BranchRules(
        "feature/x", protection_readable=False
    )


def test_package_links_for_organisation_and_user_packages(world: GitHubWorld) -> None:
    world.sandbox.add_package("alkon", "flask-app", repository=REPO)
    world.sandbox.add_package("alkon", "orphan")
    world.sandbox.add_package("alice", "tool", repository=REPO)
    forge = make_forge(world, BOT_TOKEN)
    assert forge.package_repository("alkon", "flask-app") == REPO
    assert forge.package_repository("alkon", "orphan") is None
    assert forge.package_repository("alice", "tool") == REPO
    with pytest.raises(PermanentError, match="container package alkon/nope"):
        forge.package_repository("alkon", "nope")


def test_repository_dispatch_reaches_the_repository(world: GitHubWorld) -> None:
    make_forge(world, BOT_TOKEN).repository_dispatch("shunter-refresh", {"warehouse": "app"})
    assert world.sandbox.repository_dispatches(REPO) == [("shunter-refresh", {"warehouse": "app"})]
    with pytest.raises(PermanentError):
        GitHubForge(
            "alkon/missing", BOT_TOKEN, api_url=world.api_url, throttle=False
        ).repository_dispatch("shunter-refresh", {})


def test_the_sandbox_merge_refuses_what_mains_rules_refuse(world: GitHubWorld) -> None:
    world.sandbox.protect_branch(REPO, "main", required_approvals=1)
    world.sandbox.add_ruleset(
        REPO,
        "checks",
        rules=[
            {
                "type": "required_status_checks",
                "parameters": {"required_status_checks": [{"context": "ci/test"}]},
            }
        ],
    )
    sha = push(world, "1.1.0")
    forge = make_forge(world, BOT_TOKEN)
    pr = forge.create_pull_request(base="main", head="shunter/dev", title="t", body="b")
    with pytest.raises(ConflictError, match="approving review"):
        forge.merge_pull_request(pr.number, sha=sha, title="t", message="m")
    as_user(world, "alice").get_repo(REPO).get_pull(pr.number).create_review(event="APPROVE")
    with pytest.raises(ConflictError, match="ci/test"):
        forge.merge_pull_request(pr.number, sha=sha, title="t", message="m")
    as_user(world, "carol").get_repo(REPO).create_check_run("ci/test", sha, conclusion="success")
    forge.merge_pull_request(pr.number, sha=sha, title="t", message="m")
    assert forge.pull_request(pr.number).merged

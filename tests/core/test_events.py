"""Which warehouses a GitHub event refreshes, from GitHub's own example payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.discover.events import Trigger, normalize_git_url, trigger_for
from bot.core.model import Config, GitSubscription, ImageSubscription, Warehouse, Webhook

HOOKS = Path(__file__).resolve().parents[2] / "sandbox" / "fixtures" / "webhooks"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HOOKS / f"{name}.json").read_text())
    return data


FLASK = ImageSubscription(repo_url="ghcr.io/alkon/flask-app", semver_constraint=">=1.8.0")
OTHER = ImageSubscription(repo_url="ghcr.io/alkon/other-app")
SOURCE = GitSubscription(repo_url="https://github.com/alkon/flask-app.git", branch="master")
HOOKED = ImageSubscription(
    repo_url="ghcr.io/alkon/hooked-app",
    webhook=Webhook(enabled=True, repository="alkon/flask-app", events=("push", "release")),
)
MUTED = ImageSubscription(
    repo_url="ghcr.io/alkon/flask-app",
    webhook=Webhook(enabled=False, repository="alkon/flask-app", events=("push", "release")),
)


def config(**warehouses: tuple[Any, ...]) -> Config:
    return Config(
        warehouses=tuple(
            Warehouse(name=n.replace("_", "-"), subscriptions=s) for n, s in warehouses.items()
        ),
        stages=(),
    )


PIPELINE = config(flask_app=(FLASK,), other=(OTHER,), source=(SOURCE,), hooked=(HOOKED,))


@pytest.mark.parametrize(
    ("event", "fixture", "warehouses", "reason"),
    [
        (
            "registry_package",
            "registry_package.published",
            {"flask-app"},
            "registry_package published ghcr.io/alkon/flask-app:1.8.5",
        ),
        (
            "package",
            "package.published",
            {"flask-app"},
            "package published ghcr.io/alkon/flask-app:1.8.5",
        ),
        ("push", "push", {"source", "hooked"}, "push alkon/flask-app refs/heads/master"),
        (
            "release",
            "release.published",
            {"source", "hooked"},
            "release published alkon/flask-app 0.0.1",
        ),
        ("create", "create", {"source"}, "create tag alkon/flask-app simple-tag"),
        (
            "repository_dispatch",
            "repository_dispatch",
            {"flask-app"},
            "repository_dispatch shunter-refresh warehouse flask-app",
        ),
    ],
)
def test_an_event_naming_a_change_refreshes_only_the_warehouses_watching_it(
    event: str, fixture: str, warehouses: set[str], reason: str
) -> None:
    trigger = trigger_for(PIPELINE, event, payload(fixture))
    assert trigger == Trigger(frozenset(warehouses), reason, bypass_cache=True)
    assert not trigger.full


def test_an_untagged_manifest_of_a_multi_arch_push_refreshes_nothing() -> None:
    # The published example itself: empty tag, package URL ending in a stray ":".
    trigger = trigger_for(PIPELINE, "package", payload("package.published.untagged"))
    assert trigger.warehouses == frozenset()
    assert "untagged manifest" in trigger.reason
    assert "ghcr.io/alkon/flask-app" in trigger.reason
    assert not trigger.bypass_cache


def test_every_event_of_one_push_asks_for_the_same_refresh() -> None:
    tagged = payload("registry_package.published")
    other_arch = copy.deepcopy(tagged)
    other_arch["registry_package"]["package_version"]["version"] = "sha256:" + "b" * 64
    triggers = {trigger_for(PIPELINE, "registry_package", p) for p in (tagged, other_arch, tagged)}
    assert len(triggers) == 1


def test_the_tag_in_the_package_url_counts_when_container_metadata_has_none() -> None:
    p = payload("registry_package.published")
    p["registry_package"]["package_version"]["container_metadata"] = {}
    trigger = trigger_for(PIPELINE, "registry_package", p)
    assert trigger.warehouses == frozenset({"flask-app"})
    assert trigger.reason.endswith("flask-app:1.8.5")


def test_without_a_package_url_the_image_is_ghcr_owner_and_name_lower_cased() -> None:
    p = payload("registry_package.published")
    pkg = p["registry_package"]
    del pkg["package_version"]["package_url"]
    pkg["namespace"] = "Alkon"
    pkg["name"] = "Flask-App"
    assert trigger_for(PIPELINE, "registry_package", p).warehouses == frozenset({"flask-app"})


def test_a_package_that_is_not_a_container_refreshes_nothing() -> None:
    trigger = trigger_for(PIPELINE, "package", payload("package.published.npm"))
    assert trigger.warehouses == frozenset()
    assert "npm package" in trigger.reason


@pytest.mark.parametrize("action", ["deleted", "", "removed"])
def test_package_actions_other_than_published_and_updated_refresh_nothing(action: str) -> None:
    p = payload("registry_package.published")
    p["action"] = action
    assert trigger_for(PIPELINE, "registry_package", p).warehouses == frozenset()


def test_updated_package_refreshes_like_published() -> None:
    p = payload("registry_package.published")
    p["action"] = "updated"
    assert trigger_for(PIPELINE, "registry_package", p).warehouses == frozenset({"flask-app"})


def test_an_image_nobody_watches_says_so_and_refreshes_nothing() -> None:
    trigger = trigger_for(
        config(other=(OTHER,)), "registry_package", payload("registry_package.published")
    )
    assert trigger.warehouses == frozenset()
    assert trigger.reason.startswith(
        "registry_package published ghcr.io/alkon/flask-app:1.8.5: no "
    )


def test_webhook_disabled_keeps_a_subscription_out_of_every_event() -> None:
    muted = config(flask_app=(MUTED,))
    assert (
        trigger_for(muted, "registry_package", payload("registry_package.published")).warehouses
        == frozenset()
    )
    assert trigger_for(muted, "push", payload("push")).warehouses == frozenset()
    # ...but the schedule still reconciles it.
    assert trigger_for(muted, "schedule", {"schedule": "*/10 * * * *"}).full


def test_an_image_webhook_counts_only_for_the_events_it_lists() -> None:
    only_release = ImageSubscription(
        repo_url="ghcr.io/alkon/hooked-app",
        webhook=Webhook(enabled=True, repository="Alkon/Flask-App", events=("release",)),
    )
    cfg = config(hooked=(only_release,))
    assert trigger_for(cfg, "push", payload("push")).warehouses == frozenset()
    assert trigger_for(cfg, "release", payload("release.published")).warehouses == frozenset(
        {"hooked"}
    )


def test_a_push_to_another_repository_refreshes_nothing() -> None:
    p = payload("push")
    p["repository"] = {
        "full_name": "alkon/unrelated",
        "html_url": "https://github.com/alkon/unrelated",
    }
    trigger = trigger_for(PIPELINE, "push", p)
    assert trigger.warehouses == frozenset()
    assert "no warehouse watches alkon/unrelated for push events" in trigger.reason


def test_deletions_add_nothing_to_discover() -> None:
    push = payload("push")
    push["deleted"] = True
    release = payload("release.published")
    release["action"] = "deleted"
    assert trigger_for(PIPELINE, "push", push).warehouses == frozenset()
    assert trigger_for(PIPELINE, "release", release).warehouses == frozenset()


@pytest.mark.parametrize(
    ("client_payload", "warehouses"),
    [
        ({"warehouse": "other"}, frozenset({"other"})),
        ({"warehouse": "nope"}, frozenset()),
        ({"repoURL": "ghcr.io/Alkon/flask-app"}, frozenset({"flask-app"})),
        ({"repoURL": "git@github.com:alkon/flask-app.git"}, frozenset({"source"})),
        ({"repoURL": "ghcr.io/alkon/unknown"}, frozenset()),
    ],
)
def test_shunter_refresh_dispatch_names_a_warehouse_or_a_repository(
    client_payload: dict[str, str], warehouses: frozenset[str]
) -> None:
    p = payload("repository_dispatch")
    p["client_payload"] = client_payload
    assert trigger_for(PIPELINE, "repository_dispatch", p).warehouses == warehouses


def test_a_dispatch_naming_a_warehouse_refreshes_it_even_with_webhooks_off() -> None:
    p = payload("repository_dispatch")
    p["client_payload"] = {"warehouse": "flask-app"}
    assert trigger_for(
        config(flask_app=(MUTED,)), "repository_dispatch", p
    ).warehouses == frozenset({"flask-app"})


@pytest.mark.parametrize(
    ("event", "body"),
    [
        ("schedule", {"schedule": "*/10 * * * *"}),
        ("workflow_dispatch", {"inputs": {"operation": "reconcile"}}),
        ("pull_request_review", {"action": "submitted"}),
        ("workflow_run", {"action": "completed"}),
        ("repository_dispatch", {"action": "on-demand-test", "client_payload": {}}),
        ("repository_dispatch", {"action": "shunter-refresh", "client_payload": {}}),
        ("", {}),
        ("registry_package", {"action": "published"}),
        ("push", {"ref": "refs/heads/main"}),
    ],
)
def test_other_events_and_unreadable_payloads_reconcile_everything(
    event: str, body: dict[str, Any]
) -> None:
    trigger = trigger_for(PIPELINE, event, body)
    assert trigger.warehouses is None
    assert not trigger.bypass_cache
    assert "full reconcile" in trigger.reason or "names no" in trigger.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Alkon/Flask-App.git",
        "https://github.com/alkon/flask-app/",
        "git@github.com:alkon/flask-app.git",
        "ssh://git@github.com:22/alkon/flask-app",
        "http://x-access-token@github.com/alkon/flask-app",
    ],
)
def test_git_urls_normalize_to_host_owner_name(url: str) -> None:
    assert normalize_git_url(url) == "github.com/alkon/flask-app"

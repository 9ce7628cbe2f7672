"""What a GitHub event asks of the loop: which warehouses to refresh now.

An event never changes what a run decides, only how much of the world it looks at first
(DESIGN.md, "The one loop"): ``trigger_for`` reads the event's name and payload and says
which warehouses' sources changed. Anything it cannot narrow is a full reconcile, so a
payload shape this module does not know costs a few requests, never a missed change.

Payload shapes follow GitHub's webhook reference
(https://docs.github.com/en/webhooks/webhook-events-and-payloads): ``registry_package`` and
``package`` (``<key>.package_version.package_url``, ``container_metadata.tag.name``),
``push`` (``ref``, ``deleted``), ``release`` (``release.tag_name``), ``create``
(``ref_type``, ``ref``) and ``repository_dispatch`` (``action`` is the ``event_type``,
``client_payload`` is free-form).

Pure: values in, a value out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.model import Config, GitSubscription, ImageSubscription, Warehouse

__all__ = ["DISPATCH_TYPE", "Trigger", "normalize_git_url", "trigger_for"]

DISPATCH_TYPE = "shunter-refresh"  # repository_dispatch event_type Shunter listens for
PACKAGE_EVENTS = ("registry_package", "package")
REPOSITORY_EVENTS = ("push", "release", "create")
# Package actions that can add a tag; "updated" is what GHCR sends when a tag moves.
PACKAGE_ACTIONS = ("published", "updated")
# Container packages: GHCR reports "CONTAINER" (registry_package) or "container";
# older payloads say "docker" (the Docker package registry, docker.pkg.github.com).
CONTAINER_TYPES = ("container", "docker")
# Release actions that remove a release: they add nothing to discover.
RELEASE_REMOVALS = ("deleted", "unpublished")


@dataclass(frozen=True)
class Trigger:
    """How one run is narrowed by the event that started it.

    ``warehouses`` is ``None`` for a full reconcile (schedule, workflow_dispatch, reviews,
    unknown events), otherwise the warehouses to discover now; an empty set means the
    event concerns no warehouse (the run still observes pull requests and gates).
    ``bypass_cache`` is true when the event names what changed, so cached registry
    answers must not hide it.
    """

    warehouses: frozenset[str] | None
    reason: str
    bypass_cache: bool

    @property
    def full(self) -> bool:
        """True when this is a full reconcile of everything."""
        return self.warehouses is None


def _full(event_name: str, why: str = "full reconcile") -> Trigger:
    return Trigger(warehouses=None, reason=f"{event_name or 'no event'}: {why}", bypass_cache=False)


def _nothing(reason: str) -> Trigger:
    return Trigger(warehouses=frozenset(), reason=reason, bypass_cache=False)


def _narrow(names: set[str], reason: str, nobody: str) -> Trigger:
    if not names:
        return _nothing(f"{reason}: {nobody}")
    return Trigger(warehouses=frozenset(names), reason=reason, bypass_cache=True)


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def trigger_for(config: Config, event_name: str, payload: Mapping[str, Any]) -> Trigger:
    """Return the ``Trigger`` for the event ``event_name`` with body ``payload``.

    ``event_name`` is ``GITHUB_EVENT_NAME``; ``payload`` is the JSON document at
    ``GITHUB_EVENT_PATH``. Events that name a change (a container package published,
    a push, release or tag creation in a watched repository, a ``shunter-refresh``
    dispatch) narrow discovery to the warehouses that watch it; a subscription whose
    ``webhook.enabled`` is false is never refreshed by an event (only the schedule).
    Every other event, and a payload missing what its event documents, is a full
    reconcile. Never raises: a payload this function cannot read widens the run.
    """
    if not isinstance(payload, Mapping):
        return _full(event_name, "unreadable event payload: full reconcile")
    if event_name in PACKAGE_EVENTS:
        return _package(config, event_name, payload)
    if event_name in REPOSITORY_EVENTS:
        return _repository(config, event_name, payload)
    if event_name == "repository_dispatch" and _str(payload.get("action")) == DISPATCH_TYPE:
        return _dispatch(config, payload)
    return _full(event_name)


# --------------------------------------------------------------------------- packages


def _events_allowed(sub: ImageSubscription) -> bool:
    # No webhook block: package events naming the image refresh it (the common case,
    # the example workflow's registry_package trigger). An explicit block decides.
    return sub.webhook is None or sub.webhook.enabled


def _image_key(url: str) -> str:
    """``ghcr.io/Alkon/flask-app:`` -> ``ghcr.io/alkon/flask-app`` (no scheme, no tag)."""
    text = url.strip().lower()
    for scheme in ("https://", "http://", "oci://", "docker://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    text = text.split("@", 1)[0]
    last = text.rsplit("/", 1)
    if ":" in last[-1]:  # a tag, or the stray ":" of an untagged manifest
        last[-1] = last[-1].split(":", 1)[0]
    return "/".join(last).rstrip("/")


def _package(config: Config, event_name: str, payload: Mapping[str, Any]) -> Trigger:
    action = _str(payload.get("action"))
    package = _map(payload.get(event_name))
    if not package:
        return _full(event_name, f"payload has no {event_name} object: full reconcile")
    if action not in PACKAGE_ACTIONS:
        return _nothing(
            f"{event_name} {action or '(no action)'}: adds no image, nothing to refresh"
        )
    # package_type is GitHub's enum (npm, maven, rubygems, docker, nuget, container);
    # ecosystem is only read when it is missing (example payloads disagree with it).
    kind = _str(package.get("package_type")) or _str(package.get("ecosystem")) or "unknown"
    if kind.lower() not in CONTAINER_TYPES:
        return _nothing(f"{event_name} {action}: a {kind} package, not a container image")
    version = _map(package.get("package_version"))
    url = _str(version.get("package_url"))
    repo = _image_key(url) if url else ""
    if not repo:
        # namespace is the owner for GHCR; some payloads put the repository there.
        owner = _str(package.get("namespace"))
        if not owner or "/" in owner:
            owner = _str(_map(package.get("owner")).get("login"))
        name = _str(package.get("name"))
        if not owner or not name:
            return _full(event_name, "payload names no package: full reconcile")
        repo = f"ghcr.io/{owner.lower()}/{name.lower()}"
    tag = _str(_map(_map(version.get("container_metadata")).get("tag")).get("name"))
    if not tag and url and ":" in url.rsplit("/", 1)[-1]:
        tag = url.rsplit(":", 1)[-1].strip()
    if not tag:
        # GitHub sends one event per manifest of a multi-arch push; the per-platform
        # manifests carry no tag. The event for the tagged index does the refresh.
        return _nothing(f"{event_name} {action} {repo}: an untagged manifest, nothing to refresh")
    names = {
        wh.name
        for wh in config.warehouses
        for sub in wh.subscriptions
        if isinstance(sub, ImageSubscription)
        and _events_allowed(sub)
        and _image_key(sub.repo_url) == repo
    }
    return _narrow(
        names, f"{event_name} {action} {repo}:{tag}", "no warehouse with webhooks on watches it"
    )


# --------------------------------------------------------------------------- repositories


def normalize_git_url(url: str) -> str:
    """Return ``host/owner/name`` in lower case for any spelling of a git remote URL.

    ``https://github.com/Alkon/App.git``, ``git@github.com:alkon/app`` and
    ``ssh://git@github.com/alkon/app/`` all give ``github.com/alkon/app``.
    """
    text = url.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    elif ":" in text.split("/", 1)[0]:  # scp-like: git@host:owner/name
        text = text.replace(":", "/", 1)
    host, _, path = text.partition("/")
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]  # drop user@ and :port
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return f"{host}/{path}"


def _repository_keys(repo: Mapping[str, Any]) -> tuple[str, set[str]]:
    """The repository's ``owner/name`` and every ``host/owner/name`` it is known by."""
    full_name = _str(repo.get("full_name")).lower()
    urls = {
        normalize_git_url(u)
        for u in (_str(repo.get(k)) for k in ("html_url", "clone_url", "ssh_url", "git_url"))
        if u
    }
    if full_name and not urls:
        urls.add(f"github.com/{full_name}")
    return full_name, urls


def _watches(wh: Warehouse, event_name: str, full_name: str, urls: set[str]) -> bool:
    for sub in wh.subscriptions:
        if isinstance(sub, GitSubscription) and normalize_git_url(sub.repo_url) in urls:
            return True
        if isinstance(sub, ImageSubscription) and sub.webhook is not None:
            hook = sub.webhook
            if (
                hook.enabled
                and hook.repository is not None
                and hook.repository.lower() == full_name
                and event_name in hook.events
            ):
                return True
    return False


def _repository(config: Config, event_name: str, payload: Mapping[str, Any]) -> Trigger:
    full_name, urls = _repository_keys(_map(payload.get("repository")))
    if not full_name:
        return _full(event_name, "payload names no repository: full reconcile")
    if event_name == "push":
        ref = _str(payload.get("ref"))
        what = f"push {full_name} {ref}".rstrip()
        if payload.get("deleted") is True:
            return _nothing(f"{what}: a deletion, nothing new to discover")
    elif event_name == "release":
        action = _str(payload.get("action"))
        tag = _str(_map(payload.get("release")).get("tag_name"))
        what = f"release {action} {full_name} {tag}".replace("  ", " ").rstrip()
        if action in RELEASE_REMOVALS:
            return _nothing(f"{what}: a removal, nothing new to discover")
    else:
        what = f"create {_str(payload.get('ref_type'))} {full_name} {_str(payload.get('ref'))}"
        what = " ".join(what.split())
    names = {wh.name for wh in config.warehouses if _watches(wh, event_name, full_name, urls)}
    return _narrow(names, what, f"no warehouse watches {full_name} for {event_name} events")


# --------------------------------------------------------------------------- dispatch


def _dispatch(config: Config, payload: Mapping[str, Any]) -> Trigger:
    client = _map(payload.get("client_payload"))
    what = f"repository_dispatch {DISPATCH_TYPE}"
    warehouse = _str(client.get("warehouse"))
    if warehouse:
        # Named explicitly, like `shunter refresh warehouse NAME`: a person or a CI job
        # asked for this warehouse, so webhook.enabled does not apply.
        if warehouse not in {wh.name for wh in config.warehouses}:
            return _nothing(f"{what} warehouse {warehouse}: the config has no such warehouse")
        return Trigger(frozenset({warehouse}), f"{what} warehouse {warehouse}", bypass_cache=True)
    url = _str(client.get("repoURL"))
    if not url:
        return _full("repository_dispatch", "client_payload names no warehouse or repoURL")
    image, git = _image_key(url), normalize_git_url(url)
    names = {
        wh.name
        for wh in config.warehouses
        for sub in wh.subscriptions
        if (
            isinstance(sub, ImageSubscription)
            and _events_allowed(sub)
            and _image_key(sub.repo_url) == image
        )
        or (isinstance(sub, GitSubscription) and normalize_git_url(sub.repo_url) == git)
    }
    return _narrow(names, f"{what} {url}", "no warehouse with webhooks on watches it")

"""Two project and subscription keys whose effect lives in the command wiring: which
permission an emergency operation needs, and which variables hold registry credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands._actor import _check_actor
from bot.commands._context import RunContext
from bot.commands._wiring import _registry_credentials
from bot.core.config import parse_config
from bot.errors import PermanentError
from bot.loop.reconcile import World
from sandbox.fakes import FakeForge, MemoryStateStore

WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app}
spec:
  subscriptions:
    - image: {repoURL: registry.example.com/team/app, credentialsEnv: TEAM_REGISTRY}
    - image: {repoURL: other.example.com/app}
"""
PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: app}
spec: {emergencyPermission: admin}
"""


def test_credentials_env_names_the_variables_read() -> None:
    config = parse_config([("w.yaml", WAREHOUSE)])
    env = {"TEAM_REGISTRY_USERNAME": "robot", "TEAM_REGISTRY_PASSWORD": "s3cret"}
    lookup = _registry_credentials(config, env)
    assert lookup("registry.example.com") == ("robot", "s3cret")
    assert lookup("other.example.com") is None  # no credentialsEnv: nothing is sent
    assert _registry_credentials(config, {})("registry.example.com") is None


@pytest.mark.parametrize(
    ("project", "have", "allowed"),
    [
        ("", "maintain", True),  # the default: maintain
        ("", "write", False),
        (PROJECT, "maintain", False),  # emergencyPermission: admin
        (PROJECT, "admin", True),
    ],
)
def test_emergency_permission_names_the_permission_asked(
    project: str, have: str, allowed: bool
) -> None:
    docs = [("w.yaml", WAREHOUSE)] + ([("p.yaml", project)] if project else [])
    config = parse_config(docs)
    forge = FakeForge(login="carol")
    forge.permissions["carol"] = have
    world = World(config=config, state=MemoryStateStore(), forge=forge)
    ctx = RunContext(Path("kargo"), Path("."), None, "alkon/gitops", "https://api.github.com")
    if allowed:
        assert _check_actor(ctx, config, world, "hotfix", "rollback") == "carol"
    else:
        with pytest.raises(PermanentError):
            _check_actor(ctx, config, world, "hotfix", "rollback")

"""Shared test setup. Fixtures that start real services live in ``sandbox/fixtures/``."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "sandbox.fixtures.gitrepos",
    "sandbox.fixtures.github",
    "sandbox.fixtures.registry",
    "sandbox.fixtures.conformance",
    "sandbox.fixtures.httpstub",
]


@pytest.fixture(autouse=True)
def _scrub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the GitHub Actions variables of the machine it runs on."""
    import os

    for key in list(os.environ):
        if key.startswith(("GITHUB_", "INPUT_", "RUNNER_", "SHUNTER_")) or key == "CI":
            monkeypatch.delenv(key, raising=False)

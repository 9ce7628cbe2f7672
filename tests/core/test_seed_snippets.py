"""Every YAML snippet of the seed guide, placed where the guide places it, is valid config.

The snippets are copied from the guide (``kargo-usage-guide.md``) word for word; each is
merged into an otherwise minimal config at the spot the guide shows it, parsed, checked for
the model values a user would expect, and validated against ``config_schema()`` too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import yaml

from bot.core.config import config_schema, parse_config
from bot.core.model import (
    API_VERSION,
    Approvals,
    Approver,
    Condition,
    Config,
    FreightRequest,
    ImageSubscription,
    Monitoring,
    Verification,
    VerificationStep,
    Webhook,
)
from sandbox.schemacheck import schema_errors

# --------------------------------------------------------------------------- placing snippets


def warehouse() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Warehouse",
        "metadata": {"name": "flask-app"},
        "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/alkon/flask-app"}}]},
    }


def stage() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Stage",
        "metadata": {"name": "dev"},
        "spec": {"subscriptions": {"warehouse": "flask-app"}},
    }


def project() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ProjectConfig",
        "metadata": {"name": "flask-app"},
        "spec": {},
    }


def image_sub(c: Config) -> ImageSubscription:
    """The first subscription of warehouse flask-app, asserted to be an image's."""
    sub = c.warehouse("flask-app").subscriptions[0]
    assert isinstance(sub, ImageSubscription), sub
    return sub


def merge(base: Any, extra: Any) -> Any:
    """Deep-merge ``extra`` into ``base``: mappings key by key, lists item by item."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return [merge(b, e) for b, e in zip(base, extra, strict=False)] + (
            base[len(extra) :] if len(base) > len(extra) else extra[len(base) :]
        )
    return extra


def place(doc: dict[str, Any], at: tuple[str | int, ...], snippet: str) -> dict[str, Any]:
    """Return ``doc`` with the snippet's mapping merged in at the key path ``at``."""
    doc = copy.deepcopy(doc)
    target: Any = doc
    for key in at[:-1]:
        target = target[key]
    if at:
        target[at[-1]] = merge(target.get(at[-1], {}), yaml.safe_load(snippet))
        return doc
    merged: dict[str, Any] = merge(doc, yaml.safe_load(snippet))
    return merged


@dataclass(frozen=True)
class Snippet:
    """A guide snippet, the document it goes into, where, and what the model then holds."""

    title: str
    text: str
    kind: str  # "Warehouse", "Stage", "ProjectConfig", or "full" (the snippet is a document)
    at: tuple[str | int, ...]
    expect: Callable[[Config], Any]
    expected: Any


def documents(s: Snippet) -> list[tuple[str, str]]:
    """The config files with the snippet in place."""
    files = {
        "kargo/warehouse.yaml": warehouse(),
        "kargo/stages/dev.yaml": stage(),
    }
    if s.kind == "full":
        doc = yaml.safe_load(s.text)
        name = "kargo/warehouse.yaml" if doc["kind"] == "Warehouse" else "kargo/stages/dev.yaml"
        return [(n, s.text if n == name else yaml.safe_dump(d)) for n, d in files.items()]
    if s.kind == "ProjectConfig":
        files["kargo/project.yaml"] = place(project(), s.at, s.text)
    else:
        name = "kargo/warehouse.yaml" if s.kind == "Warehouse" else "kargo/stages/dev.yaml"
        files[name] = place(files[name], s.at, s.text)
    return [(n, yaml.safe_dump(d, sort_keys=False)) for n, d in files.items()]


def dev(config: Config) -> Any:
    return config.stage("dev")


SNIPPETS = [
    Snippet(
        "1. Warehouse",
        """\
# What it does: Watches GHCR for new flask-app images
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: flask-app
spec:
  subscriptions:
    - image:
        repoURL: ghcr.io/alkon/flask-app
        semverConstraint: ">=1.8.0"  # Only versions 1.8.0+
""",
        "full",
        (),
        lambda c: image_sub(c).semver_constraint,
        ">=1.8.0",
    ),
    Snippet(
        "2. Stage",
        """\
# What it does: Defines how dev environment gets updates
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  subscriptions:
    warehouse: flask-app  # Gets updates from warehouse
""",
        "full",
        (),
        lambda c: dev(c).requested_freight,
        (FreightRequest("flask-app", direct=True),),
    ),
    Snippet(
        "Immediate Auto-Promotion (Dev)",
        """\
promotionPolicy:
  autoPromotionEnabled: true
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.auto_promotion_enabled,
        True,
    ),
    Snippet(
        "Delayed Auto-Promotion (Staging)",
        """\
promotionPolicy:
  autoPromotionEnabled: true
  autoPromotionDelay: 30m  # Wait 30 minutes
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.auto_promotion_delay,
        timedelta(minutes=30),
    ),
    Snippet(
        "Manual Promotion (Production)",
        """\
promotionPolicy:
  autoPromotionEnabled: false  # Requires manual approval
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.auto_promotion_enabled,
        False,
    ),
    Snippet(
        "2. Changing Staging to Manual",
        """\
spec:
  promotionPolicy:
    autoPromotionEnabled: false  # Changed from true
    # autoPromotionDelay: 30m    # Remove or comment out
""",
        "Stage",
        (),
        lambda c: dev(c).promotion_policy.auto_promotion_delay,
        timedelta(0),
    ),
    Snippet(
        "3. Health-Based Promotion",
        """\
promotionPolicy:
  autoPromotionEnabled: true
  conditions:
    - type: "HealthyFor"
      duration: "10m"  # Must be healthy for 10 minutes
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.conditions,
        (Condition("HealthyFor", duration=timedelta(minutes=10)),),
    ),
    Snippet(
        "4. Business Hours Only (under spec)",
        """\
conditions:
  - type: "BusinessHoursOnly"
    schedule: "0 9-17 * * MON-FRI"  # 9 AM - 5 PM, Mon-Fri
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.conditions,
        (Condition("BusinessHoursOnly", schedule="0 9-17 * * MON-FRI"),),
    ),
    Snippet(
        "4. Business Hours Only (under promotionPolicy)",
        """\
conditions:
  - type: "BusinessHoursOnly"
    schedule: "0 9-17 * * MON-FRI"  # 9 AM - 5 PM, Mon-Fri
""",
        "Stage",
        ("spec", "promotionPolicy"),
        lambda c: dev(c).promotion_policy.conditions,
        (Condition("BusinessHoursOnly", schedule="0 9-17 * * MON-FRI"),),
    ),
    Snippet(
        "Webhook Support",
        """\
subscriptions:
  - image:
      webhook:
        enabled: true
        github:
          repository: "alkon/final-project-devops-repo"
          events: ["push", "release"]
""",
        "Warehouse",
        ("spec",),
        lambda c: image_sub(c).webhook,
        Webhook(True, "alkon/final-project-devops-repo", ("push", "release")),
    ),
    Snippet(
        "Parallel Verification",
        """\
verification:
  parallel: true  # v1.6 feature!
  steps:
    - name: smoke-tests
      analysisTemplate:
        name: smoke-tests
    - name: performance-tests
      analysisTemplate:
        name: perf-tests
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).verification,
        Verification(
            parallel=True,
            steps=(
                VerificationStep("smoke-tests", "smoke-tests"),
                VerificationStep("performance-tests", "perf-tests"),
            ),
        ),
    ),
    Snippet(
        "Custom Colors & Descriptions (stage)",
        """\
metadata:
  annotations:
    kargo.akuity.io/color: "#4CAF50"  # Green for dev
    kargo.akuity.io/description: "Development - auto-promotes latest"
    kargo.akuity.io/icon: "rocket"
""",
        "Stage",
        (),
        lambda c: dev(c).annotations,
        (
            ("kargo.akuity.io/color", "#4CAF50"),
            ("kargo.akuity.io/description", "Development - auto-promotes latest"),
            ("kargo.akuity.io/icon", "rocket"),
        ),
    ),
    Snippet(
        "Custom Colors & Descriptions (warehouse)",
        """\
metadata:
  annotations:
    kargo.akuity.io/color: "#4CAF50"  # Green for dev
    kargo.akuity.io/description: "Development - auto-promotes latest"
    kargo.akuity.io/icon: "rocket"
""",
        "Warehouse",
        (),
        lambda c: dict(c.warehouse("flask-app").annotations)["kargo.akuity.io/icon"],
        "rocket",
    ),
    Snippet(
        "Multi-Step Approval Process",
        """\
promotionPolicy:
  approvals:
    required: true
    approvers:
      - type: "team"
        name: "platform-team"
      - type: "user"
        name: "tech-lead"
    minimumApprovals: 2
    timeout: "24h"
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).promotion_policy.approvals,
        Approvals(
            required=True,
            approvers=(Approver("team", "platform-team"), Approver("user", "tech-lead")),
            minimum_approvals=2,
            timeout=timedelta(hours=24),
        ),
    ),
    Snippet(
        "Smart Artifact Filtering",
        """\
subscriptions:
  - image:
      discoveryLimit: 10  # Only keep last 10 versions
      # v1.6: Smart caching
      cacheTTL: "1h"
retention:
  maxArtifacts: 5
  maxAge: "30d"
""",
        "Warehouse",
        ("spec",),
        lambda c: (
            image_sub(c).discovery_limit,
            image_sub(c).cache_ttl,
            c.warehouse("flask-app").retention.max_artifacts,
            c.warehouse("flask-app").retention.max_age,
        ),
        (10, timedelta(hours=1), 5, timedelta(days=30)),
    ),
    Snippet(
        "Rich Commit Messages",
        """\
gitRepoUpdates:
  - commitMessageTemplate: |
      Kargo: Promote {{.ArtifactType}} {{.ArtifactVersion}} to {{.Stage}}

      Previous: {{.PreviousVersion}}
      New: {{.ArtifactVersion}}
      Promoted by: {{.PromotedBy}}

      Freight ID: {{.FreightID}}
""",
        "Stage",
        ("spec",),
        lambda c: dev(c).git_repo_updates[0].commit_message_template.splitlines()[0],
        "Kargo: Promote {{.ArtifactType}} {{.ArtifactVersion}} to {{.Stage}}",
    ),
    Snippet(
        "Advanced Promotion Gates",
        """\
conditions:
  - type: "VerificationPassed"
    status: "True"
  - type: "SecurityScanPassed"
    status: "True"
  - type: "NoActiveIncidents"
    integrations:
      - pagerduty
""",
        "Stage",
        ("spec", "promotionPolicy"),
        lambda c: dev(c).promotion_policy.conditions,
        (
            Condition("VerificationPassed", status="True"),
            Condition("SecurityScanPassed", status="True"),
            Condition("NoActiveIncidents", integrations=("pagerduty",)),
        ),
    ),
    Snippet(
        "3. Pause Promotions",
        """\
# Edit stage to pause
spec:
  promotionPolicy:
    paused: true  # Temporarily stop all promotions
""",
        "Stage",
        (),
        lambda c: dev(c).promotion_policy.paused,
        True,
    ),
    Snippet(
        "4. Custom Promotion Schedule",
        """\
# Only promote on Tuesdays at 2 PM
schedule: "0 14 * * TUE"
""",
        "Stage",
        ("spec", "promotionPolicy"),
        lambda c: dev(c).promotion_policy.schedule,
        "0 14 * * TUE",
    ),
    Snippet(
        "Version Constraints (good)",
        """\
# Good: Specific constraints
semverConstraint: ">=1.8.0 <2.0.0"
""",
        "Warehouse",
        ("spec", "subscriptions", 0, "image"),
        lambda c: image_sub(c).semver_constraint,
        ">=1.8.0 <2.0.0",
    ),
    Snippet(
        "Version Constraints (bad, but valid)",
        """\
# Bad: Too broad
semverConstraint: "*"
""",
        "Warehouse",
        ("spec", "subscriptions", 0, "image"),
        lambda c: image_sub(c).semver_constraint,
        "*",
    ),
    Snippet(
        "Promotion Windows (staging)",
        """\
# Staging: Auto-promote during work hours
autoPromotionDelay: 2h
conditions:
  - type: "BusinessHoursOnly"
""",
        "Stage",
        ("spec", "promotionPolicy"),
        lambda c: (
            dev(c).promotion_policy.auto_promotion_delay,
            dev(c).promotion_policy.conditions,
        ),
        (timedelta(hours=2), (Condition("BusinessHoursOnly"),)),
    ),
    Snippet(
        "Promotion Windows (prod)",
        """\
# Prod: Manual only, with approval
autoPromotionEnabled: false
""",
        "Stage",
        ("spec", "promotionPolicy"),
        lambda c: dev(c).promotion_policy.auto_promotion_enabled,
        False,
    ),
    Snippet(
        "5. Monitoring",
        """\
# Enable Prometheus metrics
monitoring:
  enabled: true
  serviceMonitor:
    enabled: true
""",
        "ProjectConfig",
        ("spec",),
        lambda c: c.settings.monitoring,
        Monitoring(enabled=True, service_monitor=True),
    ),
]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.title for s in SNIPPETS])
def test_seed_snippet_parses_to_the_expected_model(snippet: Snippet) -> None:
    config = parse_config(documents(snippet))
    assert snippet.expect(config) == snippet.expected


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.title for s in SNIPPETS])
def test_seed_snippet_satisfies_the_json_schema(snippet: Snippet) -> None:
    schema = config_schema()
    for name, text in documents(snippet):
        for doc in yaml.safe_load_all(text):
            assert schema_errors(schema, doc) == [], name


def test_the_seed_snippets_were_placed_as_written() -> None:
    # The parametrized tests above would pass vacuously if placing dropped the snippet.
    s = next(s for s in SNIPPETS if s.title == "Webhook Support")
    files = dict(documents(s))
    image = yaml.safe_load(files["kargo/warehouse.yaml"])["spec"]["subscriptions"][0]["image"]
    assert image["repoURL"] == "ghcr.io/alkon/flask-app"
    assert image["webhook"]["github"]["events"] == ["push", "release"]

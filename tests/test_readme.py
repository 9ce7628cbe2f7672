"""The README's configuration reference stays valid, complete and true to the code.

* Every YAML example is config Shunter accepts: whole documents (``apiVersion`` and
  ``kind``) anywhere in the README are parsed with a minimal warehouse and stage beside
  them; fragments in the Warehouses and Gates sections are put where they belong in a
  minimal document and parsed the same way. GitHub workflow examples are checked against
  the contract Shunter dispatches them with.
* Every key of the Warehouse tables appears in the Warehouses section, named in the prose
  and shown at its place in an example; every gate key likewise in the Gates section.
* The blocking lines the Gates section quotes are the ones the code prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.config import parse_config
from bot.core.config._spec import F, ListOf, MapOf, Obj, Spec, Tagged, Union
from bot.core.config._tables import (
    ANALYSIS_TEMPLATE_SPEC,
    DOCUMENTS,
    HEALTH,
    PROMOTION_POLICY,
    STAGE_SPEC,
    VERIFICATION,
    WAREHOUSE_SPEC,
)
from bot.core.decide import gates as g
from bot.core.decide.actions import OpenPromotionPR
from bot.core.decide.approvals import ApprovalResult
from bot.core.decide.observations import (
    CheckRun,
    Discovery,
    HealthReport,
    Observations,
    SubscriptionResult,
)
from bot.core.decide.outcomes import GateKind
from bot.core.decide.planner import plan
from bot.core.discover.artifacts import Image
from bot.core.ledger import Ledger
from bot.core.model import (
    API_VERSION,
    Approvals,
    Approver,
    Condition,
    Config,
    FreightRequest,
    GitRepoUpdate,
    ImageSubscription,
    KustomizeImageUpdate,
    PromotionPolicy,
    Stage,
    Warehouse,
)
from bot.errors import ConfigError
from sandbox.fixtures.github import VERIFY_WORKFLOW

README = Path(__file__).resolve().parent.parent / "README.md"
IMAGE = "ghcr.io/alkon/flask-app"
# What Shunter passes to every verification workflow (bot/loop/reconcile.py) and what the
# sandbox's verification workflow declares (sandbox/fixtures/github.py, VERIFY_WORKFLOW).
DISPATCH_INPUTS = {"shunter_id", "stage", "freight", "commit"}


# --------------------------------------------------------------------------- reading


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## `` heading."""
    text = readme()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match is not None, f"README.md has no '## {title}' section"
    return match.group(1)


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence, within the text it was read from
    text: str


def yaml_blocks(text: str) -> list[Block]:
    """Every fenced ```yaml block of ``text``."""
    blocks = []
    for m in re.finditer(r"^```yaml\n(.*?)^```$", text, re.M | re.S):
        blocks.append(Block(text.count("\n", 0, m.start()) + 1, m.group(1)))
    return blocks


def prose(text: str) -> str:
    """``text`` without its fenced blocks."""
    return re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)


def is_workflow(doc: Any) -> bool:
    # PyYAML reads a workflow's `on:` key as True (YAML 1.1), so look for `jobs`.
    return isinstance(doc, dict) and "jobs" in doc


def is_document(doc: Any) -> bool:
    return isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc


# --------------------------------------------------------------------------- placing


def warehouse(name: str = "flask-app", spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Warehouse",
        "metadata": {"name": name},
        "spec": spec if spec is not None else {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
    }


def stage(name: str = "dev", spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {"subscriptions": {"warehouse": "flask-app"}, **(spec or {})},
    }


def with_fillers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``docs`` plus the warehouse ``flask-app`` and the stage ``dev`` they may refer to,
    each added only when ``docs`` do not define it."""
    named = {(d.get("kind"), (d.get("metadata") or {}).get("name")) for d in docs}
    out = list(docs)
    if ("Warehouse", "flask-app") not in named:
        out.append(warehouse())
    if ("Stage", "dev") not in named:
        out.append(stage())
    return out


def keys_of(spec: Obj) -> set[str]:
    return set(spec.fields)


def placements(fragment: dict[str, Any]) -> list[dict[str, Any]]:
    """The documents ``fragment`` may belong in: each place whose keys include all of it.

    A fragment is a piece of a document as the guide writes them: a stage's
    ``promotionPolicy`` (or a part of it), a stage's or warehouse's ``spec`` (or a part
    of it), with or without the ``spec:`` line itself.
    """
    if set(fragment) == {"spec"} and isinstance(fragment["spec"], dict):
        fragment = fragment["spec"]
    keys = set(fragment)
    out = []
    if keys <= keys_of(PROMOTION_POLICY):
        out.append(stage(spec={"promotionPolicy": fragment}))
    if keys <= keys_of(STAGE_SPEC):
        out.append(stage(spec=fragment))
    if keys <= keys_of(WAREHOUSE_SPEC):
        out.append(warehouse(spec=fragment))
    return out


@dataclass(frozen=True)
class Example:
    where: str  # "README.md:LINE (section)"
    docs: tuple[dict[str, Any], ...]  # whole documents, fillers excluded


def parse_docs(docs: list[dict[str, Any]]) -> str | None:
    """Parse ``docs`` (with fillers) as one config file; return the problems, or ``None``."""
    text = yaml.safe_dump_all(with_fillers(docs), sort_keys=False)
    try:
        parse_config([("kargo/readme.yaml", text)])
    except ConfigError as exc:
        return "\n".join(str(p) for p in exc.problems)
    return None


def kargo_examples(title: str | None) -> Iterator[tuple[str, list[Any]]]:
    """(where, YAML documents) of each ```yaml block of a section (``None``: the README)."""
    text = readme() if title is None else section(title)
    # The section's text starts on the line after its heading.
    offset = 0 if title is None else readme().count("\n", 0, readme().index(f"## {title}\n")) + 1
    for block in yaml_blocks(text):
        docs = [d for d in yaml.safe_load_all(block.text) if d is not None]
        if docs and all(is_workflow(d) for d in docs):
            continue
        yield f"README.md:{offset + block.line} ({title or 'README'})", docs


def valid_example(where: str, docs: list[Any]) -> Example:
    """The example as whole documents, after checking it parses; fails the test if not."""
    if all(is_document(d) for d in docs):
        problems = parse_docs(docs)
        assert problems is None, f"{where}: the README shows invalid config:\n{problems}"
        return Example(where, tuple(docs))
    assert len(docs) == 1 and isinstance(docs[0], dict), (
        f"{where}: a YAML example must be whole documents (apiVersion, kind) or one fragment"
    )
    candidates = placements(docs[0])
    assert candidates, (
        f"{where}: no place in a Warehouse or Stage takes the keys {sorted(docs[0])}; "
        "write a whole document"
    )
    tried = []
    for doc in candidates:
        problems = parse_docs([doc])
        if problems is None:
            return Example(where, (doc,))
        tried.append(problems)
    raise AssertionError(f"{where}: the README shows invalid config:\n" + "\n".join(tried))


def examples(title: str) -> list[Example]:
    return [valid_example(where, docs) for where, docs in kargo_examples(title)]


# --------------------------------------------------------------------------- key paths


def spec_paths(spec: Spec, path: str, out: set[str]) -> None:
    """Every key path ``spec`` allows (``conditions[HealthyFor].duration`` for a tagged
    list, list items share their list's path)."""
    if isinstance(spec, Obj):
        for key, field in spec.fields.items():
            here = f"{path}.{key}" if path else key
            out.add(here)
            spec_paths(field.spec, here, out)
    elif isinstance(spec, ListOf):
        spec_paths(spec.item, path, out)
    elif isinstance(spec, Union):
        for option in spec.options:
            spec_paths(option, path, out)
    elif isinstance(spec, Tagged):
        for tag, variant in spec.variants.items():
            spec_paths(variant, f"{path}[{tag}]", out)


def value_paths(spec: Spec, value: Any, path: str, out: set[str]) -> None:
    """The key paths of ``spec`` that ``value`` (a parsed YAML value) writes."""
    if isinstance(spec, Obj) and isinstance(value, dict):
        for key, item in value.items():
            field: F | None = spec.fields.get(key)
            if field is None:
                continue
            here = f"{path}.{key}" if path else key
            out.add(here)
            value_paths(field.spec, item, here, out)
    elif isinstance(spec, ListOf) and isinstance(value, list):
        for item in value:
            value_paths(spec.item, item, path, out)
    elif isinstance(spec, Union):
        for option in spec.options:
            value_paths(option, value, path, out)
    elif isinstance(spec, Tagged) and isinstance(value, dict):
        tag = value.get(spec.tag)
        if tag in spec.variants:
            value_paths(spec.variants[tag], value, f"{path}[{tag}]", out)
    elif isinstance(spec, MapOf):
        return


def shown_paths(found: list[Example], kind: str) -> set[str]:
    out: set[str] = set()
    for ex in found:
        for doc in ex.docs:
            if doc.get("kind") == kind:
                value_paths(DOCUMENTS[kind].fields["spec"].spec, doc.get("spec"), "", out)
    return out


def all_paths(spec: Spec, prefix: str = "") -> set[str]:
    out: set[str] = set()
    spec_paths(spec, prefix, out)
    return out


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("title", [None, "Warehouses", "Gates"])
def test_every_yaml_example_is_valid_config(title: str | None) -> None:
    """No config example in the README is one `shunter validate` would refuse."""
    found = list(kargo_examples(title))
    if title is not None:
        assert found, f"the {title} section shows no YAML example"
    for where, docs in found:
        if title is None and not all(is_document(d) for d in docs):
            continue  # fragments are checked in the sections that own them
        valid_example(where, docs)


def test_an_invalid_example_would_be_caught() -> None:
    """The checker itself refuses what Shunter refuses (a misspelt key, a bad value)."""
    misspelt = {"image": {"repoURL": IMAGE, "semverConstrant": ">=1.0.0"}}
    with pytest.raises(AssertionError, match="semverConstrant"):
        valid_example("x", [warehouse(spec={"subscriptions": [misspelt]})])
    with pytest.raises(AssertionError, match="no place"):
        valid_example("x", [{"autoPromotionEnabled": True, "maxAge": "1d"}])
    with pytest.raises(AssertionError, match="discoveryLimit"):
        valid_example(
            "x", [{"subscriptions": [{"image": {"repoURL": IMAGE, "discoveryLimit": 0}}]}]
        )


def test_the_verification_workflow_example_keeps_the_dispatch_contract() -> None:
    """A workflow copied from the README is one Shunter can start and find again."""
    workflows = [
        d
        for b in yaml_blocks(section("Gates"))
        for d in yaml.safe_load_all(b.text)
        if is_workflow(d)
    ]
    assert workflows, "the Gates section shows no verification workflow"
    # The sandbox's verification workflow, which the end-to-end tests dispatch for real.
    tested = yaml.safe_load(VERIFY_WORKFLOW)[True]["workflow_dispatch"]["inputs"]
    assert set(tested) >= DISPATCH_INPUTS
    for wf in workflows:
        trigger = wf.get(True) or wf.get("on")  # YAML 1.1 reads `on` as True
        inputs = trigger["workflow_dispatch"]["inputs"]
        assert set(inputs) >= DISPATCH_INPUTS, f"missing inputs {DISPATCH_INPUTS - set(inputs)}"
        assert re.fullmatch(r"\$\{\{\s*inputs\.shunter_id\s*\}\}", wf["run-name"])
        for name in DISPATCH_INPUTS:
            assert f"`{name}`" in section("Gates"), f"the contract input {name} is not explained"


# --------------------------------------------------------------------------- completeness


def named(key: str, words: str) -> bool:
    """Whether ``words`` name ``key`` in backticks, alone or in a dotted path
    (`maxAge`, `retention.maxAge`, `github.events`)."""
    segment = r"[\w\[\]]+"
    return re.search(rf"`(?:{segment}\.)*{re.escape(key)}(?:\.{segment})*`", words) is not None


def test_every_warehouse_key_is_named_and_shown() -> None:
    """Dropping a Warehouse field from the docs (its line or its example) fails here."""
    text = section("Warehouses")
    words = prose(text)
    wanted = all_paths(WAREHOUSE_SPEC)
    shown = shown_paths(examples("Warehouses"), "Warehouse")
    assert sorted(wanted - shown) == [], "Warehouse keys without an example in the README"
    unnamed = sorted(p for p in wanted if not named(p.rsplit(".", 1)[-1], words))
    assert unnamed == [], "Warehouse keys the README's prose never names"


GATE_KEYS = {
    "Stage": {f"promotionPolicy.{p}" for p in all_paths(PROMOTION_POLICY)}
    | {"promotionPolicy", "verification", "health"}
    | {f"verification.{p}" for p in all_paths(VERIFICATION)}
    | {f"health.{p}" for p in all_paths(HEALTH)},
    "AnalysisTemplate": all_paths(ANALYSIS_TEMPLATE_SPEC),
    "ProjectConfig": {
        "emergencyPermission",
        "integrations",
        "integrations.pagerduty",
        "integrations.pagerduty.tokenEnv",
        "integrations.pagerduty.serviceIds",
        "integrations.pagerduty.apiURL",
    },
}


@pytest.mark.parametrize("kind", sorted(GATE_KEYS))
def test_every_gate_key_is_shown(kind: str) -> None:
    """Every key of the gates (policy, conditions, approvals, verification, health,
    analysis templates, the incident and emergency settings) has an example."""
    shown = shown_paths(examples("Gates"), kind)
    assert sorted(GATE_KEYS[kind] - shown) == [], f"{kind} gate keys without an example"


def test_every_gate_has_its_section() -> None:
    headings = set(re.findall(r"^### (.+)$", section("Gates"), re.M))
    listed = PROMOTION_POLICY.fields["conditions"].spec
    assert isinstance(listed, ListOf) and isinstance(listed.item, Tagged)
    conditions = listed.item
    wanted = {
        "autoPromotionEnabled",
        "autoPromotionDelay",
        "paused",
        "approvals",
        "Verification",
        "Custom Promotion Schedule",
        "Emergency operations",
        *conditions.variants,
    }
    assert sorted(wanted - headings) == []


# --------------------------------------------------------------------------- messages

NOW = datetime(2026, 3, 3, 19, 30, tzinfo=UTC)  # a Tuesday evening
RULE = Approvals(
    required=True,
    approvers=(Approver("team", "platform-team"), Approver("user", "tech-lead")),
    minimum_approvals=2,
)


def one_stage(policy: PromotionPolicy) -> Config:
    return Config(
        warehouses=(Warehouse("flask-app", (ImageSubscription(IMAGE),)),),
        # A stage that writes its kustomization (one with nothing to write opens no PR).
        stages=(
            Stage(
                "dev",
                (FreightRequest("flask-app"),),
                policy,
                git_repo_updates=(
                    GitRepoUpdate(kustomize=(KustomizeImageUpdate(IMAGE, "env/dev"),)),
                ),
            ),
        ),
    )


def discovered() -> Observations:
    """A run that finds flask-app 1.8.5."""
    image = Image(IMAGE, "1.8.5", "sha256:" + "a" * 64)
    seen = Discovery("flask-app", (SubscriptionResult(f"image {IMAGE}", (image,)),))
    return Observations(discoveries={"flask-app": seen})


def planned(policy: PromotionPolicy, minutes_later: int) -> list[str]:
    """What the planner says about a stage with ``policy``, ``minutes_later`` after 1.8.5
    was discovered."""
    config = one_stage(policy)
    first = plan(config, Ledger(), discovered(), NOW)
    later = plan(config, first.ledger, Observations(), NOW + timedelta(minutes=minutes_later))
    return [d.render() for d in later.decisions if d.stage == "dev"]


def manual_gate_line() -> str:
    """The gate line of a manual stage's freshly opened PR, from its checklist."""
    opened = plan(one_stage(PromotionPolicy()), Ledger(), discovered(), NOW)
    bodies = [a.body for a in opened.actions if isinstance(a, OpenPromotionPR)]
    assert len(bodies) == 1
    unchecked = [line[6:] for line in bodies[0].splitlines() if line.startswith("- [ ] ")]
    assert len(unchecked) == 1
    return unchecked[0]


# Each gate's line as the code makes it, in the situation the README describes.
MESSAGES: dict[str, Callable[[], str]] = {
    "autoPromotionEnabled": manual_gate_line,
    "paused": lambda: planned(PromotionPolicy(paused=True), 0)[0],
    "autoPromotionDelay": lambda: planned(
        PromotionPolicy(auto_promotion_enabled=True, auto_promotion_delay=timedelta(minutes=30)),
        18,
    )[0],
    "schedule": lambda: g.window_gate(
        GateKind.SCHEDULE, "0 14 * * TUE", timedelta(hours=1), NOW, UTC
    )[0].render(),
    "BusinessHoursOnly": lambda: g.window_gate(
        GateKind.BUSINESS_HOURS, g.DEFAULT_BUSINESS_HOURS, timedelta(hours=1), NOW, UTC
    )[0].render(),
    "HealthyFor waiting": lambda: g.healthy_for(
        ("dev",), timedelta(minutes=10), {"dev": NOW - timedelta(minutes=4)}, {}, NOW
    ).render(),
    "HealthyFor unhealthy": lambda: g.healthy_for(
        ("dev",),
        timedelta(minutes=10),
        {"dev": None},
        {"dev": HealthReport(False, "Argo CD app flask-app-dev: Degraded, Synced")},
        NOW,
    ).render(),
    "SecurityScanPassed": lambda: g.security_scan(
        (
            CheckRun("CodeQL", "in_progress", None),
            CheckRun("test", "completed", "failure"),
            CheckRun("shunter/gate", "completed", "failure"),
        ),
        2,
    ).render(),
    "NoActiveIncidents": lambda: g.no_active_incidents(
        Condition("NoActiveIncidents", integrations=("pagerduty",)),
        {"pagerduty": ("#42 Checkout latency (flask-app)",)},
    ).render(),
    "approvals": lambda: ApprovalResult(("alice",), 2).describe(RULE),
    "approvals objection": lambda: ApprovalResult(
        ("alice", "tech-lead"), 2, changes_requested_by=("carol",)
    ).describe(RULE),
}


@pytest.mark.parametrize("gate", sorted(MESSAGES))
def test_quoted_blocking_lines_are_what_shunter_prints(gate: str) -> None:
    """The Gates section quotes each gate's blocking line word for word."""
    message = MESSAGES[gate]()
    assert f"`{message}`" in section("Gates"), f"{gate}: the README should quote `{message}`"


def test_inert_fields_are_called_so() -> None:
    """Fields the code accepts but does not act on are said to have no effect."""
    text = section("Warehouses")
    for key in ("interval",):
        rows = [line for line in text.splitlines() if line.startswith(f"| `{key}`")]
        assert rows and "no effect" in rows[0], f"{key} should be documented as having no effect"

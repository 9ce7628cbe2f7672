"""Kargo's stage fields for where freight comes from, end to end on the real registry,
real git and the GitHub sandbox, with a moving clock:

* ``sources.requiredSoakTime``: freight reaches a stage from upstream only after it has
  run, verified, there that long; until then the stage says it is soaking;
* ``sources.availabilityStrategy``: ``OneOf`` (any upstream stage) or ``All`` (every one);
* ``sources.autoPromotionOptions.selectionPolicy``: ``MatchUpstream`` takes what the one
  upstream stage runs, even when newer freight was verified there.

Each test decides by state: what ``main`` runs per stage, and the typed decisions of
``shunter reconcile -o json``. A bad value is a ``validate`` error at its line, and so is
an Argo Rollouts ``AnalysisTemplate`` (Shunter verifies with GitHub workflows).
"""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.core.config import parse_config
from bot.errors import ConfigError
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.kargo_steps import OVERRIDES
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry

WAREHOUSE = "{kind: Warehouse, name: flask-app}"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flask-app"


def stage(name: str, sources: str, policy: str = "", steps: bool = True) -> str:
    """A Kargo 1.x stage of the flask-app pipeline taking freight from ``sources``.

    With ``steps`` it writes its kustomization through the example's ``promote`` task;
    without, it is a control-flow stage (its promotion writes nothing)."""
    out = f"""\
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Stage
        metadata: {{name: {name}}}
        spec:
          requestedFreight:
            - origin: {WAREHOUSE}
              sources: {sources}
          promotionPolicy: {{autoPromotionEnabled: true{policy}}}
"""
    if steps:
        out += """\
          promotionTemplate:
            spec:
              steps:
                - task: {name: promote}
                  vars: [{name: manifests, value: kustomize}]
"""
    return textwrap.dedent(out)


@contextmanager
def world(
    tmp_path: Path,
    registry: LocalRegistry,
    conformance: ConformanceLog,
    label: str,
    *stages: str,
) -> Iterator[Pipeline]:
    overrides = {**OVERRIDES, "kargo/stages/dev.yaml": "---\n".join(stages)}
    with pipeline_world(
        tmp_path / "world", registry, f"e2e/kargo-fields-{label}", overrides,
        conformance=conformance,
    ) as p:  # fmt: skip
        yield p


def decision(p: Pipeline, name: str, summary: Path) -> dict[str, Any]:
    """The typed decision for stage ``name`` of a reconcile run as the Action runs it,
    writing its step summary to ``summary``."""
    text = p.shunter(
        "reconcile", "-o", "json", GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary)
    )
    # In Actions, workflow commands (annotations) follow the JSON document.
    data, _ = json.JSONDecoder().raw_decode(text)
    found: dict[str, Any] = next(d for d in data["decisions"] if d["stage"] == name)
    return found


DEV = stage("dev", "{direct: true}")


def test_required_soak_time_keeps_freight_upstream_until_it_has_run_there_long_enough(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    staging = stage("staging", "{stages: [dev], requiredSoakTime: 1h}")
    with world(tmp_path, oci_registry, github_conformance, "soak", DEV, staging) as p:
        p.w.push("1.8.4")
        p.shunter("reconcile")
        assert (p.version("dev"), p.version("staging")) == ("1.8.4", None)

        p.now += timedelta(minutes=59)
        summary = tmp_path / "summary.md"
        soaking = decision(p, "staging", summary)
        assert (soaking["kind"], soaking["blocked"]) == ("soaking", True)
        assert [(g["kind"], g["holds"]) for g in soaking["gates"]] == [("requiredSoakTime", False)]
        # The summary shows the gate as the JSON renders it.
        assert soaking["gates"][0]["message"] in summary.read_text()
        assert p.version("staging") is None

        p.now += timedelta(minutes=2)
        p.shunter("reconcile")
        assert p.version("staging") == "1.8.4"


@pytest.mark.parametrize(
    ("strategy", "before_qa"),
    [("OneOf", "1.8.4"), ("All", None), (None, "1.8.4")],
    ids=["OneOf", "All", "default-is-OneOf"],
)
def test_availability_strategy_takes_freight_from_any_or_only_every_upstream_stage(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    strategy: str | None,
    before_qa: str | None,
) -> None:
    # qa takes the same freight an hour after discovery; staging names dev and qa.
    qa = stage("qa", "{direct: true}", ", autoPromotionDelay: 1h", steps=False)
    written = f", availabilityStrategy: {strategy}" if strategy else ""
    staging = stage("staging", f"{{stages: [dev, qa]{written}}}")
    label = f"availability-{strategy or 'default'}".lower()
    with world(tmp_path, oci_registry, github_conformance, label, DEV, qa, staging) as p:
        p.w.push("1.8.4")
        p.shunter("reconcile")
        assert (p.version("dev"), p.version("qa")) == ("1.8.4", None)
        assert p.version("staging") == before_qa

        p.now += timedelta(minutes=61)
        p.shunter("reconcile")
        p.shunter("reconcile")
        assert (p.version("qa"), p.version("staging")) == ("1.8.4", "1.8.4")


@pytest.mark.parametrize(
    ("policy", "staging_takes"),
    [("NewestFreight", "1.8.5"), ("MatchUpstream", "1.8.4")],
)
def test_match_upstream_takes_what_the_upstream_stage_runs_not_the_newest(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    policy: str,
    staging_takes: str,
) -> None:
    sources = f"{{stages: [dev], autoPromotionOptions: {{selectionPolicy: {policy}}}}}"
    staging = stage("staging", sources, ", autoPromotionDelay: 30m")
    with world(tmp_path, oci_registry, github_conformance, policy.lower(), DEV, staging) as p:
        p.w.push("1.8.4")
        p.shunter("reconcile")
        old = p.stages()["dev"]["currentFreight"]["alias"]
        p.w.push("1.8.5")
        p.now += timedelta(minutes=1)
        p.shunter("reconcile")
        assert (p.version("dev"), p.version("staging")) == ("1.8.5", None)
        # 1.8.5 was verified in dev; a person rolls dev back to 1.8.4.
        p.shunter("promote", old, "--to", "dev", "--reason", "1.8.5 crashes", login="carol")
        assert p.version("dev") == "1.8.4"

        p.now += timedelta(minutes=40)
        p.shunter("reconcile")
        assert p.version("staging") == staging_takes


SOURCES = "spec.requestedFreight[0].sources."


@pytest.mark.parametrize(
    ("sources", "path"),
    [
        ("{stages: [dev], availabilityStrategy: Any}", "availabilityStrategy"),
        ("{stages: [dev], requiredSoakTime: an hour}", "requiredSoakTime"),
        (
            "{stages: [dev, qa], autoPromotionOptions: {selectionPolicy: MatchUpstream}}",
            "autoPromotionOptions.selectionPolicy",
        ),
        (
            "{direct: true, autoPromotionOptions: {selectionPolicy: MatchUpstream}}",
            "autoPromotionOptions.selectionPolicy",
        ),
        (
            "{stages: [dev], autoPromotionOptions: {selectionPolicy: Oldest}}",
            "autoPromotionOptions.selectionPolicy",
        ),
    ],
    ids=["strategy", "soak", "match-two", "match-direct", "policy"],
)
def test_a_bad_sources_value_is_a_validate_error_at_its_line(sources: str, path: str) -> None:
    docs = [
        ("warehouse.yaml", OVERRIDES["kargo/warehouse.yaml"]),
        ("task.yaml", OVERRIDES["kargo/promotiontask.yaml"]),
        ("dev.yaml", DEV),
        ("qa.yaml", stage("qa", "{direct: true}")),
    ]
    good = stage("staging", "{stages: [dev]}")
    assert parse_config([*docs, ("staging.yaml", good)]).stage("staging").name == "staging"
    with pytest.raises(ConfigError) as info:
        parse_config([*docs, ("staging.yaml", stage("staging", sources))])
    (problem,) = info.value.problems
    # Line 7 holds the sources mapping: the key path says which value in it is wrong.
    assert (problem.file, problem.line, problem.path) == ("staging.yaml", 7, SOURCES + path)


ROLLOUTS = """\
# Kargo's verification, as Argo Rollouts says it
apiVersion: argoproj.io/v1alpha1
kind: {kind}
metadata: {{name: smoke-tests}}
spec:
  metrics:
    - name: smoke
      provider: {{job: {{spec: {{template: {{spec: {{containers: []}}}}}}}}}}
"""


@pytest.mark.parametrize("kind", ["AnalysisTemplate", "ClusterAnalysisTemplate", "Application"])
def test_an_argo_document_is_refused_at_its_api_version(tmp_path: Path, kind: str) -> None:
    config = tmp_path / "kargo"
    shutil.copytree(EXAMPLE / "kargo", config)
    assert main(["validate", "--config", str(config)], env={}, out=io.StringIO()) == 0
    (config / "analysis.yaml").write_text(ROLLOUTS.format(kind=kind))
    out = io.StringIO()
    code = main(["validate", "--config", str(config)], env={"GITHUB_ACTIONS": "true"}, out=out)
    assert code == 2
    # One annotation, at the apiVersion line, not one per Argo key Shunter does not know.
    errors = [line for line in out.getvalue().splitlines() if line.startswith("::error ")]
    assert len(errors) == 1, errors
    assert "analysis.yaml,line=2,col=13::apiVersion" in errors[0]

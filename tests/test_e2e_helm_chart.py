"""``helm-update-chart`` end to end: a warehouse's chart freight written into a chart's
``Chart.yaml`` dependencies.

The chart repository is an ``index.yaml`` served on loopback (as a Helm repository
answers), the image comes from the real registry, the edits land on ``main`` of the real
git repository through the GitHub sandbox. Assertions read ``Chart.yaml`` on ``main``,
the ledger through ``get … -o json`` and exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.charts import ChartRepository
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry

ROOT = Path(__file__).resolve().parents[1]

WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: flask-app
spec:
  subscriptions:
    - image:
        repoURL: ghcr.io/alkon/flask-app
        constraint: ">=1.8.0 <2.0.0"
    - chart:
        repoURL: {charts}
        name: cache
        semverConstraint: ^1.0.0
"""

STAGE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  requestedFreight:
    - origin: {{kind: Warehouse, name: flask-app}}
      sources: {{direct: true}}
  promotionPolicy: {{autoPromotionEnabled: true}}
  promotionTemplate:
    spec:
      steps:
        - uses: git-clone
          config:
            repoURL: https://github.com/alkon/flask-app-gitops.git
            checkout: [{{branch: main, path: ./src}}]
        - uses: kustomize-set-image
          config:
            path: ./src/env/dev
            images: [{{image: ghcr.io/alkon/flask-app}}]
        - uses: helm-update-chart
          as: chart
          config:
            path: ./src/env/dev/chart
            charts:
              - repository: {charts}
                name: cache
              - repository: https://charts.example.com/
                name: pinned
                version: "${{{{ ctx.stage == 'dev' ? '3.2.0' : '3.1.0' }}}}"
        - uses: git-commit
          config:
            path: ./src
            messageFromSteps: [chart]
        - uses: git-push
          config: {{path: ./src}}
"""

CHART = """\
apiVersion: v2
name: flask-app
version: 0.1.0
dependencies:
  # the cache travels with the app
  - name: cache
    version: "1.0.0"   # written by Shunter
    repository: {charts}
  - name: pinned
    version: 3.1.0
    repository: https://charts.example.com
"""


@pytest.fixture
def cache() -> Iterator[ChartRepository]:
    """The Helm repository of chart ``cache``; a test publishes a version by appending."""
    repo = ChartRepository("cache", ("1.2.0", "0.9.0", "2.0.0")).start()
    try:
        yield repo
    finally:
        repo.stop()


@pytest.fixture
def p(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    cache: ChartRepository,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    """The world, its chart's Chart.yaml ``request.param`` (default ``CHART``)."""
    chart = getattr(request, "param", CHART)
    charts = cache.url
    overrides = {
        "kargo/warehouse.yaml": WAREHOUSE.format(charts=charts),
        "kargo/stages/dev.yaml": STAGE.format(charts=charts),
        "kargo/stages/staging.yaml": "# only dev here\n",
        "kargo/stages/prod.yaml": "# only dev here\n",
        "env/dev/chart/Chart.yaml": chart.format(charts=charts),
    }
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/helm-chart", overrides,
        conformance=github_conformance,
    ) as pipeline:  # fmt: skip
        yield pipeline


def before_kustomization(p: Pipeline) -> str:
    """dev's kustomization as the example ships it (the world's image name laid in)."""
    shipped = (ROOT / "examples/flask-app/env/dev/kustomization.yaml").read_text()
    return shipped.replace("ghcr.io/alkon/flask-app", p.w.image_repo)


def chart_yaml(p: Pipeline) -> dict[str, Any]:
    return dict(yaml.safe_load(p.w.main_file("env/dev/chart/Chart.yaml")))


def test_chart_freight_is_written_into_chart_yaml_dependencies(
    p: Pipeline, cache: ChartRepository
) -> None:
    p.w.push("1.8.4")
    p.shunter("reconcile")
    (f,) = json.loads(p.shunter("get", "freight", "-o", "json"))
    assert [c["version"] for c in f["charts"]] == ["1.2.0"]
    assert p.stages()["dev"]["currentFreight"]["name"] == f["name"]
    deps = {d["name"]: d["version"] for d in chart_yaml(p)["dependencies"]}
    assert deps == {"cache": "1.2.0", "pinned": "3.2.0"}  # the freight's; the expression's
    text = p.w.main_file("env/dev/chart/Chart.yaml")
    # Only the values changed: the comments, the quotes and the rest stay as written.
    assert '    version: "1.2.0"   # written by Shunter\n' in text
    assert "  # the cache travels with the app\n" in text
    assert text.count("\n") == CHART.count("\n")

    # A newer chart version is new freight; dev takes it, and Chart.yaml follows.
    cache.versions.append("1.3.0")
    p.shunter("refresh", "warehouse", "flask-app")
    p.shunter("reconcile")
    assert {d["name"]: d["version"] for d in chart_yaml(p)["dependencies"]}["cache"] == "1.3.0"
    (now,) = [r for r in json.loads(p.shunter("get", "freight", "-o", "json"))
              if r["status"]["currentlyIn"] == ["dev"]]  # fmt: skip
    assert [c["version"] for c in now["charts"]] == ["1.3.0"]


@pytest.mark.parametrize("p", [CHART.replace("- name: cache", "- name: redis")], indirect=True)
def test_a_dependency_chart_yaml_does_not_list_fails_the_promotion_loudly(
    p: Pipeline,
) -> None:
    before = p.w.main_file("env/dev/chart/Chart.yaml")
    p.w.push("1.8.4")
    p.shunter("reconcile", expect=1)  # a person must fix the step or Chart.yaml
    assert p.w.main_file("env/dev/chart/Chart.yaml") == before
    assert p.w.main_file("env/dev/kustomization.yaml") == before_kustomization(p)
    assert p.stages()["dev"]["currentFreight"] is None

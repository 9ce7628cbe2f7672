"""Kargo 1.x steps end to end: a Project, a PromotionTask with vars, task: steps with
stage vars, ${{ }} expressions, if:-gated steps and named colours, on the real registry,
real git and the GitHub sandbox.

dev and staging push straight onto ``main`` (no pull request); prod opens one, and the
promotion is recorded once it merges.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import yaml

from sandbox.fixtures.conformance import ConformanceLog
from sandbox.kargo_steps import OVERRIDES
from sandbox.loopback import send_json, serving
from sandbox.pipeline import Pipeline, pipeline_world
from sandbox.registry import LocalRegistry


@pytest.fixture
def steps(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[Pipeline]:
    path = "e2e/" + request.node.name.replace("_", "-").lower()
    with pipeline_world(
        tmp_path / "world", oci_registry, path, OVERRIDES, conformance=github_conformance
    ) as p:
        yield p


def _git(p: Pipeline, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=p.w.bare, capture_output=True, text=True, check=True
    ).stdout


def test_dev_and_staging_push_to_main_and_prod_lands_when_a_person_merges(
    steps: Pipeline,
) -> None:
    p = steps
    p.w.push("1.8.4")
    p.shunter("reconcile")
    assert p.version("dev") == "1.8.4"
    # Straight onto main: no pull request was opened for dev.
    pulls = list(p.repo().get_pulls(state="all"))
    assert pulls == []
    kustomization = yaml.safe_load(p.w.main_file("env/dev/kustomization.yaml"))
    assert [i["newTag"] for i in kustomization["images"]] == ["1.8.4"]
    # git-commit's message expression, evaluated with the freight.
    freight = json.loads(p.shunter("get", "freight", "-o", "json"))[0]
    subject = _git(p, "log", "-1", "--format=%B", "main")
    assert subject.strip() == f"Promote 1.8.4 to dev (freight {freight['name']})"

    p.now += timedelta(minutes=31)
    p.shunter("reconcile")
    assert p.version("staging") == "1.8.4"
    staging = yaml.safe_load(p.w.main_file("env/staging/kustomization.yaml"))
    assert [i["newTag"] for i in staging["images"]] == ["1.8.4"]
    # The only pull request is prod's, opened in the same run.
    assert [pr.head.ref for pr in p.repo().get_pulls(state="all")] == ["shunter/prod"]

    # prod: the task's if: openpr steps make a pull request, and it waits for a person.
    prod = p.stages()["prod"]
    assert prod["currentFreight"] is None
    number = prod["promotion"]["pr"]
    pr = p.pr(number)
    assert (pr.state, pr.base.ref, pr.head.ref) == ("open", "main", "shunter/prod")
    assert [f.filename for f in pr.get_files()] == ["env/prod/values.yaml"]
    p.pr(number, "carol").merge(merge_method="squash", sha=pr.head.sha)
    p.shunter("reconcile")
    assert p.version("prod") == "1.8.4"
    values = yaml.safe_load(p.w.main_file("env/prod/values.yaml"))
    assert values["image"]["tag"] == "1.8.4"
    promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
    assert [(r["stage"], r["status"]) for r in reversed(promotions)] == [
        ("dev", "Succeeded"),
        ("staging", "Succeeded"),
        ("prod", "Succeeded"),
    ]
    assert (promotions[0]["by"], promotions[0]["pr"]) == ("carol", number)


QA = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: qa
  annotations: {kargo.akuity.io/color: violet}
spec:
  requestedFreight:
    - origin: {kind: Warehouse, name: flask-app}
      sources: {stages: [dev]}
  promotionPolicy: {autoPromotionEnabled: true}
  promotionTemplate:
    spec:
      steps:
        - uses: git-clone
          config:
            repoURL: git@github.com:alkon/flask-app-gitops.git
            checkout: [{branch: main, path: ./src}]
"""


def test_a_stage_with_nothing_to_write_records_its_promotion_without_a_commit(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
) -> None:
    overrides = {**OVERRIDES, "kargo/stages/qa.yaml": QA}
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/control-flow", overrides,
        conformance=github_conformance,
    ) as p:  # fmt: skip
        p.w.push("1.8.4")
        p.shunter("reconcile")
        assert p.version("qa") == "1.8.4"
        promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
        (qa,) = [r for r in promotions if r["stage"] == "qa"]
        assert (qa["status"], qa["pr"], qa["commit"]) == ("Succeeded", None, None)
        assert list(p.repo().get_pulls(state="all")) == []  # no PR for qa, none yet for prod
        # main holds dev's commit and nothing for qa.
        subjects = _git(p, "log", "--format=%s", "main").splitlines()
        assert len(subjects) == 2 and subjects[0].startswith("Promote 1.8.4 to dev")


def test_git_open_pr_title_and_labels_reach_the_promotion_pr(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    task = OVERRIDES["kargo/promotiontask.yaml"]
    opened = "        targetBranch: ${{ vars.branch }}\n"
    assert task.count(opened) == 1
    overrides = {
        **OVERRIDES,
        "kargo/promotiontask.yaml": task.replace(
            opened,
            opened
            + '        title: "Deploy ${{ imageFrom(vars.image).Tag }} to ${{ ctx.stage }}"\n'
            + '        labels: [promotion, "env/${{ ctx.stage }}"]\n',
        ),
    }
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/open-pr-title", overrides,
        conformance=github_conformance,
    ) as p:  # fmt: skip
        p.w.push("1.8.4")
        p.shunter("reconcile")
        p.now += timedelta(minutes=31)
        p.shunter("reconcile")
        number = p.stages()["prod"]["promotion"]["pr"]
        pr = p.pr(number)
        assert pr.title == "Deploy 1.8.4 to prod"
        assert [label.name for label in pr.labels] == ["promotion", "env/prod"]
        # A person retitles it: the next run puts the step's title back, and the PR is
        # still Shunter's (its body's marker, not its title, says so), so its merge counts.
        pr.edit(title="something else")
        p.shunter("reconcile")
        assert p.pr(number).title == "Deploy 1.8.4 to prod"
        p.pr(number, "carol").merge(merge_method="squash", sha=pr.head.sha)
        p.shunter("reconcile")
        assert p.version("prod") == "1.8.4"
        (prod,) = [r for r in json.loads(p.shunter("get", "promotions", "-o", "json"))
                   if r["stage"] == "prod"]  # fmt: skip
        assert (prod["status"], prod["pr"]) == ("Succeeded", number)


def _starter() -> dict[str, str]:
    """The steps pipeline as Kargo's starter has it: no ``promotionPolicies`` (no stage
    auto-promotes), no ``Project`` document (the namespace names the project), and no
    approvals on prod (a person merges its PR)."""
    project = OVERRIDES["kargo/project.yaml"]
    policies = project[project.index("  promotionPolicies:") : project.index("  stateBranch:")]
    config = project[project.index("kind: ProjectConfig") :].replace(policies, "")
    config = config.replace("  name: flask-app\n", "  name: flask-app\n  namespace: flask-app\n")
    stages = OVERRIDES["kargo/stages/dev.yaml"]
    approvals = stages[
        stages.index("    approvals:") : stages.index(
            "  promotionTemplate:", stages.index("    approvals:")
        )
    ]
    stages = stages.replace("  promotionPolicy:\n" + approvals, "")
    stages = stages.replace(
        "  promotionPolicy:\n    autoPromotionDelay: 30m  # soak in dev first\n", ""
    )
    assert "promotionPolicy" not in stages and "promotionPolicies" not in config
    return {
        **OVERRIDES,
        "kargo/project.yaml": "apiVersion: kargo.akuity.io/v1alpha1\n" + config,
        "kargo/stages/dev.yaml": stages,
    }


def test_in_kargos_starter_shape_a_person_promotes_each_stage_and_merges_prod(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    with pipeline_world(
        tmp_path / "world", oci_registry, "e2e/kargo-starter", _starter(),
        conformance=github_conformance,
    ) as p:  # fmt: skip
        p.w.push("1.8.4")
        p.shunter("reconcile")
        (f,) = json.loads(p.shunter("get", "freight", "-o", "json"))
        main = _git(p, "rev-parse", "main")
        assert p.version("dev") is None  # nothing auto-promotes

        # Not available to staging yet (dev has not run it): refused, nothing is written.
        head = p.state_head()
        p.shunter("promote", "--freight", f["name"], "--stage", "staging", login="tech-lead",
                  expect=1)  # fmt: skip
        assert (_git(p, "rev-parse", "main"), p.state_head()) == (main, head)
        # Promoting by hand needs emergencyPermission (maintain here), reason or none.
        for login in ("mallory", "alice"):  # read, write
            p.shunter("promote", "--freight", f["name"], "--stage", "dev", login=login, expect=1)
        assert p.state_head() == head

        # Kargo's promote, no reason: dev and staging land straight on main.
        p.shunter("promote", "--freight", f["name"], "--stage", "dev", login="tech-lead")
        assert p.version("dev") == "1.8.4"
        dev = yaml.safe_load(p.w.main_file("env/dev/kustomization.yaml"))
        assert [i["newTag"] for i in dev["images"]] == ["1.8.4"]
        p.shunter("promote", "--freight", f"freight/{f['name']}", "--stage", "staging",
                  login="tech-lead")  # fmt: skip
        assert p.version("staging") == "1.8.4"
        assert [pr.head.ref for pr in p.repo().get_pulls(state="all")] == ["shunter/prod"]

        # prod: its PR waits for a person, who merges it; the next run records it once.
        p.shunter("promote", "--freight", f["name"], "--stage", "prod", login="tech-lead")
        assert p.version("prod") is None
        number = p.stages()["prod"]["promotion"]["pr"]
        pr = p.pr(number)
        assert pr.state == "open"
        p.pr(number, "carol").merge(merge_method="squash", sha=pr.head.sha)
        p.shunter("reconcile")
        p.shunter("reconcile")
        assert p.version("prod") == "1.8.4"
        promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
        assert sorted((r["stage"], r["status"], r["by"]) for r in promotions) == [
            ("dev", "Succeeded", "tech-lead"),
            ("prod", "Succeeded", "carol"),
            ("staging", "Succeeded", "tech-lead"),
        ]
        ops = [(o["operation"], o["stage"], o["by"]) for o in p.operations()]
        assert ops == [("promote", "dev", "tech-lead"), ("promote", "staging", "tech-lead"),
                       ("promote", "prod", "tech-lead")]  # fmt: skip


class _ArgoCD(BaseHTTPRequestHandler):
    """Argo CD's application API: each app's (health, sync, revision), set by the test."""

    apps: ClassVar[dict[str, tuple[str, str, str]]] = {}

    def do_GET(self) -> None:
        # https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/
        if self.headers.get("Authorization") != "Bearer argo-token":
            send_json(self, 401, {"error": "invalid session", "code": 16})
            return
        name = urlsplit(self.path).path.rsplit("/", 1)[-1]
        if name not in self.apps:
            send_json(self, 404, {"error": "not found", "code": 5})
            return
        health, sync, revision = self.apps[name]
        status = {"health": {"status": health}, "sync": {"status": sync, "revision": revision}}
        send_json(self, 200, {"metadata": {"name": name}, "status": status})

    def log_message(self, *args: object) -> None:
        pass


def test_argocd_update_makes_the_application_the_stages_health_gate(
    tmp_path: Path, oci_registry: LocalRegistry, github_conformance: ConformanceLog
) -> None:
    task = OVERRIDES["kargo/promotiontask.yaml"]
    update = (
        "    - uses: argocd-update\n      config:\n        apps:\n"
        "          - name: flask-app-${{ ctx.stage }}\n"
    )
    with serving(_ArgoCD) as argo:
        server = f"http://127.0.0.1:{argo.server_address[1]}"
        project = OVERRIDES["kargo/project.yaml"].replace(
            "  stateBranch: shunter/state\n",
            "  stateBranch: shunter/state\n  integrations:\n"
            f"    argocd: {{server: '{server}', tokenEnv: ARGO_TOKEN}}\n",
        )
        overrides = {
            **OVERRIDES,
            "kargo/project.yaml": project,
            "kargo/promotiontask.yaml": task + update,
        }
        with pipeline_world(
            tmp_path / "world", oci_registry, "e2e/argocd-update", overrides,
            conformance=github_conformance,
        ) as p:  # fmt: skip
            _ArgoCD.apps = {
                f"flask-app-{stage}": ("Progressing", "Synced", "0" * 40)
                for stage in ("dev", "staging", "prod")
            }
            p.w.push("1.8.4")
            p.shunter("reconcile", ARGO_TOKEN="argo-token")
            assert p.version("dev") == "1.8.4"
            dev_commit = _git(p, "rev-parse", "main").strip()
            # dev's application is not Healthy at dev's commit: staging takes nothing.
            for health, revision in (("Progressing", "0" * 40), ("Healthy", "0" * 40)):
                _ArgoCD.apps["flask-app-dev"] = (health, "Synced", revision)
                p.now += timedelta(minutes=31)
                p.shunter("reconcile", ARGO_TOKEN="argo-token")
                assert p.version("staging") is None
            # Healthy and synced to the promotion's commit: dev is verified, and staging
            # follows once its delay has passed.
            _ArgoCD.apps["flask-app-dev"] = ("Healthy", "Synced", dev_commit)
            p.shunter("reconcile", ARGO_TOKEN="argo-token")
            p.now += timedelta(minutes=31)
            p.shunter("reconcile", ARGO_TOKEN="argo-token")
            assert p.version("staging") == "1.8.4"
            staging = yaml.safe_load(p.w.main_file("env/staging/kustomization.yaml"))
            assert [i["newTag"] for i in staging["images"]] == ["1.8.4"]


def test_the_examples_chart_travels_with_the_image_to_prod(steps: Pipeline) -> None:
    p = steps
    p.w.push("1.8.4")
    p.shunter("reconcile")
    (f,) = json.loads(p.shunter("get", "freight", "-o", "json"))
    # One freight holds the image and the chart the warehouse watches.
    assert [c["version"] for c in f["charts"]] == ["0.3.0"]
    # A new chart version alone is new freight; it follows the image's road to prod.
    p.w.push_chart("0.3.1")
    p.now += timedelta(minutes=1)
    p.shunter("reconcile")
    p.now += timedelta(minutes=31)
    p.shunter("reconcile")
    number = p.stages()["prod"]["promotion"]["pr"]
    pr = p.pr(number)
    assert sorted(x.filename for x in pr.get_files()) == [
        "env/prod/Chart.yaml",
        "env/prod/values.yaml",
    ]
    p.pr(number, "carol").merge(merge_method="squash", sha=pr.head.sha)  # a person merges
    p.shunter("reconcile")
    chart = yaml.safe_load(p.w.main_file("env/prod/Chart.yaml"))
    assert [d["version"] for d in chart["dependencies"]] == ["0.3.1"]
    values = yaml.safe_load(p.w.main_file("env/prod/values.yaml"))
    assert values["image"]["tag"] == "1.8.4"
    prod = p.stages()["prod"]["currentFreight"]
    (now,) = [
        x
        for x in json.loads(p.shunter("get", "freight", "-o", "json"))
        if x["name"] == prod["name"]
    ]
    assert ([c["version"] for c in now["charts"]], now["images"][0]["tag"]) == (["0.3.1"], "1.8.4")

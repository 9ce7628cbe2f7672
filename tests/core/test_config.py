"""The config parser: what users see when they get it right, and when they get it wrong."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.adapters.configdir import load_config_dir
from bot.core.config import config_schema, parse_config
from bot.core.model import (
    AnalysisTemplate,
    Approvals,
    Approver,
    Config,
    FreightRequest,
    GitRepoUpdate,
    HttpCheck,
    ImageSubscription,
    KustomizeImageUpdate,
    Location,
    Monitoring,
    PromotionPolicy,
    Settings,
    WorkflowCheck,
    YamlValueUpdate,
)
from bot.errors import ConfigError
from sandbox.schemacheck import schema_errors

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask-app"

WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: flask-app
spec:
  subscriptions:
    - image:
        repoURL: ghcr.io/alkon/flask-app
        semverConstraint: ">=1.8.0 <2.0.0"
"""


def stage(name: str, body: str) -> str:
    """A Stage document named ``name`` whose spec is ``body`` (indented by the caller's 0)."""
    return (
        "apiVersion: kargo.akuity.io/v1alpha1\n"
        "kind: Stage\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    )


DEV = stage("dev", "subscriptions:\n  warehouse: flask-app\n")


def problems(*files: tuple[str, str]) -> list[str]:
    """Parse ``files`` expecting failure; return each problem as printed."""
    with pytest.raises(ConfigError) as info:
        parse_config(list(files))
    return [str(p) for p in info.value.problems]


def parse(*files: tuple[str, str]) -> Config:
    return parse_config(list(files))


# --------------------------------------------------------------------------- happy paths


def test_the_example_folder_loads_to_the_pipeline_the_readme_describes() -> None:
    config = load_config_dir(EXAMPLE / "kargo")

    (warehouse,) = config.warehouses
    assert warehouse.name == "flask-app"
    assert warehouse.subscriptions == (
        ImageSubscription(
            repo_url="ghcr.io/alkon/flask-app",
            semver_constraint=">=1.8.0 <2.0.0",
            discovery_limit=10,
        ),
    )
    assert warehouse.location == Location("kargo/warehouse.yaml", 3, 1)
    assert [s.name for s in config.stages] == ["dev", "staging", "prod"]
    dev, staging, prod = config.stages
    assert dev.requested_freight == (FreightRequest("flask-app"),)
    assert dev.promotion_policy == PromotionPolicy(auto_promotion_enabled=True)
    assert dev.annotation("kargo.akuity.io/color") == "#4CAF50"
    assert dev.git_repo_updates == (
        GitRepoUpdate(kustomize=(KustomizeImageUpdate("ghcr.io/alkon/flask-app", "env/dev"),)),
    )
    assert staging.requested_freight == (FreightRequest("flask-app", False, ("dev",)),)
    assert staging.promotion_policy.auto_promotion_delay == timedelta(minutes=30)
    assert staging.git_repo_updates[0].kustomize[0].path == "env/staging"
    assert prod.requested_freight == (FreightRequest("flask-app", False, ("staging",)),)
    assert prod.promotion_policy.auto_promotion_enabled is False
    assert prod.promotion_policy.approvals == Approvals(
        required=True,
        approvers=(Approver("team", "platform-team"), Approver("user", "tech-lead")),
        minimum_approvals=2,
        timeout=timedelta(hours=24),
    )
    (update,) = prod.git_repo_updates
    assert update.yaml == (
        YamlValueUpdate("env/prod/values.yaml", "image.tag", "ghcr.io/alkon/flask-app", "Tag"),
    )
    assert update.commit_message_template is not None
    assert update.commit_message_template.startswith("Promote {{.ArtifactType}}")
    assert config.settings == Settings(
        state_branch="shunter/state", monitoring=Monitoring(enabled=True, service_monitor=True)
    )
    assert config.downstream("dev") == (staging,)


def test_the_example_manifests_hold_the_values_promotions_edit() -> None:
    for env in ("dev", "staging"):
        doc = yaml.safe_load((EXAMPLE / "env" / env / "kustomization.yaml").read_text())
        assert doc["images"] == [{"name": "ghcr.io/alkon/flask-app", "newTag": "1.8.0"}]
    values = yaml.safe_load((EXAMPLE / "env" / "prod" / "values.yaml").read_text())
    assert values["image"]["repository"] == "ghcr.io/alkon/flask-app"
    assert values["image"]["tag"] == "1.8.0"


def test_every_example_document_satisfies_the_json_schema() -> None:
    schema = config_schema()
    files = sorted((EXAMPLE / "kargo").rglob("*.yaml"))
    assert len(files) >= 5
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            assert schema_errors(schema, doc) == [], file.name


def test_the_schema_rejects_an_unknown_key_and_a_bad_kind() -> None:
    schema = config_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    good = yaml.safe_load(WAREHOUSE)
    assert schema_errors(schema, good) == []
    typo = yaml.safe_load(WAREHOUSE.replace("semverConstraint", "semverConstrant"))
    assert any("unknown key semverConstrant" in e for e in schema_errors(schema, typo))
    wrong_kind = dict(good, kind="Project")
    assert schema_errors(schema, wrong_kind) != []
    two_sources = yaml.safe_load(
        stage("dev", "subscriptions: {warehouse: a}\nrequestedFreight: []\n")
    )
    assert schema_errors(schema, two_sources) != []


def test_stages_come_upstream_first_with_ties_in_file_order() -> None:
    config = parse(
        ("kargo/stages/c.yaml", stage("prod", "subscriptions: {upstreamStages: [{name: qa}]}")),
        ("kargo/stages/b.yaml", stage("qa", "subscriptions: {upstreamStages: [{name: dev}]}")),
        ("kargo/stages/z.yaml", stage("other", "subscriptions: {warehouse: flask-app}")),
        ("kargo/stages/a.yaml", DEV),
        ("kargo/warehouse.yaml", WAREHOUSE),
    )
    assert [s.name for s in config.stages] == ["other", "dev", "qa", "prod"]
    # qa and prod name no warehouse: they inherit dev's.
    assert config.stage("prod").requested_freight == (
        FreightRequest("flask-app", direct=False, upstream_stages=("qa",)),
    )


def test_kargo_spellings_map_onto_the_same_model() -> None:
    warehouse = WAREHOUSE.replace("semverConstraint", "constraint") + (
        "        allowTagsRegexes: ['^1\\.']\n"
        "        ignoreTagsRegexes: ['-rc']\n"
        "        ignoreTags: [1.9.0-bad]\n"
    )
    staging = stage(
        "staging",
        """\
        requestedFreight:
          - origin: {kind: Warehouse, name: flask-app}
            sources: {direct: false, stages: [dev]}
        promotionMechanisms:
          gitRepoUpdates:
            - repoURL: https://github.com/alkon/gitops.git
              writeBranch: main
              pullRequest: {github: {}}
              kustomize:
                images:
                  - image: ghcr.io/alkon/flask-app
                    path: ./env/staging/
                    useDigest: true
        verification:
          analysisTemplates:
            - name: integration
        """,
    )
    config = parse(("w.yaml", warehouse), ("dev.yaml", DEV), ("staging.yaml", staging))
    sub = config.warehouse("flask-app").subscriptions[0]
    assert isinstance(sub, ImageSubscription)
    assert sub.semver_constraint == ">=1.8.0 <2.0.0"
    assert sub.allow_tags == ("^1\\.",)
    assert sub.ignore_tags_regexes == ("-rc",)
    assert sub.ignore_tags == ("1.9.0-bad",)
    s = config.stage("staging")
    assert s.requested_freight == (FreightRequest("flask-app", False, ("dev",)),)
    assert s.git_repo_updates == (
        GitRepoUpdate(
            repo_url="https://github.com/alkon/gitops.git",
            write_branch="main",
            pull_request=True,
            kustomize=(KustomizeImageUpdate("ghcr.io/alkon/flask-app", "env/staging", True),),
        ),
    )
    assert s.verification is not None
    assert [(v.name, v.analysis_template) for v in s.verification.steps] == [
        ("integration", "integration")
    ]
    # A template no document defines is a workflow file, not an error.
    assert config.analysis_template("integration") is None


def test_promotion_template_steps_settle_the_route_and_keep_the_edits() -> None:
    body = """\
    subscriptions: {warehouse: flask-app}
    promotionTemplate:
      spec:
        steps:
          - uses: git-clone
            config:
              repoURL: https://github.com/alkon/gitops.git
              checkout:
                - branch: env/dev
                  path: ./out
          - uses: kustomize-set-image
            as: update
            config:
              path: ./out/env/dev
              images:
                - image: ghcr.io/alkon/flask-app
                  tag: ${{ imageFrom("ghcr.io/alkon/flask-app").Tag }}
          - uses: yaml-update
            config:
              path: ./out/env/dev/values.yaml
              updates:
                - key: image.digest
                  value: ${{ imageFrom("ghcr.io/alkon/flask-app").Digest }}
                - key: replicaCount
                  value: 2
          - uses: git-commit
            config:
              path: ./out
              messageFromSteps: [update]
          - uses: git-push
            config: {path: ./out, targetBranch: env/dev}
    """
    config = parse(("w.yaml", WAREHOUSE), ("dev.yaml", stage("dev", body)))
    (update,) = config.stage("dev").git_repo_updates
    assert (update.write_branch, update.pull_request, update.clone_url) == (
        "env/dev",
        False,  # git-push without git-open-pr: a direct push
        "https://github.com/alkon/gitops.git",
    )
    assert update.program is not None
    assert [(s.uses, s.alias, s.file) for s in update.program.steps] == [
        ("kustomize-set-image", "update", "env/dev/kustomization.yaml"),
        ("yaml-update", "step-3", "env/dev/values.yaml"),
        ("git-commit", "step-4", None),
    ]


def test_analysis_templates_and_project_settings() -> None:
    docs = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke-tests}
spec:
  workflow: {file: smoke.yml, ref: main, inputs: {env: dev, debug: true}}
  timeout: 10m
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: ping}
spec:
  http: {url: "https://dev.example.com/healthz", expectStatus: [200, 204]}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: flask-app}
spec: {stateBranch: ops/ledger, emergencyPermission: admin}
"""
    config = parse(("w.yaml", WAREHOUSE), ("more.yaml", docs))
    assert config.analysis_template("smoke-tests") == AnalysisTemplate(
        "smoke-tests",
        workflow=WorkflowCheck("smoke.yml", "main", (("env", "dev"), ("debug", "true"))),
        timeout=timedelta(minutes=10),
    )
    assert config.analysis_template("ping") == AnalysisTemplate(
        "ping", http=HttpCheck("https://dev.example.com/healthz", expect_status=(200, 204))
    )
    assert config.settings.state_branch == "ops/ledger"
    assert config.settings.emergency_permission == "admin"


# --------------------------------------------------------------------------- problems

W = "kargo/warehouse.yaml"
S = "kargo/stages/dev.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "semverConstraint",
            "semverConstrant",
            f"{W}:9:9: spec.subscriptions[0].image.semverConstrant: unknown key "
            "'semverConstrant'; allowed here: repoURL, semverConstraint, constraint, "
            "discoveryLimit, cacheTTL, imageSelectionStrategy, allowTags, allowTagsRegexes, "
            "ignoreTags, ignoreTagsRegexes, strictSemvers, platform, insecureSkipTLSVerify, "
            "credentialsEnv, webhook (hint: did you mean 'semverConstraint'?)",
            id="unknown key",
        ),
        pytest.param(
            'semverConstraint: ">=1.8.0 <2.0.0"',
            'semverConstraint: ">=1.8.0 <2.0.0"\n        discoveryLimit: "10"',
            f"{W}:10:25: spec.subscriptions[0].image.discoveryLimit: expected a whole number, "
            "got a string (10)",
            id="bad type",
        ),
        pytest.param(
            'semverConstraint: ">=1.8.0 <2.0.0"',
            'semverConstraint: ">=1.8.0 <2.0.0"\n        discoveryLimit: 500',
            f"{W}:10:25: spec.subscriptions[0].image.discoveryLimit: 500 is out of range: "
            "must be between 1 and 100",
            id="out of range",
        ),
        pytest.param(
            'semverConstraint: ">=1.8.0 <2.0.0"',
            'semverConstraint: ">=1.8.0 <2.0.0"\n        cacheTTL: 1 hour',
            f"{W}:10:19: spec.subscriptions[0].image.cacheTTL: '1 hour' is not a duration: "
            "write a duration like 30m, 2h or 1h30m",
            id="bad duration",
        ),
        pytest.param(
            '">=1.8.0 <2.0.0"',
            '"bogus"',
            f"{W}:9:27: spec.subscriptions[0].image.semverConstraint: invalid version "
            "constraint 'bogus'",
            id="bad constraint",
        ),
        pytest.param(
            'semverConstraint: ">=1.8.0 <2.0.0"',
            "allowTags: '^v(1'",
            f"{W}:9:20: spec.subscriptions[0].image.allowTags: '^v(1' is not a valid regular "
            "expression: missing ), unterminated subpattern at position 2",
            id="bad regex",
        ),
        pytest.param(
            "repoURL: ghcr.io/alkon/flask-app",
            "repoURL: https://ghcr.io/alkon/flask-app:1.0",
            f"{W}:8:18: spec.subscriptions[0].image.repoURL: "
            "'https://ghcr.io/alkon/flask-app:1.0' must not start with a scheme such as "
            "https:// (hint: write it like ghcr.io/owner/name)",
            id="scheme in repoURL",
        ),
        pytest.param(
            "kind: Warehouse",
            "kind: Warehose",
            f"{W}:2:7: kind: unknown kind 'Warehose'; known: Warehouse, Stage, AnalysisTemplate, "
            "ProjectConfig, PromotionTask, ClusterPromotionTask, Project (hint: did you mean "
            "'Warehouse'?)",
            id="bad kind",
        ),
        pytest.param(
            "apiVersion: kargo.akuity.io/v1alpha1",
            "apiVersion: kargo.akuity.io/v1",
            f"{W}:1:13: apiVersion: must be 'kargo.akuity.io/v1alpha1', not 'kargo.akuity.io/v1'",
            id="bad apiVersion",
        ),
        pytest.param(
            "  name: flask-app",
            "  name: Flask_App",
            f"{W}:4:9: metadata.name: 'Flask_App' is not a valid name: use lowercase letters, "
            "digits and '-', starting and ending with a letter or digit "
            "(hint: for example flask-app)",
            id="bad name",
        ),
        pytest.param(
            "        repoURL: ghcr.io/alkon/flask-app\n",
            "        repoURL: ghcr.io/alkon/flask-app\n        repoURL: ghcr.io/alkon/other\n",
            f"{W}:9:9: spec.subscriptions[0].image.repoURL: 'repoURL' is written twice "
            "(first on line 8)",
            id="duplicate key",
        ),
        pytest.param(
            "    - image:",
            "    - imag:",
            f"{W}:7:7: spec.subscriptions[0].imag: unknown key 'imag'; allowed here: image, "
            "chart, git (hint: did you mean 'image'?)",
            id="unknown subscription kind",
        ),
        pytest.param(
            "spec:\n",
            "spec:\n  retention: {maxAge: 30}\n",
            f"{W}:6:23: spec.retention.maxAge: expected a duration, got a number (30) "
            "(hint: write a duration like 30m, 2h or 1h30m)",
            id="number for a duration",
        ),
    ],
)
def test_a_warehouse_problem_is_located_at_its_key(old: str, new: str, expected: str) -> None:
    text = WAREHOUSE.replace(old, new, 1)
    assert text != WAREHOUSE
    found = problems((W, text), (S, DEV))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy: {schedule: "0 14 * * * *"}
            """,
            f"{S}:7:31: spec.promotionPolicy.schedule: '0 14 * * * *' has 6 field(s), a cron "
            "expression has 5: minute hour day-of-month month day-of-week",
            id="cron with seconds",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy:
              conditions:
                - type: BusinessHoursOnly
                  schedule: "0 9-17 * * MONDAY"
            """,
            f"{S}:10:19: spec.promotionPolicy.conditions[0].schedule: '0 9-17 * * MONDAY' is "
            "not a valid cron expression",
            id="bad cron",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy: {autoPromotionDelay: 30 minutes}
            """,
            f"{S}:7:41: spec.promotionPolicy.autoPromotionDelay: '30 minutes' is not a "
            "duration: write a duration like 30m, 2h or 1h30m",
            id="bad delay",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy: {autoPromotionEnabled: "yes"}
            """,
            f"{S}:7:43: spec.promotionPolicy.autoPromotionEnabled: expected true or false, "
            "got a string (yes)",
            id="quoted boolean",
        ),
        pytest.param(
            "subscriptions: {warehouse: warehose}\n",
            f"{S}:6:30: spec.subscriptions.warehouse: no Warehouse named 'warehose' "
            "(hint: known warehouses: flask-app)",
            id="dangling warehouse",
        ),
        pytest.param(
            "subscriptions: {upstreamStages: [{name: qa}]}\n",
            f"{S}:6:43: spec.subscriptions.upstreamStages[0].name: no Stage named 'qa' "
            "(hint: known stages: dev)",
            id="dangling upstream",
        ),
        pytest.param(
            "subscriptions: {upstreamStages: [{name: dev}]}\n",
            f"{S}:6:43: spec.subscriptions.upstreamStages[0].name: stages take freight from "
            "each other in a cycle: dev -> dev",
            id="self cycle",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy:
              conditions:
                - type: HealthyFor
                  duration: 10m
                - type: Sunny
            """,
            f"{S}:11:15: spec.promotionPolicy.conditions[1].type: unknown type 'Sunny'; known: "
            "HealthyFor, BusinessHoursOnly, VerificationPassed, SecurityScanPassed, "
            "NoActiveIncidents",
            id="unknown condition",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            conditions: [{type: HealthyFor}]
            """,
            f"{S}:7:16: spec.conditions[0].duration: missing required key 'duration'",
            id="missing condition field",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            conditions: [{type: HealthyFor, duration: 1m}]
            promotionPolicy:
              conditions: [{type: HealthyFor, duration: 1m}]
            """,
            f"{S}:7:15: spec.conditions: conditions are written both here and under "
            "promotionPolicy (hint: keep one list, under promotionPolicy)",
            id="conditions twice",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionPolicy:
              approvals:
                approvers: [{type: user, name: alice}, {type: user, name: bob}]
                minimumApprovals: 3
            """,
            f"{S}:10:25: spec.promotionPolicy.approvals.minimumApprovals: 3 approvals can never "
            "be reached: only 2 user(s) may approve (hint: lower minimumApprovals or add "
            "approvers)",
            id="unreachable quorum",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            gitRepoUpdates:
              - kustomize:
                  images: [{image: ghcr.io/alkon/other, path: env/dev}]
            """,
            f"{S}:9:26: spec.gitRepoUpdates[0].kustomize.images[0].image: image "
            "'ghcr.io/alkon/other' is not watched by warehouse flask-app "
            "(hint: watched: ghcr.io/alkon/flask-app)",
            id="image not watched",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            gitRepoUpdates:
              - commitMessageTemplate: "Promote {{.Version}}"
            """,
            f"{S}:8:30: spec.gitRepoUpdates[0].commitMessageTemplate: unknown variable(s) "
            "Version in the commit message template",
            id="bad template",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionTemplate:
              spec:
                steps:
                  - uses: yaml-update
                    config:
                      path: values.yaml
                      updates:
                        - key: image.tag
                          value: ${{ imageFrom(vars.repo).Tag }}
            """,
            f"{S}:15:24: spec.promotionTemplate.spec.steps[0].config.updates[0].value: "
            "column 15: vars has no 'repo' (known: none)",
            id="unknown var in an expression",
        ),
        pytest.param(
            """\
            subscriptions: {warehouse: flask-app}
            promotionTemplate:
              spec:
                steps:
                  - uses: http
            """,
            f"{S}:10:17: spec.promotionTemplate.spec.steps[0].uses: unknown uses 'http'; known: "
            "git-clone, kustomize-set-image, yaml-update, helm-update-image, "
            "helm-update-chart, git-commit, git-push, git-open-pr, git-wait-for-pr, "
            "argocd-update, git-clear, kustomize-build, helm-template",
            id="unknown step",
        ),
        pytest.param(
            "requestedFreight: [{origin: {kind: Warehouse, name: flask-app}, sources: {}}]\n",
            f"{S}:6:76: spec.requestedFreight[0].sources: sources needs direct: true or a list "
            "of stages",
            id="no sources",
        ),
        pytest.param(
            "promotionPolicy: {}\n",
            f"{S}:6:3: spec: write one of subscriptions, requestedFreight",
            id="no freight source",
        ),
    ],
)
def test_a_stage_problem_is_located_at_its_key(body: str, expected: str) -> None:
    found = problems((W, WAREHOUSE), (S, stage("dev", body)))
    assert any(p.startswith(expected) for p in found), found


def test_a_cycle_is_reported_once_in_the_direction_freight_flows() -> None:
    found = problems(
        (W, WAREHOUSE),
        ("a.yaml", stage("dev", "subscriptions: {upstreamStages: [{name: prod}]}")),
        ("b.yaml", stage("staging", "subscriptions: {upstreamStages: [{name: dev}]}")),
        ("c.yaml", stage("prod", "subscriptions: {upstreamStages: [{name: staging}]}")),
        ("d.yaml", stage("later", "subscriptions: {upstreamStages: [{name: prod}]}")),
    )
    assert found == [
        "a.yaml:6:43: spec.subscriptions.upstreamStages[0].name: stages take freight from each "
        "other in a cycle: dev -> staging -> prod -> dev (hint: a stage must not take freight "
        "from itself or from a stage after it)"
    ]


def test_a_duplicate_name_points_at_both_places() -> None:
    found = problems((W, WAREHOUSE), ("a.yaml", DEV), ("b.yaml", DEV))
    assert found == [
        "b.yaml:4:9: metadata.name: Stage 'dev' is defined twice (first at a.yaml:1:1) "
        "(hint: rename one)"
    ]


def test_a_yaml_syntax_error_names_its_line_and_other_files_are_still_checked() -> None:
    broken = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: [dev}\n"
    found = problems((W, WAREHOUSE.replace("discoveryLimit", "x")), (S, broken), ("ok.yaml", DEV))
    assert found[0].startswith(f"{S}:3:22: (yaml): YAML syntax error: ")
    # A config that could not be read whole gives no "no such warehouse" noise.
    assert len(found) == 1


def test_every_problem_of_a_run_is_reported_in_file_order() -> None:
    warehouse = WAREHOUSE.replace("semverConstraint", "semverConstrant").replace(
        "ghcr.io/alkon/flask-app\n", "ghcr.io/alkon/flask-app\n        cacheTTL: soon\n"
    )
    bad_stage = stage(
        "dev",
        """\
        subscriptions: {warehouse: flask-app}
        promotionPolicy:
          autoPromotionDelay: 30 min
          schedule: every tuesday
        """,
    )
    with pytest.raises(ConfigError) as info:
        parse_config([(W, warehouse), (S, bad_stage)])
    located = [(p.file, p.line, p.path) for p in info.value.problems]
    assert located == [
        (W, 9, "spec.subscriptions[0].image.cacheTTL"),
        (W, 10, "spec.subscriptions[0].image.semverConstrant"),
        (S, 8, "spec.promotionPolicy.autoPromotionDelay"),
        (S, 9, "spec.promotionPolicy.schedule"),
    ]
    # The exception's text is every problem, one per line, as the CLI prints it.
    assert str(info.value).count("\n") == 3


def test_an_empty_config_is_an_error() -> None:
    assert problems(("kargo/empty.yaml", "# nothing yet\n")) == [
        "kargo/empty.yaml:1:1: (config): no config documents found "
        "(hint: add a Warehouse and Stages)"
    ]


# --------------------------------------------------------------------------- the folder adapter


def test_configdir_names_files_from_the_folders_parent(tmp_path: Path) -> None:
    folder = tmp_path / "kargo"
    (folder / "stages").mkdir(parents=True)
    (folder / "warehouse.yml").write_text(WAREHOUSE)
    (folder / "stages" / "dev.yaml").write_text(DEV.replace("flask-app", "flask-ap"))
    (folder / "notes.txt").write_text("not: config: at all")
    (folder / ".editor").mkdir()
    (folder / ".editor" / "state.yaml").write_text("{broken")
    with pytest.raises(ConfigError) as info:
        load_config_dir(folder)
    assert [str(p) for p in info.value.problems] == [
        "kargo/stages/dev.yaml:7:16: spec.subscriptions.warehouse: no Warehouse named "
        "'flask-ap' (hint: known warehouses: flask-app)"
    ]


def test_configdir_reports_a_missing_folder_as_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_dir(tmp_path / "kargo")
    (problem,) = info.value.problems
    assert problem.message == "config folder does not exist"
    assert info.value.exit_code == 2


def test_configdir_reports_bytes_that_are_not_utf8_with_their_line(tmp_path: Path) -> None:
    folder = tmp_path / "kargo"
    folder.mkdir()
    (folder / "warehouse.yaml").write_text(WAREHOUSE)
    (folder / "dev.yaml").write_bytes(DEV.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config_dir(folder)
    assert [str(p) for p in info.value.problems] == [
        "kargo/dev.yaml:8:6: (file): the file is not UTF-8 text (byte 0xe9) "
        "(hint: save it as UTF-8)"
    ]


def test_configdir_reports_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "kargo").mkdir()
    with pytest.raises(ConfigError, match=r"holds no \.yaml or \.yml file"):
        load_config_dir(tmp_path / "kargo")


def test_yaml_anchors_and_merge_keys_work_and_written_keys_override() -> None:
    text = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: flask-app}
spec:
  subscriptions:
    - image: &common {repoURL: ghcr.io/alkon/flask-app, discoveryLimit: 5}
    - image:
        <<: *common
        repoURL: ghcr.io/alkon/worker
"""
    config = parse(("w.yaml", text))
    subs = config.warehouse("flask-app").subscriptions
    assert [(s.repo_url, s.discovery_limit) for s in subs] == [
        ("ghcr.io/alkon/flask-app", 5),
        ("ghcr.io/alkon/worker", 5),
    ]


def test_a_document_that_is_not_a_mapping_is_reported() -> None:
    assert problems(("w.yaml", WAREHOUSE + "---\n- just\n- a list\n")) == [
        "w.yaml:11:1: (document): expected a mapping, got a list"
    ]


# ------------------------------------------------------------- health, incidents, windows

HEALTHY_STAGE = """\
subscriptions: {warehouse: flask-app}
promotionPolicy:
  schedule: "0 9 * * MON-FRI"
  timezone: Europe/Berlin
  scheduleWindow: 90m
  conditions:
    - type: BusinessHoursOnly
      schedule: "0 9-17 * * MON-FRI"
      timezone: America/New_York
      window: 45m
    - type: NoActiveIncidents
      integrations: [pagerduty]
health:
  argocd:
    server: https://argocd.example.com/
    app: flask-app-dev
    namespace: apps
    tokenEnv: ARGO_TOKEN
  githubDeployment: {environment: dev}
  http: {url: "http://127.0.0.1:8080/healthz", expectStatus: [200, 204], timeout: 3s}
"""

PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: flask-app}
spec:
  integrations:
    pagerduty:
      tokenEnv: PD_KEY
      serviceIds: [PX1ABC2, PQ9XYZ0]
      apiURL: https://pd.example.com/
"""


def test_health_incidents_and_windows_parse_to_the_model() -> None:
    from bot.core.model import (
        ArgoCDHealth,
        Condition,
        DeploymentHealth,
        HealthCheck,
        HttpHealth,
        PagerDuty,
    )

    config = parse((W, WAREHOUSE), (S, stage("dev", HEALTHY_STAGE)), ("p.yaml", PROJECT))
    (dev,) = config.stages
    assert dev.health == HealthCheck(
        argocd=ArgoCDHealth("https://argocd.example.com", "flask-app-dev", "apps", "ARGO_TOKEN"),
        github_deployment=DeploymentHealth("dev"),
        http=HttpHealth(
            "http://127.0.0.1:8080/healthz", expect_status=(200, 204), timeout=timedelta(seconds=3)
        ),
    )
    policy = dev.promotion_policy
    assert (policy.schedule, policy.timezone) == ("0 9 * * MON-FRI", "Europe/Berlin")
    assert policy.schedule_window == timedelta(minutes=90)
    assert policy.conditions == (
        Condition(
            "BusinessHoursOnly",
            schedule="0 9-17 * * MON-FRI",
            timezone="America/New_York",
            window=timedelta(minutes=45),
        ),
        Condition("NoActiveIncidents", integrations=("pagerduty",)),
    )
    assert config.settings.pagerduty == PagerDuty(
        "PD_KEY", ("PX1ABC2", "PQ9XYZ0"), "https://pd.example.com"
    )


def test_health_defaults_come_from_the_model() -> None:
    from bot.core.model import ArgoCDHealth, HttpHealth, PagerDuty

    body = """\
    subscriptions: {warehouse: flask-app}
    health:
      argocd: {server: "https://argocd.example.com", app: flask-app-dev}
      http: {url: "https://dev.example.com/healthz", expectStatus: 204}
    """
    config = parse((W, WAREHOUSE), (S, stage("dev", body)))
    (dev,) = config.stages
    assert dev.health is not None
    assert dev.health.argocd == ArgoCDHealth("https://argocd.example.com", "flask-app-dev")
    assert dev.health.argocd.token_env == "ARGOCD_AUTH_TOKEN"
    assert dev.health.http == HttpHealth("https://dev.example.com/healthz", expect_status=(204,))
    assert dev.health.github_deployment is None
    assert dev.promotion_policy.schedule_window == timedelta(hours=1)
    assert config.settings.pagerduty == PagerDuty()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "health:\n  argocd: {server: 'http://argocd.example.com', app: a}\n",
            f"{S}:8:22: spec.health.argocd.server: 'http://argocd.example.com' uses plain http: "
            "write https:// (http is allowed only for localhost)",
            id="plain http",
        ),
        pytest.param(
            "health:\n  argocd: {server: argocd.example.com, app: a}\n",
            f"{S}:8:22: spec.health.argocd.server: 'argocd.example.com' is not an absolute "
            "https:// URL",
            id="no scheme",
        ),
        pytest.param(
            "health:\n  argocd: {server: 'https://argocd.example.com'}\n",
            f"{S}:8:13: spec.health.argocd.app: missing required key 'app'",
            id="no app",
        ),
        pytest.param(
            "health:\n  argocd: {server: 'https://a.example', app: a, tokenEnv: 'MY-TOKEN'}\n",
            f"{S}:8:61: spec.health.argocd.tokenEnv: 'MY-TOKEN' is not an environment variable "
            "name",
            id="bad env name",
        ),
        pytest.param(
            "health:\n  http: {url: 'https://x.example/h', timeout: soon}\n",
            f"{S}:8:49: spec.health.http.timeout: 'soon' is not a duration",
            id="bad timeout",
        ),
        pytest.param(
            "health:\n  http: {url: 'https://x.example/h', expectStatus: 700}\n",
            f"{S}:8:54: spec.health.http.expectStatus: 700 is out of range",
            id="bad status",
        ),
        pytest.param(
            "health: {}\n",
            f"{S}:7:11: spec.health: health needs argocd, githubDeployment or http",
            id="empty health",
        ),
        pytest.param(
            "health:\n  githubDeployment: {}\n",
            f"{S}:8:23: spec.health.githubDeployment.environment: missing required key",
            id="no environment",
        ),
        pytest.param(
            "promotionPolicy: {scheduleWindow: 1 hour}\n",
            f"{S}:7:37: spec.promotionPolicy.scheduleWindow: '1 hour' is not a duration",
            id="bad schedule window",
        ),
        pytest.param(
            "promotionPolicy:\n  conditions: [{type: BusinessHoursOnly, window: forever}]\n",
            f"{S}:8:52: spec.promotionPolicy.conditions[0].window: 'forever' is not a duration",
            id="bad condition window",
        ),
        pytest.param(
            "promotionPolicy:\n"
            "  conditions: [{type: NoActiveIncidents, integrations: [opsgenie]}]\n",
            f"{S}:8:59: spec.promotionPolicy.conditions[0].integrations[0]: "
            "'opsgenie' is not one of pagerduty",
            id="unknown integration",
        ),
    ],
)
def test_a_health_or_window_problem_is_located_at_its_key(body: str, expected: str) -> None:
    text = "subscriptions: {warehouse: flask-app}\n" + body
    found = problems((W, WAREHOUSE), (S, stage("dev", text)))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("pagerduty", "expected"),
    [
        pytest.param(
            "{apiURL: 'http://pd.example.com'}",
            "p.yaml:6:25: spec.integrations.pagerduty.apiURL: 'http://pd.example.com' uses "
            "plain http",
            id="plain http",
        ),
        pytest.param(
            "{serviceIds: [px-1]}",
            "p.yaml:6:30: spec.integrations.pagerduty.serviceIds[0]: 'px-1' is not a PagerDuty "
            "service ID",
            id="bad service id",
        ),
        pytest.param(
            "{token: abc}",
            "p.yaml:6:17: spec.integrations.pagerduty.token: unknown key 'token'",
            id="a token in the file",
        ),
    ],
)
def test_a_pagerduty_problem_is_located_at_its_key(pagerduty: str, expected: str) -> None:
    doc = PROJECT.split("  integrations:")[0] + f"  integrations:\n    pagerduty: {pagerduty}\n"
    found = problems((W, WAREHOUSE), (S, DEV), ("p.yaml", doc))
    assert any(p.startswith(expected) for p in found), found


def test_an_http_analysis_template_refuses_plain_http_to_another_host() -> None:
    doc = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: ping}
spec:
  http: {url: "http://dev.example.com/healthz"}
"""
    found = problems((W, WAREHOUSE), ("t.yaml", doc))
    assert any(
        p.startswith("t.yaml:5:15: spec.http.url: 'http://dev.example.com/healthz' uses plain")
        for p in found
    ), found


def test_the_schema_knows_the_health_and_integration_keys() -> None:
    schema = config_schema()
    text = str(schema)
    for key in ("githubDeployment", "expectStatus", "scheduleWindow", "serviceIds", "apiURL"):
        assert key in text
    good = yaml.safe_load(stage("dev", HEALTHY_STAGE))
    assert schema_errors(schema, good) == []
    assert schema_errors(schema, yaml.safe_load(PROJECT)) == []
    bad = yaml.safe_load(stage("dev", "subscriptions: {warehouse: x}\nhealth: {argo: {}}\n"))
    assert any("unknown key argo" in e for e in schema_errors(schema, bad))

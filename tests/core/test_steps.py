"""Kargo 1.x promotion steps: what validate settles, what it refuses (at its line, with
what to write instead), and what the edits do to files when a promotion runs."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from bot.core.config import parse_config
from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.model import ArgoCDHealth, Config, GitRepoUpdate, Stage
from bot.core.promote import promotion as promo
from bot.core.promote.repository import names_repository, repository_of
from bot.errors import ConfigError

REPO = "ghcr.io/alkon/flask-app"
WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: flask-app}
spec:
  subscriptions:
    - image: {repoURL: ghcr.io/alkon/flask-app}
"""
DIGEST = "sha256:" + "a" * 64
FREIGHT = make_freight("flask-app", images=[Image(REPO, "1.8.4", DIGEST)])
CLONE = """\
- uses: git-clone
  config:
    repoURL: https://github.com/alkon/gitops.git
    checkout: [{branch: main, path: ./src}]
"""
COMMIT_PUSH = f"""\
- uses: git-commit
  config: {{path: ./src, message: "Promote ${{{{ imageFrom('{REPO}').Tag }}}}"}}
- uses: git-push
  config: {{path: ./src}}
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../base]
images:
  - name: ghcr.io/alkon/flask-app  # the app
    newTag: 1.8.3
"""
VALUES = "image:\n  repository: ghcr.io/alkon/flask-app\n  tag: 1.8.3  # bumped by Shunter\n"


def steps_stage(steps: str, *, name: str = "dev", template_vars: str = "") -> str:
    """A Stage whose promotionTemplate has ``steps`` (a YAML list) and ``template_vars``."""
    spec = "requestedFreight:\n- origin: {kind: Warehouse, name: flask-app}\n"
    spec += "  sources: {direct: true}\n"
    spec += "promotionTemplate:\n  spec:\n"
    if template_vars:
        spec += textwrap.indent(template_vars, "    ")
    spec += "    steps:\n" + textwrap.indent(steps, "    ")
    return (
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n"
        f"metadata:\n  name: {name}\n  namespace: flask-app\nspec:\n" + textwrap.indent(spec, "  ")
    )


def parse(*docs: str) -> Config:
    return parse_config([("w.yaml", WAREHOUSE), *[(f"d{i}.yaml", d) for i, d in enumerate(docs)]])


def refused(*docs: str) -> list[tuple[str, int, str]]:
    """(file, line, message + hint) of each problem of ``docs``."""
    with pytest.raises(ConfigError) as info:
        parse(*docs)
    return [(p.file, p.line, f"{p.path}: {p.message} | {p.hint}") for p in info.value.problems]


def marked(doc: str) -> int:
    """The 1-based line of ``doc`` that carries the ``# <-`` marker."""
    return next(i for i, line in enumerate(doc.splitlines(), 1) if "# <-" in line)


def update_of(config: Config, name: str = "dev") -> GitRepoUpdate:
    (update,) = config.stage(name).git_repo_updates
    return update


def promote(
    stage: Stage, files: dict[str, str | None], freight: Freight = FREIGHT
) -> dict[str, str]:
    (update,) = stage.git_repo_updates
    return promo.render_edits(stage, update, freight, files)


# --------------------------------------------------------------------------- refused


REFUSALS = [
    pytest.param(
        CLONE + "- uses: git-clear  # <-\n  config: {path: ./src}\n" + COMMIT_PUSH,
        "uses: step 'git-clear' is not supported",
        "edit the files in place",
        id="git-clear",
    ),
    pytest.param(
        CLONE + "- uses: kustomize-build  # <-\n  config: {path: ./src/env/dev, outPath: ./out}\n",
        "no kustomize binary installs from Debian, PyPI or npm",
        "kustomize-set-image",
        id="kustomize-build",
    ),
    pytest.param(
        CLONE + "- uses: argocd-update\n  config: {apps: [{name: flask-app-dev}]}  # <-\n",
        "argocd-update needs to know the Argo CD server",
        "spec.integrations.argocd.server",
        id="argocd-update without a server",
    ),
    pytest.param(
        CLONE
        + "- uses: argocd-update\n  config:\n    apps:\n    - name: flask-app-dev\n"
        + "      sources:\n      - repoURL: https://github.com/alkon/gitops.git\n"
        + "        updateTargetRevision: true  # <-\n",
        "Shunter never changes an Argo CD application",
        "drop it",
        id="argocd-update changing a source",
    ),
    pytest.param(
        CLONE
        + "- uses: argocd-update\n  config:\n    apps:\n    - name: flask-app-dev\n"
        + "    - name: flask-app-dev-canary  # <-\n",
        "Shunter follows one per stage",
        "name one application",
        id="argocd-update with two applications",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  retry: {errorThreshold: 3}  # <-\n"
        + "  config: {path: ./src/env/dev}\n"
        + COMMIT_PUSH,
        "retry is not supported",
        "remove retry",
        id="retry",
    ),
    pytest.param(
        CLONE + "- uses: kustomize-set-image  # <-\n  config: {path: ./src/env/dev}\n",
        "the steps change files but never push them",
        "add git-commit and git-push",
        id="edits never pushed",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push  # <-\n  config: {path: ./src, generateTargetBranch: true}\n",
        "generateTargetBranch without git-open-pr",
        "add git-open-pr",
        id="generated branch nothing merges",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push\n  config: {path: ./src, targetBranch: env/dev}  # <-\n",
        "targetBranch 'env/dev' is not the branch checked out at ./src ('main')",
        "check out env/dev in git-clone",
        id="push to a branch not edited",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push\n  as: push\n  config: {path: ./src, generateTargetBranch: true}\n"
        + "- uses: git-open-pr  # <-\n  config: {repoURL: https://github.com/alkon/gitops}\n",
        "Shunter records a promotion when its pull request merges",
        "add git-wait-for-pr",
        id="PR nobody waits for",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + f"- uses: git-push\n  if: ${{{{ imageFrom('{REPO}').Tag == '1.8.4' }}}}  # <-\n"
        + "  config: {path: ./src}\n",
        "the if: of a git-push step must be known before the promotion runs",
        "only vars and ctx",
        id="route decided by the freight",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config:\n    path: ./out/env/dev  # <-\n"
        + COMMIT_PUSH,
        "'out/env/dev' is not inside a git-clone checkout (src)",
        "clone the repository first",
        id="path outside the checkout",
    ),
    pytest.param(
        CLONE
        + "- uses: yaml-update\n  config:\n    path: ./src/values.yaml\n    updates:\n"
        + "    - {key: image.tag, value: '${{ outputs.nope.tag }}'}  # <-\n"
        + COMMIT_PUSH,
        "column 5: no earlier step is called 'nope'",
        "",
        id="output of no step",
    ),
    pytest.param(
        CLONE
        + "- uses: yaml-update\n  config:\n    path: ./src/values.yaml\n    updates:\n"
        + "    - {key: image.tag, value: '${{ imageFrom(REPO).Tag }'}  # <-\n"
        + COMMIT_PUSH,
        "expression does not parse at column 1: '${{' is not closed by '}}'",
        "",
        id="expression that does not parse",
    ),
    pytest.param(
        CLONE
        + "- uses: yaml-update\n  config:\n    path: ./src/values.yaml\n    updates:\n"
        + "    - {key: image.tag, value: '${{ tagFrom(vars.x) }}'}  # <-\n"
        + COMMIT_PUSH,
        "unknown function 'tagFrom'",
        "",
        id="unknown function",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  continueOnError: true\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push\n  continueOnError: true  # <-\n  config: {path: ./src}\n",
        "continueOnError on git-push is not supported",
        "remove continueOnError",
        id="continueOnError on a route step",
    ),
    pytest.param(
        "- uses: git-clone\n  config:\n    repoURL: https://github.com/alkon/gitops\n"
        + "    checkout:\n    - {commit: abc123, path: ./src}  # <-\n",
        "'commit' is not supported: a commit checkout is read-only",
        "check out a branch",
        id="checkout commit",
    ),
    pytest.param(
        "- uses: git-clone\n  config:\n    repoURL: https://github.com/alkon/gitops\n"
        + "    checkout:\n    - {tag: v1, path: ./src}  # <-\n",
        "'tag' is not supported: a tag checkout is read-only",
        "check out a branch",
        id="checkout tag",
    ),
    pytest.param(
        "- uses: git-clone\n  config:\n    repoURL: https://github.com/alkon/gitops\n"
        + "    checkout:\n    - {branch: env/dev, create: true, path: ./src}  # <-\n",
        "'create' is not supported: create makes an empty branch",
        "check out a branch",
        id="checkout create",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push\n  as: push\n  config: {path: ./src, generateTargetBranch: true}\n"
        + "- uses: git-open-pr\n  config:\n    repoURL: https://github.com/alkon/gitops\n"
        + "    sourceBranch: feature  # <-\n",
        "must be the git-push step's branch output",
        "outputs['push'].branch",
        id="PR from another branch",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  config: {path: ./src/env/dev}\n"
        + "- uses: git-commit\n  config: {path: ./src, message: m}\n"
        + "- uses: git-push\n  as: push\n  config: {path: ./src, generateTargetBranch: true}\n"
        + "- uses: git-open-pr\n  as: pr\n  config: {repoURL: https://github.com/alkon/gitops}\n"
        + "- uses: git-wait-for-pr\n  config:\n    repoURL: https://github.com/alkon/gitops\n"
        + "    prNumber: '42'  # <-\n",
        "must be the git-open-pr step's prNumber output",
        "outputs['pr'].prNumber",
        id="waiting for another PR",
    ),
    pytest.param(
        CLONE
        + "- uses: kustomize-set-image\n  retry: {timeout: 48h}  # <-\n"
        + "  config: {path: ./src/env/dev}\n"
        + COMMIT_PUSH,
        "retry is not supported",
        "remove retry",
        id="retry timeout",
    ),
]


@pytest.mark.parametrize(("steps", "message", "hint"), REFUSALS)
def test_validate_refuses_at_the_line_and_says_what_to_write(
    steps: str, message: str, hint: str
) -> None:
    doc = steps_stage(steps)
    found = refused(doc)
    assert any(
        file == "d0.yaml" and line == marked(doc) and message in text and hint in text
        for file, line, text in found
    ), found


ARGOCD = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: flask-app}
spec:
  integrations:
    argocd: {server: "https://argocd.example.com/", tokenEnv: ARGO_TOKEN}
"""
ARGOCD_UPDATE = (
    CLONE
    + "- uses: git-commit\n  as: commit\n  config: {path: ./src, message: promote}\n"
    + "- uses: git-push\n  config: {path: ./src}\n"
    + "- uses: argocd-update\n  config:\n    apps:\n"
    + "    - name: flask-app-${{ ctx.stage }}\n      namespace: apps\n      sources:\n"
    + "      - {repoURL: 'git@github.com:alkon/gitops', desiredCommitFromStep: commit}\n"
)


def test_argocd_update_names_the_stages_argo_cd_health_source() -> None:
    config = parse(ARGOCD, steps_stage(ARGOCD_UPDATE))
    health = config.stage("dev").health
    assert health is not None
    assert health.argocd == ArgoCDHealth(
        "https://argocd.example.com", "flask-app-dev", "apps", "ARGO_TOKEN"
    )
    # The same application named twice, or a source in another repository, is refused.
    twice = steps_stage(ARGOCD_UPDATE).replace(
        "spec:\n", "spec:\n  health: {argocd: {server: 'https://a.example', app: x}}\n", 1
    )
    assert [t.split(":")[0] for _, _, t in refused(ARGOCD, twice)] == [
        "spec.promotionTemplate.spec.steps[3].config.apps[0].name"
    ]
    elsewhere = steps_stage(ARGOCD_UPDATE.replace("git@github.com:alkon/gitops", "https://x.io/y"))
    assert [t.split(":")[0] for _, _, t in refused(ARGOCD, elsewhere)] == [
        "spec.promotionTemplate.spec.steps[3].config.apps[0].sources[0].repoURL"
    ]
    wrong_step = steps_stage(
        ARGOCD_UPDATE.replace("desiredCommitFromStep: commit", "desiredCommitFromStep: push")
    )
    assert [t.split(":")[0] for _, _, t in refused(ARGOCD, wrong_step)] == [
        "spec.promotionTemplate.spec.steps[3].config.apps[0].sources[0].desiredCommitFromStep"
    ]


@pytest.mark.parametrize(
    "key",
    [
        "desiredRevision: abc1234",
        "updateTargetRevision: true",
        "chart: guestbook",
        "kustomize: {images: [{repoURL: ghcr.io/alkon/flask-app}]}",
        "helm: {images: [{repoURL: ghcr.io/alkon/flask-app, key: image.tag}]}",
    ],
)
def test_argocd_update_keys_that_change_an_application_are_refused(key: str) -> None:
    doc = steps_stage(ARGOCD_UPDATE.replace("desiredCommitFromStep: commit", key))
    (problem,) = refused(ARGOCD, doc)
    name = key.split(":")[0]
    where = f"spec.promotionTemplate.spec.steps[3].config.apps[0].sources[0].{name}"
    assert problem[2].startswith(f"{where}: '{name}' is not supported")


def test_freight_creation_policy_is_automatic_or_manual() -> None:
    for policy in ("Automatic", "Manual"):
        text = WAREHOUSE.replace("spec:\n", f"spec:\n  freightCreationPolicy: {policy}\n")
        (wh,) = parse_config([("w.yaml", text)]).warehouses
        assert wh.freight_creation_policy == policy
    wrong = WAREHOUSE.replace("spec:\n", "spec:\n  freightCreationPolicy: manual  # <-\n")
    with pytest.raises(ConfigError) as info:
        parse_config([("w.yaml", wrong)])
    (problem,) = info.value.problems
    assert problem.line == marked(wrong)
    assert "Manual" in problem.hint


TASK = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata: {name: promote}
spec:
  vars:
    - name: image
      value: ghcr.io/alkon/flask-app
    - name: env
  steps:
    - uses: git-clone
      config:
        repoURL: https://github.com/alkon/gitops.git
        checkout: [{branch: main, path: ./src}]
    - uses: kustomize-set-image
      as: set
      config:
        path: ./src/env/${{ vars.env }}
        images: [{image: "${{ vars.image }}"}]
    - uses: git-commit
      config: {path: ./src, messageFromSteps: [set]}
    - uses: git-push
      config: {path: ./src}
"""


@pytest.mark.parametrize(
    ("step", "message"),
    [
        pytest.param(
            "- task: {name: promote}  # <-\n",
            "task 'promote' needs var 'env' | add vars: [{name: env, value: ...}]",
            id="a var the task needs",
        ),
        pytest.param(
            "- task: {name: promote}\n  vars:\n  - {name: env, value: dev}\n"
            "  - {name: nope, value: x}  # <-\n",
            "task 'promote' has no var 'nope' | its vars: env, image",
            id="a var the task does not have",
        ),
        pytest.param(
            "- task: {name: promot}  # <-\n",
            "no PromotionTask named 'promot' | known: promote",
            id="no such task",
        ),
        pytest.param(
            "- task: {name: promote, kind: ClusterPromotionTask}  # <-\n",
            "no ClusterPromotionTask named 'promote' | add a ClusterPromotionTask document",
            id="no such cluster task",
        ),
    ],
)
def test_task_steps_are_checked_against_the_task(step: str, message: str) -> None:
    doc = steps_stage(step)
    found = refused(TASK, doc)
    assert any(f == "d1.yaml" and line == marked(doc) and message in t for f, line, t in found), (
        found
    )


# --------------------------------------------------------------------------- settled


def test_a_task_with_stage_vars_settles_each_stage_its_own_way() -> None:
    task = TASK.replace(
        "    - name: env\n", "    - name: env\n    - name: openpr\n      value: 'false'\n"
    )
    task = task.replace(
        "    - uses: git-push\n      config: {path: ./src}\n",
        "    - uses: git-push\n      if: ${{ vars.openpr != 'true' }}\n"
        "      config: {path: ./src}\n"
        "    - uses: git-push\n      as: push\n      if: ${{ vars.openpr == 'true' }}\n"
        "      config: {path: ./src, generateTargetBranch: true}\n"
        "    - uses: git-open-pr\n      as: pr\n      if: ${{ vars.openpr == 'true' }}\n"
        "      config:\n        repoURL: git@github.com:alkon/gitops.git\n"
        "        sourceBranchFromStep: push\n        targetBranch: main\n"
        "    - uses: git-wait-for-pr\n      if: ${{ vars.openpr == 'true' }}\n"
        "      config: {repoURL: https://github.com/alkon/gitops, prNumberFromStep: pr}\n",
    )
    dev = steps_stage("- task: {name: promote}\n  vars: [{name: env, value: dev}]\n")
    prod = steps_stage(
        "- task: {name: promote}\n"
        "  vars: [{name: env, value: prod}, {name: openpr, value: 'true'}]\n",
        name="prod",
    )
    config = parse(task, dev, prod)
    assert (update_of(config).pull_request, update_of(config).write_branch) == (False, "main")
    assert update_of(config, "prod").pull_request is True
    program = update_of(config, "prod").program
    assert program is not None
    assert [(s.alias, s.file) for s in program.steps] == [
        ("step-1::set", "env/prod/kustomization.yaml"),
        ("step-1::step-3", None),
    ]
    edits = promote(config.stage("prod"), {"env/prod/kustomization.yaml": KUSTOMIZATION})
    assert yaml.safe_load(edits["env/prod/kustomization.yaml"])["images"][0]["newTag"] == "1.8.4"
    message = promo.stage_commit_message(config.stage("prod"), FREIGHT, None, "alice")
    assert message.startswith("Set 1 image(s) in env/prod/kustomization.yaml")
    assert "- ghcr.io/alkon/flask-app:1.8.4" in message


def test_a_step_whose_if_is_false_writes_nothing() -> None:
    steps = (
        CLONE
        + "- uses: yaml-update\n  if: ${{ false }}\n"
        + "  config: {path: ./src/env/prod/values.yaml, updates: [{key: image.tag, value: x}]}\n"
        + "- uses: yaml-update\n"
        + "  config:\n    path: ./src/env/dev/values.yaml\n"
        + f"    updates: [{{key: image.tag, value: '${{{{ imageFrom(\"{REPO}\").Tag }}}}'}}]\n"
        + COMMIT_PUSH
    )
    config = parse(steps_stage(steps))
    assert promo.files_to_read(update_of(config)) == ["env/dev/values.yaml"]
    edits = promote(config.stage("dev"), {"env/dev/values.yaml": VALUES})
    assert list(edits) == ["env/dev/values.yaml"]
    assert edits["env/dev/values.yaml"] == VALUES.replace("1.8.3", "1.8.4")


def test_an_if_that_needs_the_freight_is_decided_when_the_promotion_runs() -> None:
    steps = (
        CLONE
        + "- uses: yaml-update\n"
        + f"  if: ${{{{ imageFrom('{REPO}').Tag != '1.8.4' }}}}\n"
        + "  config: {path: ./src/values.yaml, updates: [{key: image.tag, value: nine}]}\n"
        + "- uses: yaml-update\n  continueOnError: true\n"
        + "  config: {path: ./src/values.yaml, updates: [{key: missing.key, value: x}]}\n"
        + COMMIT_PUSH
    )
    stage = parse(steps_stage(steps)).stage("dev")
    # 1.8.4: the first step does not run; the second fails on a missing key and is skipped.
    assert promote(stage, {"values.yaml": VALUES}) == {}
    older = make_freight("flask-app", images=[Image(REPO, "1.8.3", DIGEST)])
    assert promote(stage, {"values.yaml": VALUES}, older) == {
        "values.yaml": VALUES.replace("tag: 1.8.3", "tag: nine")
    }


def test_kustomize_set_image_honours_new_name_digest_and_every_image() -> None:
    two = make_freight(
        "flask-app",
        images=[
            Image(REPO, "1.8.4", DIGEST),
            Image("ghcr.io/alkon/worker", "2.0.1", "sha256:" + "b" * 64),
        ],
    )
    warehouse = WAREHOUSE + "    - image: {repoURL: ghcr.io/alkon/worker}\n"
    named = (
        CLONE
        + "- uses: kustomize-set-image\n  config:\n    path: ./src\n    images:\n"
        + f"    - {{image: {REPO}, newName: registry.example/flask, useDigest: true}}\n"
        + COMMIT_PUSH
    )
    every = CLONE + "- uses: kustomize-set-image\n  config: {path: ./src}\n" + COMMIT_PUSH
    for steps, expected in (
        (named, [{"name": REPO, "newName": "registry.example/flask", "digest": DIGEST}]),
        (
            every,
            [
                {"name": REPO, "newTag": "1.8.4"},
                {"name": "ghcr.io/alkon/worker", "newTag": "2.0.1"},
            ],
        ),
    ):
        config = parse_config([("w.yaml", warehouse), ("d.yaml", steps_stage(steps))])
        edits = promote(config.stage("dev"), {"kustomization.yaml": KUSTOMIZATION}, two)
        assert yaml.safe_load(edits["kustomization.yaml"])["images"] == expected


def test_expressions_read_charts_commits_vars_and_ctx() -> None:
    freight = make_freight(
        "flask-app",
        images=[Image(REPO, "1.8.4", DIGEST)],
        charts=[Chart("oci://ghcr.io/alkon/charts", "flask-app", "0.3.1")],
        commits=[Commit("https://github.com/alkon/app.git", "c" * 40, branch="main")],
    )
    steps = (
        CLONE
        + "- uses: yaml-update\n  vars: [{name: chart, value: 'oci://ghcr.io/alkon/charts/flask-app'}]\n"
        + "  config:\n    path: ./src/values.yaml\n    updates:\n"
        + "    - key: image.tag\n"
        + "      value: '${{ chartFrom(vars.chart).Version + \"-\" + ctx.stage }}'\n"
        + "    - key: image.repository\n"
        + "      value: '${{ commitFrom(\"https://github.com/alkon/app\").ID }}'\n"
        + COMMIT_PUSH
    )
    edits = promote(parse(steps_stage(steps)).stage("dev"), {"values.yaml": VALUES}, freight)
    assert yaml.safe_load(edits["values.yaml"]) == {
        "image": {"repository": "c" * 40, "tag": "0.3.1-dev"}
    }


def test_a_stage_with_nothing_to_push_has_no_repository_update() -> None:
    config = parse(steps_stage(CLONE))
    assert config.stage("dev").git_repo_updates == ()


def test_project_names_ctx_project_and_policies_set_auto_promotion() -> None:
    project = (
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata: {name: shop}\n---\n"
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata: {name: shop}\n"
        "spec:\n  promotionPolicies:\n"
        "  - {stageSelector: {name: dev}, autoPromotionEnabled: true}\n"
    )
    steps = (
        CLONE
        + "- uses: yaml-update\n  config:\n    path: ./src/values.yaml\n"
        + "    updates: [{key: image.tag, value: '${{ ctx.project }}'}]\n"
        + COMMIT_PUSH
    )
    config = parse(project, steps_stage(steps).replace("namespace: flask-app", "namespace: shop"))
    assert config.stage("dev").promotion_policy.auto_promotion_enabled is True
    edits = promote(config.stage("dev"), {"values.yaml": VALUES})
    assert yaml.safe_load(edits["values.yaml"])["image"]["tag"] == "shop"


def test_the_namespace_names_the_project_when_no_document_does() -> None:
    # Kargo's starter has no Project document: every object sits in the project's namespace.
    steps = (
        CLONE
        + "- uses: yaml-update\n  config:\n    path: ./src/values.yaml\n"
        + "    updates: [{key: image.tag, value: '${{ ctx.project }}'}]\n"
        + COMMIT_PUSH
    )
    stage = steps_stage(steps).replace("namespace: flask-app", "namespace: shop")
    assert "namespace: shop" in stage
    config = parse(stage)
    edits = promote(config.stage("dev"), {"values.yaml": VALUES})
    assert yaml.safe_load(edits["values.yaml"])["image"]["tag"] == "shop"
    # A namespace that is another project than the Project document's is refused at its line.
    project = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata: {name: cafe}\n"
    problems = refused(project, stage)
    assert [(f, line, text.split(":")[0]) for f, line, text in problems] == [
        ("d1.yaml", 5, "metadata.namespace")
    ]


def test_a_policy_naming_no_stage_or_contradicting_one_is_refused() -> None:
    project = (
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata: {name: shop}\n"
        "spec:\n  promotionPolicies:\n"
        "  - {stage: qa, autoPromotionEnabled: true}\n"
        "  - {stage: dev, autoPromotionEnabled: true}\n"
    )
    dev = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: dev}\nspec:\n"
    dev += "  subscriptions: {warehouse: flask-app}\n"
    dev += "  promotionPolicy: {autoPromotionEnabled: false}\n"
    texts = [t for _, _, t in refused(project, dev)]
    assert any("no Stage named 'qa'" in t for t in texts), texts
    assert any("says autoPromotionEnabled: false in its own promotionPolicy" in t for t in texts)


@pytest.mark.parametrize(
    ("color", "ok"),
    [("red", True), ("amber", True), ("violet", True), ("#4CAF50", True), ("redd", False)],
)
def test_kargo_colour_names_are_accepted(color: str, ok: bool) -> None:
    doc = f"""\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  annotations: {{kargo.akuity.io/color: "{color}"}}
spec:
  subscriptions: {{warehouse: flask-app}}
"""
    if ok:
        assert parse(doc).stage("dev").annotation("kargo.akuity.io/color") == color
    else:
        (found,) = refused(doc)
        assert "did you mean 'red'?" in found[2]


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("https://github.com/alkon/gitops", True),
        ("https://github.com/alkon/gitops.git", True),
        ("https://github.com/Alkon/GitOps/", True),
        ("git@github.com:alkon/gitops.git", True),
        ("ssh://git@github.com/alkon/gitops", True),
        ("https://github.com/alkon/other", False),
        ("https://gitlab.com/alkon/gitops", False),
        ("https://github.com/alkon/gitops/tree/main", False),
    ],
)
def test_the_repository_shunter_runs_in_is_known_in_every_spelling(url: str, names: bool) -> None:
    assert names_repository(url, "alkon/gitops") is names


def test_a_github_enterprise_host_comes_from_the_server_url() -> None:
    url = "https://ghe.example.com/alkon/gitops.git"
    assert repository_of(url) == ("ghe.example.com", "alkon/gitops")
    assert names_repository(url, "alkon/gitops", "https://ghe.example.com")
    assert not names_repository(url, "alkon/gitops")


@pytest.mark.parametrize(
    ("text", "repo", "tag"),
    [
        ("ghcr.io/alkon/flask-app:1.8.4", "ghcr.io/alkon/flask-app", "1.8.4"),
        ("127.0.0.1:5000/alkon/app:v2_rc.1", "127.0.0.1:5000/alkon/app", "v2_rc.1"),
        (" nginx:latest ", "nginx", "latest"),
    ],
)
def test_create_freight_image_refs_split_at_the_tag(text: str, repo: str, tag: str) -> None:
    from bot.core.discover.manual import ImageRef, parse_image_ref

    assert parse_image_ref(text) == ImageRef(repo, tag)


@pytest.mark.parametrize(
    "text", ["ghcr.io/alkon/flask-app", "127.0.0.1:5000/app", "app@sha256:ab", ":1"]
)
def test_create_freight_image_refs_without_a_tag_say_what_to_write(text: str) -> None:
    from bot.core.discover.manual import parse_image_ref

    with pytest.raises(ValueError, match="REPO:TAG"):
        parse_image_ref(text)


def test_a_problem_in_a_task_is_reported_once_for_all_the_stages_using_it() -> None:
    task = TASK + "    - uses: argocd-update\n      config: {apps: [{name: app}]}\n"
    stages = [
        steps_stage(f"- task: {{name: promote}}\n  vars: [{{name: env, value: {s}}}]\n", name=s)
        for s in ("dev", "staging", "prod")
    ]
    found = refused(task, *stages)
    # Each stage checks the task's step (no Argo CD server is set): one line, said once.
    assert [(f, line) for f, line, _ in found] == [("d0.yaml", task.count("\n"))]

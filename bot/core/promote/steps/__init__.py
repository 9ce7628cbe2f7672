"""Kargo's promotion steps, one module each; ``KINDS`` maps every ``uses:`` value.

See ``base`` for how steps divide into route steps (settled by ``validate``) and edit
steps (run at promotion time), and ``runner`` for running a stage's edit steps.
"""

from __future__ import annotations

from typing import Final

from bot.core.promote.steps import (
    argocd_update,
    git_clone,
    git_commit,
    git_open_pr,
    git_push,
    git_wait_for_pr,
    helm_update_chart,
    helm_update_image,
    kustomize_set_image,
    yaml_update,
)
from bot.core.promote.steps.base import Role, StepKind

_RENDERING = "Shunter edits manifests in place and does not render them"

_REJECTED = (
    StepKind(
        "git-clear",
        Role.REJECTED,
        reason="it empties a checkout for rendered output (kustomize-build, helm-template), "
        + "which Shunter does not produce",
        instead="remove it and edit the files in place with kustomize-set-image or yaml-update",
    ),
    StepKind(
        "kustomize-build",
        Role.REJECTED,
        reason=f"{_RENDERING}: no kustomize binary installs from Debian, PyPI or npm here",
        instead="commit the kustomization and let Argo CD build it; set images with "
        + "kustomize-set-image",
    ),
    StepKind(
        "helm-template",
        Role.REJECTED,
        reason=f"{_RENDERING}: Shunter does not run helm",
        instead="let Argo CD render the chart; set values with yaml-update or helm-update-image",
    ),
)

KINDS: Final[dict[str, StepKind]] = {
    k.name: k
    for k in (
        git_clone.KIND,
        kustomize_set_image.KIND,
        yaml_update.KIND,
        helm_update_image.KIND,
        helm_update_chart.KIND,
        git_commit.KIND,
        git_push.KIND,
        git_open_pr.KIND,
        git_wait_for_pr.KIND,
        argocd_update.KIND,
        *_REJECTED,
    )
}

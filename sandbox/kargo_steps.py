"""The flask-app pipeline in Kargo 1.x steps, laid over the example's ``kargo/`` folder.

``examples/flask-app/kargo-steps`` says the flask-app pipeline (dev and staging
automatic, staging after 30 minutes in dev, prod by hand with two approvals) with a
``Project``, one ``PromotionTask`` and ``task:`` steps; dev and staging push straight onto
``main`` and prod goes through a pull request. ``OVERRIDES`` lays it over the example's
``kargo/`` folder inside a ``SandboxWorld``.

``SEED_OVERRIDES`` is the same steps with every stage promoting through a pull request,
as the seed's ``gitRepoUpdates`` do: the seed's end-to-end tests run against it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

STEPS = Path(__file__).resolve().parents[1] / "examples" / "flask-app" / "kargo-steps"


def _overrides(stages: str) -> dict[str, str]:
    return {
        "kargo/project.yaml": (STEPS / "project.yaml").read_text(),
        "kargo/warehouse.yaml": (STEPS / "warehouse.yaml").read_text(),
        "kargo/promotiontask.yaml": (STEPS / "promotiontask.yaml").read_text(),
        "kargo/stages/dev.yaml": stages,
        "kargo/stages/staging.yaml": "# the stages are all in dev.yaml\n",
        "kargo/stages/prod.yaml": "# the stages are all in dev.yaml\n",
    }


_STAGES = (STEPS / "stages.yaml").read_text()
_KUSTOMIZE = "              value: kustomize\n"
assert _STAGES.count(_KUSTOMIZE) == 2  # dev and staging

#: Repository files that make the world's ``kargo/`` folder the Kargo 1.x steps version.
OVERRIDES: Final = _overrides(_STAGES)
#: The same, every stage through a pull request (the seed's default).
SEED_OVERRIDES: Final = _overrides(
    _STAGES.replace(
        _KUSTOMIZE, _KUSTOMIZE + '            - name: openpr\n              value: "true"\n'
    )
)

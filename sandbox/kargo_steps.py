"""The flask-app pipeline in Kargo 1.x steps, laid over the example's ``kargo/`` folder.

``examples/flask-app/kargo-steps`` says the same pipeline as ``examples/flask-app/kargo``
(dev and staging automatic, staging after 30 minutes in dev, prod by hand with two
approvals) with a ``Project``, one ``PromotionTask`` and ``task:`` steps. ``OVERRIDES``
replaces the example's config with it inside a ``SandboxWorld``, so the end-to-end tests
run the same story against both spellings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

STEPS = Path(__file__).resolve().parents[1] / "examples" / "flask-app" / "kargo-steps"

#: Repository files that make the world's ``kargo/`` folder the Kargo 1.x steps version.
OVERRIDES: Final[dict[str, str]] = {
    "kargo/project.yaml": (STEPS / "project.yaml").read_text(),
    "kargo/warehouse.yaml": (STEPS / "warehouse.yaml").read_text(),
    "kargo/promotiontask.yaml": (STEPS / "promotiontask.yaml").read_text(),
    "kargo/stages/dev.yaml": (STEPS / "stages.yaml").read_text(),
    "kargo/stages/staging.yaml": "# the stages are all in dev.yaml\n",
    "kargo/stages/prod.yaml": "# the stages are all in dev.yaml\n",
}

"""``helm-update-image``: write the freight's image into keys of a Helm values file.

Honoured keys: ``path`` (the values file) and ``images[]`` of ``image``, ``key`` and
``value`` (``Tag``, ``Digest``, ``ImageAndTag`` or ``ImageAndDigest``, Kargo 0.x/1.0's
spellings). Output: ``commitMessage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.config._spec import F, ListOf, Obj, Parsed
from bot.core.promote import manifests
from bot.core.promote.steps.base import Edit, Expr, Role, StepKind, step_path
from bot.core.promote.steps.kustomize_set_image import freight_image

IMAGE_VALUES = ("Tag", "Digest", "ImageAndTag", "ImageAndDigest")


def _check_value(text: str) -> str | None:
    if text not in IMAGE_VALUES:
        return f"'{text}' is not one of {', '.join(IMAGE_VALUES)}"
    return None


@dataclass(frozen=True)
class ImageKey:
    image: str
    key: str
    value: str


@dataclass(frozen=True)
class Config:
    path: str
    images: tuple[ImageKey, ...]


TABLE = Obj(
    {
        "path": F(step_path("the Helm values file"), required=True),
        "images": F(
            ListOf(
                Obj(
                    {
                        "image": F(Expr("the freight's image repository"), required=True),
                        "key": F(Expr("a dotted key path, such as image.tag"), required=True),
                        "value": F(
                            Expr("Tag, Digest, ImageAndTag or ImageAndDigest", check=_check_value),
                            required=True,
                        ),
                    }
                ),
                min_items=1,
            ),
            required=True,
        ),
    }
)


def build(p: Parsed) -> Config:
    return Config(
        path=p.req("path"),
        images=tuple(
            ImageKey(i.req("image"), i.req("key"), i.req("value")) for i in p.req("images")
        ),
    )


def run(config: Any, e: Edit) -> tuple[str | None, dict[str, Any]]:
    assert isinstance(config, Config)
    text = e.before
    lines = []
    for i in config.images:
        found = freight_image(e, e.text(i.image))
        kind, key = e.text(i.value), e.text(i.key)
        value = manifests.image_value(found["RepoURL"], found["Tag"], found["Digest"], kind)
        if text is not None:
            text = manifests.set_yaml_value(text, key, value, file=e.file)
        lines.append(f"- {key}: {value}")
    message = f"Updated {e.file}\n\n" + "\n".join(lines)
    return text, {"commitMessage": message}


KIND = StepKind(
    "helm-update-image", Role.EDIT, TABLE, build, run, doc="sets image keys of a Helm values file"
)

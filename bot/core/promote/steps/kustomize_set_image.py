"""``kustomize-set-image``: set images in ``<path>/kustomization.yaml``.

Honoured keys: ``path``; per image ``image`` (the freight's image), ``tag``, ``digest``,
``useDigest``, ``name`` (the entry in the kustomization, default ``image``) and
``newName``. Without ``tag`` or ``digest`` the freight's own tag is written (its digest
with ``useDigest: true``). Without ``images`` every image of the freight is set.
Output: ``commitMessage``, a line per image, for ``git-commit``'s ``messageFromSteps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.config._spec import F, ListOf, Obj, Parsed
from bot.core.errors import ManifestError
from bot.core.promote import manifests
from bot.core.promote.steps.base import Edit, Expr, Role, StepKind, step_path


@dataclass(frozen=True)
class ImageSetting:
    image: str
    tag: str | None = None
    digest: str | None = None
    use_digest: str | None = None
    name: str | None = None
    new_name: str | None = None


@dataclass(frozen=True)
class Config:
    path: str
    images: tuple[ImageSetting, ...] = ()  # empty: every image of the freight


TABLE = Obj(
    {
        "path": F(step_path("the folder holding kustomization.yaml"), required=True),
        "images": F(
            ListOf(
                Obj(
                    {
                        "image": F(Expr("the freight's image repository"), required=True),
                        "tag": F(Expr("the tag to write (default: the freight's)")),
                        "digest": F(Expr("the digest to write")),
                        "useDigest": F(Expr("write the freight's digest", kind="bool")),
                        "name": F(Expr("the image's name in the kustomization")),
                        "newName": F(Expr("the image kustomize deploys in place of name")),
                    },
                    at_most_one=[("tag", "digest")],
                ),
                min_items=1,
            ),
            doc="the images to set (default: every image of the freight)",
        ),
    }
)


def build(p: Parsed) -> Config:
    images = tuple(
        ImageSetting(
            image=i.req("image"),
            tag=i.get("tag"),
            digest=i.get("digest"),
            use_digest=i.get("useDigest"),
            name=i.get("name"),
            new_name=i.get("newName"),
        )
        for i in p.get("images", [])
    )
    return Config(path=p.req("path"), images=images)


def freight_image(e: Edit, repo_url: str) -> dict[str, str]:
    """The freight's image ``repo_url``; raises ``ManifestError`` when it has none."""
    for image in e.images:
        if image["RepoURL"] == repo_url:
            return dict(image)
    have = ", ".join(i["RepoURL"] for i in e.images) or "none"
    raise ManifestError(f"{e.file}: the freight has no image {repo_url} (it has: {have})")


def run(config: Any, e: Edit) -> tuple[str | None, dict[str, Any]]:
    assert isinstance(config, Config)
    settings = config.images or tuple(ImageSetting(image=i["RepoURL"]) for i in e.images)
    text = e.before
    lines = []
    for s in settings:
        repo = e.text(s.image)
        tag = e.text(s.tag) if s.tag is not None else None
        digest = e.text(s.digest) if s.digest is not None else None
        if tag is None and digest is None:
            found = freight_image(e, repo)
            if e.flag(s.use_digest):
                digest = found["Digest"]
            else:
                tag = found["Tag"]
        name = e.text(s.name) if s.name is not None else repo
        new_name = e.text(s.new_name) if s.new_name is not None else None
        if text is not None:
            text = manifests.set_kustomize_image(
                text, name, new_tag=tag, digest=digest, new_name=new_name, file=e.file
            )
        shown = new_name or name
        lines.append(f"- {shown}:{tag}" if tag else f"- {shown}@{digest}")
    message = f"Set {len(lines)} image(s) in {e.file}\n\n" + "\n".join(lines)
    return text, {"commitMessage": message}


KIND = StepKind(
    "kustomize-set-image",
    Role.EDIT,
    TABLE,
    build,
    run,
    file=lambda path: manifests_file(path, "kustomization.yaml"),
    doc="sets images in <path>/kustomization.yaml",
)


def manifests_file(folder: str, name: str) -> str:
    folder = folder.strip("/")
    return f"{folder}/{name}" if folder and folder != "." else name

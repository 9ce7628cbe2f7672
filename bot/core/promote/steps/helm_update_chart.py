"""``helm-update-chart``: write chart freight into a ``Chart.yaml``'s dependencies.

Honoured keys: ``path`` (the chart's folder, which holds ``Chart.yaml``) and ``charts[]``
of ``repository`` and ``name`` (the dependency as ``Chart.yaml`` lists it) and
``version`` (any expression; without it, the version of that chart in the freight).
Only each matching ``dependencies[].version`` value changes; comments, quotes and order
stay. Output: ``commitMessage``.

Shunter does not run ``helm dependency update``: a ``Chart.lock`` or vendored
``charts/*.tgz`` beside ``Chart.yaml`` is not rewritten (Argo CD's own ``helm dependency
build`` reads ``Chart.yaml`` when no lock file is committed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from bot.core.config._spec import F, ListOf, Obj, Parsed
from bot.core.errors import ManifestError
from bot.core.promote import manifests
from bot.core.promote.steps.base import Edit, Expr, Role, StepKind, step_path
from bot.core.promote.steps.kustomize_set_image import manifests_file


@dataclass(frozen=True)
class ChartSetting:
    repository: str
    name: str
    version: str | None = None


@dataclass(frozen=True)
class Config:
    path: str
    charts: tuple[ChartSetting, ...]


TABLE = Obj(
    {
        "path": F(step_path("the chart's folder, which holds Chart.yaml"), required=True),
        "charts": F(
            ListOf(
                Obj(
                    {
                        "repository": F(
                            Expr(
                                "the dependency's repository as Chart.yaml writes it, such "
                                "as https://charts.example.com or oci://ghcr.io/org/charts"
                            ),
                            required=True,
                        ),
                        "name": F(Expr("the dependency's name in Chart.yaml"), required=True),
                        "version": F(
                            Expr("the version to write; default: the freight's version of it")
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
        charts=tuple(
            ChartSetting(c.req("repository"), c.req("name"), c.get("version"))
            for c in p.req("charts")
        ),
    )


def _same_chart(repo: str, name: str, other_repo: str, other_name: str) -> bool:
    """Whether two (repository, name) spellings name one chart: the same repository and
    name, or an OCI repository written with the chart's name at its end."""
    a, b = repo.rstrip("/"), other_repo.rstrip("/")
    return (a == b and name == other_name) or f"{b}/{other_name}" == a or f"{a}/{name}" == b


def freight_chart(e: Edit, repo: str, name: str) -> Mapping[str, str]:
    """The freight's chart ``name`` from ``repo``; raises ``ManifestError`` when it has none."""
    for chart in e.charts:
        if _same_chart(repo, name, chart["RepoURL"], chart["Name"]):
            return chart
    have = ", ".join(f"{c['RepoURL']} {c['Name']}".strip() for c in e.charts) or "none"
    raise ManifestError(f"{e.file}: the freight has no chart {name} from {repo} (it has: {have})")


def dependency_index(text: str, repo: str, name: str, file: str) -> int:
    """The index in ``dependencies`` of chart ``name`` from ``repo``; raises
    ``ManifestError`` when ``text`` lists no such dependency."""
    try:
        chart = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{file}: not YAML: {exc}") from None
    deps = chart.get("dependencies") if isinstance(chart, dict) else None
    listed = [d for d in deps if isinstance(d, dict)] if isinstance(deps, list) else []
    for i, dep in enumerate(deps if isinstance(deps, list) else []):
        if isinstance(dep, dict) and _same_chart(
            repo, name, str(dep.get("repository", "")), str(dep.get("name", ""))
        ):
            return i
    have = ", ".join(f"{d.get('name')} from {d.get('repository')}" for d in listed) or "none"
    raise ManifestError(
        f"{file}: no dependency {name} from {repo} (dependencies: {have}); "
        "name it as Chart.yaml does"
    )


def run(config: Any, e: Edit) -> tuple[str | None, dict[str, Any]]:
    assert isinstance(config, Config)
    text = e.before
    lines = []
    for c in config.charts:
        repo, name = e.text(c.repository), e.text(c.name)
        if c.version is not None:
            version = e.text(c.version)
        else:
            version = freight_chart(e, repo, name)["Version"]
        if text is not None:
            index = dependency_index(text, repo, name, e.file)
            key = f"dependencies[{index}].version"
            text = manifests.set_yaml_value(text, key, version, file=e.file)
        lines.append(f"- {name}: {version}")
    message = f"Updated chart dependencies in {e.file}\n\n" + "\n".join(lines)
    return text, {"commitMessage": message}


KIND = StepKind(
    "helm-update-chart",
    Role.EDIT,
    TABLE,
    build,
    run,
    file=lambda path: manifests_file(path, "Chart.yaml"),
    doc="sets dependency versions in a chart's Chart.yaml",
)

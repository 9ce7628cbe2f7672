"""The config parser: YAML documents in, a frozen ``bot.core.model.Config`` out.

Pure: callers hand in ``(file name, YAML text)`` pairs (``bot.adapters.configdir`` reads
them from a folder). Every key is described once in ``_tables`` and walked by ``_spec``;
the same tables print the JSON Schema, so ``shunter validate`` and an editor agree.

Documents are composed with PyYAML's ``SafeLoader`` only (nothing in a config can build
Python objects), and read node by node so every problem carries the line and column of
the key or value at fault. All problems of a run are collected and raised together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import yaml

from bot.core.model import AnalysisTemplate, Config, ConfigNote, Location, Settings, Warehouse
from bot.errors import ConfigError, Problem

if TYPE_CHECKING:
    from bot.core.config._build import StepContext
    from bot.core.config._spec import Ctx, Parsed

# The parser's parts are imported when first used: the promotion-step modules read
# ``bot.core.config._spec`` (their config tables), and importing them must not pull in
# the whole parser (which imports the step modules back).

__all__ = ["config_schema", "parse_config"]


def config_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) that one config document must satisfy.

    Built from the same field tables the parser walks. Cross-document rules (names that
    must exist, cycles) and value checks that need code (cron, version constraints,
    templates) are the parser's alone.
    """
    from bot.core.config._tables import json_schema

    return json_schema()


def parse_config(documents: list[tuple[str, str]]) -> Config:
    """Return the validated ``Config`` of ``documents``: ``(file name, YAML text)`` pairs.

    Each text may hold several documents separated by ``---``; empty documents are
    skipped. Stages come back upstream first (ties in the order they were written).

    Keys that are valid but do nothing come back as ``Config.notes`` (``validate``'s
    warnings), in file order.

    Raises ``ConfigError`` holding every problem found, each located at
    ``FILE:LINE:COL`` with its key path, when anything is wrong or nothing is defined.
    """
    from bot.core.config._spec import INVALID, Ctx
    from bot.core.config._tables import DOCUMENT

    problems: list[Problem] = []
    notes: list[ConfigNote] = []
    docs: list[Parsed] = []
    complete = True
    for file, text in documents:
        ctx = Ctx(file, problems, notes)
        try:
            for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
                if node is None:
                    continue
                if _argo_document(node, ctx):
                    complete = False
                    continue
                value = DOCUMENT.parse(node, ctx, "")
                if value is INVALID:
                    complete = False
                else:
                    docs.append(value)
        except yaml.MarkedYAMLError as exc:
            complete = False
            problems.append(_syntax_problem(file, exc))
        except yaml.YAMLError as exc:  # a reader error: a character YAML does not allow
            complete = False
            problems.append(Problem(file, 1, 1, "(yaml)", f"cannot read YAML: {exc}"))
    config = _build_config(docs, complete)
    if not docs and not problems:
        where = documents[0][0] if documents else "(config)"
        problems.append(
            Problem(
                where, 1, 1, "(config)", "no config documents found", "add a Warehouse and Stages"
            )
        )
    order = {file: i for i, (file, _) in enumerate(documents)}

    def order_of(file: str) -> int:
        return order.get(file, len(order))

    if problems:
        # A PromotionTask's line is checked once per stage that uses it: said once.
        unique = list(dict.fromkeys(problems))
        unique.sort(key=lambda p: (order_of(p.file), p.line, p.col))
        raise ConfigError(unique)
    notes.sort(key=lambda n: (order_of(n.location.file), n.location.line, n.location.col))
    return replace(config, notes=tuple(notes))


#: Argo CD's and Argo Rollouts' API group (``argoproj.io/v1alpha1``).
ARGO_GROUP = "argoproj.io/"
#: The Argo Rollouts kinds Kargo runs to verify a stage.
ARGO_ANALYSIS = ("AnalysisTemplate", "ClusterAnalysisTemplate")


def _argo_document(node: yaml.Node, ctx: Ctx) -> bool:
    """Whether ``node`` is a document of Argo's API group; if so, report it at its
    ``apiVersion`` (one problem, not one per Argo key Shunter does not know).

    Kargo verifies a stage by running an Argo Rollouts ``AnalysisTemplate``; Shunter runs
    a GitHub Actions workflow instead, so such a template is refused with what to write.
    """
    if not isinstance(node, yaml.MappingNode):
        return False
    keys = {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    api, kind = keys.get("apiVersion"), keys.get("kind")
    if not isinstance(api, yaml.ScalarNode) or not str(api.value).startswith(ARGO_GROUP):
        return False
    what = str(kind.value) if isinstance(kind, yaml.ScalarNode) else "document"
    if what in ARGO_ANALYSIS:
        ctx.problem(
            api,
            "apiVersion",
            f"an Argo Rollouts {what} ({api.value}) does not run here: Shunter verifies a "
            "stage with a GitHub Actions workflow",
            "write apiVersion: kargo.akuity.io/v1alpha1 with spec.workflow.file naming the "
            "workflow, or drop this document and name the verification step after "
            ".github/workflows/<name>.yml",
        )
    else:
        ctx.problem(
            api,
            "apiVersion",
            f"an Argo {what} ({api.value}) is not a Shunter document",
            "keep Argo objects out of the config folder; name an Argo CD application under "
            "a stage's spec.health.argocd",
        )
    return True


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = " ".join(part for part in (exc.context, exc.problem) if part)
    hint = ""
    if exc.context_mark is not None and exc.problem_mark is not None and exc.context:
        hint = f"{exc.context} at line {exc.context_mark.line + 1}"
    return Problem(file, line, col, "(yaml)", f"YAML syntax error: {exc.problem or message}", hint)


def _step_context(docs: list[Parsed]) -> StepContext:
    from bot.core.config._build import TASK_KINDS, StepContext, Task

    """Promotion tasks by (kind, name), and the project's name: the ``Project`` document's,
    else the ``ProjectConfig``'s, else the documents' ``metadata.namespace`` (in Kargo a
    project is a namespace). A namespace that names another project is a problem at its
    line: one config folder is one project."""
    tasks: dict[tuple[str, str], Task] = {}
    names: dict[str, str] = {}
    spaces: list[tuple[str, Parsed]] = []
    for doc in docs:
        kind: str = doc.values["kind"]
        meta: Parsed | None = doc.get("metadata")
        if meta is not None and meta.get("namespace") is not None:
            spaces.append((meta.values["namespace"], meta))
        name = meta.get("name") if meta is not None else None
        if name is None:
            continue
        if kind in TASK_KINDS and "spec" in doc.values:
            tasks.setdefault((kind, name), Task(kind, name, doc.values["spec"]))
        elif kind in ("Project", "ProjectConfig"):
            names.setdefault(kind, name)
    project = names.get("Project") or names.get("ProjectConfig", "")
    project = project or (spaces[0][0] if spaces else "")
    for space, meta in spaces:
        if space != project:
            meta.problem(
                "namespace",
                f"namespace '{space}' is another project than '{project}': one config folder "
                "is one project",
                f"write namespace: {project}, or drop the key",
            )
    return StepContext(tasks=tasks, project=project)


def _build_config(docs: list[Parsed], complete: bool) -> Config:
    """Build every object; check names are unique and references resolve."""
    from bot.core.config._build import (
        TASK_KINDS,
        StageDraft,
        apply_promotion_policies,
        apply_step_apps,
        build_analysis_template,
        build_settings,
        build_stage,
        build_warehouse,
        link_stages,
        location,
        note_idle_args,
    )
    from bot.core.config._spec import Broken

    first: dict[tuple[str, str], Location] = {}
    warehouses: dict[str, Warehouse | None] = {}
    templates: list[AnalysisTemplate] = []
    drafts: list[StageDraft] = []
    settings: Settings | None = None
    steps = _step_context(docs)
    policies: Parsed | None = None
    for order, doc in enumerate(docs):
        kind: str = doc.values["kind"]  # the document was chosen by its kind, so it is set
        meta: Parsed | None = doc.get("metadata")
        name = meta.get("name") if meta is not None else None
        if name is None:
            complete = False
            continue
        key = (kind, name)
        if key in first:
            assert meta is not None
            meta.problem(
                "name", f"{kind} '{name}' is defined twice (first at {first[key]})", "rename one"
            )
            continue
        first[key] = location(doc.ctx, doc.node)
        try:
            if kind == "Warehouse":
                warehouses[name] = None  # known even if it cannot be built
                warehouses[name] = build_warehouse(doc)
            elif kind == "Stage":
                drafts.append(build_stage(doc, order, steps))
            elif kind == "AnalysisTemplate":
                templates.append(build_analysis_template(doc))
            elif kind in TASK_KINDS or kind == "Project":
                continue  # tasks are inflated into the stages that use them
            elif settings is None:
                settings = build_settings(doc)
                policies = doc.get("spec")
            else:
                assert meta is not None
                meta.problem(
                    "name",
                    "a second ProjectConfig: the project has one",
                    "merge the settings into one document",
                )
        except Broken:
            continue
    apply_step_apps(drafts, settings)
    note_idle_args(drafts, templates)
    if policies is not None:
        apply_promotion_policies(policies, drafts)
    stages = link_stages(drafts, warehouses, complete)
    config = Config(
        warehouses=tuple(w for w in warehouses.values() if w is not None),
        stages=stages,
        analysis_templates=tuple(templates),
    )
    return config if settings is None else replace(config, settings=settings)

"""Run a stage's Kargo steps: evaluate ``if:``, vars and expressions; apply the edits.

Pure. The scope an expression sees is Kargo's:

* ``vars``: the template's, the task's and the step's, later ones winning; a var may
  use ``ctx``, other vars and (step vars) earlier steps' outputs;
* ``ctx.stage``, ``ctx.project``, ``ctx.promotion`` and ``ctx.targetFreight``;
* ``outputs.<alias>`` of earlier steps, and ``task.outputs.<alias>`` of earlier steps
  of the same task;
* ``imageFrom``, ``chartFrom``, ``commitFrom``, ``warehouse`` and ``quote``.

The same scope without a freight (``static_scope``) is what ``validate`` settles route
steps with: anything that needs the freight or an output raises ``NotStatic`` there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.discover.freight import Freight, normalize_git_url
from bot.core.errors import ManifestError
from bot.core.model import ProgramStep, StepProgram
from bot.core.promote.expressions import (
    ExpressionError,
    Function,
    Scope,
    parse_template,
    to_text,
)
from bot.core.promote.steps import KINDS
from bot.core.promote.steps.base import Edit
from bot.core.promote.steps.git_commit import Config as CommitConfig
from bot.core.promote.steps.git_open_pr import Config as OpenPrConfig

FUNCTIONS = ("imageFrom", "chartFrom", "commitFrom", "warehouse", "quote")
CTX_FIELDS = ("stage", "project", "promotion", "targetFreight")


class NotStatic(Exception):
    """An expression needs the freight or a step's output: it cannot be settled early."""


class _Lazy(Mapping[str, Any]):
    """A mapping whose values are computed on first read (vars, an unknowable map)."""

    def __init__(self, keys: Iterator[str] | list[str], get: Callable[[str], Any]) -> None:
        self._keys = list(dict.fromkeys(keys))
        self._get = get
        self._done: dict[str, Any] = {}
        self._busy: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        if key not in self._done:
            if key in self._busy:
                raise ExpressionError(f"var {key!r} refers to itself")
            self._busy.add(key)
            try:
                self._done[key] = self._get(key)
            finally:
                self._busy.discard(key)
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class _Unknowable(Mapping[str, Any]):
    """Outputs before a promotion runs: reading one means "not static"."""

    def __getitem__(self, key: str) -> Any:
        raise NotStatic(key)

    def __contains__(self, key: object) -> bool:
        raise NotStatic(str(key))

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _not_static(*_args: Any) -> Any:
    raise NotStatic("freight")


def _quote(value: Any) -> str:
    """Kargo's ``quote()``: the value as a double-quoted string, for YAML or JSON."""
    return json.dumps(to_text(value))


def _warehouse(name: Any) -> dict[str, str]:
    return {"kind": "Warehouse", "name": to_text(name)}


def _check_origin(freight: Freight, origin: Any) -> None:
    if origin is None:
        return
    if not isinstance(origin, Mapping) or origin.get("name") != freight.warehouse:
        raise ExpressionError(
            f"the freight comes from warehouse {freight.warehouse!r}, not {origin!r}"
        )


def freight_functions(freight: Freight) -> dict[str, Function]:
    """``imageFrom``, ``chartFrom`` and ``commitFrom`` reading ``freight``, and the rest."""

    def image_from(repo_url: Any, origin: Any = None) -> dict[str, str]:
        _check_origin(freight, origin)
        for i in freight.images:
            if i.repo_url == repo_url:
                return {"RepoURL": i.repo_url, "Tag": i.tag, "Digest": i.digest}
        have = ", ".join(i.repo_url for i in freight.images) or "none"
        raise ExpressionError(f"the freight has no image {repo_url!r} (it has: {have})")

    def chart_from(repo_url: Any, name: Any = None, origin: Any = None) -> dict[str, str]:
        if isinstance(name, Mapping):
            name, origin = None, name
        _check_origin(freight, origin)
        want = str(repo_url).rstrip("/")
        for c in freight.charts:
            base = c.repo_url.rstrip("/")
            if (base == want and name in (None, c.name)) or f"{base}/{c.name}" == want:
                return {"RepoURL": c.repo_url, "Name": c.name, "Version": c.version}
        raise ExpressionError(f"the freight has no chart {repo_url!r}")

    def commit_from(repo_url: Any, origin: Any = None) -> dict[str, str]:
        _check_origin(freight, origin)
        for c in freight.commits:
            if normalize_git_url(c.repo_url) == normalize_git_url(str(repo_url)):
                return {
                    "RepoURL": c.repo_url,
                    "ID": c.id,
                    "Branch": c.branch,
                    "Tag": c.tag,
                    "Message": c.message,
                }
        raise ExpressionError(f"the freight has no commit of {repo_url!r}")

    return {
        "imageFrom": image_from,
        "chartFrom": chart_from,
        "commitFrom": commit_from,
        "warehouse": _warehouse,
        "quote": _quote,
    }


STATIC_FUNCTIONS: dict[str, Function] = {
    "imageFrom": _not_static,
    "chartFrom": _not_static,
    "commitFrom": _not_static,
    "warehouse": _warehouse,
    "quote": _quote,
}


def promotion_name(stage: str, freight: Freight) -> str:
    """``ctx.promotion``: the same for every run promoting ``freight`` to ``stage``."""
    return f"{stage}.{freight.name[:12]}"


def evaluate(source: str, scope: Scope) -> Any:
    return parse_template(source).evaluate(scope)


def make_scope(
    var_sources: tuple[tuple[str, str], ...],
    ctx: Mapping[str, Any],
    functions: Mapping[str, Function],
    outputs: Mapping[str, Any],
    task_outputs: Mapping[str, Any],
) -> Scope:
    """The scope of one step: lazily evaluated vars over ``ctx``, outputs and functions."""
    sources = dict(var_sources)  # later definitions win
    names: dict[str, Any] = {"ctx": ctx, "outputs": outputs, "task": {"outputs": task_outputs}}
    scope = Scope(names=names, functions=functions)
    names["vars"] = _Lazy(list(sources), lambda key: evaluate(sources[key], scope))
    return scope


def static_scope(var_sources: tuple[tuple[str, str], ...], stage: str, project: str) -> Scope:
    """What is known before any promotion: vars, ``ctx.stage`` and ``ctx.project``."""
    ctx = _Lazy(
        list(CTX_FIELDS),
        lambda key: (
            {"stage": stage, "project": project}[key]
            if key in ("stage", "project")
            else _not_static()
        ),
    )
    return make_scope(var_sources, ctx, STATIC_FUNCTIONS, _Unknowable(), _Unknowable())


@dataclass
class RunResult:
    """What a program did: the new text of each file it changed and the commit message."""

    edits: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    title: str | None = None  # git-open-pr's title: the promotion PR's, when given
    labels: tuple[str, ...] = ()  # git-open-pr's labels


def run_program(
    program: StepProgram,
    stage: str,
    freight: Freight,
    files: Mapping[str, str | None] | None,
) -> RunResult:
    """Run ``program``'s steps for ``freight`` in ``stage``.

    ``files`` maps each edited file to its text (``None``: absent); with ``files=None``
    nothing is edited and only outputs and the commit message are computed.
    Raises ``ManifestError`` (a ``ValueError``) naming the step and where it was written
    when a step fails and does not ``continueOnError``.
    """
    ctx = {
        "stage": stage,
        "project": program.project,
        "promotion": promotion_name(stage, freight),
        "targetFreight": {
            "name": freight.name,
            "origin": {"kind": "Warehouse", "name": freight.warehouse},
        },
    }
    functions = freight_functions(freight)
    images = tuple(
        {"RepoURL": i.repo_url, "Tag": i.tag, "Digest": i.digest} for i in freight.images
    )
    charts = tuple(
        {"RepoURL": c.repo_url, "Name": c.name, "Version": c.version} for c in freight.charts
    )
    result = RunResult()
    current: dict[str, str | None] = dict(files or {})
    for step in program.steps:
        task_outputs = {
            s.local: result.outputs[s.alias]
            for s in program.steps
            if s.task == step.task and s.alias in result.outputs
        }
        scope = make_scope(step.vars, ctx, functions, dict(result.outputs), task_outputs)
        try:
            if step.when is not None:
                test = evaluate(step.when, scope)
                if not isinstance(test, bool):
                    raise ExpressionError(f"if: must be true or false, got {test!r}")
                if not test:
                    continue
            if isinstance(step.config, CommitConfig):
                result.message = _message(step.config, scope, result.outputs, step)
                continue
            if isinstance(step.config, OpenPrConfig):
                if step.config.title is not None:
                    result.title = to_text(evaluate(step.config.title, scope)).strip()
                    if len(result.title.splitlines()) != 1:  # a PR title is one line
                        raise ExpressionError(f"title must be one line, got {result.title!r}")
                result.labels = tuple(
                    to_text(evaluate(label, scope)).strip() for label in step.config.labels
                )
                if not all(result.labels):
                    raise ExpressionError("a label is empty")
                continue
            kind = KINDS[step.uses]
            assert kind.run is not None and step.file is not None
            before: str | None = None
            if files is not None:
                before = current.get(step.file)
                if before is None:
                    raise ManifestError(f"{step.file} does not exist in the GitOps repository")
            edit = Edit(
                file=step.file,
                before=before,
                value=lambda source, scope=scope: evaluate(source, scope),  # type: ignore[misc]
                images=images,
                charts=charts,
            )
            text, outputs = kind.run(step.config, edit)
        except (ExpressionError, ValueError) as exc:
            if step.continue_on_error:
                continue
            where = f" ({step.location})" if step.location else ""
            raise ManifestError(
                f"stage {stage}: step {step.alias} ({step.uses}){where}: {exc}"
            ) from None
        result.outputs[step.alias] = outputs
        if text is not None:
            current[step.file] = text
            if text != (files or {}).get(step.file):
                result.edits[step.file] = text
    return result


def _message(
    config: CommitConfig, scope: Scope, outputs: Mapping[str, Any], step: ProgramStep
) -> str:
    if config.message is not None:
        return to_text(evaluate(config.message, scope))
    parts = []
    for alias in config.message_from_steps:
        full = f"{step.task}::{alias}" if step.task else alias
        found = outputs.get(full, outputs.get(alias))
        if found is not None and "commitMessage" in found:
            parts.append(str(found["commitMessage"]))
    if len(parts) == 1:
        return parts[0]
    return f"Promote {len(parts)} changes\n\n" + "\n\n".join(parts)

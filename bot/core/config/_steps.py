"""Kargo 1.x promotion steps: their config tables, task inflation, and settling the route.

A stage's ``promotionTemplate.spec.steps`` (with ``task:`` steps inflated from
``PromotionTask``/``ClusterPromotionTask`` documents) becomes one ``GitRepoUpdate``:

* route steps (``git-clone``, ``git-commit``, ``git-push``, ``git-open-pr``,
  ``git-wait-for-pr``) are settled here from ``vars`` and ``ctx.stage``/``ctx.project``:
  which branch is edited and whether the stage pushes or opens a pull request;
* edit steps and ``git-commit``'s message stay as a ``StepProgram`` the promotion runs
  with the freight in scope (``bot.core.promote.steps.runner``).

Every ``${{ }}`` is checked here: it must parse, and every var, output and function it
names must exist where it is used. A combination Shunter cannot honour (edits never
pushed, a PR nobody waits for, a push to a branch other than the one edited) is refused
at its line, saying what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from bot.core.config._build import TASK_KINDS, Task
from bot.core.config._spec import (
    INVALID,
    STR_TAG,
    AnyValue,
    Broken,
    Ctx,
    Duration,
    Enum,
    F,
    Int,
    ListOf,
    Obj,
    Parsed,
    Spec,
    Str,
    Tagged,
    is_scalar,
    join,
)
from bot.core.model import GitRepoUpdate, Location, ProgramStep, StepProgram
from bot.core.promote.expressions import (
    ExpressionError,
    Template,
    check,
    has_expression,
    parse_template,
)
from bot.core.promote.steps import KINDS
from bot.core.promote.steps.argocd_update import Config as ArgoConfig
from bot.core.promote.steps.base import Expr, Role, StepKind
from bot.core.promote.steps.git_clone import Config as CloneConfig
from bot.core.promote.steps.git_commit import Config as CommitConfig
from bot.core.promote.steps.git_open_pr import Config as OpenConfig
from bot.core.promote.steps.git_push import Config as PushConfig
from bot.core.promote.steps.git_wait_for_pr import Config as WaitConfig
from bot.core.promote.steps.runner import (
    CTX_FIELDS,
    FUNCTIONS,
    NotStatic,
    evaluate,
    static_scope,
)

VAR: Final = Obj(
    {
        "name": F(
            Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*", pattern_message="is not a variable name"),
            required=True,
        ),
        "value": F(Expr("the value; may hold ${{ }} expressions")),
    }
)
VARS: Final = ListOf(VAR, doc="variables: name and value")

RETRY: Final = Obj(
    {"errorThreshold": F(Int(minimum=1)), "timeout": F(Duration())},
    "refused: Shunter's steps run on files already read, so a retry gives the same result",
)


def _refuse_kind(kind: StepKind) -> Any:
    def check_it(p: Parsed) -> None:
        p.problem(
            "uses",
            f"step '{kind.name}' is not supported: {kind.reason}",
            kind.instead,
        )

    return check_it


def _step_obj(kind: StepKind) -> Obj:
    fields = {
        "uses": F(Str(), required=True),
        "as": F(Str(pattern=r"[A-Za-z0-9_-]+", pattern_message="is not a step alias")),
        "if": F(Expr("run the step only when this is true", kind="bool")),
        "continueOnError": F(Expr("a failing edit step is skipped", kind="bool")),
        "retry": F(RETRY),
        "vars": F(VARS),
    }
    if kind.role is Role.REJECTED:
        fields["config"] = F(AnyValue())
        return Obj(fields, kind.doc, check=_refuse_kind(kind))
    assert kind.table is not None
    fields["config"] = F(kind.table, required=True)
    return Obj(fields, kind.doc)


USES_STEP: Final = Tagged("uses", {name: _step_obj(kind) for name, kind in KINDS.items()})

TASK_STEP: Final = Obj(
    {
        "task": F(
            Obj(
                {
                    "name": F(Str(), required=True),
                    "kind": F(Enum(TASK_KINDS)),
                }
            ),
            required=True,
        ),
        "as": F(Str(pattern=r"[A-Za-z0-9_-]+", pattern_message="is not a step alias")),
        "if": F(Expr("run the task only when this is true", kind="bool")),
        "vars": F(VARS, doc="values for the task's vars"),
    },
    "the steps of a PromotionTask or ClusterPromotionTask",
)


class StepSpec(Spec):
    """A promotion step: ``uses:`` a built-in step, or ``task:`` a promotion task."""

    expected = "a mapping"

    def __init__(self, *, tasks: bool) -> None:
        self.tasks = tasks

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.MappingNode)

    def _parse(self, node: yaml.Node, ctx: Ctx, path: str) -> Any:
        assert isinstance(node, yaml.MappingNode)
        keys = [k.value for k, _ in node.value if is_scalar(k, STR_TAG)]
        if "task" in keys and "uses" not in keys:
            if not self.tasks:
                ctx.problem(node, join(path, "task"), "a promotion task cannot use another task")
                return INVALID
            return TASK_STEP.parse(node, ctx, path)
        return USES_STEP.parse(node, ctx, path)

    def schema(self) -> dict[str, Any]:
        options = [USES_STEP.schema()] + ([TASK_STEP.schema()] if self.tasks else [])
        return {"anyOf": options} if len(options) > 1 else options[0]


PROMOTION_TEMPLATE: Final = Obj(
    {
        "spec": F(
            Obj(
                {
                    "vars": F(VARS),
                    "steps": F(ListOf(StepSpec(tasks=True), min_items=1), required=True),
                }
            ),
            required=True,
        )
    },
    "Kargo's promotion steps",
)

PROMOTION_TASK_SPEC: Final = Obj(
    {
        "vars": F(VARS, doc="the task's vars; one without a value must be given by the stage"),
        "steps": F(ListOf(StepSpec(tasks=False), min_items=1), required=True),
    }
)


# --------------------------------------------------------------------------- inflation


@dataclass
class Entry:
    """One built-in step after inflation, with everything its expressions may see."""

    step: Parsed
    kind: StepKind
    alias: str
    local: str
    task: str
    vars: tuple[tuple[str, str], ...]
    conditions: list[tuple[str, Parsed, tuple[tuple[str, str], ...]]] = field(default_factory=list)


def _var_pairs(p: Parsed, key: str, *, need_value: bool) -> list[tuple[str, str | None, Parsed]]:
    out = []
    for v in p.get(key, []):
        value = v.get("value")
        if value is None and need_value and not v.has("value"):
            v.problem(None, f"var '{v.get('name')}' needs a value")
            raise Broken("value")
        out.append((v.req("name"), value, v))
    return out


def inflate(template: Parsed, tasks: Mapping[tuple[str, str], Task]) -> list[Entry]:
    """The template's steps with every ``task:`` step replaced by the task's steps.

    Raises ``Broken`` after reporting a missing task, a var a task needs and was not
    given, a var it does not have, or an alias used twice.
    """
    base = tuple((n, v) for n, v, _ in _var_pairs(template, "vars", need_value=True) if v)
    entries: list[Entry] = []
    broken = False
    for i, step in enumerate(template.get("steps", [])):
        alias = step.get("as") or f"step-{i + 1}"
        if "task" not in step.values:
            kind = KINDS[step.req("uses")]
            own = tuple((n, v) for n, v, _ in _var_pairs(step, "vars", need_value=True) if v)
            entry = Entry(step, kind, alias, alias, "", base + own)
            if step.has("if"):
                entry.conditions.append((step.req("if"), step, entry.vars))
            entries.append(entry)
            continue
        ref: Parsed = step.req("task")
        key = (ref.get("kind", "PromotionTask"), ref.req("name"))
        task = tasks.get(key)
        if task is None:
            known = sorted(n for k, n in tasks if k == key[0])
            ref.problem(
                "name",
                f"no {key[0]} named '{key[1]}'",
                f"known: {', '.join(known)}" if known else f"add a {key[0]} document",
            )
            broken = True
            continue
        given = {n: v for n, v, _ in _var_pairs(step, "vars", need_value=True)}
        declared = _var_pairs(task.spec, "vars", need_value=False)
        names = {n for n, _, _ in declared}
        for n, _, v in _var_pairs(step, "vars", need_value=True):
            if n not in names:
                v.problem("name", f"task '{task.name}' has no var '{n}'", _known(names))
                broken = True
        chain = list(base)
        for n, default, _ in declared:
            value = given.get(n, default)
            if value is None:
                step.problem(
                    "vars" if step.has("vars") else "task",
                    f"task '{task.name}' needs var '{n}'",
                    f"add vars: [{{name: {n}, value: ...}}] to this step",
                )
                broken = True
                continue
            chain.append((n, value))
        for j, inner in enumerate(task.spec.get("steps", [])):
            local = inner.get("as") or f"step-{j + 1}"
            own = tuple((n, v) for n, v, _ in _var_pairs(inner, "vars", need_value=True) if v)
            entry = Entry(
                inner, KINDS[inner.req("uses")], f"{alias}::{local}", local, alias,
                tuple(chain) + own,
            )  # fmt: skip
            if step.has("if"):
                entry.conditions.append((step.req("if"), step, tuple(chain)))
            if inner.has("if"):
                entry.conditions.append((inner.req("if"), inner, entry.vars))
            entries.append(entry)
    seen: dict[str, Parsed] = {}
    for e in entries:
        if e.alias in seen:
            e.step.problem("as", f"alias '{e.local}' is used by two steps", "rename one")
            broken = True
        seen[e.alias] = e.step
    if broken:
        raise Broken("steps")
    return entries


def _known(names: set[str] | list[str]) -> str:
    return f"its vars: {', '.join(sorted(names))}" if names else "it has no vars"


# --------------------------------------------------------------------------- checking


def _strings(value: Any, node: yaml.Node, path: str) -> Iterator[tuple[str, yaml.Node, str]]:
    """Every string of a checked value that holds ``${{``, with its node and key path."""
    if isinstance(value, Parsed):
        for key, child in value.values.items():
            yield from _strings(child, value.nodes[key], join(value.path, key))
    elif isinstance(value, list) and isinstance(node, yaml.SequenceNode):
        for i, (item, child) in enumerate(zip(value, node.value, strict=False)):
            yield from _strings(item, child, f"{path}[{i}]")
    elif isinstance(value, str) and has_expression(value):
        yield value, node, path


def check_references(entries: list[Entry]) -> bool:
    """Report every expression naming an unknown var, output, ctx field or function.

    ``outputs.<alias>`` must name an earlier step; ``task.outputs.<alias>`` an earlier
    step of the same task. Returns whether everything was fine.
    """
    ok = True
    earlier: list[Entry] = []
    for e in entries:
        var_names = {n for n, _ in e.vars}
        names: dict[str, Any] = {
            "vars": var_names,
            "ctx": set(CTX_FIELDS),
            "outputs": None,
            "task": {"outputs"},
        }
        aliases = {x.alias for x in earlier} | {x.local for x in earlier if not x.task}
        locals_ = {x.local for x in earlier if x.task == e.task and e.task}
        for source, node, path in _strings(e.step, e.step.node, e.step.path):
            problems = check(source, names=names, functions=FUNCTIONS)
            problems += _output_problems(source, aliases, locals_, e)
            for exc in problems:
                e.step.ctx.problem(node, path, f"column {exc.column}: {exc.message}")
                ok = False
        earlier.append(e)
    return ok


def _output_problems(
    source: str, aliases: set[str], locals_: set[str], e: Entry
) -> list[ExpressionError]:
    out = []
    for ref, at in parse_template(source).references():
        path = ref.path
        if len(path) >= 2 and path[0] == "outputs" and path[1] not in aliases:
            out.append(ExpressionError(f"no earlier step is called {path[1]!r}", at))
        if len(path) >= 3 and path[:2] == ("task", "outputs") and path[2] not in locals_:
            where = "of this task " if e.task else ""
            out.append(ExpressionError(f"no earlier step {where}is called {path[2]!r}", at))
    return out


# --------------------------------------------------------------------------- settling


class _Refused(Exception):
    """A problem already reported; the stage's steps are left out."""


@dataclass(frozen=True)
class StepApp:
    """The Argo CD application an ``argocd-update`` step names, settled from vars and
    ``ctx``; ``where`` is its ``apps[]`` entry, for problems found later."""

    name: str
    namespace: str | None
    where: Parsed


@dataclass(frozen=True)
class Settled:
    """A stage's steps, settled: what they write (``None``: nothing, a control-flow
    stage) and the Argo CD application they name as its health source, if any."""

    update: GitRepoUpdate | None
    app: StepApp | None = None


#: An Argo CD application's name, as ``spec.health.argocd.app`` accepts it.
_APP_NAME: Final = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9._]*[A-Za-z0-9])?")


@dataclass
class _Route:
    stage: str
    project: str
    clone: tuple[Entry, CloneConfig] | None = None
    checkouts: dict[str, str | None] = field(default_factory=dict)  # folder -> branch
    edited: dict[str, Entry] = field(default_factory=dict)  # branch ("" default) -> entry
    commit: Entry | None = None
    push: tuple[Entry, PushConfig] | None = None
    open_pr: tuple[Entry, OpenConfig] | None = None
    wait: Entry | None = None
    program: list[ProgramStep] = field(default_factory=list)
    edits: list[Entry] = field(default_factory=list)
    apps: list[StepApp] = field(default_factory=list)  # argocd-update's application

    def scope_of(self, scope_vars: tuple[tuple[str, str], ...]) -> Any:
        return static_scope(scope_vars, self.stage, self.project)


def _strip(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/") or "."


def _static(r: _Route, e: Entry, key_owner: Parsed, key: str, source: str, what: str) -> Any:
    """Settle one value of a route step; report and raise ``_Refused`` when it cannot be."""
    try:
        return evaluate(source, r.scope_of(e.vars))
    except NotStatic:
        key_owner.problem(
            key,
            f"{what} must be known before the promotion runs: it may use vars, ctx.stage "
            "and ctx.project, not the freight or a step's output",
            "move the value into vars or write it out",
        )
    except ExpressionError as exc:
        key_owner.problem(key, f"column {exc.column}: {exc.message}")
    raise _Refused


def _text(r: _Route, e: Entry, owner: Parsed, key: str, what: str) -> str:
    value = _static(r, e, owner, key, owner.req(key), what)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flag(r: _Route, e: Entry, owner: Parsed, key: str) -> bool:
    if not owner.has(key):
        return False
    value = _static(r, e, owner, key, owner.req(key), key)
    if value in ("true", "false"):
        return bool(value == "true")
    if not isinstance(value, bool):
        owner.problem(key, f"must be true or false, got {value!r}")
        raise _Refused
    return value


def _where(e: Entry) -> Location:
    mark = e.step.node.start_mark
    return Location(e.step.ctx.file, mark.line + 1, mark.column + 1)


def settle(entries: list[Entry], stage: str, project: str, anchor: Parsed) -> Settled:
    """Settle the route of a stage's steps (``update`` ``None`` for a stage with nothing
    to push).

    Raises ``Broken`` after reporting every combination Shunter cannot honour.
    """
    route = _Route(stage, project)
    failed = False
    for e in entries:
        try:
            if not _runs(route, e):
                continue
            _take(e, route)
        except _Refused:
            failed = True
    if failed:
        raise Broken("steps")
    try:
        return Settled(_finish(route, project, anchor), route.apps[0] if route.apps else None)
    except _Refused:
        raise Broken("steps") from None


def _runs(r: _Route, e: Entry) -> bool:
    """Whether the step runs; a condition that needs the freight stays for edit steps."""
    for source, owner, scope_vars in e.conditions:
        try:
            value = evaluate(source, r.scope_of(scope_vars))
        except NotStatic:
            if e.kind.role is not Role.EDIT:
                owner.problem(
                    "if",
                    f"the if: of a {e.kind.name} step must be known before the promotion "
                    "runs (vars, ctx.stage, ctx.project): it decides where the promotion goes",
                    "use only vars and ctx in this if:",
                )
                raise _Refused from None
            continue
        except ExpressionError as exc:
            owner.problem("if", f"column {exc.column}: {exc.message}")
            raise _Refused from None
        if value in ("true", "false"):
            value = value == "true"
        if not isinstance(value, bool):
            owner.problem("if", f"if: must be true or false, got {value!r}")
            raise _Refused
        if not value:
            return False
    return True


def _dynamic_condition(r: _Route, e: Entry) -> str | None:
    dynamic = []
    for source, _, scope_vars in e.conditions:
        try:
            evaluate(source, r.scope_of(scope_vars))
        except NotStatic:
            dynamic.append(source)
    if len(dynamic) > 1:
        e.step.problem("if", "a task's if: and its step's if: both need the freight", "keep one")
        raise _Refused
    return dynamic[0] if dynamic else None


def _checkout(e: Entry, route: _Route, owner: Parsed, key: str, path: str) -> tuple[str, str]:
    """(checkout folder, path inside it) of a step path; refuse one outside every checkout."""
    path = _strip(path)
    for folder in sorted(route.checkouts, key=len, reverse=True):
        if folder == "." or path == folder or path.startswith(folder + "/"):
            inner = path if folder == "." else _strip(path[len(folder) :].lstrip("/") or ".")
            return folder, inner
    owner.problem(
        key,
        f"'{path}' is not inside a git-clone checkout"
        + (f" ({', '.join(route.checkouts)})" if route.checkouts else ""),
        "clone the repository first, with checkout: [{branch: main, path: ./src}]",
    )
    raise _Refused


def _take(e: Entry, route: _Route) -> None:
    step = e.step
    config: Parsed = step.req("config")
    role = e.kind.role
    if step.has("retry"):
        step.problem(
            "retry",
            "retry is not supported: Shunter's steps run on files it has already read, so a "
            "retry gives the same result; a transient GitHub failure is retried by the next run",
            "remove retry",
        )
        raise _Refused
    on_error = _flag(route, e, step, "continueOnError")
    if on_error and role is not Role.EDIT:
        step.problem(
            "continueOnError",
            f"continueOnError on {e.kind.name} is not supported: without it the promotion "
            "cannot land",
            "remove continueOnError",
        )
        raise _Refused
    built = e.kind.build(config)
    if role is Role.CLONE:
        assert isinstance(built, CloneConfig)
        url = _text(route, e, config, "repoURL", "repoURL")
        if route.clone is not None and route.clone[1].repo_url != url:
            config.problem("repoURL", "Shunter works in one repository", "clone it once")
            raise _Refused
        route.clone = (e, CloneConfig(url, built.checkouts))
        for i, co in enumerate(built.checkouts):
            item: Parsed = config.req("checkout")[i]
            folder = _strip(_text(route, e, item, "path", "a checkout path"))
            branch = _text(route, e, item, "branch", "branch") if co.branch is not None else None
            route.checkouts[folder] = branch
        return
    if role is Role.EDIT:
        folder, inner = _checkout(e, route, config, "path", _text(route, e, config, "path", "path"))
        branch = route.checkouts[folder] or ""
        route.edited.setdefault(branch, e)
        route.edits.append(e)
        if route.commit is not None:
            step.problem("uses", "this edit comes after git-commit and is never committed",
                         "move it before git-commit")  # fmt: skip
            raise _Refused
        route.program.append(_program_step(route, e, built, e.kind.file(inner), on_error))
        return
    if role is Role.COMMIT:
        assert isinstance(built, CommitConfig)
        _checkout(e, route, config, "path", _text(route, e, config, "path", "path"))
        aliases = {x.alias for x in route.edits} | {x.local for x in route.edits}
        for i, name in enumerate(built.message_from_steps):
            if name not in aliases:
                node = config.nodes["messageFromSteps"].value[i]
                config.ctx.problem(
                    node,
                    f"{config.path_of('messageFromSteps')}[{i}]",
                    f"no earlier edit step is called '{name}'",
                )
                raise _Refused
        route.commit = e
        route.program.append(_program_step(route, e, built, None, False))
        return
    if role is Role.PUSH:
        assert isinstance(built, PushConfig)
        folder, _ = _checkout(e, route, config, "path", _text(route, e, config, "path", "path"))
        target = (
            _text(route, e, config, "targetBranch", "targetBranch") if built.target_branch else None
        )
        generate = _flag(route, e, config, "generateTargetBranch")
        if route.commit is None:
            step.problem("uses", "git-push has nothing to push", "add git-commit before it")
            raise _Refused
        branch = route.checkouts[folder]
        if target is not None and target != (branch or target):
            config.problem(
                "targetBranch",
                f"targetBranch '{target}' is not the branch checked out at ./{folder} "
                f"('{branch}'): Shunter pushes the branch it edited",
                f"check out {target} in git-clone",
            )
            raise _Refused
        route.push = (e, PushConfig(folder, target, "true" if generate else None))
        return
    if role is Role.OPEN_PR:
        assert isinstance(built, OpenConfig)
        _same_repository(e, route, config)
        target = (
            _text(route, e, config, "targetBranch", "targetBranch") if built.target_branch else None
        )
        _flag(route, e, config, "createTargetBranch")  # settled: must be true or false
        if route.push is None or route.push[1].generate_target_branch is None:
            step.problem(
                "uses",
                "git-open-pr needs a git-push with generateTargetBranch: true before it",
                "push with generateTargetBranch: true (Shunter's branch shunter/<stage>)",
            )
            raise _Refused
        push_entry = route.push[0]
        _names_output(e, config, "sourceBranch", "sourceBranchFromStep", push_entry, "branch")
        route.open_pr = (e, OpenConfig(built.repo_url, target))
        if built.title is not None or built.labels:
            # The title and labels may read the freight: they are worked out when the
            # promotion runs, in this step's scope, like an edit.
            route.program.append(_program_step(route, e, built, None, False))
        return
    if role is Role.WAIT_PR:
        if route.open_pr is None:
            step.problem("uses", "git-wait-for-pr has no pull request to wait for",
                         "add git-open-pr before it")  # fmt: skip
            raise _Refused
        assert isinstance(built, WaitConfig)
        _same_repository(e, route, config)
        _names_output(e, config, "prNumber", "prNumberFromStep", route.open_pr[0], "prNumber")
        route.wait = e
        return
    if role is Role.HEALTH:
        assert isinstance(built, ArgoConfig)
        _take_apps(e, route, config, built)
        return
    raise _Refused  # a refused kind: its table's check reported it


def _take_apps(e: Entry, route: _Route, config: Parsed, built: ArgoConfig) -> None:
    """argocd-update: the stage's one Argo CD application, whose sources are the
    repository the promotion writes, synced to its commit."""
    for i, app in enumerate(built.apps):
        item: Parsed = config.req("apps")[i]
        name = _text(route, e, item, "name", "the application's name")
        if not _APP_NAME.fullmatch(name) or len(name) > 253:
            item.problem("name", f"'{name}' is not an Argo CD application name")
            raise _Refused
        if route.apps:
            item.problem(
                "name",
                f"a second Argo CD application ({name}): Shunter follows one per stage, "
                f"{route.apps[0].name} here",
                "name one application, the one whose health the stage's is",
            )
            raise _Refused
        namespace = _text(route, e, item, "namespace", "namespace") if app.namespace else None
        for j, src in enumerate(app.sources):
            source: Parsed = item.req("sources")[j]
            _same_repository(e, route, source)
            commit = route.commit
            if src.commit_step is not None and (
                commit is None or src.commit_step not in (commit.alias, commit.local)
            ):
                source.problem(
                    "desiredCommitFromStep",
                    f"'{src.commit_step}' is not this stage's git-commit step",
                    "name the git-commit step's as:, or drop the key",
                )
                raise _Refused
        route.apps.append(StepApp(name, namespace, item))


def _program_step(
    r: _Route, e: Entry, config: Any, file: str | None, on_error: bool
) -> ProgramStep:
    return ProgramStep(
        uses=e.kind.name,
        alias=e.alias,
        config=config,
        task=e.task,
        local=e.local,
        when=_dynamic_condition(r, e),
        continue_on_error=on_error,
        vars=e.vars,
        file=file,
        location=_where(e),
    )


def _same_repository(e: Entry, route: _Route, config: Parsed) -> None:
    from bot.core.promote.repository import same_repository

    url = _text(route, e, config, "repoURL", "repoURL")
    if route.clone is not None and not same_repository(url, route.clone[1].repo_url):
        config.problem(
            "repoURL",
            f"'{url}' is not the repository git-clone cloned ({route.clone[1].repo_url})",
            "Shunter works in one repository",
        )
        raise _Refused


def _names_output(
    e: Entry, config: Parsed, key: str, from_step: str, target: Entry, output: str
) -> None:
    """``key`` must be exactly ``target``'s ``output`` (or ``from_step`` its alias)."""
    if config.has(from_step):
        if config.get(from_step) not in (target.alias, target.local):
            config.problem(from_step, f"must name the {target.kind.name} step '{target.local}'")
            raise _Refused
        return
    if not config.has(key):
        return
    source: str = config.req(key)
    wanted = {
        ("outputs", target.alias, output),
        ("outputs", target.local, output),
        ("task", "outputs", target.local, output),
    }
    template: Template = parse_template(source)
    refs = [r.path for r, _ in template.references()]
    if len(template.parts) != 1 or refs not in ([p] for p in wanted):
        config.problem(
            key,
            f"must be the {target.kind.name} step's {output} output",
            f"write ${{{{ outputs['{target.local}'].{output} }}}} or use {from_step}",
        )
        raise _Refused


def _finish(route: _Route, project: str, anchor: Parsed) -> GitRepoUpdate | None:
    edits = [s for s in route.program if s.file is not None]
    if route.push is None:
        if edits or route.commit is not None:
            first = route.commit or next(iter(route.edited.values()))
            first.step.problem(
                "uses",
                "the steps change files but never push them",
                "add git-commit and git-push after the edits",
            )
            raise _Refused
        return None  # a control-flow stage: nothing to write
    push_entry, push = route.push
    branches = sorted(route.edited)
    if len(branches) > 1:
        anchor.problem(
            "steps",
            f"the steps edit several branches ({', '.join(b or 'default' for b in branches)})",
            "Shunter writes one branch per stage",
        )
        raise _Refused
    branch = route.checkouts[push.path]
    if branches and (branches[0] or None) != branch:
        push_entry.step.problem("uses", "git-push pushes a checkout the edits did not change",
                                "push the checkout the edit steps wrote")  # fmt: skip
        raise _Refused
    if route.open_pr is None:
        if push.generate_target_branch:
            push_entry.step.problem(
                "uses",
                "generateTargetBranch without git-open-pr leaves the change on a branch "
                "nothing merges",
                "add git-open-pr and git-wait-for-pr, or push to the checked-out branch",
            )
            raise _Refused
        pull_request = False
    else:
        open_entry, open_pr = route.open_pr
        if open_pr.target_branch is not None and open_pr.target_branch != (
            branch or open_pr.target_branch
        ):
            open_entry.step.problem(
                "uses",
                f"the PR would merge into '{open_pr.target_branch}', but the edits were made "
                f"on '{branch}'",
                f"check out {open_pr.target_branch} in git-clone",
            )
            raise _Refused
        if route.wait is None:
            open_entry.step.problem(
                "uses",
                "Shunter records a promotion when its pull request merges",
                "add git-wait-for-pr after git-open-pr",
            )
            raise _Refused
        pull_request = True
    assert route.clone is not None  # a push needs a checkout
    return GitRepoUpdate(
        write_branch=branch,
        pull_request=pull_request,
        clone_url=route.clone[1].repo_url,
        program=StepProgram(steps=tuple(route.program), project=project),
    )

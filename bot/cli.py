"""``shunter``: the command line, and the one place that reads the environment.

``main(argv) -> int`` parses arguments, reads the environment once into a frozen
``RunContext``, wires the adapters and calls one function per subcommand. It is also the
only place that catches errors broadly: a ``ConfigError`` exits 2 with every problem
listed (and GitHub annotations in Actions), other Shunter errors exit 1 with a message
that says what to fix. Heavy imports (PyGithub, requests, jinja2) happen inside the
subcommands, so ``shunter --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.errors import ConfigError, PermanentError, ShunterError

if TYPE_CHECKING:
    from bot.adapters.actions import ActionsIO
    from bot.core.ledger import Ledger, PromotionKind
    from bot.core.model import Config
    from bot.loop.reconcile import Outcome, World

PERMISSION_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
OPERATIONS = ("promote", "promote-from", "rollback", "pause", "resume", "refresh", "release-hold")


@dataclass(frozen=True)
class RunContext:
    """Everything a run takes from its environment and flags, read once."""

    config_dir: Path
    repo_dir: Path
    state_branch: str | None
    repository: str | None  # owner/name
    api_url: str
    token: str | None = None
    actor: str | None = None
    now: datetime | None = None
    env: Mapping[str, str] | None = None

    @property
    def owner(self) -> str:
        return (self.repository or "/").split("/")[0]


# --------------------------------------------------------------------------- parsing


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="shunter",
        description=(
            "Promote freight (images, charts, commits) from dev to staging to prod through "
            "pull requests, with the config Kargo users write."
        ),
    )
    p.add_argument("--config", help="config folder (default: $SHUNTER_CONFIG or kargo)")
    p.add_argument("--repo-dir", help="checkout of the GitOps repository (default: .)")
    p.add_argument("--state-branch", help="ledger branch (default: shunter/state)")
    p.add_argument("--repo", help="GitHub repository owner/name (default: $GITHUB_REPOSITORY)")
    p.add_argument("--api-url", help="GitHub API URL (default: $GITHUB_API_URL or api.github.com)")
    p.add_argument("--now", help=argparse.SUPPRESS)  # fixed clock, for demos and tests
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("validate", help="check the config; print every problem")
    sub.add_parser("schema", help="print the JSON Schema of the config, for editors")

    r = sub.add_parser("reconcile", help="discover, promote, record: the loop the Action runs")
    r.add_argument("--dry-run", action="store_true", help="plan and print; change nothing")
    r.add_argument("-o", "--output", choices=("text", "json"), default="text")

    sub.add_parser("run", help="what the GitHub Action runs (reads SHUNTER_* and the event)")

    g = sub.add_parser("get", help="list stages, freight, promotions or warehouses")
    g.add_argument("kind", choices=("stages", "freight", "promotions", "warehouses"))
    g.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")

    d = sub.add_parser("describe", help="show one freight or stage in detail")
    d.add_argument("kind", choices=("freight", "stage"))
    d.add_argument("name", help="freight ID, ID prefix or alias; or a stage name")

    pr = sub.add_parser("promote", help="promote a freight to a stage, or a stage's freight onward")
    pr.add_argument("freight", nargs="?", help="freight ID or alias (or use --from)")
    pr.add_argument("--from", dest="from_stage", help="promote what this stage runs")
    pr.add_argument("--to", required=True, help="target stage")
    pr.add_argument("--reason", default="", help="why (required for emergency promotions)")

    for name, text in (
        ("pause", "stop promotions to a stage"),
        ("resume", "let promotions to a stage go on"),
        ("release-hold", "let auto-promotion go on after a rollback"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("stage")
        sp.add_argument("--reason", default="")

    rf = sub.add_parser("refresh", help="discover a warehouse's freight now")
    rf.add_argument("kind", choices=("warehouse",))
    rf.add_argument("name")
    return p


def _context(args: argparse.Namespace, env: Mapping[str, str]) -> RunContext:
    now = None
    raw_now = args.now or env.get("SHUNTER_NOW")
    if raw_now:
        now = datetime.fromisoformat(raw_now.replace("Z", "+00:00"))
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    return RunContext(
        config_dir=Path(args.config or env.get("SHUNTER_CONFIG") or "kargo"),
        repo_dir=Path(args.repo_dir or env.get("GITHUB_WORKSPACE") or "."),
        state_branch=args.state_branch or env.get("SHUNTER_STATE_BRANCH") or None,
        repository=args.repo or env.get("GITHUB_REPOSITORY") or None,
        api_url=args.api_url or env.get("GITHUB_API_URL") or "https://api.github.com",
        token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
        actor=env.get("GITHUB_ACTOR") or None,
        now=now,
        env=env,
    )


# --------------------------------------------------------------------------- wiring


def _load_config(ctx: RunContext) -> Config:
    from bot.adapters.configdir import load_config_dir

    return load_config_dir(ctx.config_dir)


def _world(ctx: RunContext, config: Config, *, forge: bool, registry: bool = True) -> World:
    from bot.adapters.git import GitRemoteRepo, GitStateStore
    from bot.loop.reconcile import World

    branch = ctx.state_branch or config.settings.state_branch
    w = World(
        config=config,
        state=GitStateStore(ctx.repo_dir, branch=branch),
        gitops=GitRemoteRepo(ctx.repo_dir),
        owner=ctx.owner,
        env=dict(ctx.env or {}),
    )
    if ctx.now is not None:
        fixed = ctx.now
        w.clock = lambda: fixed
    else:
        w.clock = lambda: datetime.now(UTC)
    if registry:
        from bot.adapters.gitsource import GitSource
        from bot.adapters.helm import HelmRepository
        from bot.adapters.registry import OciRegistry, parse_repo_url
        from bot.core.model import ImageSubscription

        credentials = _registry_credentials(config, ctx.env or {})
        insecure = frozenset(
            parse_repo_url(sub.repo_url).host
            for wh in config.warehouses
            for sub in wh.subscriptions
            if isinstance(sub, ImageSubscription) and sub.insecure_skip_tls_verify
        )
        oci = OciRegistry(credentials=credentials, insecure_hosts=insecure)
        w.registry = oci
        w.charts = HelmRepository(credentials=credentials, registry=oci)
        env = ctx.env or {}
        cache = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "shunter-git"
        w.git_source = GitSource(cache)
    if forge:
        w.forge = _forge(ctx)
    return w


def _registry_credentials(config: Config, env: Mapping[str, str]) -> Any:
    """Credentials by registry host, from env vars named in the config (never the config)."""
    from bot.adapters.registry import parse_repo_url
    from bot.core.model import ImageSubscription

    by_host: dict[str, tuple[str, str]] = {}
    for wh in config.warehouses:
        for sub in wh.subscriptions:
            if isinstance(sub, ImageSubscription) and sub.credentials_env:
                user = env.get(f"{sub.credentials_env}_USERNAME")
                password = env.get(f"{sub.credentials_env}_PASSWORD")
                if user and password:
                    # Keyed by the host the adapter actually contacts (docker.io ->
                    # registry-1.docker.io), which is how it asks.
                    by_host[parse_repo_url(sub.repo_url).host] = (user, password)
    token = env.get("GITHUB_TOKEN")
    if token and "ghcr.io" not in by_host:
        by_host["ghcr.io"] = (env.get("GITHUB_ACTOR") or "token", token)

    def lookup(host: str) -> tuple[str, str] | None:
        return by_host.get(host)

    return lookup


def _forge(ctx: RunContext) -> Any:
    if not ctx.token:
        raise PermanentError(
            "this command needs the GitHub API: set GITHUB_TOKEN (in a workflow, pass "
            "`token: ${{ github.token }}` to the action)"
        )
    if not ctx.repository or "/" not in ctx.repository:
        raise PermanentError("set GITHUB_REPOSITORY (owner/name) or pass --repo owner/name")
    from bot.adapters.github import GitHubForge

    return GitHubForge(api_url=ctx.api_url, token=ctx.token, repository=ctx.repository)


def _actions_io(ctx: RunContext, out: TextIO) -> ActionsIO:
    from bot.adapters.actions import ActionsIO

    io = ActionsIO(ctx.env or {}, stream=out)
    if ctx.token:
        io.mask(ctx.token)
    return io


# --------------------------------------------------------------------------- commands


def cmd_validate(ctx: RunContext, out: TextIO) -> int:
    config = _load_config(ctx)
    print(
        f"{ctx.config_dir}: valid ({len(config.warehouses)} warehouse(s), "
        f"{len(config.stages)} stage(s): {' -> '.join(s.name for s in config.stages)})",
        file=out,
    )
    return 0


def cmd_schema(out: TextIO) -> int:
    from bot.core.config import config_schema

    json.dump(config_schema(), out, indent=2)
    out.write("\n")
    return 0


def _report(outcome: Outcome, out: TextIO, fmt: str, *, dry_run: bool) -> None:
    from bot.core.decide.planner import MergePromotionPR, OpenPromotionPR

    if fmt == "json":
        json.dump(
            {
                "dryRun": dry_run,
                "decisions": [
                    {"stage": d.stage, "message": d.message, "blocked": d.blocked}
                    for d in outcome.decisions
                ],
                "actions": [_action_json(a) for a in outcome.actions],
                "changes": outcome.changes,
                "errors": outcome.errors,
                "stateCommit": outcome.state_commit,
            },
            out,
            indent=2,
        )
        out.write("\n")
        return
    for d in outcome.decisions:
        print(f"{'!' if d.blocked else '-'} {d.stage}: {d.message}", file=out)
    if dry_run:
        for a in outcome.actions:
            verb = {OpenPromotionPR: "would open", MergePromotionPR: "would merge"}.get(
                type(a), "would update"
            )
            print(f"  {verb}: {_action_json(a)}", file=out)
    for c in outcome.changes:
        print(f"  changed: {c}", file=out)
    for e in outcome.errors:
        print(f"error: {e}", file=sys.stderr)


def _action_json(a: object) -> dict[str, Any]:
    from bot.core.decide.planner import ClosePromotionPR, MergePromotionPR, OpenPromotionPR

    if isinstance(a, OpenPromotionPR):
        return {
            "type": "open",
            "stage": a.stage,
            "freight": a.freight.name,
            "alias": a.freight.alias,
            "version": a.freight.summary(),
            "pr": a.pr,
        }
    if isinstance(a, MergePromotionPR):
        return {"type": "merge", "stage": a.stage, "pr": a.pr, "sha": a.head_sha}
    if isinstance(a, ClosePromotionPR):
        return {"type": "close", "stage": a.stage, "pr": a.pr}
    return {"type": "update", "stage": getattr(a, "stage", ""), "pr": getattr(a, "pr", None)}


def cmd_reconcile(ctx: RunContext, out: TextIO, *, dry_run: bool, fmt: str) -> int:
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    world = _world(ctx, config, forge=bool(ctx.token) or not dry_run)
    outcome = reconcile(world, dry_run=dry_run)
    _report(outcome, out, fmt, dry_run=dry_run)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1


def _publish(ctx: RunContext, outcome: Outcome, out: TextIO) -> None:
    """Step summary, outputs and annotations when running inside GitHub Actions."""
    io = _actions_io(ctx, out)
    if not io.enabled:
        return
    from bot.render.summary import step_summary

    io.summary(step_summary(outcome))
    promoted = [c for c in outcome.changes if ": promoted " in c]
    io.set_output("promotions", json.dumps(promoted))
    io.set_output("state-commit", outcome.state_commit or "")
    for e in outcome.errors:
        io.error(e, title="shunter")
    for d in outcome.decisions:
        if d.blocked and d.stage.startswith("warehouse/"):
            io.warning(d.message, title=f"shunter {d.stage}")


def _ledger(ctx: RunContext, config: Config) -> Ledger:
    from bot.adapters.git import GitStateStore
    from bot.core.ledger import from_files

    branch = ctx.state_branch or config.settings.state_branch
    files, _head = GitStateStore(ctx.repo_dir, branch=branch).load()
    try:
        return from_files(files)
    except ValueError as exc:
        raise PermanentError(f"state branch {branch}: {exc}") from exc


def cmd_get(ctx: RunContext, out: TextIO, kind: str, fmt: str) -> int:
    from bot.render import views

    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    rows = views.rows(kind, config, ledger)
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "yaml":
        import yaml

        out.write(yaml.safe_dump(rows, sort_keys=False))
    else:
        out.write(views.table(kind, rows, wide=fmt == "wide"))
    return 0


def cmd_describe(ctx: RunContext, out: TextIO, kind: str, name: str) -> int:
    from bot.render import views

    config = _load_config(ctx)
    ledger = _ledger(ctx, config)
    if kind == "stage":
        try:
            config.stage(name)
        except KeyError:
            raise PermanentError(f"no stage {name!r} in {ctx.config_dir}") from None
        out.write(views.describe_stage(name, config, ledger))
        return 0
    rec = ledger.find_freight(name)
    if rec is None:
        raise PermanentError(f"no freight {name!r}: see `shunter get freight` for IDs and aliases")
    out.write(views.describe_freight(rec, ledger))
    return 0


def _require_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise PermanentError(f"{what} needs a reason: pass --reason '...' (it goes in the ledger)")


def _check_actor(ctx: RunContext, config: Config, world: World, reason: str, what: str) -> str:
    """Who is asking, after checking they may (permission named in the config)."""
    _require_reason(reason, what)
    if world.forge is None:
        raise PermanentError(f"{what} needs the GitHub API to check who asks: set GITHUB_TOKEN")
    actor = ctx.actor or world.forge.whoami()
    need = config.settings.emergency_permission
    have = world.forge.permission(actor)
    if PERMISSION_RANK.get(have, 0) < PERMISSION_RANK.get(need, 4):
        raise PermanentError(
            f"{actor} has {have!r} permission on {ctx.repository}; {what} needs {need!r} "
            "(ProjectConfig spec.emergencyPermission)"
        )
    return actor


def cmd_promote(
    ctx: RunContext,
    out: TextIO,
    freight_ref: str | None,
    from_stage: str | None,
    to: str,
    reason: str,
) -> int:
    from bot.core.ledger import OperationRecord, Request
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    try:
        config.stage(to)
    except KeyError:
        raise PermanentError(f"no stage {to!r} in {ctx.config_dir}") from None
    if bool(freight_ref) == bool(from_stage):
        raise PermanentError("name a freight, or --from STAGE, but not both")
    _require_reason(reason, f"promoting to {to}")
    world = _world(ctx, config, forge=True, registry=False)
    what = f"promoting to {to}"
    actor = _check_actor(ctx, config, world, reason, what)

    def mutate(ledger: Ledger, now: datetime) -> list[str]:
        if from_stage:
            src = ledger.stages.get(from_stage)
            if src is None or src.current_freight is None:
                raise PermanentError(
                    f"stage {from_stage!r} runs no freight yet: nothing to promote"
                )
            rec = ledger.freight[src.current_freight]
        else:
            found = ledger.find_freight(freight_ref or "")
            if found is None:
                raise PermanentError(
                    f"no freight {freight_ref!r}: see `shunter get freight` for IDs and aliases"
                )
            rec = found
        target = ledger.stage(to)
        current = ledger.freight.get(target.current_freight or "")
        older = (
            current is not None
            and rec.freight.discovered_at is not None
            and current.freight.discovered_at is not None
            and rec.freight.discovered_at < current.freight.discovered_at
        )
        kind: PromotionKind = "rollback" if older else "emergency"
        target.request = Request(
            freight=rec.freight.name, kind=kind, by=actor, reason=reason, at=now
        )
        rec.approved_for[to] = actor
        op = "promote-from" if from_stage else "rollback" if kind == "rollback" else "promote"
        ledger.operations.append(
            OperationRecord(op, to, actor, reason, now, freight=rec.freight.name)
        )
        return [f"{to}: {actor} asked for {kind} promotion of {rec.freight.alias}: {reason}"]

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1


def cmd_stage_flag(ctx: RunContext, out: TextIO, op: str, stage: str, reason: str) -> int:
    from bot.core.ledger import Hold, OperationRecord
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    try:
        config.stage(stage)
    except KeyError:
        raise PermanentError(f"no stage {stage!r} in {ctx.config_dir}") from None
    if op == "pause":
        _require_reason(reason, f"pausing {stage}")
    world = _world(ctx, config, forge=True, registry=False)
    actor = _check_actor(ctx, config, world, reason or op, f"{op} {stage}")

    def mutate(ledger: Ledger, now: datetime) -> list[str]:
        rec = ledger.stage(stage)
        if op == "pause":
            rec.pause = Hold(reason=reason or "paused", by=actor, at=now)
        elif op == "resume":
            rec.pause = None
        else:
            rec.hold = None
        ledger.operations.append(OperationRecord(op, stage, actor, reason, now))
        return [f"{stage}: {op} by {actor}" + (f": {reason}" if reason else "")]

    outcome = reconcile(world, discover_now=False, mutate=mutate)
    _report(outcome, out, "text", dry_run=False)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1


def cmd_refresh(ctx: RunContext, out: TextIO, name: str) -> int:
    from bot.loop.reconcile import reconcile

    config = _load_config(ctx)
    try:
        config.warehouse(name)
    except KeyError:
        raise PermanentError(f"no warehouse {name!r} in {ctx.config_dir}") from None
    world = _world(ctx, config, forge=False)
    outcome = reconcile(world, warehouses={name})
    _report(outcome, out, "text", dry_run=False)
    return 0 if outcome.ok else 1


def cmd_run(ctx: RunContext, out: TextIO) -> int:
    """The Action's entry point: the operation input picks the subcommand."""
    env = ctx.env or {}
    op = (env.get("SHUNTER_OPERATION") or "").strip()
    reason = env.get("SHUNTER_REASON", "")
    stage = env.get("SHUNTER_STAGE", "")
    dry_run = env.get("SHUNTER_DRY_RUN", "false").lower() == "true"
    if op and op not in OPERATIONS:
        raise PermanentError(f"operation {op!r} is not one of {', '.join(OPERATIONS)}")
    if op in ("promote", "rollback"):
        return cmd_promote(ctx, out, env.get("SHUNTER_FREIGHT"), None, stage, reason)
    if op == "promote-from":
        return cmd_promote(ctx, out, None, env.get("SHUNTER_FROM"), stage, reason)
    if op in ("pause", "resume", "release-hold"):
        return cmd_stage_flag(ctx, out, op, stage, reason)
    if op == "refresh":
        from bot.loop.reconcile import reconcile

        config = _load_config(ctx)
        world = _world(ctx, config, forge=True)
        outcome = reconcile(world, warehouses={env.get("SHUNTER_WAREHOUSE", "")})
        _report(outcome, out, "text", dry_run=False)
        _publish(ctx, outcome, out)
        return 0 if outcome.ok else 1
    return _reconcile_event(ctx, out, dry_run=dry_run)


def _reconcile_event(ctx: RunContext, out: TextIO, *, dry_run: bool) -> int:
    """A reconcile narrowed by the event that started the workflow (if it names one)."""
    from bot.core.discover.events import trigger_for
    from bot.loop.reconcile import reconcile

    env = ctx.env or {}
    config = _load_config(ctx)
    payload: dict[str, Any] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path:
        try:
            loaded = json.loads(Path(path).read_text())
            payload = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            payload = {}  # unreadable: a full reconcile is always safe
    trigger = trigger_for(config, env.get("GITHUB_EVENT_NAME", ""), payload)
    print(f"trigger: {trigger.reason}", file=out)
    world = _world(ctx, config, forge=bool(ctx.token) or not dry_run)
    outcome = reconcile(
        world,
        dry_run=dry_run,
        warehouses=None if trigger.warehouses is None else set(trigger.warehouses),
    )
    _report(outcome, out, "text", dry_run=dry_run)
    _publish(ctx, outcome, out)
    return 0 if outcome.ok else 1


# --------------------------------------------------------------------------- main


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the ``shunter`` command; return the exit code (0 ok, 1 failed, 2 bad config)."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    environ = dict(os.environ if env is None else env)
    try:
        ctx = _context(args, environ)
        return _dispatch(args, ctx, out)
    except ConfigError as exc:
        from bot.adapters.actions import ActionsIO

        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        io = ActionsIO(environ, stream=out)
        if io.enabled:
            io.config_problems(exc.problems)
        print(f"{len(exc.problems)} problem(s) in the config; nothing was changed", file=sys.stderr)
        return exc.exit_code
    except ShunterError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # bad flag values (e.g. --now)
        print(f"shunter: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, ctx: RunContext, out: TextIO) -> int:
    c = args.command
    if c == "validate":
        return cmd_validate(ctx, out)
    if c == "schema":
        return cmd_schema(out)
    if c == "reconcile":
        return cmd_reconcile(ctx, out, dry_run=args.dry_run, fmt=args.output)
    if c == "run":
        return cmd_run(ctx, out)
    if c == "get":
        return cmd_get(ctx, out, args.kind, args.output)
    if c == "describe":
        return cmd_describe(ctx, out, args.kind, args.name)
    if c == "promote":
        return cmd_promote(ctx, out, args.freight, args.from_stage, args.to, args.reason)
    if c in ("pause", "resume", "release-hold"):
        return cmd_stage_flag(ctx, out, c, args.stage, args.reason)
    if c == "refresh":
        return cmd_refresh(ctx, out, args.name)
    raise PermanentError(f"unknown command {c}")


if __name__ == "__main__":
    raise SystemExit(main())

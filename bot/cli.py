"""``shunter``: the command line, and the one place that reads the environment.

``main(argv) -> int`` parses arguments, reads the environment once into a frozen
``RunContext`` and calls the subcommand's function, one module per command in
``bot/commands/`` (adapters are built in ``bot/commands/_wiring.py``). It is also the
only place that catches errors broadly: a ``ConfigError`` exits 2 with every problem
listed (and GitHub annotations in Actions); every other error exits with the code
``bot.errors.exit_code`` gives it (1 refused, 2 usage, 75 transient) and a message
that says what to fix, and anything unexpected exits 3 with its traceback. Heavy
imports (PyGithub, requests, jinja2) happen inside the subcommands, so ``shunter --help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, cast

from bot.commands._context import RunContext
from bot.errors import EXIT_INTERNAL, EXIT_USAGE, ConfigError, LedgerError, UsageError, exit_code

__all__ = ["RunContext", "main"]

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
    g.add_argument(
        "--all", action="store_true", help="promotions: the archived history too, oldest first"
    )

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

    nt = sub.add_parser(
        "notify", help="ask another repository's Shunter to refresh a warehouse now"
    )
    nt.add_argument("--to", required=True, metavar="OWNER/NAME", help="the GitOps repository")
    nt.add_argument("--warehouse", required=True, help="warehouse to refresh")

    dr = sub.add_parser(
        "doctor", help="check the repository's settings, rules, workflow and registries"
    )
    dr.add_argument("-o", "--output", choices=("text", "json"), default="text")

    rf = sub.add_parser("refresh", help="discover a warehouse's freight now")
    rf.add_argument("kind", choices=("warehouse",))
    rf.add_argument("name")
    return p


def _context(args: argparse.Namespace, env: Mapping[str, str]) -> RunContext:
    now = None
    raw_now = args.now or env.get("SHUNTER_NOW")
    if raw_now:
        try:
            now = datetime.fromisoformat(raw_now.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"--now {raw_now!r} is not an ISO 8601 time; write it like 2026-11-30T09:00:00Z"
            ) from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    return RunContext(
        config_dir=Path(args.config or env.get("SHUNTER_CONFIG") or "kargo"),
        repo_dir=Path(args.repo_dir or env.get("GITHUB_WORKSPACE") or "."),
        state_branch=args.state_branch or env.get("SHUNTER_STATE_BRANCH") or None,
        repository=args.repo or env.get("GITHUB_REPOSITORY") or None,
        api_url=args.api_url or env.get("GITHUB_API_URL") or "https://api.github.com",
        token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
        run_id=env.get("GITHUB_RUN_ID") or None,
        event=env.get("GITHUB_EVENT_NAME") or None,
        now=now,
        env=env,
    )


# --------------------------------------------------------------------------- main


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the ``shunter`` command and return its exit code.

    0 done; 1 a stage is stuck or an operation was refused; 2 bad config or usage;
    3 internal error (the traceback goes to stderr); 75 transient, the next run retries.
    The table and the error each code comes from are in ``bot.errors``.

    stdout (``out``) and stderr are wrapped in ``LogGuard`` for the whole run, so no line
    printed with outside text in it reaches the Actions runner as a workflow command.
    """
    from bot.adapters.actions import LogGuard

    guarded_out, guarded_err = LogGuard(out or sys.stdout), LogGuard(sys.stderr)
    try:
        with redirect_stderr(cast(TextIO, guarded_err)):
            return _main(argv, env, cast(TextIO, guarded_out))
    finally:
        guarded_out.flush()
        guarded_err.flush()


def _main(argv: Sequence[str] | None, env: Mapping[str, str] | None, out: TextIO) -> int:
    from bot.adapters.actions import ActionsIO, one_line

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    environ = dict(os.environ if env is None else env)
    try:
        ctx = _context(args, environ)
        return _dispatch(args, ctx, out)
    except ConfigError as exc:
        for problem in exc.problems:
            print(one_line(str(problem)), file=sys.stderr)
        io = ActionsIO(environ, stream=out)
        if io.enabled:
            io.config_problems(exc.problems)
        print(f"{len(exc.problems)} problem(s) in the config; nothing was changed", file=sys.stderr)
        return exc.exit_code
    except LedgerError as exc:
        print(f"shunter: {str(exc).splitlines()[0]}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {one_line(str(problem))}", file=sys.stderr)
        io = ActionsIO(environ, stream=out)
        if io.enabled:
            io.ledger_problems(exc.problems)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shunter: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one broad handler: every error ends here as a code
        return _fail(exc, environ, out)


def _fail(exc: Exception, env: Mapping[str, str], out: TextIO) -> int:
    """Say what went wrong (a bug: with its traceback), annotate it in Actions, return the code."""
    from bot.adapters.actions import one_line

    code = exit_code(exc)
    if code == EXIT_INTERNAL:
        traceback.print_exc(file=sys.stderr)
        message = f"internal error (a bug in Shunter, please report it): {exc!r}"
    else:
        message = str(exc)
    print(one_line(f"shunter: {message}"), file=sys.stderr)
    if env.get("GITHUB_ACTIONS") == "true":
        from bot.adapters.actions import ActionsIO

        io = ActionsIO(env, stream=out)
        for secret in (env.get("GITHUB_TOKEN"), env.get("GH_TOKEN")):
            if secret:
                io.mask(secret)
        io.error(message, title="shunter")
    return code


def _dispatch(args: argparse.Namespace, ctx: RunContext, out: TextIO) -> int:
    from bot.commands.describe import cmd_describe
    from bot.commands.doctor import cmd_doctor
    from bot.commands.get import cmd_get
    from bot.commands.notify import cmd_notify
    from bot.commands.promote import cmd_promote
    from bot.commands.reconcile import cmd_reconcile
    from bot.commands.refresh import cmd_refresh
    from bot.commands.run import cmd_run
    from bot.commands.schema import cmd_schema
    from bot.commands.stage_flag import cmd_stage_flag
    from bot.commands.validate import cmd_validate

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
        return cmd_get(ctx, out, args.kind, args.output, every=args.all)
    if c == "describe":
        return cmd_describe(ctx, out, args.kind, args.name)
    if c == "promote":
        return cmd_promote(ctx, out, args.freight, args.from_stage, args.to, args.reason)
    if c in ("pause", "resume", "release-hold"):
        return cmd_stage_flag(ctx, out, c, args.stage, args.reason)
    if c == "refresh":
        return cmd_refresh(ctx, out, args.name)
    if c == "notify":
        return cmd_notify(ctx, out, args.to, args.warehouse)
    if c == "doctor":
        return cmd_doctor(ctx, out, args.output)
    raise UsageError(f"unknown command {c}")


if __name__ == "__main__":
    raise SystemExit(main())

"""``shunter``: the command line, and the one place that reads the environment.

``main(argv) -> int`` parses arguments, reads the environment once into a frozen
``RunContext`` and calls the subcommand's function, one module per command in
``bot/commands/`` (adapters are built in ``bot/commands/_wiring.py``). It is also the
only place that catches errors broadly: a ``ConfigError`` exits 2 with every problem
listed (and GitHub annotations in Actions); every other error exits with the code
``bot.errors.exit_code`` gives it (1 refused, 2 usage, 75 transient) and a message
that says what to fix, and anything unexpected exits 3 with its traceback.

Importing this module costs argparse and nothing else: the run context, the error tree
and each command are imported once the arguments are parsed, and each command imports
the adapters it uses, so ``shunter --help`` never pays for YAML, HTTP or git.
"""

from __future__ import annotations

import argparse
import os
import sys

# ``typing`` costs more to import than the rest of ``--help`` (mypy reads this name as
# ``typing.TYPE_CHECKING``); its names are needed only by the type checker here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import TextIO

    from bot.commands._context import RunContext

__all__ = ["COMMANDS", "main", "parse"]

# --------------------------------------------------------------------------- parsing


class _Formatter(argparse.HelpFormatter):
    """argparse's help, as wide as the terminal, measured the way ``shutil`` measures it
    (``$COLUMNS``, then the terminal, then 80) without importing ``shutil`` and the
    compression modules it brings."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return os.get_terminal_size(stdout.fileno()).columns if stdout else 80
    except (AttributeError, ValueError, OSError):
        return 80


def _global_options(*, suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after the command's name.

    Added to the top parser and to each subcommand; with ``suppress`` (the subcommands)
    an option not given leaves no attribute, so it never overwrites one given before
    the command.
    """
    g = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    opts = g.add_argument_group("global options")
    opts.add_argument(
        "--config", default=default, help="config folder (default: $SHUNTER_CONFIG or kargo)"
    )
    opts.add_argument(
        "--repo-dir", default=default, help="checkout of the GitOps repository (default: .)"
    )
    opts.add_argument(
        "--state-branch", default=default, help="ledger branch (default: shunter/state)"
    )
    opts.add_argument(
        "--repo",
        default=default,
        help="GitHub repository owner/name (default: $GITHUB_REPOSITORY)",
    )
    opts.add_argument(
        "--api-url",
        default=default,
        help="GitHub API URL (default: $GITHUB_API_URL or api.github.com)",
    )
    opts.add_argument("--now", default=default, help=argparse.SUPPRESS)  # a fixed clock
    return g


# --------------------------------------------------------------------------- commands
# Each command's arguments are added only when that command runs: building the parser of
# every command cost ``shunter --help`` (and every run) about a fifth of its start-up.


def _args_reconcile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="plan and print; change nothing")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")


def _args_get(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("stages", "freight", "promotions", "warehouses"))
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    p.add_argument(
        "--all", action="store_true", help="promotions: the archived history too, oldest first"
    )
    p.add_argument("--stage", help="freight: only what this stage runs, ran or may take")
    p.add_argument(
        "--warehouse", "--origin", dest="warehouse", help="freight: only this warehouse's"
    )


def _args_dashboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write index.html in")


def _args_describe(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("freight", "stage"))
    p.add_argument("name", help="freight ID, ID prefix, alias or freight/ID; or a stage name")


def _args_promote(p: argparse.ArgumentParser) -> None:
    p.add_argument("freight", nargs="?", help="freight ID or alias (or use --from)")
    p.add_argument(
        "--freight", dest="freight_flag", metavar="ID", help="the freight, Kargo's spelling"
    )
    p.add_argument("--from", dest="from_stage", help="promote what this stage runs")
    p.add_argument("--to", "--stage", dest="to", help="target stage")
    p.add_argument(
        "--reason",
        default="",
        help="why: makes it an emergency (gates skipped); without it every gate applies",
    )


def _args_approve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--freight", required=True, metavar="ID", help="freight ID or alias")
    p.add_argument("--stage", required=True, help="the stage it may enter")
    p.add_argument("--reason", default="", help="why (required; it goes in the ledger)")


def _args_stage_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("stage")
    p.add_argument("--reason", default="")


def _args_notify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, metavar="OWNER/NAME", help="the GitOps repository")
    p.add_argument("--warehouse", required=True, help="warehouse to refresh")


def _args_output_text_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")


def _args_check_pr(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pr", required=True, metavar="N", help="the pull request's number")


def _args_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("freight",))
    p.add_argument("--warehouse", required=True, help="the warehouse the freight comes from")
    p.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="REPO:TAG",
        help="an image of the freight (repeat for each); subscriptions not named take "
        "what discovery selects",
    )
    p.add_argument("--reason", default="", help="why (required; it goes in the ledger)")


def _args_refresh(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("warehouse",))
    p.add_argument("name")


#: Every command: its line of help, and what adds its own arguments (``None``: none).
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None] | None]] = {
    "validate": ("check the config; print every problem", None),
    "schema": ("print the JSON Schema of the config, for editors", None),
    "reconcile": ("discover, promote, record: the loop the Action runs", _args_reconcile),
    "run": ("what the GitHub Action runs (reads SHUNTER_* and the event)", None),
    "get": ("list stages, freight, promotions or warehouses", _args_get),
    "dashboard": (
        "write the pipeline's static site (for GitHub Pages) from the ledger",
        _args_dashboard,
    ),
    "describe": ("show one freight or stage in detail", _args_describe),
    "promote": ("promote a freight to a stage, or a stage's freight onward", _args_promote),
    "approve": ("let a freight into a stage without upstream verification", _args_approve),
    "pause": ("stop promotions to a stage", _args_stage_flag),
    "resume": ("let promotions to a stage go on", _args_stage_flag),
    "release-hold": ("let auto-promotion go on after a rollback", _args_stage_flag),
    "notify": ("ask another repository's Shunter to refresh a warehouse now", _args_notify),
    "doctor": (
        "check the repository's settings, rules, workflow and registries",
        _args_output_text_json,
    ),
    "check-pr": (
        "publish the shunter/gate check on a pull request that is not a promotion",
        _args_check_pr,
    ),
    "create": (
        "create freight from named artifacts (freightCreationPolicy Manual)",
        _args_create,
    ),
    "refresh": ("discover a warehouse's freight now", _args_refresh),
}


def _command_list() -> str:
    """The commands section of ``shunter --help``: one indented line each."""
    width = max(map(len, COMMANDS)) + 2
    lines = [f"  {name:<{width}}{text}" for name, (text, _) in COMMANDS.items()]
    return "commands:\n" + "\n".join(lines)


class _TopParser(argparse.ArgumentParser):
    """``shunter --help`` ends with the commands, one line each (argparse would wrap them)."""

    def format_help(self) -> str:
        return f"{super().format_help()}\n{_command_list()}\n"


def _parser() -> argparse.ArgumentParser:
    """The top parser: the global options and the command's name; the rest of the line
    goes to the command's own parser (:func:`_command_parser`)."""
    p = _TopParser(
        prog="shunter",
        formatter_class=_Formatter,
        description=(
            "Promote freight (images, charts, commits) from dev to staging to prod through "
            "pull requests, with the config Kargo users write."
        ),
        parents=[_global_options(suppress=False)],
    )
    p.add_argument(
        "command",
        metavar="COMMAND",
        choices=COMMANDS,
        help="one of the commands below; shunter COMMAND --help shows its options",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _command_parser(name: str) -> argparse.ArgumentParser:
    """One command's parser: its arguments, and the global options again (given after the
    command's name, they win over the same ones given before it)."""
    text, add_arguments = COMMANDS[name]
    p = argparse.ArgumentParser(
        prog=f"shunter {name}",
        description=text,
        formatter_class=_Formatter,
        parents=[_global_options(suppress=True)],
    )
    if add_arguments is not None:
        add_arguments(p)
    return p


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments of one ``shunter`` command line; ``SystemExit`` as argparse raises it
    (0 after printing help, 2 after a usage error)."""
    args = _parser().parse_args(argv)
    rest = args.rest
    del args.rest
    return _command_parser(args.command).parse_args(rest, namespace=args)


def _context(args: argparse.Namespace, env: Mapping[str, str]) -> RunContext:
    from datetime import UTC, datetime
    from pathlib import Path

    from bot.commands._context import RunContext
    from bot.errors import UsageError

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
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        bot_logins=frozenset(
            b.strip() for b in (env.get("SHUNTER_BOT_LOGIN") or "").split(",") if b.strip()
        ),
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

    Inside GitHub Actions (``GITHUB_ACTIONS=true``) stdout (``out``) and stderr are
    wrapped in ``LogGuard`` for the whole run, so no line printed with outside text in it
    reaches the runner as a workflow command. Elsewhere no runner reads the lines, and the
    guard's imports are left out of the start-up.
    """
    environ = dict(os.environ if env is None else env)
    if environ.get("GITHUB_ACTIONS") != "true":
        return _main(argv, environ, out or sys.stdout)
    from contextlib import redirect_stderr
    from typing import cast

    from bot.adapters.actions import LogGuard

    guarded_out, guarded_err = LogGuard(out or sys.stdout), LogGuard(sys.stderr)
    try:
        with redirect_stderr(cast("TextIO", guarded_err)):
            return _main(argv, environ, cast("TextIO", guarded_out))
    finally:
        guarded_out.flush()
        guarded_err.flush()


def _main(argv: Sequence[str] | None, environ: dict[str, str], out: TextIO) -> int:
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse has printed help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    from bot.adapters.actions import ActionsIO, one_line
    from bot.errors import ConfigError, LedgerError

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
        return _fail(exc, environ, out, operation=args.command in OPERATIONS)


# A person's operations: a request is carried out only by the run that receives it (no
# later run picks it up from the ledger), so even a transient failure needs the person to
# run it again: 1, never 75. Their outcomes say so too (``0 if outcome.ok else 1``).
OPERATIONS = frozenset({"promote", "approve", "pause", "resume", "release-hold", "create"})


def _fail(exc: Exception, env: Mapping[str, str], out: TextIO, *, operation: bool = False) -> int:
    """Say what went wrong (a bug: with its traceback), annotate it in Actions, return the
    code (``operation``: a person's request, which no later run retries)."""
    from bot.adapters.actions import one_line
    from bot.errors import EXIT_ACT, EXIT_INTERNAL, EXIT_TRANSIENT, exit_code

    code = exit_code(exc)
    if operation and code == EXIT_TRANSIENT:
        code = EXIT_ACT
    if code == EXIT_INTERNAL:
        import traceback

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
        # A transient failure heals by itself: a warning, as in a run's outcome.
        (io.warning if code == EXIT_TRANSIENT else io.error)(message, title="shunter")
    return code


def _dispatch(args: argparse.Namespace, ctx: RunContext, out: TextIO) -> int:
    """Call the command's function; each command module is imported only when it runs."""
    c = args.command
    if c == "validate":
        from bot.commands.validate import cmd_validate

        return cmd_validate(ctx, out)
    if c == "schema":
        from bot.commands.schema import cmd_schema

        return cmd_schema(out)
    if c == "reconcile":
        from bot.commands.reconcile import cmd_reconcile

        return cmd_reconcile(ctx, out, dry_run=args.dry_run, fmt=args.output)
    if c == "run":
        from bot.commands.run import cmd_run

        return cmd_run(ctx, out)
    if c == "get":
        from bot.commands.get import cmd_get

        return cmd_get(
            ctx,
            out,
            args.kind,
            args.output,
            every=args.all,
            stage=args.stage,
            warehouse=args.warehouse,
        )
    if c == "dashboard":
        from bot.commands.dashboard import cmd_dashboard

        return cmd_dashboard(ctx, out, args.out)
    if c == "describe":
        from bot.commands.describe import cmd_describe

        return cmd_describe(ctx, out, args.kind, args.name)
    if c == "promote":
        from bot.commands._names import _one_of
        from bot.commands.promote import cmd_promote

        freight = _one_of("the freight", args.freight, args.freight_flag)
        if not args.to:
            from bot.errors import UsageError

            raise UsageError("name the target stage: --to STAGE (or Kargo's --stage STAGE)")
        return cmd_promote(ctx, out, freight, args.from_stage, args.to, args.reason)
    if c == "approve":
        from bot.commands.approve import cmd_approve

        return cmd_approve(ctx, out, args.freight, args.stage, args.reason)
    if c in ("pause", "resume", "release-hold"):
        from bot.commands.stage_flag import cmd_stage_flag

        return cmd_stage_flag(ctx, out, c, args.stage, args.reason)
    if c == "notify":
        from bot.commands.notify import cmd_notify

        return cmd_notify(ctx, out, args.to, args.warehouse)
    if c == "doctor":
        from bot.commands.doctor import cmd_doctor

        return cmd_doctor(ctx, out, args.output)
    if c == "check-pr":
        from bot.commands.check_pr import cmd_check_pr

        return cmd_check_pr(ctx, out, args.pr)
    if c == "create":
        from bot.commands.create_freight import cmd_create_freight

        return cmd_create_freight(ctx, out, args.warehouse, args.image, args.reason)
    from bot.commands.refresh import cmd_refresh

    return cmd_refresh(ctx, out, args.name)


if __name__ == "__main__":
    raise SystemExit(main())

"""How a reconcile's outcome reaches people: the terminal, and GitHub Actions."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands._wiring import _actions_io

if TYPE_CHECKING:
    from bot.commands._context import RunContext
    from bot.core.model import Config
    from bot.loop.reconcile import Outcome


def _report(outcome: Outcome, out: TextIO, fmt: str, *, dry_run: bool) -> None:
    if fmt == "json":
        json.dump(
            {
                "dryRun": dry_run,
                "decisions": [
                    {
                        "stage": d.subject.render(),
                        "kind": d.kind.value,
                        "message": d.render(),
                        "blocked": d.blocked,
                        "gates": [
                            {"kind": g.kind.value, "holds": g.holds, "message": g.render()}
                            for g in d.gates
                        ],
                    }
                    for d in outcome.decisions
                ],
                "actions": [_action_json(a) for a in outcome.actions],
                "changes": [c.render() for c in outcome.changes],
                "errors": [e.render() for e in outcome.errors],
                "inconsistencies": [i.to_dict() for i in outcome.inconsistencies],
                "stateCommit": outcome.state_commit,
            },
            out,
            indent=2,
        )
        out.write("\n")
        return
    from bot.adapters.actions import one_line

    for d in outcome.decisions:
        print(one_line(f"{'!' if d.blocked else '-'} {d.subject.render()}: {d.render()}"), file=out)
    if dry_run:
        from bot.core.decide.actions import MergePromotionPR, OpenPromotionPR

        for a in outcome.actions:
            verb = {OpenPromotionPR: "would open", MergePromotionPR: "would merge"}.get(
                type(a), "would update"
            )
            print(f"  {verb}: {_action_json(a)}", file=out)
    for c in outcome.changes:
        print(one_line(f"  changed: {c.render()}"), file=out)
    if outcome.rebuilt:
        print(f"warning: {REBUILT}", file=sys.stderr)
    for text in dict.fromkeys(e.render() for e in outcome.errors):  # each once, in order
        print(one_line(f"error: {text}"), file=sys.stderr)
    for i in outcome.inconsistencies:
        print(one_line(f"ledger inconsistency: {i.render()}"), file=sys.stderr)


def _exit_code(outcome: Outcome) -> int:
    """The exit code a command that ran the loop returns (``bot.errors.run_exit_code``).

    0 clean; 75 when every failure is transient; 1 when a failure needs a person, or when
    anything else ``Outcome.ok`` counts does (a stuck stage). Asking ``ok`` of the outcome
    without its failures keeps the loop the one judge of what else needs a person.
    """
    from dataclasses import replace

    from bot.errors import run_exit_code

    rest_ok = replace(outcome, errors=[]).ok
    return run_exit_code((e.kind for e in outcome.errors), person_must_act=not rest_ok)


REBUILT = (
    "the state branch was missing or reset although promotion PRs were merged: the ledger "
    "was rebuilt from GitHub. Recovered: what each stage runs (its manifests on main) and "
    "the latest merged promotion PRs of each stage with their freight (listed above as "
    "changes). Not recovered: older audit history, other freight older than each "
    "warehouse's newest match, "
    "verification results, approvals given by `shunter promote`, holds, pauses and the "
    "operations log; re-apply holds and pauses by hand"
)


def _action_json(a: object) -> dict[str, Any]:
    from bot.core.decide.actions import ClosePromotionPR, MergePromotionPR, OpenPromotionPR

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


def _push_metrics(ctx: RunContext, config: Config, outcome: Outcome) -> str | None:
    """Push the ledger's metrics to ``SHUNTER_PUSHGATEWAY_URL`` (with
    ``SHUNTER_PUSHGATEWAY_USERNAME``/``_PASSWORD`` when set) if monitoring is enabled.
    Returns why the push failed, or ``None``; a failed push never fails the run, whose
    promotions are done and recorded: it is a warning, and the next run pushes again."""
    env = ctx.env or {}
    url = env.get("SHUNTER_PUSHGATEWAY_URL")
    if not url or not config.settings.monitoring.enabled:
        return None
    from bot.adapters.pushgateway import push_metrics
    from bot.core.metrics import metrics_registry
    from bot.errors import ShunterError

    try:
        push_metrics(
            metrics_registry(config, outcome.ledger),
            url,
            grouping_key={"repository": ctx.repository or "local"},
            username=env.get("SHUNTER_PUSHGATEWAY_USERNAME") or None,
            password=env.get("SHUNTER_PUSHGATEWAY_PASSWORD") or None,
        )
    except ShunterError as exc:
        return f"metrics not pushed: {exc}"
    return None


def _publish(ctx: RunContext, outcome: Outcome, out: TextIO, config: Config) -> None:
    """Step summary (with the pipeline graph), outputs and annotations when running inside
    GitHub Actions; the metrics to a Pushgateway when one is configured."""
    io = _actions_io(ctx, out)
    pushed = _push_metrics(ctx, config, outcome)
    if pushed is not None:
        if io.enabled:
            io.warning(pushed, title="shunter metrics")
        else:
            print(f"warning: {pushed}", file=sys.stderr)
    if not io.enabled:
        return
    from bot.render.summary import step_summary

    io.summary(step_summary(outcome, config))
    from bot.core.decide.outcomes import ChangeKind, DecisionKind, FailureKind, SubjectKind

    io.set_output("promotions", json.dumps([c.render() for c in outcome.promoted]))
    io.set_output("state-commit", outcome.state_commit or "")
    for e in outcome.errors:
        # A transient failure (a budget or deadline cut short, a 5xx) heals on the next run:
        # a warning; anything else needs a person: an error.
        if e.kind is FailureKind.TRANSIENT:
            io.warning(e.render(), title="shunter")
        else:
            io.error(e.render(), title="shunter")
    if outcome.rebuilt:
        io.warning(REBUILT, title="shunter state branch rebuilt")
    for c in outcome.changes:
        if c.kind is ChangeKind.DRIFT:  # main differed from the ledger; the ledger followed
            io.warning(c.render(), title=f"shunter {c.subject.render()} drifted")
    for i in outcome.inconsistencies:
        io.error(i.render(), title="shunter: ledger inconsistency")
    failed = {e.subject for e in outcome.errors}
    for d in outcome.decisions:
        if d.kind is DecisionKind.DISCOVERY_FAILED and d.subject in failed:
            continue  # annotated above, as a warning or an error by the failure's kind
        # A warehouse that found nothing is loud; a stage that waits for a person (main
        # holds what no known freight writes, or GitHub will not merge) fails the run.
        if d.blocked and d.subject.kind is SubjectKind.WAREHOUSE:
            io.warning(d.render(), title=f"shunter {d.subject.render()}")
        elif d.kind in (DecisionKind.STUCK, DecisionKind.DRIFT):
            io.error(d.render(), title=f"shunter {d.subject.render()} is stuck")

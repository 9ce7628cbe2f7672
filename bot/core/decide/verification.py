"""Following the verification of what a stage runs, step by step. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.decide.actions import Plan, StartVerificationStep, freight_label
from bot.core.decide.gates import fmt_duration
from bot.core.decide.observations import Observations
from bot.core.decide.outcomes import (
    Change,
    ChangeKind,
    DecisionKind,
    Gate,
    GateKind,
    Subject,
)
from bot.core.ledger import (
    Ledger,
    StageRecord,
    StepRecord,
)
from bot.core.model import AnalysisTemplate, Config, Stage, VerificationStep


def verification_marker(stage: str, step: str, freight: str, at: datetime) -> str:
    """A run-name no other verification run shares (stage, step, freight, start time)."""
    return f"shunter/{stage}/{step}/{freight[:12]}/{int(at.timestamp())}"


def _template_for(config: Config, step: VerificationStep) -> AnalysisTemplate | None:
    return config.analysis_template(step.analysis_template)


def follow_verification(
    config: Config, stage: Stage, rec: StageRecord, p: Plan, obs: Observations, now: datetime
) -> None:
    """Follow the verification of the stage's current freight by one step.

    Steps run all at once with ``parallel: true``, otherwise one after another; a step
    naming no ``AnalysisTemplate`` runs the workflow ``.github/workflows/<name>.yml``.
    The freight is verified in the stage (and so available downstream) when every step
    succeeded and, with ``spec.health``, the stage is healthy on the promotion's commit.
    """
    v = rec.verification
    if v is None or v.result is not None:
        return
    name = stage.name
    me = Subject.stage(name)
    fr = p.ledger.freight.get(v.freight)
    if fr is None or rec.current_freight != v.freight:
        rec.verification = None  # another promotion replaced the freight under verification
        return
    steps = stage.verification.steps if stage.verification else ()
    seen = obs.verification.get(name, {})
    for step in steps:
        st = v.steps.get(step.name)
        if st is None or st.state not in ("running", "pending"):
            continue
        run = seen.get(step.name)
        if run is not None and (run.state, run.url, run.run_id) != (st.state, st.url, st.run_id):
            st.state, st.url, st.run_id, st.message = run.state, run.url, run.run_id, run.message
            if run.state in ("succeeded", "failed"):
                p.changed(Change(me, ChangeKind.STEP_FINISHED, step=step.name, detail=run.state))
        template = _template_for(config, step)
        timeout = template.timeout if template else timedelta(minutes=30)
        if st.state in ("running", "pending") and st.started_at and now - st.started_at > timeout:
            st.state, st.message = "failed", f"timed out after {fmt_duration(timeout)}"
            p.changed(Change(me, ChangeKind.STEP_TIMED_OUT, step=step.name))
    parallel = bool(stage.verification and stage.verification.parallel)
    for i, step in enumerate(steps):
        if step.name in v.steps:
            continue
        earlier = [v.steps.get(s.name) for s in steps[:i]]
        if not parallel and not all(e is not None and e.state == "succeeded" for e in earlier):
            break
        v.steps[step.name] = StepRecord(state="running", started_at=now)
        template = _template_for(config, step)
        workflow = None
        ref = None
        inputs: tuple[tuple[str, str], ...] = ()
        if template is None:
            workflow = f"{step.analysis_template}.yml"
        elif template.workflow is not None:
            workflow, ref = template.workflow.file, template.workflow.ref
            inputs = template.workflow.inputs
        if workflow is not None and stage.verification is not None:
            # The stage's args reach each workflow, over the template's own inputs.
            inputs = tuple({**dict(inputs), **dict(stage.verification.args)}.items())
        p.actions.append(
            StartVerificationStep(
                stage=name,
                freight=fr.freight,
                step=step.name,
                marker=verification_marker(name, step.name, fr.freight.name, now),
                workflow=workflow,
                commit=merge_commit(p.ledger, name, fr.freight.name) or "",
                ref=ref,
                inputs=inputs,
            )
        )
        p.changed(
            Change(me, ChangeKind.STEP_STARTED, freight=freight_label(fr.freight), step=step.name)
        )
        if not parallel:
            break
    failed = [(n, st) for n, st in v.steps.items() if st.state == "failed"]
    if failed:
        v.result = "failed"
        why = "; ".join(f"{n}: {st.message or 'failed'}" for n, st in failed)
        label = freight_label(fr.freight)
        p.changed(Change(me, ChangeKind.VERIFICATION_FAILED, freight=label, detail=why))
        failed_gate = Gate(GateKind.VERIFICATION, False, f"failed: {why}")
        p.say(
            me,
            DecisionKind.VERIFICATION_FAILED,
            blocked=True,
            freight=label,
            gates=(failed_gate,),
            detail=why,
        )
        return
    done = all(v.steps.get(s.name) and v.steps[s.name].state == "succeeded" for s in steps)
    if not done:
        running = ", ".join(n for n, st in v.steps.items() if st.state != "succeeded")
        verifying = Gate(GateKind.VERIFICATION, False, f"{running} running")
        p.say(
            me,
            DecisionKind.VERIFYING,
            blocked=True,
            freight=freight_label(fr.freight),
            gates=(verifying,),
            detail=running,
        )
        return
    if stage.health is not None:
        report = obs.health.get(name)
        merged = merge_commit(p.ledger, name, v.freight)
        if report is None or not report.healthy:
            why = report.message if report else "health not reported yet"
            health = Gate(GateKind.HEALTH, False, why)
            p.say(
                me,
                DecisionKind.UNHEALTHY,
                blocked=True,
                freight=freight_label(fr.freight),
                gates=(health,),
            )
            return
        if report.revision and merged and report.revision != merged:
            deployed = Gate(
                GateKind.DEPLOYED,
                False,
                f"{merged[:7]} to be deployed (the stage runs {report.revision[:7]})",
            )
            p.say(
                me,
                DecisionKind.NOT_DEPLOYED,
                blocked=True,
                freight=freight_label(fr.freight),
                gates=(deployed,),
            )
            return
    v.result = "succeeded"
    fr.verified_in.setdefault(name, now)
    p.changed(Change(me, ChangeKind.VERIFIED, freight=freight_label(fr.freight)))


def merge_commit(led: Ledger, stage: str, freight: str) -> str | None:
    for rec in reversed(led.promotions):
        if rec.stage == stage and rec.freight == freight and rec.status == "Succeeded":
            return rec.commit
    return None

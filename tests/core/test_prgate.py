"""The gate's verdict on pull requests that are not promotions, with the example's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.configdir import load_config_dir
from bot.core.decide.approvals import ApprovalResult
from bot.core.decide.observations import CheckRun, Observations
from bot.core.decide.outcomes import Gate, GateKind
from bot.core.decide.prgate import (
    ManagedChange,
    ManagedChangeKind,
    PRVerdict,
    managed_files,
    pr_verdict,
    promotion_check,
)
from bot.core.decide.pulls import ChangedFile
from bot.core.model import Config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask-app"
PROD = "env/prod/values.yaml"
DEV = "env/dev/kustomization.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config_dir(EXAMPLE / "kargo")


def text(path: str) -> str:
    return (EXAMPLE / path).read_text()


def verdict(config: Config, edits: dict[str, str | None], base: str = "main") -> PRVerdict:
    changed = tuple(
        ChangedFile(p, "removed" if t is None else "modified", None if t is None else "x")
        for p, t in edits.items()
    )
    paths = set(managed_files(config, base, "main"))
    return pr_verdict(
        config,
        base_branch=base,
        default_branch="main",
        changed=changed,
        base_texts={p: text(p) for p in paths},  # every managed file, as the loop reads them
        head_texts={p: t for p, t in edits.items() if p in paths},
    )


def test_managed_files_are_what_promotions_write(config: Config) -> None:
    assert set(managed_files(config, "main", "main")) == {
        DEV,
        "env/staging/kustomization.yaml",
        PROD,
    }
    assert managed_files(config, "release", "main") == ()


@pytest.mark.parametrize(
    ("edits", "changes"),
    [
        # a file no promotion writes
        ({"README.md": "hello\n"}, ()),
        # prod's replicas: the same file, not the promoted value
        ({PROD: text(PROD).replace("replicaCount: 3", "replicaCount: 5")}, ()),
        # dev's overlay: its replicas, not its image
        ({DEV: text(DEV).replace("count: 1", "count: 2")}, ()),
        # a hand edit of prod's tag
        (
            {PROD: text(PROD).replace('tag: "1.8.0"', 'tag: "1.9.9"')},
            (ManagedChange("prod", PROD, ManagedChangeKind.VALUE_CHANGED),),
        ),
        # the tag and the replicas at once: still a hand edit of the tag
        (
            {
                PROD: text(PROD)
                .replace('tag: "1.8.0"', "tag: 1.9.9")
                .replace("replicaCount: 3", "replicaCount: 5")
            },
            (ManagedChange("prod", PROD, ManagedChangeKind.VALUE_CHANGED),),
        ),
        # dev's newTag by hand
        (
            {DEV: text(DEV).replace('newTag: "1.8.0"', 'newTag: "2.0.0"')},
            (ManagedChange("dev", DEV, ManagedChangeKind.VALUE_CHANGED),),
        ),
        # pinning dev by digest beside the tag is a change of what dev runs
        (
            {DEV: text(DEV).replace("newTag:", "digest: sha256:abc\n    newTag:")},
            (ManagedChange("dev", DEV, ManagedChangeKind.VALUE_CHANGED),),
        ),
        # prod's values file deleted
        ({PROD: None}, (ManagedChange("prod", PROD, ManagedChangeKind.PLACE_REMOVED),)),
    ],
)
def test_verdict(
    config: Config, edits: dict[str, str | None], changes: tuple[ManagedChange, ...]
) -> None:
    got = verdict(config, edits)
    assert got.changes == changes
    assert got.passes is (not changes)


def test_a_removed_key_is_named(config: Config) -> None:
    head = text(PROD).replace('  tag: "1.8.0"  # set by Shunter on promotion\n', "")
    (change,) = verdict(config, {PROD: head}).changes
    assert (change.stage, change.kind) == ("prod", ManagedChangeKind.PLACE_REMOVED)
    assert "image.tag" in change.detail


def test_a_rename_removes_the_managed_file(config: Config) -> None:
    moved = ChangedFile("env/prod/values-old.yaml", "renamed", "x", previous_path=PROD)
    got = pr_verdict(
        config,
        base_branch="main",
        default_branch="main",
        changed=(moved,),
        base_texts={PROD: text(PROD)},
        head_texts={PROD: None},
    )
    assert got.changes == (ManagedChange("prod", PROD, ManagedChangeKind.PLACE_REMOVED),)


def test_a_new_managed_file_protects_nothing_yet(config: Config) -> None:
    got = pr_verdict(
        config,
        base_branch="main",
        default_branch="main",
        changed=(ChangedFile(PROD, "added", "x"),),
        base_texts={PROD: None},
        head_texts={PROD: text(PROD)},
    )
    assert got.passes and got.checked == (PROD,)


def test_other_branches_are_not_managed(config: Config) -> None:
    head = text(PROD).replace('tag: "1.8.0"', 'tag: "1.9.9"')
    assert verdict(config, {PROD: head}, base="release").passes


def test_failure_names_the_stage(config: Config) -> None:
    got = verdict(config, {PROD: text(PROD).replace('"1.8.0"', '"6.6.6"')})
    assert got.stages == ("prod",)
    assert "prod" in got.title()


# --------------------------------------------------------------- on a promotion PR

HOLD = Gate(GateKind.AUTO_PROMOTION, True)
WAIT = Gate(GateKind.APPROVALS, False, "0 of 2")


@pytest.mark.parametrize(
    ("gates", "result", "conclusion", "title"),
    [
        # an auto stage whose gates hold
        ([HOLD, Gate(GateKind.DELAY, True, "1h")], None, "success", "dev: every gate holds"),
        # an emergency skips approvals and conditions
        ([Gate(GateKind.EMERGENCY, True, "rollback by carol")], None, "success", None),
        # GitHub's rules are GitHub's to enforce; "a person merges" is no condition
        (
            [Gate(GateKind.MAIN_RULES, False, "1 review"), Gate(GateKind.AUTO_PROMOTION, False)],
            None,
            "success",
            None,
        ),
        # waiting for approvals: in progress, the blocking gate as the title
        ([WAIT, HOLD], ApprovalResult((), 2), None, "dev: approvals: 0 of 2"),
        # an eligible reviewer asked for changes: failure
        ([WAIT], ApprovalResult((), 2, changes_requested_by=("bob",)), "failure", None),
    ],
)
def test_promotion_check(
    gates: list[Gate], result: ApprovalResult | None, conclusion: str | None, title: str | None
) -> None:
    check = promotion_check("dev", "abc", gates, result, Observations())
    assert check is not None
    assert (check.name, check.sha, check.conclusion) == ("shunter/gate", "abc", conclusion)
    if title is not None:
        assert check.title == title


def test_promotion_check_is_not_republished() -> None:
    first = promotion_check("dev", "abc", [WAIT], ApprovalResult((), 2), Observations())
    assert first is not None
    shown = CheckRun("shunter/gate", "in_progress", None, first.title)
    seen = Observations(checks={"dev": (shown,)})
    assert promotion_check("dev", "abc", [WAIT], ApprovalResult((), 2), seen) is None
    # the same title, now complete: published again
    done = Observations(
        checks={"dev": (CheckRun("shunter/gate", "completed", "success", first.title),)}
    )
    assert promotion_check("dev", "abc", [WAIT], ApprovalResult((), 2), done) is not None


@pytest.mark.parametrize(
    ("edits", "stages"),
    [
        ({PROD: text(PROD).replace("replicaCount: 3", "replicaCount: 5")}, ()),
        ({PROD: text(PROD).replace('tag: "1.8.0"', 'tag: "1.9.9"')}, ("prod",)),
        ({DEV: text(DEV).replace('newTag: "1.8.0"', 'newTag: "2.0.0"')}, ("dev",)),
        ({DEV: text(DEV).replace("count: 1", "count: 3")}, ()),
    ],
)
def test_kargo_step_programs_manage_the_same_values(
    edits: dict[str, str | None], stages: tuple[str, ...]
) -> None:
    # The same pipeline written as Kargo 1.x steps (a PromotionTask with
    # kustomize-set-image and yaml-update): the program itself finds the places.
    steps = load_config_dir(EXAMPLE / "kargo-steps")
    assert verdict(steps, edits).stages == stages

from __future__ import annotations

import pytest

from bot.core.decide.inconsistency import (
    Inconsistency,
    InconsistencyKind,
    from_records,
    to_records,
)


@pytest.mark.parametrize("kind", list(InconsistencyKind))
def test_every_kind_renders_and_keeps(kind: InconsistencyKind) -> None:
    item = Inconsistency(kind, stage="prod", freight="ab12cd (1.8.4)", pr=7, detail="x")
    text = item.render()
    assert text.startswith("prod: ") and "{" not in text
    assert item.to_dict()["kind"] == kind.value


def test_empty_fields_are_left_out() -> None:
    assert Inconsistency(InconsistencyKind.REQUEST, stage="prod").to_dict() == {
        "kind": "request",
        "stage": "prod",
    }


def test_kept_and_read_back() -> None:
    items = [
        Inconsistency(InconsistencyKind.PROMOTION_PR, stage="prod", pr=9, detail="mallory"),
        Inconsistency(InconsistencyKind.DIGEST, stage="dev", freight="x", detail="r:1"),
    ]
    records = to_records(items)
    assert sorted(from_records(records), key=str) == sorted(items, key=str)
    assert from_records([{"kind": "nonsense"}, "x", {"kind": "request", "pr": "7"}]) == [
        Inconsistency(InconsistencyKind.REQUEST)
    ]
    assert from_records(None) == []

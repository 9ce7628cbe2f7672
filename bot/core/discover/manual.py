"""Freight a person asks for (``shunter create freight``). Pure.

Kargo's ``freightCreationPolicy: Manual`` leaves discovery looking but makes freight only
when someone asks; Shunter's ask is ``shunter create freight --warehouse W [--image
REPO:TAG ...]``. The images named are exactly the freight's images for the subscriptions
they belong to; a subscription no image is named for takes what discovery selects, as
every freight holds one artifact per subscription (DESIGN.md, Freight). Looking the named
tags up in the registry is the caller's part: this module only matches names to
subscriptions and records the result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bot.core.decide.actions import freight_label
from bot.core.decide.outcomes import Change, ChangeKind, Subject
from bot.core.discover.artifacts import Artifact
from bot.core.discover.freight import freight_of
from bot.core.ledger import FreightRecord, Ledger, OperationRecord
from bot.core.model import ImageSubscription, Warehouse

__all__ = ["CREATE_FREIGHT", "ImageRef", "assign_images", "create_freight", "parse_image_ref"]

#: The audit log's name for the operation (``operations.yaml``).
CREATE_FREIGHT: Final = "create-freight"

# REPO:TAG, where the tag is what follows the last ':' after the last '/' (a registry's
# host may carry a port: ``localhost:5000/app:1.2.3``). Tag grammar: OCI distribution
# spec, "Pulling manifests" (https://github.com/opencontainers/distribution-spec).
_REF: Final = re.compile(r"(?P<repo>[^\s@]+?):(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127})")


@dataclass(frozen=True)
class ImageRef:
    """One ``--image REPO:TAG`` as typed: an image repository and a tag in it."""

    repo_url: str
    tag: str


def parse_image_ref(text: str) -> ImageRef:
    """Return the ``ImageRef`` of ``REPO:TAG``; raise ``ValueError`` saying what to write."""
    m = _REF.fullmatch(text.strip())
    if m is None or "/" in m["tag"]:
        raise ValueError(f"--image {text!r} is not REPO:TAG; write it as ghcr.io/owner/app:1.2.3")
    return ImageRef(m["repo"], m["tag"])


def assign_images(
    warehouse: Warehouse, refs: Sequence[ImageRef]
) -> dict[int, tuple[ImageSubscription, ImageRef]]:
    """Match each named image to the warehouse's image subscription of its repository.

    Returns ``{index of the subscription in warehouse.subscriptions: (it, the ref)}``. A
    warehouse that watches one repository twice takes its named tags in config order.
    Raises ``ValueError`` for an image no subscription watches, or one named more often
    than its repository is subscribed.
    """
    out: dict[int, tuple[ImageSubscription, ImageRef]] = {}
    for ref in refs:
        free = [
            i
            for i, sub in enumerate(warehouse.subscriptions)
            if isinstance(sub, ImageSubscription) and sub.repo_url == ref.repo_url and i not in out
        ]
        if not free:
            watched = [
                s.repo_url for s in warehouse.subscriptions if isinstance(s, ImageSubscription)
            ]
            if ref.repo_url in watched:
                raise ValueError(
                    f"--image {ref.repo_url}:{ref.tag}: warehouse {warehouse.name} holds one "
                    f"image of {ref.repo_url} per freight; name it once"
                )
            raise ValueError(
                f"--image {ref.repo_url}:{ref.tag}: warehouse {warehouse.name} does not watch "
                f"{ref.repo_url} (it watches: {', '.join(watched) or 'no images'})"
            )
        sub = warehouse.subscriptions[free[0]]
        assert isinstance(sub, ImageSubscription)
        out[free[0]] = (sub, ref)
    return out


def create_freight(
    ledger: Ledger,
    warehouse: str,
    artifacts: Sequence[Artifact],
    *,
    by: str,
    reason: str,
    now: datetime,
) -> list[Change]:
    """Record freight of exactly ``artifacts`` from ``warehouse`` in ``ledger``, and the
    operation in its audit log (who, when, which freight, why); return the change.

    Freight the ledger already holds is not made twice: the operation is still recorded
    (someone asked), and the change names the existing freight. ``ledger`` is modified.
    """
    taken = {r.freight.alias for r in ledger.freight.values()}
    f = freight_of(warehouse, artifacts, discovered_at=now, taken_aliases=taken)
    known = ledger.freight.get(f.name)
    if known is None:
        ledger.freight[f.name] = FreightRecord(freight=f)
        ledger.warehouse(warehouse).last_freight_at = now
    else:
        f = known.freight
    ledger.operations.append(
        OperationRecord(CREATE_FREIGHT, "", by, reason, now, freight=f.name, warehouse=warehouse)
    )
    return [
        Change(
            Subject.warehouse(warehouse),
            ChangeKind.FREIGHT_CREATED,
            freight=freight_label(f),
            by=by,
            detail=reason,
        )
    ]

"""Artifact values that discovery produces and freight is made of.

Field names follow Kargo's Freight (``repoURL``, ``tag``, ``digest``, ...) so that the
JSON output of ``shunter get freight -o json`` reads like Kargo's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, order=True)
class Image:
    """One container image: the repository, the tag discovery selected, and the digest the
    tag pointed at then (freight pins the digest, so a re-pushed tag is new freight)."""

    repo_url: str  # "ghcr.io/alkon/flask-app"
    tag: str  # "1.8.4"
    digest: str  # "sha256:..."
    # The image's build date, kept when a NewestBuild subscription read it: that order
    # is the build date's, not the tag's. Not part of the identity (nor of equality).
    built: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class Chart:
    """One Helm chart version from a chart repository (``repo_url``: its URL, or an
    ``oci://`` reference)."""

    repo_url: str
    name: str
    version: str


@dataclass(frozen=True, order=True)
class Commit:
    """One git commit of a subscribed repository, found on ``branch`` or as ``tag``;
    ``message`` is its subject line, for people."""

    repo_url: str
    id: str
    branch: str = ""
    tag: str = ""
    message: str = ""


Artifact = Image | Chart | Commit

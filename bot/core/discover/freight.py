"""Freight: an immutable set of artifacts, named the way Kargo names it.

Identity (Kargo-compatible): one canonical string per artifact,

* image  ``repoURL:tag@digest`` (both tag and digest, so a re-pushed mutable tag or a
  re-tagged digest each make new freight),
* chart  ``repoURL/name:version`` (``repoURL`` lower-cased without ``oci://``, joined
  and cleaned as Go's ``path.Join`` does; an OCI chart's name is already in its URL),
* commit ``repoURL:id`` or ``repoURL:tag:id`` when a tag selected it (``repoURL``
  normalised as Kargo does: ``git@host:o/r.git`` is ``ssh://git@host/o/r``),

sorted, joined with ``|``, prefixed with the origin ``Warehouse/<name>:``, and hashed
with SHA-1; the hex digest is the freight's ``name``. Kargo computes the same string
(``Freight.GenerateID`` in its API types), so a freight ID printed by Shunter is the
ID Kargo would give the same artifacts from the same warehouse.

Each freight also gets a short, pronounceable alias (``quiet-otter``) derived from the
ID, so people can say which freight they mean; collisions get a numeric suffix.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bot.core.discover.artifacts import Artifact, Chart, Commit, Image

# Kargo's own normalisation of the URLs hashed into a freight ID (akuity/kargo
# pkg/urls: NormalizeGit, NormalizeChart, NormalizeImage), so the same artifacts from
# the same warehouse get the same ID in Shunter and in Kargo.
_SCP: Final = re.compile(r"((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?")
# scheme://netloc/path?query#fragment (RFC 3986 section 3), the parts NormalizeGit reads.
_URL: Final = re.compile(r"([a-z]+)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)
_REPO_PART: Final = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def _trim_repo_path(path: str) -> str:
    path = path.removesuffix("/")
    return path.removesuffix(".git")


def normalize_git_url(url: str) -> str:
    """A git URL as Kargo writes it into a freight ID (its ``NormalizeGit``).

    Lower-cased; ``http[s]://`` keeps scheme, host and path without user info, a final
    ``/`` or ``.git``; ``ssh://`` the same with its user; scp-like
    ``[user@]host:path`` becomes ``ssh://[user@]host/path``. A URL with a query, or in
    no form Kargo knows, is returned as written.
    """
    original = url
    url = url.lower()
    parts = _URL.fullmatch(url) if url.startswith(("http://", "https://", "ssh://")) else None
    if parts is not None:
        scheme, netloc, path, query, fragment = parts.groups()
        if query:
            return original
        if scheme != "ssh":
            netloc = netloc.rsplit("@", 1)[-1]  # user info is not part of the repository
        return f"{scheme}://{netloc}{_trim_repo_path(path)}" + (f"#{fragment}" if fragment else "")
    m = _SCP.fullmatch(url)
    if m is None:
        return original
    path = _trim_repo_path((m.group(2) or "").split("?", 1)[0].split("#", 1)[0])
    return f"ssh://{m.group(1)}/{path}" if path else f"ssh://{m.group(1)}"


def _normalize_image(ref: str) -> str:
    """An image (or OCI chart) repository as Kargo's ``NormalizeImage`` writes it: Docker
    Hub's host and ``library/`` dropped, anything it cannot parse returned as written."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = "index.docker.io", ref
    if not all(_REPO_PART.fullmatch(part) for part in repository.split("/")):
        return ref
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return repository.removeprefix("library/")
    return f"{registry}/{repository}"


def is_oci_repository(url: str) -> bool:
    """Whether a chart ``repoURL`` names an OCI registry (scheme ``oci``) rather than a
    Helm HTTP repository: the chart is then the URL's last segment."""
    scheme, sep, _rest = url.strip().partition("://")
    return bool(sep) and scheme.lower() == "oci"


def normalize_chart_url(url: str) -> str:
    """A chart repository URL as Kargo's ``NormalizeChart`` writes it: trimmed,
    lower-cased, ``oci://`` dropped, then normalised as an image repository."""
    return _normalize_image(url.strip().lower().removeprefix("oci://"))


def _chart_string(chart: Chart) -> str:
    """``path.Join(NormalizeChart(repoURL), name) + ":" + version``, as Kargo hashes a
    chart. An OCI chart's name is the end of its repoURL (Kargo leaves name empty), and
    Go's ``path.Join`` cleans the result: ``https://h/c`` becomes ``https:/h/c``."""
    oci = is_oci_repository(chart.repo_url)
    parts = [normalize_chart_url(chart.repo_url)] + ([] if oci or not chart.name else [chart.name])
    return f"{posixpath.normpath('/'.join(parts))}:{chart.version}"


def canonical_artifacts(
    images: Iterable[Image] = (), charts: Iterable[Chart] = (), commits: Iterable[Commit] = ()
) -> list[str]:
    """Return the sorted canonical strings of the artifacts, as hashed into the freight ID."""
    out: list[str] = []
    for c in commits:
        repo = normalize_git_url(c.repo_url)
        out.append(f"{repo}:{c.tag}:{c.id}" if c.tag else f"{repo}:{c.id}")
    for i in images:
        out.append(f"{i.repo_url}:{i.tag}@{i.digest}")
    out.extend(_chart_string(ch) for ch in charts)
    return sorted(out)


def freight_id(
    warehouse: str,
    images: Iterable[Image] = (),
    charts: Iterable[Chart] = (),
    commits: Iterable[Commit] = (),
) -> str:
    """Return the 40-hex SHA-1 freight ID of these artifacts from ``warehouse``."""
    joined = "|".join(canonical_artifacts(images, charts, commits))
    return hashlib.sha1(
        f"Warehouse/{warehouse}:{joined}".encode(), usedforsecurity=False
    ).hexdigest()


_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "dapper", "eager",
    "fancy", "fleet", "frosty", "gentle", "giddy", "golden", "grand", "happy", "hazy", "icy",
    "jolly", "keen", "lively", "lucky", "mellow", "merry", "misty", "nimble", "noble", "plucky",
    "polite", "proud", "quick", "quiet", "rapid", "rosy", "rusty", "shiny", "silent", "sleek",
    "snappy", "solid", "sunny", "swift", "tidy", "vivid", "warm", "witty", "zany", "zesty",
)  # fmt: skip
_NOUNS = (
    "badger", "beaver", "bison", "cobra", "condor", "coyote", "crane", "dingo", "dolphin", "eagle",
    "falcon", "ferret", "finch", "gecko", "gopher", "heron", "husky", "ibis", "jackal", "koala",
    "lemur", "lynx", "magpie", "marmot", "mole", "moose", "newt", "ocelot", "orca", "otter",
    "owl", "panda", "pelican", "puffin", "quail", "raven", "robin", "salmon", "seal", "shrew",
    "sparrow", "stork", "tapir", "tiger", "toucan", "turtle", "walrus", "weasel", "wombat", "yak",
)  # fmt: skip


def alias_for(freight_name: str, taken: Iterable[str] = ()) -> str:
    """Return a short alias for ``freight_name`` that is not in ``taken``.

    The alias depends only on the ID and on which aliases are taken, so two runs that see
    the same ledger agree on it.
    """
    n = int(freight_name[:12], 16) if freight_name else 0
    base = f"{_ADJECTIVES[n % len(_ADJECTIVES)]}-{_NOUNS[(n // len(_ADJECTIVES)) % len(_NOUNS)]}"
    used = set(taken)
    if base not in used:
        return base
    suffix = 2
    while f"{base}-{suffix}" in used:
        suffix += 1
    return f"{base}-{suffix}"


@dataclass(frozen=True)
class Freight:
    """One piece of freight as the ledger keeps it (verification facts live in the ledger)."""

    name: str  # the ID
    alias: str
    warehouse: str
    images: tuple[Image, ...] = ()
    charts: tuple[Chart, ...] = ()
    commits: tuple[Commit, ...] = ()
    discovered_at: datetime | None = None

    def summary(self) -> str:
        """Human label: the versions it carries, e.g. ``1.8.4`` or ``1.8.4 + chart 1.0.9``."""
        parts = [i.tag for i in self.images]
        parts += [f"chart {c.version}" for c in self.charts]
        parts += [f"commit {c.tag or c.id[:7]}" for c in self.commits]
        return " + ".join(parts) or self.name[:7]

    def image(self, repo_url: str | None = None) -> Image | None:
        """The image of ``repo_url`` (or the only/first image when ``None``)."""
        for i in self.images:
            if repo_url is None or i.repo_url == repo_url:
                return i
        return None


def make_freight(
    warehouse: str,
    *,
    images: Sequence[Image] = (),
    charts: Sequence[Chart] = (),
    commits: Sequence[Commit] = (),
    discovered_at: datetime | None = None,
    taken_aliases: Iterable[str] = (),
) -> Freight:
    """Build freight with its ID and an alias not in ``taken_aliases``."""
    name = freight_id(warehouse, images, charts, commits)
    return Freight(
        name=name,
        alias=alias_for(name, taken_aliases),
        warehouse=warehouse,
        images=tuple(sorted(images)),
        charts=tuple(sorted(charts)),
        commits=tuple(sorted(commits)),
        discovered_at=discovered_at,
    )


def freight_of(
    warehouse: str,
    artifacts: Iterable[Artifact],
    *,
    discovered_at: datetime | None = None,
    taken_aliases: Iterable[str] = (),
) -> Freight:
    """:func:`make_freight` of a mixed list of artifacts, sorted out by kind."""
    got = list(artifacts)
    return make_freight(
        warehouse,
        images=[a for a in got if isinstance(a, Image)],
        charts=[a for a in got if isinstance(a, Chart)],
        commits=[a for a in got if isinstance(a, Commit)],
        discovered_at=discovered_at,
        taken_aliases=taken_aliases,
    )

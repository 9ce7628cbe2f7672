"""Which repository a git URL names, in every spelling a Kargo config uses.

A ``git-clone`` step names the GitOps repository by URL; Shunter works only in the
repository it runs in, so a run compares the two by what they name, not how they are
written: ``https://github.com/alkon/gitops``, ``https://github.com/alkon/gitops.git``,
``git@github.com:alkon/gitops.git`` and ``ssh://git@github.com/alkon/gitops`` all
name ``alkon/gitops`` on ``github.com``. GitHub's owner and repository names are
case-insensitive (https://docs.github.com/en/repositories/creating-and-managing-repositories/about-repositories),
so the comparison is too.
"""

from __future__ import annotations

import re
from typing import Final

_FORMS: Final = (
    # https://host[:port]/owner/name[.git][/]  (and http://, git://)
    re.compile(r"(?:https?|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>[^?#]+?)/?"),
    # ssh://[user@]host[:port]/owner/name[.git]
    re.compile(r"ssh://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>[^?#]+?)/?"),
    # scp-like: [user@]host:owner/name[.git]
    re.compile(r"(?:[^@/]+@)?(?P<host>[^/:]+):(?P<path>[^/][^?#]*?)/?"),
)


def repository_of(url: str) -> tuple[str, str] | None:
    """``(host, owner/name)`` named by a git URL, lower-cased; ``None`` if it names none."""
    for form in _FORMS:
        m = form.fullmatch(url.strip())
        if m is None:
            continue
        path = m.group("path")
        if path.endswith(".git"):
            path = path[:-4]
        if path.count("/") != 1 or not all(path.split("/")):
            return None
        return m.group("host").lower(), path.lower()
    return None


def same_repository(a: str, b: str) -> bool:
    """Whether two git URLs name the same repository (any spelling)."""
    ra, rb = repository_of(a), repository_of(b)
    return ra is not None and ra == rb


def names_repository(url: str, repository: str, server_url: str = "https://github.com") -> bool:
    """Whether ``url`` names ``repository`` (``owner/name``) on the ``server_url`` host.

    ``server_url`` is what GitHub Actions sets as ``GITHUB_SERVER_URL`` (GitHub
    Enterprise Server has its own host).
    """
    found = repository_of(url)
    server = repository_of(server_url.rstrip("/") + "/x/y")
    if found is None or server is None:
        return False
    return found == (server[0], repository.lower())

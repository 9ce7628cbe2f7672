"""CODEOWNERS: who owns a path, as GitHub reads the file.

GitHub looks for the file in ``.github/``, the repository root, then ``docs/`` (the first
found wins); each line is a pattern followed by owners (``@user``, ``@org/team`` or an
e-mail address); for a path, the **last** matching line decides, and a line with no
owners leaves the path unowned. Patterns follow ``.gitignore`` rules, except that ``!``,
``[ ]`` and a leading ``\\#`` escape are not supported (such lines never match).
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CODEOWNERS_PATHS", "CodeOwners", "parse_codeowners"]

#: Where GitHub looks for the file, in the order it looks.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class CodeOwners:
    """Parsed rules, in file order: (compiled pattern, the pattern as written, owners)."""

    rules: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = ()

    def owners(self, path: str) -> tuple[str, ...]:
        """Owners of ``path`` (relative to the repository root, ``/``-separated) as written:
        ``@alice``, ``@org/team`` or an e-mail. Empty: nobody owns it."""
        for regex, _pattern, owners in reversed(self.rules):
            if regex.match(path.lstrip("/")):
                return owners
        return ()

    def teams(self) -> tuple[str, ...]:
        """Every team named as an owner, as ``org/slug``."""
        out = [o[1:] for _r, _p, owners in self.rules for o in owners if o[:1] == "@" and "/" in o]
        return tuple(dict.fromkeys(out))

    def pattern(self, path: str) -> str | None:
        """The pattern as written that decides ``path``, or ``None``."""
        for regex, pattern, _owners in reversed(self.rules):
            if regex.match(path.lstrip("/")):
                return pattern
        return None


def parse_codeowners(text: str) -> CodeOwners:
    """Parse a CODEOWNERS file; lines GitHub would not understand are skipped (GitHub
    itself marks them as errors in its UI and ignores them)."""
    rules = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        regex = _compile(pattern)
        if regex is None:
            continue
        rules.append((regex, pattern, tuple(owners)))
    return CodeOwners(tuple(rules))


def _compile(pattern: str) -> re.Pattern[str] | None:
    if pattern.startswith("!") or "[" in pattern or pattern.startswith("\\"):
        return None
    # A slash at the start or in the middle anchors the pattern to the root; otherwise
    # it matches at any depth (.gitignore's rule).
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # ``docs/*`` owns the files directly in docs/ only; any other pattern naming a
    # folder owns everything below it.
    suffix = "" if pattern.endswith("/*") else "(?:/.*)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$")

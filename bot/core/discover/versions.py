"""Versions, version constraints and tag selection: what a warehouse picks from a registry.

Constraints follow the syntax Kargo takes from Masterminds/semver
(https://github.com/Masterminds/semver#checking-version-constraints), so a
``semverConstraint`` copied from a Kargo Warehouse means the same thing here:

* comparisons ``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=`` (also ``=>`` / ``=<``), a bare
  version meaning ``=``; an optional space between operator and version;
* AND by spaces or commas (``>=1.2.0 <2.0.0``, ``>=1.2.0, <2.0.0``), OR by ``||``;
* ``~1.2.3`` (``>=1.2.3 <1.3.0``), ``~1.2`` (``>=1.2.0 <1.3.0``), ``~1`` (``>=1.0.0 <2.0.0``),
  ``~>`` as a synonym of ``~``;
* ``^1.2.3`` (``>=1.2.3 <2.0.0``), ``^0.2.3`` (``>=0.2.3 <0.3.0``), ``^0.0.3``
  (``>=0.0.3 <0.0.4``), ``^0.0`` (``<0.1.0``), ``^0`` (``<1.0.0``);
* wildcards ``x``, ``X``, ``*`` and partial versions (``1.2.x``, ``1.2`` and ``=1.2`` all
  mean ``>=1.2.0 <1.3.0``; ``>1.2`` means ``>=1.3.0``; ``<=1.2`` means ``<1.3.0``);
* hyphen ranges ``1.2 - 1.4.5`` (``>=1.2.0 <=1.4.5``; a partial upper end is inclusive of
  its whole range, so ``1.2 - 1.4`` is ``>=1.2.0 <1.5.0``);
* an optional ``v`` prefix on every version.

The pre-release rule is Masterminds': a pre-release version (``1.9.1-rc.1``) satisfies a
comparison only when that comparison itself names a pre-release, so ``>=1.9.0-0 <2.0.0``
admits no pre-release at all (``<2.0.0`` names none) while ``>=1.9.0-0 <2.0.0-0`` does.
Unlike Masterminds, the rule applies to ``!=`` as well, so every kind of comparison
treats pre-releases the same way. With no constraint at all (``None`` or blank text),
pre-releases are eligible: that is what Kargo does when ``semverConstraint`` is unset.

Build metadata (``+build``) never changes precedence (SemVer 2.0.0, item 10).

Speed: a registry may hold tens of thousands of tags and every scheduled run selects
from them, so selection never compares ``semver.Version`` objects. Each tag is read once
into a precedence key (:func:`precedence_key`), a plain tuple that orders exactly as
``semver.Version.compare`` does; constraint bounds carry the same keys, and parsed
constraints and compiled tag regexes are cached (both are immutable).
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import semver

from bot.core.errors import ConstraintError
from bot.core.model import ImageSubscription

__all__ = [
    "Constraint",
    "parse_constraint",
    "parse_tag",
    "precedence_key",
    "select_tags",
    "tag_is_safe",
]

# The OCI distribution spec's tag grammar
# (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests):
# a tag is at most 128 characters of [A-Za-z0-9_.-] and does not start with '.' or '-'.
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

_HOW_TO = (
    'write comparisons such as ">=1.2.0 <2.0.0", "~1.2", "^1.2.3", "1.2.x" or "1.2 - 1.4.5", '
    'joined by spaces or commas (AND) or "||" (OR)'
)

# One version inside a constraint: up to three parts, each a number or a wildcard, then an
# optional pre-release and build (the identifier grammar of https://semver.org/#spec-item-9).
_PART = r"(?:\d+|[xX*])"
_IDENTS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_RE = re.compile(
    rf"v?(?P<major>{_PART})(?:\.(?P<minor>{_PART}))?(?:\.(?P<patch>{_PART}))?"
    rf"(?:-(?P<pre>{_IDENTS}))?(?:\+(?P<build>{_IDENTS}))?"
)
_OPERATORS = ("!=", ">=", "=>", "<=", "=<", "~>", "=", ">", "<", "~", "^")
_OPERATOR_RE = re.compile(r"(?:!=|>=|=>|<=|=<|~>|=|>|<|~|\^)")
# Digits beyond this are never a real version; the cap keeps int() cheap and bounded.
_MAX_DIGITS = 18

# A tag read as a version, the grammar ``semver.Version.parse`` accepts
# (https://semver.org/#backusnaur-form-grammar-for-valid-semver-versions), after one
# optional ``v``/``V``: numbers without leading zeros, pre-release identifiers numeric
# without leading zeros or alphanumeric. Groups: major, minor, patch, pre-release; the
# build is matched only so the grammar is whole (an OCI tag cannot hold a ``+``).
# ``_TAG_VERSION_LOOSE`` makes minor and patch optional, as ``strict_semvers: false``.
_NUM = r"(0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_PRE_BUILD = rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_TAG_VERSION_STRICT = re.compile(rf"[vV]?{_NUM}\.{_NUM}\.{_NUM}{_PRE_BUILD}")
_TAG_VERSION_LOOSE = re.compile(rf"[vV]?{_NUM}(?:\.{_NUM}(?:\.{_NUM})?)?{_PRE_BUILD}")

# A version's place in precedence (https://semver.org/#spec-item-11) as a tuple that
# Python compares directly: (major, minor, patch, pre-release identifiers). Each
# identifier is (0, digit count, digits) when numeric, so numbers compare by value
# without int() (any length) and sort below every alphanumeric identifier, (1, 0, text),
# which compares in ASCII order. A shorter list of equal identifiers comes first, and a
# release, ``_RELEASE``, sorts above every pre-release of the same version.
_Ident = tuple[int, int, str]
_PreKey = tuple[_Ident, ...]
_Key = tuple[int, int, int, _PreKey]
_RELEASE: _PreKey = ((2, 0, ""),)


@functools.lru_cache(maxsize=4096)
def _prerelease_key(prerelease: str) -> _PreKey:
    # Cached: real tag lists repeat a handful of pre-releases ("rc.1", "beta.2", ...).
    idents: list[_Ident] = []
    for ident in prerelease.split("."):
        if not ident.isdigit():
            idents.append((1, 0, ident))
            continue
        if not ident.isascii():  # other scripts' digits: semver reads them as numbers too
            ident = str(int(ident))
        digits = ident.lstrip("0") or "0"  # "01" is 1, as semver compares it
        idents.append((0, len(digits), digits))
    return tuple(idents)


def precedence_key(version: semver.Version) -> _Key:
    """Return a tuple that orders versions exactly as ``semver.Version.compare`` does.

    ``precedence_key(a) < precedence_key(b)`` exactly when ``a.compare(b) < 0``, and the
    keys are equal exactly when ``compare`` returns 0 (build metadata is ignored). Sort
    or compare many versions by these keys: a tuple comparison is many times cheaper
    than ``compare``. Never raises for a ``semver.Version``.
    """
    pre = version.prerelease
    return (
        version.major,
        version.minor,
        version.patch,
        _prerelease_key(pre) if pre else _RELEASE,
    )


@dataclass(frozen=True)
class _Partial:
    """A version as written in a constraint: ``None`` parts were a wildcard or left out."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: str | None

    def floor(self) -> semver.Version:
        """The lowest release the written parts admit (``1.2`` -> ``1.2.0``)."""
        return semver.Version(
            self.major or 0, self.minor or 0, self.patch or 0, prerelease=self.prerelease
        )

    def ceiling(self) -> semver.Version | None:
        """The lowest version past the written range (``1.2`` -> ``1.3.0-0``); ``None``: none.

        ``-0`` is the lowest possible pre-release of a version, so an exclusive bound at
        ``X.Y.Z-0`` keeps even pre-releases of ``X.Y.Z`` out of the range.
        """
        if self.major is None:
            return None
        if self.minor is None:
            return semver.Version(self.major + 1, 0, 0, prerelease="0")
        if self.patch is None:
            return semver.Version(self.major, self.minor + 1, 0, prerelease="0")
        return None  # a full version: callers handle it themselves


@dataclass(frozen=True)
class _Comparator:
    """One comparison, reduced to an interval (``low``/``high`` ``None``: unbounded).

    ``negate`` turns "inside the interval" into "outside" (``!=``, and the empty
    comparisons ``>*``/``<*``, which are "not anything").
    """

    low: semver.Version | None = None
    low_inclusive: bool = True
    high: semver.Version | None = None
    high_inclusive: bool = False
    negate: bool = False
    names_prerelease: bool = False
    # The bounds' precedence keys, computed once: every check compares tuples.
    _low_key: _Key | None = field(init=False, default=None, repr=False, compare=False)
    _high_key: _Key | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.low is not None:
            object.__setattr__(self, "_low_key", precedence_key(self.low))
        if self.high is not None:
            object.__setattr__(self, "_high_key", precedence_key(self.high))

    def allows_key(self, key: _Key, prerelease: bool) -> bool:
        """Whether the version of precedence ``key`` (a pre-release if ``prerelease``)
        is inside; the same answer ``compare`` against the bounds would give."""
        if prerelease and not self.names_prerelease:
            return False
        low, high = self._low_key, self._high_key
        inside = low is None or (key >= low if self.low_inclusive else key > low)
        if inside and high is not None:
            inside = key <= high if self.high_inclusive else key < high
        return inside != self.negate


@dataclass(frozen=True)
class Constraint:
    """A parsed version constraint. Build one with :func:`parse_constraint`.

    ``text`` is what the user wrote; two constraints are equal when their text is.
    """

    text: str
    # OR of ANDs; ``None`` means no constraint at all (every version, pre-releases too).
    _groups: tuple[tuple[_Comparator, ...], ...] | None = field(
        default=None, repr=False, compare=False
    )

    def allows(self, version: semver.Version) -> bool:
        """Return whether ``version`` satisfies the constraint (see the module docstring)."""
        if self._groups is None:
            return True
        return self._allows_key(precedence_key(version), bool(version.prerelease))

    def _allows_key(self, key: _Key, prerelease: bool) -> bool:
        # Plain loops rather than any()/all() over generators: this runs once per tag.
        groups = self._groups
        if groups is None:
            return True
        for group in groups:
            for comparator in group:
                if not comparator.allows_key(key, prerelease):
                    break
            else:
                return True
        return False


def _error(text: str, what: str) -> ConstraintError:
    return ConstraintError(f"invalid version constraint {text!r}: {what}; {_HOW_TO}")


def _part(raw: str | None, text: str) -> int | None:
    if raw is None or raw in ("x", "X", "*"):
        return None
    if len(raw) > _MAX_DIGITS:
        raise _error(text, f"the number {raw[:20]}... is too large to be a version part")
    return int(raw)


def _parse_version(raw: str, text: str) -> _Partial:
    m = _VERSION_RE.fullmatch(raw)
    if m is None:
        raise _error(text, f"{raw!r} is not a version")
    major = _part(m["major"], text)
    # Everything after the first wildcard is a wildcard too (``1.x.3`` is ``1.x``), which
    # is how Masterminds reads it.
    minor = None if major is None else _part(m["minor"], text)
    patch = None if minor is None else _part(m["patch"], text)
    pre = m["pre"]
    if pre is not None:
        if major is None or (m["minor"] is not None and minor is None):
            raise _error(text, f"{raw!r} puts a pre-release on a wildcard")
        # A pre-release pins an exact version: fill the parts left out with zeros.
        minor, patch = minor or 0, patch or 0
    return _Partial(major, minor, patch, pre)


def _is_full(p: _Partial) -> bool:
    return p.patch is not None


def _comparator(op: str, p: _Partial) -> _Comparator:
    """Reduce ``op p`` to an interval (the translation table is in the module docstring)."""
    pre = p.prerelease is not None
    floor = p.floor()
    if op in ("", "="):
        if _is_full(p):
            return _Comparator(floor, True, floor, True, names_prerelease=pre)
        return _Comparator(floor, True, p.ceiling(), False, names_prerelease=pre)
    if op == "!=":
        eq = _comparator("=", p)
        return _Comparator(eq.low, True, eq.high, eq.high_inclusive, True, pre)
    if op == ">":
        if p.major is None:
            return _Comparator(negate=True)  # nothing is greater than every version
        if _is_full(p):
            return _Comparator(floor, False, names_prerelease=pre)
        return _Comparator(p.ceiling(), True, names_prerelease=pre)
    if op == ">=":
        return _Comparator(floor, True, names_prerelease=pre)
    if op == "<":
        if p.major is None:
            return _Comparator(negate=True)
        return _Comparator(high=floor, high_inclusive=False, names_prerelease=pre)
    if op == "<=":
        if _is_full(p):
            return _Comparator(high=floor, high_inclusive=True, names_prerelease=pre)
        return _Comparator(high=p.ceiling(), high_inclusive=False, names_prerelease=pre)
    if op == "~":
        if p.major is None:
            return _Comparator(names_prerelease=pre)
        minor_ceiling = (
            semver.Version(p.major + 1, 0, 0, prerelease="0")
            if p.minor is None
            else semver.Version(p.major, p.minor + 1, 0, prerelease="0")
        )
        return _Comparator(floor, True, minor_ceiling, False, names_prerelease=pre)
    # "^": the leftmost non-zero part written may not change.
    if p.major is None:
        return _Comparator(names_prerelease=pre)
    if p.major > 0 or p.minor is None:
        high = semver.Version(p.major + 1, 0, 0, prerelease="0")
    elif p.minor > 0 or p.patch is None:
        high = semver.Version(0, p.minor + 1, 0, prerelease="0")
    else:
        high = semver.Version(0, 0, p.patch + 1, prerelease="0")
    return _Comparator(floor, True, high, False, names_prerelease=pre)


def _split_operator(token: str) -> tuple[str, str]:
    m = _OPERATOR_RE.match(token)
    if m is None:
        return "", token
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(m.group(), m.group())
    return op, token[m.end() :]


def _parse_group(alternative: str, text: str) -> tuple[_Comparator, ...]:
    tokens = alternative.replace(",", " ").split()
    if not tokens:
        raise _error(text, 'an alternative around "||" is empty')
    # An operator written apart from its version (">= 1.2") belongs to the next token.
    joined: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _OPERATORS:
            if i + 1 >= len(tokens) or tokens[i + 1] == "-":
                raise _error(text, f"the operator {tok!r} has no version after it")
            if _split_operator(tokens[i + 1])[0]:
                raise _error(text, f"the operator {tok!r} is followed by another operator")
            tok += tokens[i + 1]
            i += 1
        joined.append(tok)
        i += 1
    comparators: list[_Comparator] = []
    i = 0
    while i < len(joined):
        tok = joined[i]
        if i + 1 < len(joined) and joined[i + 1] == "-":
            # A hyphen range "A - B": both ends bare versions.
            if i + 2 >= len(joined):
                raise _error(text, f"the range starting at {tok!r} has no upper end")
            upper = joined[i + 2]
            for end in (tok, upper):
                if _split_operator(end)[0]:
                    raise _error(text, f"the range end {end!r} may not carry an operator")
            comparators.append(_comparator(">=", _parse_version(tok, text)))
            comparators.append(_comparator("<=", _parse_version(upper, text)))
            i += 3
            continue
        if tok == "-":
            raise _error(text, 'a "-" range needs a version on each side, with spaces around it')
        op, raw = _split_operator(tok)
        if not raw:
            raise _error(text, f"the operator {op!r} has no version after it")
        comparators.append(_comparator(op, _parse_version(raw, text)))
        i += 1
    return tuple(comparators)


def parse_constraint(text: str) -> Constraint:
    """Parse a Masterminds/semver constraint (the syntax is in the module docstring).

    Blank text means no constraint: every version is allowed, pre-releases included.

    Returns a :class:`Constraint`. Raises ``ConstraintError`` whose message quotes the
    constraint, says what is wrong with it and shows how to write one.
    """
    if not isinstance(text, str):
        raise ConstraintError(f"a version constraint must be text, not {type(text).__name__}")
    return _parse_constraint(text)


@functools.lru_cache(maxsize=256)
def _parse_constraint(text: str) -> Constraint:
    # Cached: a Constraint is immutable, and each run re-reads the same few constraints
    # for every subscription (errors are raised afresh each time: lru_cache keeps none).
    if not text.strip():
        return Constraint(text)
    groups = tuple(_parse_group(alt, text) for alt in text.split("||"))
    return Constraint(text, groups)


def parse_tag(tag: str, *, strict: bool = True) -> semver.Version | None:
    """Read a tag as a semantic version, or return ``None`` if it is not one.

    One leading ``v`` is allowed (``v1.2.3``). ``strict`` accepts only
    ``MAJOR.MINOR.PATCH`` with an optional pre-release and build (https://semver.org);
    non-strict also accepts ``1`` and ``1.2``, read as ``1.0.0`` and ``1.2.0``.
    Never raises.
    """
    if not tag_is_safe(tag):
        return None
    body = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(body, optional_minor_and_patch=not strict)
    except (ValueError, TypeError):
        return None


def tag_is_safe(tag: str) -> bool:
    """Return whether ``tag`` fits the OCI tag grammar ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``.

    Tags are written into file names, branch names, commit messages and shell-adjacent
    YAML, so anything else (newlines, ``/``, ``$(...)``, very long names) is never selected.
    See https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
    """
    return isinstance(tag, str) and _TAG_RE.fullmatch(tag) is not None


@functools.lru_cache(maxsize=256)
def _compile(patterns: tuple[str, ...], key: str) -> tuple[re.Pattern[str], ...]:
    # Cached by the patterns themselves (re's own cache holds only 512 of them, shared
    # with every other regex in the process).
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise ConstraintError(
                f"{key}: {p!r} is not a valid regular expression: {exc}"
            ) from None
    return tuple(compiled)


def select_tags(tags: Iterable[str], sub: ImageSubscription) -> list[str]:
    """Return the subscription's candidate tags, best first.

    Filters first: tags that fail :func:`tag_is_safe` are dropped; if ``allow_tags``
    is set, a tag must match at least one of its regexes (searched anywhere in the tag,
    as Go's ``regexp.MatchString`` does); a tag listed in ``ignore_tags`` or matching one
    of ``ignore_tags_regexes`` is dropped even when allowed. Duplicates are dropped.

    Then, by ``sub.strategy``:

    * ``SemVer``: only tags that parse as versions (``strict_semvers`` decides whether
      ``1.2`` counts) and satisfy ``semver_constraint``, newest (highest precedence)
      first; tags of equal precedence (``v1.2.3`` and ``1.2.3``) in reverse lexical order.
    * ``Lexical``: reverse lexical order. ``semver_constraint`` is ignored, as in Kargo,
      where the constraint only applies to SemVer selection; use ``allow_tags`` instead.
    * ``Digest``: the constraint names the one tag to follow (``latest``); the result is
      that tag if it is listed (and passes the filters), else nothing. Without a
      constraint, the filtered tags in lexical order.
    * ``NewestBuild``: needs each image's build date from the registry, which this pure
      function does not have. It returns every filtered tag in lexical order, NOT cut to
      ``discovery_limit``: the caller orders them by build date and cuts afterwards.

    At most ``sub.discovery_limit`` tags are returned (except for ``NewestBuild``).
    Raises ``ConstraintError`` if the constraint or a regex does not parse (config validation
    reports those first).
    """
    allow = _compile(tuple(sub.allow_tags), "allowTags")
    ignore_re = _compile(tuple(sub.ignore_tags_regexes), "ignoreTagsRegexes")
    ignore = set(sub.ignore_tags)
    safe = _TAG_RE.fullmatch  # tag_is_safe, inlined: this loop runs once per tag
    seen: set[str] = set()
    kept: list[str] = []
    for tag in tags:
        if tag in seen or not isinstance(tag, str) or safe(tag) is None:
            continue
        seen.add(tag)
        if allow and not any(r.search(tag) for r in allow):
            continue
        if tag in ignore or (ignore_re and any(r.search(tag) for r in ignore_re)):
            continue
        kept.append(tag)

    limit = max(sub.discovery_limit, 0)
    if sub.strategy == "SemVer":
        constraint = parse_constraint(sub.semver_constraint or "")
        read = (_TAG_VERSION_STRICT if sub.strict_semvers else _TAG_VERSION_LOOSE).fullmatch
        allows = constraint._allows_key
        versioned: list[tuple[_Key, str]] = []
        for tag in kept:
            # What parse_tag reads, straight into a precedence key: no Version objects.
            m = read(tag)
            if m is None:
                continue
            major, minor, patch, pre = m.groups()
            key = (
                int(major),
                int(minor) if minor else 0,
                int(patch) if patch else 0,
                _prerelease_key(pre) if pre else _RELEASE,
            )
            if allows(key, pre is not None):
                versioned.append((key, tag))
        # Newest first, equal precedence by tag text descending; (key, tag) pairs are
        # unique (tags are), so only the best ``limit`` need ordering.
        return [tag for _, tag in heapq.nlargest(limit, versioned)]
    if sub.strategy == "Lexical":
        return sorted(kept, reverse=True)[:limit]
    if sub.strategy == "Digest" and sub.semver_constraint:
        return [t for t in kept if t == sub.semver_constraint][:limit]
    if sub.strategy == "Digest":
        return sorted(kept)[:limit]
    return sorted(kept)

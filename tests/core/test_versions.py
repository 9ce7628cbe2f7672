from __future__ import annotations

import contextlib
import functools
import itertools

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from bot.core.discover.versions import parse_constraint, parse_tag, select_tags, tag_is_safe
from bot.core.model import ImageSubscription

V = semver.Version.parse


# ------------------------------------------------------------------ constraint grammar


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        ("=1.2.3", ["1.2.3", "1.2.3+build.7"], ["1.2.4", "1.2.2"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("v1.2.3", ["1.2.3"], ["1.2.4"]),
        ("!=1.2.3", ["1.2.4", "0.1.0"], ["1.2.3"]),
        (">1.2.3", ["1.2.4", "2.0.0"], ["1.2.3", "1.0.0"]),
        ("<1.2.3", ["1.2.2", "0.0.1"], ["1.2.3", "1.3.0"]),
        (">=1.2.3", ["1.2.3", "9.0.0"], ["1.2.2"]),
        ("=>1.2.3", ["1.2.3"], ["1.2.2"]),
        ("<=1.2.3", ["1.2.3", "1.0.0"], ["1.2.4"]),
        ("=<1.2.3", ["1.2.3"], ["1.2.4"]),
        (">= 1.2.3", ["1.2.3"], ["1.2.2"]),
        (">=1.2.0 <2.0.0", ["1.2.0", "1.9.9"], ["2.0.0", "1.1.9"]),
        (">=1.2.0, <2.0.0", ["1.5.0"], ["2.0.0"]),
        (">=1.2.0,<2.0.0", ["1.5.0"], ["2.1.0"]),
        ("<1.0.0 || >=2.0.0", ["0.9.0", "2.0.0", "3.1.0"], ["1.0.0", "1.9.9"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
        ("~>1.2.3", ["1.2.9"], ["1.3.0"]),
        ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0", "1.1.0"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0", "0.9.0"]),
        ("~*", ["0.0.0", "7.0.0"], []),
        ("^1.2.3", ["1.2.3", "1.9.0"], ["2.0.0", "1.2.2"]),
        ("^1.2", ["1.2.0", "1.99.0"], ["2.0.0", "1.1.0"]),
        ("^1", ["1.0.0"], ["2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
        ("^0.2", ["0.2.0"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
        ("^0.0", ["0.0.9"], ["0.1.0"]),
        ("^0", ["0.9.0"], ["1.0.0"]),
        ("1.2.x", ["1.2.0", "1.2.9"], ["1.3.0"]),
        ("1.2.X", ["1.2.5"], ["1.3.0"]),
        ("1.2.*", ["1.2.5"], ["1.3.0"]),
        ("1.x", ["1.0.0", "1.9.9"], ["2.0.0"]),
        ("*", ["0.0.0", "10.0.0"], []),
        ("x", ["3.0.0"], []),
        ("1.2", ["1.2.0", "1.2.7"], ["1.3.0"]),
        ("=1.2", ["1.2.7"], ["1.3.0"]),
        (">=1.8", ["1.8.0", "1.8.4", "2.0.0"], ["1.7.9"]),
        (">1.2", ["1.3.0"], ["1.2.9"]),
        (">1", ["2.0.0"], ["1.9.9"]),
        ("<1.2", ["1.1.9"], ["1.2.0"]),
        ("<=1.2", ["1.2.9"], ["1.3.0"]),
        ("!=1.2.x", ["1.3.0", "1.1.0"], ["1.2.0", "1.2.5"]),
        (">*", [], ["0.0.0", "1.0.0"]),
        ("<*", [], ["0.0.0", "1.0.0"]),
        ("1.2 - 1.4.5", ["1.2.0", "1.4.5"], ["1.4.6", "1.1.9"]),
        ("1.2.3 - 2.3", ["1.2.3", "2.3.9"], ["2.4.0"]),
        ("1.2.3 - 2", ["2.9.9"], ["3.0.0"]),
        ("v1.2 - v1.3", ["1.3.4"], ["1.4.0"]),
        ("", ["0.0.1", "1.0.0-alpha"], []),
        ("   ", ["1.0.0"], []),
    ],
)
def test_constraint_grammar(constraint: str, allowed: list[str], refused: list[str]) -> None:
    c = parse_constraint(constraint)
    assert [v for v in allowed if not c.allows(V(v))] == []
    assert [v for v in refused if c.allows(V(v))] == []


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        # The rule: a pre-release passes a comparison only if that comparison names one.
        (">=1.9.0-0 <2.0.0", "1.9.1-rc.1", False),
        (">=1.9.0-0 <2.0.0-0", "1.9.1-rc.1", True),
        (">=1.2.0", "1.3.0-beta", False),
        (">=1.2.0-alpha", "1.3.0-beta", True),
        (">=1.2.0-alpha", "1.2.0-alpha", True),
        (">1.2.0-alpha", "1.2.0-alpha", False),
        (">=1.2.0-beta", "1.2.0-alpha", False),
        ("~1.2.3-beta", "1.2.3-beta.2", True),
        ("~1.2.3-beta", "1.3.0-alpha", False),  # outside the tilde range even as pre-release
        ("^1.2.3-beta.2", "1.2.3-beta.4", True),
        ("^1.2.3-beta.2", "2.0.0-alpha", False),
        ("1.2.x", "1.2.5-rc.1", False),
        ("*", "1.0.0-rc.1", False),
        ("!=1.2.3", "1.3.0-rc.1", False),
        ("<2.0.0", "2.0.0-rc.1", False),
        ("=1.2.3-rc.1", "1.2.3-rc.1", True),
        ("=1.2.3-rc.1", "1.2.3", False),
        ("", "1.0.0-rc.1", True),  # no constraint at all: pre-releases are eligible
        ("<1.0.0 || >=2.0.0-0", "2.1.0-rc.1", True),
    ],
)
def test_prerelease_rule(constraint: str, version: str, expected: bool) -> None:
    assert parse_constraint(constraint).allows(V(version)) is expected


@pytest.mark.parametrize(
    ("constraint", "complaint"),
    [
        ("abc", "'abc' is not a version"),
        (">=", "has no version after it"),
        (">= ", "has no version after it"),
        ("1.2.3.4", "'1.2.3.4' is not a version"),
        ("1.2 -", "has no upper end"),
        ("- 1.2", "needs a version on each side"),
        (">=1.0 - 2.0", "may not carry an operator"),
        ("||", "alternative around"),
        (">=1.0.0 ||", "alternative around"),
        ("1.x-beta", "pre-release on a wildcard"),
        ("> =1.2", "followed by another operator"),
        ("==1.2.3", "not a version"),
        ("1.2.3 | 1.2.4", "not a version"),
        ("99999999999999999999999.0.0", "too large"),
    ],
)
def test_bad_constraints_say_what_is_wrong_and_how_to_write_one(
    constraint: str, complaint: str
) -> None:
    with pytest.raises(ValueError) as info:
        parse_constraint(constraint)
    message = str(info.value)
    assert complaint in message
    assert repr(constraint) in message
    assert '">=1.2.0 <2.0.0"' in message  # the example of how to write one


def test_constraint_keeps_its_text_and_compares_by_it() -> None:
    assert parse_constraint(">=1.0.0").text == ">=1.0.0"
    assert parse_constraint("^1.2") == parse_constraint("^1.2")
    assert parse_constraint("^1.2") != parse_constraint("~1.2")


# ------------------------------------------------------------------ properties

_versions = st.builds(
    semver.Version,
    major=st.integers(0, 5),
    minor=st.integers(0, 5),
    patch=st.integers(0, 5),
    prerelease=st.one_of(st.none(), st.sampled_from(["alpha", "alpha.1", "beta", "rc.1", "0"])),
    build=st.one_of(st.none(), st.sampled_from(["b1", "exp.sha.5114f85"])),
)
_releases = st.builds(semver.Version, st.integers(0, 5), st.integers(0, 5), st.integers(0, 5))


@given(op=st.sampled_from(["=", "!=", ">", "<", ">=", "<="]), bound=_releases, v=_releases)
def test_simple_operators_agree_with_semver_comparison(
    op: str, bound: semver.Version, v: semver.Version
) -> None:
    expected = {
        "=": v.compare(bound) == 0,
        "!=": v.compare(bound) != 0,
        ">": v.compare(bound) > 0,
        "<": v.compare(bound) < 0,
        ">=": v.compare(bound) >= 0,
        "<=": v.compare(bound) <= 0,
    }[op]
    assert parse_constraint(f"{op}{bound}").allows(v) is expected


@given(op=st.sampled_from(["=", ">", "<", ">=", "<="]), bound=_versions, v=_versions)
def test_prerelease_versions_pass_only_comparisons_that_name_one(
    op: str, bound: semver.Version, v: semver.Version
) -> None:
    if v.prerelease and not bound.prerelease:
        assert not parse_constraint(f"{op}{bound}").allows(v)


@given(st.lists(_versions.map(lambda v: v.replace(build=None)), min_size=1, max_size=30))
def test_semver_selection_is_ordered_by_precedence(versions: list[semver.Version]) -> None:
    tags = [str(v) for v in versions]
    sub = ImageSubscription(repo_url="r", discovery_limit=100)
    picked = [V(t) for t in select_tags(tags, sub)]
    # Newest first, consistent with Version.compare, and nothing lost but duplicates.
    assert all(a.compare(b) >= 0 for a, b in itertools.pairwise(picked))
    assert sorted(set(map(str, picked))) == sorted(set(tags))
    expected = sorted(set(versions), key=functools.cmp_to_key(semver.Version.compare), reverse=True)
    assert [v.compare(e) for v, e in zip(picked, expected, strict=True)] == [0] * len(picked)


@given(st.text(max_size=40))
def test_parse_constraint_raises_only_value_error(text: str) -> None:
    try:
        c = parse_constraint(text)
    except ValueError:
        return
    c.allows(V("1.2.3"))
    c.allows(V("1.2.3-rc.1"))


@given(st.text(alphabet=st.sampled_from("0123456789.xX*^~<>=!|, -v+abrc"), min_size=1, max_size=25))
def test_parse_constraint_raises_only_value_error_on_near_misses(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_constraint(text).allows(V("1.2.3"))


@given(st.text(max_size=140))
def test_parse_tag_never_raises_and_only_reads_safe_tags(text: str) -> None:
    for strict in (True, False):
        version = parse_tag(text, strict=strict)
        assert version is None or tag_is_safe(text)


# ------------------------------------------------------------------ tags


@pytest.mark.parametrize(
    ("tag", "strict", "expected"),
    [
        ("1.2.3", True, "1.2.3"),
        ("v1.2.3", True, "1.2.3"),
        ("1.2.3-rc.1", True, "1.2.3-rc.1"),
        ("1.2.3+build.5", True, None),  # '+' cannot appear in an OCI tag
        ("1.2", True, None),
        ("1.2", False, "1.2.0"),
        ("1", False, "1.0.0"),
        ("v1.2", False, "1.2.0"),
        ("01.2.3", True, None),
        ("latest", True, None),
        ("latest", False, None),
        ("1.2.3.4", False, None),
        ("vv1.2.3", True, None),
        ("", True, None),
    ],
)
def test_parse_tag(tag: str, strict: bool, expected: str | None) -> None:
    version = parse_tag(tag, strict=strict)
    assert (None if version is None else str(version)) == expected


@pytest.mark.parametrize(
    ("tag", "safe"),
    [
        ("1.2.3", True),
        ("latest", True),
        ("_x", True),
        ("v1.2.3-rc.1", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (".hidden", False),
        ("-flag", False),
        ("../etc", False),
        ("a/b", False),
        ("1.2.3\n", False),
        ("1.2.3\nrm -rf /", False),
        ("$(touch pwned)", False),
        ("`id`", False),
        ("1.2.3+build", False),  # '+' is not in the OCI tag grammar
        ("tag with space", False),
        ("ünïcode", False),
    ],
)
def test_tag_is_safe(tag: str, safe: bool) -> None:
    assert tag_is_safe(tag) is safe


TAGS = ["1.7.9", "1.8.0", "1.8.4", "2.0.0", "latest", "2.1.0-rc.1", "v1.9.0", "1.10", "junk"]


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (
            ImageSubscription(repo_url="r"),
            ["2.1.0-rc.1", "2.0.0", "v1.9.0", "1.8.4", "1.8.0", "1.7.9"],
        ),
        (
            ImageSubscription(repo_url="r", semver_constraint="^1.8"),
            ["v1.9.0", "1.8.4", "1.8.0"],
        ),
        (
            ImageSubscription(repo_url="r", semver_constraint=">=1.9.0-0 <3.0.0"),
            ["2.0.0", "v1.9.0"],
        ),
        (
            ImageSubscription(repo_url="r", semver_constraint="^1.8", discovery_limit=2),
            ["v1.9.0", "1.8.4"],
        ),
        (
            ImageSubscription(repo_url="r", semver_constraint="^1", strict_semvers=False),
            ["1.10", "v1.9.0", "1.8.4", "1.8.0", "1.7.9"],
        ),
        (
            ImageSubscription(repo_url="r", allow_tags=(r"^1\.8\.",)),
            ["1.8.4", "1.8.0"],
        ),
        (
            ImageSubscription(repo_url="r", allow_tags=(r"^1\.8\.", r"^2\.")),
            ["2.1.0-rc.1", "2.0.0", "1.8.4", "1.8.0"],
        ),
        (
            ImageSubscription(repo_url="r", ignore_tags=("2.0.0", "1.8.4")),
            ["2.1.0-rc.1", "v1.9.0", "1.8.0", "1.7.9"],
        ),
        (
            ImageSubscription(repo_url="r", allow_tags=(r"^1\.",), ignore_tags_regexes=(r"\.0$",)),
            ["1.8.4", "1.7.9"],  # ignore wins over allow
        ),
        (
            ImageSubscription(repo_url="r", strategy="Lexical"),
            ["v1.9.0", "latest", "junk", "2.1.0-rc.1", "2.0.0", "1.8.4", "1.8.0", "1.7.9", "1.10"],
        ),
        (
            ImageSubscription(repo_url="r", strategy="Lexical", discovery_limit=3),
            ["v1.9.0", "latest", "junk"],
        ),
        (
            ImageSubscription(repo_url="r", strategy="Digest", semver_constraint="latest"),
            ["latest"],
        ),
        (
            ImageSubscription(repo_url="r", strategy="Digest", semver_constraint="nope"),
            [],
        ),
        (
            ImageSubscription(repo_url="r", strategy="NewestBuild", discovery_limit=2),
            ["1.10", "1.7.9", "1.8.0", "1.8.4", "2.0.0", "2.1.0-rc.1", "junk", "latest", "v1.9.0"],
        ),
    ],
)
def test_select_tags(sub: ImageSubscription, expected: list[str]) -> None:
    assert select_tags(TAGS, sub) == expected


def test_select_tags_never_selects_hostile_names() -> None:
    hostile = ["9.9.9\n", "../9.9.9", "$(reboot)", "9" * 200, "9.9.9 ", "-9.9.9"]
    for strategy in ("SemVer", "Lexical", "NewestBuild", "Digest"):
        sub = ImageSubscription(repo_url="r", strategy=strategy)
        assert select_tags([*hostile, "1.0.0"], sub) == ["1.0.0"]


def test_select_tags_breaks_precedence_ties_deterministically() -> None:
    sub = ImageSubscription(repo_url="r")
    assert select_tags(["1.0.0", "v1.0.0", "1.0.0"], sub) == ["v1.0.0", "1.0.0"]
    assert select_tags(["v1.0.0", "1.0.0"], sub) == ["v1.0.0", "1.0.0"]


def test_select_tags_reports_a_bad_regex() -> None:
    sub = ImageSubscription(repo_url="r", allow_tags=("(unclosed",))
    with pytest.raises(ValueError, match=r"allowTags: '\(unclosed' is not a valid regular"):
        select_tags(["1.0.0"], sub)


# ------------------------------------------------------------------ precedence keys

# Pre-release identifiers chosen to collide often: numeric ones with leading zeros
# ("007" is 7 to semver), numbers beside letters, hyphens, and prefixes of each other.
_identifiers = st.one_of(
    st.integers(0, 12).map(str),
    st.integers(0, 12).map(lambda n: f"00{n}"),
    st.sampled_from(["alpha", "beta", "rc", "RC", "a-1", "-", "1a", "x9"]),
    st.text(alphabet="019azAZ-", min_size=1, max_size=3),
)
_any_versions = st.builds(
    semver.Version,
    major=st.integers(0, 2),
    minor=st.integers(0, 2),
    patch=st.integers(0, 2),
    prerelease=st.one_of(
        st.none(),
        st.just(""),  # the constructor takes it; compare treats it as a release
        st.lists(_identifiers, min_size=1, max_size=4).map(".".join),
    ),
    build=st.one_of(st.none(), st.sampled_from(["b1", "exp.sha.5114f85", "2"])),
)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


@given(_any_versions, _any_versions)
def test_precedence_key_orders_exactly_as_semver_compare(
    a: semver.Version, b: semver.Version
) -> None:
    from bot.core.discover.versions import precedence_key

    ka, kb = precedence_key(a), precedence_key(b)
    assert _sign((ka > kb) - (ka < kb)) == _sign(a.compare(b))
    assert (ka == kb) is (a.compare(b) == 0)


@given(st.lists(_any_versions, max_size=25))
def test_sorting_by_precedence_key_sorts_as_semver_compare(versions: list[semver.Version]) -> None:
    from bot.core.discover.versions import precedence_key

    by_key = sorted(versions, key=precedence_key)
    by_compare = sorted(versions, key=functools.cmp_to_key(semver.Version.compare))
    assert [v.compare(w) for v, w in zip(by_key, by_compare, strict=True)] == [0] * len(versions)


def _select_by_compare(tags: list[str], sub: ImageSubscription) -> list[str]:
    """Selection as written before precedence keys: ``parse_tag``, ``Constraint.allows``
    and two stable sorts of ``semver.Version`` objects (which use ``compare``)."""
    import re

    seen: set[str] = set()
    versioned: list[tuple[semver.Version, str]] = []
    constraint = parse_constraint(sub.semver_constraint or "")
    for tag in tags:
        if tag in seen or not tag_is_safe(tag):
            continue
        seen.add(tag)
        if sub.allow_tags and not any(re.search(p, tag) for p in sub.allow_tags):
            continue
        if any(re.search(p, tag) for p in sub.ignore_tags_regexes):
            continue
        version = parse_tag(tag, strict=sub.strict_semvers)
        if version is not None and constraint.allows(version):
            versioned.append((version, tag))
    versioned.sort(key=lambda vt: vt[1], reverse=True)
    versioned.sort(key=lambda vt: vt[0], reverse=True)
    return [tag for _, tag in versioned[: sub.discovery_limit]]


_version_tags = st.builds(
    lambda prefix, v: prefix + str(v),
    st.sampled_from(["", "v", "V"]),
    _any_versions.filter(lambda v: v.prerelease != "").map(lambda v: v.replace(build=None)),
)
_near_tags = st.text(alphabet="0123456789.-vVrcab+_x", min_size=1, max_size=12)


@given(
    tags=st.lists(st.one_of(_version_tags, _near_tags), max_size=40),
    constraint=st.sampled_from(
        [
            None,
            ">=1.0.0",
            ">=1.0.0-0 <2.0.0-0",
            "^1.1",
            "~0.2.1-rc",
            "<1.0.0 || >=2.0.0-alpha",
            "!=1.1.1",
            "1.x",
            "=1.1.1-001",
        ]
    ),
    strict=st.booleans(),
    limit=st.integers(0, 30),
    allow=st.sampled_from([(), (r"^v",), (r"\.1",)]),
    ignore=st.sampled_from([(), (r"rc",)]),
)
def test_select_tags_picks_what_selection_by_semver_compare_picks(
    tags: list[str],
    constraint: str | None,
    strict: bool,
    limit: int,
    allow: tuple[str, ...],
    ignore: tuple[str, ...],
) -> None:
    sub = ImageSubscription(
        repo_url="r",
        semver_constraint=constraint,
        strict_semvers=strict,
        discovery_limit=limit,
        allow_tags=allow,
        ignore_tags_regexes=ignore,
    )
    assert select_tags(tags, sub) == _select_by_compare(tags, sub)


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        # The SemVer 2.0.0 examples (https://semver.org/#spec-item-11), in order.
        ("1.0.0-alpha", "1.0.0-alpha.1", -1),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta", -1),
        ("1.0.0-alpha.beta", "1.0.0-beta", -1),
        ("1.0.0-beta", "1.0.0-beta.2", -1),
        ("1.0.0-beta.2", "1.0.0-beta.11", -1),
        ("1.0.0-beta.11", "1.0.0-rc.1", -1),
        ("1.0.0-rc.1", "1.0.0", -1),
        ("1.0.0", "2.0.0", -1),
        ("2.0.0", "2.1.0", -1),
        ("2.1.0", "2.1.1", -1),
        ("1.0.0-10", "1.0.0-9", 1),  # numbers by value, not text
        ("1.0.0-1a", "1.0.0-9", 1),  # alphanumeric above numeric
        ("1.0.0-a", "1.0.0-B", 1),  # ASCII order
        ("1.0.0-0", "1.0.0-alpha", -1),
        ("1.0.0+b1", "1.0.0+b2", 0),  # build metadata ignored
        ("1.0.0-007", "1.0.0-7", 0),  # leading zeros (only constraints can write them)
        ("1.0.0-rc.007", "1.0.0-rc.10", -1),
        ("1.0.0-99999999999999999999999", "1.0.0-100000000000000000000000", -1),
    ],
)
def test_precedence_key_on_the_spec_examples(a: str, b: str, order: int) -> None:
    from bot.core.discover.versions import precedence_key

    def version(text: str) -> semver.Version:
        core, _, build = text.partition("+")
        numbers, _, pre = core.partition("-")
        major, minor, patch = map(int, numbers.split("."))
        return semver.Version(major, minor, patch, pre or None, build or None)

    va, vb = version(a), version(b)
    assert _sign(va.compare(vb)) == order  # the table itself agrees with semver
    ka, kb = precedence_key(va), precedence_key(vb)
    assert _sign((ka > kb) - (ka < kb)) == order


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        ("=1.1.1-001", "1.1.1-1", True),
        (">=1.0.0-rc.007", "1.0.0-rc.8", True),
        ("<1.0.0-rc.10", "1.0.0-rc.9", True),
        (">1.0.0-rc.9", "1.0.0-rc.10", True),
        (">1.0.0-rc.beta", "1.0.0-rc.10", False),
    ],
)
def test_constraints_compare_prerelease_identifiers_as_semver_does(
    constraint: str, version: str, expected: bool
) -> None:
    assert parse_constraint(constraint).allows(V(version)) is expected


@pytest.mark.parametrize(
    "tag",
    [
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3-01",
        "1.2.3-rc.01",
        "1.2.3-rc.0a",
        "1.2.3-",
        "1.2.3-rc..1",
        "1.2.3-rc_1",
        "vv1.2.3",
        "V1.2.3",
        "1.2.3.4",
        "1.2",
        "1",
        "v1",
        "1.2-rc.1",
        "1-0",
        "1.",
        "1.2.",
    ],
)
@pytest.mark.parametrize("strict", [True, False])
def test_select_tags_reads_a_tag_exactly_as_parse_tag_does(tag: str, strict: bool) -> None:
    sub = ImageSubscription(repo_url="r", strict_semvers=strict)
    selected = select_tags([tag], sub)
    assert selected == ([] if parse_tag(tag, strict=strict) is None else [tag])

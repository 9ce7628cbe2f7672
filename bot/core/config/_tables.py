"""Every key of every config document, described once as data.

The parser (``bot.core.config``) walks documents with these specs and the JSON Schema
(``config_schema``) is printed from them. Seed-guide spellings come first in each table;
real Kargo spellings sit beside them (https://docs.kargo.io/user-guide/reference-docs/crds).
Defaults are not written here: they live in ``bot.core.model`` only.
"""

from __future__ import annotations

import re
from typing import Any, Final

from bot.core.config._spec import (
    Bool,
    Const,
    Deferred,
    Duration,
    Enum,
    F,
    Int,
    ListOf,
    MapOf,
    Obj,
    Parsed,
    Scalar,
    Spec,
    Str,
    Tagged,
    Union,
    suggest,
)
from bot.core.model import API_VERSION

# --------------------------------------------------------------------------- value checks


def check_constraint(text: str) -> str | None:
    """Return why ``text`` is not a version constraint, or ``None``."""
    from bot.core.discover.versions import parse_constraint

    try:
        parse_constraint(text)
    except ValueError as exc:
        return str(exc)
    return None


def check_regex(text: str) -> str | None:
    try:
        re.compile(text)
    except re.error as exc:
        return f"'{text}' is not a valid regular expression: {exc}"
    return None


def check_cron(text: str) -> str | None:
    """Five fields (minute hour day month weekday), names like MON-FRI allowed.

    croniter also takes a sixth (seconds) field; GitHub and Kargo do not, so neither do we.
    """
    fields = text.split()
    if len(fields) != 5:
        return (
            f"'{text}' has {len(fields)} field(s), a cron expression has 5: "
            "minute hour day-of-month month day-of-week"
        )
    from croniter import croniter

    if not croniter.is_valid(text):
        return f"'{text}' is not a valid cron expression"
    return None


def check_template(text: str) -> str | None:
    from bot.core.promote.templates import check_template as check

    return check(text)


def check_image_repo(text: str) -> str | None:
    """An image repository as OCI names it: ``[host[:port]/]path``, no scheme, tag or digest.

    Path components follow the OCI distribution spec's name grammar
    (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests).
    """
    if "://" in text:
        return f"'{text}' must not start with a scheme such as https://"
    if "@" in text:
        return f"'{text}' must not contain a digest"
    parts = text.split("/")
    if ":" in parts[-1]:
        return f"'{text}' must not contain a tag"
    component = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
    host = parts[0] if len(parts) > 1 and re.search(r"[.:]|^localhost$", parts[0]) else None
    path = parts[1:] if host is not None else parts
    if host is not None and not re.fullmatch(r"[A-Za-z0-9.-]+(?::[0-9]+)?", host):
        return f"'{host}' is not a registry host name"
    if not path or not all(component.fullmatch(p) for p in path):
        return (
            f"'{text}' is not an image repository: path parts are lowercase letters, "
            "digits and separators (. _ -)"
        )
    return None


# scheme://[userinfo@]host[:port][/path][?query][#fragment], the parts of RFC 3986
# section 3 (https://www.rfc-editor.org/rfc/rfc3986#section-3) that an API URL uses.
_URL_RE: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#\s]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<rest>[/?#]\S*)?"
)


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost" or host == "[::1]":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(text: str) -> str | None:
    """An absolute ``https`` URL with a host, or ``http`` only for a loopback host.

    Tokens travel to these URLs, so plain http is refused except on this machine
    (``localhost``, 127.0.0.0/8, ``[::1]``).
    """
    match = _URL_RE.fullmatch(text)
    scheme = match.group("scheme").lower() if match else ""
    if match is None or scheme not in ("http", "https"):
        return f"'{text}' is not an absolute https:// URL"
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return f"'{text}' has an invalid port {port}"
    if scheme == "http" and not _is_loopback_host(match.group("host")):
        return f"'{text}' uses plain http: write https:// (http is allowed only for localhost)"
    return None


def url(doc: str = "") -> Str:
    return Str(
        doc,
        check=check_url,
        hint="for example https://argocd.example.com",
        schema_pattern=r"https?://\S+",
    )


ENV_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*"


def env_name(doc: str = "") -> Str:
    return Str(
        doc,
        pattern=ENV_NAME,
        pattern_message="is not an environment variable name",
        hint="for example ARGOCD_AUTH_TOKEN",
    )


def check_rel_path(text: str) -> str | None:
    if text.startswith("/") or ".." in text.split("/"):
        return f"'{text}' must be a path inside the repository (relative, without '..')"
    return None


IMAGE_VALUES: Final = ("Tag", "Digest", "ImageAndTag", "ImageAndDigest")
DNS_LABEL: Final = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"


def name(doc: str = "") -> Str:
    """A Kubernetes object name: an RFC 1123 label, as Kargo requires.

    https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names
    """
    return Str(
        doc,
        pattern=DNS_LABEL,
        pattern_message="is not a valid name: use lowercase letters, digits and '-', "
        "starting and ending with a letter or digit",
        max_length=63,
        hint="for example flask-app",
    )


def duration(doc: str = "") -> Duration:
    return Duration(doc)


def cron(doc: str = "") -> Str:
    return Str(
        doc,
        check=check_cron,
        hint='for example "0 9-17 * * MON-FRI"',
        schema_pattern=r"\S+(?:\s+\S+){4}",
    )


def timezone(doc: str = "an IANA time zone name, such as Europe/Berlin (default UTC)") -> Str:
    # Only the shape is checked here: the zone database is a file, and the core reads none.
    return Str(
        doc,
        pattern=r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*",
        pattern_message="is not a time zone name",
        hint="use an IANA name such as Europe/Berlin or UTC",
    )


def regex(doc: str = "") -> Str:
    return Str(doc, check=check_regex)


def constraint(doc: str = "") -> Str:
    return Str(
        doc or 'a semantic version constraint, such as ">=1.8.0 <2.0.0"', check=check_constraint
    )


def image_repo(doc: str = "") -> Str:
    return Str(
        doc or "an image repository without scheme or tag, such as ghcr.io/alkon/flask-app",
        check=check_image_repo,
        hint="write it like ghcr.io/owner/name",
    )


def rel_path(doc: str = "") -> Str:
    return Str(doc, check=check_rel_path)


def key_path(doc: str = "a dotted key path, such as image.tag") -> Str:
    return Str(
        doc,
        pattern=r"[^.\s]+(?:\.[^.\s]+)*",
        pattern_message="is not a dotted key path",
        hint="for example image.tag",
    )


def git_url(doc: str = "") -> Str:
    return Str(
        doc or "a git repository URL",
        pattern=r"\S+",
        pattern_message="is not a repository URL",
    )


def branch(doc: str = "") -> Str:
    # The common subset of git-check-ref-format rules (https://git-scm.com/docs/git-check-ref-format).
    return Str(
        doc,
        pattern=r"(?!/)(?!.*(?:\.\.|//|@\{|\.lock$|/$|\.$))[^\s~^:?*\[\\]+",
        pattern_message="is not a valid branch name",
    )


def _subscription_constraint(p: Parsed) -> None:
    # Digest selection reads the constraint as the one tag to follow, and Lexical and
    # NewestBuild ignore it (as in Kargo), so only SemVer selection needs a version range.
    if p.get("imageSelectionStrategy", "SemVer") != "SemVer":
        return
    for key in ("semverConstraint", "constraint"):
        if key in p.values:
            message = check_constraint(p.values[key])
            if message is not None:
                p.problem(key, message)
                del p.values[key]


# --------------------------------------------------------------------------- warehouses


WEBHOOK_EVENTS: Final = ("push", "release", "package", "registry_package", "create")

WEBHOOK: Final = Obj(
    {
        "enabled": F(Bool()),
        "github": F(
            Obj(
                {
                    "repository": F(
                        Str(
                            pattern=r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+",
                            pattern_message="is not a repository: write owner/name",
                        ),
                        doc="the repository whose events refresh this subscription (owner/name)",
                    ),
                    "events": F(ListOf(Enum(WEBHOOK_EVENTS))),
                }
            )
        ),
    },
    "refresh at once when GitHub reports a change",
)

IMAGE_SUBSCRIPTION: Final = Obj(
    {
        "repoURL": F(image_repo(), required=True),
        "semverConstraint": F(Str(), doc="the versions to consider (seed spelling)"),
        "constraint": F(Str(), doc="Kargo's spelling of semverConstraint"),
        "discoveryLimit": F(Int(minimum=1, maximum=100), doc="how many tags to keep (1-100)"),
        "cacheTTL": F(duration("how long discovered tags are reused")),
        "imageSelectionStrategy": F(Enum(("SemVer", "Lexical", "NewestBuild", "Digest"))),
        "allowTags": F(regex("a regular expression every tag must match")),
        "allowTagsRegexes": F(ListOf(regex())),
        "ignoreTags": F(ListOf(Str()), doc="exact tags to ignore"),
        "ignoreTagsRegexes": F(ListOf(regex())),
        "strictSemvers": F(Bool()),
        "platform": F(
            Str(
                pattern=r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?",
                pattern_message="is not a platform: write os/arch[/variant], like linux/amd64",
            )
        ),
        "insecureSkipTLSVerify": F(Bool()),
        "credentialsEnv": F(
            Str(
                pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                pattern_message="is not an environment variable name prefix",
            ),
            doc="prefix of the environment variables holding registry credentials "
            "(<PREFIX>_USERNAME, <PREFIX>_PASSWORD)",
        ),
        "webhook": F(WEBHOOK),
    },
    "a container image repository to watch",
    at_most_one=[("semverConstraint", "constraint")],
    check=_subscription_constraint,
)


def _chart_name_required(p: Parsed) -> None:
    url = p.get("repoURL")
    if isinstance(url, str) and url.startswith(("https://", "http://")) and not p.has("name"):
        p.problem(None, "a chart in an http(s):// repository needs 'name'", "add name: <chart>")


CHART_SUBSCRIPTION: Final = Obj(
    {
        "repoURL": F(
            Str(
                pattern=r"(?:https?|oci)://\S+",
                pattern_message="must start with https://, http:// or oci://",
            ),
            required=True,
        ),
        "name": F(Str(), doc="the chart's name (required for http(s):// repositories)"),
        "semverConstraint": F(constraint()),
        "constraint": F(constraint("Kargo's spelling of semverConstraint")),
        "discoveryLimit": F(Int(minimum=1, maximum=100)),
    },
    "a Helm chart to watch",
    at_most_one=[("semverConstraint", "constraint")],
    check=_chart_name_required,
    extra_schema=[
        {
            "if": {"properties": {"repoURL": {"pattern": "^https?://"}}, "required": ["repoURL"]},
            "then": {"required": ["name"]},
        }
    ],
)

GIT_SUBSCRIPTION: Final = Obj(
    {
        "repoURL": F(git_url(), required=True),
        "branch": F(branch()),
        "commitSelectionStrategy": F(Enum(("NewestFromBranch", "SemVer", "Lexical", "NewestTag"))),
        "semverConstraint": F(constraint()),
        "allowTags": F(regex()),
        "ignoreTags": F(ListOf(Str())),
        "includePaths": F(ListOf(Str())),
        "excludePaths": F(ListOf(Str())),
        "discoveryLimit": F(Int(minimum=1, maximum=100)),
    },
    "commits or tags of a git repository to watch",
)

SUBSCRIPTION: Final = Obj(
    {"image": F(IMAGE_SUBSCRIPTION), "chart": F(CHART_SUBSCRIPTION), "git": F(GIT_SUBSCRIPTION)},
    one_of=[("image", "chart", "git")],
)

WAREHOUSE_SPEC: Final = Obj(
    {
        "subscriptions": F(ListOf(SUBSCRIPTION, min_items=1), required=True),
        "retention": F(
            Obj(
                {
                    "maxArtifacts": F(Int(minimum=1), doc="how many freight to keep"),
                    "maxAge": F(duration("how long to keep freight, such as 30d")),
                }
            )
        ),
        "interval": F(
            duration("Kargo's polling interval"),
            no_effect="Shunter looks for new artifacts on its workflow's schedule and on "
            "events, not on a polling interval",
        ),
        "freightCreationPolicy": F(
            Enum(("Automatic", "Manual")),
            doc="Automatic (the default): every discovery makes freight; Manual: discovery "
            "looks, freight is made only by `shunter refresh warehouse` or "
            "`shunter create freight`",
        ),
    }
)

# --------------------------------------------------------------------------- stages

STAGE_SUBSCRIPTIONS: Final = Obj(
    {
        "warehouse": F(name("the warehouse this stage takes freight from")),
        "upstreamStages": F(
            ListOf(Obj({"name": F(name(), required=True)}), min_items=1),
            doc="stages whose verified freight this stage takes",
        ),
    },
    check=lambda p: (
        None
        if p.has("warehouse") or p.has("upstreamStages")
        else p.problem(None, "write warehouse or upstreamStages")
    ),
    extra_schema=[{"anyOf": [{"required": ["warehouse"]}, {"required": ["upstreamStages"]}]}],
)


def _check_sources(p: Parsed) -> None:
    if not p.get("direct", False) and not p.get("stages") and "stages" not in p.nodes:
        p.problem(None, "sources needs direct: true or a list of stages")
    options: Parsed | None = p.get("autoPromotionOptions")
    if options is None or options.get("selectionPolicy") != "MatchUpstream":
        return
    # As Kargo's admission rules say: the one upstream stage is what there is to match.
    if p.get("direct", False):
        options.problem(
            "selectionPolicy",
            "MatchUpstream cannot take freight directly from the warehouse",
            "remove direct: true, or write selectionPolicy: NewestFreight",
        )
    elif "stages" in p.values and len(p.values["stages"]) != 1:
        options.problem(
            "selectionPolicy",
            f"MatchUpstream needs exactly one upstream stage, not {len(p.values['stages'])}",
            "list one stage under sources.stages",
        )


SOURCES: Final = Obj(
    {
        "direct": F(Bool(), doc="take freight straight from the warehouse"),
        "stages": F(ListOf(name()), doc="upstream stages whose verified freight it takes"),
        "requiredSoakTime": F(
            duration(
                "how long freight must have run, verified, in an upstream stage before it is "
                "available from there"
            )
        ),
        "availabilityStrategy": F(
            Enum(("OneOf", "All")),
            doc="OneOf (the default): verified in any stage listed; All: in every one",
        ),
        "autoPromotionOptions": F(
            Obj(
                {
                    "selectionPolicy": F(
                        Enum(("NewestFreight", "MatchUpstream")),
                        doc="NewestFreight (the default), or MatchUpstream: what the one "
                        "upstream stage runs",
                    )
                }
            )
        ),
    },
    check=_check_sources,
)


REQUESTED_FREIGHT: Final = Obj(
    {
        "origin": F(
            Obj(
                {
                    "kind": F(Enum(("Warehouse",)), required=True),
                    "name": F(name(), required=True),
                }
            ),
            required=True,
        ),
        "sources": F(SOURCES, required=True),
    },
    "Kargo's spelling of where a stage takes freight from",
)

STATUS: Final = Enum(("True", "False"), bools=True)


def _condition(fields: dict[str, F], doc: str) -> Obj:
    return Obj({"type": F(Str(), required=True), **fields}, doc)


CONDITION: Final = Tagged(
    "type",
    {
        "HealthyFor": _condition(
            {"duration": F(duration("how long the stage must have been healthy"), required=True)},
            "promote only after the stage has been healthy this long",
        ),
        "BusinessHoursOnly": _condition(
            {
                "schedule": F(cron('when promotions may start (default "0 9-17 * * MON-FRI")')),
                "timezone": F(timezone()),
                "window": F(duration("how long each schedule slot stays open")),
            },
            "promote only inside business hours",
        ),
        "VerificationPassed": _condition({"status": F(STATUS)}, "verification must have passed"),
        "SecurityScanPassed": _condition({"status": F(STATUS)}, "security scans must have passed"),
        "NoActiveIncidents": _condition(
            {"integrations": F(ListOf(Enum(("pagerduty",)), min_items=1), required=True)},
            "no open incident in the listed integrations",
        ),
    },
)

GITHUB_LOGIN: Final = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
APPROVER: Final = Tagged(
    "type",
    {
        "team": Obj(
            {
                "type": F(Str(), required=True),
                "name": F(
                    Str(
                        pattern=r"(?:[A-Za-z0-9-]+/)?[A-Za-z0-9._-]+",
                        pattern_message="is not a team: write its slug or org/slug",
                    ),
                    required=True,
                ),
            }
        ),
        "user": Obj(
            {
                "type": F(Str(), required=True),
                "name": F(
                    Str(pattern=GITHUB_LOGIN, pattern_message="is not a GitHub login"),
                    required=True,
                ),
            }
        ),
    },
)


def _reachable_quorum(p: Parsed) -> None:
    approvers = p.get("approvers", [])
    wanted = p.get("minimumApprovals")
    if wanted is None or not approvers or "approvers" not in p.values:
        return
    if len(approvers) != len(p.nodes["approvers"].value):  # an approver was invalid
        return
    if any(a.get("type") == "team" for a in approvers):
        return
    users = {a.get("name", "").lower() for a in approvers}
    if wanted > len(users):
        p.problem(
            "minimumApprovals",
            f"{wanted} approvals can never be reached: only {len(users)} user(s) may approve",
            "lower minimumApprovals or add approvers",
        )


APPROVALS: Final = Obj(
    {
        "required": F(Bool()),
        "approvers": F(ListOf(APPROVER), doc="teams and users whose approvals count"),
        "minimumApprovals": F(Int(minimum=1)),
        "timeout": F(duration("how long a promotion waits for approvals")),
    },
    "Shunter's multi-approver gate",
    check=_reachable_quorum,
)

PROMOTION_POLICY: Final = Obj(
    {
        "autoPromotionEnabled": F(Bool()),
        "autoPromotionDelay": F(duration("soak time before auto-promotion")),
        "paused": F(Bool()),
        "schedule": F(cron("cron of the times promotions may start")),
        "timezone": F(timezone()),
        "scheduleWindow": F(duration("how long each schedule slot stays open (default 1h)")),
        "conditions": F(ListOf(CONDITION)),
        "approvals": F(APPROVALS),
    }
)

TEMPLATE_NAME: Final = r"[A-Za-z0-9][A-Za-z0-9._-]*"

#: The workflow_dispatch inputs Shunter gives every verification workflow itself.
VERIFICATION_INPUTS: Final = ("shunter_id", "stage", "freight", "commit")


def _arg_name(text: str) -> str | None:
    if text in VERIFICATION_INPUTS:
        return f"'{text}' is an input Shunter gives every verification workflow itself"
    return None


VERIFICATION: Final = Obj(
    {
        "parallel": F(Bool()),
        "steps": F(
            ListOf(
                Obj(
                    {
                        "name": F(Str(), required=True),
                        "analysisTemplate": F(
                            Obj(
                                {
                                    "name": F(
                                        Str(
                                            pattern=TEMPLATE_NAME,
                                            pattern_message="is not a template name",
                                        ),
                                        required=True,
                                    )
                                }
                            ),
                            required=True,
                        ),
                    }
                )
            )
        ),
        "analysisTemplates": F(
            ListOf(
                Obj(
                    {
                        "name": F(
                            Str(pattern=TEMPLATE_NAME, pattern_message="is not a template name"),
                            required=True,
                        ),
                        "kind": F(
                            Enum(("AnalysisTemplate", "ClusterAnalysisTemplate")),
                            no_effect="Shunter finds a template by name in the config folder "
                            "(or runs the workflow of that name) whatever its kind",
                        ),
                    }
                )
            ),
            doc="Kargo's spelling: each template is one step",
        ),
        "args": F(
            ListOf(
                Obj(
                    {
                        "name": F(
                            Str(
                                pattern=r"[A-Za-z_][A-Za-z0-9_-]*",
                                pattern_message="is not a workflow input name",
                                check=_arg_name,
                            ),
                            required=True,
                        ),
                        "value": F(Scalar(), required=True),
                    }
                )
            ),
            doc="inputs given to every verification workflow (workflow_dispatch inputs)",
        ),
    },
    "checks run after a promotion; a template no document defines runs the workflow "
    ".github/workflows/<name>.yml",
    at_most_one=[("steps", "analysisTemplates")],
)

GIT_REPO_UPDATE: Final = Obj(
    {
        "repoURL": F(git_url("the GitOps repository (default: the one Shunter runs in)")),
        "writeBranch": F(branch("the branch promotions land on (default: the default branch)")),
        "pullRequest": F(
            Union(Bool(), Obj({"github": F(Obj({}))})),
            doc="open a pull request (true, the default) or push directly (false)",
        ),
        "commitMessageTemplate": F(Str(check=check_template)),
        "kustomize": F(
            Obj(
                {
                    "images": F(
                        ListOf(
                            Obj(
                                {
                                    "image": F(image_repo(), required=True),
                                    "path": F(
                                        rel_path("folder holding kustomization.yaml"),
                                        required=True,
                                    ),
                                    "useDigest": F(Bool()),
                                }
                            ),
                            min_items=1,
                        ),
                        required=True,
                    )
                }
            )
        ),
        "helm": F(
            Obj(
                {
                    "images": F(
                        ListOf(
                            Obj(
                                {
                                    "image": F(image_repo(), required=True),
                                    "valuesFilePath": F(rel_path(), required=True),
                                    "key": F(key_path(), required=True),
                                    "value": F(Enum(IMAGE_VALUES), required=True),
                                }
                            ),
                            min_items=1,
                        ),
                        required=True,
                    )
                }
            )
        ),
        "yamlUpdates": F(
            ListOf(
                Obj(
                    {
                        "file": F(rel_path(), required=True),
                        "key": F(key_path(), required=True),
                        "image": F(image_repo("which image (default: the only one)")),
                        "value": F(Enum(IMAGE_VALUES)),
                    }
                )
            )
        ),
    }
)


HTTP_STATUS: Final = Int(minimum=100, maximum=599)
EXPECT_STATUS: Final = Union(HTTP_STATUS, ListOf(HTTP_STATUS, min_items=1))


def _some_health(p: Parsed) -> None:
    if not p.nodes:
        p.problem(None, "health needs argocd, githubDeployment or http")


HEALTH: Final = Obj(
    {
        "argocd": F(
            Obj(
                {
                    "server": F(
                        url("the Argo CD server, such as https://argocd.example.com"),
                        required=True,
                    ),
                    "app": F(
                        Str(
                            pattern=r"[A-Za-z0-9](?:[-A-Za-z0-9._]*[A-Za-z0-9])?",
                            pattern_message="is not an Argo CD application name",
                            max_length=253,
                        ),
                        required=True,
                        doc="the application's name",
                    ),
                    "namespace": F(
                        Str(
                            pattern=DNS_LABEL,
                            pattern_message="is not a namespace name",
                            max_length=63,
                        ),
                        doc="the application's namespace, when it is not Argo CD's own",
                    ),
                    "tokenEnv": F(
                        env_name(
                            "the environment variable holding an Argo CD API token "
                            "(default ARGOCD_AUTH_TOKEN)"
                        )
                    ),
                }
            ),
            doc="healthy when the Argo CD application is Healthy and Synced",
        ),
        "githubDeployment": F(
            Obj({"environment": F(Str(), required=True)}),
            doc="healthy when the latest GitHub deployment to this environment succeeded",
        ),
        "http": F(
            Obj(
                {
                    "url": F(url("the URL to call"), required=True),
                    "expectStatus": F(EXPECT_STATUS, doc="the healthy statuses (default 200)"),
                    "timeout": F(duration("how long one call may take (default 10s)")),
                }
            ),
            doc="healthy when a GET of the URL answers an expected status",
        ),
    },
    "how Shunter learns whether the stage is healthy (for HealthyFor and the ledger)",
    check=_some_health,
    extra_schema=[{"minProperties": 1}],
)


def _promotion_template() -> Spec:
    from bot.core.config._steps import PROMOTION_TEMPLATE as spec

    return spec


def _promotion_task() -> Spec:
    from bot.core.config._steps import PROMOTION_TASK_SPEC as spec

    return spec


# Kargo's promotion steps: their tables load when a document uses them (see Deferred).
PROMOTION_TEMPLATE: Final = Deferred(_promotion_template)
PROMOTION_TASK_SPEC: Final = Deferred(_promotion_task)

STAGE_SPEC: Final = Obj(
    {
        "subscriptions": F(STAGE_SUBSCRIPTIONS, doc="where this stage takes freight from"),
        "requestedFreight": F(ListOf(REQUESTED_FREIGHT, min_items=1)),
        "promotionPolicy": F(PROMOTION_POLICY),
        "conditions": F(ListOf(CONDITION), doc="same as promotionPolicy.conditions"),
        "verification": F(VERIFICATION),
        "gitRepoUpdates": F(ListOf(GIT_REPO_UPDATE, min_items=1)),
        "promotionMechanisms": F(
            Obj({"gitRepoUpdates": F(ListOf(GIT_REPO_UPDATE, min_items=1), required=True)})
        ),
        "promotionTemplate": F(PROMOTION_TEMPLATE),
        "health": F(HEALTH),
    },
    one_of=[("subscriptions", "requestedFreight")],
    at_most_one=[("gitRepoUpdates", "promotionMechanisms", "promotionTemplate")],
)

# --------------------------------------------------------------------------- other kinds

ANALYSIS_TEMPLATE_SPEC: Final = Obj(
    {
        "workflow": F(
            Obj(
                {
                    "file": F(
                        Str(
                            pattern=r"[A-Za-z0-9._-]+\.ya?ml",
                            pattern_message="is not a workflow file name such as smoke.yml",
                        ),
                        required=True,
                        doc="a file in .github/workflows/",
                    ),
                    "ref": F(Str()),
                    "inputs": F(MapOf(Scalar())),
                }
            ),
            doc="run a workflow with workflow_dispatch and wait for its conclusion",
        ),
        "http": F(
            Obj(
                {
                    "url": F(url("the URL to call"), required=True),
                    "method": F(Enum(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))),
                    "expectStatus": F(EXPECT_STATUS, doc="the passing statuses (default 200)"),
                    "headers": F(MapOf(Str())),
                }
            ),
            doc="call a URL and check its status",
        ),
        "timeout": F(duration()),
    },
    one_of=[("workflow", "http")],
)


def _one_stage_each(p: Parsed) -> None:
    seen: set[str] = set()
    for policy in p.get("promotionPolicies", []):
        selector = policy.get("stageSelector")
        stage = policy.get("stage") or (selector.get("name") if selector is not None else None)
        if stage is None:
            continue
        if stage in seen:
            policy.problem(None, f"stage '{stage}' has two promotion policies", "keep one")
        seen.add(stage)


PROMOTION_POLICIES: Final = ListOf(
    Obj(
        {
            "stage": F(name("the stage (Kargo 1.0's spelling)")),
            "stageSelector": F(Obj({"name": F(name("the stage"), required=True)})),
            "autoPromotionEnabled": F(Bool()),
        },
        one_of=[("stage", "stageSelector")],
    ),
    doc="Kargo 1.x: auto-promotion per stage (beside a stage's own promotionPolicy)",
)

PROJECT_SPEC: Final = Obj(
    {
        "promotionPolicies": F(PROMOTION_POLICIES),
        "stateBranch": F(branch("where Shunter keeps its ledger (default shunter/state)")),
        "deadline": F(
            duration("the longest one run may take (default 10m; the Action's deadline input wins)")
        ),
        "discovery": F(
            Obj(
                {
                    "requestsPerHost": F(
                        Int(minimum=1, maximum=100000),
                        doc="HTTP requests one run may make to one registry host (default 200)",
                    ),
                    "concurrency": F(
                        Int(minimum=1, maximum=32),
                        doc="subscriptions asked at the same time (default 8)",
                    ),
                }
            ),
            doc="how much one run may ask the registries",
        ),
        "emergencyPermission": F(
            Enum(("admin", "maintain", "write")),
            doc="the repository permission emergency operations need",
        ),
        "promotionHistory": F(
            Int(minimum=1),
            doc="promotion records kept per stage on the state branch; older ones are "
            "archived (default 200)",
        ),
        "githubDeployments": F(
            Bool(),
            doc="record each promotion as a GitHub Deployment to the environment named after "
            "the stage (default: on when the token may write deployments)",
        ),
        "monitoring": F(
            Obj(
                {
                    "enabled": F(Bool()),
                    "serviceMonitor": F(
                        Obj(
                            {
                                "enabled": F(
                                    Bool(),
                                    no_effect="Shunter runs no Kubernetes service to monitor; "
                                    "monitoring.enabled writes metrics.prom on the state branch",
                                )
                            }
                        )
                    ),
                }
            )
        ),
        "integrations": F(
            Obj(
                {
                    "pagerduty": F(
                        Obj(
                            {
                                "tokenEnv": F(
                                    env_name(
                                        "the environment variable holding a PagerDuty REST "
                                        "API key (default PAGERDUTY_TOKEN)"
                                    )
                                ),
                                "serviceIds": F(
                                    ListOf(
                                        Str(
                                            pattern=r"[A-Z0-9]+",
                                            pattern_message="is not a PagerDuty service ID "
                                            "(like PX1ABC2)",
                                        ),
                                        min_items=1,
                                    ),
                                    doc="the services whose incidents block (default: all)",
                                ),
                                "apiURL": F(
                                    url("the REST API (default https://api.pagerduty.com)")
                                ),
                            }
                        ),
                        doc="where NoActiveIncidents looks for open incidents",
                    ),
                    "argocd": F(
                        Obj(
                            {
                                "server": F(
                                    url("the Argo CD server, such as https://argocd.example.com"),
                                    required=True,
                                ),
                                "tokenEnv": F(
                                    env_name(
                                        "the environment variable holding an Argo CD API "
                                        "token (default ARGOCD_AUTH_TOKEN)"
                                    )
                                ),
                            }
                        ),
                        doc="the Argo CD that argocd-update steps' applications live in",
                    ),
                }
            )
        ),
    },
    check=_one_stage_each,
)


#: The colour names Kargo's UI knows for ``kargo.akuity.io/color``, beside #RGB/#RRGGBB.
COLOR_NAMES: Final = (
    "red", "salmon", "orange", "amber", "yellow", "lime", "avocado", "green", "teal",
    "cyan", "sky", "blue", "indigo", "periwinkle", "violet", "purple", "fuchsia", "pink",
    "rose", "dragonfruit", "gray",
)  # fmt: skip
_HEX_COLOR: Final = r"#(?:[0-9A-Fa-f]{3}){1,2}"


def _check_color(text: str) -> str | None:
    if not re.fullmatch(_HEX_COLOR, text) and text not in COLOR_NAMES:
        hint = suggest(text, COLOR_NAMES)
        return (
            f"'{text}' is not a color: write #RGB or #RRGGBB, like \"#4CAF50\", or one of "
            f"Kargo's names ({', '.join(COLOR_NAMES)})" + (f"; {hint}" if hint else "")
        )
    return None


METADATA: Final = Obj(
    {
        "name": F(name(), required=True),
        # Kargo's project is a namespace: with no Project document it names the project.
        "namespace": F(name()),
        "labels": F(MapOf(Str()), no_effect="Kubernetes labels select nothing in Shunter"),
        "annotations": F(
            MapOf(
                Str(),
                known={
                    "kargo.akuity.io/color": Str(
                        check=_check_color,
                        schema_pattern=_HEX_COLOR + "|" + "|".join(COLOR_NAMES),
                    )
                },
            )
        ),
    }
)

KINDS: Final[dict[str, Spec]] = {
    "Warehouse": WAREHOUSE_SPEC,
    "Stage": STAGE_SPEC,
    "AnalysisTemplate": ANALYSIS_TEMPLATE_SPEC,
    "ProjectConfig": PROJECT_SPEC,
    "PromotionTask": PROMOTION_TASK_SPEC,
    "ClusterPromotionTask": PROMOTION_TASK_SPEC,
    # Kargo's Project: its name is ctx.project; its spec (older Kargo's promotionPolicies)
    # lives in ProjectConfig now.
    "Project": Obj({}, "a Kargo project; its name is the project's name"),
}
#: Kinds whose document may leave out ``spec``.
NO_SPEC_NEEDED: Final = ("Project",)


def document(kind: str) -> Obj:
    """The whole document of ``kind``: apiVersion, kind, metadata and spec."""
    return Obj(
        {
            "apiVersion": F(Const(API_VERSION), required=True),
            "kind": F(Const(kind), required=True),
            "metadata": F(METADATA, required=True),
            "spec": F(KINDS[kind], required=kind not in NO_SPEC_NEEDED),
        }
    )


DOCUMENTS: Final[dict[str, Obj]] = {kind: document(kind) for kind in KINDS}
DOCUMENT: Final = Tagged("kind", DOCUMENTS, "one Shunter config document")


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one config document."""
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Shunter config document (kargo.akuity.io/v1alpha1)",
    }
    out.update(DOCUMENT.schema())
    return out

"""Does the GitHub sandbox answer as GitHub does? Checked against GitHub's REST description.

GitHub publishes its REST API as an OpenAPI 3.0 document
(https://github.com/github/rest-api-description); the npm package ``@octokit/openapi``
ships it as ``generated/api.github.com.json``, and ``scripts/install-system-deps.sh``
installs a pinned version into ``.tools/``. For each exchange the sandbox recorded
(``RecordedRequest``: method, path, status, body) this module finds the operation the
description declares for that method and path, takes the response it declares for that
status, and validates the JSON body against that response's schema.

The validator is ``openapi-schema-validator``'s ``OAS30Validator``: the description is
OpenAPI 3.0, whose ``nullable: true`` plain JSON Schema validators do not understand (they
would reject every ``null`` GitHub documents as allowed); its ``$ref``s are resolved in the
document itself through ``referencing``. Formats it can check (``date-time``, ``email``
...) are checked. Two readings are GitHub's rather than the strictest: a ``nullable``
schema admits ``null`` even beside an ``enum`` or ``oneOf`` (see ``_admitting_null``);
and an error the operation does not describe, or describes without a body, must carry
GitHub's error body (``basic-error``), which GitHub sends with every error: the
description lists the errors particular to an operation, not the 403 a token without
the scope meets anywhere.

A verdict is a value (``Verdict``); words are for the report only.
"""

from __future__ import annotations

import enum
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from sandbox.github_server import RecordedRequest

#: The pinned description, where ``scripts/install-system-deps.sh`` puts it.
DESCRIPTION = (
    Path(__file__).resolve().parents[1]
    / ".tools/node_modules/@octokit/openapi/generated/api.github.com.json"
)
_BASE = "urn:shunter:github-rest-description"
_METHODS = ("get", "put", "post", "delete", "patch")
_SLASHED = frozenset({"ref", "branch", "path"})
_BASIC_ERROR = "/components/schemas/basic-error"


class Verdict(enum.Enum):
    """What the check found for one exchange."""

    VALID = "valid"
    #: No operation in the description has this method and path.
    UNKNOWN_OPERATION = "unknown operation"
    #: A success or redirect the operation does not declare (errors it does not declare
    #: are checked as GitHub's error body).
    UNDESCRIBED_STATUS = "undescribed status"
    #: The body is not JSON although the declared response is.
    NOT_JSON = "not JSON"
    #: The body does not validate against the declared response schema.
    INVALID = "invalid body"
    #: The declared response has no body, yet the sandbox sent one.
    UNEXPECTED_BODY = "unexpected body"
    #: Not a REST call: a web page, or a failure a test injected.
    NOT_CHECKED = "not checked"


def _admitting_null(keyword: str) -> Callable[..., Iterable[ValidationError]]:
    """The OAS 3.0 validator's ``keyword``, except that a ``nullable`` schema admits null."""
    strict = OAS30Validator.VALIDATORS[keyword]

    def check(
        validator: Validator, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterable[ValidationError]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from strict(validator, value, instance, schema)

    return check


# GitHub writes ``nullable: true`` beside ``enum`` (a check run's ``conclusion``) and beside
# ``oneOf`` (a commit's ``author``) and sends null there: for every check run still in
# progress, for every commit whose e-mail no account holds. The strict reading of OAS 3.0
# (null only where ``type`` allows it and ``enum`` lists it) would reject GitHub's own
# answers, so these keywords read ``nullable`` as GitHub does.
_Validator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    OAS30Validator, {k: _admitting_null(k) for k in ("enum", "oneOf", "anyOf", "allOf")}
)


@dataclass(frozen=True)
class Finding:
    """The verdict on one exchange; ``operation`` is its ``operationId`` when known and
    ``detail`` the validator's most relevant error (JSON path and reason) when invalid."""

    exchange: RecordedRequest
    verdict: Verdict
    operation: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        ex = self.exchange
        where = f"{ex.method} {ex.path} -> {ex.status}"
        op = f" ({self.operation})" if self.operation else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{where}{op}: {self.verdict.value}{detail}"


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal: int  # characters outside ``{params}``: the more, the more specific
    pointer: str  # JSON pointer of the operation in the document
    spec: Mapping[str, Any]


class RestDescription:
    """GitHub's REST description, ready to judge recorded exchanges."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._doc = document
        self._registry: Registry[Any] = Registry().with_resource(
            _BASE, Resource.from_contents(dict(document), default_specification=DRAFT4)
        )
        ops: list[_Operation] = []
        for template, item in document["paths"].items():
            for method in _METHODS:
                if method in item:
                    ops.append(_operation(method.upper(), template, item[method]))
        # The most specific template wins: /repos/{o}/{r}/pulls/comments before .../{number}.
        self._ops = sorted(ops, key=lambda op: -op.literal)

    @classmethod
    def load(cls, path: Path = DESCRIPTION) -> RestDescription:
        """Read the description at ``path``; raises ``FileNotFoundError`` naming the fix."""
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `make setup` (scripts/install-system-deps.sh "
                "installs @octokit/openapi into .tools/)"
            )
        return cls(json.loads(path.read_bytes()))

    @property
    def version(self) -> str:
        """The description's own version (the npm package's)."""
        return str(self._doc.get("info", {}).get("version", "?"))

    def operation(self, method: str, path: str) -> str | None:
        """The ``operationId`` serving ``method path`` (HEAD as GET), or None."""
        op = self._find(method, path)
        return None if op is None else str(op.spec.get("operationId", op.template))

    def check(self, ex: RecordedRequest) -> Finding:
        """Judge one exchange: see ``Verdict``."""
        if ex.injected or (ex.content_type and "json" not in ex.content_type):
            return Finding(ex, Verdict.NOT_CHECKED)
        op = self._find(ex.method, ex.path)
        if op is None:
            return Finding(ex, Verdict.UNKNOWN_OPERATION)
        name = str(op.spec.get("operationId", op.template))
        responses = op.spec.get("responses", {})
        key = str(ex.status) if str(ex.status) in responses else "default"
        if key not in responses:
            if ex.status == 304:
                # A conditional GET may answer 304 anywhere (GitHub's "use conditional
                # requests" guide); it carries no body to check.
                return Finding(ex, Verdict.VALID, name)
            if ex.status < 400:
                return Finding(ex, Verdict.UNDESCRIBED_STATUS, name)
            # The description lists the errors particular to an operation, not those any
            # call may meet (403 for a token without the scope, 404, 5xx); GitHub answers
            # those with its error body, so that is what the sandbox must send.
            return self._validate(ex, name, _BASIC_ERROR)
        pointer = f"{op.pointer}/responses/{key}"
        response = self._resolve(responses[key])
        schema_pointer = _json_schema_pointer(response)
        if "$ref" in responses[key]:
            pointer = str(responses[key]["$ref"]).removeprefix("#")
        if schema_pointer is None:
            if not ex.body.strip():
                return Finding(ex, Verdict.VALID, name)
            if ex.status < 400:
                return Finding(ex, Verdict.UNEXPECTED_BODY, name)
            # GitHub answers every error with its error body, described or not.
            return self._validate(ex, name, _BASIC_ERROR)
        return self._validate(ex, name, pointer + schema_pointer)

    def _validate(self, ex: RecordedRequest, name: str, pointer: str) -> Finding:
        """Validate the JSON body of ``ex`` against the schema at ``pointer``."""
        try:
            body = json.loads(ex.body)
        except ValueError:
            return Finding(ex, Verdict.NOT_JSON, name)
        error = best_match(self._validator(pointer).iter_errors(body))
        if error is None:
            return Finding(ex, Verdict.VALID, name)
        at = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.path)
        return Finding(ex, Verdict.INVALID, name, f"{at}: {error.message[:300]}")

    def check_all(self, exchanges: Iterable[RecordedRequest]) -> list[Finding]:
        """``check`` each exchange, in order."""
        return [self.check(ex) for ex in exchanges]

    def _find(self, method: str, path: str) -> _Operation | None:
        wanted = "GET" if method == "HEAD" else method
        for op in self._ops:
            if op.method == wanted and op.pattern.fullmatch(path):
                return op
        return None

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = self._registry.resolver(_BASE).lookup(str(node["$ref"])).contents
        return node

    def _validator(self, pointer: str) -> Validator:
        validator: Validator = _Validator(
            {"$ref": f"{_BASE}#{pointer}"},
            registry=self._registry,
            format_checker=oas30_format_checker,
        )
        return validator


def _operation(method: str, template: str, spec: Mapping[str, Any]) -> _Operation:
    # A parameter is one path segment, except those that name a git ref, a branch or a
    # file: their values hold slashes (heads/shunter/dev, env/dev/values.yaml).
    regex = ""
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            regex += ".+" if part[1:-1] in _SLASHED else "[^/]+"
        else:
            regex += re.escape(part)
    escaped = template.replace("~", "~0").replace("/", "~1")
    return _Operation(
        method,
        template,
        re.compile(regex),
        len(re.sub(r"\{[^}]+\}", "", template)),
        f"/paths/{escaped}/{method.lower()}",
        spec,
    )


def _json_schema_pointer(response: Mapping[str, Any]) -> str | None:
    """The pointer, inside a response object, of its JSON body's schema; None: no body."""
    for media, content in response.get("content", {}).items():
        if "json" in media and "schema" in content:
            escaped = media.replace("~", "~0").replace("/", "~1")
            return f"/content/{escaped}/schema"
    return None


@cache
def description() -> RestDescription:
    """The pinned description, read once per process."""
    return RestDescription.load()


def problems(exchanges: Iterable[RecordedRequest]) -> list[Finding]:
    """The findings that are neither valid nor deliberately unchecked."""
    return [
        f
        for f in description().check_all(exchanges)
        if f.verdict not in (Verdict.VALID, Verdict.NOT_CHECKED)
    ]


def summary(findings: Iterable[Finding]) -> str:
    """One line: how many checked answers are valid, and what the others are."""
    return tally_line(Counter(f.verdict for f in findings))


def tally_line(counts: Counter[Verdict]) -> str:
    """``summary``'s line from verdict counts (which parallel test workers add up)."""
    counts = Counter({v: n for v, n in counts.items() if v is not Verdict.NOT_CHECKED})
    total = sum(counts.values())
    others = ", ".join(
        f"{n} {v.value}" for v, n in sorted(counts.items(), key=lambda kv: kv[0].value)
    )
    valid = counts[Verdict.VALID]
    return f"{valid} of {total} answers match GitHub's REST description" + (
        f" ({others})" if valid != total else ""
    )

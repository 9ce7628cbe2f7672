"""HelmRepository against a real loopback chart repository and the real docker-registry.

The HTTP repository is a stdlib ``http.server`` in a thread serving a generated
``index.yaml`` with an ``ETag`` and ``Last-Modified``. The OCI cases push small OCI images
whose tags are named like chart versions (Helm's ``+`` -> ``_`` rule included): the
adapter only lists tags, so what the manifest holds does not change what it sees.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from bot.adapters.helm import (
    HelmRepository,
    parse_chart_version,
    select_versions,
    sends_credentials,
)
from bot.adapters.registry import OciRegistry
from bot.core.model import ChartSubscription
from bot.errors import PermanentError, TransientError
from sandbox.httpstub import HttpStub
from sandbox.registry import LocalRegistry, push_image

LAST_MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"


@dataclass
class ChartServer:
    """What the loopback server serves and what it saw."""

    body: bytes = b""
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def set_index(
        self, charts: dict[str, list[str]], *, extra: dict[str, object] | None = None
    ) -> None:
        entries: dict[str, list[object]] = {
            name: [
                {"name": name, "version": v, "urls": [f"{name}-{v}.tgz"], "digest": "0" * 64}
                for v in versions
            ]
            for name, versions in charts.items()
        }
        for name, more in (extra or {}).items():
            entries.setdefault(name, []).append(more)
        self.body = yaml.safe_dump(
            {"apiVersion": "v1", "entries": entries, "generated": "2024-05-01T10:00:00Z"}
        ).encode()
        self.status = 200

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@pytest.fixture
def chart_server() -> Iterator[ChartServer]:
    state = ChartServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append({"path": self.path, **dict(self.headers.items())})
            if self.path != "/charts/index.yaml":
                self.send_response(404)
                self.end_headers()
                return
            if state.status != 200:
                self.send_response(state.status)
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == state.etag:
                self.send_response(304)
                self.send_header("ETag", state.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-yaml")
            self.send_header("Content-Length", str(len(state.body)))
            self.send_header("ETag", state.etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/charts"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def helm(**kwargs: object) -> HelmRepository:
    # No retries and no backoff: the 500 case must fail at once.
    return HelmRepository(retries=0, backoff=0, **kwargs)  # type: ignore[arg-type]


def versions(charts: tuple[object, ...]) -> list[str]:
    return [c.version for c in charts]  # type: ignore[attr-defined]


def test_http_repository_lists_the_charts_versions_newest_first(chart_server: ChartServer) -> None:
    chart_server.set_index(
        {"app": ["1.2.0", "1.10.0", "1.9.1-rc.1", "0.9.0", "not-a-version"], "other": ["9.9.9"]}
    )
    sub = ChartSubscription(repo_url=chart_server.url, name="app")

    charts, validators = helm().discover(sub)

    assert versions(charts) == ["1.10.0", "1.9.1-rc.1", "1.2.0", "0.9.0"]
    assert {(c.repo_url, c.name) for c in charts} == {(chart_server.url, "app")}
    assert validators["etag"] == chart_server.etag
    assert validators["last-modified"] == LAST_MODIFIED


@pytest.mark.parametrize(
    ("constraint", "limit", "expected"),
    [
        ("^1.0.0", 20, ["1.10.0", "1.2.0"]),
        (">=1.9.0-0 <2.0.0-0", 20, ["1.10.0", "1.9.1-rc.1"]),
        ("~0.9", 20, ["0.9.0"]),
        (None, 2, ["1.10.0", "1.9.1-rc.1"]),
        ("^5", 20, []),
    ],
)
def test_http_repository_honours_constraint_and_limit(
    chart_server: ChartServer, constraint: str | None, limit: int, expected: list[str]
) -> None:
    chart_server.set_index({"app": ["1.2.0", "1.10.0", "1.9.1-rc.1", "0.9.0"]})
    sub = ChartSubscription(
        repo_url=chart_server.url, name="app", semver_constraint=constraint, discovery_limit=limit
    )
    assert versions(helm().discover(sub)[0]) == expected


def test_an_unchanged_index_is_not_downloaded_again(chart_server: ChartServer) -> None:
    chart_server.set_index({"app": ["1.0.0", "1.1.0"]})
    repo = helm()
    sub = ChartSubscription(repo_url=chart_server.url, name="app")
    first, cache = repo.discover(sub)

    second, cache2 = repo.discover(sub, cache)

    assert versions(second) == versions(first) == ["1.1.0", "1.0.0"]
    assert chart_server.requests[-1]["If-None-Match"] == chart_server.etag
    assert chart_server.requests[-1]["If-Modified-Since"] == LAST_MODIFIED
    assert cache2 == cache
    # A new version changes the ETag: the next call downloads and sees it.
    chart_server.set_index({"app": ["1.0.0", "1.1.0", "1.2.0"]})
    third, cache3 = repo.discover(sub, cache2)
    assert versions(third) == ["1.2.0", "1.1.0", "1.0.0"]
    assert cache3["etag"] == chart_server.etag != cache["etag"]


def test_a_cache_for_another_chart_is_ignored(chart_server: ChartServer) -> None:
    chart_server.set_index({"app": ["1.0.0"], "db": ["2.0.0"]})
    repo = helm()
    _, cache = repo.discover(ChartSubscription(repo_url=chart_server.url, name="app"))

    charts, _ = repo.discover(ChartSubscription(repo_url=chart_server.url, name="db"), cache)

    assert versions(charts) == ["2.0.0"]
    assert "If-None-Match" not in chart_server.requests[-1]


def test_removed_and_hostile_entries_are_never_selected(chart_server: ChartServer) -> None:
    chart_server.set_index(
        {"app": ["1.0.0", "9.0.0\n$(id)", "../../9.0.0", "9.0.0;rm -rf /"]},
        extra={"app": {"name": "app", "version": "8.0.0", "removed": True}},
    )
    sub = ChartSubscription(repo_url=chart_server.url, name="app")
    assert versions(helm().discover(sub)[0]) == ["1.0.0"]


@pytest.mark.parametrize(
    ("body", "status", "error", "match"),
    [
        (b"<html>not yaml: [", 200, PermanentError, "not a Helm chart repository index"),
        (b"- just\n- a list\n", 200, PermanentError, "not a Helm chart repository index"),
        (b"", 404, PermanentError, "HTTP 404"),
        (b"", 500, TransientError, "HTTP 500"),
        (b"", 401, PermanentError, "no credentials are set"),
    ],
)
def test_bad_answers_become_errors_that_say_what_to_fix(
    chart_server: ChartServer,
    body: bytes,
    status: int,
    error: type[Exception],
    match: str,
) -> None:
    chart_server.body, chart_server.status = body, status
    with pytest.raises(error, match=match):
        helm().discover(ChartSubscription(repo_url=chart_server.url, name="app"))


def test_an_unknown_chart_lists_what_the_repository_has(chart_server: ChartServer) -> None:
    chart_server.set_index({"app": ["1.0.0"], "db": ["1.0.0"]})
    with pytest.raises(PermanentError, match=r"'nope' is not in the index.*app, db"):
        helm().discover(ChartSubscription(repo_url=chart_server.url, name="nope"))


def test_credentials_are_sent_but_never_shown(chart_server: ChartServer) -> None:
    chart_server.body, chart_server.status = b"", 403
    repo = helm(credentials=lambda host: ("user", "s3cret-token"))
    with pytest.raises(PermanentError) as caught:
        repo.discover(ChartSubscription(repo_url=chart_server.url, name="app"))
    assert chart_server.requests[-1]["Authorization"].startswith("Basic ")
    assert "s3cret-token" not in str(caught.value)
    assert "credentials given" in str(caught.value)


def test_credentials_do_not_follow_a_redirect_to_another_host(http_stub: HttpStub) -> None:
    http_stub.get(
        "https://charts.example.com/index.yaml",
        status=302,
        headers={"Location": "https://cdn.example.net/charts/index.yaml"},
    )
    index = {"apiVersion": "v1", "entries": {"app": [{"version": "1.2.0"}]}}
    http_stub.get("https://cdn.example.net/charts/index.yaml", body=yaml.safe_dump(index))
    repo = helm(credentials=lambda host: ("user", "s3cret-token"), network=http_stub.network)
    charts, _ = repo.discover(ChartSubscription(repo_url="https://charts.example.com", name="app"))
    assert versions(charts) == ["1.2.0"]
    asked, followed = http_stub.calls
    assert asked.headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in followed.headers


def test_a_refused_certificate_is_permanent() -> None:
    with HttpStub(tls=True) as stub:
        stub.get("https://charts.example.com/index.yaml", body="apiVersion: v1\nentries: {}\n")
        with pytest.raises(PermanentError, match="TLS certificate was refused"):
            helm(network=stub.network).discover(
                ChartSubscription(repo_url="https://charts.example.com", name="app")
            )
        assert stub.calls == []


@pytest.mark.parametrize(
    ("url", "host", "sends"),
    [
        ("https://charts.example.com/index.yaml", "charts.example.com", True),
        ("http://charts.example.com/index.yaml", "charts.example.com", False),
        ("HTTP://charts.example.com/index.yaml", "charts.example.com:80", False),
        ("http://127.0.0.1:8080/index.yaml", "127.0.0.1:8080", True),
        ("http://localhost/index.yaml", "localhost", True),
        ("http://[::1]:8080/index.yaml", "[::1]:8080", True),
    ],
)
def test_credentials_go_over_https_or_to_loopback_only(url: str, host: str, sends: bool) -> None:
    assert sends_credentials(url, host) is sends


@pytest.mark.parametrize(
    ("url", "name", "match"),
    [
        ("https://user:pw@charts.example.com", "app", "carries credentials"),
        ("ftp://charts.example.com", "app", "neither an https"),
        ("https://charts.example.com", None, "has no name"),
        ("oci://ghcr.io/org/charts/app", "other", "does not match repoURL"),
        ("oci://app", None, "names no chart"),
    ],
)
def test_bad_subscriptions_are_refused_before_any_request(
    url: str, name: str | None, match: str
) -> None:
    with pytest.raises(PermanentError, match=match) as caught:
        helm().discover(ChartSubscription(repo_url=url, name=name))
    assert "pw@" not in str(caught.value)


def test_oci_chart_versions_come_from_registry_tags(
    oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    for tag in ("1.0.0", "1.1.0_build.7", "2.0.0-rc.1", "latest", "1.0.1"):
        push_image(oci_registry.host, "charts/podinfo", tag, workdir=tmp_path)
    registry = OciRegistry(retries=0)
    url = f"oci://{oci_registry.host}/charts/podinfo"
    repo = helm(registry=registry)

    charts, cache = repo.discover(ChartSubscription(repo_url=url, semver_constraint="^1"))

    # "_" in a tag is Helm's stand-in for "+": the version reads as Helm wrote it.
    assert versions(charts) == ["1.1.0+build.7", "1.0.1", "1.0.0"]
    assert {(c.repo_url, c.name) for c in charts} == {(url, "podinfo")}
    assert cache == {}
    named = repo.discover(ChartSubscription(repo_url=url, name="podinfo", discovery_limit=1))[0]
    assert versions(named) == ["2.0.0-rc.1"]


def test_a_missing_oci_chart_is_a_permanent_error(oci_registry: LocalRegistry) -> None:
    url = f"oci://{oci_registry.host}/charts/never-pushed"
    with pytest.raises(PermanentError, match="not found"):
        helm().discover(ChartSubscription(repo_url=url))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3", "1.2.3"), ("v1.2", "1.2.0"), ("1.2.3+b.1", "1.2.3+b.1"), ("1.2.3\n", None)],
)
def test_parse_chart_version(text: str, expected: str | None) -> None:
    version = parse_chart_version(text)
    assert (str(version) if version else None) == expected


def test_select_versions_rejects_a_bad_constraint() -> None:
    with pytest.raises(PermanentError, match="semverConstraint"):
        select_versions(["1.0.0"], ">>1", 5)

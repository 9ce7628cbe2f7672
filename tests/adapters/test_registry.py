from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.adapters.http import HttpErrorKind
from bot.adapters.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    OciRegistry,
    parse_repo_url,
    realm_refusal,
)
from bot.core.discover.artifacts import Image
from bot.core.discover.versions import select_tags
from bot.core.model import ImageSubscription
from bot.errors import PermanentError, TransientError
from bot.ports import Deadline
from sandbox.fixtures.registry import REGISTRY_USER
from sandbox.httpstub import HttpStub
from sandbox.loopback import send_json
from sandbox.registry import LocalRegistry, push_image, write_oci_layout

# ------------------------------------------------------------------ a real registry

PUSHED = ["1.7.9", "1.8.0", "1.8.4", "2.0.0", "latest", "2.1.0-rc.1"]


@pytest.fixture(scope="module")
def flask_app(
    oci_registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """``<host>/alkon/flask-app`` with PUSHED tags; returns (repo_url, tag -> digest)."""
    work = tmp_path_factory.mktemp("push")
    digests = {t: push_image(oci_registry.host, "alkon/flask-app", t, workdir=work) for t in PUSHED}
    return f"{oci_registry.host}/alkon/flask-app", digests


def test_lists_every_pushed_tag(flask_app: tuple[str, dict[str, str]]) -> None:
    repo_url, _ = flask_app
    registry = OciRegistry()
    assert sorted(registry.list_tags(repo_url)) == sorted(PUSHED)
    assert registry.requests_made == 1  # anonymous, one page


def test_digest_is_what_was_pushed(flask_app: tuple[str, dict[str, str]]) -> None:
    repo_url, digests = flask_app
    registry = OciRegistry()
    assert {t: registry.digest(repo_url, t) for t in PUSHED} == digests
    assert len(set(digests.values())) == len(PUSHED)  # every tag is a distinct image
    # A single-platform image answers for its own platform too.
    assert registry.digest(repo_url, "1.8.4", "linux/amd64") == digests["1.8.4"]


def test_semver_selection_over_a_real_tag_list(flask_app: tuple[str, dict[str, str]]) -> None:
    repo_url, _ = flask_app
    tags = OciRegistry().list_tags(repo_url)
    sub = ImageSubscription(repo_url=repo_url, semver_constraint="^1.8")
    assert select_tags(tags, sub) == ["1.8.4", "1.8.0"]
    assert select_tags(tags, ImageSubscription(repo_url=repo_url))[0] == "2.1.0-rc.1"
    sub = ImageSubscription(repo_url=repo_url, semver_constraint=">=1.9.0-0 <3.0.0")
    assert select_tags(tags, sub) == ["2.0.0"]


def test_a_repushed_tag_has_a_new_digest(oci_registry: LocalRegistry, tmp_path: Path) -> None:
    first = push_image(oci_registry.host, "alkon/mutable", "latest", workdir=tmp_path, content="a")
    second = push_image(oci_registry.host, "alkon/mutable", "latest", workdir=tmp_path, content="b")
    assert first != second
    assert OciRegistry().digest(f"{oci_registry.host}/alkon/mutable", "latest") == second


def test_unknown_repository_and_tag_are_permanent(
    oci_registry: LocalRegistry, flask_app: tuple[str, dict[str, str]]
) -> None:
    registry = OciRegistry()
    with pytest.raises(PermanentError, match=r"repository 127\.0\.0\.1:\d+/alkon/nope not found"):
        registry.list_tags(f"{oci_registry.host}/alkon/nope")
    with pytest.raises(PermanentError, match=r"tag 9\.9\.9 of repository .*flask-app not found"):
        registry.digest(flask_app[0], "9.9.9")


def test_credentials_open_a_protected_registry(
    oci_registry_auth: LocalRegistry, tmp_path: Path
) -> None:
    user, password = REGISTRY_USER
    host = oci_registry_auth.host
    digest = push_image(
        host, "team/app", "1.0.0", workdir=tmp_path, username=user, password=password
    )
    registry = OciRegistry(lambda h: REGISTRY_USER if h == host else None)
    assert registry.list_tags(f"{host}/team/app") == ["1.0.0"]
    assert registry.digest(f"{host}/team/app", "1.0.0") == digest


def test_a_protected_registry_says_which_credentials_to_set(
    oci_registry_auth: LocalRegistry,
) -> None:
    host = oci_registry_auth.host
    with pytest.raises(PermanentError) as anonymous:
        OciRegistry().list_tags(f"{host}/team/app")
    assert f"registry {host} refused access" in str(anonymous.value)
    assert f"no credentials are set for {host}" in str(anonymous.value)
    with pytest.raises(PermanentError) as wrong:
        OciRegistry(lambda h: ("shunter", "wrong")).list_tags(f"{host}/team/app")
    assert f"the credentials given for {host} were refused" in str(wrong.value)


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("repo_url", "base"),
    [
        ("ghcr.io/alkon/flask-app", "https://ghcr.io/v2/alkon/flask-app"),
        ("oci://ghcr.io/alkon/flask-app", "https://ghcr.io/v2/alkon/flask-app"),
        ("http://ghcr.io/alkon/flask-app", "https://ghcr.io/v2/alkon/flask-app"),
        ("nginx", "https://registry-1.docker.io/v2/library/nginx"),
        ("docker.io/nginx", "https://registry-1.docker.io/v2/library/nginx"),
        ("index.docker.io/nginx", "https://registry-1.docker.io/v2/library/nginx"),
        ("bitnami/nginx", "https://registry-1.docker.io/v2/bitnami/nginx"),
        ("docker.io/bitnami/nginx", "https://registry-1.docker.io/v2/bitnami/nginx"),
        ("registry.example.com:5000/a/b", "https://registry.example.com:5000/v2/a/b"),
        ("localhost:5000/a", "http://localhost:5000/v2/a"),
        ("localhost/a", "http://localhost/v2/a"),
        ("127.0.0.1:5000/a", "http://127.0.0.1:5000/v2/a"),
        ("127.9.9.9:80/a", "http://127.9.9.9:80/v2/a"),
        ("[::1]:5000/a", "http://[::1]:5000/v2/a"),
        ("128.0.0.1:5000/a", "https://128.0.0.1:5000/v2/a"),
        ("localhost.example.com/a", "https://localhost.example.com/v2/a"),
    ],
)
def test_addresses_and_schemes(repo_url: str, base: str) -> None:
    assert parse_repo_url(repo_url).base == base


@pytest.mark.parametrize("repo_url", ["ghcr.io/Alkon/App", "ghcr.io/a/b:1.0", "", "ghcr.io/a//b"])
def test_bad_repository_names_are_permanent(repo_url: str) -> None:
    with pytest.raises(PermanentError, match="is not a valid image repository"):
        OciRegistry().list_tags(repo_url)


# ------------------------------------------------------------------ faults, on a loopback stub

GHCR = "https://ghcr.io/v2/alkon/flask-app"
TAGS_URL = f"{GHCR}/tags/list"
CHALLENGE = (
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:alkon/flask-app:pull"'
)


def fast(stub: HttpStub | None = None, **kwargs: object) -> OciRegistry:
    """An adapter with a tiny retry budget and no waiting, whose every host is ``stub``."""
    options: dict[object, object] = {"retries": 2, "backoff": 0.0, "max_retry_after": 0.01}
    if stub is not None:
        options["network"] = stub.network
    options.update(kwargs)
    return OciRegistry(**options)  # type: ignore[arg-type]


def test_anonymous_bearer_challenge_like_ghcr(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=401, headers={"WWW-Authenticate": CHALLENGE})
    token = http_stub.get(
        "https://ghcr.io/token",
        json={"token": "anon-token"},
        query={"service": "ghcr.io", "scope": "repository:alkon/flask-app:pull"},
    )
    http_stub.get(
        TAGS_URL,
        json={"name": "alkon/flask-app", "tags": ["1.0.0", "1.1.0"]},
        match_headers={"Authorization": "Bearer anon-token"},
    )
    registry = fast(http_stub)
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0", "1.1.0"]
    assert registry.requests_made == 3
    assert "Authorization" not in token.calls[0].headers  # anonymous
    # The token is cached for the run: the next call goes straight through.
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0", "1.1.0"]
    assert token.call_count == 1
    assert registry.requests_made == 4


def test_bearer_token_is_fetched_with_basic_credentials(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=401, headers={"WWW-Authenticate": CHALLENGE})
    token = http_stub.get("https://ghcr.io/token", json={"access_token": "user-token"})
    http_stub.get(
        TAGS_URL,
        json={"tags": ["2.0.0"]},
        match_headers={"Authorization": "Bearer user-token"},
    )
    registry = fast(
        http_stub, credentials=lambda host: ("octocat", "ghp_x") if host == "ghcr.io" else None
    )
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["2.0.0"]
    assert token.calls[0].headers["Authorization"] == "Basic b2N0b2NhdDpnaHBfeA=="


def test_still_unauthorized_after_the_token_names_registry_and_credentials(
    http_stub: HttpStub,
) -> None:
    http_stub.get(TAGS_URL, status=401, headers={"WWW-Authenticate": CHALLENGE})
    http_stub.get("https://ghcr.io/token", json={"token": "t"})
    with pytest.raises(PermanentError) as info:
        fast(http_stub).list_tags("ghcr.io/alkon/flask-app")
    message = str(info.value)
    assert "registry ghcr.io refused access to alkon/flask-app (HTTP 401" in message
    assert "no credentials are set for ghcr.io" in message
    assert "read:packages" in message


def test_token_service_refusing_credentials_is_permanent(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=401, headers={"WWW-Authenticate": CHALLENGE})
    http_stub.get("https://ghcr.io/token", status=403)
    with pytest.raises(PermanentError, match=r"credentials given for ghcr\.io were refused"):
        fast(http_stub, credentials=lambda host: ("u", "p")).list_tags("ghcr.io/alkon/flask-app")


def test_basic_challenge_sends_basic_credentials(http_stub: HttpStub) -> None:
    url = "https://registry.example.com/v2/team/app/tags/list"
    http_stub.get(url, status=401, headers={"WWW-Authenticate": 'Basic realm="Registry"'})
    http_stub.get(
        url,
        json={"tags": ["1.0.0"]},
        match_headers={"Authorization": "Basic dTpw"},
    )
    assert fast(http_stub, credentials=lambda host: ("u", "p")).list_tags(
        "registry.example.com/team/app"
    ) == ["1.0.0"]


def test_forbidden_is_permanent(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=403)
    with pytest.raises(PermanentError, match=r"refused access to alkon/flask-app \(HTTP 403"):
        fast(http_stub).list_tags("ghcr.io/alkon/flask-app")


def test_not_found_is_permanent(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
    with pytest.raises(PermanentError, match=r"repository ghcr\.io/alkon/flask-app not found"):
        fast(http_stub).list_tags("ghcr.io/alkon/flask-app")


def test_pagination_follows_link_headers(http_stub: HttpStub) -> None:
    page2 = f"{TAGS_URL}?n=2&last=b"
    page3 = f"{TAGS_URL}?n=2&last=d"
    first = http_stub.get(
        TAGS_URL,
        json={"tags": ["a", "b"]},
        headers={"Link": '</v2/alkon/flask-app/tags/list?n=2&last=b>; rel="next"'},
        query={"n": "2"},
    )
    http_stub.get(
        TAGS_URL,
        json={"tags": ["c", "d"]},
        headers={"Link": f'<{page3}>; rel="next"'},  # an absolute URL works too
        query={"n": "2", "last": "b"},
    )
    http_stub.get(TAGS_URL, json={"tags": ["e"]}, query={"n": "2", "last": "d"})
    registry = fast(http_stub, page_size=2)
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["a", "b", "c", "d", "e"]
    assert first.call_count == 1
    assert registry.requests_made == 3
    assert page2  # the relative Link resolved to this URL (matched above)


def test_a_link_that_loops_back_ends_the_listing(http_stub: HttpStub) -> None:
    http_stub.get(
        TAGS_URL,
        json={"tags": ["a"]},
        headers={"Link": '</v2/alkon/flask-app/tags/list?n=1000>; rel="next"'},
    )
    registry = fast(http_stub)
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["a"]
    assert registry.requests_made == 1


def test_a_429_asking_longer_than_one_wait_is_not_retried_and_carries_its_retry_after(
    http_stub: HttpStub,
) -> None:
    limited = http_stub.get(TAGS_URL, status=429, headers={"Retry-After": "7"})
    registry = fast(http_stub, retries=2)
    with pytest.raises(TransientError) as info:
        registry.list_tags("ghcr.io/alkon/flask-app")
    assert getattr(info.value, "kind", None) is HttpErrorKind.RATE_LIMITED
    assert info.value.retry_after == 7.0
    assert limited.call_count == 1  # not asked again: the wait is longer than fast()'s cap
    assert registry.requests_made == 1


def test_a_429_without_retry_after_is_never_retried_blind(http_stub: HttpStub) -> None:
    limited = http_stub.get(TAGS_URL, status=429)
    with pytest.raises(TransientError) as info:
        fast(http_stub, retries=3).list_tags("ghcr.io/alkon/flask-app")
    assert getattr(info.value, "kind", None) is HttpErrorKind.RATE_LIMITED
    assert limited.call_count == 1


def test_a_retried_429_that_clears_succeeds(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, status=429, headers={"Retry-After": "0"})
    http_stub.get(TAGS_URL, json={"tags": ["1.0.0"]})
    registry = fast(http_stub)
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0"]
    assert registry.requests_made == 2


@pytest.mark.parametrize(("retry_after", "asked"), [("1", 2), ("soon", 1)])
def test_a_retry_after_under_the_cap_is_waited_for_and_junk_is_not_a_wait(
    http_stub: HttpStub, retry_after: str, asked: int
) -> None:
    limited = http_stub.get(TAGS_URL, status=429, headers={"Retry-After": retry_after})
    http_stub.get(TAGS_URL, json={"tags": ["1.0.0"]})
    registry = fast(http_stub, max_retry_after=5.0)
    if asked == 2:
        assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0"]
    else:  # a Retry-After that is neither seconds nor a date: no blind retry of a 429
        with pytest.raises(TransientError):
            registry.list_tags("ghcr.io/alkon/flask-app")
    assert (limited.call_count, len(http_stub.calls), registry.requests_made) == (1, asked, asked)


@pytest.mark.parametrize(("status", "tries"), [(502, 3), (503, 3), (504, 3), (500, 1)])
def test_server_errors_are_transient(http_stub: HttpStub, status: int, tries: int) -> None:
    failing = http_stub.get(TAGS_URL, status=status)
    with pytest.raises(TransientError, match=f"answered HTTP {status}"):
        fast(http_stub, retries=2).list_tags("ghcr.io/alkon/flask-app")
    assert failing.call_count == tries  # 500 is not in the retry list


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ("silent", HttpErrorKind.TIMED_OUT),  # no connection within the connect timeout
        ("stall", HttpErrorKind.TIMED_OUT),  # connected, no answer within the read timeout
        ("refused", HttpErrorKind.TRANSIENT),
        ("drop", HttpErrorKind.TRANSIENT),  # the connection closed without an answer
    ],
)
def test_network_failures_are_transient(
    http_stub: HttpStub, failure: str, kind: HttpErrorKind
) -> None:
    if failure in ("silent", "refused"):
        http_stub.down("ghcr.io", how=failure)
    else:
        http_stub.get(TAGS_URL, json={"tags": []}, delay=1.0 if failure == "stall" else 0.0,
                      drop=failure == "drop")  # fmt: skip
    with pytest.raises(TransientError) as info:
        fast(http_stub, timeout=(0.3, 0.3)).list_tags("ghcr.io/alkon/flask-app")
    assert getattr(info.value, "kind", None) is kind


@pytest.mark.parametrize(("wait", "asked_again"), [("3600", False), ("5", True)])
def test_a_retry_after_longer_than_the_run_has_left_stops_asking_that_host(
    http_stub: HttpStub, wait: str, asked_again: bool
) -> None:
    http_stub.get(TAGS_URL, status=429, headers={"Retry-After": wait})
    other = http_stub.get("https://ghcr.io/v2/alkon/worker/tags/list", json={"tags": ["1"]})
    registry = fast(http_stub, deadline=Deadline(60.0))
    with pytest.raises(TransientError) as first:
        registry.list_tags("ghcr.io/alkon/flask-app")
    assert getattr(first.value, "kind", None) is HttpErrorKind.RATE_LIMITED
    assert first.value.retry_after == float(wait)
    if asked_again:
        assert registry.list_tags("ghcr.io/alkon/worker") == ["1"]
    else:
        with pytest.raises(TransientError) as second:
            registry.list_tags("ghcr.io/alkon/worker")
        assert getattr(second.value, "kind", None) is HttpErrorKind.RATE_LIMITED
    assert other.call_count == (1 if asked_again else 0)


def test_a_host_that_timed_out_is_not_asked_again_this_run(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, json={"tags": []}, delay=1.0)
    other = http_stub.get("https://ghcr.io/v2/alkon/worker/tags/list", json={"tags": ["1"]})
    registry = fast(http_stub, timeout=(1.0, 0.3))
    with pytest.raises(TransientError):
        registry.list_tags("ghcr.io/alkon/flask-app")
    with pytest.raises(TransientError) as info:
        registry.list_tags("ghcr.io/alkon/worker")
    assert getattr(info.value, "kind", None) is HttpErrorKind.TIMED_OUT
    assert other.call_count == 0
    assert registry.requests_by_host == {"ghcr.io": 1}


@pytest.mark.parametrize(
    "body", ["<html>gateway</html>", "", '{"tags": "1.0.0"}', '["1.0.0"]', "\xff\xfe"]
)
def test_garbage_bodies_are_transient(http_stub: HttpStub, body: str) -> None:
    http_stub.get(TAGS_URL, body=body)
    with pytest.raises(TransientError, match=r"registry ghcr\.io answered"):
        fast(http_stub).list_tags("ghcr.io/alkon/flask-app")


def test_null_tags_is_an_empty_repository(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, json={"name": "alkon/flask-app", "tags": None})
    assert fast(http_stub).list_tags("ghcr.io/alkon/flask-app") == []


def test_hostile_tag_names_are_skipped_and_counted(http_stub: HttpStub) -> None:
    hostile = ["../../etc/passwd", "1.0.0\nrm -rf /", "$(curl evil)", "x" * 300, 7, None]
    http_stub.get(TAGS_URL, json={"tags": ["1.0.0", *hostile, "latest"]})
    registry = fast(http_stub)
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0", "latest"]
    assert registry.skipped_tags == len(hostile)


def test_non_loopback_hosts_are_only_reached_over_https(http_stub: HttpStub) -> None:
    # Only https is registered: a plain-http request would find no match and fail.
    http_stub.get("https://registry.example.com/v2/a/tags/list", json={"tags": ["1"]})
    assert fast(http_stub).list_tags("http://registry.example.com/a") == ["1"]
    assert str(http_stub.calls[0].url).startswith("https://")


# ------------------------------------------------------------------ digests, on a loopback stub

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def test_digest_comes_from_the_head_header_with_accept_types(http_stub: HttpStub) -> None:
    head = http_stub.head(
        f"{GHCR}/manifests/1.0.0",
        headers={"Docker-Content-Digest": DIGEST_A, "Content-Type": OCI_MANIFEST},
    )
    assert fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0") == DIGEST_A
    accept = head.calls[0].headers["Accept"]
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in accept


def test_digest_without_header_is_the_sha256_of_the_body(http_stub: HttpStub) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    http_stub.head(f"{GHCR}/manifests/1.0.0", headers={"Content-Type": OCI_MANIFEST})
    http_stub.get(f"{GHCR}/manifests/1.0.0", body=body, content_type=OCI_MANIFEST)
    expected = "sha256:" + hashlib.sha256(body).hexdigest()
    assert fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0") == expected


INDEX = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {"digest": DIGEST_A, "platform": {"os": "linux", "architecture": "amd64"}},
        {
            "digest": DIGEST_B,
            "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
        },
    ],
}


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux/amd64", DIGEST_A), ("linux/arm64", DIGEST_B), ("linux/arm64/v8", DIGEST_B)],
)
def test_index_digest_for_a_platform(http_stub: HttpStub, platform: str, expected: str) -> None:
    http_stub.head(
        f"{GHCR}/manifests/1.0.0",
        headers={"Docker-Content-Digest": "sha256:" + "c" * 64, "Content-Type": OCI_INDEX},
    )
    http_stub.get(f"{GHCR}/manifests/1.0.0", json=INDEX, content_type=OCI_INDEX)
    assert fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0", platform) == expected


def test_index_without_the_platform_is_permanent_and_lists_what_it_has(http_stub: HttpStub) -> None:
    http_stub.head(f"{GHCR}/manifests/1.0.0", headers={"Content-Type": OCI_INDEX})
    http_stub.get(f"{GHCR}/manifests/1.0.0", json=INDEX, content_type=OCI_INDEX)
    with pytest.raises(PermanentError, match=r"no image for platform windows/amd64 \(it has: "):
        fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0", "windows/amd64")


def test_index_digest_without_platform_is_the_index_itself(http_stub: HttpStub) -> None:
    index_digest = "sha256:" + "c" * 64
    http_stub.head(
        f"{GHCR}/manifests/1.0.0",
        headers={"Docker-Content-Digest": index_digest, "Content-Type": OCI_INDEX},
    )
    assert fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0") == index_digest


def test_malformed_digest_header_is_transient(http_stub: HttpStub) -> None:
    http_stub.head(f"{GHCR}/manifests/1.0.0", headers={"Docker-Content-Digest": "md5:zz"})
    with pytest.raises(TransientError, match="malformed digest"):
        fast(http_stub).digest("ghcr.io/alkon/flask-app", "1.0.0")


def test_digest_refuses_a_hostile_tag_before_any_request() -> None:
    registry = fast()
    with pytest.raises(PermanentError, match="is not a valid tag"):
        registry.digest("ghcr.io/alkon/flask-app", "../../v2/_catalog")
    assert registry.requests_made == 0


# ------------------------------------------------------------------ conditional lists, budgets


def test_a_conditional_tag_list_answered_304_reuses_the_cache(http_stub: HttpStub) -> None:
    listing = http_stub.get(
        TAGS_URL,
        status=304,
        match_headers={"If-None-Match": '"v1"'},
    )
    registry = fast(http_stub)
    result = registry.list_tags_if_changed("ghcr.io/alkon/flask-app", '"v1"')
    assert (result.tags, result.etag, listing.call_count, registry.requests_made) == (
        None,
        '"v1"',
        1,
        1,
    )


def test_a_changed_tag_list_returns_tags_and_the_new_etag(http_stub: HttpStub) -> None:
    http_stub.get(TAGS_URL, json={"tags": ["1.0.0", "1.1.0"]}, headers={"ETag": '"v2"'})
    result = fast(http_stub).list_tags_if_changed("ghcr.io/alkon/flask-app", '"v1"')
    assert (result.tags, result.etag) == (["1.0.0", "1.1.0"], '"v2"')


def test_a_paginated_tag_list_keeps_no_etag(http_stub: HttpStub) -> None:
    # One page's validator says nothing of the next page: the caller must not reuse it.
    http_stub.get(
        TAGS_URL,
        json={"tags": ["1.0.0"]},
        headers={
            "ETag": '"p1"',
            "Link": '</v2/alkon/flask-app/tags/list?n=1&last=1.0.0>; rel="next"',
        },
        query={"n": "1000"},
    )
    http_stub.get(
        TAGS_URL,
        json={"tags": ["2.0.0"]},
        query={"n": "1", "last": "1.0.0"},
    )
    result = fast(http_stub).list_tags_if_changed("ghcr.io/alkon/flask-app", None)
    assert (result.tags, result.etag) == (["1.0.0", "2.0.0"], None)


def test_the_request_budget_per_host_is_a_transient_error_naming_host_and_budget(
    http_stub: HttpStub,
) -> None:
    http_stub.get(TAGS_URL, json={"tags": ["1.0.0"]})
    http_stub.get("https://quay.io/v2/alkon/worker/tags/list", json={"tags": ["1.0.0"]})
    registry = fast(http_stub, budget=2)
    for _ in range(2):
        registry.list_tags("ghcr.io/alkon/flask-app")
    with pytest.raises(TransientError, match=r"registry ghcr\.io: .*budget of 2 requests"):
        registry.list_tags("ghcr.io/alkon/flask-app")
    # Another host has its own budget.
    assert registry.list_tags("quay.io/alkon/worker") == ["1.0.0"]
    assert registry.requests_by_host == {"ghcr.io": 2, "quay.io": 1}


def test_docker_hub_names_and_its_token_service(http_stub: HttpStub) -> None:
    hub = "https://registry-1.docker.io/v2/library/nginx/tags/list"
    challenge = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull"'
    )
    http_stub.get(hub, status=401, headers={"WWW-Authenticate": challenge})
    token = http_stub.get(
        "https://auth.docker.io/token",
        json={"token": "hub-token"},
        query={"service": "registry.docker.io", "scope": "repository:library/nginx:pull"},
    )
    http_stub.get(
        hub,
        json={"tags": ["1.27.0"]},
        match_headers={"Authorization": "Bearer hub-token"},
    )
    registry = fast(http_stub)
    assert registry.list_tags("docker.io/nginx") == ["1.27.0"]
    assert token.call_count == 1 and registry.requests_by_host == {"registry-1.docker.io": 3}


def test_ghcr_private_packages_use_github_token_as_basic_for_the_bearer_token(
    http_stub: HttpStub,
) -> None:
    import base64

    http_stub.get(TAGS_URL, status=401, headers={"WWW-Authenticate": CHALLENGE})
    basic = "Basic " + base64.b64encode(b"octocat:ghs_token").decode()
    http_stub.get(
        "https://ghcr.io/token",
        json={"token": "private-token"},
        match_headers={"Authorization": basic},
    )
    http_stub.get(
        TAGS_URL,
        json={"tags": ["1.0.0"]},
        match_headers={"Authorization": "Bearer private-token"},
    )
    registry = fast(
        http_stub, credentials=lambda h: ("octocat", "ghs_token") if h == "ghcr.io" else None
    )
    assert registry.list_tags("ghcr.io/alkon/flask-app") == ["1.0.0"]


# ------------------------------------------------------------------ build dates


def test_image_info_reads_created_from_the_config_blob_of_the_platform(http_stub: HttpStub) -> None:
    config_digest = "sha256:" + "d" * 64
    index_digest = "sha256:" + "c" * 64
    http_stub.get(
        f"{GHCR}/manifests/1.0.0",
        json=INDEX,
        content_type=OCI_INDEX,
        headers={"Docker-Content-Digest": index_digest},
    )
    http_stub.get(
        f"{GHCR}/manifests/{DIGEST_B}",
        json={"mediaType": OCI_MANIFEST, "config": {"digest": config_digest}},
        headers={"Docker-Content-Digest": DIGEST_B},
    )
    http_stub.get(
        f"{GHCR}/blobs/{config_digest}", json={"created": "2024-05-01T12:00:00.123456789Z"}
    )
    info = fast(http_stub).image_info("ghcr.io/alkon/flask-app", "1.0.0", "linux/arm64")
    assert info.digest == DIGEST_B
    assert info.created == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_image_info_over_the_real_registry(oci_registry: LocalRegistry, tmp_path: Path) -> None:
    built = datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    digest = push_image(oci_registry.host, "alkon/dated", "1.0.0", workdir=tmp_path, created=built)
    registry = OciRegistry()
    info = registry.image_info(f"{oci_registry.host}/alkon/dated", "1.0.0")
    assert (info.digest, info.created) == (digest, built)
    assert registry.requests_made == 2  # manifest, config blob


def test_platform_of_a_pushed_multi_arch_index(oci_registry: LocalRegistry, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    amd = write_oci_layout(layout, "a", content="amd", created=datetime.now(UTC), arch="amd64")
    arm = write_oci_layout(layout, "b", content="arm", created=datetime.now(UTC), arch="arm64")
    index_path = layout / "index.json"
    top = json.loads(index_path.read_text())
    entries = [{k: v for k, v in m.items() if k != "annotations"} for m in top["manifests"]]
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    index_digest = "sha256:" + hashlib.sha256(body).hexdigest()
    (layout / "blobs" / "sha256" / index_digest.removeprefix("sha256:")).write_bytes(body)
    ref = "org.opencontainers.image.ref.name"
    top["manifests"] = [
        {
            "mediaType": OCI_INDEX,
            "digest": index_digest,
            "size": len(body),
            "annotations": {ref: "multi"},
        }
    ]
    index_path.write_text(json.dumps(top))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", "--all", "--preserve-digests",
         "--dest-tls-verify=false", f"oci:{layout}:multi",
         f"docker://{oci_registry.host}/alkon/multi:1.0.0"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    repo = f"{oci_registry.host}/alkon/multi"
    registry = OciRegistry()
    assert registry.digest(repo, "1.0.0") == index_digest
    assert registry.digest(repo, "1.0.0", "linux/amd64") == amd
    assert registry.digest(repo, "1.0.0", "linux/arm64") == arm
    assert registry.image_info(repo, "1.0.0", "linux/arm64").digest == arm
    with pytest.raises(PermanentError, match="no image for platform linux/s390x"):
        registry.digest(repo, "1.0.0", "linux/s390x")


def test_cache_ttl_spares_the_real_registry(oci_registry: LocalRegistry, tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.loop.discover import discover_image

    push_image(oci_registry.host, "alkon/ttl", "1.0.0", workdir=tmp_path)
    sub = ImageSubscription(repo_url=f"{oci_registry.host}/alkon/ttl", cache_ttl=timedelta(hours=1))
    registry = OciRegistry()
    now = datetime(2024, 5, 1, tzinfo=UTC)
    _, entry = discover_image(registry, sub, now=now)
    spent = registry.requests_made
    push_image(oci_registry.host, "alkon/ttl", "1.1.0", workdir=tmp_path)
    inside, _ = discover_image(registry, sub, cached=entry, now=now + timedelta(minutes=59))
    assert registry.requests_made == spent
    assert [a.tag for a in inside if isinstance(a, Image)] == ["1.0.0"]
    past, _ = discover_image(registry, sub, cached=entry, now=now + timedelta(minutes=61))
    assert [a.tag for a in past if isinstance(a, Image)] == ["1.1.0"]


def test_insecure_skip_tls_verify_applies_to_its_host_only() -> None:
    # Both hosts serve the same self-signed certificate, over real TLS.
    with HttpStub(tls=True) as stub:
        listed = stub.get(
            "https://selfsigned.example/v2/team/app/tags/list",
            json={"name": "team/app", "tags": ["1.0.0"]},
        )
        checked = stub.get("https://ghcr.io/v2/team/app/tags/list", json={"tags": ["2.0.0"]})
        reg = OciRegistry(insecure_hosts=frozenset({"selfsigned.example"}), network=stub.network)
        assert reg.list_tags("selfsigned.example/team/app") == ["1.0.0"]
        # Every other host keeps certificate checks: the same certificate is refused there.
        with pytest.raises(PermanentError) as info:
            reg.list_tags("ghcr.io/team/app")
    assert getattr(info.value, "kind", None) is HttpErrorKind.PERMANENT
    assert (listed.call_count, checked.call_count) == (1, 0)


# --------------------------------------------------------------------------- token realms


@pytest.mark.parametrize(
    ("repo", "realm", "allowed"),
    [
        ("ghcr.io/alkon/app", "https://ghcr.io/token", True),
        ("ghcr.io/alkon/app", "https://ghcr.io:443/token", True),
        ("ghcr.io/alkon/app", "http://ghcr.io/token", False),  # plain http off loopback
        ("ghcr.io/alkon/app", "https://evil.example/token", False),
        ("ghcr.io/alkon/app", "https://auth.docker.io/token", False),  # Hub's, not GHCR's
        ("docker.io/library/nginx", "https://auth.docker.io/token", True),
        ("nginx", "https://auth.docker.io/token", True),
        ("quay.io/org/app", "https://quay.io/v2/auth", True),
        ("quay.io/org/app", "https://quay.io.evil.example/v2/auth", False),
        ("127.0.0.1:5000/app", "http://127.0.0.1:5000/token", True),
        ("127.0.0.1:5000/app", "http://127.0.0.1:6000/token", False),  # another server
        ("127.0.0.1:5000/app", "http://user@127.0.0.1:5000/token", True),
    ],
)
def test_credentials_go_only_to_the_registrys_own_token_realm(
    repo: str, realm: str, allowed: bool
) -> None:
    assert (realm_refusal(parse_repo_url(repo), realm) is None) is allowed


class _HostileWorld:
    """A loopback registry whose Bearer challenge names a realm on another loopback port
    (the hostile realm), which records every Authorization header it receives."""

    def __init__(self) -> None:
        self.realm_saw: list[str | None] = []
        self.registry_saw: list[str | None] = []
        world = self

        class Realm(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                world.realm_saw.append(self.headers.get("Authorization"))
                self._json({"token": "anonymous-token"})

            def _json(self, body: object) -> None:
                send_json(self, 200, body)

            def log_message(self, *args: object) -> None:
                pass

        class Registry(Realm):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                world.registry_saw.append(auth)
                if auth != "Bearer anonymous-token":
                    self.send_response(401)
                    self.send_header(
                        "WWW-Authenticate",
                        f'Bearer realm="http://127.0.0.1:{world.realm_port}/token",'
                        'service="registry"',
                    )
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._json({"name": "alkon/app", "tags": ["1.0.0"]})

        self.realm = ThreadingHTTPServer(("127.0.0.1", 0), Realm)
        self.realm_port = self.realm.server_address[1]
        self.registry = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
        self.host = f"127.0.0.1:{self.registry.server_address[1]}"
        for server in (self.realm, self.registry):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.realm, self.registry):
            server.shutdown()
            server.server_close()


def test_a_hostile_token_realm_never_receives_the_secret() -> None:
    world = _HostileWorld()
    try:
        secret = ("shunter", "correct-horse-battery")
        registry = OciRegistry(lambda host: secret if host == world.host else None, retries=0)
        # A public image still resolves: the token is fetched anonymously.
        assert registry.list_tags(f"{world.host}/alkon/app") == ["1.0.0"]
    finally:
        world.close()
    assert world.realm_saw == [None]
    assert world.registry_saw == [None, "Bearer anonymous-token"]

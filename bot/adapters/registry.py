"""The OCI registry adapter: tags and manifest digests over the Distribution HTTP API.

Everything here follows the OCI Distribution spec
(https://github.com/opencontainers/distribution-spec/blob/main/spec.md) and, for the
token dance, the Docker registry token spec
(https://distribution.github.io/distribution/spec/auth/token/), which GHCR, Docker Hub,
Quay and the reference registry all speak.

Failures leave this module only as ``bot.errors`` types:

* 401/403 after authenticating, 404, other 4xx -> ``PermanentError`` (a person must act);
* 429 and 502/503/504 after the retry budget, other 5xx, timeouts, refused connections,
  bodies that are not JSON -> ``TransientError`` (the next run may succeed).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from bot.adapters.http import HttpErrorKind, decipher, http_error
from bot.core.discover.versions import tag_is_safe
from bot.errors import PermanentError, ShunterError, TransientError
from bot.ports import Deadline, ImageInfo, TagList

if TYPE_CHECKING:
    from bot.adapters.http import Network, Response

__all__ = ["Credentials", "OciRegistry", "RegistryAddress", "parse_repo_url"]

#: Returns ``(username, password)`` for a registry host, or ``None`` for anonymous access.
Credentials = Callable[[str], tuple[str, str] | None]

# Media types a manifest request accepts: OCI image index and manifest
# (https://github.com/opencontainers/image-spec/blob/main/media-types.md) and their
# Docker predecessors, which older images and Docker Hub still serve.
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

DOCKER_HUB = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", DOCKER_HUB})

# Repository name grammar from the distribution spec ("Pulling manifests" section).
_NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
# One auth-param of a WWW-Authenticate challenge (RFC 7235 section 2.1).
_AUTH_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')

_RETRY_STATUSES = (429, 502, 503, 504)
# Guards against a registry whose Link header loops back on itself.
_MAX_PAGES = 1000


class RegistryAddress:
    """Where a ``repoURL`` lives: the registry host, the URL scheme and the repository name."""

    __slots__ = ("host", "name", "scheme")

    def __init__(self, host: str, name: str, scheme: str) -> None:
        self.host = host
        self.name = name
        self.scheme = scheme

    @property
    def base(self) -> str:
        """``scheme://host/v2/name``: the prefix of every endpoint of this repository."""
        return f"{self.scheme}://{self.host}/v2/{self.name}"

    def __repr__(self) -> str:
        return f"RegistryAddress({self.host!r}, {self.name!r}, {self.scheme!r})"


def _is_loopback(host: str) -> bool:
    bare = host
    if bare.startswith("["):
        bare = bare[1 : bare.find("]")] if "]" in bare else bare[1:]
    elif bare.count(":") == 1:
        bare = bare.split(":", 1)[0]
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def parse_repo_url(repo_url: str) -> RegistryAddress:
    """Split ``host[:port]/path`` into a :class:`RegistryAddress`.

    Docker's rules apply: with no registry host (the first segment has no ``.`` or
    ``:`` and is not ``localhost``), or with ``docker.io``/``index.docker.io``, the host
    is Docker Hub's API host, and a one-segment Docker Hub name gets ``library/``.
    Plain ``http`` is used only for loopback hosts (127.0.0.0/8, ``localhost``,
    ``[::1]``), ``https`` otherwise, whatever scheme the URL was written with.

    Raises ``PermanentError`` if the name is not a valid repository name.
    """
    text = repo_url.strip()
    for prefix in ("oci://", "docker://", "https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.strip("/")
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, name = first.lower(), rest
    else:
        host, name = DOCKER_HUB, text
    if host in _DOCKER_HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in name:
            name = f"library/{name}"
    if not _NAME_RE.fullmatch(name):
        raise PermanentError(
            f"{repo_url!r} is not a valid image repository: write it as host/path in lower "
            "case, without a tag or scheme (for example ghcr.io/owner/app)"
        )
    scheme = "http" if _is_loopback(host) else "https"
    return RegistryAddress(host, name, scheme)


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="...",service="..."`` into ``("bearer", {realm: ..., ...})``."""
    scheme, _, params = header.strip().partition(" ")
    values = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _AUTH_PARAM_RE.finditer(params)
    }
    return scheme.lower(), values


def _offers(entries: list[Any], platform: str) -> bool:
    os_, _, arch = platform.partition("/")
    return any(
        isinstance(e, dict)
        and isinstance(e.get("platform"), dict)
        and e["platform"].get("os") == os_
        and e["platform"].get("architecture") == arch
        for e in entries
    )


def _first(entries: list[Any]) -> dict[str, Any]:
    for e in entries:
        if isinstance(e, dict):
            return e
    return {}


def _parse_created(value: Any) -> datetime | None:
    """Read an image config's ``created`` (RFC 3339, often with nanoseconds) as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python reads at most microseconds: cut longer fractions (Go writes nanoseconds).
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


class OciRegistry:
    """:class:`bot.ports.Registry` over HTTP, with :class:`bot.adapters.http.Session`.

    ``credentials(host)`` returns ``(username, password)`` for a registry host (as
    contacted: ``registry-1.docker.io`` for Docker Hub, ``127.0.0.1:5000`` for a local
    one) or ``None`` for anonymous access; they never come from the config file.
    ``timeout`` is (connect, read) seconds for every request; ``retries`` is the budget
    for 429/502/503/504 and connection failures, and ``max_retry_after`` caps one
    ``Retry-After`` wait. Bearer tokens are cached per host and scope for the life of
    the instance (one run).

    ``budget`` caps the HTTP attempts one instance (one run) makes per registry host
    (token fetches and retries count against the host being read): a run that would pass
    it fails that request with ``TransientError`` naming the host and the budget, so a
    misbehaving registry or a config with very many subscriptions cannot spend a
    registry's rate limit in one run. Retries of one request may pass it by ``retries``.

    ``deadline`` bounds every request's timeout and every ``Retry-After`` wait. A host
    that times out, or asks (``Retry-After``) to be left alone for longer than the run
    has left, is not asked again by this instance: later calls about it fail at once
    with the same kind of error (``TIMED_OUT`` or ``RATE_LIMITED``), saying so.

    The instance may be shared by threads (the loop discovers subscriptions
    concurrently): counters, the token cache and the per-host state are locked.

    ``network`` carries the proxy settings (and, in tests, the loopback seam).

    ``requests_made`` counts every HTTP attempt (token fetches and retries included);
    ``requests_by_host`` splits it by registry host; ``skipped_tags`` counts listed tags
    dropped because they fail the OCI tag grammar.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        page_size: int = 1000,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        budget: int = 200,
        insecure_hosts: frozenset[str] = frozenset(),
        deadline: Deadline | None = None,
        network: Network | None = None,
    ) -> None:
        from bot.adapters.http import session

        self._credentials: Credentials = credentials or (lambda host: None)
        self._page_size = page_size
        self._timeout = timeout
        self._deadline = deadline
        self._auth: dict[tuple[str, str], str] = {}
        self.requests_made = 0
        self.requests_by_host: dict[str, int] = {}
        self.skipped_tags = 0
        self._budget = budget
        # Hosts whose subscriptions say insecureSkipTLSVerify: true (self-signed registries).
        self._insecure = insecure_hosts
        # Hosts not to ask again this run, with the error that made it so.
        self._given_up: dict[str, ShunterError] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # .host: the registry host this thread is reading
        self._session = session(
            {},
            retries=retries,
            backoff=backoff,
            statuses=_RETRY_STATUSES,
            max_wait=max_retry_after,
            deadline=deadline,
            on_retry=self._count_retry,
            network=network,
        )

    def _count_retry(self) -> None:
        host = getattr(self._local, "host", "")
        with self._lock:
            self.requests_made += 1
            self.requests_by_host[host] = self.requests_by_host.get(host, 0) + 1

    def close(self) -> None:
        """Close the HTTP connections (the instance stays usable; it reconnects)."""
        self._session.close()

    # ------------------------------------------------------------------ port methods

    def list_tags(self, repo_url: str) -> list[str]:
        """Return every tag of ``repo_url``, in the registry's order, following ``Link``
        pagination (spec section "Listing Tags"); tags that fail
        :func:`bot.core.discover.versions.tag_is_safe` are dropped and counted in ``skipped_tags``.

        Raises ``PermanentError`` (401/403 after auth, 404, bad name) or
        ``TransientError`` (429/5xx after retries, timeouts, bodies that are not JSON).
        """
        listing = self._list_tags(parse_repo_url(repo_url), None)
        return listing.tags or []

    def list_tags_if_changed(self, repo_url: str, etag: str | None) -> TagList:
        """Return the tag list as :meth:`list_tags` does, asked conditionally.

        With ``etag``, the first page is requested with ``If-None-Match`` (RFC 9110
        section 13.1.2); a 304 answer returns ``TagList(None, etag)`` and costs one
        request. The returned ``etag`` is the first page's ``ETag`` header, or ``None``
        when the registry sent none or the list spanned several pages (one page's
        validator says nothing about the next). Raises as :meth:`list_tags`.
        """
        return self._list_tags(parse_repo_url(repo_url), etag)

    def _list_tags(self, addr: RegistryAddress, etag: str | None) -> TagList:
        url: str | None = f"{addr.base}/tags/list?{urlencode({'n': self._page_size})}"
        seen: set[str] = set()
        tags: list[str] = []
        first_etag: str | None = None
        while url is not None and url not in seen and len(seen) < _MAX_PAGES:
            conditional = {"If-None-Match": etag} if etag and not seen else {}
            seen.add(url)
            response = self._get(addr, "GET", url, what="the tag list", extra=conditional)
            if response.status_code == 304 and conditional:
                return TagList(None, etag)
            if len(seen) == 1:
                first_etag = response.headers.get("ETag") or None
            body = self._json(addr, response, "the tag list")
            listed = body.get("tags") if isinstance(body, dict) else None
            if listed is None and isinstance(body, dict) and "tags" in body:
                listed = []  # the reference registry says "tags": null for none
            if not isinstance(listed, list):
                raise TransientError(
                    f"registry {addr.host} answered the tag list of {addr.name} without a "
                    "'tags' array; it may be misbehaving, try again later"
                )
            for tag in listed:
                if isinstance(tag, str) and tag_is_safe(tag):
                    tags.append(tag)
                else:
                    self.skipped_tags += 1
            next_url = response.links.get("next", {}).get("url")
            # The Link URL may be relative to the request's (RFC 8288 section 3.2).
            url = urljoin(url, next_url) if next_url else None
        return TagList(tags, first_etag if len(seen) == 1 else None)

    def digest(self, repo_url: str, tag: str, platform: str | None = None) -> str:
        """Return the manifest digest (``sha256:...``) ``tag`` points at.

        A ``HEAD`` of the manifest gives ``Docker-Content-Digest``; when a registry omits
        it, the digest is computed from the ``GET`` body (spec section "Pulling
        manifests"). With ``platform`` (``os/arch`` or ``os/arch/variant``) and an image
        index, the digest of that platform's manifest is returned; a single-platform
        manifest is returned as is.

        Raises ``PermanentError`` (unknown tag or repository, no such platform, access
        refused) or ``TransientError`` (as :meth:`list_tags`).
        """
        addr = parse_repo_url(repo_url)
        if not (tag_is_safe(tag) or _DIGEST_RE.fullmatch(tag)):
            raise PermanentError(f"{tag!r} is not a valid tag of {addr.host}/{addr.name}")
        url = f"{addr.base}/manifests/{tag}"
        what = f"tag {tag}"
        head = self._get(addr, "HEAD", url, what=what, tag=tag)
        media_type = head.headers.get("Content-Type", "").split(";")[0].strip()
        header_digest = head.headers.get("Docker-Content-Digest", "").strip()
        if platform is None or (media_type and media_type not in _INDEX_TYPES):
            if header_digest:
                return self._checked_digest(addr, header_digest)
            body = self._get(addr, "GET", url, what=what, tag=tag).content
            return "sha256:" + hashlib.sha256(body).hexdigest()
        response = self._get(addr, "GET", url, what=what, tag=tag)
        document = self._json(addr, response, f"the manifest of {tag}")
        if not isinstance(document, dict) or not isinstance(document.get("manifests"), list):
            # Not an index after all: the tag is a single-platform image.
            return "sha256:" + hashlib.sha256(response.content).hexdigest()
        return self._platform_digest(addr, tag, document["manifests"], platform)

    def image_info(self, repo_url: str, tag: str, platform: str | None = None) -> ImageInfo:
        """Return the digest and build date of ``tag``.

        The manifest is fetched (``GET``, so its digest is known without a ``HEAD``),
        then its config blob, whose ``created`` field is the build date (image-spec
        ``config.md``: https://github.com/opencontainers/image-spec/blob/main/config.md).
        For an image index the date is that of ``platform``'s manifest (``linux/amd64``
        when no platform is asked, else the first entry) and the digest that of the
        platform manifest when ``platform`` is given, else of the index itself, as
        :meth:`digest` does. A missing or unreadable ``created`` gives ``created=None``.

        Raises as :meth:`digest`.
        """
        addr = parse_repo_url(repo_url)
        if not (tag_is_safe(tag) or _DIGEST_RE.fullmatch(tag)):
            raise PermanentError(f"{tag!r} is not a valid tag of {addr.host}/{addr.name}")
        what = f"tag {tag}"
        digest, document = self._manifest(addr, tag, what)
        if isinstance(document.get("manifests"), list):
            entries = document["manifests"]
            if platform:
                chosen = digest = self._platform_digest(addr, tag, entries, platform)
            elif _offers(entries, "linux/amd64"):
                chosen = self._platform_digest(addr, tag, entries, "linux/amd64")
            else:
                chosen = self._checked_digest(addr, str(_first(entries).get("digest", "")))
            _, document = self._manifest(addr, chosen, what)
        config = document.get("config")
        config_digest = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(config_digest, str) or not _DIGEST_RE.fullmatch(config_digest):
            return ImageInfo(digest, None)
        blob = self._get(addr, "GET", f"{addr.base}/blobs/{config_digest}", what=what, tag=tag)
        body = self._json(addr, blob, f"the image config of {tag}")
        created = body.get("created") if isinstance(body, dict) else None
        return ImageInfo(digest, _parse_created(created))

    # ------------------------------------------------------------------ helpers

    def _manifest(self, addr: RegistryAddress, ref: str, what: str) -> tuple[str, dict[str, Any]]:
        """``GET`` a manifest; return (its digest, its JSON object)."""
        response = self._get(addr, "GET", f"{addr.base}/manifests/{ref}", what=what, tag=ref)
        header = response.headers.get("Docker-Content-Digest", "").strip()
        digest = (
            self._checked_digest(addr, header)
            if header
            else "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        document = self._json(addr, response, f"the manifest of {ref}")
        if not isinstance(document, dict):
            raise TransientError(
                f"registry {addr.host} answered a manifest of {addr.name}:{ref} that is not "
                "a JSON object; try again later"
            )
        return digest, document

    def _platform_digest(
        self, addr: RegistryAddress, tag: str, manifests: list[Any], platform: str
    ) -> str:
        wanted = platform.strip().lower().split("/")
        offered: list[str] = []
        for entry in manifests:
            if not isinstance(entry, dict) or not isinstance(entry.get("platform"), dict):
                continue
            p = entry["platform"]
            parts = [str(p.get("os", "")), str(p.get("architecture", ""))]
            if p.get("variant"):
                parts.append(str(p["variant"]))
            offered.append("/".join(parts))
            # "linux/arm64" matches "linux/arm64/v8": a variant is checked only if asked.
            if [x.lower() for x in parts[: len(wanted)]] == wanted:
                return self._checked_digest(addr, str(entry.get("digest", "")))
        raise PermanentError(
            f"{addr.host}/{addr.name}:{tag} has no image for platform {platform} "
            f"(it has: {', '.join(offered) or 'none'}); fix the subscription's platform"
        )

    def _checked_digest(self, addr: RegistryAddress, digest: str) -> str:
        if not _DIGEST_RE.fullmatch(digest):
            raise TransientError(
                f"registry {addr.host} answered a malformed digest {digest[:80]!r} for "
                f"{addr.name}; try again later"
            )
        return digest

    def _json(self, addr: RegistryAddress, response: Response, what: str) -> Any:
        return decipher(
            response.status_code,
            response.headers,
            response.content,
            now=datetime.now(UTC),
            where=f"registry {addr.host}",
        )

    def _send(
        self, addr: RegistryAddress, method: str, url: str, headers: dict[str, str]
    ) -> Response:
        from bot.adapters.http import NetworkError, TimedOut, TlsRefused

        with self._lock:
            given_up = self._given_up.get(addr.host)
            spent = self.requests_by_host.get(addr.host, 0)
            if given_up is None and spent >= self._budget:
                given_up = http_error(
                    HttpErrorKind.BUDGET,
                    f"registry {addr.host}: this run used its budget of {self._budget} "
                    "requests to that host; the rest waits for the next run, which asks the "
                    "warehouses left out first (raise spec.discovery.requestsPerHost if "
                    "your warehouses need more)",
                )
            if given_up is not None:
                raise given_up
            self.requests_made += 1
            self.requests_by_host[addr.host] = spent + 1
        self._local.host = addr.host
        connect, read = self._timeout
        if self._deadline is not None:
            connect, read = self._deadline.timeout(connect), self._deadline.timeout(read)
        try:
            return self._session.request(
                method,
                url,
                headers=headers,
                timeout=(connect, read),
                allow_redirects=True,
                verify=addr.host not in self._insecure,
            )
        except TlsRefused as exc:
            raise http_error(
                HttpErrorKind.PERMANENT,
                f"registry {addr.host}: its TLS certificate was refused ({exc}); fix the "
                "certificate, or set insecureSkipTLSVerify on the subscription if you "
                "trust that host",
            ) from None
        except TimedOut:
            error = http_error(
                HttpErrorKind.TIMED_OUT,
                f"timed out talking to {addr.host} (no answer within {read:g}s) for "
                f"{addr.name}; not asking that host again this run",
            )
            with self._lock:
                self._given_up.setdefault(addr.host, error)
            raise error from None
        except NetworkError as exc:
            raise http_error(
                HttpErrorKind.TRANSIENT,
                f"could not reach {url} ({exc}); try again later",
            ) from None

    def _get(
        self,
        addr: RegistryAddress,
        method: str,
        url: str,
        *,
        what: str,
        extra: dict[str, str] | None = None,
        tag: str | None = None,
    ) -> Response:
        """Send one request, authenticating on a 401 challenge, and map failures.

        ``what`` names the object for messages; ``tag`` is set when a 404 means that tag
        (not the repository) is missing."""
        scope = f"repository:{addr.name}:pull"
        headers = {"Accept": _ACCEPT, **(extra or {})}
        key = (addr.host, scope)
        if key in self._auth:
            headers["Authorization"] = self._auth[key]
        response = self._send(addr, method, url, headers)
        if response.status_code == 401:
            self._auth[key] = self._authenticate(addr, response, scope)
            headers["Authorization"] = self._auth[key]
            response = self._send(addr, method, url, headers)
        self._raise_for_status(addr, response, what, tag=tag)
        return response

    def _authenticate(self, addr: RegistryAddress, response: Response, scope: str) -> str:
        """Answer a ``WWW-Authenticate`` challenge; return the ``Authorization`` value.

        Credentials go only where the registry's owner receives them: Basic to the
        registry itself, and to a Bearer token realm only over https (plain http on
        loopback) on the registry's own host or a host known to serve that registry's
        tokens (:data:`TOKEN_HOSTS`). A challenge naming any other realm is answered
        without credentials, so a hostile or misconfigured registry cannot collect them:
        public images still resolve, private ones fail with ``AUTH`` naming the realm.
        """
        import base64

        scheme, params = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
        creds = self._credentials(addr.host)
        basic = None
        if creds is not None:
            raw = f"{creds[0]}:{creds[1]}".encode()
            basic = "Basic " + base64.b64encode(raw).decode("ascii")
        if scheme == "basic":
            if basic is None:
                raise self._denied(addr, 401, "it asks for a username and password")
            return basic
        if scheme != "bearer" or not params.get("realm"):
            raise self._denied(
                addr, 401, "it sent an authentication challenge Shunter cannot answer"
            )
        # Token spec: GET realm?service=...&scope=..., with Basic credentials if we have
        # them (https://distribution.github.io/distribution/spec/auth/token/).
        query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
        token_url = params["realm"]
        refused = realm_refusal(addr, token_url)
        if refused is not None:
            basic = None
        token_url += ("&" if "?" in token_url else "?") + urlencode(
            {k: v for k, v in query.items() if v}
        )
        token_response = self._send(
            addr, "GET", token_url, {"Authorization": basic} if basic is not None else {}
        )
        if token_response.status_code in (401, 403):
            why = "its token service refused"
            if refused is not None and creds is not None:
                why += f"; credentials were not sent, because {refused}"
            raise self._denied(addr, token_response.status_code, why)
        self._raise_for_status(addr, token_response, "an access token")
        body = self._json(addr, token_response, "an access token")
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise http_error(
                HttpErrorKind.TRANSIENT,
                f"registry {addr.host}'s token service answered without a token; try again later",
            )
        return f"Bearer {token}"

    def _denied(self, addr: RegistryAddress, status: int, why: str) -> ShunterError:
        has = self._credentials(addr.host) is not None
        fix = (
            f"the credentials given for {addr.host} were refused: check the username and "
            "that the password or token is valid and may read this repository"
            if has
            else f"no credentials are set for {addr.host}: set the subscription's "
            "credentialsEnv variables (USERNAME and PASSWORD, for ghcr.io a token with "
            "read:packages)"
        )
        return http_error(
            HttpErrorKind.AUTH,
            f"registry {addr.host} refused access to {addr.name} (HTTP {status}: {why}); {fix}",
            status=status,
        )

    def _raise_for_status(
        self,
        addr: RegistryAddress,
        response: Response,
        what: str,
        *,
        tag: str | None = None,
    ) -> None:
        status = response.status_code
        if status < 400:
            return
        # Error codes of the distribution spec ("Error Codes"): 401/403 DENIED or
        # UNAUTHORIZED, 404 NAME_UNKNOWN / MANIFEST_UNKNOWN, 429 TOOMANYREQUESTS
        # (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
        if status in (401, 403) and response.headers.get("Retry-After") is None:
            raise self._denied(addr, status, "after authenticating")
        if tag is not None:
            missing = (
                f"{what} of repository {addr.host}/{addr.name} not found; check that it was pushed"
            )
        else:
            missing = (
                f"repository {addr.host}/{addr.name} not found; check the subscription's "
                "repoURL (and that the credentials may see it, registries say 404 for "
                "private repositories)"
            )
        try:
            decipher(
                status,
                response.headers,
                response.content,
                now=datetime.now(UTC),
                where=f"registry {addr.host}",
                hints={
                    HttpErrorKind.NOT_FOUND: missing,
                    HttpErrorKind.TRANSIENT: "after retrying; try again later",
                },
            )
        except ShunterError as exc:
            self._give_up_if_too_long(addr, exc)
            raise

    def _give_up_if_too_long(self, addr: RegistryAddress, exc: ShunterError) -> None:
        """Stop asking ``addr``'s host this run when its ``Retry-After`` outlasts the run."""
        wait = getattr(exc, "retry_after", None)
        left = self._deadline.remaining() if self._deadline is not None else None
        if wait is None or left is None or wait <= left:
            return
        with self._lock:
            self._given_up.setdefault(
                addr.host,
                http_error(
                    HttpErrorKind.RATE_LIMITED,
                    f"registry {addr.host} asked to be left alone for {wait:g}s, longer than "
                    f"this run has left ({left:.0f}s); not asking that host again this run",
                    retry_after=wait,
                ),
            )


#: Hosts that serve the Bearer tokens of a registry besides the registry itself
#: (Docker Hub's auth service: https://docs.docker.com/registry/spec/auth/token/).
TOKEN_HOSTS: dict[str, frozenset[str]] = {
    DOCKER_HUB: frozenset({"auth.docker.io"}),
    "ghcr.io": frozenset({"ghcr.io"}),
}


def realm_refusal(addr: RegistryAddress, realm: str) -> str | None:
    """Why credentials for ``addr`` must not go to token ``realm``, or ``None`` if they may.

    They may only over https (plain http for a loopback realm) and only to the registry's
    own ``host[:port]`` or one of its :data:`TOKEN_HOSTS`.
    """
    parts = urlsplit(realm)
    netloc = (parts.netloc.rsplit("@", 1)[-1]).lower()
    if parts.scheme == "https" and netloc.endswith(":443"):
        netloc = netloc[: -len(":443")]
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(netloc)):
        return f"its token realm {parts.scheme}://{netloc} is not https"
    if netloc != addr.host and netloc not in TOKEN_HOSTS.get(addr.host, frozenset()):
        return (
            f"its token realm is on {netloc}, not on {addr.host} or a host known to serve "
            "its tokens"
        )
    return None

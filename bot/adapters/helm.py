"""The Helm chart repository adapter: chart versions from HTTP and OCI chart repositories.

Two kinds of repository, as Helm has them:

* **HTTP** (``https://charts.example.com``): one ``index.yaml`` at the repository root
  lists every chart and version (https://helm.sh/docs/topics/chart_repository/#the-index-file).
  It is fetched with a conditional ``GET`` (``If-None-Match`` / ``If-Modified-Since``,
  https://www.rfc-editor.org/rfc/rfc9110#section-13.1), so an unchanged index costs one
  ``304`` and no download. ``http://`` is accepted as Helm and Kargo accept it, but
  credentials go only over https or to loopback hosts.
* **OCI** (``oci://ghcr.io/org/charts/app``): the chart is an OCI artifact and its versions
  are the repository's tags, listed through :class:`bot.adapters.registry.OciRegistry`.
  OCI tags may not hold ``+``, so Helm pushes ``1.2.3+build`` as ``1.2.3_build`` and reads
  it back the same way (https://helm.sh/docs/topics/registries/#oci-feature-deprecation-and-behavior-changes-with-v380).

Versions are SemVer 2 (Helm requires it: https://helm.sh/docs/topics/charts/#charts-and-versioning),
read leniently as Helm's Masterminds library does (``v1.2``, ``1.2`` count), and a
``semverConstraint`` means what :mod:`bot.core.discover.versions` says it means.

Failures leave only as ``bot.errors`` types; no message carries credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import semver

from bot.adapters.git import redact
from bot.adapters.http import HttpErrorKind, decipher, http_error
from bot.adapters.registry import Credentials, _is_loopback
from bot.core.discover.artifacts import Chart
from bot.core.discover.freight import is_oci_repository
from bot.core.discover.versions import parse_constraint
from bot.core.model import ChartSubscription
from bot.errors import PermanentError
from bot.ports import Deadline

if TYPE_CHECKING:
    from bot.adapters.http import Network, Response, Session
    from bot.adapters.registry import OciRegistry

__all__ = ["HelmRepository", "parse_chart_version", "select_versions"]

# A chart version as written in index.yaml or an OCI tag: SemVer characters only, so a
# hostile entry ("1.0.0\n$(curl ...)", "../../x") is never selected. 128 keeps it within
# the OCI tag length, which Helm's own OCI push enforces too.
_VERSION_TEXT_RE = re.compile(r"[vV]?[0-9][0-9A-Za-z.+-]{0,127}")
# A chart name (https://helm.sh/docs/chart_best_practices/conventions/#chart-names), a
# little wider: upper case and dots appear in the wild.
_CHART_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
# index.yaml files of the largest public repositories are tens of MB; anything far beyond
# that is not an index and would only exhaust memory.
_MAX_INDEX_BYTES = 128 * 1024 * 1024

# Keys of the validator cache ``discover`` returns and accepts.
_ETAG = "etag"
_LAST_MODIFIED = "last-modified"
_URL = "url"
_VERSIONS = "versions"


def parse_chart_version(text: str) -> semver.Version | None:
    """Read a chart version (``1.2.3``, ``v1.2.3-rc.1+build``, ``1.2``) or return ``None``.

    Never raises. Text with characters SemVer does not use is ``None``, never a version.
    """
    if not isinstance(text, str) or _VERSION_TEXT_RE.fullmatch(text) is None:
        return None
    body = text[1:] if text[:1] in ("v", "V") else text
    try:
        return semver.Version.parse(body, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def select_versions(versions: Iterable[str], constraint: str | None, limit: int) -> list[str]:
    """Return the versions that satisfy ``constraint``, highest precedence first, at most
    ``limit``; texts that are not versions are dropped, duplicates kept once.

    Versions of equal precedence (``1.2.3+a`` and ``1.2.3+b``) come in reverse text order.
    Raises ``PermanentError`` if the constraint does not parse.
    """
    try:
        allowed = parse_constraint(constraint or "")
    except ValueError as exc:
        raise PermanentError(f"semverConstraint: {exc}") from None
    found: list[tuple[semver.Version, str]] = []
    for text in dict.fromkeys(versions):
        version = parse_chart_version(text)
        if version is not None and allowed.allows(version):
            found.append((version, text))
    found.sort(key=lambda vt: vt[1], reverse=True)
    found.sort(key=lambda vt: vt[0], reverse=True)
    return [text for _, text in found[: max(limit, 0)]]


def sends_credentials(url: str, host: str) -> bool:
    """Whether a request to ``url`` may carry the host's credentials: over https, or over
    plain http to this machine only. Helm and Kargo accept ``http://`` chart
    repositories; a password sent over plain http to another host can be read on the way,
    so there Shunter asks without one (a repository that needs it answers 401)."""
    return url.lower().startswith("https://") or _is_loopback(host)


class HelmRepository:
    """Chart versions from HTTP (``index.yaml``) and OCI chart repositories.

    ``credentials(host)`` returns ``(username, password)`` for an HTTP repository host (sent
    as Basic auth) or ``None``; ``registry`` lists OCI tags (one is made on first use, with
    the same credentials, when not given). ``timeout``, ``retries``, ``backoff`` and
    ``max_retry_after`` mean what they mean for :class:`bot.adapters.registry.OciRegistry`.
    ``network`` carries the proxy settings (and, in tests, the loopback seam).
    ``requests_made`` counts HTTP attempts to HTTP repositories (retries included).
    """

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        registry: OciRegistry | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        deadline: Deadline | None = None,
        network: Network | None = None,
    ) -> None:
        self._credentials: Credentials = credentials or (lambda host: None)
        self._network = network
        self._deadline = deadline
        self._registry = registry
        self._timeout = timeout
        self._retry = (retries, backoff, max_retry_after)
        self._session: Session | None = None
        self.requests_made = 0

    def close(self) -> None:
        """Close the HTTP connections (the instance stays usable; it reconnects)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def discover(
        self, sub: ChartSubscription, cache: dict[str, str] | None = None
    ) -> tuple[tuple[Chart, ...], dict[str, str]]:
        """Return ``(charts, validators)``: the chart versions of ``sub``, newest first, at
        most ``sub.discovery_limit``, that satisfy ``sub.semver_constraint``; and the cache
        to pass as ``cache`` next time.

        For HTTP repositories ``cache`` is what the previous call returned: the index's
        ``ETag`` / ``Last-Modified`` and the chart's versions then. When the server answers
        ``304 Not Modified`` the versions come from the cache and nothing is downloaded.
        A cache made for another URL or chart is ignored. OCI repositories have no
        validators: the returned cache is empty.

        Raises ``PermanentError`` (bad repoURL or name, unknown chart, 401/403/404, a body
        that is not a chart index, a refused TLS certificate) or ``TransientError``
        (timeouts, 429/5xx after retries).
        """
        if is_oci_repository(sub.repo_url):
            return self._discover_oci(sub), {}
        return self._discover_http(sub, cache or {})

    # ------------------------------------------------------------------ OCI

    def _discover_oci(self, sub: ChartSubscription) -> tuple[Chart, ...]:
        path = sub.repo_url.strip()[len("oci://") :].rstrip("/")
        chart_name = path.rsplit("/", 1)[-1]
        if "/" not in path or not chart_name:
            raise PermanentError(
                f"chart repoURL {redact(sub.repo_url)!r} names no chart: write it as "
                "oci://host/path/chart-name"
            )
        # Kargo wants the name inside repoURL for OCI charts; a name that repeats the last
        # segment is harmless, anything else is a mistake worth stopping for.
        if sub.name and sub.name != chart_name:
            raise PermanentError(
                f"chart name {sub.name!r} does not match repoURL {redact(sub.repo_url)!r}: "
                "for OCI charts put the chart name at the end of repoURL and leave name empty"
            )
        registry = self._registry
        if registry is None:
            from bot.adapters.registry import OciRegistry

            registry = self._registry = OciRegistry(
                self._credentials,
                timeout=self._timeout,
                retries=self._retry[0],
                deadline=self._deadline,
                network=self._network,
            )
        # Helm's OCI tag rule: "+" is stored as "_" (link in the module docstring).
        versions = [tag.replace("_", "+") for tag in registry.list_tags(path)]
        selected = select_versions(versions, sub.semver_constraint, sub.discovery_limit)
        return tuple(Chart(repo_url=sub.repo_url, name=chart_name, version=v) for v in selected)

    # ------------------------------------------------------------------ HTTP

    def _index_url(self, sub: ChartSubscription) -> tuple[str, str]:
        """Return ``(index URL, host)`` of an HTTP repository; refuse plain http off loopback."""
        url = sub.repo_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise PermanentError(
                f"chart repoURL {redact(sub.repo_url)!r} is neither an https:// chart "
                "repository nor an oci:// chart: fix the subscription's repoURL"
            )
        if parts.username or parts.password:
            raise PermanentError(
                f"chart repoURL {redact(sub.repo_url)!r} carries credentials: remove them "
                "from the config and give them to Shunter as secrets instead"
            )
        host = parts.netloc
        if url.endswith("/index.yaml"):
            return url, host
        return f"{url}/index.yaml", host

    def _discover_http(
        self, sub: ChartSubscription, cache: dict[str, str]
    ) -> tuple[tuple[Chart, ...], dict[str, str]]:
        if not sub.name:
            raise PermanentError(
                f"chart subscription {redact(sub.repo_url)!r} has no name: HTTP chart "
                "repositories hold many charts, set the chart's name"
            )
        if _CHART_NAME_RE.fullmatch(sub.name) is None:
            raise PermanentError(f"{sub.name!r} is not a valid chart name: fix name")
        url, host = self._index_url(sub)
        # The cache is trusted only for the same index and chart, and only if well formed.
        cached_versions: list[str] | None = None
        if cache.get(_URL) == f"{url}#{sub.name}":
            try:
                loaded = json.loads(cache.get(_VERSIONS, ""))
            except ValueError:
                loaded = None
            if isinstance(loaded, list) and all(isinstance(v, str) for v in loaded):
                cached_versions = loaded
        headers = {"Accept": "application/x-yaml, text/yaml, */*"}
        if cached_versions is not None:
            if cache.get(_ETAG):
                headers["If-None-Match"] = cache[_ETAG]
            if cache.get(_LAST_MODIFIED):
                headers["If-Modified-Since"] = cache[_LAST_MODIFIED]
        response = self._get(url, host, headers)
        if response.status_code == 304 and cached_versions is not None:
            versions = cached_versions
            validators = dict(cache)
        else:
            versions = self._versions_in_index(response, url, sub.name)
            validators = {_URL: f"{url}#{sub.name}", _VERSIONS: json.dumps(versions)}
            etag = response.headers.get("ETag", "").strip()
            if etag:
                validators[_ETAG] = etag
            last_modified = response.headers.get("Last-Modified", "").strip()
            if last_modified and _is_http_date(last_modified):
                validators[_LAST_MODIFIED] = last_modified
        selected = select_versions(versions, sub.semver_constraint, sub.discovery_limit)
        charts = tuple(Chart(repo_url=sub.repo_url, name=sub.name, version=v) for v in selected)
        return charts, validators

    def _versions_in_index(self, response: Response, url: str, name: str) -> list[str]:
        """The usable version texts of ``name`` in an ``index.yaml`` body.

        Layout: ``entries: {<chart>: [{version: ..., ...}, ...]}``
        (https://helm.sh/docs/topics/chart_repository/#the-index-file). Entries marked
        ``removed: true`` (Helm's ChartVersion field) are skipped.
        """
        import yaml

        not_index = PermanentError(
            f"{url} is not a Helm chart repository index (no 'entries' mapping); check "
            "the subscription's repoURL points at the repository root"
        )
        if response.status_code != 200:
            raise PermanentError(
                f"chart repository {url} answered HTTP {response.status_code} without an "
                "index; check the subscription's repoURL"
            )
        if len(response.content) > _MAX_INDEX_BYTES:
            raise PermanentError(f"{url} is larger than {_MAX_INDEX_BYTES} bytes: not an index")
        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            document = yaml.load(response.content, Loader=loader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            raise not_index from None
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise not_index
        listed = entries.get(name)
        if not isinstance(listed, list):
            known = sorted(str(k) for k in entries)[:10]
            raise PermanentError(
                f"chart {name!r} is not in the index of {url} (it lists: "
                f"{', '.join(known) or 'no charts'}); fix the subscription's name"
            )
        versions: list[str] = []
        for entry in listed:
            if not isinstance(entry, dict) or entry.get("removed") is True:
                continue
            version = entry.get("version")
            if isinstance(version, str) and parse_chart_version(version) is not None:
                versions.append(version)
        return versions

    def _get(self, url: str, host: str, headers: dict[str, str]) -> Response:
        """GET ``url`` with retries and Basic credentials; map failures to ``bot.errors``.
        The credentials follow a redirect only on the same origin."""
        from bot.adapters.http import NetworkError, TimedOut, TlsRefused

        session = self._session_for_use()
        creds = self._credentials(host) if sends_credentials(url, host) else None
        self.requests_made += 1
        connect, read = self._timeout
        if self._deadline is not None:
            connect, read = self._deadline.timeout(connect), self._deadline.timeout(read)
        if creds is not None:
            import base64

            pair = f"{creds[0]}:{creds[1]}".encode()
            headers = {**headers, "Authorization": "Basic " + base64.b64encode(pair).decode()}
        try:
            response = session.get(
                url, headers=headers, timeout=(connect, read), allow_redirects=True
            )
        except TlsRefused as exc:
            raise http_error(
                HttpErrorKind.PERMANENT,
                f"chart repository {url}: its TLS certificate was refused ({exc}); fix the "
                "certificate or the subscription's repoURL",
            ) from None
        except TimedOut:
            raise http_error(
                HttpErrorKind.TIMED_OUT, f"timed out fetching {url} (no answer within {read:g}s)"
            ) from None
        except NetworkError as exc:
            raise http_error(
                HttpErrorKind.TRANSIENT,
                f"could not reach {url} ({exc}); try again later",
            ) from None
        if response.status_code >= 400:
            auth_fix = (
                f"the credentials given for {host} were refused: check them"
                if creds is not None
                else f"no credentials are set for {host}: give Shunter a username and password"
            )
            # Helm's index is plain HTTP(S) GET (https://helm.sh/docs/topics/chart_repository/).
            decipher(
                response.status_code,
                response.headers,
                response.content,
                now=datetime.now(UTC),
                where=f"chart repository {url}",
                hints={
                    HttpErrorKind.AUTH: f"refused access; {auth_fix}",
                    HttpErrorKind.NOT_FOUND: "no chart repository index there; check the "
                    "subscription's repoURL",
                    HttpErrorKind.TRANSIENT: "after retrying; try again later",
                },
            )
        return response

    def _session_for_use(self) -> Session:
        if self._session is None:
            from bot.adapters.http import session

            retries, backoff, max_retry_after = self._retry
            self._session = session(
                {},
                retries=retries,
                backoff=backoff,
                statuses=(429, 502, 503, 504),
                max_wait=max_retry_after,
                deadline=self._deadline,
                on_retry=self._count_retry,
                network=self._network,
            )
        return self._session

    def _count_retry(self) -> None:
        self.requests_made += 1


def _is_http_date(value: str) -> bool:
    """Whether ``value`` is an HTTP date, so a junk ``Last-Modified`` is never sent back."""
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return True

"""The one way Shunter's small JSON API clients (Argo CD, PagerDuty) open an HTTP session."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


def api_session(headers: dict[str, str]) -> requests.Session:
    """A session sending ``headers`` (and ``User-Agent: shunter``) that retries a GET twice,
    briefly, on 502/503/504. 429 is not retried here: its ``Retry-After`` goes back to the
    caller, which reports it (the next scheduled run tries again)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.headers["User-Agent"] = "shunter"
    session.headers.update(headers)
    retry = Retry(
        total=2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        backoff_factor=0.2,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

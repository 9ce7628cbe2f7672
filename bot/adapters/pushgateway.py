"""Push the pipeline's metrics to a Prometheus Pushgateway (``prometheus_client``'s client).

https://github.com/prometheus/pushgateway#api: ``PUT /metrics/job/<job>`` replaces every
metric of the job's group, so each push leaves exactly what the ledger says now. HTTP
Basic credentials when given. Failures become ``bot.errors`` types: an unreachable
gateway or a 5xx is transient, a refused credential or another 4xx permanent.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import basic_auth_handler, push_to_gateway

from bot.errors import PermanentError, TransientError

JOB = "shunter"


def push_metrics(
    registry: CollectorRegistry,
    url: str,
    *,
    grouping_key: dict[str, str],
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10,
) -> None:
    """PUT ``registry``'s metrics to the Pushgateway at ``url`` under job ``shunter`` and
    ``grouping_key`` (the repository, so projects sharing a gateway keep apart)."""

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    try:
        if username:
            push_to_gateway(
                url, job=JOB, registry=registry, grouping_key=grouping_key,
                timeout=timeout, handler=handler,
            )  # fmt: skip
        else:
            push_to_gateway(
                url, job=JOB, registry=registry, grouping_key=grouping_key, timeout=timeout
            )
    except urllib.error.HTTPError as err:
        what = f"the Pushgateway at {url} answered {err.code}"
        if err.code >= 500 or err.code == 429:
            raise TransientError(what) from None
        raise PermanentError(f"{what}: check SHUNTER_PUSHGATEWAY_URL and its credentials") from None
    except (urllib.error.URLError, OSError) as err:
        raise TransientError(f"could not reach the Pushgateway at {url} ({err})") from None

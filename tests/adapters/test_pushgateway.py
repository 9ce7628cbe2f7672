"""The Pushgateway push, against a loopback HTTP server that answers as a Pushgateway
does: the body is parsed by prometheus_client's own parser, credentials checked."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.pushgateway import push_metrics
from bot.core.ledger import Ledger
from bot.core.metrics import metrics_registry
from bot.errors import PermanentError, TransientError
from sandbox.planning import CONFIG


class Gateway:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.status = 200
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gw.requests.append(("PUT", self.path, dict(self.headers), body))
                self.send_response(gw.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    thread = threading.Thread(target=gw.server.serve_forever, daemon=True)
    thread.start()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()


def test_push_puts_the_metrics_under_the_job_and_repository(gateway: Gateway) -> None:
    registry = metrics_registry(CONFIG, Ledger())
    push_metrics(
        registry, gateway.url, grouping_key={"repository": "alkon/gitops"},
        username="ci", password="s3cret",
    )  # fmt: skip
    ((method, path, headers, body),) = gateway.requests
    assert method == "PUT"
    # A label value with "/" travels base64-encoded, as the Pushgateway's API asks.
    encoded = base64.urlsafe_b64encode(b"alkon/gitops").decode()
    assert path == f"/metrics/job/shunter/repository@base64/{encoded}"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"ci:s3cret").decode()
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"shunter_freight", "shunter_promotions", "shunter_stage_promotion_open"} <= names


@pytest.mark.parametrize(("status", "error"), [(503, TransientError), (401, PermanentError)])
def test_a_refusal_is_typed(gateway: Gateway, status: int, error: type[Exception]) -> None:
    gateway.status = status
    with pytest.raises(error):
        push_metrics(metrics_registry(CONFIG, Ledger()), gateway.url, grouping_key={})


def test_an_unreachable_gateway_is_transient() -> None:
    with pytest.raises(TransientError):
        push_metrics(
            metrics_registry(CONFIG, Ledger()), "http://127.0.0.1:9", grouping_key={}, timeout=2
        )

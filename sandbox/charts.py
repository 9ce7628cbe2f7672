"""A Helm chart repository on loopback: one chart's ``index.yaml``, as Helm serves it.

``ChartRepository(name, versions, folder)`` answers ``GET <folder>/index.yaml`` with the
versions in ``versions`` (https://helm.sh/docs/topics/chart_repository/#the-index-file); a
test publishes a version by appending to it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


class ChartRepository:
    def __init__(self, chart: str, versions: tuple[str, ...] = (), folder: str = "") -> None:
        self.chart = chart
        self.versions = list(versions)
        self.folder = folder  # "" or "/path": where index.yaml is
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The repository's URL (the folder its ``index.yaml`` is in)."""
        assert self._server is not None, "start the repository first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.folder}"

    def index(self) -> bytes:
        entries = [
            {"name": self.chart, "version": v, "urls": [f"{self.chart}-{v}.tgz"]}
            for v in self.versions
        ]
        return yaml.safe_dump({"apiVersion": "v1", "entries": {self.chart: entries}}).encode()

    def start(self) -> ChartRepository:
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != f"{repo.folder}/index.yaml":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = repo.index()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-yaml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

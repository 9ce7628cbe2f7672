"""Outside text in the job log, through the real ``shunter`` command.

The Actions runner acts on any line of stdout or stderr that starts (after blanks) with
``::``, and on the old ``##[`` form: ``::add-mask::`` hides text, ``::stop-commands::``
turns the bot's own annotations off, ``::warning`` makes an annotation nobody wrote. Each
path outside text takes into the log (a reason, an event payload, a GitHub error body, a
registry error body and its tag list) carries all three here, and the captured output is
read the way the runner reads it: the only commands in it are the bot's own.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import sys
import threading
from collections.abc import Iterator
from contextlib import redirect_stderr
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import main
from sandbox.fixtures.conformance import ConformanceLog, checked_world
from sandbox.registry import LocalRegistry
from sandbox.world import SandboxWorld

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
INJECTED = (
    "x\n::add-mask::shunter\n::stop-commands::ab12\r\n  ::warning title=t::pwned ##[add-mask]y"
)
BOT_COMMANDS = {"error", "warning", "notice", "group", "endgroup", "add-mask"}


def runner_commands(log: str) -> list[str]:
    """Every line of ``log`` the Actions runner would act on, as it would see it."""
    found = []
    for line in log.replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("::") or "##[" in line:
            found.append(stripped)
    return found


def name_of(command: str) -> str:
    return command[2:].split("::", 1)[0].split(" ", 1)[0]


def assert_inert(log: str, token: str) -> None:
    commands = runner_commands(log)
    assert all(c.startswith("::") for c in commands), commands  # no ##[ anywhere
    assert {name_of(c) for c in commands} <= BOT_COMMANDS, commands
    # The bot masks its own token and nothing else: no outside text chose what to hide.
    masks = [c for c in commands if name_of(c) == "add-mask"]
    assert masks == [f"::add-mask::{token}"] * len(masks), masks
    # Every annotation is printed once.
    annotations = [c for c in commands if name_of(c) in ("error", "warning", "notice")]
    assert len(annotations) == len(set(annotations)), annotations


class Hostile(BaseHTTPRequestHandler):
    """Answers every request with an error whose body carries ``INJECTED`` (the GitHub
    REST error shape, and the OCI distribution one under ``/v2/``); a tag list names
    ``INJECTED`` as a tag."""

    def _answer(self) -> None:
        body: dict[str, object]
        if self.path.split("?")[0].endswith("/tags/list"):
            status, body = 200, {"name": "x", "tags": [INJECTED, "1.9.0" + INJECTED]}
        elif self.path.startswith("/v2/"):
            status, body = 500, {"errors": [{"code": "UNKNOWN", "message": INJECTED}]}
        else:
            status, body = 502, {"message": INJECTED, "documentation_url": INJECTED}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def shunter(world: SandboxWorld, *args: str, login: str = "shunter-bot", **env: str) -> str:
    """Run the command as a workflow step would; return stdout and stderr, as the log has them."""
    out, err = io.StringIO(), io.StringIO()
    e = world.env(login=login, SHUNTER_NOW=T0.isoformat(), GITHUB_ACTIONS="true")
    e.update(env)
    with redirect_stderr(err):
        main(["--repo-dir", str(world.checkout), *args], env=e, out=out)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def world(
    tmp_path: Path,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
    request: pytest.FixtureRequest,
) -> Iterator[SandboxWorld]:
    path = "e2e-logs/" + request.node.name.replace("_", "-").lower()
    world = SandboxWorld(tmp_path / "world", registry=oci_registry, image_path=path)
    with checked_world(world, github_conformance) as w:
        w.push("1.8.4")
        shunter(w, "reconcile")
        yield w


def test_a_reason_is_inert(world: SandboxWorld) -> None:
    log = shunter(world, "pause", "dev", "--reason", INJECTED, login="tech-lead")
    assert_inert(log, "tech-lead-token")
    log = shunter(world, "get", "stages", "-o", "wide") + shunter(world, "describe", "stage", "dev")
    assert_inert(log, "bot-token")


def test_an_event_payload_is_inert(world: SandboxWorld, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    package: dict[str, object] = {
        "name": INJECTED,
        "package_type": "container",
        "namespace": INJECTED,
    }
    package["package_version"] = {"container_metadata": {"tag": {"name": INJECTED}}}
    event.write_text(json.dumps({"action": "published", "registry_package": package}))
    log = shunter(world, "run", GITHUB_EVENT_NAME="registry_package", GITHUB_EVENT_PATH=str(event))
    assert_inert(log, "bot-token")


def test_a_github_error_body_is_inert(world: SandboxWorld, hostile: str) -> None:
    log = shunter(world, "reconcile", GITHUB_API_URL=f"http://{hostile}")
    assert_inert(log, "bot-token")
    assert runner_commands(log)  # the failure itself is annotated


@dataclass
class HostileRegistry:
    """Stands where SandboxWorld expects a registry: only its host is used."""

    host: str

    def stop(self) -> None:
        pass


def test_a_registry_error_body_and_tag_list_are_inert(
    tmp_path: Path, hostile: str, github_conformance: ConformanceLog
) -> None:
    registry = HostileRegistry(hostile)
    world = SandboxWorld(tmp_path / "world", registry=registry)  # type: ignore[arg-type]
    with checked_world(world, github_conformance) as w:
        log = shunter(w, "reconcile")
        log += shunter(w, "refresh", "warehouse", "flask-app")
    assert_inert(log, "bot-token")


def _drain(fd: int) -> str:
    """Everything written to the terminal so far. The kernel hands a pty's writes to the
    reading side asynchronously, so one read on a busy machine may return only the first
    of them: read until nothing more arrives for a while."""
    chunks = []
    while select.select([fd], [], [], 1.0)[0]:
        chunks.append(os.read(fd, 1 << 16))
    return b"".join(chunks).decode()


def test_discovery_progress_is_drawn_on_a_terminal_and_never_in_a_log(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, a refresh rewrites one progress line on stderr and wipes it at the
    end; piped (a workflow log, a script) there is no trace of it."""
    master, replica = pty.openpty()
    terminal = os.fdopen(replica, "w")
    monkeypatch.setattr(sys, "stderr", terminal)
    env = world.env(SHUNTER_NOW=T0.isoformat(), TERM="xterm")
    code = main(
        ["--repo-dir", str(world.checkout), "refresh", "warehouse", "flask-app"],
        env=env,
        out=io.StringIO(),
    )
    terminal.flush()
    drawn = _drain(master)
    terminal.close()
    os.close(master)
    assert code == 0
    lines = drawn.replace("\r\n", "\n").split("\n")
    progress = [line for line in lines if "\r" in line]
    assert progress, drawn  # the line was drawn, rewritten in place
    # What a person sees last on that line: nothing (wiped), since every answer came in.
    assert progress[-1].split("\r")[-1].strip() == ""
    piped = shunter(world, "refresh", "warehouse", "flask-app")
    assert "\r" not in piped

"""A real OCI registry on loopback, and a way to push tiny images into it.

``LocalRegistry`` runs Debian's ``docker-registry`` (the CNCF distribution reference
registry) as a child process; ``push_image`` writes a minimal, valid OCI image layout
(https://github.com/opencontainers/image-spec/blob/main/image-layout.md) on disk and
pushes it with ``skopeo``. No Docker daemon and no network beyond 127.0.0.1.

The tests and ``make demo`` both use this module, so it does not import pytest.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import hashlib
import io
import json
import os
import secrets
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LocalRegistry", "push_image", "write_htpasswd"]

REGISTRY_BINARY = "/usr/bin/docker-registry"
SKOPEO = "skopeo"
_START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """Write an htpasswd file with bcrypt hashes (the only kind docker-registry accepts).

    The hashes come from the system's libcrypt (libxcrypt, which knows ``$2b$``), so
    neither Apache's ``htpasswd`` nor a bcrypt package is needed. Returns ``path``.
    Raises ``RuntimeError`` if libcrypt cannot make a bcrypt hash.
    """
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    # bcrypt's alphabet for the 22-character salt ("./A-Za-z0-9").
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    lines = []
    for user, password in users.items():
        salt = "$2b$05$" + "".join(secrets.choice(alphabet) for _ in range(22))
        hashed = lib.crypt(password.encode(), salt.encode())
        if not hashed or not hashed.startswith(b"$2b$"):
            raise RuntimeError("the system libcrypt cannot make bcrypt hashes for htpasswd")
        lines.append(f"{user}:{hashed.decode()}")
    path.write_text("\n".join(lines) + "\n")
    return path


class LocalRegistry:
    """``docker-registry serve`` on ``127.0.0.1:<free port>``, storing under ``root``.

    With ``htpasswd``, the registry demands HTTP Basic credentials from that file.
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, root: Path, *, htpasswd: Path | None = None) -> None:
        self.root = Path(root)
        self.htpasswd = htpasswd
        self.host = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: io.BufferedWriter | None = None

    def _write_config(self, port: int) -> Path:
        # The reference registry's config: https://distribution.github.io/distribution/about/configuration/
        # JSON is valid YAML, so no YAML writer is needed.
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        }
        if self.htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": "shunter", "path": str(self.htpasswd)}}
        path = self.root / "config.yml"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self) -> LocalRegistry:
        """Start the registry and wait until ``/v2/`` answers; return ``self``.

        Raises ``RuntimeError`` (with the registry's log) if it does not come up.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        last_error = ""
        # A free port can be taken between finding and binding it: try a few.
        for _ in range(3):
            port = _free_port()
            config = self._write_config(port)
            log_path = self.root / "registry.log"
            self._log = log_path.open("wb")
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config)],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={"PATH": "/usr/bin:/bin", "HOME": str(self.root)},
            )
            self.host = f"127.0.0.1:{port}"
            if self._wait_ready():
                return self
            last_error = log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"docker-registry did not start:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True  # 401 with auth on: it is up
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the registry (SIGTERM, then SIGKILL after 5 s). Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ------------------------------------------------------------------ image layouts


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def _layer(content: str) -> tuple[bytes, bytes]:
    """A tar holding ``/shunter.txt`` and its gzip; fixed mtimes keep digests reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = content.encode()
        info = tarfile.TarInfo("shunter.txt")
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def write_oci_layout(
    layout: Path, tag: str, *, content: str, created: datetime, arch: str = "amd64"
) -> str:
    """Write a one-layer ``linux/<arch>`` image tagged ``tag`` as an OCI layout at
    ``layout`` (adding to it if it exists); return the manifest digest."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    tar_bytes, gz = _layer(content)
    layer_digest, layer_size = _blob(layout, gz)
    config = {
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.version": tag}},
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()],
        },
    }
    config_digest, config_size = _blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest, sort_keys=True).encode())
    index_path = layout / "index.json"
    index: dict[str, Any] = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "manifests": []}
    )
    ref = "org.opencontainers.image.ref.name"
    index["manifests"] = [m for m in index["manifests"] if m.get("annotations", {}).get(ref) != tag]
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {ref: tag},
        }
    )
    index_path.write_text(json.dumps(index, indent=2))
    return manifest_digest


def push_image(
    registry_host: str,
    repository: str,
    tag: str,
    *,
    workdir: Path,
    content: str | None = None,
    username: str | None = None,
    password: str | None = None,
    created: datetime | None = None,
) -> str:
    """Build a tiny image for ``tag`` under ``workdir`` and push it to
    ``registry_host/repository:tag`` with ``skopeo copy``; return the pushed manifest
    digest (``sha256:...``, as skopeo reports it).

    ``content`` goes into the image's only file (default: derived from repository and
    tag, so every tag is a distinct image); ``created`` is the image config's build
    date (default: now). Raises ``RuntimeError`` with skopeo's output if the push fails.
    """
    layout = workdir / "oci-layouts" / repository.replace("/", "_")
    write_oci_layout(
        layout,
        tag,
        content=content if content is not None else f"{repository}:{tag}\n",
        created=created or datetime.now(UTC),
    )
    digest_file = workdir / f"digest-{secrets.token_hex(4)}"
    command = [
        SKOPEO,
        "--insecure-policy",
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--digestfile",
        str(digest_file),
    ]
    if username is not None:
        command += ["--dest-creds", f"{username}:{password or ''}"]
    command += [f"oci:{layout}:{tag}", f"docker://{registry_host}/{repository}:{tag}"]
    # skopeo keeps an auth file and a blob cache under HOME/XDG dirs: keep them in workdir.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "XDG_RUNTIME_DIR": str(workdir),
    }
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo could not push {repository}:{tag}: {result.stderr.strip()}")
    digest = digest_file.read_text().strip()
    digest_file.unlink()
    return digest

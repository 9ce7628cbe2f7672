"""A whole local world for the flask-app pipeline: registry, GitOps repo, GitHub.

``SandboxWorld`` starts Debian's ``docker-registry`` (standing in for ghcr.io), makes a
bare git repository holding ``examples/flask-app`` (standing in for the GitHub repository),
clones it (standing in for the ``actions/checkout`` folder) and serves the GitHub REST
sandbox over it. ``make demo`` and the end-to-end tests both use it, so what the demo shows
is what the tests prove.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sandbox.charts import ChartRepository
from sandbox.github_server import GitHubSandbox
from sandbox.registry import LocalRegistry, push_image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flask-app"
REPOSITORY = "alkon/flask-app-gitops"
IMAGE = "ghcr.io/alkon/flask-app"
#: The Helm repository the example's chart comes from (the Kargo-steps variant watches it).
CHARTS = "https://alkon.github.io/flask-app-charts"
CHART = "flask-app"
USERS = {
    "shunter-bot": "bot-token",
    "alice": "alice-token",
    "bob": "bob-token",
    "carol": "carol-token",
    "tech-lead": "tech-lead-token",
    "mallory": "mallory-token",
}
#: What ``GITHUB_TOKEN`` is inside a workflow run: a Bot that ``GET /user`` refuses.
ACTIONS_BOT = "github-actions[bot]"
ACTIONS_TOKEN = "gha-token"


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Flask App Team",
        "GIT_AUTHOR_EMAIL": "team@alkon.invalid",
        "GIT_COMMITTER_NAME": "Flask App Team",
        "GIT_COMMITTER_EMAIL": "team@alkon.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


@dataclass
class SandboxWorld:
    root: Path
    registry: LocalRegistry | None = None
    github: GitHubSandbox | None = None
    image_path: str = "alkon/flask-app"  # repository path inside the local registry
    overrides: dict[str, str] = field(default_factory=dict)  # extra or replaced repo files
    own_registry: bool = field(init=False, default=False)
    bare: Path = field(init=False)
    checkout: Path = field(init=False)
    image_repo: str = field(init=False, default="")
    # The example's Helm repository (its chart travels with the image in kargo-steps).
    charts: ChartRepository = field(
        init=False, default_factory=lambda: ChartRepository(CHART, ("0.3.0",), "/flask-app-charts")
    )

    def start(self) -> SandboxWorld:
        """Start everything; the example's image name is pointed at the local registry."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.registry is None:
            self.registry = LocalRegistry(self.root / "registry").start()
            self.own_registry = True
        self.image_repo = f"{self.registry.host}/{self.image_path}"
        self.charts.start()
        self.bare = self._make_gitops_repo()
        self.github = GitHubSandbox().start()
        for login, token in USERS.items():
            # The bot is a machine user here (as with a GitHub App token), so it may read
            # team members; plain GITHUB_TOKEN may not (see README, permissions).
            self.github.add_user(login, token)
        self.github.add_user(ACTIONS_BOT, ACTIONS_TOKEN, type="Bot")
        self.github.add_repo(REPOSITORY, self.bare, default_branch="main")
        # Set up as the README asks: Actions may open promotion PRs (new repositories
        # forbid it, and the sandbox refuses GITHUB_TOKEN's PRs until this is on).
        self.github.set_actions_permissions(REPOSITORY, can_create_prs=True)
        self.github.add_team("alkon", "platform-team", ["alice", "bob"])
        for login, perm in (
            ("alice", "write"),
            ("bob", "write"),
            ("tech-lead", "maintain"),
            ("carol", "admin"),
            ("mallory", "read"),
            ("shunter-bot", "write"),
            (ACTIONS_BOT, "write"),
        ):
            self.github.set_permission(REPOSITORY, login, perm)
        self.checkout = self.root / "checkout"
        _git(self.root, "clone", "-q", str(self.bare), str(self.checkout))
        return self

    def _make_gitops_repo(self) -> Path:
        seed = self.root / "seed"
        if seed.exists():
            shutil.rmtree(seed)
        shutil.copytree(EXAMPLE, seed, ignore=shutil.ignore_patterns("README.md"))
        for rel, text in self.overrides.items():
            target = seed / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for path in seed.rglob("*.y*ml"):
            text = path.read_text()
            if IMAGE in text or CHARTS in text:
                text = text.replace(IMAGE, self.image_repo).replace(CHARTS, self.charts.url)
                path.write_text(text)
        _git(seed, "init", "-q", "-b", "main")
        _git(seed, "add", "-A")
        _git(seed, "commit", "-q", "-m", "flask-app GitOps repository")
        bare = self.root / "flask-app-gitops.git"
        _git(self.root, "clone", "-q", "--bare", str(seed), str(bare))
        return bare

    def push(self, tag: str) -> str:
        """Push ``flask-app:<tag>`` to the local registry; return its digest."""
        assert self.registry is not None
        return push_image(
            self.registry.host,
            self.image_path,
            tag,
            workdir=self.root / "images",
            content=f"flask-app {tag}",
        )

    def env(self, *, login: str = "shunter-bot", **extra: str) -> dict[str, str]:
        """The environment a workflow step would give the ``shunter`` command."""
        assert self.github is not None
        env = {
            "GITHUB_TOKEN": ACTIONS_TOKEN if login == ACTIONS_BOT else USERS[login],
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": self.github.api_url,
            "SHUNTER_CONFIG": str(self.checkout / "kargo"),
            "GITHUB_WORKSPACE": str(self.checkout),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
        env.update(extra)
        return env

    def main_file(self, path: str) -> str:
        """A file on ``main`` of the GitOps repository, as the remote has it now."""
        done = subprocess.run(
            ["git", "show", f"main:{path}"],
            cwd=self.bare,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def push_chart(self, version: str) -> None:
        """Publish ``version`` of the example's chart in its Helm repository."""
        self.charts.versions.append(version)

    def stop(self) -> None:
        self.charts.stop()
        if self.github is not None:
            self.github.stop()
        if self.registry is not None and self.own_registry:
            self.registry.stop()

    def __enter__(self) -> SandboxWorld:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

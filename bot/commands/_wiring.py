"""The one place that builds adapters from a :class:`RunContext` and the config.

Commands ask for what they need (a config, a world with or without GitHub and the
registries, the ledger); only this module knows which adapter class serves each port.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.errors import ConfigError, Problem, UsageError

if TYPE_CHECKING:
    from bot.adapters.actions import ActionsIO
    from bot.adapters.http import Network
    from bot.commands._context import RunContext
    from bot.core.ledger import Ledger, PromotionRecord
    from bot.core.model import Config
    from bot.loop.reconcile import World
    from bot.ports import Deadline


def _load_config(ctx: RunContext) -> Config:
    from bot.adapters.configdir import load_config_dir

    return load_config_dir(ctx.config_dir)


def _world(ctx: RunContext, config: Config, *, forge: bool, registry: bool = True) -> World:
    from bot.adapters.git import GitRemoteRepo, GitStateStore
    from bot.loop.reconcile import World

    branch = ctx.state_branch or config.settings.state_branch
    w = World(
        config=config,
        state=GitStateStore(ctx.repo_dir, branch=branch),
        gitops=GitRemoteRepo(ctx.repo_dir),
        owner=ctx.owner,
        repository=ctx.repository or "",
        server_url=(ctx.env or {}).get("GITHUB_SERVER_URL") or "https://github.com",
        bot_logins=ctx.bot_logins,
        run_url=ctx.run_url,
    )
    if ctx.now is not None:
        fixed = ctx.now
        w.clock = lambda: fixed
    else:
        w.clock = lambda: datetime.now(UTC)
    w.deadline = _deadline(config, ctx.env or {})
    net = _network(ctx.env or {})  # proxies and CA file: every HTTP adapter's, read once
    import sys

    from bot.render.progress import progress_line, wants_progress

    if wants_progress(sys.stderr, ctx.env):
        w.progress = progress_line(sys.stderr)
    if registry:
        from bot.adapters.registry import OciRegistry, parse_repo_url
        from bot.core.model import ChartSubscription, GitSubscription, ImageSubscription

        credentials = _registry_credentials(config, ctx.env or {})
        insecure = frozenset(
            parse_repo_url(sub.repo_url).host
            for wh in config.warehouses
            for sub in wh.subscriptions
            if isinstance(sub, ImageSubscription) and sub.insecure_skip_tls_verify
        )
        from bot.loop.discover import discovery_deadline

        # Requests end when discovery must, so a hung registry cannot hold the run.
        asking = discovery_deadline(w.deadline)
        oci = OciRegistry(
            credentials=credentials,
            insecure_hosts=insecure,
            budget=config.settings.discovery.requests_per_host,
            deadline=asking,
            network=net,
        )
        w.registry = oci
        # Chart and git sources are built only when a subscription needs them: each
        # costs its imports at start-up, and many pipelines follow images alone.
        kinds = {type(sub) for wh in config.warehouses for sub in wh.subscriptions}
        if ChartSubscription in kinds:
            from bot.adapters.helm import HelmRepository

            w.charts = HelmRepository(
                credentials=credentials, registry=oci, deadline=asking, network=net
            )
        if GitSubscription in kinds:
            import tempfile

            from bot.adapters.gitsource import GitSource

            env = ctx.env or {}
            cache = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "shunter-git"
            w.git_source = GitSource(cache, deadline=asking)
    if forge:
        w.forge = _forge(ctx, deadline=w.deadline)
    _gate_providers(w, config, ctx.env or {}, net)
    return w


def _deadline(config: Config, env: Mapping[str, str]) -> Deadline:
    """The run's deadline, counted from now: the Action's ``deadline`` input
    (``SHUNTER_DEADLINE``) when set, else ``ProjectConfig`` ``spec.deadline`` (10m)."""
    from bot.core.config._spec import parse_duration
    from bot.ports import Deadline

    text = (env.get("SHUNTER_DEADLINE") or "").strip()
    limit = config.settings.deadline
    if text:
        given = parse_duration(text)
        if given is None or given.total_seconds() <= 0:
            raise ConfigError(
                [
                    Problem(
                        "SHUNTER_DEADLINE",
                        1,
                        1,
                        "deadline",
                        f"{text!r} is not a positive duration",
                        "write it like 10m or 90s (the Action's deadline input)",
                    )
                ]
            )
        limit = given
    return Deadline(limit.total_seconds())


def _gate_providers(w: World, config: Config, env: Mapping[str, str], net: Network) -> None:
    """Wire the health and incident providers the config uses, each with only its own
    secrets (read here, once; the loop never sees them)."""
    from bot.adapters.httpcheck import HttpProber
    from bot.loop.observe import uses_pagerduty

    w.http = HttpProber(deadline=w.deadline, network=net)
    argocd = [s.health.argocd for s in config.stages if s.health and s.health.argocd]
    if argocd:
        from bot.adapters.argocd import ArgoCDApplications

        tokens = {c.token_env: env[c.token_env] for c in argocd if env.get(c.token_env)}
        w.applications = ArgoCDApplications(tokens, deadline=w.deadline, network=net)
    if uses_pagerduty(config):
        from bot.adapters.pagerduty import PagerDutyClient

        pd = config.settings.pagerduty
        w.incidents = PagerDutyClient(
            env.get(pd.token_env),
            api_url=pd.api_url,
            token_env=pd.token_env,
            deadline=w.deadline,
            network=net,
        )


def _network(env: Mapping[str, str]) -> Network:
    """Proxies and an extra CA file for the HTTP adapters, from the variables ``requests``
    read (``https_proxy`` before ``HTTPS_PROXY``, as curl and urllib read them)."""
    from bot.adapters.http import Network

    def var(name: str) -> str | None:
        return env.get(name.lower()) or env.get(name) or None

    ca_file = var("REQUESTS_CA_BUNDLE")
    if ca_file is not None and not Path(ca_file).is_file():
        # Found here, not as a failed TLS handshake deep in a run: the fix is the variable.
        raise UsageError(
            f"REQUESTS_CA_BUNDLE names {ca_file}, which is not a file: point it at a PEM "
            "bundle of the certificates to trust, or unset it"
        )
    return Network(
        https_proxy=var("HTTPS_PROXY"),
        http_proxy=var("HTTP_PROXY"),
        no_proxy=var("NO_PROXY") or "",
        ca_file=ca_file,
    )


def _registry_credentials(config: Config, env: Mapping[str, str]) -> Any:
    """Credentials by registry host, from env vars named in the config (never the config)."""
    from bot.adapters.registry import parse_repo_url
    from bot.core.model import ImageSubscription

    by_host: dict[str, tuple[str, str]] = {}
    for wh in config.warehouses:
        for sub in wh.subscriptions:
            if isinstance(sub, ImageSubscription) and sub.credentials_env:
                user = env.get(f"{sub.credentials_env}_USERNAME")
                password = env.get(f"{sub.credentials_env}_PASSWORD")
                if user and password:
                    # Keyed by the host the adapter actually contacts (docker.io ->
                    # registry-1.docker.io), which is how it asks.
                    by_host[parse_repo_url(sub.repo_url).host] = (user, password)
    token = env.get("GITHUB_TOKEN")
    if token and "ghcr.io" not in by_host:
        by_host["ghcr.io"] = (env.get("GITHUB_ACTOR") or "token", token)

    def lookup(host: str) -> tuple[str, str] | None:
        return by_host.get(host)

    return lookup


def _forge(ctx: RunContext, *, deadline: Deadline | None = None) -> Any:
    if not ctx.token:
        raise UsageError(
            "this command needs the GitHub API: set GITHUB_TOKEN (in a workflow, pass "
            "`github-token: ${{ github.token }}` to the action, its default)"
        )
    if not ctx.repository or "/" not in ctx.repository:
        raise UsageError("set GITHUB_REPOSITORY (owner/name) or pass --repo owner/name")
    from bot.adapters.github import GitHubForge

    return GitHubForge(
        api_url=ctx.api_url, token=ctx.token, repository=ctx.repository, deadline=deadline
    )


def _actions_io(ctx: RunContext, out: TextIO) -> ActionsIO:
    from bot.adapters.actions import ActionsIO

    io = ActionsIO(ctx.env or {}, stream=out)
    if ctx.token:
        io.mask(ctx.token)
    return io


def _archived_promotions(ctx: RunContext, config: Config) -> list[PromotionRecord]:
    """The promotion records archived on the state branch, oldest first."""
    from bot.adapters.git import GitStateStore
    from bot.core.ledger import read_archive

    branch = ctx.state_branch or config.settings.state_branch
    return read_archive(GitStateStore(ctx.repo_dir, branch=branch).load_archive())


def _ledger(ctx: RunContext, config: Config) -> Ledger:
    from bot.adapters.git import GitStateStore
    from bot.core.ledger import from_files

    branch = ctx.state_branch or config.settings.state_branch
    files, _head = GitStateStore(ctx.repo_dir, branch=branch).load()
    return from_files(files)  # LedgerError (exit 1) lists what is wrong with the branch

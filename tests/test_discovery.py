"""Discovery in depth: strategies, the discovery cache (cacheTTL, ETags), failures, cost."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.decide.outcomes import ChangeKind, Subject
from bot.core.discover.artifacts import Artifact, Chart, Commit, Image
from bot.core.ledger import CachedSelection, WarehouseRecord, from_files, to_files
from bot.core.model import Config, ImageSubscription, Warehouse
from bot.errors import TransientError
from bot.loop.discover import (
    NEWEST_BUILD_MAX,
    Shortfall,
    discover,
    discover_image,
    discover_warehouses,
    run_order,
    selector,
)
from bot.loop.reconcile import World, reconcile
from bot.ports import Deadline
from sandbox.fakes import FakeRegistry, MemoryStateStore

APP = "ghcr.io/alkon/flask-app"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def sub(**kw: object) -> ImageSubscription:
    return ImageSubscription(**{"repo_url": APP, **kw})  # type: ignore[arg-type]


def images(found: tuple[Artifact, ...]) -> list[Image]:
    """What image discovery found, each asserted to be an image."""
    assert all(isinstance(a, Image) for a in found), found
    return [a for a in found if isinstance(a, Image)]


# ------------------------------------------------------------------ strategies


@pytest.mark.parametrize(
    ("strategy", "constraint", "expected"),
    [
        ("SemVer", None, "2.0.0"),
        ("SemVer", "^1.8", "1.10.0"),
        ("Lexical", None, "latest"),
        ("Lexical", "^1.0", "latest"),  # Lexical ignores the constraint, as Kargo does
        ("Digest", "latest", "latest"),
    ],
)
def test_each_strategy_selects_its_tag(
    strategy: str, constraint: str | None, expected: str
) -> None:
    registry = FakeRegistry({APP: ["1.8.0", "1.10.0", "2.0.0", "latest", "1.9.9-rc.1"]})
    artifacts, _ = discover_image(registry, sub(strategy=strategy, semver_constraint=constraint))
    assert [a.tag for a in images(artifacts)] == [expected]
    assert images(artifacts)[0].digest == registry.repos[APP][expected]


def test_newest_build_picks_the_latest_created_image_not_the_highest_tag() -> None:
    registry = FakeRegistry()
    registry.push(APP, "main-aaa", created=T0)
    newest = registry.push(APP, "main-bbb", created=T0 + timedelta(hours=2))
    registry.push(APP, "main-ccc", created=T0 + timedelta(hours=1))
    registry.push(APP, "main-zzz")  # no build date: never preferred
    artifacts, _ = discover_image(registry, sub(strategy="NewestBuild"))
    assert [(a.tag, a.digest) for a in images(artifacts)] == [("main-bbb", newest)]
    # The build date travels with the freight: it orders the warehouse's freight.
    assert images(artifacts)[0].built == T0 + timedelta(hours=2)


@pytest.mark.parametrize(("limit", "inspected"), [(2, 2), (20, NEWEST_BUILD_MAX), (100, 10)])
def test_newest_build_reads_few_build_dates(limit: int, inspected: int) -> None:
    registry = FakeRegistry()
    for i in range(30):
        registry.push(APP, f"build-{i:02d}", created=T0 + timedelta(minutes=i))
    artifacts, _ = discover_image(registry, sub(strategy="NewestBuild", discovery_limit=limit))
    assert [kind for kind, _ in registry.calls].count("info") == inspected
    # The candidates are the highest tags, so the newest build among them wins.
    assert images(artifacts)[0].tag == "build-29"


def test_digest_strategy_follows_a_repushed_tag_without_listing_tags() -> None:
    registry = FakeRegistry()
    first = registry.push(APP, "latest", "a")
    follow = sub(strategy="Digest", semver_constraint="latest")
    a1, e1 = discover_image(registry, follow, now=T0)
    second = registry.push(APP, "latest", "b")
    a2, e2 = discover_image(registry, follow, cached=e1, now=T0 + timedelta(minutes=5))
    assert [a.digest for a in images(a1 + a2)] == [first, second]
    assert [kind for kind, _ in registry.calls] == ["digest", "digest"]
    assert e2 is not None and e2.digest == second


def test_digest_strategy_honours_ignore_tags_for_the_followed_tag() -> None:
    registry = FakeRegistry({APP: ["latest"]})
    artifacts, _ = discover_image(
        registry, sub(strategy="Digest", semver_constraint="latest", ignore_tags=("latest",))
    )
    assert artifacts == () and registry.requests == 0


def test_discovery_limit_cuts_the_semver_candidates_it_keeps() -> None:
    # Only the best candidate makes freight; the limit still bounds what is considered.
    registry = FakeRegistry({APP: [f"1.0.{i}" for i in range(150)]})
    artifacts, entry = discover_image(registry, sub(discovery_limit=1), now=T0)
    assert [a.tag for a in images(artifacts)] == ["1.0.149"]
    assert entry is not None and entry.tag == "1.0.149"


# ------------------------------------------------------------------ the cache


def test_inside_cache_ttl_no_request_is_made_and_refresh_bypasses_it() -> None:
    registry = FakeRegistry({APP: ["1.0.0"]})
    ttl = sub(cache_ttl=timedelta(minutes=30))
    _, entry = discover_image(registry, ttl, now=T0)
    before = registry.requests
    artifacts, again = discover_image(registry, ttl, cached=entry, now=T0 + timedelta(minutes=29))
    assert registry.requests == before and again == entry
    assert images(artifacts)[0].tag == "1.0.0"
    # Past the TTL, or asked for explicitly: one conditional listing, answered 304.
    for now, refresh in ((T0 + timedelta(minutes=31), False), (T0 + timedelta(minutes=1), True)):
        registry.calls.clear()
        discover_image(registry, ttl, cached=entry, now=now, refresh=refresh)
        assert registry.calls == [("tags-304", APP)]


def test_a_new_tag_past_the_ttl_is_found_and_its_digest_fetched() -> None:
    registry = FakeRegistry({APP: ["1.0.0"]})
    _, entry = discover_image(registry, sub(), now=T0)
    new = registry.push(APP, "1.1.0")
    registry.calls.clear()
    artifacts, entry2 = discover_image(registry, sub(), cached=entry, now=T0)
    assert registry.calls == [("tags", APP), ("digest", APP)]
    assert images(artifacts)[0].digest == new
    assert entry is not None and entry2 is not None and entry2.etag != entry.etag


def test_without_etags_an_unchanged_best_tag_reuses_the_cached_digest() -> None:
    registry = FakeRegistry({APP: ["1.0.0"]}, etags=False)
    _, entry = discover_image(registry, sub(), now=T0)
    registry.push(APP, "0.9.0")  # an older tag: the best one stays
    registry.calls.clear()
    artifacts, _ = discover_image(registry, sub(), cached=entry, now=T0)
    assert registry.calls == [("tags", APP)]
    assert images(artifacts)[0].tag == "1.0.0"


def test_a_changed_subscription_ignores_the_old_entry() -> None:
    registry = FakeRegistry({APP: ["1.0.0", "2.0.0"]})
    _, entry = discover_image(registry, sub(cache_ttl=timedelta(hours=1)), now=T0)
    narrowed = sub(cache_ttl=timedelta(hours=1), semver_constraint="^1")
    assert entry is not None and entry.selector != selector(narrowed)
    artifacts, _ = discover_image(registry, narrowed, cached=entry, now=T0)
    assert images(artifacts)[0].tag == "1.0.0"


def test_cache_entries_survive_the_state_branch() -> None:
    ledger = from_files({})
    entry = CachedSelection("abc123", "1.0.0", "sha256:" + "a" * 64, '"e1"', T0)
    ledger.warehouse("app").cache[APP] = entry
    ledger.warehouse("app").cache["docker.io/x#2"] = CachedSelection("def", None, None, None, T0)
    files = to_files(ledger)
    assert "checkedAt: '2024-05-01T12:00:00Z'" in files["warehouses.yaml"]
    back = from_files(files)
    assert back.warehouses["app"].cache == ledger.warehouses["app"].cache
    assert to_files(back) == files


# ------------------------------------------------------------------ the loop


def world_of(registry: FakeRegistry, *warehouses: Warehouse) -> tuple[World, list[datetime]]:
    clock = [T0]
    world = World(
        config=Config(warehouses=tuple(warehouses), stages=()),
        state=MemoryStateStore(),
        registry=registry,
        clock=lambda: clock[0],
    )
    return world, clock


def test_an_idle_run_writes_nothing_and_the_ttl_counts_from_the_last_write() -> None:
    registry = FakeRegistry({APP: ["1.0.0"]})
    wh = Warehouse("app", (sub(cache_ttl=timedelta(minutes=10)),))
    world, clock = world_of(registry, wh)
    first = reconcile(world)
    assert first.wrote and registry.requests == 2  # tag list + digest
    state: MemoryStateStore = world.state  # type: ignore[assignment]
    written = dict(state.files)
    for minutes, requests in ((5, 0), (15, 1), (16, 1)):
        clock[0] = T0 + timedelta(minutes=minutes)
        registry.requests = 0
        out = reconcile(world)
        assert (out.wrote, registry.requests, out.errors) == (False, requests, [])
    assert state.files == written and len(state.commits) == 1
    # A new image is found past the TTL, and the new checkedAt is written with it.
    registry.push(APP, "1.1.0")
    clock[0] = T0 + timedelta(minutes=20)
    assert reconcile(world).wrote
    rec = from_files(state.files).warehouses["app"]
    assert rec.cache[APP].tag == "1.1.0" and rec.cache[APP].checked_at == clock[0]
    clock[0] = T0 + timedelta(minutes=25)
    registry.requests = 0
    reconcile(world)
    assert registry.requests == 0


def test_an_explicit_refresh_bypasses_cache_ttl() -> None:
    registry = FakeRegistry({APP: ["1.0.0"]})
    world, clock = world_of(registry, Warehouse("app", (sub(cache_ttl=timedelta(hours=1)),)))
    reconcile(world)
    registry.push(APP, "1.1.0")
    clock[0] = T0 + timedelta(minutes=1)
    assert not reconcile(world).changes  # inside the TTL: the new tag is not seen yet
    out = reconcile(world, warehouses={"app"})
    (new,) = [c for c in out.changes if c.kind is ChangeKind.FREIGHT_DISCOVERED]
    assert new.subject == Subject.warehouse("app") and "1.1.0" in new.freight


def test_one_failing_subscription_is_reported_and_nothing_is_lost() -> None:
    other = "quay.io/alkon/worker"
    registry = FakeRegistry({APP: ["1.0.0"], other: ["3.0.0"], "ghcr.io/alkon/api": ["2.0.0"]})
    two = Warehouse("app", (sub(), ImageSubscription(repo_url=other)))
    fine = Warehouse("api", (ImageSubscription(repo_url="ghcr.io/alkon/api"),))
    world, clock = world_of(registry, two, fine)
    reconcile(world)
    state: MemoryStateStore = world.state  # type: ignore[assignment]
    before = from_files(state.files)
    assert len(before.freight) == 2

    registry.failing[other] = TransientError("registry quay.io answered HTTP 503")
    registry.push("ghcr.io/alkon/api", "2.1.0")
    registry.push(APP, "1.1.0")
    clock[0] = T0 + timedelta(minutes=5)
    out = reconcile(world)
    after = from_files(state.files)
    assert set(before.freight) < set(after.freight)  # old freight kept, api's new one added
    assert len(after.freight) == 3
    assert "503" in (after.warehouses["app"].error or "")
    assert after.warehouses["app"].cache[other] == before.warehouses["app"].cache[other]
    (failed,) = [c for c in out.changes if c.kind is ChangeKind.DISCOVERY_FAILED]
    assert failed.subject == Subject.warehouse("app")
    assert failed.render().startswith("app: discovery failed: image quay.io/alkon/worker")
    assert any(
        (c.kind, c.subject) == (ChangeKind.FREIGHT_DISCOVERED, Subject.warehouse("api"))
        for c in out.changes
    )


def test_a_bug_in_discovery_ends_the_run_rather_than_failing_the_warehouse_forever() -> None:
    """An exception discovery does not name (here a registry adapter's own bug) is not a
    registry failure: it reaches the command line, which exits 3 with its traceback;
    nothing is written."""
    registry = FakeRegistry({APP: ["1.0.0"]})
    world, _clock = world_of(registry, Warehouse("app", (sub(),)))
    registry.failing[APP] = ValueError("a bug")  # type: ignore[assignment]
    with pytest.raises(ValueError, match="a bug"):
        reconcile(world)
    state: MemoryStateStore = world.state  # type: ignore[assignment]
    assert state.files == {}


def test_progress_hears_every_answer_once_up_to_the_total() -> None:
    registry = FakeRegistry({APP: ["1.0.0"], "ghcr.io/alkon/api": ["2.0.0"]})
    two = Warehouse("app", (sub(),))
    api = Warehouse("api", (ImageSubscription(repo_url="ghcr.io/alkon/api"),))
    heard: list[tuple[int, int]] = []
    world, _clock = world_of(registry, two, api)
    world.progress = lambda answered, total: heard.append((answered, total))
    reconcile(world)
    assert heard == [(0, 2), (1, 2), (2, 2)]


def test_removed_subscriptions_leave_the_cache() -> None:
    other = "quay.io/alkon/worker"
    registry = FakeRegistry({APP: ["1.0.0"], other: ["3.0.0"]})
    world, _ = world_of(registry, Warehouse("app", (sub(), ImageSubscription(repo_url=other))))
    reconcile(world)
    world.config = Config(warehouses=(Warehouse("app", (sub(),)),), stages=())
    out = reconcile(world)
    (cache,) = [c for c in out.changes if c.kind is ChangeKind.DISCOVERY_CACHE]
    assert (cache.subject, cache.detail) == (Subject.warehouse("app"), other)
    assert cache.render() == f"app: discovery cache updated for {other}"
    state: MemoryStateStore = world.state  # type: ignore[assignment]
    assert list(from_files(state.files).warehouses["app"].cache) == [APP]


def test_a_repository_watched_twice_keeps_two_entries() -> None:
    registry = FakeRegistry({APP: ["1.0.0", "2.0.0"]})
    wh = Warehouse("app", (sub(semver_constraint="^1"), sub(semver_constraint="^2")))
    d = discover(wh, registry, now=T0)
    assert [(r.cache_key, r.cache.tag) for r in d.subscriptions if r.cache] == [
        (APP, "1.0.0"),
        (f"{APP}#2", "2.0.0"),
    ]


@pytest.mark.parametrize(
    ("ttl", "etags", "per_subscription"),
    [
        (None, True, 1),  # one conditional tag list, answered 304
        (None, False, 1),  # one tag list (the cached digest is reused)
        (timedelta(minutes=30), True, 0),  # inside the TTL: nothing at all
    ],
)
def test_request_count_of_an_idle_reconcile(
    ttl: timedelta | None, etags: bool, per_subscription: int
) -> None:
    n = 25
    repos = {f"ghcr.io/alkon/svc{i}": ["1.0.0", "1.1.0"] for i in range(n)}
    registry = FakeRegistry(repos, etags=etags)
    subs = tuple(ImageSubscription(repo_url=r, cache_ttl=ttl) for r in repos)
    world, clock = world_of(registry, Warehouse("all", subs))
    reconcile(world)
    assert registry.requests == 2 * n  # first run: tag list and digest of each
    clock[0] = T0 + timedelta(minutes=5)
    registry.requests = 0
    out = reconcile(world)
    assert (registry.requests, out.wrote) == (per_subscription * n, False)


def test_a_warehouse_of_image_git_and_chart_makes_one_freight(tmp_path: Path) -> None:
    """Every kind of subscription feeds one freight, through the real git and chart sources."""
    import http.server
    import threading

    from bot.adapters.gitsource import GitSource
    from bot.adapters.helm import HelmRepository
    from bot.core.discover.freight import freight_id
    from bot.core.model import ChartSubscription, GitSubscription
    from sandbox.fixtures.gitrepos import make_remote

    app = make_remote(tmp_path, {"app.py": "print(1)\n"}, name="app")
    head = subprocess.run(
        ["git", "rev-parse", "main"], cwd=app, capture_output=True, text=True, check=True
    ).stdout.strip()
    index = (
        "apiVersion: v1\nentries:\n  flask-app:\n"
        "    - {name: flask-app, version: 1.0.9, urls: [flask-app-1.0.9.tgz]}\n"
        "    - {name: flask-app, version: 1.0.8, urls: [flask-app-1.0.8.tgz]}\n"
    )

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-yaml")
            self.end_headers()
            self.wfile.write(index.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        charts_url = f"http://127.0.0.1:{server.server_address[1]}"
        wh = Warehouse(
            "mixed",
            (
                ImageSubscription(APP, ">=1.8.0"),
                GitSubscription(str(app), branch="main"),
                ChartSubscription(charts_url, "flask-app", ">=1.0.0"),
            ),
        )
        reg = FakeRegistry({APP: ["1.8.4"]})
        helm = HelmRepository()
        d = discover(wh, reg, charts=helm, git=GitSource(tmp_path / "cache"))
        helm.close()
    finally:
        server.shutdown()
        server.server_close()
    assert d.error is None, d
    (image,), (commit,), (chart,) = (s.artifacts[:1] for s in d.subscriptions)
    assert isinstance(image, Image) and isinstance(commit, Commit) and isinstance(chart, Chart)
    assert (commit.id, chart.version) == (head, "1.0.9")
    fid = freight_id("mixed", [image], [chart], [commit])
    assert len(fid) == 40


def test_chart_index_is_asked_conditionally_on_the_next_run(tmp_path: Path) -> None:
    """The ETag of index.yaml is kept with the ledger, so the next run's GET answers 304."""
    import http.server
    import threading

    from bot.adapters.helm import HelmRepository
    from bot.core.decide.observations import Observations
    from bot.core.decide.planner import plan
    from bot.core.ledger import Ledger
    from bot.core.model import ChartSubscription

    index = "apiVersion: v1\nentries:\n  app:\n    - {name: app, version: 2.1.0, urls: [a.tgz]}\n"
    answers: list[int] = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 304 if self.headers.get("If-None-Match") == '"v1"' else 200
            answers.append(status)
            self.send_response(status)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            if status == 200:
                self.wfile.write(index.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        wh = Warehouse("charts", (ChartSubscription(url, "app", "^2"),))
        cfg = Config(warehouses=(wh,), stages=())
        helm = HelmRepository()
        first = discover(wh, FakeRegistry(), charts=helm)
        led = plan(cfg, Ledger(), Observations(discoveries={"charts": first}), T0).ledger
        # Through the state branch's files and back, as the next run reads it.
        led = from_files(to_files(led))
        second = discover(
            wh, FakeRegistry(), charts=helm, validators=led.warehouses["charts"].validators
        )
        helm.close()
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [200, 304]
    assert second.subscriptions[0].artifacts == first.subscriptions[0].artifacts


# ------------------------------------------------------------------ deadlines and budgets


class MovingClock:
    """A monotonic clock that moves ``step`` seconds on every registry request, as real
    requests take time (nothing here ever stands still)."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def request(self, kind: str, repo_url: str) -> None:
        with self._lock:
            self.now += self.step


def many(n: int, host: str = "ghcr.io") -> tuple[FakeRegistry, list[Warehouse]]:
    registry = FakeRegistry({f"{host}/app{i}": ["1.0.0"] for i in range(n)})
    return registry, [Warehouse(f"w{i}", (sub(repo_url=f"{host}/app{i}"),)) for i in range(n)]


def test_warehouses_whose_last_discovery_failed_go_first() -> None:
    _, warehouses = many(4)
    records = {"w2": WarehouseRecord(error="cut short"), "w1": WarehouseRecord()}
    assert [wh.name for wh in run_order(warehouses, records)] == ["w2", "w0", "w1", "w3"]


def test_the_discovery_deadline_cuts_the_rest_short_and_says_so() -> None:
    clock = MovingClock(step=1.0)
    registry, warehouses = many(10)
    registry.on_call = clock.request
    deadline = Deadline(7.0, clock=clock)  # two requests a warehouse: three or four fit
    found, missed = discover_warehouses(
        warehouses, registry, {}, now=T0, deadline=deadline, workers=1
    )
    done = [w for w, d in found.items() if d.error is None]
    assert 3 <= len(done) <= 4
    assert {m.warehouse for m in missed} == set(found) - set(done)
    assert {m.shortfall for m in missed} == {Shortfall.DEADLINE}
    assert registry.requests <= 8


def test_a_spent_budget_is_a_shortfall_and_the_next_run_reaches_the_rest() -> None:
    registry, warehouses = many(5)
    registry.budget = 6  # three warehouses of two requests each
    _, missed = discover_warehouses(warehouses, registry, {}, now=T0, workers=1)
    assert [m.warehouse for m in missed] == ["w3", "w4"]
    assert {m.shortfall for m in missed} == {Shortfall.BUDGET}
    records = {m.warehouse: WarehouseRecord(error=m.detail) for m in missed}
    registry.by_host.clear()  # the next run
    _, missed = discover_warehouses(warehouses, registry, records, now=T0, workers=1)
    assert [m.warehouse for m in missed] == ["w1", "w2"]  # w3 and w4 went first, then w0


def test_subscriptions_are_asked_concurrently_within_the_pool() -> None:
    started: list[str] = []
    both = threading.Barrier(2, timeout=5)

    def meet(kind: str, repo_url: str) -> None:
        if kind == "tags":
            started.append(repo_url)
            both.wait()  # only passes when two subscriptions are asked at the same time

    registry, warehouses = many(2)
    registry.on_call = meet
    found, missed = discover_warehouses(warehouses, registry, {}, now=T0, workers=2)
    assert missed == [] and all(d.error is None for d in found.values())
    assert sorted(started) == ["ghcr.io/app0", "ghcr.io/app1"]

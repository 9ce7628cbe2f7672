"""``shunter dashboard`` end to end: the flask-app pipeline of the demo runs in the
sandbox, the dashboard is written from its ledger, and headless Chromium loads it. The
assertions read the DOM Chromium built (with and without JavaScript), never pixels."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.core.colors import contrast_ratio, resolve
from sandbox.browser import load, screenshot
from sandbox.fixtures.conformance import ConformanceLog
from sandbox.pipeline import pipeline_world
from sandbox.registry import LocalRegistry


class Dom(HTMLParser):
    """The elements of a page as (tag, attributes, text inside) in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("br", "meta", "link", "img", "input"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            i = self._open.pop()
            if self.elements[i][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for i in self._open:
            self.elements[i][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        """Elements ``tag`` whose attributes include ``attrs`` (``class_`` matches a class)."""
        want_class = attrs.pop("class_", None)
        out = []
        for t, a, text in self.elements:
            if t != tag or any(a.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            if want_class is not None and want_class not in a.get("class", "").split():
                continue
            out.append((a, " ".join("".join(text).split())))
        return out


def _style(attrs: dict[str, str]) -> dict[str, str]:
    pairs = (p.split(":", 1) for p in attrs.get("style", "").split(";") if ":" in p)
    return {k.strip(): v.strip() for k, v in pairs}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    oci_registry: LocalRegistry,
    github_conformance: ConformanceLog,
) -> tuple[Path, dict[str, dict[str, object]], list[dict[str, object]]]:
    """The demo's pipeline after 1.8.4 reached prod, 1.8.5 reached dev and staging was
    paused; the dashboard written from its ledger, with ``get`` as the reference."""
    root = tmp_path_factory.mktemp("dashboard")
    with pipeline_world(
        root / "world", oci_registry, "e2e/dashboard", conformance=github_conformance
    ) as p:
        prod = p.prod_pr()
        p.pr(prod, "alice").create_review(event="APPROVE")
        p.pr(prod, "tech-lead").create_review(event="APPROVE")
        p.shunter("reconcile")
        p.w.push("1.8.5")
        p.now += timedelta(hours=1)
        p.shunter("reconcile")
        p.shunter("pause", "staging", "--reason", "freeze for the audit", login="tech-lead")
        stages = p.stages()
        promotions = json.loads(p.shunter("get", "promotions", "-o", "json"))
        out = p.shunter("dashboard", "--out", str(root / "site"))
    assert out.strip().endswith("index.html")
    return root / "site" / "index.html", stages, promotions


def test_dashboard_shows_the_pipeline_in_chromium(site, tmp_path: Path) -> None:
    index, stages, promotions = site
    page = load(index)
    assert page.console == ()  # no error, no warning, no log
    dom = Dom(page.dom)
    assert dom.find("html", data_enhanced="true")  # the script ran, without errors
    cards = dom.find("li", class_="stage")
    assert [a["data-stage"] for a, _ in cards] == ["dev", "staging", "prod"]

    # Each card wears its stage's colour with readable text, and runs what `get` says.
    heads = dom.find("div", class_="stage-head")
    for (attrs, _), color in zip(heads, ("#4CAF50", "#FF9800", "#F44336"), strict=True):
        style = _style(attrs)
        assert style["background-color"] == resolve(color)
        assert contrast_ratio(style["background-color"], style["color"]) >= 4.5
    for attrs, text in cards:
        cur = stages[attrs["data-stage"]]["currentFreight"]
        assert attrs["data-freight"] == (cur["alias"] if cur else "")
        if cur:
            assert f"{cur['alias']} ({cur['version']})" in text
    gates = {a["data-stage"]: a["data-gate"] for a, _ in cards}
    assert gates["staging"] == "paused" and gates["prod"] == "manual"

    # The timeline: a column per freight, a cell per stage it reached.
    columns = [a["data-freight"] for a, _ in dom.find("th", scope="col") if "data-freight" in a]
    assert len(columns) == 2
    cells = dom.find("td", class_="reached") + dom.find("td", class_="current")
    reached = {(a["data-stage"], a["data-freight"]) for a, text in cells if text}
    assert reached == {(p["stage"], p["alias"]) for p in promotions if p["status"] == "Succeeded"}
    assert {a for _, a in reached} == set(columns)  # dev, staging, prod for the first; dev
    current = {(a["data-stage"], a["data-freight"]) for a, _ in dom.find("td", class_="current")}
    runs = {name: row["currentFreight"] for name, row in stages.items()}
    assert current == {(name, cur["alias"]) for name, cur in runs.items() if cur}

    # Every recorded promotion with a PR links to it.
    links = [a["href"] for a, _ in dom.find("a", class_="pr")]
    assert links == [p["url"] for p in promotions if p["url"]]
    assert links and all(h.startswith("http") for h in links)

    # The emergency operation is listed with its reason.
    assert any("freeze for the audit" in t for _, t in dom.find("tr"))
    shot = screenshot(index, tmp_path / "dashboard.png")
    assert shot.stat().st_size > 10_000


def test_dashboard_reads_the_same_without_javascript(site) -> None:
    """The page as written is what a browser without JavaScript shows: every stage, the
    timeline and the history are there, and no control that needs the script is offered."""
    index, stages, promotions = site
    dom = Dom(index.read_text())
    assert not dom.find("html", data_enhanced="true")
    assert [a["data-stage"] for a, _ in dom.find("li", class_="stage")] == list(stages)
    assert len(dom.find("td", class_="current")) == 3
    assert len(dom.find("a", class_="pr")) == len(promotions)
    assert dom.find("button") and all("hidden" in a for a, _ in dom.find("button"))
    # Nothing is fetched: no external script, style sheet, image or font.
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        assert all(attr not in a for a, _ in dom.find(tag))


def test_the_browser_reports_console_errors(tmp_path: Path) -> None:
    """The "no console messages" check above can fail: a page that throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><p>x</p><script>notDefined();</script>")
    assert any("notDefined" in text for text in load(page).console)

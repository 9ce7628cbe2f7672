"""The pipeline as a picture: warehouses → stages as a Mermaid flowchart, and the freight
table beside it. Pure.

:func:`pipeline` gathers what each stage shows (description, colour, icon, the freight it
runs and since when, what it waits for) from the config, the ledger and the run's typed
decisions; :func:`pipeline_markdown` draws it for the step summary and the promotion PR
body, and the dashboard (``bot.render.dashboard``) lays out the same values as HTML.

What a node says comes from typed values only (a decision's kind, the kinds of the gates
that block it, a PR number), never from a gate's detail: details such as "12m left" change
on every run, and a PR body drawn from them would be rewritten by every idle run.

Size: GitHub renders a Mermaid block of at most 50,000 characters with fewer than 500
edges (Mermaid's defaults ``maxTextSize`` and ``maxEdges``), a PR body holds at most
65,536 characters and a step summary 1 MiB. The drawing shrinks to fit the budget it is
given (descriptions first, then stages and freight rows) and says what it left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bot.core.colors import resolve, text_on
from bot.core.decide.outcomes import Decision, DecisionKind, SubjectKind
from bot.core.ledger import Ledger
from bot.core.model import Config

COLOR: Final = "kargo.akuity.io/color"
DESCRIPTION: Final = "kargo.akuity.io/description"
ICON: Final = "kargo.akuity.io/icon"
MERMAID_MAX: Final = 50_000  # Mermaid's default maxTextSize, which GitHub keeps
MERMAID_EDGES: Final = 500  # Mermaid's default maxEdges: a graph must have fewer
MARKER: Final = "<!-- shunter:pipeline -->"

# Kargo's stage icons are Font Awesome names; Markdown and Mermaid on GitHub show no icon
# font, so each common name becomes an emoji. Any other name is shown as written.
ICONS: Final[dict[str, str]] = {
    "rocket": "🚀",
    "shield": "🛡️",
    "shield-halved": "🛡️",
    "flask": "🧪",
    "vial": "🧪",
    "code": "💻",
    "laptop-code": "💻",
    "server": "🖥️",
    "cloud": "☁️",
    "gear": "⚙️",
    "cog": "⚙️",
    "bug": "🐛",
    "check": "✅",
    "circle-check": "✅",
    "lock": "🔒",
    "star": "⭐",
    "flag": "🚩",
    "fire": "🔥",
    "globe": "🌐",
    "earth-americas": "🌎",
    "database": "🗄️",
    "box": "📦",
    "cube": "📦",
    "truck": "🚚",
    "user": "👤",
    "users": "👥",
    "building": "🏢",
    "heart": "❤️",
    "bolt": "⚡",
    "eye": "👁️",
    "hammer": "🔨",
    "wrench": "🔧",
    "crown": "👑",
    "leaf": "🍃",
    "tag": "🏷️",
    "bell": "🔔",
    "anchor": "⚓",
    "ship": "🚢",
    "plane": "✈️",
    "house": "🏠",
    "home": "🏠",
    "gem": "💎",
    "seedling": "🌱",
    "industry": "🏭",
    "microscope": "🔬",
    "shuffle": "🔀",
    "play": "▶️",
}
WAREHOUSE_ICON: Final = "📦"


def icon_text(name: str | None) -> str:
    """The emoji for a Kargo icon name, the name itself when unknown, ``""`` for none."""
    if not name:
        return ""
    return ICONS.get(name.strip().lower(), name.strip())


@dataclass(frozen=True)
class WarehouseCard:
    name: str
    node: str  # the Mermaid node id
    failing: bool  # its last discovery failed
    newest: str  # the newest freight's label, "" when none


@dataclass(frozen=True)
class StageCard:
    """One stage as every view shows it."""

    name: str
    node: str
    description: str
    color: str | None  # #RRGGBB or None when the stage has none
    icon: str  # emoji or the icon name as written
    alias: str  # the freight it runs, "" when none
    version: str
    since: datetime | None
    waits: str  # what it waits for, from the typed decisions; "" when nothing
    blocked: bool
    stuck: bool
    sources: tuple[str, ...]  # node ids it takes freight from


@dataclass(frozen=True)
class FreightRow:
    alias: str
    name: str
    version: str
    warehouse: str
    discovered_at: datetime | None
    runs_in: tuple[tuple[str, datetime | None], ...]  # (stage, since), pipeline order


@dataclass(frozen=True)
class Pipeline:
    warehouses: tuple[WarehouseCard, ...]
    stages: tuple[StageCard, ...]
    freight: tuple[FreightRow, ...]  # running freight first, then newest first


def waits_for(decisions: Iterable[Decision]) -> str:
    """What a stage or warehouse waits for, from its decisions' kinds and blocking gates.

    ``""`` when it waits for nothing (up to date). Words come from enum values and PR
    numbers only, so the text is the same on every run until something changes.
    """
    parts = []
    for d in decisions:
        if d.kind is DecisionKind.UP_TO_DATE:
            continue
        text = d.kind.value
        if d.pr is not None:
            text += f" (PR #{d.pr})"
        blocking = [g.kind.value for g in d.gates if g.blocks]
        if blocking:
            text += ": " + ", ".join(blocking)
        parts.append(text)
    return "; ".join(parts)


def pipeline(config: Config, ledger: Ledger, decisions: Sequence[Decision]) -> Pipeline:
    """What the pipeline views show, stages in the config's (source) order."""
    by_subject: dict[tuple[SubjectKind, str], list[Decision]] = {}
    for d in decisions:
        by_subject.setdefault((d.subject.kind, d.subject.name), []).append(d)
    wnodes = {w.name: f"w{i}" for i, w in enumerate(config.warehouses)}
    snodes = {s.name: f"s{i}" for i, s in enumerate(config.stages)}

    def newest(warehouse: str) -> str:
        recs = [r for r in ledger.freight.values() if r.freight.warehouse == warehouse]
        if not recs:
            return ""
        f = max(recs, key=lambda r: _when(r.freight.discovered_at)).freight
        return f"{f.alias} ({f.summary()})"

    warehouses = tuple(
        WarehouseCard(
            name=w.name,
            node=wnodes[w.name],
            failing=bool(ledger.warehouses.get(w.name) and ledger.warehouses[w.name].error),
            newest=newest(w.name),
        )
        for w in config.warehouses
    )
    stages = []
    for s in config.stages:
        rec = ledger.stages.get(s.name)
        cur = ledger.freight.get(rec.current_freight or "") if rec else None
        mine = by_subject.get((SubjectKind.STAGE, s.name), [])
        sources: list[str] = []
        for req in s.requested_freight:
            if req.direct and req.warehouse in wnodes:
                sources.append(wnodes[req.warehouse])
            sources += [snodes[u] for u in req.upstream_stages if u in snodes]
        stages.append(
            StageCard(
                name=s.name,
                node=snodes[s.name],
                description=s.annotation(DESCRIPTION) or "",
                color=resolve(s.annotation(COLOR)),
                icon=icon_text(s.annotation(ICON)),
                alias=cur.freight.alias if cur else "",
                version=cur.freight.summary() if cur else "",
                since=rec.since if rec and cur else None,
                waits=waits_for(mine),
                blocked=any(d.blocked for d in mine),
                stuck=any(d.kind is DecisionKind.STUCK for d in mine),
                sources=tuple(dict.fromkeys(sources)),
            )
        )
    order = {s.name: i for i, s in enumerate(config.stages)}
    rows = []
    for fr in ledger.freight.values():
        f = fr.freight
        if f.name in ledger.shelved:
            continue  # kept only for the audit log (``get freight`` lists it): not pipeline

        runs = sorted(
            (
                (name, r.since)
                for name, r in ledger.stages.items()
                if r.current_freight == f.name and name in order
            ),
            key=lambda x: order[x[0]],
        )
        rows.append(
            FreightRow(
                alias=f.alias,
                name=f.name,
                version=f.summary(),
                warehouse=f.warehouse,
                discovered_at=f.discovered_at,
                runs_in=tuple(runs),
            )
        )
    rows.sort(key=lambda r: (not r.runs_in, -_when(r.discovered_at).timestamp(), r.name))
    return Pipeline(warehouses=warehouses, stages=tuple(stages), freight=tuple(rows))


def _when(t: datetime | None) -> datetime:
    return t if t is not None else datetime.min.replace(tzinfo=UTC)


def when_text(t: datetime | None) -> str:
    """``2026-11-26 09:00 UTC``: absolute, so the text does not change from run to run."""
    return "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- Mermaid

# Characters that end or reshape a Mermaid label, or a Markdown code fence, written as
# Mermaid's entity codes (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters).
_ENTITIES: Final = {
    '"': "#quot;",
    "#": "#35;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "%": "#37;",
    ";": "#59;",
    "\\": "#92;",
    "{": "#123;",
    "}": "#125;",
}


def _label(text: str) -> str:
    """``text`` made safe inside a quoted Mermaid label: one line, entities for the rest."""
    flat = " ".join(text.split())
    return "".join(_ENTITIES.get(c, c) for c in flat)


def mermaid(p: Pipeline, *, highlight: str | None = None, detail: bool = True) -> str:
    """The flowchart source, left to right: warehouses, then stages in pipeline order.

    ``highlight`` names the stage drawn with a heavy dashed border and a ▶ (the stage of
    the PR the graph is in). Without ``detail`` descriptions are left out.
    """
    lines = ["flowchart LR"]
    used = {src for s in p.stages for src in s.sources}
    drawn = {s.node for s in p.stages}
    for w in p.warehouses:
        if w.node not in used and p.stages:
            continue
        drawn.add(w.node)
        text = [f"{WAREHOUSE_ICON} {w.name}"]
        if w.failing:
            text.append("discovery failing")
        elif w.newest and detail:
            text.append(f"newest {w.newest}")
        lines.append(f'  {w.node}[("{"<br/>".join(_label(t) for t in text)}")]')
    for s in p.stages:
        mark = "▶ " if s.name == highlight else ""
        text = [f"{mark}{s.icon} {s.name}".strip()]
        if detail and s.description:
            text.append(s.description)
        text.append(f"runs {s.alias} ({s.version})" if s.alias else "runs nothing yet")
        if s.waits:
            text.append(("⛔ " if s.stuck else "⏳ ") + s.waits)
        lines.append(f'  {s.node}["{"<br/>".join(_label(t) for t in text)}"]')
    for s in p.stages:
        lines += [f"  {src} --> {s.node}" for src in s.sources if src in drawn]
    for s in p.stages:
        style = []
        if s.color:
            style += [f"fill:{s.color}", f"color:{text_on(s.color)}"]
        if s.name == highlight:
            style += ["stroke:#000000", "stroke-width:4px", "stroke-dasharray:6 3"]
        if style:
            lines.append(f"  style {s.node} {','.join(style)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ").replace("`", "'")


def freight_table(rows: Sequence[FreightRow]) -> str:
    """The freight beside the graph: alias, version, where it runs and since when."""
    out = ["| Freight | Version | Warehouse | Runs in (since) |", "|---|---|---|---|"]
    for r in rows:
        where = ", ".join(f"{s} ({when_text(t)})" if t else s for s, t in r.runs_in) or "—"
        out.append(
            f"| `{_cell(r.alias)}` | {_cell(r.version)} | {_cell(r.warehouse)} | {_cell(where)} |"
        )
    return "\n".join(out) + "\n"


def _size(text: str) -> int:
    return len(text.encode())


def pipeline_markdown(p: Pipeline, *, highlight: str | None = None, budget: int) -> str:
    """The graph in a ``mermaid`` block and the freight table, in at most ``budget`` bytes.

    Shrinks in steps until it fits: descriptions out, then only the first stages (the
    highlighted one always kept) and the first freight rows; a note says what was cut.
    Returns ``""`` when even the smallest drawing does not fit.
    """
    k_s, k_r = len(p.stages), len(p.freight)
    levels = [(True, k_s, k_r), (False, k_s, k_r)]
    while k_s > 1 or k_r > 0:
        k_s, k_r = max(1, k_s // 2), k_r // 2
        levels.append((False, k_s, k_r))
    for detail, keep_s, keep_r in levels:
        source, text = _draw(p, highlight, detail, keep_s, keep_r)
        fits_mermaid = len(source) <= MERMAID_MAX and source.count(" --> ") < MERMAID_EDGES
        if fits_mermaid and _size(text) <= budget:
            return text
    return ""


def _draw(
    p: Pipeline, highlight: str | None, detail: bool, keep_s: int, keep_r: int
) -> tuple[str, str]:
    """(the Mermaid source, the whole Markdown) for one level of detail."""
    stages = list(p.stages[:keep_s])
    if highlight and all(s.name != highlight for s in stages):
        stages += [s for s in p.stages if s.name == highlight]
    shown = Pipeline(p.warehouses, tuple(stages), p.freight[:keep_r])
    source = mermaid(shown, highlight=highlight, detail=detail)
    cut = []
    if not detail:
        cut.append("stage descriptions")
    if len(stages) < len(p.stages):
        left = [s.name for s in p.stages if s not in stages]
        names = ", ".join(left[:5]) + (", …" if len(left) > 5 else "")
        cut.append(f"{len(left)} of {len(p.stages)} stages ({names})")
    if keep_r < len(p.freight):
        cut.append(f"{len(p.freight) - keep_r} of {len(p.freight)} freight rows")
    md = [MARKER, "### Pipeline", "", "```mermaid", source.rstrip("\n"), "```", ""]
    if keep_r:
        md.append(freight_table(shown.freight))
    if cut:
        md.append(
            "<sub>Cut to fit GitHub's size limits: "
            + _cell("; ".join(cut))
            + ". `shunter get stages` and the dashboard show everything.</sub>\n"
        )
    return source, "\n".join(md)


def without_pipeline(body: str) -> str:
    """A PR body without the pipeline section this module appended to it."""
    return body.split("\n" + MARKER, 1)[0]


def with_pipeline(body: str, section: str) -> str:
    """``body`` followed by ``section`` (made by :func:`pipeline_markdown`)."""
    base = without_pipeline(body)
    return base if not section else base + "\n" + section

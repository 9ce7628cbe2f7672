"""Headless Chromium (Debian's ``chromium``) for the tests and the demo: load a page and
read its DOM and console, take a screenshot, and run Mermaid's own parser on diagrams.

Every launch is offline and leaves nothing behind: a fresh profile directory, no
background networking, component updates or sync (the machine has no network and must
not try), and no GPU.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MERMAID_JS = ROOT / ".tools" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
)
# With --enable-logging=stderr Chromium logs every console message and uncaught error as
# ...:INFO:CONSOLE:12] "text", source: url (12)  (older builds: CONSOLE(12)), all at INFO.
_CONSOLE = re.compile(r':CONSOLE(?::\d+|\(\d+\))\] "(.*)", source: ')


def chromium() -> str:
    """The Chromium binary; ``make setup`` installs Debian's ``chromium`` when missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("chromium is not installed: run `make setup`")
    return found


@dataclass(frozen=True)
class Page:
    """What a page left after loading: its DOM as HTML and every console message (logs,
    errors and uncaught exceptions alike: Chromium's log does not tell them apart)."""

    dom: str
    console: tuple[str, ...]


def _run(url: str, *extra: str, budget_ms: int = 10_000) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="shunter-chromium-") as profile:
        return subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--enable-logging=stderr",
                "--v=0",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def load(path: Path, *, javascript: bool = True) -> Page:
    """Load ``path`` (a local file), let its scripts run, and return the DOM and console."""
    extra = (
        ("--dump-dom",) if javascript else ("--dump-dom", "--blink-settings=scriptEnabled=false")
    )
    done = _run(path.resolve().as_uri(), *extra)
    console = tuple(m.group(1) for m in _CONSOLE.finditer(done.stderr))
    return Page(dom=done.stdout, console=console)


def screenshot(path: Path, out: Path, *, width: int = 1280, height: int = 1600) -> Path:
    """Save a PNG of ``path`` as a ``width`` by ``height`` window shows it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(path.resolve().as_uri(), f"--screenshot={out}", f"--window-size={width},{height}")
    return out


_HARNESS = """<!doctype html><html><head><meta charset="utf-8">
<script src="{mermaid}"></script></head><body><pre id="out">pending</pre>
<script id="diagrams" type="application/json">{diagrams}</script>
<script>
mermaid.initialize({{startOnLoad: false}});
(async () => {{
  const diagrams = JSON.parse(document.getElementById("diagrams").textContent);
  const results = [];
  for (const d of diagrams) {{
    try {{ await mermaid.parse(d); results.push(null); }}
    catch (e) {{ results.push(String((e && e.message) || e)); }}
  }}
  document.getElementById("out").textContent = JSON.stringify(results);
}})();
</script></body></html>
"""


def mermaid_errors(diagrams: list[str]) -> list[str | None]:
    """Run Mermaid's parser (npm ``mermaid``, in Chromium: it needs a DOM) on each diagram.

    Returns, per diagram, ``None`` when it parses and the parser's message when it does
    not. One Chromium launch for the whole list. Raises ``RuntimeError`` when the parser
    did not run at all, so a broken harness never passes for a valid diagram.
    """
    if not MERMAID_JS.is_file():
        raise RuntimeError(f"{MERMAID_JS} is missing: run `make setup`")
    payload = json.dumps(diagrams).replace("</", "<\\/")
    with tempfile.TemporaryDirectory(prefix="shunter-mermaid-") as tmp:
        page = Path(tmp) / "parse.html"
        page.write_text(_HARNESS.format(mermaid=MERMAID_JS.as_uri(), diagrams=payload))
        dom = load(page).dom
    m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    if m is None or m.group(1) == "pending":
        raise RuntimeError("Mermaid's parser did not run in Chromium")
    results: list[str | None] = json.loads(html.unescape(m.group(1)))
    if len(results) != len(diagrams):
        raise RuntimeError("Mermaid's parser did not answer for every diagram")
    return results

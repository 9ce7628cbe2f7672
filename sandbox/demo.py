"""``make demo``: the seed's flask-app pipeline, end to end, in a local sandbox.

Everything is real except GitHub itself: git repositories, Debian's docker-registry with
images pushed by skopeo, and the ``shunter`` command as a workflow would run it. GitHub is
the loopback REST sandbox, which PyGithub talks to over HTTP. The clock is simulated so the
30-minute ``autoPromotionDelay`` of staging passes in an instant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.browser import screenshot
from sandbox.conformance import description, summary
from sandbox.world import REPOSITORY, USERS, SandboxWorld

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
OUTPUT = Path("demo-output")  # what the demo leaves behind: the dashboard and its screenshot
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def step(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}", flush=True)


class Demo:
    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.now = T0
        self.summary = world.root / "step-summary.md"
        if world.github is not None:
            world.github.clock = lambda: self.now  # GitHub's timestamps follow the demo clock

    def shunter(self, *args: str, login: str = "shunter-bot", quiet: bool = False) -> str:
        """Run the real ``shunter`` command as the Action would, and show its output."""
        env = dict(os.environ)
        env.update(
            self.world.env(
                login=login,
                SHUNTER_NOW=self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                GITHUB_ACTIONS="true",
                GITHUB_STEP_SUMMARY=str(self.summary),
                GITHUB_OUTPUT=str(self.world.root / "outputs.txt"),
                GITHUB_ACTOR=login,
            )
        )
        shown = " ".join(args)
        if not quiet:
            print(f"{DIM}[{self.now:%H:%M}]{RESET} $ shunter {shown}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--repo-dir", str(self.world.checkout), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        text = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("::"))
        if not quiet and text.strip():
            print(_indent(text))
        if done.stderr.strip():
            print(_indent(done.stderr.strip()))
        if done.returncode != 0:
            raise SystemExit(f"shunter {shown} failed with exit code {done.returncode}")
        return done.stdout

    def review(self, login: str, number: int) -> None:
        import github
        from github import Auth

        assert self.world.github is not None
        gh = github.Github(auth=Auth.Token(USERS[login]), base_url=self.world.github.api_url)
        pr = gh.get_repo(REPOSITORY).get_pull(number)
        pr.create_review(event="APPROVE", body="Looks good to me.")
        gh.close()
        print(
            f"{DIM}[{self.now:%H:%M}]{RESET} {login} approves PR #{number} (head {pr.head.sha[:7]})"
        )

    def open_prs(self) -> list[tuple[int, str, str]]:
        import github
        from github import Auth

        assert self.world.github is not None
        gh = github.Github(auth=Auth.Token(USERS["alice"]), base_url=self.world.github.api_url)
        out = [(p.number, p.title, p.html_url) for p in gh.get_repo(REPOSITORY).get_pulls("open")]
        gh.close()
        return out

    def show_prs(self) -> None:
        prs = self.open_prs()
        if not prs:
            print("  (no open promotion pull requests)")
        for number, title, url in prs:
            print(f"  PR #{number}: {title}\n          {url}")

    def pr_number(self, stage: str) -> int:
        rows = json.loads(self.shunter("get", "stages", "-o", "json", quiet=True))
        row = next(r for r in rows if r["name"] == stage)
        return int(row["promotion"]["pr"])

    def later(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        print(f"{DIM}   ... {minutes} minutes pass (simulated clock){RESET}")

    def run(self) -> None:
        w = self.world
        step("The sandbox")
        print(f"  registry    {w.image_repo}  (Debian docker-registry, stands in for ghcr.io)")
        print(f"  GitHub API  {w.github.api_url if w.github else ''}  (REST sandbox, PyGithub)")
        print(f"  repository  {REPOSITORY}  (bare git repository {w.bare})")
        self.shunter("validate")

        step("flask-app 1.8.4 is pushed; a scheduled run picks it up")
        print(f"  skopeo pushed {w.image_repo}:1.8.4 -> {w.push('1.8.4')[:19]}...")
        self.shunter("reconcile")
        self.shunter("get", "stages")

        step("30 minutes later: staging's autoPromotionDelay has passed")
        self.later(31)
        self.shunter("reconcile")
        self.shunter("get", "stages")
        step("prod is manual and needs 2 approvals (team platform-team, user tech-lead)")
        self.show_prs()
        prod = self.pr_number("prod")
        self.review("mallory", prod)  # not an eligible approver: ignored
        self.review("alice", prod)
        self.shunter("reconcile")
        self.review("tech-lead", prod)
        self.shunter("reconcile")
        self.shunter("get", "stages")
        print("  prod's values.yaml on main now reads:")
        print(_indent(_grep(w.main_file("env/prod/values.yaml"), "tag:")))

        step("flask-app 1.8.5 arrives: it moves through dev and staging")
        print(f"  skopeo pushed {w.image_repo}:1.8.5")
        w.push("1.8.5")
        self.later(60)
        self.shunter("reconcile")
        self.later(31)
        self.shunter("reconcile")
        step("1.8.6 arrives while prod's PR for 1.8.5 waits: the open PR moves on")
        w.push("1.8.6")
        self.later(5)
        self.shunter("reconcile")
        self.later(31)
        self.shunter("reconcile")
        self.show_prs()
        self.shunter("get", "stages", "-o", "wide")
        self.shunter("get", "promotions")
        self.shunter("get", "freight")

        step("What the last run's GitHub step summary shows (GitHub draws the mermaid graph)")
        summary = self.summary.read_text() if self.summary.exists() else ""
        last = summary.rsplit("## Shunter", 1)[-1]
        print(_indent("## Shunter" + last.rstrip()))

        step("The dashboard for GitHub Pages, from the ledger")
        self.shunter("dashboard", "--out", str(OUTPUT))
        index = OUTPUT / "index.html"
        print(f"  open {index.resolve().as_uri()} in a browser")
        try:
            shot = screenshot(index, OUTPUT / "dashboard.png")
            print(f"  headless Chromium's screenshot of it: {shot}")
        except (RuntimeError, subprocess.SubprocessError) as err:
            print(f"  (no screenshot: {err})")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _grep(text: str, needle: str) -> str:
    return "\n".join(line for line in text.splitlines() if needle in line)


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shunter-demo-") as tmp, SandboxWorld(Path(tmp)) as w:
        Demo(w).run()
        assert w.github is not None
        step("The GitHub sandbox, checked against GitHub's published REST description")
        print(f"  {summary(description().check_all(w.github.requests))}")
    print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

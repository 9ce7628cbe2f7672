"""GitHub Actions I/O: annotations, masking, step outputs and the step summary.

Everything here follows GitHub's workflow-commands reference
(https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/workflow-commands-for-github-actions):

- ``::error file=F,line=L,col=C,title=T::message`` on stdout makes an annotation. The
  message escapes ``%``, ``\\r`` and ``\\n``; property values also escape ``:`` and ``,``
  (the same rules as ``@actions/core``'s ``command.ts``).
- ``::add-mask::value`` hides a value in the rest of the log; a multi-line secret is
  masked line by line, because the runner matches single lines.
- Step outputs are appended to the file named by ``GITHUB_OUTPUT`` as
  ``name<<DELIMITER``, the value, then ``DELIMITER``: a heredoc, so values may span
  lines. The delimiter carries a random suffix so no value can end it early.
- The step summary is Markdown appended to the file named by ``GITHUB_STEP_SUMMARY``
  (at most 1 MiB per step; GitHub drops a larger one entirely, so we cut it short).

Outside Actions (``GITHUB_ACTIONS`` is not ``"true"``) annotations become plain lines
on stderr, and masking, outputs and summaries do nothing.

**Outside text never starts a line of the job log.** The runner reads every line of
stdout and stderr that starts (after blanks) with ``::`` as a workflow command, and a line
holding ``##[`` as an old-style one, so a tag, a reason, a PR title or an error body
carrying ``\n::add-mask::...`` or ``::stop-commands::...`` could act on the rest of the
job. So:

- every line the bot prints with outside text in it goes through :func:`one_line`, which
  escapes ``%``, ``\r`` and ``\n`` the way command data is escaped: the text stays on
  the line the bot started, whatever it holds;
- every annotation escapes its message the same way (:func:`escape_data`), and is
  printed once per run however often a run reports the same problem;
- :class:`LogGuard` wraps the command's stdout and stderr as a last line of defence: a
  line that did not come from :class:`ActionsIO` and that the runner would read as a
  command has its ``::``/``##[`` escaped (``%3A``, ``%5B``), so it prints as text.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from bot.errors import PermanentError, Problem

#: GitHub's limit for one step's summary, in bytes.
SUMMARY_LIMIT = 1024 * 1024
_TRUNCATED = "\n\n_(summary cut short: GitHub shows at most 1 MiB per step)_\n"


def escape_data(text: str) -> str:
    """Return ``text`` escaped for the message part of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Return ``text`` escaped for a property value (``file=...``) of a workflow command."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# What the runner reads as a command: "::name" at the start of a line (after blanks), or
# the old "##[name]" form anywhere in it.
_COMMAND_START = re.compile(r"^(\s*):")
_OLD_COMMAND = "##["


def inert(line: str) -> str:
    """Return one physical ``line`` the runner will not read as a workflow command: a
    leading ``::`` becomes ``%3A:`` and every ``##[`` becomes ``##%5B`` (visible, and
    telling what was escaped); any other line is returned unchanged."""
    if line.lstrip().startswith("::"):
        line = _COMMAND_START.sub(r"\1%3A", line, count=1)
    return line.replace(_OLD_COMMAND, "##%5B")


def one_line(text: str) -> str:
    """Return ``text`` (which may hold outside data) as one inert line of the job log:
    ``%``, ``\r`` and ``\n`` escaped as for command data, then made :func:`inert`."""
    return inert(escape_data(text))


class LogGuard(io.TextIOBase):
    """A text stream that passes each complete line to ``raw`` made :func:`inert`.

    The CLI wraps stdout and stderr in it; :class:`ActionsIO` writes its commands to
    ``raw`` itself, so only the bot's own commands reach the
    runner as commands.
    """

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        if lines:
            self.raw.write("".join(inert(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.raw.write(inert(self._partial))
            self._partial = ""
        self.raw.flush()

    def end_line(self) -> None:
        """End a partly written line, so that what ``raw`` gets next starts a line."""
        if self._partial:
            self.write("\n")


class ActionsIO:
    """Talks to the Actions runner through stdout and the files it names in the environment.

    ``env`` is read once, here (the CLI passes ``os.environ``); ``stream`` receives
    workflow commands (default ``sys.stdout``) and ``err_stream`` the plain-text
    annotations printed outside Actions (default ``sys.stderr``).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        stream: TextIO | None = None,
        err_stream: TextIO | None = None,
    ) -> None:
        self.enabled: bool = env.get("GITHUB_ACTIONS") == "true"
        stream = stream if stream is not None else sys.stdout
        # Commands go to the stream under any LogGuard: they are the bot's own lines.
        self._guard = stream if isinstance(stream, LogGuard) else None
        self._stream = stream.raw if isinstance(stream, LogGuard) else stream
        self._err = err_stream if err_stream is not None else sys.stderr
        self._annotated: set[tuple[str, ...]] = set()
        self._output_file = env.get("GITHUB_OUTPUT") or None
        self._summary_file = env.get("GITHUB_STEP_SUMMARY") or None
        self._summary_bytes = 0

    # ----------------------------------------------------------------- commands

    def _command(
        self, name: str, message: str, properties: Mapping[str, str] | None = None
    ) -> None:
        if self._guard is not None:
            self._guard.end_line()
        props = ",".join(f"{k}={escape_property(v)}" for k, v in (properties or {}).items())
        self._stream.write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n")
        self._stream.flush()

    def mask(self, secret: str) -> None:
        """Ask the runner to hide ``secret`` (each of its lines) in the log from now on."""
        if not self.enabled:
            return
        for line in secret.splitlines():
            # An empty or blank mask would hide nothing useful and the runner warns.
            if line.strip():
                self._command("add-mask", line)

    def _annotate(
        self,
        level: str,
        message: str,
        file: str | None,
        line: int | None,
        col: int | None,
        title: str | None,
    ) -> None:
        key = (level, message, file or "", str(line), str(col), title or "")
        if key in self._annotated:
            return  # one problem, one annotation, however many times a run reports it
        self._annotated.add(key)
        props: dict[str, str] = {}
        if title:
            props["title"] = title
        if file:
            props["file"] = file
        if line is not None:
            props["line"] = str(line)
        if col is not None:
            props["col"] = str(col)
        if self.enabled:
            self._command(level, message, props)
            return
        where = ":".join(str(x) for x in (file, line, col) if x is not None)
        head = " ".join(
            x for x in (where + ":" if where else "", f"[{title}]" if title else "") if x
        )
        self._err.write(one_line(f"{level}: {head + ' ' if head else ''}{message}") + "\n")
        self._err.flush()

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        title: str | None = None,
    ) -> None:
        """Annotate an error (shown on the run and, with ``file``/``line``, on the file)."""
        self._annotate("error", message, file, line, col, title)

    def warning(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        title: str | None = None,
    ) -> None:
        """Annotate a warning."""
        self._annotate("warning", message, file, line, col, title)

    def notice(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        title: str | None = None,
    ) -> None:
        """Annotate a notice."""
        self._annotate("notice", message, file, line, col, title)

    def config_problems(self, problems: Iterable[Problem]) -> None:
        """Annotate each config problem as an error on its file, line and column."""
        for p in problems:
            message = f"{p.path}: {p.message}" + (f" (hint: {p.hint})" if p.hint else "")
            self.error(message, file=p.file, line=p.line, col=p.col, title="shunter config")

    def ledger_problems(self, problems: Iterable[Problem]) -> None:
        """Annotate each problem of the state branch's ledger as an error (the file is on
        the state branch, not in the workspace, so it is named in the text)."""
        for p in problems:
            self.error(str(p), title="shunter ledger")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """Fold the log lines written inside the ``with`` block under ``title``."""
        if self.enabled:
            self._command("group", title)
        try:
            yield
        finally:
            if self.enabled:
                self._command("endgroup", "")

    # ----------------------------------------------------------------- files

    def set_output(self, name: str, value: str) -> None:
        """Set the step output ``name`` to ``value`` (any text, several lines included).

        Raises ``ValueError`` for a name that is empty or holds a line break, and
        ``PermanentError`` when the runner's output file cannot be written.
        """
        if not name or any(c in name for c in "\r\n") or "<<" in name:
            raise ValueError(f"bad step output name {name!r}")
        if not self.enabled or not self._output_file:
            return
        import secrets  # only when an output is set: it costs hmac and random at start-up

        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        self._append(self._output_file, f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        """Append ``markdown`` to the step summary (cut short at GitHub's 1 MiB limit).

        Raises ``PermanentError`` when the runner's summary file cannot be written.
        """
        if not self.enabled or not self._summary_file or not markdown:
            return
        text = markdown if markdown.endswith("\n") else markdown + "\n"
        data = text.encode()
        room = SUMMARY_LIMIT - self._summary_bytes
        if room <= 0:
            return
        if len(data) > room:
            cut = data[: max(0, room - len(_TRUNCATED.encode()))]
            text = cut.decode(errors="ignore") + _TRUNCATED
            # Full now: later parts would only add a second "cut short" note.
            self._summary_bytes = SUMMARY_LIMIT
        else:
            self._summary_bytes += len(data)
        self._append(self._summary_file, text)

    def _append(self, path: str, text: str) -> None:
        try:
            with Path(path).open("a", encoding="utf-8", newline="\n") as f:
                f.write(text)
        except OSError as exc:
            raise PermanentError(
                f"cannot write to the runner file {path}: {exc.strerror or exc}; "
                "is this step running on a GitHub Actions runner?"
            ) from exc

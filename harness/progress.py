"""Progress of the long-running commands (``harness run``, ``harness load run``): a live display on a
terminal, the plain timestamped lines everywhere else.

The commands report through one callable, ``progress(line)``, as they always have; a ``Reporter`` is
such a callable. What it does with a line depends on where the output goes:

* **plain** (output is not a terminal, or ``NO_COLOR`` is set): every line is printed as before,
  unchanged, so CI logs stay greppable (``[  12s] == [1/5] io ...``);
* **live** (a terminal, or ``FORCE_COLOR`` set, as pytest reads them): a rich live panel shows the
  experiment, arm, round, live rps, elapsed and estimated time left, and the other lines scroll
  above it. The per-second rps lines only update the panel (``--verbose`` prints them as well);
* **quiet** (``--quiet``): no progress at all; the closing summary and verdict still print, as
  ``pytest -q`` keeps its summary.

The runner marks its per-second lines with ``live_line`` (a ``str`` that also carries the numbers),
so nothing parses text; a line starting with ``== `` is a heading (the main job's phases).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # rich (with markdown-it) costs a few hundred ms to import: only when a Reporter is made
    from rich.console import RenderableType
    from rich.live import Live
    from rich.table import Table

Mode = Literal["live", "plain", "quiet"]
HEADING = "== "


@dataclass(frozen=True)
class RoundStatus:
    """Where a running experiment is: ``step`` of ``steps`` rounds in its schedule (warm-ups included)."""

    experiment: str
    arm: str
    label: str  # "warm-up" or "round 2/3"
    elapsed: float  # seconds into this round
    rps: float
    step: int = 0
    steps: int = 0


class LiveLine(str):
    """A per-second progress line: its text is what plain mode prints; ``status`` feeds the panel."""

    status: RoundStatus

    def __new__(cls, text: str, status: RoundStatus) -> LiveLine:
        line = super().__new__(cls, text)
        line.status = status
        return line


def live_line(text: str, status: RoundStatus) -> LiveLine:
    return LiveLine(text, status)


def indent(prefix: str, line: str) -> str:
    """``prefix + line``, keeping a live line's status (the main job indents experiment lines)."""
    if isinstance(line, LiveLine):
        return LiveLine(prefix + line, line.status)
    return prefix + line


def is_live(line: str) -> bool:
    return isinstance(line, LiveLine)


def choose_mode(stream: IO[str], *, quiet: bool = False, environ: Mapping[str, str] | None = None) -> Mode:
    """quiet > NO_COLOR (plain) > FORCE_COLOR (live) > whether ``stream`` is a terminal."""
    env = os.environ if environ is None else environ
    if quiet:
        return "quiet"
    if env.get("NO_COLOR"):
        return "plain"
    if env.get("FORCE_COLOR"):
        return "live"
    if env.get("TERM") == "dumb":
        return "plain"
    isatty = getattr(stream, "isatty", None)
    return "live" if callable(isatty) and isatty() else "plain"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Reporter:
    """``progress`` for a long-running command; use as a context manager around the work.

    ``timestamps``: prefix plain lines with ``[  12s]`` (the main job's format; the load runner's lines
    carry none). ``estimate_s``: the expected duration, for "left" in the panel.
    """

    def __init__(self, title: str, *, mode: Mode | None = None, verbose: bool = False, quiet: bool = False,
                 estimate_s: float | None = None, timestamps: bool = True, stream: IO[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.mode: Mode = mode or choose_mode(self.stream, quiet=quiet, environ=environ)
        self.title, self.verbose, self.estimate_s, self.timestamps = title, verbose, estimate_s, timestamps
        from rich.console import Console
        from rich.spinner import Spinner
        from rich.text import Text

        self.started = time.monotonic()
        self.phase = ""
        self.status: RoundStatus | None = None
        self.last = ""
        # On the live path rich decides colour itself (NO_COLOR never reaches it: that is plain mode).
        self.console = Console(file=self.stream, force_terminal=True if self.mode == "live" else None,
                               highlight=False, soft_wrap=self.mode != "live")
        self._live: Live | None = None
        self._spinner = Spinner("dots", text=Text(title, style="bold"))  # one instance, so it turns

    @property
    def wants_live_lines(self) -> bool:
        """Whether the per-second rps lines are worth sending here (the live panel shows them)."""
        return self.mode == "live"

    # -- the progress callable --------------------------------------------------------------------

    def __call__(self, line: str) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "plain":
            self._plain(line)
            return
        if isinstance(line, LiveLine):
            self.status = line.status
            if self.verbose:
                self._above(line)
            self._refresh()
            return
        stripped = line.strip()
        if stripped.startswith(HEADING):
            self.phase = stripped[len(HEADING):]
        elif stripped:
            self.last = stripped.splitlines()[0]
        self._above(line)
        self._refresh()

    def _plain(self, line: str) -> None:
        text = f"[{self.elapsed():5.0f}s] {line}" if self.timestamps else line
        print(text, file=self.stream, flush=True)

    def _above(self, line: str) -> None:
        from rich.text import Text

        stamp = Text(f"[{self.elapsed():5.0f}s] ", style="dim") if self.timestamps else Text()
        style = "bold" if line.strip().startswith(HEADING) else None
        self.console.print(stamp + Text(line, style=style or ""))

    # -- the live panel ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> str:
        if self.estimate_s is None:
            return "?"
        remaining = self.estimate_s - self.elapsed()
        return f"~{_clock(remaining)}" if remaining > 0 else f"past the estimate of {_clock(self.estimate_s)}"

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold cyan", no_wrap=True)
        grid.add_column()
        if self.phase:
            grid.add_row("phase", self.phase)
        s = self.status
        if s is not None:
            where = f" (step {s.step}/{s.steps})" if s.steps else ""
            grid.add_row("experiment", s.experiment)
            grid.add_row("arm", f"{s.arm}  {s.label}{where}")
            grid.add_row("live rps", f"{s.rps:,.0f}  ({s.elapsed:4.1f} s into the round)")
        grid.add_row("elapsed", f"{_clock(self.elapsed())}   left {self.left()}")
        if self.last:
            grid.add_row("last", Text(self.last, overflow="ellipsis", no_wrap=True))
        return Group(self._spinner, grid)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()  # the panel is drawn by render() (get_renderable), also between lines

    def __enter__(self) -> Reporter:
        self.started = time.monotonic()
        if self.mode == "live":
            from rich.live import Live

            self._live = Live(self.render(), console=self.console, refresh_per_second=4, transient=True,
                              get_renderable=self.render)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- the closing output -----------------------------------------------------------------------

    def summary(self, markdown: str) -> None:
        """The closing summary: rendered (tables as tables) on a terminal, the Markdown text otherwise."""
        if self.mode == "live":
            from rich.markdown import Markdown

            self.console.print(Markdown(markdown))
        else:
            print("\n" + markdown, file=self.stream, flush=True)

    def table(self, table: Table, plain: str) -> None:
        """A closing table: rendered on a terminal, ``plain`` (today's fixed-width text) otherwise."""
        if self.mode == "live":
            self.console.print(table)
        else:
            print(plain, end="" if plain.endswith("\n") else "\n", file=self.stream, flush=True)

    def echo(self, line: str) -> None:
        """A line every mode prints (the verdict), never swallowed by --quiet."""
        print(line, file=self.stream, flush=True)


def add_verbosity(parser: Any, *, verbose_help: str = "also print the live rps line every second") -> None:
    """``-q/--quiet`` and ``-v/--verbose``, the same on every long-running sub-command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="no progress output; only the summary and result")
    group.add_argument("-v", "--verbose", action="store_true", help=verbose_help)

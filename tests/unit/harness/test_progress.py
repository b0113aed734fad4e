"""harness.progress: plain lines off a terminal (unchanged), a live panel on one, nothing with --quiet."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from harness.progress import Reporter, RoundStatus, choose_mode, indent, is_live, live_line

STATUS = RoundStatus("io", "async", "round 2/3", 1.5, 1234.0, step=4, steps=8)
LIVE = live_line("[io] async round 2/3:  1.5s live    1234 rps", STATUS)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "quiet", "mode"),
    [
        ({}, False, False, "plain"),
        ({}, True, False, "live"),
        ({"NO_COLOR": "1"}, True, False, "plain"),
        ({"FORCE_COLOR": "1"}, False, False, "live"),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False, "plain"),  # NO_COLOR wins, as in pytest
        ({"TERM": "dumb"}, True, False, "plain"),
        ({"FORCE_COLOR": "1"}, True, True, "quiet"),
    ],
)
def test_mode(env: dict[str, str], tty: bool, quiet: bool, mode: str) -> None:
    stream = Tty() if tty else io.StringIO()
    assert choose_mode(stream, quiet=quiet, environ=env) == mode


def test_plain_mode_prints_every_line_as_before() -> None:
    out = io.StringIO()
    with Reporter("t", stream=out, environ={}) as rep:
        rep("== [1/5] io (3 s elapsed)")
        rep(LIVE)
    assert out.getvalue().splitlines() == ["[    0s] == [1/5] io (3 s elapsed)",
                                           "[    0s] [io] async round 2/3:  1.5s live    1234 rps"]
    assert not rep.wants_live_lines


def test_plain_mode_without_timestamps_is_the_load_runners_format() -> None:
    out = io.StringIO()
    with Reporter("t", stream=out, environ={}, timestamps=False) as rep:
        rep("[io] wrote results.json")
    assert out.getvalue() == "[io] wrote results.json\n"


def test_quiet_prints_nothing_but_the_verdict() -> None:
    out = io.StringIO()
    with Reporter("t", stream=out, quiet=True) as rep:
        rep("== [1/5] io")
        rep(LIVE)
        rep.echo("harness run: pass -> exit 0")
    assert out.getvalue() == "harness run: pass -> exit 0\n"


def _panel(rep: Reporter) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(rep.render())
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_live_mode_shows_the_round_in_the_panel_not_in_the_scroll() -> None:
    out = Tty()
    with Reporter("harness run", stream=out, environ={}, estimate_s=600.0) as rep:
        assert rep.mode == "live"
        assert rep.wants_live_lines
        rep("== [2/5] cache (40 s elapsed)")
        rep("   [io] wrote results.json")
        rep(LIVE)
        panel = _panel(rep)
    for text in ("[2/5] cache (40 s elapsed)", "io", "async  round 2/3 (step 4/8)", "1,234", "left ~", "wrote results"):
        assert text in panel, panel
    scrolled = ANSI.sub("", out.getvalue())
    assert "wrote results.json" in scrolled
    assert "live    1234 rps" not in scrolled  # only the panel shows the per-second line


def test_live_mode_verbose_also_scrolls_the_rps_lines() -> None:
    out = Tty()
    with Reporter("t", stream=out, environ={}, verbose=True) as rep:
        rep(LIVE)
    assert "live    1234 rps" in ANSI.sub("", out.getvalue())


def test_time_left_past_the_estimate_says_so() -> None:
    rep = Reporter("t", stream=io.StringIO(), environ={}, estimate_s=0.0)
    assert rep.left() == "past the estimate of 0:00"
    assert Reporter("t", stream=io.StringIO(), environ={}).left() == "?"


def test_summary_is_rendered_on_a_terminal_and_raw_elsewhere() -> None:
    md = "### Gates\n\n| gate | outcome |\n|---|---|\n| io p95 | pass |\n"
    raw = io.StringIO()
    Reporter("t", stream=raw, environ={}).summary(md)
    assert raw.getvalue() == "\n" + md + "\n"
    term = Tty()
    Reporter("t", stream=term, environ={}).summary(md)
    rendered = ANSI.sub("", term.getvalue())
    assert "io p95" in rendered
    assert "|---|" not in rendered
    assert "###" not in rendered


def test_indent_keeps_the_status() -> None:
    line: Any = indent("   ", LIVE)
    assert line == "   " + LIVE
    assert is_live(line)
    assert line.status == STATUS
    assert not is_live(indent("   ", "plain"))

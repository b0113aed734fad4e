"""The rendered report in a real browser: headless Chromium loads it offline and draws the plots."""

from __future__ import annotations

import struct
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from reports.plots import PLOT_KINDS
from tests.utils.browser import dump_dom, find_or_install_chromium, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GATES = '[[gate]]\nkind = "relative"\nprofile = "io"\nexpr = "rps[io_async] / rps[io_sync] >= 3"\n'


class PlotCensus(HTMLParser):
    """Counts <svg> elements inside each .plot container, and rows of the #verdicts table."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []  # data-plot of the enclosing .plot, per open element
        self.svgs: dict[str, int] = {}
        self.in_verdicts = 0
        self.verdict_rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        current = self.stack[-1] if self.stack else None
        if "plot" in (a.get("class") or "").split():
            current = a.get("data-plot") or "?"
        if tag == "svg" and current:
            self.svgs[current] = self.svgs.get(current, 0) + 1
        if tag == "table" and a.get("id") == "verdicts":
            self.in_verdicts += 1
        if tag == "tr" and self.in_verdicts:
            self.verdict_rows += 1
        self.stack.append(current)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.in_verdicts:
            self.in_verdicts -= 1
        if self.stack:
            self.stack.pop()


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_or_install_chromium()


@pytest.fixture
def report(io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path) -> Path:
    out = tmp_path / "report"
    assert main(["report", str(io_results_path), "--gates", str(write_gates(GATES)), "-o", str(out)]) == 0
    return out / "index.html"


def test_dom_has_plots_and_verdicts(chromium: Path, report: Path, tmp_path: Path) -> None:
    dom = dump_dom(chromium, report.as_uri(), profile_dir=tmp_path / "profile")
    census = PlotCensus()
    census.feed(dom)
    for kind in PLOT_KINDS:
        assert census.svgs.get(kind, 0) >= 1, f"no <svg> inside .plot[data-plot={kind}]"
    assert census.verdict_rows >= 2  # header + the gate (+ the runner's comparison)
    assert "PASS" in dom


def test_screenshot_renders(chromium: Path, report: Path, tmp_path: Path) -> None:
    png = screenshot(chromium, report.as_uri(), tmp_path / "report.png", profile_dir=tmp_path / "profile")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000  # a blank page compresses to a few KB; plots and tables don't

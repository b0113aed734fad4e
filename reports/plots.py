"""The report's plots, drawn with matplotlib as inline SVG strings.

No pyplot: each plot builds its own :class:`~matplotlib.figure.Figure`, so there is no global
state between plots or threads (only a cache of font metrics).  No layout engine either: :func:`_fit`
sizes the margins once from the measured labels, which is much cheaper than constrained layout
(an extra draw plus repeated tick and text passes on every ``savefig``).  Output is byte-for-byte
deterministic: ``svg.hashsalt`` fixes the element ids (salted per plot so several SVGs can share
one HTML page), the ``Date`` metadata is dropped and text stays text (``svg.fonttype = none``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

from reports.history import Series as HistorySeries
from reports.metrics import METRICS, PERCENTILE_KEYS, bound_rps_values, round_values
from reports.results import Json, arm_names
from reports.stats import median_ci

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
PLOT_KINDS = ("throughput", "latency-percentiles", "timeline", "bound")
_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID = re.compile(r'\b(id)="([^"]+)"')
_HREF = re.compile(r'\b((?:xlink:)?href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_MEASURE = TextToPath()  # font metrics only; nothing is drawn
_EXTENTS: dict[tuple[str, FontProperties], tuple[float, float]] = {}
_PAD = 4 / 72  # inches of white space around the outermost labels
_EDGE = 1e-9  # a tick within this fraction of the axes' ends is drawn (view limits round)


def _plain(value: float, _pos: int | None = None) -> str:
    return f"{value:g}"


def _plain_minor(value: float, _pos: int | None = None) -> str:
    """Label the 2x and 5x minor ticks of a log axis only, so labels don't overlap."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (2.0, 5.0) else ""


def _prefix(kind: str, doc: Json) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(doc["profile"]))
    return f"{kind}-{safe}"


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@contextmanager
def _style(salt: str) -> Iterator[None]:
    with mpl.rc_context(
        {
            "svg.hashsalt": salt,
            "svg.fonttype": "none",
            "text.parse_math": False,  # arm names are data: a '$' must not start mathtext
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline ``<svg>``; element ids get ``prefix`` so several SVGs share a page."""
    _fit(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOGUE.sub("", buf.getvalue()), count=1).strip()
    svg = _ID.sub(lambda m: f'{m.group(1)}="{prefix}-{m.group(2)}"', svg)
    svg = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', svg)
    return _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", svg)


def _figure(width: float = 6.4, height: float = 3.2, rows: int = 1) -> Figure:
    fig = Figure(figsize=(width, height))
    fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig


def _extent(string: str, prop: FontProperties) -> tuple[float, float]:
    """Width and height of ``string`` in inches, from the font's metrics (cached: labels repeat)."""
    extent = _EXTENTS.get((string, prop))
    if extent is None:
        if len(_EXTENTS) > 4096:
            _EXTENTS.clear()
        width, height, _descent = _MEASURE.get_text_width_height_descent(string, prop, ismath=False)
        extent = _EXTENTS[(string, prop.copy())] = (width / 72, height / 72)  # a copy: props are mutable
    return extent


def _size(text: Text, string: str | None = None) -> tuple[float, float]:
    """Width and height in inches of a one-line label's box (``string`` in place of its text), its
    rotation applied; 0 x 0 when hidden or empty."""
    string = text.get_text() if string is None else string
    if not text.get_visible() or not string:
        return 0.0, 0.0
    prop = text.get_fontproperties()
    width, height = _extent(string, prop)[0], _extent("lp", prop)[1] * 1.2  # a line's height, as drawn
    angle = np.deg2rad(text.get_rotation())
    cos, sin = abs(float(np.cos(angle))), abs(float(np.sin(angle)))
    return width * cos + height * sin, width * sin + height * cos


def _ticks(ax: Axes, which: str) -> tuple[list[tuple[float, float, float]], float, float]:
    """The tick labels that will be drawn on one axis, as (position in axes fraction, width, height)
    in inches; their distance from the spine (tick length + pad; 0 when there are none); and the
    height of the formatter's offset text (0 when there is none)."""
    axis, other, index = (ax.xaxis, ax.yaxis, 0) if which == "x" else (ax.yaxis, ax.xaxis, 1)
    base = min(other.get_view_interval())  # any valid value of the other coordinate
    to_axes = ax.transScale + ax.transLimits  # data -> 0..1 along the axes, whatever its position
    labels = []
    for locs, texts in (
        (axis.get_majorticklocs(), axis.get_majorticklabels()),
        (axis.get_minorticklocs(), axis.get_minorticklabels()),
    ):
        for loc, text in zip(locs, texts, strict=False):
            width, height = _size(text)
            frac = float(to_axes.transform((loc, base) if which == "x" else (base, loc))[index])
            if width and -_EDGE <= frac <= 1 + _EDGE:  # drawn: on the axis
                labels.append((frac, width, height))
    pad = mpl.rcParams["xtick.major.pad"] if which == "x" else mpl.rcParams["ytick.major.pad"]
    distance = (axis.get_tick_padding() + pad) / 72 if labels else 0.0  # points -> inches
    # the formatter's offset ("1e6", "+2.5e3") goes past the far end: above a y axis, below an x axis
    offset = axis.get_major_formatter().get_offset() if labels else ""
    offset_height = _size(axis.get_offset_text(), offset)[1]
    return labels, distance, offset_height


def _fit(fig: Figure) -> None:
    """Place the axes (one column, stacked) with margins just wide enough for their labels.

    Stands in for constrained layout: tick labels, axis labels and titles are measured once with
    font metrics, instead of laying the figure out in several full passes before drawing it.
    """
    width, height = (float(v) for v in fig.get_size_inches())
    labelpad = mpl.rcParams["axes.labelpad"] / 72
    titlepad = mpl.rcParams["axes.titlepad"] / 72
    left = right = _PAD
    above, below, xlabels = [], [], []
    for ax in fig.axes:
        ys, y_tick, y_offset = _ticks(ax, "y")
        xs, x_tick, x_offset = _ticks(ax, "x")
        ylabel = _size(ax.yaxis.label)[0]
        y_wide = max((w for _, w, _ in ys), default=0.0)
        left = max(left, _PAD + ylabel + (labelpad if ylabel else 0.0) + y_wide + y_tick)
        xlabel = _size(ax.xaxis.label)[1]
        x_tall = max((h for _, _, h in xs), default=0.0)
        # y tick labels are centred on their ticks: half of one at either end pokes out
        y_top = max((h for frac, _, h in ys if frac >= 1 - _EDGE), default=0.0)
        y_bottom = max((h for frac, _, h in ys if frac <= _EDGE), default=0.0)
        below.append(max(x_tick + x_tall + x_offset + (labelpad + xlabel if xlabel else 0.0), y_bottom / 2))
        title = _size(ax.title)[1]
        above.append(max(titlepad + title if title else 0.0, y_top / 2, y_offset + labelpad if y_offset else 0.0))
        xlabels += xs
    # x tick labels are centred on their ticks: the first and last may stick out of the axes
    inner = width - left - right
    for frac, w, _ in xlabels:
        left = max(left, _PAD + w / 2 - frac * inner)
        right = max(right, _PAD + w / 2 - (1 - frac) * inner)
    top = _PAD + above[0]
    bottom = _PAD + below[-1]
    gaps = [b + a + _PAD for b, a in zip(below[:-1], above[1:], strict=True)]
    axes_height = (height - top - bottom - sum(gaps)) / len(fig.axes)
    y = height - top
    for i, ax in enumerate(fig.axes):
        y -= axes_height
        ax.set_position((left / width, y / height, (width - left - right) / width, axes_height / height))
        if i < len(gaps):
            y -= gaps[i]


def throughput(doc: Json) -> str:
    """Median rps per arm with the exact order-statistic CI of the median as error bars."""
    with _style(f"throughput-{doc['profile']}"):
        fig = _figure()
        ax = fig.axes[0]
        names = arm_names(doc)
        levels: list[float] = []
        for i, arm in enumerate(names):
            rps = round_values(doc, arm, METRICS["rps"])
            if not rps:
                continue
            mid, low, high, attained = median_ci(rps)
            levels.append(attained)
            ax.bar(i, mid, color=color(i), alpha=0.85)
            ax.errorbar(i, mid, yerr=[[mid - low], [high - mid]], color="black", capsize=6, linewidth=1.2)
            ax.scatter(np.full(len(rps), i), rps, color="black", s=8, alpha=0.5, zorder=3)
        ax.set_xticks(range(len(names)), names, rotation=15 if len(names) > 3 else 0)
        # The confidence the intervals attain (4 rounds: 87.5%), never a nominal 95% they can't reach.
        ax.set_ylabel(f"requests / s (median, {min(levels, default=0):.0%} CI)")
        ax.set_title(f"{doc['profile']}: throughput per arm")
        return to_svg(fig, _prefix("throughput", doc))


def latency_percentiles(doc: Json) -> str:
    """Latency quantile curves p50..p99.9 per arm (median over rounds), on a 'nines' axis."""
    with _style(f"latency-{doc['profile']}"):
        fig = _figure()
        ax = fig.axes[0]
        qs = [float(q) for q in PERCENTILE_KEYS.values()]
        xs = [-np.log10(1.0 - q) for q in qs]
        drawn = False
        for i, arm in enumerate(arm_names(doc)):
            points = [(x, round_values(doc, arm, METRICS[name])) for x, name in zip(xs, PERCENTILE_KEYS, strict=True)]
            curve = [(x, float(np.median(v))) for x, v in points if v and float(np.median(v)) > 0]
            if curve:
                ax.plot([p[0] for p in curve], [p[1] for p in curve], marker="o", color=color(i), label=arm)
                drawn = True
        ax.set_xticks(xs, [name.replace("p999", "p99.9") for name in PERCENTILE_KEYS])
        if drawn:
            ax.set_yscale("log")
            # plain numbers: the default log labels are mathtext, which parse_math=False would print raw
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(_plain))
            ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_plain_minor))
            ax.legend(loc="upper left", fontsize=8)
        ax.set_ylabel("latency, ms (log)")
        ax.set_xlabel("percentile")
        ax.set_title(f"{doc['profile']}: latency percentiles per arm")
        return to_svg(fig, _prefix("latency-percentiles", doc))


def timeline(doc: Json) -> str:
    """rps and p95 of every round in run order; warm-up rounds drawn hollow."""
    with _style(f"timeline-{doc['profile']}"):
        fig = _figure(height=4.2, rows=2)
        ax_rps, ax_p95 = fig.axes
        for i, arm in enumerate(arm_names(doc)):
            rounds = sorted((r for r in doc["rounds"] if r["arm"] == arm), key=lambda r: r["index"])
            for ax, field in ((ax_rps, "rps"), (ax_p95, "p95_ms")):
                pts = [(r["index"], r[field], r["warmup"]) for r in rounds if r[field] is not None]
                measured = [(x, y) for x, y, w in pts if not w]
                warm = [(x, y) for x, y, w in pts if w]
                if measured:
                    ax.plot(*zip(*measured, strict=True), marker="o", color=color(i), label=arm, linewidth=1)
                if warm:
                    ax.plot(
                        *zip(*warm, strict=True),
                        marker="o",
                        linestyle="none",
                        markerfacecolor="none",
                        color=color(i),
                    )
        ax_rps.set_ylabel("rps")
        ax_p95.set_ylabel("p95, ms")
        ax_p95.set_xlabel("round index (run order; hollow = warm-up)")
        if ax_rps.get_legend_handles_labels()[0]:
            ax_rps.legend(loc="best", fontsize=8)
        ax_rps.set_title(f"{doc['profile']}: rps and p95 per round")
        return to_svg(fig, _prefix("timeline", doc))


def bound(doc: Json) -> str | None:
    """Measured median rps / theoretical bound per arm (1.0 = at the bound); None when no arm has one."""
    rows = []
    for i, arm in enumerate(doc["arms"]):
        rps = bound_rps_values(doc, arm["name"])
        if arm["bound"] is not None and rps:
            rows.append((i, arm["name"], float(np.median(rps)) / float(arm["bound"]["rps"]), arm["bound"]["kind"]))
    if not rows:
        return None
    with _style(f"bound-{doc['profile']}"):
        fig = _figure(height=max(1.6, 0.5 * len(rows) + 1.0))
        ax = fig.axes[0]
        for y, (i, _name, ratio, _kind) in enumerate(rows):
            ax.barh(y, ratio, color=color(i), alpha=0.85)
            ax.text(ratio, y, f" {ratio:.2f}", va="center", fontsize=8)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(rows)), [f"{name} ({kind})" for _, name, _, kind in rows])
        ax.set_xlabel("measured median rps / theoretical bound (dashed line = bound)")
        ax.set_xlim(0, max(1.2, max(r[2] for r in rows) * 1.15))
        ax.set_title(f"{doc['profile']}: measured vs bound")
        return to_svg(fig, _prefix("bound", doc))


def history(s: HistorySeries, current_run: str | None = None) -> str:
    """One gated figure over the stored runs; dashed red lines mark Otava's change points, the hollow
    marker is the run being reported (when it is not stored yet)."""
    salt = re.sub(r"[^A-Za-z0-9_-]", "_", f"history-{s.profile}-{s.arm}-{s.metric}")
    with _style(salt):
        fig = _figure(height=2.6)
        ax = fig.axes[0]
        xs = list(range(1, len(s.values) + 1))
        ax.plot(xs, s.values, marker="o", color=color(0), linewidth=1)
        if current_run is not None and s.run_ids and s.run_ids[-1] == current_run:
            ax.plot([xs[-1]], [s.values[-1]], marker="o", markersize=10, markerfacecolor="none",
                    color=color(1), linestyle="none", label="this run")
        for cp in s.change_points:
            ax.axvline(cp.index + 0.5, color="#d62728", linestyle="--", linewidth=1.2,
                       label=f"change {cp.change:+.0%}")
        ax.set_xlabel("stored run (oldest first)")
        ax.set_ylabel("rps" if s.metric == "rps" else f"{s.metric}, ms")
        ax.set_title(f"{s.label}: median per run")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
        return to_svg(fig, salt)

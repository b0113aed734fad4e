"""The report's plots, drawn with matplotlib as inline SVG strings.

No pyplot: each plot builds its own :class:`~matplotlib.figure.Figure`, so there is no global
state between plots or threads.  Output is byte-for-byte deterministic: ``svg.hashsalt`` fixes the
element ids (salted per plot so several SVGs can share one HTML page), the ``Date`` metadata is
dropped and text stays text (``svg.fonttype = none``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

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
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOGUE.sub("", buf.getvalue()), count=1).strip()
    svg = _ID.sub(lambda m: f'{m.group(1)}="{prefix}-{m.group(2)}"', svg)
    svg = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', svg)
    return _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", svg)


def _figure(width: float = 6.4, height: float = 3.2, rows: int = 1) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig


def throughput(doc: Json) -> str:
    """Median rps per arm with its bootstrap CI as error bars."""
    with _style(f"throughput-{doc['profile']}"):
        fig = _figure()
        ax = fig.axes[0]
        names = arm_names(doc)
        for i, arm in enumerate(names):
            rps = round_values(doc, arm, METRICS["rps"])
            if not rps:
                continue
            mid, low, high = median_ci(rps)
            ax.bar(i, mid, color=color(i), alpha=0.85)
            ax.errorbar(i, mid, yerr=[[mid - low], [high - mid]], color="black", capsize=6, linewidth=1.2)
            ax.scatter(np.full(len(rps), i), rps, color="black", s=8, alpha=0.5, zorder=3)
        ax.set_xticks(range(len(names)), names, rotation=15 if len(names) > 3 else 0)
        ax.set_ylabel("requests / s (median, 95% CI)")
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

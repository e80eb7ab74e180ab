"""What the report's figures share: one style per policy, rendering to PNG, SVG and PDF, and small helpers.

A policy keeps its colour, line style and marker in every figure, so lines that coincide stay
distinguishable: the markers of overlapping lines are staggered along the line. Figures are built on
:class:`matplotlib.figure.Figure` directly (Agg, SVG and PDF backends), never through pyplot, so
nothing global changes and no display is needed; every output is byte-for-byte reproducible.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

#: Raster resolution of the PNGs (the SVG and PDF are vector).
DPI = 200
SECONDS_PER_HOUR = 3600.0
#: Markers per line in the time-series figures.
MARKERS_PER_LINE = 8

STYLE: Any = {  # matplotlib rcParams (typed Any: rc_context wants literal keys)
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "svg.fonttype": "path",  # the same glyphs in every browser
    "svg.hashsalt": "neat-report",  # reproducible element ids
    "pdf.fonttype": 42,  # TrueType: text stays text in the PDF
}
BOUND_COLOR = "#2a7f3f"
BASELINE_COLORS = {"npa": "#8c8c8c", "dvfs": "#3b3b3b"}
BASELINE_MARKERS = {"npa": "x", "dvfs": "+"}
#: Line styles, cycled with the markers (dashes in points: on, off, ...).
LINESTYLES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (6, 2, 1.5, 2)), (0, (1.5, 1.5)), (0, (9, 2, 1.5, 2, 1.5, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*")


@dataclass(frozen=True, eq=False)
class Figure:
    """A report figure: ``name`` (a file stem), title, caption (with units), alt text, and the drawing,
    rendered on first use as PNG (:data:`DPI`), SVG and PDF bytes."""

    name: str
    title: str
    caption: str
    alt: str
    drawing: MplFigure

    @functools.cached_property
    def png(self) -> bytes:
        return render(self.drawing, "png")

    @functools.cached_property
    def svg(self) -> bytes:
        return render(self.drawing, "svg")

    @functools.cached_property
    def pdf(self) -> bytes:
        return render(self.drawing, "pdf")


@dataclass(frozen=True)
class Style:
    """How one policy is drawn everywhere: colour, line style, marker."""

    color: Any
    linestyle: Any
    marker: str

    def line(self, index: int = 0, lines: int = 1, points: int = 0) -> dict[str, Any]:
        """``Axes.plot`` keywords; with ``points``, markers every few points, offset by ``index`` among
        ``lines`` so that the markers of coinciding lines do not cover each other."""
        keywords: dict[str, Any] = {"color": self.color, "ls": self.linestyle, "marker": self.marker, "ms": 5}
        keywords |= {"mfc": "white", "mew": 1.2}
        if points:
            step = max(1, points // MARKERS_PER_LINE)
            keywords["markevery"] = (min(points - 1, step // 2 + (index * step) // max(lines, 1)), step)
        return keywords


def policy_styles(policies: Sequence[str]) -> dict[str, Style]:
    """A fixed style per policy, the same in every figure: grays for the baselines, then colour, line
    style and marker cycled together (tab10 without its gray and green, then tab20b and tab20c)."""
    tab10 = mpl.colormaps["tab10"](np.arange(10))
    # tab10's gray is the baselines', its green too close to the lower bound's
    colors = [tuple(c) for i, c in enumerate(tab10) if i not in (2, 7)]
    for name in ("tab20b", "tab20c"):
        colors += [tuple(c) for c in mpl.colormaps[name](np.arange(20))]
    styles: dict[str, Style] = {}
    others = [p for p in policies if p not in BASELINE_COLORS]
    for i, name in enumerate(others):
        styles[name] = Style(colors[i % len(colors)], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)])
    for name, color in BASELINE_COLORS.items():
        styles[name] = Style(color, "-", BASELINE_MARKERS[name])
    return styles


#: savefig's metadata per format: no dates or software versions, so the bytes are reproducible.
METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def render(fig: MplFigure, fmt: str) -> bytes:
    """``fig`` as ``fmt``: ``"png"`` (:data:`DPI`), ``"svg"`` or ``"pdf"``."""
    out = io.BytesIO()
    with mpl.rc_context(STYLE):  # the SVG's ids and the fonts are settings read while saving
        fig.savefig(out, format=fmt, dpi=DPI, metadata=METADATA[fmt])
    return out.getvalue()


def group_label(names: Sequence[str]) -> str:
    """One label for policies with identical results: ``lr-mmt-{1.1,1.2}`` when they differ in one
    part of their names, else the first name and how many more."""
    if len(names) == 1:
        return names[0]
    parts = [re.split(r"(-)", name) for name in names]
    if len({len(p) for p in parts}) == 1:
        differ = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
        if len(differ) == 1:
            i = differ[0]
            values = ",".join(dict.fromkeys(p[i] for p in parts))
            return "".join(parts[0][:i]) + "{" + values + "}" + "".join(parts[0][i + 1 :])
    return f"{names[0]} (+{len(names) - 1} identical)"


def hours(series: pd.DataFrame) -> np.ndarray:
    return series["time_s"].to_numpy(dtype=np.float64) / SECONDS_PER_HOUR


def hourly_mean(x_hours: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Centered one-hour moving average (shorter at the ends), to show the trend under 5-minute noise."""
    if x_hours.size < 2:
        return y
    window = max(1, round(1.0 / float(np.median(np.diff(x_hours)))))
    return pd.Series(y).rolling(window, center=True, min_periods=1).mean().to_numpy(dtype=np.float64)


def per_day_matrix(series: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``column`` per day, aligned by step: (hours of the first day, array of shape (days, steps))."""
    per_day = [g.reset_index(drop=True) for _, g in series.groupby("day", sort=False)]
    steps = min(len(g) for g in per_day)
    values = np.stack([g[column].to_numpy(dtype=np.float64)[:steps] for g in per_day])
    return hours(per_day[0].iloc[:steps]), values


def note_box(ax: Axes, text: str, *, top: bool) -> None:
    """A boxed note in the right-hand corner of ``ax``, at its top or its bottom."""
    ax.text(
        0.99,
        0.97 if top else 0.02,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top" if top else "bottom",
        fontsize=8.5,
        color="#3b3b3b",
        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#c8c8c8", "lw": 0.6},
        zorder=6,
    )


__all__ = [
    "BOUND_COLOR",
    "DPI",
    "Figure",
    "STYLE",
    "Style",
    "group_label",
    "hourly_mean",
    "hours",
    "note_box",
    "per_day_matrix",
    "policy_styles",
    "render",
]

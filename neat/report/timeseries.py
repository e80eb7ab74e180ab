"""The figures over the time of day: active hosts and power against their lower bounds, and migrations.

Each consolidating policy is one line (policies with identical results share one, labelled with
all their names), with its own colour, line style and staggered markers. The y axis fits the
consolidating policies and the bound; a baseline far above them (NPA keeps every host on) is named
at the top of the panel with its value instead of squeezing every other line to the bottom. One
panel per day for up to :data:`MAX_DAY_PANELS` days, else the median over days with the middle
half of the days shaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from neat.report.drawing import (
    BOUND_COLOR,
    STYLE,
    Figure,
    group_label,
    hourly_mean,
    hours,
    note_box,
    per_day_matrix,
    policy_styles,
)
from neat.report.tables import plural

#: At most this many consolidating lines (groups of identical policies) per figure; lowest median ESV first.
MAX_LINES = 8
#: Days drawn as separate panels; more days are drawn as their median.
MAX_DAY_PANELS = 3
#: A baseline whose line stays above this multiple of the other lines' top is named, not drawn.
FAR_ABOVE = 1.5


@dataclass(frozen=True)
class Line:
    """One line of a figure: its label, the policy whose series it draws, and the policies it stands for."""

    label: str
    policy: str
    members: tuple[str, ...]
    baseline: bool


def lines_to_draw(summary: pd.DataFrame, groups: Sequence[Sequence[str]], *, baselines: bool) -> tuple[list[Line], str]:
    """The lines of a time-series figure and a caption note on what was left out or merged.

    DVFS first (if ``baselines``), then at most :data:`MAX_LINES` groups of consolidating policies
    with identical results, the lowest median ESV first when there are more. NPA is never drawn:
    every host is on at full power all day, which its series (DVFS's placement) do not show.
    """
    dynamic = [tuple(g) for g in groups if summary.loc[g[0], "kind"] == "dynamic"]
    note = ""
    if len(dynamic) > MAX_LINES:
        ranked = sorted(dynamic, key=lambda g: (summary.loc[g[0], "esv"], summary.loc[g[0], "energy_kwh"]))
        kept = set(ranked[:MAX_LINES])
        dynamic = [g for g in dynamic if g in kept]
        total = sum(len(g) for g in ranked)
        note = (
            f" Showing the {MAX_LINES} lines with the lowest median ESV "
            f"({len(ranked)} distinct results of {total} consolidating policies)."
        )
    merged = [g for g in dynamic if len(g) > 1]
    if merged:
        note += " Identical results, drawn once: " + "; ".join(", ".join(g) for g in merged) + "."
    lines = [
        Line(str(g[0]), str(g[0]), (str(g[0]),), True)
        for g in groups
        if baselines and summary.loc[g[0], "kind"] not in ("dynamic", "npa")
    ]
    lines += [Line(group_label(g), g[0], g, False) for g in dynamic]
    return lines, note


@dataclass(frozen=True)
class _Curve:
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray | None = None  # the middle half of the days (median panel only)
    high: np.ndarray | None = None


def _curve(rows: pd.DataFrame, column: str, scale: float, day: str | None) -> _Curve:
    if day is not None:
        rows = rows[rows["day"] == day]
        x = hours(rows)
        return _Curve(x, hourly_mean(x, rows[column].to_numpy(dtype=np.float64) * scale))
    x, values = per_day_matrix(rows, column)
    values = values * scale
    low, mid, high = np.percentile(values, [25, 50, 75], axis=0)
    return _Curve(x, hourly_mean(x, mid), hourly_mean(x, low), hourly_mean(x, high))


def _widths(n: int) -> list[float]:
    """Thicker lines first, so a line that coincides with a later one still shows around it."""
    return [max(1.2, 2.6 - 0.25 * i) for i in range(n)]


def _day_figure(
    series: pd.DataFrame,
    summary: pd.DataFrame,
    groups: Sequence[Sequence[str]],
    days: Sequence[str],
    *,
    column: str,
    bound_column: str,
    scale: float,
    unit: str,
    ylabel: str,
) -> tuple[MplFigure, str]:
    """The shared layout of the hosts and power figures; returns the figure and its caption's notes."""
    lines, note = lines_to_draw(summary, groups, baselines=True)
    styles = policy_styles(list(summary.index))
    panels: list[str | None] = list(days) if len(days) <= MAX_DAY_PANELS else [None]
    curves = {
        (line.policy, day): _curve(series[series["policy"] == line.policy], column, scale, day)
        for line in lines
        for day in panels
    }
    anchor = series[series["policy"] == (lines[0].policy if lines else series["policy"].iloc[0])]
    bounds = {day: _curve(anchor, bound_column, scale, day) for day in panels}
    near = [line for line in lines if not line.baseline]
    focus = max(
        [float(np.max(curves[line.policy, day].y)) for line in near for day in panels]
        + [float(np.max(bounds[day].y)) for day in panels]
    )
    far = [
        line
        for line in lines
        if line.baseline and near and all(float(np.min(curves[line.policy, d].y)) > FAR_ABOVE * focus for d in panels)
    ]
    drawn = [line for line in lines if line not in far]
    top = max([focus, *(float(np.max(curves[line.policy, d].y)) for line in drawn for d in panels)])
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 1.2 + 2.6 * len(panels)), layout="constrained")
        axes = fig.subplots(len(panels), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        for ax, day in zip(axes, panels, strict=True):
            bound = bounds[day]
            ax.fill_between(bound.x, 0, bound.y, color=BOUND_COLOR, alpha=0.08, lw=0, zorder=1)
            ax.plot(bound.x, bound.y, color=BOUND_COLOR, lw=1.8, ls=(0, (3, 1.5)), label="lower bound", zorder=2)
            for i, (line, width) in enumerate(zip(drawn, _widths(len(drawn)), strict=True)):
                curve = curves[line.policy, day]
                style = styles[line.policy]
                if curve.low is not None and curve.high is not None:
                    ax.fill_between(curve.x, curve.low, curve.high, color=style.color, alpha=0.12, lw=0, zorder=1)
                ax.plot(
                    curve.x, curve.y, lw=width, label=line.label, zorder=3, **style.line(i, len(drawn), curve.x.size)
                )
            if far:
                named = ", ".join(f"{line.label} {float(np.median(curves[line.policy, day].y)):,.0f}" for line in far)
                note_box(ax, f"\u2191 above the chart: {named} {unit}", top=True)
            ax.set_title(f"Day {day}" if day is not None else f"Median over {plural(len(days), 'day')}", loc="left")
            ax.set_ylabel(ylabel)
        axes[0].set_ylim(0, top * 1.12)
        axes[0].set_xlim(0, 24)
        axes[-1].set_xticks(range(0, 25, 3))
        axes[-1].set_xlabel("time of day (hours)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper")
    if far:
        note = (
            f" Far above the others and named at the top of each panel instead of drawn: "
            f"{', '.join(line.label for line in far)}.{note}"
        )
    if "npa" in summary.index:
        npa_kwh = float(summary["energy_kwh"].astype(np.float64)["npa"])
        note += f" NPA keeps every host on at full power all day ({npa_kwh:,.1f} kWh) and is not drawn."
    if len(panels) == 1 and len(days) > 1:
        note += " Shaded around each line: the middle half of the days (25th to 75th percentile)."
    return fig, note


def hosts_figure(
    series: pd.DataFrame, summary: pd.DataFrame, groups: Sequence[Sequence[str]], days: Sequence[str], n_hosts: int
) -> Figure:
    """Active hosts over the day per policy, against the lower bound's host count."""
    fig, note = _day_figure(
        series,
        summary,
        groups,
        days,
        column="active_hosts",
        bound_column="lower_bound_hosts",
        scale=1.0,
        unit="hosts",
        ylabel="active hosts",
    )
    caption = (
        f"Hosts switched on (running at least one VM), out of {n_hosts}, against the fewest hosts that could "
        f"carry each round's demand (lower bound: dashed green line over a shaded floor no policy can go "
        f"below); one-hour moving averages of the 5-minute decision rounds.{note}"
    )
    alt = "Line chart of active hosts over the day per policy, with the lower bound"
    return Figure("active-hosts", "Active hosts against the lower bound", caption, alt, fig)


def power_figure(
    series: pd.DataFrame, summary: pd.DataFrame, groups: Sequence[Sequence[str]], days: Sequence[str]
) -> Figure:
    """Power drawn by all hosts over the day per policy (kW), against the lower bound's power."""
    fig, note = _day_figure(
        series,
        summary,
        groups,
        days,
        column="power_w",
        bound_column="lower_bound_power_w",
        scale=1e-3,
        unit="kW",
        ylabel="power (kW)",
    )
    caption = (
        "Power drawn by all hosts in kW (the area under a line over the day is its energy), against the "
        "power of the lower bound's hosts (dashed green over a shaded floor); one-hour moving averages of "
        f"the 5-minute decision rounds.{note}"
    )
    alt = "Line chart of power over the day per policy, with the lower bound's power"
    return Figure("power", "Power over the day", caption, alt, fig)


def migrations_figure(series: pd.DataFrame, summary: pd.DataFrame, groups: Sequence[Sequence[str]]) -> Figure:
    """Migrations per hour of the day and their running total per consolidating policy, mean over days."""
    lines, note = lines_to_draw(summary, groups, baselines=False)
    styles = policy_styles(list(summary.index))
    widths = _widths(len(lines))
    days = series["day"].nunique()
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 6.0), layout="constrained")
        rate_ax, total_ax = fig.subplots(2, 1, sharex=True)
        edges = np.arange(25)
        for i, (line, width) in enumerate(zip(lines, widths, strict=True)):
            rows = series[series["policy"] == line.policy]
            style = styles[line.policy]
            time_h, moves = per_day_matrix(rows, "migrations")
            hour = np.minimum(np.floor(time_h).astype(np.intp), 23)
            per_hour = np.bincount(hour, weights=moves.mean(axis=0), minlength=24)[:24]
            rate_ax.step(
                edges, np.append(per_hour, per_hour[-1]), where="post", color=style.color, ls=style.linestyle, lw=width
            )
            rate_ax.plot(edges[:-1] + 0.5, per_hour, **(style.line(i, len(lines), 24) | {"ls": "none"}))
            x = np.concatenate([[0.0], time_h])
            totals = np.concatenate([np.zeros((moves.shape[0], 1)), np.cumsum(moves, axis=1)], axis=1)
            if days > 1:
                total_ax.fill_between(
                    x, totals.min(axis=0), totals.max(axis=0), step="post", color=style.color, alpha=0.12, lw=0
                )
            total_ax.step(
                x, totals.mean(axis=0), where="post", lw=width, label=line.label, **style.line(i, len(lines), x.size)
            )
        if not lines:
            rate_ax.text(0.5, 0.5, "no consolidating policy: no migrations", transform=rate_ax.transAxes, ha="center")
        mean = " (mean over days)" if days > 1 else ""
        rate_ax.set_title(f"Migrations started per hour{mean}", loc="left")
        rate_ax.set_ylabel("migrations / hour")
        total_ax.set_title(f"Running total since midnight{mean}", loc="left")
        total_ax.set_ylabel("migrations")
        for ax in (rate_ax, total_ax):
            ax.set_ylim(bottom=0)
        total_ax.set_xlim(0, 24)
        total_ax.set_xticks(range(0, 25, 3))
        total_ax.set_xlabel("time of day (hours)")
        if lines:
            fig.legend(loc="outside right upper")
    spread = " The shaded band around each running total spans the lowest and highest day." if days > 1 else ""
    caption = (
        "VM live migrations over the day: started in each hour (top, migrations per hour) and their running "
        "total (bottom, migrations)"
        + (f", averaged over {days} days" if days > 1 else "")
        + f". NPA and DVFS never migrate and are not drawn.{spread}{note}"
    )
    alt = "Step charts of migrations per hour and in total"
    return Figure("migrations", "Migrations over time", caption, alt, fig)


__all__ = ["MAX_LINES", "Line", "hosts_figure", "lines_to_draw", "migrations_figure", "power_figure"]

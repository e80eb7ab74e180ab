"""The report's four figures, drawn with matplotlib's Agg renderer into PNG bytes.

Each figure function takes the report's frames and returns a :class:`Figure` (PNG bytes, a title,
a caption with units). Figures are built on :class:`matplotlib.figure.Figure` directly, never
through pyplot, so nothing global changes and no display is needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from neat.report.tables import METRICS, TIMES, Metric

#: At most this many policies get a line in the time-series figures (the rest would be noise).
MAX_LINES = 6
#: With at most this many policies the trade-off chart names every point (else the front, and a legend).
MAX_LABELS = 8
#: Days drawn as separate panels in the hosts figure; more days are drawn as their median.
MAX_DAY_PANELS = 3
DPI = 110
SECONDS_PER_HOUR = 3600.0

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
}
BOUND_COLOR = "#2a7f3f"
BASELINE_COLORS = {"npa": "#8c8c8c", "dvfs": "#3b3b3b"}


@dataclass(frozen=True)
class Figure:
    """A rendered figure: ``name`` (a file stem), title, caption (with units), alt text, PNG bytes."""

    name: str
    title: str
    caption: str
    alt: str
    png: bytes


def policy_colors(policies: Sequence[str]) -> dict[str, Any]:
    """A fixed color per policy, the same in every figure: grays for the baselines, then tab10/tab20."""
    tab10 = mpl.colormaps["tab10"](np.arange(10))
    cycle = [tuple(c) for i, c in enumerate(tab10) if i != 7]  # tab10's gray is the baselines'
    for name in ("tab20b", "tab20c"):
        cycle += [tuple(c) for c in mpl.colormaps[name](np.arange(20))]
    colors: dict[str, Any] = {}
    others = [p for p in policies if p not in BASELINE_COLORS]
    for i, name in enumerate(others):
        colors[name] = cycle[i % len(cycle)]
    for name, color in BASELINE_COLORS.items():
        colors[name] = color
    return colors


def lines_to_draw(summary: pd.DataFrame) -> tuple[list[str], str]:
    """dvfs and the consolidating policies, at most :data:`MAX_LINES` (lowest median ESV first if cut)."""
    dynamic = [str(p) for p in summary.index[summary["kind"] == "dynamic"]]
    keep = MAX_LINES - 1
    note = ""
    if len(dynamic) > keep:
        ranked = summary.loc[dynamic].sort_values(["esv", "energy_kwh"], kind="stable")
        best = set(ranked.index[:keep])
        dynamic = [p for p in dynamic if p in best]
        note = f" Showing the {keep} consolidating policies with the lowest median ESV of {len(ranked)}."
    chosen = (["dvfs"] if "dvfs" in summary.index else []) + dynamic
    return chosen, note


def _png(fig: MplFigure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _hours(series: pd.DataFrame) -> np.ndarray:
    return series["time_s"].to_numpy(dtype=np.float64) / SECONDS_PER_HOUR


def _hourly_mean(x_hours: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Centered one-hour moving average (shorter at the ends), to show the trend under 5-minute noise."""
    if x_hours.size < 2:
        return y
    window = max(1, round(1.0 / float(np.median(np.diff(x_hours)))))
    return pd.Series(y).rolling(window, center=True, min_periods=1).mean().to_numpy(dtype=np.float64)


def _median_over_days(series: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per step (aligned by position), the median over days of ``column``: (hours, values)."""
    per_day = [g.reset_index(drop=True) for _, g in series.groupby("day", sort=False)]
    steps = min(len(g) for g in per_day)
    values = np.median(np.stack([g[column].to_numpy(dtype=np.float64)[:steps] for g in per_day]), axis=0)
    return _hours(per_day[0].iloc[:steps]), values


def _line_widths(n: int) -> list[float]:
    """Thicker lines first, so a policy whose line coincides with a later one still shows around it."""
    return [max(1.2, 2.8 - 0.35 * i) for i in range(n)]


def hosts_figure(series: pd.DataFrame, summary: pd.DataFrame, days: Sequence[str], n_hosts: int) -> Figure:
    """Active hosts over the day per policy, against the lower-bound host count."""
    chosen, note = lines_to_draw(summary)
    colors = policy_colors(list(summary.index))
    widths = _line_widths(len(chosen))
    per_panel = list(days) if len(days) <= MAX_DAY_PANELS else [None]
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 1.0 + 2.5 * len(per_panel)), layout="constrained")
        axes = fig.subplots(len(per_panel), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        top = 1.0
        for ax, day in zip(axes, per_panel, strict=True):
            for policy, width in zip(chosen, widths, strict=True):
                rows = series[series["policy"] == policy]
                if day is not None:
                    rows = rows[rows["day"] == day]
                    x, y = _hours(rows), rows["active_hosts"].to_numpy(dtype=np.float64)
                else:
                    x, y = _median_over_days(rows, "active_hosts")
                y = _hourly_mean(x, y)
                ax.plot(x, y, color=colors[policy], lw=width, label=policy)
                top = max(top, float(y.max()))
            rows = series[series["policy"] == chosen[0]] if chosen else series
            if day is not None:
                rows = rows[rows["day"] == day]
                x, bound = _hours(rows), rows["lower_bound_hosts"].to_numpy(dtype=np.float64)
            else:
                x, bound = _median_over_days(rows, "lower_bound_hosts")
            bound = _hourly_mean(x, bound)
            ax.plot(x, bound, color=BOUND_COLOR, lw=1.8, ls="--", label="lower bound")
            top = max(top, float(bound.max()))
            ax.set_title(f"Day {day}" if day is not None else f"Median over {len(days)} days", loc="left")
            ax.set_ylabel("active hosts")
        axes[0].set_ylim(0, top * 1.08)  # once, after every panel's data: the panels share y
        axes[0].set_xlim(0, 24)
        axes[-1].set_xticks(range(0, 25, 3))
        axes[-1].set_xlabel("time of day (hours)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper")
        png = _png(fig)
    caption = (
        f"Hosts switched on (running at least one VM), out of {n_hosts}, against the fewest hosts that "
        f"could carry each round's CPU demand (lower bound, dashed green); one-hour moving averages of the "
        f"5-minute decision rounds. NPA keeps all {n_hosts} hosts on and is not drawn.{note}"
    )
    return Figure("active-hosts", "Active hosts over the day", caption, "Line chart of active hosts per policy", png)


def energy_figure(frame: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Median energy per policy (bars), each day's value (dots), the lower bound's median and range."""
    colors = policy_colors(list(summary.index))
    names = [str(p) for p in summary.index]
    energy = summary["energy_kwh"].to_numpy(dtype=np.float64)
    bounds = frame.groupby("day", sort=False)["energy_lower_bound_kwh"].first().to_numpy(dtype=np.float64)
    n_days = len(bounds)
    right = float(np.nanmax(frame["energy_kwh"])) * 1.08
    others = frame.loc[frame["policy"] != "npa", "energy_kwh"].to_numpy(dtype=np.float64)
    npa_cut = "npa" in names and others.size > 0 and energy[names.index("npa")] > 2.0 * others.max()
    if npa_cut:  # NPA dwarfs the rest: cut its bar at the edge rather than squeeze every other bar
        right = float(others.max()) * 1.12
    right = max(right, float(bounds.max()) * 1.12)  # the bound stays on the chart even above every policy
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 1.5 + 0.45 * len(names)), layout="constrained")
        ax = fig.subplots()
        y = np.arange(len(names))
        ax.barh(y, energy, color=[colors[n] for n in names], height=0.62, zorder=2, label="median over days")
        for i, name in enumerate(names):
            per_day = frame.loc[frame["policy"] == name, "energy_kwh"].to_numpy(dtype=np.float64)
            if n_days > 1:
                ax.plot(
                    per_day,
                    np.full(per_day.size, y[i]),
                    "o",
                    ms=5,
                    mfc="white",
                    mec="black",
                    mew=1.0,
                    zorder=3,
                    label="one day" if i == 0 else None,
                )
        if npa_cut:
            ax.annotate(
                "//",
                (right, y[names.index("npa")]),
                xytext=(-14, 0),
                textcoords="offset points",
                va="center",
                ha="center",
                fontsize=13,
                fontweight="bold",
                color="white",
                zorder=6,
            )
        if n_days > 1 and bounds.max() > bounds.min():
            ax.axvspan(bounds.min(), bounds.max(), color=BOUND_COLOR, alpha=0.12, zorder=1)
        median_bound = float(np.median(bounds))
        ax.axvline(median_bound, color=BOUND_COLOR, ls="--", lw=2.0, zorder=5, label="lower bound")
        ax.annotate(
            f"lower bound {median_bound:,.1f} kWh",
            (median_bound, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, 3),
            textcoords="offset points",
            color=BOUND_COLOR,
            fontsize=9,
            va="bottom",
        )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        values = ax.twinx()  # the medians as labels on the right, clear of bars, dots and the bound
        values.set_ylim(ax.get_ylim())
        values.set_yticks(y, [f"{e:,.1f} kWh" for e in energy])
        values.tick_params(axis="y", length=0)
        values.grid(False)
        values.spines[["top", "right", "left", "bottom"]].set_visible(False)
        ax.set_xlabel("energy (kWh per day)")
        ax.set_xlim(0, right)
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", ncols=3)
        png = _png(fig)
    days_text = f"median over {n_days} days" if n_days > 1 else "one day"
    spread = " White dots are the individual days; the shaded band spans the days' bounds." if n_days > 1 else ""
    if npa_cut:
        spread += " NPA's bar is cut at the edge (//); its value is on the right."
    caption = (
        f"Energy per policy in kWh ({days_text}), with the energy lower bound (dashed green: the cheapest "
        f"hosts that could carry each round's CPU demand).{spread}"
    )
    return Figure("energy", "Energy per policy", caption, "Bar chart of energy per policy with the lower bound", png)


def _pareto(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats in both coordinates, by increasing x."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    front: list[int] = []
    best_y = np.inf
    for i in order:
        if points[i, 1] < best_y:
            front.append(int(i))
            best_y = points[i, 1]
    return np.array(front, dtype=np.intp)


def _place_labels(ax: Axes, xy: np.ndarray, labels: Sequence[str], colors: Sequence[Any]) -> None:
    """Label each point to its right, nudging labels down where they would overlap (display space)."""
    fig = ax.get_figure()
    assert fig is not None
    fig.canvas.draw()
    pixels = ax.transData.transform(xy)
    right_edge = ax.transAxes.transform((1.0, 0.0))[0]
    placed: list[tuple[float, float]] = []
    line_px = 15.0
    for i in np.argsort(-pixels[:, 1], kind="stable"):
        px, py = pixels[i]
        target = py
        while any(abs(target - qy) < line_px and abs(px - qx) < 120 for qx, qy in placed):
            target -= line_px
        placed.append((px, target))
        flip = px > right_edge - 120  # too close to the right edge: label on the left
        offset = (-9.0 if flip else 9.0, target - py)
        ax.annotate(
            labels[i],
            xy[i],
            xytext=offset,
            textcoords="offset pixels",
            ha="right" if flip else "left",
            va="center",
            fontsize=9,
            color=colors[i],
            arrowprops={"arrowstyle": "-", "color": colors[i], "lw": 0.6} if abs(offset[1]) > 1 else None,
        )


def tradeoff_figure(summary: pd.DataFrame, bound_kwh: float, slav: Metric = METRICS["slav"]) -> Figure:
    """Median energy against median SLAV per policy, the non-dominated ones joined (the trade-off front).

    The energy axis spans the consolidating policies and the bound; baselines far to the right (NPA,
    often DVFS) are marked at the edge with their energy instead of squeezing everything else.
    """
    colors = policy_colors(list(summary.index))
    names = [str(p) for p in summary.index]
    xy = np.column_stack(
        [summary["energy_kwh"].to_numpy(dtype=np.float64), summary["slav"].to_numpy(dtype=np.float64) * slav.scale]
    )
    front = _pareto(xy)
    on_front = set(front.tolist())
    dynamic = (summary["kind"] == "dynamic").to_numpy()
    focus = xy[dynamic, 0] if dynamic.any() else xy[:, 0]
    low, high = min(float(focus.min()), bound_kwh), max(float(focus.max()), bound_kwh)
    pad = max(high - low, 0.05 * high)
    # points up to 60 % of the span beyond the focus stay on the chart; farther ones are marked at its edge
    near = xy[:, 0] <= high + 0.6 * pad
    right = max(float(xy[near, 0].max()) if near.any() else high, bound_kwh) + 0.15 * pad
    left = max(0.0, low - 0.25 * pad)
    off_chart = [i for i in range(len(names)) if not near[i]]
    if off_chart:
        right += 0.1 * pad  # room for the edge markers' labels
    label_all = len(names) <= MAX_LABELS
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 5.4), layout="constrained")
        ax = fig.subplots()
        ax.plot(xy[front, 0], xy[front, 1], color="#9a9a9a", lw=1.2, ls=":", zorder=1)
        for i, name in enumerate(names):
            shown_x = min(xy[i, 0], right)
            ax.scatter(
                shown_x,
                xy[i, 1],
                s=70 if i in on_front else 40,
                marker=">" if i in off_chart else "o",
                color=colors[name],
                edgecolor="black" if i in on_front else "none",
                linewidth=1.2,
                zorder=3,
                clip_on=False,
                label=name if i not in off_chart else None,
            )
            if i in off_chart:
                ax.annotate(
                    f"{name}: {xy[i, 0]:,.1f} kWh",
                    (shown_x, xy[i, 1]),
                    xytext=(-8, 10 + 14 * off_chart.index(i)),
                    textcoords="offset points",
                    ha="right",
                    fontsize=9,
                    color=colors[name],
                )
        ax.axvline(bound_kwh, color=BOUND_COLOR, ls="--", lw=2.0, zorder=2)
        ax.annotate(
            f"lower bound\n{bound_kwh:,.1f} kWh",
            (bound_kwh, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(5, -4),
            textcoords="offset points",
            color=BOUND_COLOR,
            fontsize=9,
            va="top",
        )
        top = float(xy[:, 1].max()) or 1.0
        ax.set_ylim(-0.06 * top, top * 1.12)
        ax.set_xlim(left, right)
        ax.set_xlabel("energy (kWh per day, median over days)")
        ax.set_ylabel(f"SLAV ({slav.unit}, median over days)")
        labelled = [i for i in range(len(names)) if i not in off_chart and (label_all or i in on_front)]
        _place_labels(ax, xy[labelled], [names[i] for i in labelled], [colors[names[i]] for i in labelled])
        if not label_all:
            fig.legend(loc="outside right upper", fontsize=8)
        png = _png(fig)
    cut = (
        f" Off the chart to the right (marked at its edge): {', '.join(names[i] for i in off_chart)}."
        if off_chart
        else ""
    )
    named = "" if label_all else " Only the front's policies are named on the chart; the legend lists all."
    caption = (
        f"Energy (kWh) against SLA violation (SLAV = SLATAH {TIMES} PDM, in {slav.unit}) per policy, medians over "
        "days; lower left is better. Policies that no other policy beats on both counts are outlined and joined "
        f"by the dotted line (the trade-off front). The dashed green line is the energy lower bound.{cut}{named}"
    )
    return Figure("tradeoff", "Energy against SLA violation", caption, "Scatter of energy against SLAV", png)


def migrations_figure(series: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Migrations per hour of the day and their running total, per consolidating policy, mean over days."""
    chosen, note = lines_to_draw(summary)
    chosen = [p for p in chosen if summary.loc[p, "kind"] == "dynamic"]
    colors = policy_colors(list(summary.index))
    widths = _line_widths(len(chosen))
    days = series["day"].nunique()
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 6.0), layout="constrained")
        rate_ax, total_ax = fig.subplots(2, 1, sharex=True)
        hours = np.arange(25)
        for policy, width in zip(chosen, widths, strict=True):
            rows = series[series["policy"] == policy]
            time_h = rows["time_s"].to_numpy(dtype=np.float64) / SECONDS_PER_HOUR
            moves = rows["migrations"].to_numpy(dtype=np.float64) / days
            hour = np.minimum(np.floor(time_h).astype(np.intp), 23)
            per_hour = np.bincount(hour, weights=moves, minlength=24)[:24]
            rate_ax.step(hours, np.append(per_hour, per_hour[-1]), where="post", color=colors[policy], lw=width)
            order = np.argsort(time_h, kind="stable")
            total_ax.step(
                np.concatenate([[0.0], time_h[order], [24.0]]),
                np.concatenate([[0.0], np.cumsum(moves[order]), [moves.sum()]]),
                where="post",
                color=colors[policy],
                lw=width,
                label=policy,
            )
        if not chosen:
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
        if chosen:
            fig.legend(loc="outside right upper")
        png = _png(fig)
    caption = (
        "VM live migrations over the day: started in each hour (top, migrations per hour) and their running "
        "total (bottom, migrations)"
        + (f", averaged over {days} days" if days > 1 else "")
        + ". NPA and DVFS never migrate and are not drawn."
        + note
    )
    return Figure("migrations", "Migrations over time", caption, "Step charts of migrations per hour and in total", png)


__all__ = [
    "Figure",
    "energy_figure",
    "hosts_figure",
    "lines_to_draw",
    "migrations_figure",
    "policy_colors",
    "tradeoff_figure",
]

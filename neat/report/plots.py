"""The summary figures: energy per policy against the lower bound, and energy against SLA violation.

Both draw every policy (the time-series figures are in :mod:`neat.report.timeseries`), with the
spread over days beside each median, and share :mod:`neat.report.drawing`'s styles and rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from neat.report.drawing import BOUND_COLOR, STYLE, Figure, group_label, note_box, policy_styles
from neat.report.tables import METRICS, TIMES, Metric
from neat.report.timeseries import hosts_figure, lines_to_draw, migrations_figure, power_figure

#: With at most this many distinct points the trade-off chart names each; more are numbered, with a key.
MAX_LABELS = 10


def energy_figure(frame: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Median energy per policy (bars), each day's value (dots), the lower bound's median and range."""
    styles = policy_styles(list(summary.index))
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
        ax.barh(y, energy, color=[styles[n].color for n in names], height=0.62, zorder=2, label="median over days")
        for i, name in enumerate(names):
            per_day = frame.loc[frame["policy"] == name, "energy_kwh"].to_numpy(dtype=np.float64)
            if n_days > 1:
                ax.hlines(
                    y[i],
                    min(per_day.min(), right),
                    min(per_day.max(), right),
                    color="black",
                    lw=1.3,
                    zorder=3,
                    label="lowest to highest day" if i == 0 else "_nolegend_",
                )
                ax.plot(
                    per_day,
                    np.full(per_day.size, y[i]),
                    "o",
                    ms=5,
                    mfc="white",
                    mec="black",
                    mew=1.0,
                    zorder=4,
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
        fig.legend(loc="outside lower center", ncols=4)
    days_text = f"median over {n_days} days" if n_days > 1 else "one day"
    spread = (
        " Black lines span the lowest to the highest day, white dots are the individual days; the shaded "
        "band spans the days' bounds."
        if n_days > 1
        else ""
    )
    if npa_cut:
        spread += " NPA's bar is cut at the edge (//); its value is on the right."
    caption = (
        f"Energy per policy in kWh ({days_text}), with the energy lower bound (dashed green: the cheapest "
        f"hosts that could carry each round's CPU demand).{spread}"
    )
    alt = "Bar chart of energy per policy with the lower bound"
    return Figure("energy", "Energy per policy", caption, alt, fig)


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
    """Label each point to its right, nudging labels down where they would overlap (in points, so the
    layout is the same at every resolution)."""
    fig = ax.get_figure()
    assert isinstance(fig, MplFigure)
    fig.draw_without_rendering()  # the final layout, so positions are where they will be drawn
    to_points = 72.0 / fig.dpi
    positions = ax.transData.transform(xy) * to_points
    right_edge = ax.transAxes.transform((1.0, 0.0))[0] * to_points
    placed: list[tuple[float, float]] = []
    line_pt, width_pt = 11.0, 90.0
    for i in np.argsort(-positions[:, 1], kind="stable"):
        px, py = positions[i]
        target = py
        while any(abs(target - qy) < line_pt and abs(px - qx) < width_pt for qx, qy in placed):
            target -= line_pt
        placed.append((px, target))
        flip = px > right_edge - width_pt  # too close to the right edge: label on the left
        offset = (-7.0 if flip else 7.0, target - py + 7.0)  # above the point's horizontal whisker
        ax.annotate(
            labels[i],
            xy[i],
            xytext=offset,
            textcoords="offset points",
            ha="right" if flip else "left",
            va="center",
            fontsize=9,
            color=colors[i],
            arrowprops={"arrowstyle": "-", "color": colors[i], "lw": 0.6} if abs(offset[1]) > 8 else None,
            zorder=6,
        )


def tradeoff_axes(
    x: np.ndarray, x_lo: np.ndarray, x_hi: np.ndarray, y_hi: np.ndarray, dynamic: np.ndarray, bound_kwh: float
) -> tuple[float, float, float, np.ndarray]:
    """The trade-off chart's (left, right, top) and which points it draws.

    Every consolidating policy, its whiskers (``x_lo``..``x_hi``, up to ``y_hi``) and the bound are on
    the chart, with a margin; a baseline is drawn if it lies within 60 % of that span beyond the
    consolidating policies, else it is named in a note (NPA and DVFS would squeeze the rest).
    """
    focus = dynamic if dynamic.any() else np.ones(x.size, dtype=bool)
    low = min(float(x_lo[focus].min()), bound_kwh)
    high = max(float(x_hi[focus].max()), bound_kwh)
    pad = max(high - low, 0.05 * high)
    near = focus | (x <= high + 0.6 * pad)
    right = max(float(x_hi[near].max()), bound_kwh) + 0.15 * pad
    left = max(0.0, low - 0.25 * pad)
    top = float(y_hi[near].max()) or 1.0
    return left, right, top, near


def tradeoff_figure(
    summary: pd.DataFrame, groups: Sequence[Sequence[str]], bound_kwh: float, slav: Metric = METRICS["slav"]
) -> Figure:
    """Median energy against median SLAV per policy, whiskers over days, the non-dominated consolidating
    policies joined (the trade-off front).

    Policies with identical results are one point. The axes fit the consolidating policies, their
    whiskers and the bound; a baseline far to the right (NPA, usually DVFS) is named with its energy
    in a note instead of squeezing everything else.
    """
    styles = policy_styles(list(summary.index))
    reps = [str(g[0]) for g in groups]
    labels = [group_label(g) for g in groups]
    rows = summary.loc[reps]
    dynamic = (rows["kind"] == "dynamic").to_numpy()
    many_days = bool((rows["days"] > 1).any())

    def column(key: str, scale: float = 1.0) -> np.ndarray:
        return rows[key].to_numpy(dtype=np.float64) * scale

    x, y = column("energy_kwh"), column("slav", slav.scale)
    x_lo, x_hi = column("energy_kwh_min"), column("energy_kwh_max")
    y_lo, y_hi = column("slav_min", slav.scale), column("slav_max", slav.scale)
    xy = np.column_stack([x, y])
    focus = np.flatnonzero(dynamic)
    front = focus[_pareto(xy[focus])] if focus.size else np.array([], dtype=np.intp)
    on_front = set(front.tolist())
    left, right, top, near = tradeoff_axes(x, x_lo, x_hi, y_hi, dynamic, bound_kwh)
    drawn = np.flatnonzero(near)
    far = np.flatnonzero(~near)
    numbered = len(drawn) > MAX_LABELS
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(9.0, 5.6), layout="constrained")
        ax = fig.subplots()
        if front.size > 1:
            ax.plot(x[front], y[front], color="#9a9a9a", lw=1.2, ls=":", zorder=1)
        for k, i in enumerate(drawn, start=1):
            style = styles[reps[i]]
            if many_days:
                ax.errorbar(
                    x[i],
                    y[i],
                    xerr=[[x[i] - x_lo[i]], [x_hi[i] - x[i]]],
                    yerr=[[y[i] - y_lo[i]], [y_hi[i] - y[i]]],
                    fmt="none",
                    ecolor=style.color,
                    elinewidth=1.0,
                    capsize=2.5,
                    alpha=0.75,
                    zorder=2,
                )
            ax.plot(
                x[i],
                y[i],
                ls="none",
                marker=style.marker,
                ms=9 if i in on_front else 7,
                color=style.color,
                mec="black" if i in on_front else style.color,
                mew=1.3,
                zorder=4,
                clip_on=False,
                label=f"{k}  {labels[i]}" if numbered else None,
            )
        ax.axvline(bound_kwh, color=BOUND_COLOR, ls=(0, (3, 1.5)), lw=2.0, zorder=2)
        ax.axvspan(left, bound_kwh, color=BOUND_COLOR, alpha=0.06, lw=0, zorder=0)
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
        if far.size:
            named = ", ".join(f"{labels[i]} {x[i]:,.1f} kWh (SLAV {slav.format(y[i] / slav.scale)})" for i in far)
            note_box(ax, f"off the chart to the right: {named}", top=False)
        ax.set_ylim(-0.06 * top, top * 1.12)
        ax.set_xlim(left, right)
        days = "median over days" if many_days else "one day"
        ax.set_xlabel(f"energy (kWh per day, {days})")
        ax.set_ylabel(f"SLAV ({slav.unit}, {days})")
        texts = [str(k) for k in range(1, len(drawn) + 1)] if numbered else [labels[i] for i in drawn]
        _place_labels(ax, xy[drawn], texts, [styles[reps[i]].color for i in drawn])
        if numbered:
            fig.legend(loc="outside right upper", fontsize=8, handletextpad=0.3)
    notes = []
    if many_days:
        notes.append("Whiskers span the lowest and the highest day.")
    if far.size:
        notes.append(f"Off the chart to the right (named in the corner): {', '.join(labels[i] for i in far)}.")
    merged = [", ".join(g) for g in groups if len(g) > 1]
    if merged:
        notes.append("Identical results, one point each: " + "; ".join(merged) + ".")
    if numbered:
        notes.append("Points are numbered; the key beside the chart names them.")
    caption = (
        f"Energy (kWh) against SLA violation (SLAV = SLATAH {TIMES} PDM, in {slav.unit}) per policy, "
        f"{'medians over days' if many_days else 'one day'}; lower left is better. Consolidating policies "
        "that no other beats on both counts are outlined and joined by the dotted line (the trade-off front). "
        "The dashed green line is the energy lower bound: no policy can use less." + "".join(" " + n for n in notes)
    )
    return Figure("tradeoff", "Energy against SLA violation", caption, "Scatter of energy against SLAV", fig)


__all__ = [
    "MAX_LABELS",
    "Figure",
    "energy_figure",
    "hosts_figure",
    "lines_to_draw",
    "migrations_figure",
    "policy_styles",
    "power_figure",
    "tradeoff_axes",
    "tradeoff_figure",
]

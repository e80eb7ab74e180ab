"""The figures: PNG (200 dpi), SVG and PDF of sensible size for ordinary and awkward inputs, styles that tell
policies apart without colour, axes that fit the data (pytest turns matplotlib warnings into failures, so a
collapsed layout or an empty legend fails here)."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest

from neat.report.drawing import BOUND_COLOR, DPI, group_label, policy_styles
from neat.report.plots import (
    _pareto,
    energy_figure,
    hosts_figure,
    migrations_figure,
    power_figure,
    tradeoff_axes,
    tradeoff_figure,
)
from neat.report.record import SERIES, CellResult
from neat.report.runner import Day, MatrixRun
from neat.report.tables import METRICS, identical_groups, policy_summary, results_frame, series_frame
from neat.report.timeseries import MAX_LINES, lines_to_draw
from neat.traces import TraceSet

from .conftest import fake_policy

STEPS = 287


def png_chunks(png: bytes) -> dict[bytes, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        chunks.setdefault(kind, png[at + 8 : at + 8 + length])
        at += 12 + length
    return chunks


def png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png_chunks(png)[b"IHDR"][:8])
    return int(width), int(height)


def fake(
    n_days: int, dynamic: list[str], bound_kwh: float = 20.0, same_as: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """npa, dvfs and ``dynamic`` policies on ``n_days``; policy k uses 50 - k kWh and SLAV (k + 1) * 1e-5.

    ``same_as`` maps a policy to an earlier one whose results it repeats exactly (a sweep's no-op parameter).
    """
    same_as = same_as or {}
    policies = [fake_policy("npa", "npa"), fake_policy("dvfs", "dvfs"), *(fake_policy(n, "dynamic") for n in dynamic)]
    names = [p.name for p in policies]
    days = [Day(f"d{i}", f"d{i}", TraceSet(np.zeros((1, 2)), ("vm",), 300, "x"), f"h{i}") for i in range(n_days)]
    time_s = 300.0 * np.arange(1, STEPS + 1) + 0.1
    run = MatrixRun()
    for d in range(n_days):
        for p, policy in enumerate(policies):
            k = names.index(same_as.get(policy.name, policy.name)) - 2
            dyn = policy.kind == "dynamic"
            series: dict[str, np.ndarray] = {name: np.zeros(STEPS) for name in SERIES}
            series["time_s"] = time_s
            series["active_hosts"] = np.full(STEPS, 20.0 - k if dyn else 30.0) + d
            series["power_w"] = 1000.0 * series["active_hosts"]
            series["lower_bound_hosts"] = np.full(STEPS, 5.0)
            series["lower_bound_power_w"] = np.full(STEPS, 4000.0)
            series["migrations"] = np.where(np.arange(STEPS) % (k + 3) == 0, 1.0, 0.0) if dyn else np.zeros(STEPS)
            run.results[d, p] = CellResult(
                policy=policy.name, kind=policy.kind, mode="neat", vms=10, hosts=40, steps=STEPS,
                energy_kwh={"npa": 200.0, "dvfs": 60.0}.get(policy.name, 50.0 - k + d),
                energy_lower_bound_kwh=bound_kwh + d, slatah=0.1 * (k + 1) if dyn else 0.0,
                slatah_mean_per_host=0.0, pdm=1e-4 if dyn else 0.0, pdm_mean_per_vm=0.0,
                migrations=int(series["migrations"].sum()), host_shutdowns=3, mean_time_before_host_shutdown_s=0.0,
                wall_time_s=0.0, series=series,
            )  # fmt: skip
    frame = results_frame(days, policies, run, "fake")
    return frame, series_frame(days, policies, run), [d.name for d in days]


CASES = {
    "ordinary": (2, ["thr-mmt-0.8", "lr-mmt-1.2"], 20.0, {}),
    "bound-above-policy": (1, ["lr-mmt-1.2"], 60.0, {}),  # one day; the bound above the only policy's energy
    "baselines-only": (2, [], 20.0, {}),
    "many": (5, [f"p{k}" for k in range(12)], 20.0, {}),  # many days (median panel), lines cut, points numbered
    "identical": (2, ["lr-mmt-1.1", "lr-mmt-1.2", "lr-mmt-1.3", "thr-mmt-0.8"], 20.0, {"lr-mmt-1.2": "lr-mmt-1.1"}),
}


def figures(n_days: int, dynamic: list[str], bound: float, same_as: dict[str, str]) -> list:  # type: ignore[type-arg]
    frame, series, days = fake(n_days, dynamic, bound, same_as)
    summary = policy_summary(frame)
    groups = identical_groups(frame)
    return [
        energy_figure(frame, summary),
        tradeoff_figure(summary, groups, bound, METRICS["slav"]),
        hosts_figure(series, summary, groups, days, 40),
        power_figure(series, summary, groups, days),
        migrations_figure(series, summary, groups),
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_every_figure_renders(case: str) -> None:
    """As PNG in every case, as SVG and PDF too in the ordinary one."""
    rendered = figures(*CASES[case])
    assert [f.name for f in rendered] == ["energy", "tradeoff", "active-hosts", "power", "migrations"]
    for figure in rendered:
        width, height = png_size(figure.png)
        assert width == 9 * DPI  # every figure is 9 inches wide
        assert 400 <= height <= 12 * DPI
        assert figure.caption.endswith(".")
        assert figure.title and figure.alt
        if case == "ordinary":
            assert figure.svg.startswith(b"<?xml") and b"<svg" in figure.svg[:1000]
            assert figure.pdf.startswith(b"%PDF-")


def test_png_says_200_dpi() -> None:
    """pHYs holds pixels per metre: 200 dpi is 200 / 0.0254 = 7874."""
    frame, _, _ = fake(2, ["thr-mmt-0.8"])
    phys = png_chunks(energy_figure(frame, policy_summary(frame)).png)[b"pHYs"]
    assert struct.unpack(">IIB", phys) == (7874, 7874, 1)


def test_figures_are_reproducible() -> None:
    first, second = figures(*CASES["bound-above-policy"]), figures(*CASES["bound-above-policy"])
    for a, b in zip(first, second, strict=True):
        assert (a.png, a.svg, a.pdf) == (b.png, b.svg, b.pdf), a.name
    assert b"CreationDate" not in first[0].pdf and b"<dc:date>" not in first[0].svg


def test_units_in_captions() -> None:
    energy, tradeoff, hosts, power, migrations = figures(*CASES["ordinary"])
    assert "kWh" in energy.caption and "lowest to the highest day" in energy.caption
    assert (
        METRICS["slav"].unit in tradeoff.caption and "Whiskers span the lowest and the highest day" in tradeoff.caption
    )
    assert "out of 40" in hosts.caption
    assert "in kW" in power.caption
    assert "migrations per hour" in migrations.caption
    # NPA's series are DVFS's placement: it is never drawn over time, its energy is named instead
    assert "NPA keeps every host on at full power all day (200.0 kWh) and is not drawn." in hosts.caption


def test_lines_are_cut_to_the_lowest_esv() -> None:
    """12 consolidating policies, ESV rising with k: dvfs and p0..p7 are drawn, npa never."""
    frame, _, _ = fake(2, [f"p{k}" for k in range(12)])
    lines, note = lines_to_draw(policy_summary(frame), identical_groups(frame), baselines=True)
    assert [line.label for line in lines] == ["dvfs", *(f"p{k}" for k in range(MAX_LINES))]
    assert "lowest median ESV (12 distinct results of 12 consolidating policies)" in note


def test_identical_policies_are_one_line_and_one_point() -> None:
    frame, _, _ = fake(*CASES["identical"])
    groups = identical_groups(frame)
    assert groups == [["npa"], ["dvfs"], ["lr-mmt-1.1", "lr-mmt-1.2"], ["lr-mmt-1.3"], ["thr-mmt-0.8"]]
    lines, note = lines_to_draw(policy_summary(frame), groups, baselines=False)
    assert [line.label for line in lines] == ["lr-mmt-{1.1,1.2}", "lr-mmt-1.3", "thr-mmt-0.8"]
    assert lines[0].members == ("lr-mmt-1.1", "lr-mmt-1.2")
    assert "Identical results, drawn once: lr-mmt-1.1, lr-mmt-1.2." in note
    tradeoff = figures(*CASES["identical"])[1]
    assert "Identical results, one point each: lr-mmt-1.1, lr-mmt-1.2." in tradeoff.caption


def test_group_labels() -> None:
    assert group_label(["thr-mmt-0.8"]) == "thr-mmt-0.8"
    assert group_label(["lr-mmt-1.1", "lr-mmt-1.2", "lr-mmt-1.3"]) == "lr-mmt-{1.1,1.2,1.3}"
    assert group_label(["lr-mmt-1.1", "lrr-mmt-1.1"]) == "{lr,lrr}-mmt-1.1"
    assert group_label(["lr-mmt-1.1", "lrr-mu-1.2"]) == "lr-mmt-1.1 (+1 identical)"


def test_tradeoff_axes_fit_the_policies_their_whiskers_and_the_bound() -> None:
    """Consolidating policies at 40..50 kWh with whiskers to 38 and 55, bound 30: the span is 30..55 (pad
    25), so the chart runs from 30 - 6.25 to 55 + 3.75; DVFS at 60 is within 55 + 0.6 * 25 = 70 and drawn,
    NPA at 200 is not."""
    x = np.array([200.0, 60.0, 40.0, 50.0])
    x_lo = np.array([200.0, 60.0, 38.0, 45.0])
    x_hi = np.array([200.0, 60.0, 42.0, 55.0])
    y_hi = np.array([0.0, 0.0, 3.0, 2.0])
    dynamic = np.array([False, False, True, True])
    left, right, top, near = tradeoff_axes(x, x_lo, x_hi, y_hi, dynamic, 30.0)
    assert near.tolist() == [False, True, True, True]
    assert (left, right, top) == pytest.approx((23.75, 60.0 + 3.75, 3.0))
    # the front (the consolidating policies only) and every whisker lie inside
    assert left < x_lo[near].min() and x_hi[near].max() < right


def test_tradeoff_names_far_baselines_in_a_note() -> None:
    tradeoff = figures(*CASES["ordinary"])[1]
    # DVFS's 60 kWh is within 60 % of the span beyond the policies (48..51 kWh, bound 20): drawn
    assert "Off the chart to the right (named in the corner): npa." in tradeoff.caption
    notes = [t for ax in tradeoff.drawing.axes for t in ax.texts if t.get_text().startswith("off the chart")]
    assert len(notes) == 1
    assert notes[0].get_text().startswith("off the chart to the right: npa ")
    assert (notes[0].get_position(), notes[0].get_va()) == ((0.99, 0.02), "bottom")
    many = figures(*CASES["many"])[1]
    assert "Points are numbered; the key beside the chart names them." in many.caption


def test_pareto_front_by_hand() -> None:
    """(1, 5), (2, 3), (3, 4) dominated by (2, 3), (4, 1), (4, 2) dominated by (4, 1)."""
    points = np.array([[3.0, 4.0], [1.0, 5.0], [4.0, 2.0], [2.0, 3.0], [4.0, 1.0]])
    assert _pareto(points).tolist() == [1, 3, 4]


def test_styles_tell_policies_apart_without_colour() -> None:
    """The first five policies differ in line style and all eleven in marker; the baselines never move;
    no policy takes the lower bound's green or the baselines' grays."""
    names = ["npa", "dvfs", *(f"p{k}" for k in range(11))]
    styles = policy_styles(names)
    assert styles == policy_styles(names)
    assert styles["npa"] == policy_styles(["npa"])["npa"] and styles["npa"].color != styles["dvfs"].color
    assert len({repr(styles[f"p{k}"].linestyle) for k in range(5)}) == 5
    assert len({styles[n].marker for n in names[2:]}) == 11
    assert len({(styles[n].marker, repr(styles[n].linestyle)) for n in names}) == len(names)
    green = tuple(int(BOUND_COLOR[i : i + 2], 16) / 255 for i in (1, 3, 5))
    for name in names[2:]:
        rgb = np.array(styles[name].color[:3])
        assert np.abs(rgb - np.array(green)).sum() > 0.3
        assert np.ptp(rgb) > 0.05  # not a gray


def test_staggered_markers_of_coinciding_lines() -> None:
    """Two lines of 287 points: markers every 35 points, the second line's 17 points later than the first's."""
    style = policy_styles(["a", "b"])["a"]
    assert style.line(0, 2, 287)["markevery"] == (17, 35)
    assert style.line(1, 2, 287)["markevery"] == (34, 35)


def test_svg_refers_to_nothing_outside() -> None:
    """The page embeds the SVG: it must not link to other files (namespaces are not links)."""
    svg = figures(*CASES["bound-above-policy"])[1].svg.decode()
    assert 'xlink:href="#' in svg
    assert not re.search(r'(href|src)="(?!#|data:)', svg)

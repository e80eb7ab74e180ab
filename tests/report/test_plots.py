"""The figures: PNGs of sensible size for ordinary and awkward inputs (pytest turns matplotlib warnings into
failures, so a collapsed layout or an empty legend fails here)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pandas as pd
import pytest

from neat.report.plots import (
    MAX_LINES,
    _pareto,
    energy_figure,
    hosts_figure,
    lines_to_draw,
    migrations_figure,
    policy_colors,
    tradeoff_figure,
)
from neat.report.record import SERIES, CellResult
from neat.report.runner import Day, MatrixRun
from neat.report.tables import fit_metrics, policy_summary, results_frame, series_frame
from neat.traces import TraceSet

from .conftest import fake_policy

STEPS = 287


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def fake(n_days: int, dynamic: list[str], bound_kwh: float = 20.0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """npa, dvfs and ``dynamic`` policies on ``n_days``; policy k uses 50 - k kWh and SLAV (k + 1) * 1e-5."""
    policies = [fake_policy("npa", "npa"), fake_policy("dvfs", "dvfs"), *(fake_policy(n, "dynamic") for n in dynamic)]
    days = [Day(f"d{i}", f"d{i}", TraceSet(np.zeros((1, 2)), ("vm",), 300, "x"), f"h{i}") for i in range(n_days)]
    time_s = 300.0 * np.arange(1, STEPS + 1) + 0.1
    run = MatrixRun()
    for d in range(n_days):
        for p, policy in enumerate(policies):
            k = p - 2
            dyn = policy.kind == "dynamic"
            series: dict[str, np.ndarray] = {name: np.zeros(STEPS) for name in SERIES}
            series["time_s"] = time_s
            series["active_hosts"] = np.full(STEPS, 20.0 - k if dyn else 30.0) + d
            series["lower_bound_hosts"] = np.full(STEPS, 5.0)
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


@pytest.mark.parametrize(
    ("n_days", "dynamic", "bound"),
    [
        (2, ["thr-mmt-0.8", "lr-mmt-1.2"], 20.0),  # the ordinary case
        (1, ["lr-mmt-1.2"], 60.0),  # one day; the bound above the only consolidating policy's energy
        (2, [], 20.0),  # baselines only
        (5, [f"p{k}" for k in range(12)], 20.0),  # many days (median panel), lines and labels cut
    ],
    ids=["ordinary", "bound-above-policy", "baselines-only", "many"],
)
def test_every_figure_renders(n_days: int, dynamic: list[str], bound: float) -> None:
    frame, series, days = fake(n_days, dynamic, bound)
    summary = policy_summary(frame)
    figures = [
        hosts_figure(series, summary, days, 40),
        energy_figure(frame, summary),
        tradeoff_figure(summary, bound, fit_metrics(frame)["slav"]),
        migrations_figure(series, summary),
    ]
    assert [f.name for f in figures] == ["active-hosts", "energy", "tradeoff", "migrations"]
    for figure in figures:
        width, height = png_size(figure.png)
        assert 800 <= width <= 1200
        assert 200 <= height <= 2400
        assert figure.caption.endswith(".")
        assert figure.title and figure.alt


def test_units_in_captions_and_labels() -> None:
    frame, series, days = fake(2, ["thr-mmt-0.8"])
    summary = policy_summary(frame)
    assert "kWh" in energy_figure(frame, summary).caption
    assert "migrations per hour" in migrations_figure(series, summary).caption
    assert "out of 40" in hosts_figure(series, summary, days, 40).caption
    slav = fit_metrics(frame)["slav"]
    assert slav.unit in tradeoff_figure(summary, 20.0, slav).caption


def test_lines_are_cut_to_the_lowest_esv() -> None:
    """12 consolidating policies, ESV rising with k: dvfs and p0..p4 are drawn."""
    frame, _, _ = fake(2, [f"p{k}" for k in range(12)])
    chosen, note = lines_to_draw(policy_summary(frame))
    assert chosen == ["dvfs", "p0", "p1", "p2", "p3", "p4"]
    assert len(chosen) == MAX_LINES
    assert "lowest median ESV of 12" in note


def test_pareto_front_by_hand() -> None:
    """(1, 5), (2, 3), (3, 4) dominated by (2, 3), (4, 1), (4, 2) dominated by (4, 1)."""
    points = np.array([[3.0, 4.0], [1.0, 5.0], [4.0, 2.0], [2.0, 3.0], [4.0, 1.0]])
    assert _pareto(points).tolist() == [1, 3, 4]


def test_colors_are_stable_and_distinct() -> None:
    names = ["npa", "dvfs", *(f"p{k}" for k in range(9))]
    colors = policy_colors(names)
    assert colors == policy_colors(names)
    assert colors["npa"] == policy_colors(["npa"])["npa"]  # the baselines' grays never move
    assert len({tuple(np.round(colors[n], 3)) for n in names[2:]}) == 9
    assert colors["npa"] != colors["dvfs"]


def test_figures_are_deterministic() -> None:
    frame, series, days = fake(2, ["thr-mmt-0.8"])
    summary = policy_summary(frame)
    assert energy_figure(frame, summary).png == energy_figure(frame, summary).png
    assert io.BytesIO(hosts_figure(series, summary, days, 40).png).getbuffer().nbytes > 10_000

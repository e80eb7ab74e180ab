"""Aggregation worked by hand on a tiny fake result set: two days, four policies.

=========  ======  ======  =========  =========  ===========  ============
policy     day     energy  bound      SLATAH     PDM          migrations
=========  ======  ======  =========  =========  ===========  ============
npa        d1      100     20         0          0            0
npa        d2      100     25         0          0            0
dvfs       d1      50      20         0          0            0
dvfs       d2      60      25         0          0            0
thr-x      d1      40      20         0.1        0.01         10
thr-x      d2      30      25         0.2        0.02         21
lr-y       d1      45      20         0.05       0.01         4
lr-y       d2      35      25         0.05       0.02         6
=========  ======  ======  =========  =========  ===========  ============

SLAV = SLATAH x PDM: thr-x 0.001 and 0.004 (median 0.0025), lr-y 0.0005 and 0.001 (median 0.00075).
ESV = energy x SLAV: thr-x 0.04 and 0.12 (median 0.08), lr-y 0.0225 and 0.035 (median 0.02875).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neat.report.record import SERIES, CellResult
from neat.report.runner import Day, MatrixRun
from neat.report.tables import (
    E3,
    E5,
    METRICS,
    RESULT_COLUMNS,
    best_by_esv,
    best_energy_at_slav,
    display_rows,
    fit_metrics,
    per_day_rows,
    policy_summary,
    results_frame,
)
from neat.traces import TraceSet

from .conftest import fake_policy

POLICIES = [
    fake_policy("npa", "npa"),
    fake_policy("dvfs", "dvfs"),
    fake_policy("thr-x", "dynamic"),
    fake_policy("lr-y", "dynamic"),
]
#: policy -> per day (energy, slatah, pdm, migrations)
ROWS = {
    "npa": [(100.0, 0.0, 0.0, 0), (100.0, 0.0, 0.0, 0)],
    "dvfs": [(50.0, 0.0, 0.0, 0), (60.0, 0.0, 0.0, 0)],
    "thr-x": [(40.0, 0.1, 0.01, 10), (30.0, 0.2, 0.02, 21)],
    "lr-y": [(45.0, 0.05, 0.01, 4), (35.0, 0.05, 0.02, 6)],
}
BOUNDS = [20.0, 25.0]


def fake_run() -> tuple[list[Day], MatrixRun]:
    days = [Day(name, name, TraceSet(np.zeros((1, 2)), ("vm",), 300, name), f"hash-{name}") for name in ("d1", "d2")]
    run = MatrixRun()
    for p, policy in enumerate(POLICIES):
        for d in range(2):
            energy, slatah, pdm, migrations = ROWS[policy.name][d]
            run.results[d, p] = CellResult(
                policy=policy.name,
                kind=policy.kind,
                mode="neat",
                vms=1,
                hosts=1,
                steps=1,
                energy_kwh=energy,
                energy_lower_bound_kwh=BOUNDS[d],
                slatah=slatah,
                slatah_mean_per_host=slatah,
                pdm=pdm,
                pdm_mean_per_vm=pdm,
                migrations=migrations,
                host_shutdowns=d,
                mean_time_before_host_shutdown_s=0.0,
                wall_time_s=0.0,
                series={k: np.zeros(1) for k in SERIES},
            )
    run.from_cache.add((0, 0))
    return days, run


@pytest.fixture
def frame() -> pd.DataFrame:
    days, run = fake_run()
    return results_frame(days, POLICIES, run, "tiny")


def test_one_row_per_day_and_policy_in_order(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(RESULT_COLUMNS)
    assert list(zip(frame["day"], frame["policy"], strict=True)) == [
        ("d1", "npa"), ("d1", "dvfs"), ("d1", "thr-x"), ("d1", "lr-y"),
        ("d2", "npa"), ("d2", "dvfs"), ("d2", "thr-x"), ("d2", "lr-y"),
    ]  # fmt: skip
    assert frame["from_cache"].tolist() == [True] + [False] * 7
    assert frame["trace_hash"].tolist() == ["hash-d1"] * 4 + ["hash-d2"] * 4


def test_per_day_savings_and_gap(frame: pd.DataFrame) -> None:
    """thr-x: 1 - 40/100 = 0.6 and 1 - 30/100 = 0.7 against NPA; 1 - 40/50 = 0.2 and 1 - 30/60 = 0.5 against
    DVFS; gap 40/20 - 1 = 1.0 and 30/25 - 1 = 0.2."""
    thr = frame[frame["policy"] == "thr-x"]
    assert thr["savings_vs_npa"].tolist() == pytest.approx([0.6, 0.7])
    assert thr["savings_vs_dvfs"].tolist() == pytest.approx([0.2, 0.5])
    assert thr["gap_to_bound"].tolist() == pytest.approx([1.0, 0.2])
    assert thr["slav"].tolist() == pytest.approx([0.001, 0.004])
    assert thr["esv"].tolist() == pytest.approx([0.04, 0.12])
    npa = frame[frame["policy"] == "npa"]
    assert npa["savings_vs_dvfs"].tolist() == pytest.approx([-1.0, 1 - 100 / 60])


def test_medians_over_days(frame: pd.DataFrame) -> None:
    """Medians of per-day values; the median ESV 0.08 is not median energy x median SLAV (35 x 0.0025)."""
    summary = policy_summary(frame)
    assert list(summary.index) == ["npa", "dvfs", "thr-x", "lr-y"]
    thr = summary.loc["thr-x"]
    assert thr["kind"] == "dynamic"
    assert thr["days"] == 2
    assert thr["energy_kwh"] == pytest.approx(35.0)
    assert thr["savings_vs_npa"] == pytest.approx(0.65)
    assert thr["savings_vs_dvfs"] == pytest.approx(0.35)
    assert thr["gap_to_bound"] == pytest.approx(0.6)
    assert thr["slav"] == pytest.approx(0.0025)
    assert thr["esv"] == pytest.approx(0.08)
    assert thr["migrations"] == pytest.approx(15.5)
    assert summary.loc["lr-y", "esv"] == pytest.approx(0.02875)
    assert summary.loc["dvfs", "energy_kwh"] == pytest.approx(55.0)


def test_best_by_esv_skips_the_baselines(frame: pd.DataFrame) -> None:
    best = best_by_esv(policy_summary(frame))
    assert best.policy == "lr-y"
    assert best.sentence.startswith(f"Lowest ESV: lr-y, ESV 28.75 {E3} (40.0 kWh, SLAV 75.00 {E5})")


def test_best_by_esv_without_consolidating_policies(frame: pd.DataFrame) -> None:
    summary = policy_summary(frame[frame["policy"].isin(["npa", "dvfs"])])
    assert best_by_esv(summary).policy is None


@pytest.mark.parametrize(
    ("baseline", "winner", "sentence"),
    [
        # dvfs's SLAV is 0: only npa and dvfs qualify, dvfs uses less energy
        ("dvfs", "dvfs", "dvfs itself (55.0 kWh); every policy that uses less energy has a higher SLAV."),
        # thr-x's median SLAV 0.0025: every policy qualifies; thr-x has the lowest energy, 35
        ("thr-x", "thr-x", "thr-x itself (35.0 kWh)"),
        # lr-y's 0.00075: npa, dvfs, lr-y qualify; lr-y (40) beats dvfs (55)
        ("lr-y", "lr-y", "lr-y itself (40.0 kWh)"),
        # npa's SLAV is 0 too: dvfs qualifies and saves 1 - 55/100 = 45 %
        ("npa", "dvfs", "dvfs, 55.0 kWh (45.0% less than npa), SLAV 0."),
    ],
)
def test_best_energy_at_an_slav_no_worse_than_the_baseline(
    frame: pd.DataFrame, baseline: str, winner: str, sentence: str
) -> None:
    best = best_energy_at_slav(policy_summary(frame), baseline)
    assert best.policy == winner
    assert sentence in best.sentence


def test_standard_table_layout(frame: pd.DataFrame) -> None:
    header, rows = display_rows(policy_summary(frame), ("esv", "energy_kwh", "slav", "slatah", "pdm", "migrations"))
    assert header == [
        "Policy", f"ESV ({E3})", "Energy (kWh)", f"SLAV ({E5})", "SLATAH (%)", "PDM (%)", "Migrations (count)",
    ]  # fmt: skip
    assert rows[0] == ["npa", "0", "100.0", "0", "0", "0", "0"]
    # SLATAH median 0.15 -> 15.00 %; PDM median 0.015 -> 1.500 %; migrations median 15.5 shown with one decimal
    assert rows[2] == ["thr-x", "80.00", "35.0", "250.00", "15.00", "1.500", "15.5"]


def test_per_day_rows_group_by_policy(frame: pd.DataFrame) -> None:
    header, rows = per_day_rows(frame, ("energy_kwh", "migrations"))
    assert header == ["Policy", "Day", "Energy (kWh)", "Migrations (count)"]
    assert [r[:2] for r in rows[:4]] == [["npa", "d1"], ["npa", "d2"], ["dvfs", "d1"], ["dvfs", "d2"]]
    assert rows[5] == ["thr-x", "d2", "30.0", "21"]


def test_tiny_values_get_a_power_of_ten_unit() -> None:
    """SLAV of 7.01e-11 would show as 0.00 x10^-5; fitted, the unit becomes x10^-11 and the value 7.01."""
    values = pd.Series([0.0, 7.01e-11, 3.5e-11])
    slav = METRICS["slav"].fitted(values)
    assert slav.unit == "\u00d710\u207b\u00b9\u00b9"  # x10^-11
    assert slav.format(7.01e-11) == "7.01"
    assert slav.format(0.0) == "0"
    # large enough values keep the field's unit; non-adaptive metrics never change
    assert METRICS["slav"].fitted(pd.Series([3.27e-5])).unit == E5
    assert METRICS["energy_kwh"].fitted(pd.Series([1e-9])).unit == "kWh"
    assert METRICS["slatah"].fitted(pd.Series([0.0, 0.0])).unit == "%"


def test_fit_metrics_covers_every_metric(frame: pd.DataFrame) -> None:
    assert fit_metrics(frame).keys() == METRICS.keys()


def test_format_counts_and_missing_values() -> None:
    migrations = METRICS["migrations"]
    assert migrations.format(12345.0) == "12,345"
    assert migrations.format(2.5) == "2.5"
    assert METRICS["energy_kwh"].format(math.nan) == "n/a"

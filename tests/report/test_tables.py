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
    identical_groups,
    per_day_table,
    plural,
    policy_summary,
    results_frame,
    summary_table,
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
        # dvfs's SLAV is 0: no consolidating policy qualifies, and dvfs itself never wins
        ("dvfs", None, "dvfs's (0): none; every consolidating policy has a higher SLAV"),
        ("npa", None, "npa's (0): none; every consolidating policy has a higher SLAV"),
        # thr-x's median SLAV 0.0025: both consolidating policies qualify; thr-x has the lower energy, 35
        ("thr-x", "thr-x", f"thr-x's (250.00 {E5}): thr-x itself (35.0 kWh)"),
        # lr-y's 0.00075: only lr-y qualifies
        ("lr-y", "lr-y", "lr-y itself (40.0 kWh)"),
        (None, None, "no consolidating policy in this report"),
    ],
)
def test_best_energy_at_an_slav_no_worse_than_the_reference(
    frame: pd.DataFrame, baseline: str | None, winner: str | None, sentence: str
) -> None:
    best = best_energy_at_slav(policy_summary(frame), baseline)
    assert best.policy == winner
    assert sentence in best.sentence


def test_best_energy_when_another_policy_beats_the_reference(frame: pd.DataFrame) -> None:
    """lr-y at 30 kWh (made up) and SLAV 0.00075 beats thr-x's 35 kWh at 0.0025: 1 - 30/35 = 14.3 % less."""
    summary = policy_summary(frame)
    summary.loc["lr-y", "energy_kwh"] = 30.0
    best = best_energy_at_slav(summary, "thr-x")
    assert best.policy == "lr-y"
    assert best.sentence.endswith(f"lr-y, 30.0 kWh (14.3% less than thr-x), SLAV 75.00 {E5}.")


def test_the_baselines_are_never_best_even_alone(frame: pd.DataFrame) -> None:
    summary = policy_summary(frame[frame["policy"].isin(["npa", "dvfs"])])
    assert best_energy_at_slav(summary, "dvfs").policy is None
    assert best_by_esv(summary).policy is None


def test_spread_over_days_in_the_summary(frame: pd.DataFrame) -> None:
    """thr-x: energy 40 and 30 (min 30, max 40), SLAV 0.001 and 0.004, migrations 10 and 21."""
    thr = policy_summary(frame).loc["thr-x"]
    assert (thr["energy_kwh_min"], thr["energy_kwh"], thr["energy_kwh_max"]) == (30.0, 35.0, 40.0)
    assert (thr["slav_min"], thr["slav_max"]) == pytest.approx((0.001, 0.004))
    assert (thr["migrations_min"], thr["migrations_max"]) == (10, 21)


def test_standard_table_layout(frame: pd.DataFrame) -> None:
    table = summary_table(policy_summary(frame), ("esv", "energy_kwh", "slav", "slatah", "pdm", "migrations"))
    assert table.header == [
        "Policy", f"ESV ({E3})", "Energy (kWh)", f"SLAV ({E5})", "SLATAH (%)", "PDM (%)", "Migrations (count)",
    ]  # fmt: skip
    assert table.rows[0] == ["npa", "0", "100.0", "0", "0", "0", "0"]
    # SLATAH median 0.15 -> 15.00 %; PDM median 0.015 -> 1.500 %; migrations median 15.5 shown with one decimal
    assert table.rows[2] == ["thr-x", "80.00", "35.0", "250.00", "15.00", "1.500", "15.5"]
    # beside each median, the lowest and highest day; none where both days show alike (npa's 100 kWh)
    assert table.spreads[0] == ["", "", "", "", "", "", ""]
    spreads = [cell.replace("\u2013", "..") for cell in table.spreads[2]]
    assert spreads == ["", "40.00..120.00", "30.0..40.0", "100.00..400.00", "10.00..20.00", "1.000..2.000", "10..21"]


def test_per_day_table_groups_by_policy(frame: pd.DataFrame) -> None:
    table = per_day_table(frame, ("energy_kwh", "migrations"))
    assert table.header == ["Policy", "Day", "Energy (kWh)", "Migrations (count)"]
    assert [r[:2] for r in table.rows[:4]] == [["npa", "d1"], ["npa", "d2"], ["dvfs", "d1"], ["dvfs", "d2"]]
    assert table.rows[5] == ["thr-x", "d2", "30.0", "21"]
    assert table.text_columns == 2


def test_units_are_fixed_and_tiny_values_keep_two_significant_digits() -> None:
    """One unit per metric whatever the values, as in neat simulate's table: SLAV 3.27e-5 is 3.27 x10^-5;
    7.01e-11 would show as 0.00, so it shows 7e-06 in the same unit."""
    slav = METRICS["slav"]
    assert (slav.unit, slav.format(3.27e-5)) == (E5, "3.27")
    assert slav.format(7.01e-11) == "7e-06"
    assert slav.format(3.1e-8) == "0.0031"
    assert slav.format(0.0) == "0"
    assert METRICS["esv"].unit == E3
    assert METRICS["slatah"].unit == METRICS["pdm"].unit == "%"


def test_identical_results_are_grouped() -> None:
    rows = [
        ("d1", "a", 1.0, 4), ("d1", "b", 1.0, 4), ("d1", "c", 1.0, 5),
        ("d2", "a", 2.0, 6), ("d2", "b", 2.0, 6), ("d2", "c", 2.0, 6),
    ]  # fmt: skip
    frame = pd.DataFrame(
        [{"day": d, "policy": p, "kind": "dynamic", "energy_kwh": e, "slatah": 0.1, "pdm": 0.2, "migrations": m}
         for d, p, e, m in rows]
    )  # fmt: skip
    assert identical_groups(frame) == [["a", "b"], ["c"]]


def test_plural() -> None:
    assert [plural(1, "day"), plural(2, "day"), plural(1052, "VM")] == ["1 day", "2 days", "1,052 VMs"]
    assert plural(3, "policy", "policies") == "3 policies"


def test_format_counts_and_missing_values() -> None:
    migrations = METRICS["migrations"]
    assert migrations.format(12345.0) == "12,345"
    assert migrations.format(2.5) == "2.5"
    assert METRICS["energy_kwh"].format(math.nan) == "n/a"

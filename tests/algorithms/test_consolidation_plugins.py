"""Hysteresis and its forecast band, minimization of migrations and surplus hosts, on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms._validation import ParameterError
from algorithms.base import VmTable
from algorithms.overload.hysteresis import Hysteresis, band_forecast
from algorithms.selection.mm import MinimizationOfMigrations
from algorithms.underload.surplus import SurplusUnderload
from neat.decision import NEAT, Component, DecisionInputs, build_policy, custom_spec, decide
from tests.decision.test_decide import hosts


def test_the_band_adds_a_quantile_of_the_one_step_changes() -> None:
    # changes 0.1, 0.2, -0.1 -> sorted -0.1, 0.1, 0.2; the median 0.1, the 90th percentile 0.1 + 0.8 * 0.1
    rows = np.array([[np.nan, 0.1, 0.2, 0.4, 0.3]])
    n_valid = np.array([4])
    median, count = band_forecast(rows, n_valid, 0.5)
    high, _ = band_forecast(rows, n_valid, 0.9)
    assert count.tolist() == [3]
    assert median[0] == pytest.approx(0.4)
    assert high[0] == pytest.approx(0.48)
    # one value: no change to take a quantile of; none: 0
    alone, count = band_forecast(np.array([[np.nan, 0.7], [np.nan, np.nan]]), np.array([1, 0]), 0.9)
    assert alone.tolist() == [0.7, 0.0] and count.tolist() == [0, 0]


def test_the_band_flags_on_the_newest_value_and_guards_with_the_band() -> None:
    band = Hysteresis(threshold=1.0, placement_threshold=0.45, quantile=0.9, min_changes=3)
    rows = np.array([[0.1, 0.2, 0.4, 0.3], [0.1, 0.2, 0.4, 0.3]]) * np.array([[1.0], [3.5]])
    n_valid = np.array([4, 4])
    overloaded, _ = band.evaluate(rows, n_valid, np.zeros(2), None)
    assert overloaded.tolist() == [False, True]  # 0.3 and 1.05 against 1.0
    guarded, _ = band.for_placement().evaluate(rows, n_valid, np.zeros(2), None)
    assert guarded.tolist() == [True, True]  # 0.48 > 0.45
    short = Hysteresis(threshold=1.0, placement_threshold=0.45, quantile=0.9, min_changes=4)
    guarded, _ = short.for_placement().evaluate(rows[:1], n_valid[:1], np.zeros(1), None)
    assert guarded.tolist() == [False]  # 3 changes < 4: the newest value alone, 0.3


def test_a_placement_level_looser_than_the_overload_level_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"placement_threshold 0\.95 is above threshold 0\.9"):
        Hysteresis(threshold=0.9, placement_threshold=0.95)


def table(demand: list[float], ram: list[float], relieving: list[bool] | None = None) -> VmTable:
    n = len(demand)
    return VmTable(
        host=np.zeros(n, dtype=np.intp),
        cpu_mips=np.array(demand),
        capacity_mips=np.full(n, 1000.0),
        ram_mb=np.array(ram),
        history=np.zeros((n, 1)),
        n_valid=np.ones(n, dtype=np.intp),
        relieves=None if relieving is None else (lambda picks: np.array(relieving)[picks]),
    )


def test_minimization_of_migrations_ranks() -> None:
    vms = table([300.0, 800.0, 500.0], [600.0, 1800.0, 900.0])
    chosen = {"demand": 1, "demand_per_ram": 2}  # 800 MIPS; 0.5, 0.44, 0.56 MIPS per MB
    for rank, vm in chosen.items():
        assert MinimizationOfMigrations(rank=rank).select(vms, np.array([True])).tolist() == [vm]
    # of the VMs that relieve the host alone (1 and 2), the one losing least: 500 x 900 < 800 x 1800
    relief = table([300.0, 800.0, 500.0], [600.0, 1800.0, 900.0], [False, True, True])
    assert MinimizationOfMigrations().select(relief, np.array([True])).tolist() == [2]
    # none relieves alone: the most relief per MB
    none = table([300.0, 800.0, 500.0], [600.0, 1800.0, 900.0], [False, False, False])
    assert MinimizationOfMigrations().select(none, np.array([True])).tolist() == [2]


def test_surplus_hosts_are_the_least_utilized_beyond_what_the_load_needs() -> None:
    u = np.array([[0.9], [0.8], [0.3], [0.2], [0.0]])
    n_valid = np.ones(5, dtype=np.intp)

    # 4 hosts on carry 2.2: at 0.85 each they need ceil(2.59) = 3, so one is surplus, the least utilized
    def surplus(**kw: float) -> list[bool]:
        detector = SurplusUnderload(**{"slack_hosts": 0, "mean_steps": 1, **kw})  # type: ignore[arg-type]
        flagged: list[bool] = detector.detect(u, n_valid).tolist()
        return flagged

    assert surplus(target_utilization=0.85) == [False, False, False, True, False]
    assert not any(surplus(target_utilization=0.85, slack_hosts=1))
    assert not any(surplus(target_utilization=0.5))  # needs 5
    # surplus, but above the threshold: kept
    assert not any(surplus(target_utilization=0.85, threshold=0.1))


def test_an_overloaded_host_is_relieved_to_the_placement_level() -> None:
    """Hysteresis relieving to its placement level. Host 0 (2000 MIPS) carries 600 + 600 + 500 + 400
    = 2100 MIPS. Flagged over 1.0 by both; THR 1.0 relieves it just under 1.0 (the 400 leaves:
    0.85), hysteresis with a placement level of 0.6 down to it: no VM alone gets there, so the
    busiest leaves first (0.75), then the shortest move that does (the 400: 0.55)."""
    demand = [0.6, 0.6, 0.5, 0.4, 0.1]
    n_vms = len(demand)
    inputs = DecisionInputs(
        hosts=hosts(3),
        vm_host=np.array([0, 0, 0, 0, 1], dtype=np.intp),
        vm_mips=np.full(n_vms, 1000.0),
        vm_ram_mb=np.full(n_vms, 512.0),
        vm_history=np.tile(np.array(demand)[:, None], (1, 4)),
        vm_n_valid=np.full(n_vms, 4, dtype=np.intp),
        vm_migration_time_s=np.full(n_vms, 8.192),
        interval_s=300.0,
    )
    band = Component("hysteresis", {"threshold": 1.0, "placement_threshold": 0.6, "relieve_to": "placement"})
    moved = {}
    for name, detector in (("thr", Component("thr", {"threshold": 1.0})), ("band", band)):
        decision = decide(inputs, build_policy(custom_spec(detector, Component("mm"), Component("pabfd")), NEAT))
        assert decision.overloaded.tolist() == [True, False, False]
        moved[name] = sorted(decision.vms.tolist())
    assert moved == {"thr": [3], "band": [0, 3]}


def test_shortest_relief_moves_the_least_ram_that_relieves() -> None:
    relief = table([300.0, 800.0, 500.0], [600.0, 1800.0, 900.0], [False, True, True])
    assert MinimizationOfMigrations(rank="shortest_relief").select(relief, np.array([True])).tolist() == [2]
    both = table([300.0, 800.0, 500.0], [900.0, 1800.0, 900.0], [True, True, True])
    # 900 MB twice: the smaller demand of the two
    assert MinimizationOfMigrations(rank="shortest_relief").select(both, np.array([True])).tolist() == [0]


def test_surplus_on_the_mean_of_the_newest_values() -> None:
    # host 2 dips to 0.1 now but averaged 0.7 over 3 steps: the mean ranks it above host 3
    u = np.array([[0.9, 0.9, 0.9], [0.8, 0.8, 0.8], [1.0, 1.0, 0.1], [0.3, 0.3, 0.3]])
    n_valid = np.full(4, 3, dtype=np.intp)
    newest_only = SurplusUnderload(target_utilization=0.95, slack_hosts=0, mean_steps=1).detect(u, n_valid)
    averaged = SurplusUnderload(target_utilization=0.95, slack_hosts=0, mean_steps=3).detect(u, n_valid)
    assert newest_only.tolist() == [False, False, True, False]  # 2.1 / 0.95 -> 3 needed of 4
    assert averaged.tolist() == [False, False, False, True]  # 2.7 / 0.95 -> 3 needed of 4


def test_a_relief_can_end_just_under_the_overload_level() -> None:
    band = Hysteresis(threshold=1.0, placement_threshold=0.6, relieve_to="threshold")
    assert band.for_relief() is band
    both = Hysteresis(relieve_to="placement")
    assert both.for_relief() == both.for_placement()


def test_efficiency_pricing_wakes_the_host_cheapest_per_dominant_share() -> None:
    """Two switched-off hosts: A (100 W full, 1000 MIPS, 1000 MB), B (150 W, 3000 MIPS, 1000 MB).
    A VM of 500 MIPS and 100 MB takes half of A (50 W) and a sixth of B (25 W): B. One of 100 MIPS
    and 500 MB takes half of either by RAM: A (50 W against 75 W). "full" wakes A for both (less power
    at the load)."""
    from algorithms.base import HostTable, PlacementRequest
    from algorithms.placement.pabfd import PowerAwareBestFitDecreasing

    table_w = np.array([np.linspace(50.0, 100.0, 11), np.linspace(60.0, 150.0, 11)])
    hosts_ab = HostTable(
        cpu_mips=np.array([1000.0, 3000.0]),
        pe_mips=np.array([1000.0, 3000.0]),
        ram_mb=np.array([1000.0, 1000.0]),
        power_w=table_w,
    )

    def target(cpu: float, ram: float, pricing: str) -> int:
        request = PlacementRequest(
            vm_cpu_mips=np.array([cpu]),
            vm_ram_mb=np.array([ram]),
            used_cpu_mips=np.zeros(2),
            used_ram_mb=np.zeros(2),
            active=np.zeros(2, dtype=np.bool_),
            allowed=np.ones(2, dtype=np.bool_),
        )
        return int(PowerAwareBestFitDecreasing(empty_host_cost=pricing).place(hosts_ab, request)[0])

    assert target(500.0, 100.0, "efficiency") == 1
    assert target(100.0, 500.0, "efficiency") == 0
    assert target(500.0, 100.0, "full") == 0

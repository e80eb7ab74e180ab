"""The compiled kernels against the NumPy path they replace: same decisions, bit for bit.

Without numba the kernels run as plain Python (slowly, so the cases are small); the whole-run
tests force the compiled path on with ``COMPILED`` so that they compare the kernels either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from algorithms.base import HostTable, PlacementRequest
from algorithms.overload.iqr import IqrDetector
from algorithms.overload.mad import MadDetector
from algorithms.overload.mhod import MhodDetector
from algorithms.overload.otf import OtfDetector
from algorithms.overload.regression import LocalRegressionDetector, RobustLocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement.bfd import BestFitDecreasing
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W
from neat.scenario import cloudsim_standard
from neat.simulation import decision, placement_kernel, round_arrays
from neat.simulation import guard as guard_module
from neat.simulation import pabfd_kernel as pk
from neat.simulation.creation import place_at_creation
from neat.simulation.detector_kernels import detect_row, detector_spec, row_sum
from neat.simulation.engine import CapacityError, Simulation
from neat.simulation.guard import DetectorGuard, trimmed_length
from neat.simulation.host_index import TOP, index_hosts
from neat.simulation.jit import sort_small, stable_argsort
from neat.simulation.modes import CLOUDSIM, NEAT
from neat.simulation.policies import custom_policy, parse_policy
from neat.traces import synthetic_planetlab_like

WINDOW = 30

DETECTORS = [
    ThresholdOverload(threshold=0.8),
    ThresholdOverload(threshold=0.5, comparison="inclusive"),
    MadDetector(safety=2.5, fallback_threshold=0.7),
    MadDetector(safety=1.0, window=7, min_history=3, history_rule="nonzero_run", comparison="inclusive"),
    IqrDetector(safety=1.5, fallback_threshold=0.7),
    IqrDetector(safety=0.5, window=5, min_history=2, fallback_threshold=None),
    LocalRegressionDetector(safety=1.2, weighting="none"),
    LocalRegressionDetector(safety=1.2),
    LocalRegressionDetector(safety=1.0, length=5, comparison="strict", fallback_threshold=None),
    RobustLocalRegressionDetector(safety=1.2),
    RobustLocalRegressionDetector(safety=1.1, weighting="none"),
    RobustLocalRegressionDetector(safety=1.3, length=30),
]


def histories(rng: np.random.Generator, n: int) -> np.ndarray:
    """Host-like rows: random levels, oldest zeros (short history), idle steps, exact repeats,
    constant rows and perfect lines (a zero-residual fit)."""
    rows = rng.random((n, WINDOW)) * rng.random((n, 1)) * 1.2
    rows[np.arange(WINDOW) < rng.integers(0, WINDOW + 1, n)[:, None]] = 0.0
    rows[rng.random((n, WINDOW)) < 0.05] = 0.0
    rows[::7] = np.round(rows[::7] * 10) / 10
    rows[::11] = rows[::11, -1:]
    rows[::13, -12:] = np.linspace(0.0, 1.0, 12)
    return rows


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: repr(d)[:60])
def test_detect_row_decides_as_the_numpy_detector(detector):
    spec = detector_spec(detector)
    assert spec is not None
    rng = np.random.default_rng(7)
    rows = histories(rng, 400)
    steps = rng.choice([0.0, 0.3, 1.0], rows.shape[0])
    batch, _ = detector.evaluate(rows, trimmed_length(rows), steps, None)
    got = [detect_row(spec.params, spec.coef, row, step) for row, step in zip(rows, steps, strict=True)]
    np.testing.assert_array_equal(got, batch)
    assert 0 < batch.sum() < batch.size  # the cases reach both answers


def test_detector_spec_knows_only_the_stateless_builtins_exactly():
    """OTF and MHOD keep state; a subclass may override evaluate: both stay on the NumPy path."""

    @dataclass(frozen=True, kw_only=True)
    class Custom(ThresholdOverload):
        pass

    for detector in (OtfDetector(), MhodDetector(), Custom(threshold=0.8), LocalRegressionDetector(length=129)):
        assert detector_spec(detector) is None


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 10, 15, 16, 17, 30, 64, 100, 128])
def test_row_sum_is_numpys_pairwise_sum(n):
    rng = np.random.default_rng(n)
    rows = rng.random((50, n)) * 10.0 ** rng.integers(-3, 3, (50, 1))
    np.testing.assert_array_equal([row_sum(row) for row in rows], rows.sum(axis=1))


def test_sorts_match_numpys_stable_sorts_with_ties():
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 5, 33, 200):
        keys = rng.integers(0, 4, n).astype(np.float64)  # many ties
        np.testing.assert_array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))
        np.testing.assert_array_equal(sort_small(keys), np.sort(keys))


def two_type_hosts(n: int) -> HostTable:
    """``n`` hosts alternating HP G4 (2 x 1860 MIPS) and G5 (2 x 2660 MIPS), 4096 MB each."""
    g5 = np.arange(n) % 2 == 1
    return HostTable(
        cpu_mips=np.where(g5, 5320.0, 3720.0),
        pe_mips=np.where(g5, 2660.0, 1860.0),
        ram_mb=np.full(n, 4096.0),
        power_w=np.where(g5[:, None], HP_PROLIANT_ML110_G5_W, HP_PROLIANT_ML110_G4_W),
    )


def placement_case(seed: int, *, ties: bool, n: int) -> dict[str, Any]:
    """A random PABFD call: ``n`` hosts (some empty, some excluded), 8 VMs; with ``ties``, hosts of
    a type are equally loaded so that power increases tie exactly. With more hosts than a search
    gathers (TOP), its bounds come into play."""
    rng = np.random.default_rng(seed)
    hosts = two_type_hosts(n)
    if ties:
        used = np.where(np.arange(n) % 4 < 2, 0.0, hosts.cpu_mips * 0.5)
        vm_cpu = rng.choice([250.0, 500.0, 500.0, 1000.0], 8)
    else:
        used = np.where(rng.random(n) < 0.3, 0.0, hosts.cpu_mips * rng.random(n) * 0.95)
        vm_cpu = rng.random(8) * 1500.0
    host_history = np.where(used[:, None] > 0, histories(rng, n) * 0.7, 0.0)
    return {
        "hosts": hosts,
        "used_cpu": used,
        "used_ram": np.where(used > 0, rng.random(n) * 3000.0, 0.0),
        "allowed": rng.random(n) < 0.85,
        "vm_cpu": vm_cpu,
        "vm_ram": rng.choice([613.0, 870.0, 1740.0], 8),
        "vm_mips": np.full(8, 2000.0),
        "vm_history": histories(rng, 8),
        "host_history": host_history,
        "steps": np.ones(n),
        "baseline": rng.random(n) if seed % 2 else None,
    }


@pytest.mark.parametrize("all_or_nothing", [False, True])
@pytest.mark.parametrize("empty_host_cost", ["full", "idle_excluded"])
@pytest.mark.parametrize(("ties", "n_hosts"), [(False, 12), (True, 12), (False, 150), (True, 150)])
@pytest.mark.parametrize("detector", DETECTORS[::2], ids=lambda d: type(d).__name__)
def test_place_selected_makes_the_numpy_placers_choices(detector, ties, n_hosts, empty_host_cost, all_or_nothing):
    placer = PowerAwareBestFitDecreasing(empty_host_cost=empty_host_cost, all_or_nothing=all_or_nothing)
    spec = detector_spec(detector)
    assert spec is not None
    for seed in range(6):
        case = placement_case(seed, ties=ties, n=n_hosts)
        hosts = case["hosts"]
        guard = DetectorGuard(
            detector,
            vm_history=case["vm_history"],
            vm_mips=case["vm_mips"],
            host_mips=hosts.cpu_mips,
            host_history=case["host_history"],
            migration_time_steps=case["steps"],
            state=None,
        )
        request = PlacementRequest(
            vm_cpu_mips=case["vm_cpu"],
            vm_ram_mb=case["vm_ram"],
            used_cpu_mips=case["used_cpu"],
            used_ram_mb=case["used_ram"],
            active=case["used_cpu"] > 0,
            allowed=case["allowed"],
            baseline_utilization=case["baseline"],
        )
        expected = placer.place(hosts, request, guard)
        order = np.argsort(-case["vm_cpu"], kind="stable")
        arrays = round_arrays.pack_round(
            hosts,
            placer,
            spec,
            steps=case["steps"],
            baseline_utilization=case["baseline"],
            used_cpu=case["used_cpu"],
            used_ram=case["used_ram"],
            active=case["used_cpu"] > 0,
            vm_mips=case["vm_mips"],
            vm_cpu=case["vm_cpu"],
            vm_capped=case["vm_cpu"],
            vm_ram=case["vm_ram"],
            vm_history=case["vm_history"],
            host_history=case["host_history"].copy(),
        )
        vms, targets = placement_kernel.place_selected(arrays, np.arange(8), ~case["allowed"], all_or_nothing)
        placed = expected[order] >= 0
        np.testing.assert_array_equal(vms, order[placed])
        np.testing.assert_array_equal(targets, expected[order][placed])
        np.testing.assert_array_equal(arrays.host_history, guard.host_history)
        committed = case["used_cpu"].copy()
        np.add.at(committed, targets, case["vm_cpu"][vms])
        np.testing.assert_array_equal(arrays.host[:, round_arrays.USED_CPU], committed)


def test_ties_go_to_the_lowest_index_and_past_a_refusal_to_the_next():
    """Four identical hosts at 50 %: equal power increases. THR 0.6 refuses host 0, whose history
    is busy; the VM goes to host 1, the next of the tied hosts."""
    hosts = two_type_hosts(8)
    hosts = dataclasses.replace(hosts, cpu_mips=np.full(8, 3720.0), pe_mips=np.full(8, 1860.0))
    hosts = dataclasses.replace(hosts, power_w=np.tile(HP_PROLIANT_ML110_G4_W, (8, 1)))
    used = np.full(8, 1860.0)
    host_history = np.full((8, WINDOW), 0.5)
    host_history[0, -1] = 0.59
    spec = detector_spec(ThresholdOverload(threshold=0.6))
    assert spec is not None
    arrays = round_arrays.pack_round(
        hosts,
        PowerAwareBestFitDecreasing(),
        spec,
        steps=np.ones(8),
        baseline_utilization=None,
        used_cpu=used,
        used_ram=np.zeros(8),
        active=np.ones(8, dtype=np.bool_),
        vm_mips=np.array([100.0]),
        vm_cpu=np.array([50.0]),
        vm_capped=np.array([50.0]),
        vm_ram=np.zeros(1),
        vm_history=np.full((1, WINDOW), 0.5),
        host_history=host_history,
    )
    excluded = np.zeros(8, dtype=np.bool_)
    assert pk.best_host(arrays, index_hosts(arrays, excluded), 0, excluded) == 1
    excluded[1] = True
    assert pk.best_host(arrays, index_hosts(arrays, excluded), 0, excluded) == 2


@pytest.fixture(scope="module")
def larger():
    """More hosts than a search gathers at a time, so that its bounds prune."""
    base = cloudsim_standard()
    scenario = dataclasses.replace(base, host_types=tuple(dataclasses.replace(t, count=60) for t in base.host_types))
    return scenario, synthetic_planetlab_like(n_vms=150, n_steps=30, seed=13)


@pytest.fixture(scope="module")
def small():
    base = cloudsim_standard()
    scenario = dataclasses.replace(base, host_types=tuple(dataclasses.replace(t, count=15) for t in base.host_types))
    return scenario, synthetic_planetlab_like(n_vms=45, n_steps=40, seed=11)


def run(small, policy, mode, *, compiled: bool, monkeypatch) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    scenario, traces = small
    monkeypatch.setattr(decision, "COMPILED", compiled)
    assert (decision.compiled_spec(policy) is not None) == compiled
    result = Simulation(traces, scenario, policy, mode, seed=2).run()
    summary = result.summary()
    for key in ("wall_time_s", "phase_times_s"):
        summary.pop(key)
    return summary, result.series


POLICIES = [
    ("thr-mmt-0.8", CLOUDSIM),
    ("thr-mu-1.0", NEAT),
    ("mad-mmt-2.5", CLOUDSIM),
    ("iqr-mc-1.5", NEAT),
    ("lr-mmt-1.2", CLOUDSIM),
    ("lr-rs-1.2", NEAT),
    ("lrr-mmt-1.2", NEAT),
]


@pytest.mark.parametrize(("name", "mode"), POLICIES, ids=[f"{n}-{m.name}" for n, m in POLICIES])
def test_a_whole_run_is_identical_on_both_paths(small, name, mode, monkeypatch):
    policy = parse_policy(name, mode)
    numpy_summary, numpy_series = run(small, policy, mode, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, kernel_series = run(small, policy, mode, compiled=True, monkeypatch=monkeypatch)
    assert numpy_summary["migrations"] > 0
    assert kernel_summary == numpy_summary
    for key, values in numpy_series.items():
        np.testing.assert_array_equal(kernel_series[key], values, err_msg=key)


@pytest.mark.parametrize(("name", "mode"), [("lr-mmt-1.2", CLOUDSIM), ("mad-mu-2.5", NEAT)])
def test_a_larger_run_is_identical_on_both_paths(larger, name, mode, monkeypatch):
    policy = parse_policy(name, mode)
    numpy_summary, numpy_series = run(larger, policy, mode, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, kernel_series = run(larger, policy, mode, compiled=True, monkeypatch=monkeypatch)
    assert numpy_summary["migrations"] > 0
    assert kernel_summary == numpy_summary
    for key, values in numpy_series.items():
        np.testing.assert_array_equal(kernel_series[key], values, err_msg=key)


def test_a_run_with_custom_placer_options_is_identical_on_both_paths(small, monkeypatch):
    """A PABFD below full CPU with all-or-nothing placement of overloaded hosts' VMs, a MAD that
    counts only the non-zero run."""
    policy = custom_policy(
        "mad", {"safety": 2.0, "history_rule": "nonzero_run"}, "mmt", {}, "pabfd",
        {"cpu_threshold": 0.9, "all_or_nothing": True}, NEAT,
    )  # fmt: skip
    numpy_summary, _ = run(small, policy, NEAT, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, _ = run(small, policy, NEAT, compiled=True, monkeypatch=monkeypatch)
    assert kernel_summary == numpy_summary


def test_other_placers_and_stateful_detectors_keep_the_numpy_path(monkeypatch):
    monkeypatch.setattr(decision, "COMPILED", True)
    assert decision.compiled_spec(parse_policy("otf-mmt-0.1", NEAT)) is None
    assert decision.compiled_spec(parse_policy("mhod-mmt-0.1", NEAT)) is None
    bfd = dataclasses.replace(parse_policy("lr-mmt-1.2", NEAT), placer=BestFitDecreasing())
    assert decision.compiled_spec(bfd) is None


@pytest.mark.parametrize(("name", "mode"), POLICIES, ids=[f"{n}-{m.name}" for n, m in POLICIES])
def test_creation_places_every_vm_where_the_engine_does(small, name, mode, monkeypatch):
    monkeypatch.setattr(decision, "COMPILED", True)
    scenario, traces = small
    sim = Simulation(traces, scenario, parse_policy(name, mode), mode)
    placed = place_at_creation(sim)
    assert placed is not None
    np.testing.assert_array_equal(placed, sim.initial_placement())


def test_creation_reports_the_first_vm_that_fits_nowhere(small, monkeypatch):
    """Four hosts for 45 VMs: the kernel stops at the first VM without a host, as the engine does."""
    monkeypatch.setattr(decision, "COMPILED", True)
    scenario, traces = small
    tiny = dataclasses.replace(scenario, host_types=tuple(dataclasses.replace(t, count=2) for t in scenario.host_types))
    sim = Simulation(traces, tiny, parse_policy("lr-mmt-1.2", NEAT), NEAT)
    placed = place_at_creation(sim)
    assert placed is not None
    first = int(np.argmax(placed < 0))
    assert first > 0 and (placed[first:] == -1).all() and (placed[:first] >= 0).all()
    with pytest.raises(CapacityError, match=f"VM {first} "):
        sim.initial_placement()


@pytest.mark.parametrize("compiled", [False, True])
def test_host_histories_add_each_hosts_vms_in_index_order(compiled, monkeypatch):
    """The compiled sum and np.add.at agree bit for bit; a subset of hosts from a subset of VMs too."""
    monkeypatch.setattr(guard_module, "COMPILED", compiled)
    rng = np.random.default_rng(5)
    vm_host = rng.integers(-1, 6, 40)
    vm_history = histories(rng, 40)
    vm_mips = rng.choice([500.0, 1000.0, 2500.0], 40)
    host_mips = rng.choice([3720.0, 5320.0], 6)
    placed = np.flatnonzero(vm_host >= 0)
    expected = np.zeros((6, WINDOW))
    np.add.at(expected, vm_host[placed], vm_history[placed] * (vm_mips[placed] / host_mips[vm_host[placed]])[:, None])
    np.testing.assert_array_equal(guard_module.host_histories(vm_host, vm_history, vm_mips, host_mips), expected)
    hosts = np.array([4, 1])
    candidates = np.flatnonzero(np.isin(vm_host, hosts) | (rng.random(40) < 0.3))
    np.testing.assert_array_equal(
        guard_module.host_histories_of(hosts, candidates, vm_host, vm_history, vm_mips, host_mips), expected[hosts]
    )


def test_past_more_refusals_than_the_search_gathers_the_numpy_order_holds():
    """3 x TOP equally loaded hosts, the first 2 x TOP + 3 too busy for THR 0.8 once the VM is
    added: the kernel gathers candidates three times before the guard accepts one."""
    n, busy = 3 * TOP, 2 * TOP + 3
    hosts = two_type_hosts(n)
    hosts = dataclasses.replace(hosts, cpu_mips=np.full(n, 3720.0), pe_mips=np.full(n, 1860.0))
    hosts = dataclasses.replace(hosts, power_w=np.tile(HP_PROLIANT_ML110_G4_W, (n, 1)))
    used = np.full(n, 1860.0)
    host_history = np.full((n, WINDOW), 0.3)
    host_history[:busy, -1] = 0.75
    detector = ThresholdOverload(threshold=0.8)
    spec = detector_spec(detector)
    assert spec is not None
    vm_history = np.full((1, WINDOW), 0.5)
    guard = DetectorGuard(
        detector,
        vm_history=vm_history,
        vm_mips=np.array([500.0]),
        host_mips=hosts.cpu_mips,
        host_history=host_history,
        migration_time_steps=np.ones(n),
        state=None,
    )
    request = PlacementRequest(
        vm_cpu_mips=np.array([200.0]),
        vm_ram_mb=np.zeros(1),
        used_cpu_mips=used,
        used_ram_mb=np.zeros(n),
        active=np.ones(n, dtype=np.bool_),
        allowed=np.ones(n, dtype=np.bool_),
    )
    assert PowerAwareBestFitDecreasing().place(hosts, request, guard)[0] == busy
    arrays = round_arrays.pack_round(
        hosts,
        PowerAwareBestFitDecreasing(),
        spec,
        steps=np.ones(n),
        baseline_utilization=None,
        used_cpu=used,
        used_ram=np.zeros(n),
        active=np.ones(n, dtype=np.bool_),
        vm_mips=np.array([500.0]),
        vm_cpu=np.array([200.0]),
        vm_capped=np.array([200.0]),
        vm_ram=np.zeros(1),
        vm_history=vm_history,
        host_history=host_history.copy(),
    )
    excluded = np.zeros(n, dtype=np.bool_)
    assert pk.best_host(arrays, index_hosts(arrays, excluded), 0, excluded) == busy

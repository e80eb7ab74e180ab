"""The compiled kernels against the NumPy path they replace: same decisions, bit for bit.

Without numba the kernels run as plain Python (slowly, so the cases are small); the whole-run
tests force the compiled round on or off with ``neat.decision.kernels.compiled.COMPILED`` (read by
:func:`~neat.decision.kernels.compiled.compiled_round`, which both :func:`neat.decision.decide.decide`
and :func:`neat.decision.creation.place_at_creation` consult) so that they compare the two paths
either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from algorithms._jit import sort_small, stable_argsort
from algorithms.base import HostTable, PlacementRequest
from algorithms.overload._row import row_sum, trimmed_row_length
from algorithms.overload.iqr import IqrDetector
from algorithms.overload.kernel import detect_row, detect_rows
from algorithms.overload.mad import MadDetector
from algorithms.overload.mhod import MhodDetector
from algorithms.overload.otf import OtfDetector
from algorithms.overload.regression import LocalRegressionDetector, RobustLocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement import _pabfd_arrays as round_arrays
from algorithms.placement._pabfd_index import TOP, index_hosts
from algorithms.placement._pabfd_search import best_host
from algorithms.placement.bfd import BestFitDecreasing
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W
from neat.decision import histories as histories_module
from neat.decision.creation import place_at_creation
from neat.decision.guard import DetectorGuard
from neat.decision.kernels import compiled as compiled_module
from neat.decision.kernels import placement_kernel
from neat.decision.kernels.compiled import compiled_round
from neat.decision.mode import CLOUDSIM, NEAT, Mode, trimmed_length
from neat.decision.policy import Component, build_policy, custom_spec, named_policy
from neat.scenario import cloudsim_standard
from neat.simulation import allocation
from neat.simulation.allocation import allocate, allocate_numpy
from neat.simulation.engine import CapacityError, Simulation
from neat.traces import synthetic_planetlab_like

WINDOW = 30
MODE_IDS = {"ids": lambda m: m.name}

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


def valid_lengths(rng: np.random.Generator, rows: np.ndarray, mode: Mode) -> np.ndarray:
    """Each row's history length as the mode counts it: the row without its oldest zeros
    (CloudSim), or a valid length at least that long, so that some oldest zeros are real samples
    (neat) while the padding stays 0."""
    trimmed = trimmed_length(rows)
    if mode.trim_leading_zeros:
        return trimmed
    return np.maximum(trimmed, rng.integers(0, WINDOW + 1, rows.shape[0])).astype(np.intp)


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], **MODE_IDS)
@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: repr(d)[:60])
def test_detect_row_decides_as_the_numpy_detector(detector, mode):
    kernel = detector.kernel()
    assert kernel is not None
    rng = np.random.default_rng(7)
    rows = histories(rng, 400)
    n_valid = valid_lengths(rng, rows, mode)
    steps = rng.choice([0.0, 0.3, 1.0], rows.shape[0])
    batch, _ = detector.evaluate(rows, mode.history_length(rows, n_valid), steps, None)
    states = detector.kernel_state(None, rows.shape[0])
    got = [
        detect_row(kernel.params, kernel.coef, state, row, int(nv), step)
        for state, row, nv, step in zip(states, rows, n_valid, steps, strict=True)
    ]
    np.testing.assert_array_equal(got, batch)
    np.testing.assert_array_equal(detect_rows(kernel.params, kernel.coef, states, rows, n_valid, steps), batch)
    assert 0 < batch.sum() < batch.size  # the cases reach both answers


def test_trimmed_row_length_is_the_modes_trimmed_length():
    rows = histories(np.random.default_rng(4), 200)
    rows[0] = 0.0
    np.testing.assert_array_equal([trimmed_row_length(row) for row in rows], trimmed_length(rows))
    np.testing.assert_array_equal(CLOUDSIM.history_length(rows, np.full(200, WINDOW)), trimmed_length(rows))
    np.testing.assert_array_equal(NEAT.history_length(rows, np.full(200, WINDOW)), np.full(200, WINDOW))


def test_detector_kernels_are_only_the_builtins_exactly():
    """MHOD with more than two states solves its L functions with LAPACK; a subclass that overrides
    evaluate loses its kernel (it no longer mirrors the kernel's arithmetic): all stay on the NumPy
    path. A subclass that overrides nothing keeps it."""

    @dataclass(frozen=True, kw_only=True)
    class Custom(ThresholdOverload):
        def evaluate(self, utilization, n_valid, migration_time_steps, state):  # type: ignore[no-untyped-def]
            return super().evaluate(utilization, n_valid, migration_time_steps, state)

    @dataclass(frozen=True, kw_only=True)
    class Renamed(ThresholdOverload):
        pass

    assert OtfDetector().kernel() is not None and MhodDetector().kernel() is not None
    for detector in (MhodDetector(state_config=(0.5, 0.8)), Custom(threshold=0.8), LocalRegressionDetector(length=129)):
        assert detector.kernel() is None
    same = Renamed(threshold=0.8).kernel()
    assert same is not None
    np.testing.assert_array_equal(same.params, ThresholdOverload(threshold=0.8).kernel().params)


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


def placement_case(seed: int, *, ties: bool, n: int, mode: Mode) -> dict[str, Any]:
    """A random PABFD call: ``n`` hosts (some empty, some excluded), 8 VMs; with ``ties``, hosts of
    a type are equally loaded so that power increases tie exactly. With more hosts than a search
    gathers (TOP), its bounds come into play. Histories have lengths as ``mode`` counts them and
    migration horizons differ between hosts and VMs (a host with a VM added takes the longer)."""
    rng = np.random.default_rng(seed)
    hosts = two_type_hosts(n)
    if ties:
        used = np.where(np.arange(n) % 4 < 2, 0.0, hosts.cpu_mips * 0.5)
        vm_cpu = rng.choice([250.0, 500.0, 500.0, 1000.0], 8)
    else:
        used = np.where(rng.random(n) < 0.3, 0.0, hosts.cpu_mips * rng.random(n) * 0.95)
        vm_cpu = rng.random(8) * 1500.0
    host_history = np.where(used[:, None] > 0, histories(rng, n) * 0.7, 0.0)
    vm_history = histories(rng, 8)
    return {
        "hosts": hosts,
        "used_cpu": used,
        "used_ram": np.where(used > 0, rng.random(n) * 3000.0, 0.0),
        "allowed": rng.random(n) < 0.85,
        "vm_cpu": vm_cpu,
        "vm_ram": rng.choice([613.0, 870.0, 1740.0], 8),
        "vm_mips": np.full(8, 2000.0),
        "vm_history": vm_history,
        "vm_n_valid": valid_lengths(rng, vm_history, mode),
        "vm_steps": rng.choice([0.0, 0.4, 1.0, 2.0], 8),
        "host_history": host_history,
        "host_n_valid": np.where(used > 0, valid_lengths(rng, host_history, mode), 0).astype(np.intp),
        "steps": np.where(used > 0, rng.choice([0.0, 0.5, 1.0, 3.0], n), 0.0),
        "baseline": rng.random(n) if seed % 2 else None,
    }


def guard_for(detector, mode: Mode, case: dict[str, Any], **overrides: Any) -> DetectorGuard:
    args = {
        "vm_history": case["vm_history"],
        "vm_n_valid": case["vm_n_valid"],
        "vm_mips": case["vm_mips"],
        "vm_steps": case["vm_steps"],
        "host_mips": case["hosts"].cpu_mips,
        "host_history": case["host_history"],
        "host_n_valid": case["host_n_valid"],
        "host_steps": case["steps"],
        "state": None,
    } | overrides
    return DetectorGuard(detector, mode, **args)


def pack(placer, detector, mode: Mode, case: dict[str, Any]) -> round_arrays.RoundArrays:
    placer_kernel, detector_kernel = placer.kernel(), detector.kernel()
    assert placer_kernel is not None and detector_kernel is not None
    return round_arrays.pack_round(
        case["hosts"],
        placer_kernel,
        detector_kernel,
        steps=case["steps"],
        host_n_valid=case["host_n_valid"],
        trim_leading_zeros=mode.trim_leading_zeros,
        baseline_utilization=case["baseline"],
        used_cpu=case["used_cpu"],
        used_ram=case["used_ram"],
        active=case["used_cpu"] > 0,
        vm_mips=case["vm_mips"],
        vm_cpu=case["vm_cpu"],
        vm_capped=case["vm_cpu"],
        vm_ram=case["vm_ram"],
        vm_n_valid=case["vm_n_valid"],
        vm_steps=case["vm_steps"],
        vm_history=case["vm_history"],
        host_history=case["host_history"].copy(),
    )


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], **MODE_IDS)
@pytest.mark.parametrize("all_or_nothing", [False, True])
@pytest.mark.parametrize("empty_host_cost", ["full", "idle_excluded"])
@pytest.mark.parametrize(("ties", "n_hosts"), [(False, 12), (True, 12), (False, 150), (True, 150)])
@pytest.mark.parametrize("detector", DETECTORS[::2], ids=lambda d: type(d).__name__)
def test_place_selected_makes_the_numpy_placers_choices(detector, ties, n_hosts, empty_host_cost, all_or_nothing, mode):
    placer = PowerAwareBestFitDecreasing(empty_host_cost=empty_host_cost, all_or_nothing=all_or_nothing)
    for seed in range(6):
        case = placement_case(seed, ties=ties, n=n_hosts, mode=mode)
        hosts = case["hosts"]
        guard = guard_for(detector, mode, case)
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
        arrays = pack(placer, detector, mode, case)
        vms, targets = placement_kernel.place_selected(arrays, np.arange(8), ~case["allowed"], all_or_nothing)
        placed = expected[order] >= 0
        np.testing.assert_array_equal(vms, order[placed])
        np.testing.assert_array_equal(targets, expected[order][placed])
        np.testing.assert_array_equal(arrays.host_history, guard.host_history)
        np.testing.assert_array_equal(arrays.host[:, round_arrays.HOST_NV], guard.host_n_valid)
        np.testing.assert_array_equal(arrays.host[:, round_arrays.STEPS], guard.host_steps)
        committed = case["used_cpu"].copy()
        np.add.at(committed, targets, case["vm_cpu"][vms])
        np.testing.assert_array_equal(arrays.host[:, round_arrays.USED_CPU], committed)


def test_a_host_with_a_vm_added_takes_the_longer_history_and_horizon():
    """neat mode: a host with 3 samples judged with a VM of 20 is judged on 20 samples, and with the
    VM's longer migration; LR with length 10 has too little history on the host alone."""
    detector = LocalRegressionDetector(safety=1.2, length=10, fallback_threshold=None)
    hosts = two_type_hosts(2)
    host_history = np.zeros((2, WINDOW))
    host_history[0, -3:] = 0.3
    vm_history = np.zeros((1, WINDOW))
    vm_history[0, -20:] = np.linspace(0.0, 0.5, 20)
    guard = DetectorGuard(
        detector,
        NEAT,
        vm_history=vm_history,
        vm_n_valid=np.array([20]),
        vm_mips=np.array([2000.0]),
        vm_steps=np.array([4.0]),
        host_mips=hosts.cpu_mips,
        host_history=host_history,
        host_n_valid=np.array([3, 0]),
        host_steps=np.array([1.0, 0.0]),
        state=None,
    )
    with_vm = host_history[:1] + vm_history * (2000.0 / 3720.0)
    expected, _ = detector.evaluate(with_vm, np.array([20]), np.array([4.0]), None)
    np.testing.assert_array_equal(guard.would_overload(0, np.array([0])), expected)
    guard.assign(0, 0)
    assert (guard.host_n_valid[0], guard.host_steps[0]) == (20, 4.0)
    np.testing.assert_array_equal(guard.host_history[0], with_vm[0])
    guard.rollback(0)
    assert (guard.host_n_valid[0], guard.host_steps[0]) == (3, 1.0)
    np.testing.assert_array_equal(guard.host_history, host_history)


def test_ties_go_to_the_lowest_index_and_past_a_refusal_to_the_next():
    """Four identical hosts at 50 %: equal power increases. THR 0.6 refuses host 0, whose history
    is busy; the VM goes to host 1, the next of the tied hosts."""
    hosts = two_type_hosts(8)
    hosts = dataclasses.replace(hosts, cpu_mips=np.full(8, 3720.0), pe_mips=np.full(8, 1860.0))
    hosts = dataclasses.replace(hosts, power_w=np.tile(HP_PROLIANT_ML110_G4_W, (8, 1)))
    used = np.full(8, 1860.0)
    host_history = np.full((8, WINDOW), 0.5)
    host_history[0, -1] = 0.59
    kernel = ThresholdOverload(threshold=0.6).kernel()
    placer_kernel = PowerAwareBestFitDecreasing().kernel()
    assert kernel is not None and placer_kernel is not None
    arrays = round_arrays.pack_round(
        hosts,
        placer_kernel,
        kernel,
        steps=np.ones(8),
        host_n_valid=np.full(8, WINDOW),
        trim_leading_zeros=False,
        baseline_utilization=None,
        used_cpu=used,
        used_ram=np.zeros(8),
        active=np.ones(8, dtype=np.bool_),
        vm_mips=np.array([100.0]),
        vm_cpu=np.array([50.0]),
        vm_capped=np.array([50.0]),
        vm_ram=np.zeros(1),
        vm_n_valid=np.array([WINDOW]),
        vm_steps=np.ones(1),
        vm_history=np.full((1, WINDOW), 0.5),
        host_history=host_history,
    )
    excluded = np.zeros(8, dtype=np.bool_)
    assert best_host(arrays, index_hosts(arrays, excluded), 0, excluded) == 1
    excluded[1] = True
    assert best_host(arrays, index_hosts(arrays, excluded), 0, excluded) == 2


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


def run(small, policy, *, compiled: bool, monkeypatch) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    scenario, traces = small
    monkeypatch.setattr(compiled_module, "COMPILED", compiled)
    assert compiled_round(policy) == compiled
    result = Simulation(traces, scenario, policy, seed=2).run()
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
    policy = named_policy(name, mode)
    numpy_summary, numpy_series = run(small, policy, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, kernel_series = run(small, policy, compiled=True, monkeypatch=monkeypatch)
    assert numpy_summary["migrations"] > 0
    assert kernel_summary == numpy_summary
    for key, values in numpy_series.items():
        np.testing.assert_array_equal(kernel_series[key], values, err_msg=key)


@pytest.mark.parametrize(("name", "mode"), [("lr-mmt-1.2", CLOUDSIM), ("mad-mu-2.5", NEAT)])
def test_a_larger_run_is_identical_on_both_paths(larger, name, mode, monkeypatch):
    policy = named_policy(name, mode)
    numpy_summary, numpy_series = run(larger, policy, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, kernel_series = run(larger, policy, compiled=True, monkeypatch=monkeypatch)
    assert numpy_summary["migrations"] > 0
    assert kernel_summary == numpy_summary
    for key, values in numpy_series.items():
        np.testing.assert_array_equal(kernel_series[key], values, err_msg=key)


def test_a_run_with_custom_placer_options_is_identical_on_both_paths(small, monkeypatch):
    """A PABFD below full CPU with all-or-nothing placement of overloaded hosts' VMs, a MAD that
    counts only the non-zero run."""
    spec = custom_spec(
        Component("mad", {"safety": 2.0, "history_rule": "nonzero_run"}),
        Component("mmt"),
        Component("pabfd", {"cpu_threshold": 0.9, "all_or_nothing": True}),
    )
    policy = build_policy(spec, NEAT)
    numpy_summary, _ = run(small, policy, compiled=False, monkeypatch=monkeypatch)
    kernel_summary, _ = run(small, policy, compiled=True, monkeypatch=monkeypatch)
    assert kernel_summary == numpy_summary


def test_other_placers_keep_the_numpy_path(monkeypatch):
    monkeypatch.setattr(compiled_module, "COMPILED", True)
    assert compiled_round(named_policy("lr-mmt-1.2", NEAT))
    assert compiled_round(named_policy("otf-mmt-0.1", NEAT))
    assert compiled_round(named_policy("mhod-mmt-0.1", NEAT))
    bfd = dataclasses.replace(named_policy("lr-mmt-1.2", NEAT), placer=BestFitDecreasing())
    assert not compiled_round(bfd)
    assert not compiled_round(build_policy(custom_spec(Component("lr"), Component("mmt"), Component("bfd")), NEAT))
    for baseline in ("npa", "dvfs"):  # first fit has no kernel
        assert not compiled_round(named_policy(baseline, NEAT))


def creation(sim: Simulation, *, compiled: bool, monkeypatch) -> np.ndarray:
    monkeypatch.setattr(compiled_module, "COMPILED", compiled)
    assert compiled_round(sim.policy) == compiled
    return place_at_creation(sim.hosts, sim.policy, sim.vm_mips, sim.vm_ram_mb, sim.vm_steps())


@pytest.mark.parametrize(("name", "mode"), POLICIES, ids=[f"{n}-{m.name}" for n, m in POLICIES])
def test_creation_places_every_vm_where_the_engine_does(small, name, mode, monkeypatch):
    scenario, traces = small
    sim = Simulation(traces, scenario, named_policy(name, mode))
    numpy_placed = creation(sim, compiled=False, monkeypatch=monkeypatch)
    placed = creation(sim, compiled=True, monkeypatch=monkeypatch)
    assert (placed >= 0).all()
    np.testing.assert_array_equal(placed, numpy_placed)
    np.testing.assert_array_equal(placed, sim.initial_placement())


def test_creation_reports_the_first_vm_that_fits_nowhere(small, monkeypatch):
    """Four hosts for 45 VMs: the kernel stops at the first VM without a host, as the NumPy path
    does, and the engine names it."""
    scenario, traces = small
    tiny = dataclasses.replace(scenario, host_types=tuple(dataclasses.replace(t, count=2) for t in scenario.host_types))
    sim = Simulation(traces, tiny, named_policy("lr-mmt-1.2", NEAT))
    numpy_placed = creation(sim, compiled=False, monkeypatch=monkeypatch)
    placed = creation(sim, compiled=True, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(placed, numpy_placed)
    first = int(np.argmax(placed < 0))
    assert first > 0 and (placed[first:] == -1).all() and (placed[:first] >= 0).all()
    with pytest.raises(CapacityError, match=f"VM {first} "):
        sim.initial_placement()


@pytest.mark.parametrize("compiled", [False, True])
def test_host_histories_add_each_hosts_vms_in_index_order(compiled, monkeypatch):
    """The compiled sum and np.add.at agree bit for bit; a subset of hosts from a subset of VMs too.
    A host's valid length is the longest of its VMs' (0 for a host without VMs)."""
    monkeypatch.setattr(histories_module, "COMPILED", compiled)
    rng = np.random.default_rng(5)
    vm_host = rng.integers(-1, 7, 40)
    vm_host[vm_host == 6] = 5  # host 6 stays empty
    vm_history = histories(rng, 40)
    vm_n_valid = valid_lengths(rng, vm_history, NEAT)
    vm_mips = rng.choice([500.0, 1000.0, 2500.0], 40)
    host_mips = rng.choice([3720.0, 5320.0], 7)
    placed = np.flatnonzero(vm_host >= 0)
    expected = np.zeros((7, WINDOW))
    np.add.at(expected, vm_host[placed], vm_history[placed] * (vm_mips[placed] / host_mips[vm_host[placed]])[:, None])
    expected_n_valid = np.array([vm_n_valid[vm_host == h].max(initial=0) for h in range(7)])
    assert expected_n_valid[6] == 0
    history, n_valid = histories_module.host_histories(vm_host, vm_history, vm_n_valid, vm_mips, host_mips)
    np.testing.assert_array_equal(history, expected)
    np.testing.assert_array_equal(n_valid, expected_n_valid)
    hosts = np.array([4, 1, 6])
    candidates = np.flatnonzero(np.isin(vm_host, hosts) | (rng.random(40) < 0.3))
    history, n_valid = histories_module.host_histories_of(
        hosts, candidates, vm_host, vm_history, vm_n_valid, vm_mips, host_mips
    )
    np.testing.assert_array_equal(history, expected[hosts])
    np.testing.assert_array_equal(n_valid, expected_n_valid[hosts])


def one_vm_choices(
    hosts: HostTable, used: np.ndarray, host_history: np.ndarray, vm_cpu: float, vm_history: float
) -> tuple[int, int]:
    """Where PABFD puts one VM (500 MIPS, ``vm_cpu`` requested, a flat ``vm_history``, no RAM)
    among hosts all in use with ``used`` MIPS and ``host_history``, guarded by THR 0.8:
    (the NumPy path's host, the kernel's)."""
    n = used.shape[0]
    detector = ThresholdOverload(threshold=0.8)
    placer = PowerAwareBestFitDecreasing()
    case = {
        "hosts": hosts,
        "used_cpu": used,
        "used_ram": np.zeros(n),
        "vm_cpu": np.array([vm_cpu]),
        "vm_ram": np.zeros(1),
        "vm_mips": np.array([500.0]),
        "vm_history": np.full((1, WINDOW), vm_history),
        "vm_n_valid": np.array([WINDOW]),
        "vm_steps": np.ones(1),
        "host_history": host_history,
        "host_n_valid": np.full(n, WINDOW),
        "steps": np.ones(n),
        "baseline": None,
    }
    request = PlacementRequest(
        vm_cpu_mips=case["vm_cpu"],
        vm_ram_mb=np.zeros(1),
        used_cpu_mips=used,
        used_ram_mb=np.zeros(n),
        active=np.ones(n, dtype=np.bool_),
        allowed=np.ones(n, dtype=np.bool_),
    )
    expected = int(placer.place(hosts, request, guard_for(detector, NEAT, case))[0])
    arrays = pack(placer, detector, NEAT, case)
    excluded = np.zeros(n, dtype=np.bool_)
    return expected, best_host(arrays, index_hosts(arrays, excluded), 0, excluded)


def test_past_more_refusals_than_the_search_gathers_the_numpy_order_holds():
    """3 x TOP equally loaded hosts, the first 2 x TOP + 3 too busy for THR 0.8 once the VM is
    added: the kernel gathers candidates three times before the guard accepts one."""
    n, busy = 3 * TOP, 2 * TOP + 3
    hosts = two_type_hosts(n)
    hosts = dataclasses.replace(hosts, cpu_mips=np.full(n, 3720.0), pe_mips=np.full(n, 1860.0))
    hosts = dataclasses.replace(hosts, power_w=np.tile(HP_PROLIANT_ML110_G4_W, (n, 1)))
    host_history = np.full((n, WINDOW), 0.3)
    host_history[:busy, -1] = 0.75
    assert one_vm_choices(hosts, np.full(n, 1860.0), host_history, 200.0, 0.5) == (busy, busy)


def test_a_cheaper_group_of_hosts_indexed_after_a_dearer_one_is_searched_first():
    """Hosts in use, grouped by power table and segment in index order: 40 G4 hosts at 15 % (3.2 W
    a segment, 3.4 the next), 10 G4 at 25 % (3.4 W, 3.5 the next), then 10 G5 at 92 % (2 W). The
    first group fills the search's TOP before the second, whose bound exceeds them all, comes; the
    VM still goes to a G5 host, as the NumPy path places it."""
    n = 60
    g5 = np.arange(n) >= 50
    cpu = np.full(n, 3720.0)
    hosts = HostTable(
        cpu_mips=cpu,
        pe_mips=np.full(n, 1860.0),
        ram_mb=np.full(n, 4096.0),
        power_w=np.where(g5[:, None], HP_PROLIANT_ML110_G5_W, HP_PROLIANT_ML110_G4_W),
    )
    used = cpu * np.where(g5, 0.92, np.where(np.arange(n) < 40, 0.15, 0.25))
    expected, chosen = one_vm_choices(hosts, used, np.full((n, WINDOW), 0.3), 50.0, 0.1)
    assert g5[expected]
    assert chosen == expected


def allocation_case(seed: int) -> tuple[np.ndarray, ...]:
    """Random hosts and VMs: some VMs unplaced, demands above one core, exact repeats, idle VMs,
    migrations (some onto over-subscribed hosts) and hosts asked for far more than they have."""
    rng = np.random.default_rng(seed)
    n_hosts, n_vms = int(rng.integers(1, 12)), int(rng.integers(0, 60))
    pe = rng.choice([1860.0, 2660.0, 1000.0], n_hosts)
    capacity = pe * rng.choice([1.0, 2.0, 4.0], n_hosts)
    vm_host = rng.integers(-1, n_hosts, n_vms)
    requested = rng.choice([0.0, 500.0, 1000.0, 2500.0, 3000.0], n_vms) * rng.choice([1.0, 0.37, 1.3], n_vms)
    requested[rng.random(n_vms) < 0.3] = rng.random() * 2000.0  # exact repeats
    placed = np.flatnonzero(vm_host >= 0)
    moving = placed[rng.random(placed.size) < 0.4] if n_hosts > 1 else placed[:0]
    moving = rng.permutation(moving)
    targets = (vm_host[moving] + rng.integers(1, max(n_hosts, 2), moving.size)) % n_hosts
    return requested, vm_host, capacity, pe, moving.astype(np.intp), targets.astype(np.intp)


def test_compiled_allocate_is_allocate_numpy_bit_for_bit(monkeypatch):
    monkeypatch.setattr(allocation, "COMPILED", True)  # the loop version, compiled or not
    fields = [f.name for f in dataclasses.fields(allocation.HostState)]
    over_subscribed = migrated = 0
    for seed in range(300):
        case = allocation_case(seed)
        expected, got = allocate_numpy(*case), allocate(*case)
        for name in fields:
            a, b = getattr(got, name), getattr(expected, name)
            assert a.dtype == b.dtype and a.shape == b.shape, (seed, name)
            assert a.tobytes() == b.tobytes(), (seed, name, a, b)
        over_subscribed += int((expected.requested_mips > case[2]).any())
        migrated += int(case[4].size > 0)
    assert over_subscribed > 100 and migrated > 100  # the cases reach both


def test_with_numba_disabled_the_kernels_run_as_python_and_decide_alike(tmp_path: Any) -> None:
    """NUMBA_DISABLE_JIT=1 (a debugger, a coverage run): the kernels are plain Python functions and a
    simulation gives the compiled run's numbers."""
    import json
    import os
    import subprocess
    import sys

    from tests.scenarios import SCENARIO_TOML

    scenario = tmp_path / "twenty.toml"
    scenario.write_text(SCENARIO_TOML)
    script = (
        "import json, sys\n"
        "from neat.decision.mode import CLOUDSIM\n"
        "from neat.decision.policy import named_policy\n"
        "from neat.scenario import load_scenario\n"
        "from neat.simulation.engine import Simulation\n"
        "from neat.traces import synthetic_planetlab_like\n"
        "traces = synthetic_planetlab_like(n_vms=30, n_steps=24, seed=3)\n"
        "r = Simulation(traces, load_scenario(sys.argv[1]), named_policy('lr-mmt-1.2', CLOUDSIM)).run()\n"
        "print(json.dumps([r.energy_kwh, r.migrations]))\n"
    )
    runs = {}
    for disabled in ("0", "1"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": disabled}
        out = subprocess.run(
            [sys.executable, "-c", script, str(scenario)], env=env, capture_output=True, text=True, check=True
        )
        runs[disabled] = json.loads(out.stdout.strip().splitlines()[-1])
    assert runs["1"] == runs["0"]
    assert runs["0"][1] > 0  # the run migrates: the kernels were exercised

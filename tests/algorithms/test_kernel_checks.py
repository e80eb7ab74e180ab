"""Every plug-in that declares a compiled kernel decides as its NumPy method does, bit for bit.

Registry-wide (STYLE.md rule 13): each registered overload detector with
:meth:`~algorithms.base.OverloadDetector.kernel` is run through
:func:`algorithms.overload.kernel.detect_rows` and through its ``evaluate`` on the same histories.
A plug-in without a kernel is not a failure: it runs through NumPy everywhere. Also here: the
capability rule (a subclass that overrides behaviour loses the kernel it does not re-declare).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from algorithms._validation import InputError
from algorithms.base import HostTable, OverloadDetector, PlacementRequest, VmSelector
from algorithms.overload.kernel import detect_row, detect_rows
from algorithms.overload.mad import MadDetector
from algorithms.overload.regression import LocalRegressionDetector, RobustLocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.registry import available
from algorithms.selection.mmt import MinimumMigrationTime

WINDOW = 30
#: Configurations per registered detector, besides the defaults, that reach every branch of a kernel.
CONFIGS: dict[str, list[dict[str, Any]]] = {
    "thr": [{"threshold": 0.5, "comparison": "inclusive"}],
    "mad": [{"window": 7, "min_history": 3, "history_rule": "nonzero_run", "comparison": "inclusive"}],
    "iqr": [{"window": 5, "min_history": 2, "fallback_threshold": None}],
    "lr": [{"weighting": "none"}, {"length": 5, "comparison": "strict", "fallback_threshold": None}],
    "lrr": [{"weighting": "none"}, {"length": 30, "safety": 1.3}],
    "hysteresis": [{"threshold": 0.7, "placement_threshold": 0.6, "quantile": 0.9, "min_changes": 1}],
}
#: Every registered stateless detector that declares a kernel, with each of its configurations (the
#: stateful ones: tests/algorithms/test_stateful_kernels.py).
CASES = [
    (name, params)
    for name, cls in available("overload").items()
    if (kernel := cls().kernel()) is not None and kernel.state_width == 0
    for params in [{}, *CONFIGS.get(name, [])]
]


def histories(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned histories (n, WINDOW) with NaN padding and their n_valid: random levels, real zeros
    (idle steps and idle stretches), exact repeats, constant rows and perfect lines."""
    rows = rng.random((n, WINDOW)) * rng.random((n, 1)) * 1.2
    rows[rng.random((n, WINDOW)) < 0.05] = 0.0
    rows[::5, -8:-3] = 0.0  # an idle stretch inside the valid part: real samples
    rows[::7] = np.round(rows[::7] * 10) / 10
    rows[::11] = rows[::11, -1:]
    rows[::13, -12:] = np.linspace(0.0, 1.0, 12)
    n_valid = rng.integers(0, WINDOW + 1, n)
    rows[np.arange(WINDOW)[None, :] < (WINDOW - n_valid)[:, None]] = np.nan
    return rows, n_valid.astype(np.intp)


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_the_kernel_decides_as_evaluate(name: str, params: dict[str, Any]) -> None:
    detector = available("overload")[name](**params)
    assert isinstance(detector, OverloadDetector)
    kernel = detector.kernel()
    assert kernel is not None
    rng = np.random.default_rng(7)
    rows, n_valid = histories(rng, 500)
    steps = rng.choice([0.0, 0.3, 1.0], rows.shape[0])
    expected, _ = detector.evaluate(rows, n_valid, steps, detector.initial_state(rows.shape[0]))
    zero_padded = np.nan_to_num(rows, nan=0.0)  # the kernels never read the padding either
    states = detector.kernel_state(None, rows.shape[0])
    got = detect_rows(kernel.params, kernel.coef, states, zero_padded, n_valid, steps)
    np.testing.assert_array_equal(got, expected)
    assert 0 < expected.sum() < expected.size  # the cases reach both answers


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_the_placement_levels_kernel_decides_as_its_evaluate(name: str, params: dict[str, Any]) -> None:
    """A detector with a hysteresis guards targets with another detector: its kernel too is exact."""
    guard = available("overload")[name](**params).for_placement()
    kernel = guard.kernel()
    assert kernel is not None
    rng = np.random.default_rng(11)
    rows, n_valid = histories(rng, 500)
    steps = rng.choice([0.0, 0.3, 1.0], rows.shape[0])
    expected, _ = guard.evaluate(rows, n_valid, steps, guard.initial_state(rows.shape[0]))
    states = guard.kernel_state(None, rows.shape[0])
    got = detect_rows(kernel.params, kernel.coef, states, np.nan_to_num(rows, nan=0.0), n_valid, steps)
    np.testing.assert_array_equal(got, expected)
    assert 0 < expected.sum() < expected.size


def test_every_built_in_detector_has_a_kernel() -> None:
    """THR, MAD, IQR, LR, LRR, hysteresis and the stateful OTF and MHOD declare kernels; never does not."""
    with_kernel = {name for name, cls in available("overload").items() if cls().kernel() is not None}
    assert with_kernel == {"thr", "mad", "iqr", "lr", "lrr", "hysteresis", "otf", "mhod"}


def test_a_subclass_that_overrides_behaviour_loses_the_kernel_it_does_not_redeclare() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Doubled(ThresholdOverload):
        def evaluate(self, utilization, n_valid, migration_time_steps, state):  # type: ignore[no-untyped-def]
            return super().evaluate(utilization * 2, n_valid, migration_time_steps, state)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Renamed(ThresholdOverload):
        """Changes no behaviour: keeps the kernel."""

    assert Doubled(threshold=0.5).kernel() is None
    assert Renamed(threshold=0.5).kernel() is not None


def test_a_placer_or_selector_subclass_loses_its_declared_capabilities() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Tweaked(PowerAwareBestFitDecreasing):
        def place(self, hosts, request, guard=None):  # type: ignore[no-untyped-def]
            return super().place(hosts, request, guard)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Shuffled(MinimumMigrationTime):
        def evaluate(self, vms, hosts, vm, host, rng=None):  # type: ignore[no-untyped-def]
            return super().evaluate(vms, hosts, vm, host, rng)

    assert PowerAwareBestFitDecreasing().kernel() is not None
    assert Tweaked().kernel() is None
    assert MinimumMigrationTime.LOCAL and not Shuffled.LOCAL
    assert issubclass(Shuffled, VmSelector)


@pytest.mark.parametrize(
    "detector",
    [
        LocalRegressionDetector(safety=1.25),
        LocalRegressionDetector(safety=1.25, weighting="none"),
        RobustLocalRegressionDetector(safety=1.25),
    ],
    ids=repr,
)
def test_a_constant_series_predicts_itself_exactly(detector: LocalRegressionDetector) -> None:
    """0.8 held for 10 steps predicts 0.8: 1.25 x 0.8 = 1.0 >= 1.0, overloaded. An uncentred fit
    predicted 0.7999999999999968 and missed it."""
    row = np.full((1, 10), 0.8)
    overloaded, _ = detector.evaluate(row, np.array([10]), np.array([0.5]), None)
    assert overloaded.tolist() == [True]
    kernel = detector.kernel()
    assert kernel is not None
    assert detect_row(kernel.params, kernel.coef, np.zeros(0), row[0], 10, 0.5)
    below = np.full((1, 10), 0.79)
    assert not detector.evaluate(below, np.array([10]), np.array([0.5]), None)[0][0]


def test_mad_keeps_counting_real_zeros_as_history() -> None:
    """Twelve samples, eight of them a real 0 %: enough history, judged adaptively (not by the fallback)."""
    row = np.array([[0.0] * 8 + [0.9, 0.9, 0.9, 0.95]])
    detector = MadDetector(safety=2.5, fallback_threshold=0.99)
    overloaded, _ = detector.evaluate(row, np.array([12]), np.zeros(1), None)
    assert overloaded.tolist() == [False]  # MAD of the window is 0 (median deviation), threshold 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_pabfd_refuses_nan_inf_and_negative_demands(bad: float) -> None:
    hosts = HostTable(
        cpu_mips=np.array([1000.0, 1000.0]),
        pe_mips=np.array([1000.0, 1000.0]),
        ram_mb=np.array([1024.0, 1024.0]),
        power_w=np.tile(np.linspace(100.0, 200.0, 11), (2, 1)),
    )
    request = PlacementRequest(
        vm_cpu_mips=np.array([100.0, bad]),
        vm_ram_mb=np.array([10.0, 10.0]),
        used_cpu_mips=np.zeros(2),
        used_ram_mb=np.zeros(2),
        active=np.zeros(2, dtype=np.bool_),
        allowed=np.ones(2, dtype=np.bool_),
    )
    with pytest.raises(InputError, match=r"PowerAwareBestFitDecreasing: request\.vm_cpu_mips must hold finite numbers"):
        PowerAwareBestFitDecreasing().place(hosts, request)

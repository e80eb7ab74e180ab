"""Every detector's row kernel decides as its ``evaluate`` from any state the detector reaches.

Registry-wide (STYLE.md rule 13): each registered overload detector with a kernel is run for many
rounds on seeded histories; at every round its state is packed
(:meth:`~algorithms.base.OverloadDetector.kernel_state`) and the kernel judges a batch of
hypothetical histories (a VM added, as a placement guard asks) host by host, which must equal
``evaluate`` on the same batch from the same state. The kernel never advances the state, and the
packed rows of a subset of hosts are the subset's rows. Stateless detectors pass trivially (state
rows of width 0); for OTF and MHOD this is where their counters, windows and policy search are
checked, in configurations that reach every branch (short windows and learning, a fine grid).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from algorithms.base import OverloadDetector
from algorithms.overload.kernel import detect_row, detect_rows
from algorithms.overload.mhod import MhodDetector
from algorithms.overload.otf import OtfDetector
from algorithms.registry import available
from neat.decision.histories import take_state

WINDOW = 30
ROUNDS = 120
#: Configurations per registered detector, besides the defaults, that reach its branches in ROUNDS rounds.
CONFIGS: dict[str, list[dict[str, Any]]] = {
    "otf": [{"otf": 0.2, "limit": 5, "threshold": 0.9}, {"otf": 1.0, "limit": 1}],
    "mhod": [
        {"otf": 0.2, "learning_steps": 5, "window_sizes": (3, 5, 8)},
        {"otf": 0.3, "bruteforce_step": 0.1, "window_sizes": (2, 4, 6, 8), "state_config": (0.6,)},
        {"otf": 0.05, "bruteforce_step": 0.3},
    ],
}
DETECTORS: dict[str, type[OverloadDetector]] = available("overload")  # type: ignore[assignment]
CASES = [
    (name, params)
    for name, cls in DETECTORS.items()
    if cls().kernel() is not None
    for params in [{}, *CONFIGS.get(name, [])]
]


def round_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-padded histories (n, WINDOW) around a per-host level, their valid lengths (some 0) and
    migration horizons."""
    level = rng.random((n, 1)) * 1.1
    rows = np.clip(level + 0.25 * rng.standard_normal((n, WINDOW)), 0.0, 1.3)
    n_valid = rng.integers(0, WINDOW + 1, n)
    n_valid[::3] = WINDOW
    rows[np.arange(WINDOW)[None, :] < (WINDOW - n_valid)[:, None]] = 0.0
    return rows, n_valid.astype(np.intp), rng.choice([0.0, 0.3, 1.0, 2.5], n)


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_the_kernel_decides_as_evaluate_from_every_state_reached(name: str, params: dict[str, Any]) -> None:
    detector = DETECTORS[name](**params)
    kernel = detector.kernel()
    assert kernel is not None
    rng = np.random.default_rng(sum(map(ord, name)) + len(params))
    n = 200
    state = detector.initial_state(n)
    flagged = 0
    for _ in range(ROUNDS):
        rows, n_valid, steps = round_batch(rng, n)
        hypothetical = np.clip(rows + 0.15 * rng.random((n, WINDOW)), 0.0, 1.3)
        packed = detector.kernel_state(state, n)
        assert packed.shape == (n, kernel.state_width) and packed.dtype == np.float64
        expected, _ = detector.evaluate(hypothetical, n_valid, steps, state)
        got = detect_rows(kernel.params, kernel.coef, packed, hypothetical, n_valid, steps)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(detector.kernel_state(state, n), packed)  # not advanced
        flagged += int(expected.sum())
        _, state = detector.evaluate(rows, n_valid, steps, state)
    assert 0 < flagged < ROUNDS * n  # the cases reach both answers


@pytest.mark.parametrize("name", ["otf", "mhod"])
def test_a_subset_of_hosts_packs_as_its_rows(name: str) -> None:
    """The guard packs the state of the hosts it asks about: rows of the whole state's packing."""
    detector = DETECTORS[name]()
    rng = np.random.default_rng(1)
    state = detector.initial_state(50)
    for _ in range(20):
        rows, n_valid, steps = round_batch(rng, 50)
        _, state = detector.evaluate(rows, n_valid, steps, state)
    hosts = np.array([3, 17, 17, 42])
    np.testing.assert_array_equal(
        detector.kernel_state(take_state(state, hosts), hosts.size), detector.kernel_state(state, 50)[hosts]
    )


def test_mhod_with_more_states_has_no_kernel() -> None:
    """Its L functions are a linear solve (LAPACK): NumPy only."""
    assert MhodDetector(state_config=(0.5, 0.8)).kernel() is None
    assert MhodDetector(state_config=(0.8,)).kernel() is not None


def test_otf_worked_by_hand() -> None:
    """OTF 0.5 at threshold 0.9, limit 2: a host with 1 overloaded step of 3 observed, newest 0.95,
    horizon 1 step: (1 + 1 + 1) / (1 + 3 + 1) = 0.6 >= 0.5, overloaded; newest 0.85: not over now."""
    detector = OtfDetector(otf=0.5, threshold=0.9, limit=2)
    kernel = detector.kernel()
    assert kernel is not None
    state = detector.kernel_state(None, 1)
    state[0] = [1.0, 3.0]
    assert detect_row(kernel.params, kernel.coef, state[0], np.array([0.5, 0.95]), 2, 1.0)
    assert not detect_row(kernel.params, kernel.coef, state[0], np.array([0.5, 0.85]), 2, 1.0)
    assert not detect_row(kernel.params, kernel.coef, state[0], np.array([0.0, 0.95]), 1, 1.0)  # below limit

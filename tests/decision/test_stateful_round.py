"""Rounds of a stateful detector (OTF, MHOD) decide alike through the compiled kernels and NumPy.

The compiled round reads the detector's state through its packed rows
(:meth:`~algorithms.base.OverloadDetector.kernel_state`) in the placement guard and the relief
checks, and advances it with the detector's own ``evaluate``. Over many consecutive rounds, the
state carried from one to the next, both paths must make the same moves and reach the same state.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from neat.decision import CLOUDSIM, NEAT, Component, DecisionInputs, Mode, build_policy, custom_spec, decide
from neat.decision.histories import take_state
from neat.decision.kernels.compiled import compiled_round

from .test_compiled_round import random_round

decide_module = importlib.import_module("neat.decision.decide")
#: Detectors that flag hosts within a few rounds.
DETECTORS = {
    "otf": {"otf": 0.2, "limit": 3, "threshold": 0.8},
    "mhod": {"otf": 0.2, "learning_steps": 3, "window_sizes": (3, 5, 8)},
}


def next_round(inputs: DecisionInputs, rng: np.random.Generator, vm_host: np.ndarray) -> DecisionInputs:
    """The next round: every VM's history one step on, a new newest value, VMs where the plan put them."""
    history = np.roll(inputs.vm_history, -1, axis=1)
    history[:, -1] = np.clip(history[:, -2] + 0.3 * rng.standard_normal(history.shape[0]), 0.0, 1.0)
    n_valid = np.minimum(inputs.vm_n_valid + 1, history.shape[1])
    return DecisionInputs(
        hosts=inputs.hosts,
        vm_host=vm_host,
        vm_mips=inputs.vm_mips,
        vm_ram_mb=inputs.vm_ram_mb,
        vm_history=history,
        vm_n_valid=n_valid.astype(np.intp),
        vm_migration_time_s=inputs.vm_migration_time_s,
        interval_s=inputs.interval_s,
        vm_movable=inputs.vm_movable,
    )


def same_state(a: Any, b: Any, n_hosts: int) -> None:
    everyone = np.arange(n_hosts)
    for name, value in vars(take_state(a, everyone)).items():
        np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
@pytest.mark.parametrize("selection", ["mmt", "mu"])
@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_consecutive_rounds_decide_alike(
    detector: str, selection: str, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = build_policy(
        custom_spec(Component(detector, DETECTORS[detector]), Component(selection), Component("pabfd")), mode
    )
    assert compiled_round(policy)
    rng = np.random.default_rng(len(detector) + len(selection))
    inputs = random_round(3)
    state = None
    moved = flagged = 0
    for _ in range(30):
        compiled = decide(inputs, policy, state, rng=np.random.default_rng(1))
        monkeypatch.setattr(decide_module, "compiled_round", lambda _policy: False)
        reference = decide(inputs, policy, state, rng=np.random.default_rng(1))
        monkeypatch.undo()
        for field in ("vms", "sources", "targets", "groups", "overloaded", "underloaded", "unrelieved"):
            np.testing.assert_array_equal(getattr(compiled, field), getattr(reference, field), err_msg=field)
        same_state(compiled.detector_state, reference.detector_state, inputs.n_hosts)
        moved += compiled.n_moves
        flagged += int(compiled.overloaded.sum())
        vm_host = inputs.vm_host.copy()
        vm_host[compiled.vms] = compiled.targets
        state = compiled.detector_state
        inputs = next_round(inputs, rng, vm_host)
    assert moved > 0 and flagged > 0  # the rounds flag hosts and move VMs: the comparison is not vacuous

"""A round through the compiled kernels decides as the NumPy round does, for every plug-in with a kernel.

The compiled round applies when the placer and the detector both declare a kernel
(:func:`neat.decision.kernels.compiled.compiled_round`); forcing it off runs the same round through
the placer's and the detector's NumPy methods. Registry-wide: every registered placer with a kernel,
with every registered detector with a kernel, in both modes, on seeded random rounds.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from algorithms.base import HostTable
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W
from algorithms.registry import available
from neat.decision import (
    CLOUDSIM,
    NEAT,
    Component,
    DecisionInputs,
    Limits,
    Mode,
    Policy,
    build_policy,
    custom_spec,
    decide,
    named_policy,
    plan,
)
from neat.decision import creation as creation_module

#: The module (not the function ``neat.decision.decide``) whose compiled_round a test switches off.
decide_module = importlib.import_module("neat.decision.decide")
PLACERS = [name for name, cls in available("placement").items() if cls().kernel() is not None]
DETECTORS = [name for name, cls in available("overload").items() if cls().kernel() is not None]
#: Parameters that make each detector act on short, busy histories.
PARAMS = {"thr": {"threshold": 0.7}, "mad": {"safety": 1.5}, "iqr": {"safety": 1.0}, "lr": {}, "lrr": {}}


def random_round(seed: int, n_hosts: int = 40, n_vms: int = 90) -> DecisionInputs:
    rng = np.random.default_rng(seed)
    g5 = np.arange(n_hosts) % 2 == 1
    hosts = HostTable(
        cpu_mips=np.where(g5, 5320.0, 3720.0),
        pe_mips=np.where(g5, 2660.0, 1860.0),
        ram_mb=np.full(n_hosts, 8192.0),
        power_w=np.where(g5[:, None], HP_PROLIANT_ML110_G5_W, HP_PROLIANT_ML110_G4_W),
    )
    vm_mips = rng.choice([500.0, 1000.0, 1800.0], n_vms)
    history = np.clip(rng.random((n_vms, 30)) * rng.random((n_vms, 1)) * 1.1, 0, 1)
    history[rng.random((n_vms, 30)) < 0.1] = 0.0
    n_valid = rng.integers(1, 31, n_vms)
    history[np.arange(30)[None, :] < (30 - n_valid)[:, None]] = np.nan
    return DecisionInputs(
        hosts=hosts,
        vm_host=rng.integers(0, n_hosts // 2, n_vms).astype(np.intp),
        vm_mips=vm_mips,
        vm_ram_mb=rng.choice([613.0, 870.0, 1740.0], n_vms),
        vm_history=history,
        vm_n_valid=n_valid.astype(np.intp),
        vm_migration_time_s=rng.choice([9.8, 13.9, 27.8], n_vms),
        interval_s=300.0,
        vm_movable=rng.random(n_vms) > 0.05,
    )


def assert_paths_agree(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    """``policy`` decides six seeded random rounds alike compiled and through NumPy, moving VMs."""
    moved = 0
    for seed in range(6):
        inputs = random_round(seed)
        compiled = decide(inputs, policy)
        monkeypatch.setattr(decide_module, "compiled_round", lambda _policy: False)
        reference = decide(inputs, policy)
        monkeypatch.undo()
        for field in ("vms", "sources", "targets", "groups", "overloaded", "underloaded", "unrelieved"):
            np.testing.assert_array_equal(getattr(compiled, field), getattr(reference, field), err_msg=field)
        moved += compiled.n_moves
    assert moved > 0  # the rounds move VMs: the comparison is not vacuous


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("placer", PLACERS)
def test_the_compiled_round_decides_as_the_numpy_round(
    placer: str, detector: str, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = build_policy(
        custom_spec(Component(detector, PARAMS.get(detector, {})), Component("mmt"), Component(placer)), mode
    )
    assert_paths_agree(policy, monkeypatch)


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
def test_compiled_creation_places_as_the_numpy_creation(mode: Mode, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = random_round(11, n_hosts=60, n_vms=120)
    policy = build_policy(custom_spec(Component("lr"), Component("mmt"), Component("pabfd")), mode)
    args = (inputs.hosts, policy, inputs.vm_mips, inputs.vm_ram_mb, np.full(inputs.n_vms, 0.05))
    compiled = creation_module.place_at_creation(*args)
    monkeypatch.setattr(creation_module, "compiled_round", lambda _policy: False)
    np.testing.assert_array_equal(compiled, creation_module.place_at_creation(*args))
    assert (compiled >= 0).all()


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
def test_an_over_subscribed_host_is_relieved_on_both_paths(mode: Mode, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four busy 1000 MIPS VMs on a 2000 MIPS host (demand capped at its capacity): the VMs leaving it
    carry more than the capped use, which must leave nothing, not a negative use, on either path."""
    hosts = HostTable(
        cpu_mips=np.full(4, 2000.0),
        pe_mips=np.full(4, 1000.0),
        ram_mb=np.full(4, 8192.0),
        power_w=np.tile(HP_PROLIANT_ML110_G4_W, (4, 1)),
    )
    inputs = DecisionInputs(
        hosts=hosts,
        vm_host=np.array([0, 0, 0, 0, 1], dtype=np.intp),
        vm_mips=np.full(5, 1000.0),
        vm_ram_mb=np.full(5, 512.0),
        vm_history=np.tile(np.array([1.0, 1.0, 1.0, 1.0, 0.2])[:, None], (1, 30)),
        vm_n_valid=np.full(5, 30, dtype=np.intp),
        vm_migration_time_s=np.full(5, 8.192),
        interval_s=300.0,
    )
    policy = build_policy(custom_spec(Component("thr", {"threshold": 0.8}), Component("mmt"), Component("pabfd")), mode)
    compiled = decide(inputs, policy)
    monkeypatch.setattr(decide_module, "compiled_round", lambda _policy: False)
    reference = decide(inputs, policy)
    assert compiled.overloaded[0] and (compiled.sources == 0).sum() >= 3
    for field in ("vms", "sources", "targets", "groups"):
        np.testing.assert_array_equal(getattr(compiled, field), getattr(reference, field), err_msg=field)


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
@pytest.mark.parametrize("detector", ["thr", "lr", "hysteresis"])
def test_efficiency_pricing_decides_as_the_numpy_round(
    detector: str, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PABFD waking the most efficient switched-off host: the compiled search as the NumPy placer."""
    placer = Component("pabfd", {"empty_host_cost": "efficiency", "cpu_threshold": 0.9})
    policy = build_policy(custom_spec(Component(detector, PARAMS.get(detector, {})), Component("mm"), placer), mode)
    assert policy.kernels is not None
    assert_paths_agree(policy, monkeypatch)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize(("name", "mode"), [("lr-mmt-1.2", CLOUDSIM), ("thr-mmt-0.8", NEAT), ("recommended", NEAT)])
def test_a_budget_stops_the_round_early_and_plans_the_same(
    name: str, mode: Mode, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decide(budget=B) stops the underload pass once the plan's B migrations are decided: planned
    with B, it gives the plan of the whole round, and it decides fewer moves when B binds."""
    policy = named_policy(name, mode)
    if not compiled:
        monkeypatch.setattr(decide_module, "compiled_round", lambda _policy: False)
    decided_whole = decided_cut = 0
    for seed in range(6):
        inputs = random_round(seed)
        whole = decide(inputs, policy)
        for budget in (1, 2, 3, 5, 8, 13, 40):
            limits = Limits(max_migrations_per_cycle=budget)
            cut = decide(inputs, policy, budget=budget)
            expected, got = plan(whole, inputs, limits), plan(cut, inputs, limits)
            for field in ("vms", "sources", "targets", "groups"):
                np.testing.assert_array_equal(
                    getattr(got, field), getattr(expected, field), err_msg=f"seed {seed}, budget {budget}: {field}"
                )
            np.testing.assert_array_equal(cut.overloaded, whole.overloaded)
            decided_whole += whole.n_moves
            decided_cut += cut.n_moves
    assert decided_cut < decided_whole  # the budget did stop rounds early: the comparison is not vacuous

"""Whole-run properties of the simulator on a small seeded data center."""

import dataclasses
from typing import Any

import numpy as np
import pytest

from algorithms.base import HostTable
from algorithms.overload.thr import ThresholdOverload
from algorithms.power import linear_power_table
from neat.decision.decide import decide
from neat.decision.inputs import DecisionInputs
from neat.decision.migration import PRECOPY_MIGRATION, migration_time_s
from neat.decision.mode import CLOUDSIM, NEAT
from neat.decision.policy import named_policy
from neat.scenario import FREE_COSTS, REAL_COSTS, cloudsim_standard
from neat.simulation.engine import DECISION_OFFSET_S, Simulation
from neat.traces import synthetic_planetlab_like


@pytest.fixture(scope="module")
def small():
    base = cloudsim_standard()
    hosts = tuple(dataclasses.replace(t, count=20) for t in base.host_types)
    scenario = dataclasses.replace(base, host_types=hosts)
    traces = synthetic_planetlab_like(n_vms=50, n_steps=60, seed=3)
    return scenario, traces


def run(small, name, mode=CLOUDSIM, seed=0):
    scenario, traces = small
    return Simulation(traces, scenario, named_policy(name, mode), seed=seed).run()


def test_npa_draws_full_power_on_every_host_for_the_whole_run(small):
    """40 hosts: 20 x 117 W + 20 x 135 W = 5040 W from 0 to the last update (59 * 300 + 0.1 s)."""
    result = run(small, "npa")
    assert result.energy_kwh == pytest.approx(5040.0 * (59 * 300 + 0.1) / 3.6e6)
    assert result.migrations == 0
    # its series say the same: every host on, at full power, every round
    assert (result.series["active_hosts"] == 40).all()
    assert result.series["power_w"] == pytest.approx(np.full(result.series["power_w"].shape, 5040.0))


def test_dvfs_never_migrates_and_costs_less_than_npa(small):
    dvfs, npa = run(small, "dvfs"), run(small, "npa")
    assert dvfs.migrations == 0
    assert 0 < dvfs.energy_kwh < npa.energy_kwh


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
@pytest.mark.parametrize("name", ["thr-mmt-0.8", "mad-mmt-2.5", "iqr-mu-1.5", "lr-mc-1.2", "lrr-rs-1.2"])
def test_dynamic_policies_consolidate_and_stay_above_the_bound(small, name, mode):
    result = run(small, name, mode)
    dvfs = run(small, "dvfs", mode)
    assert result.migrations > 0
    assert result.energy_kwh < dvfs.energy_kwh
    assert result.energy_kwh > result.energy_lower_bound_kwh
    assert 0.0 <= result.slatah <= 1.0
    assert 0.0 <= result.pdm <= 0.1


def test_runs_are_deterministic_for_a_seed(small):
    a, b = run(small, "thr-rs-0.8", seed=5), run(small, "thr-rs-0.8", seed=5)
    assert a.summary() | {"wall_time_s": 0, "phase_times_s": 0} == b.summary() | {"wall_time_s": 0, "phase_times_s": 0}
    for key in a.series:
        np.testing.assert_array_equal(a.series[key], b.series[key])


def test_series_have_one_entry_per_round(small):
    result = run(small, "lr-mmt-1.2")
    steps = small[1].n_steps - 1
    for key, values in result.series.items():
        assert values.shape == (steps,), key
    assert result.series["migrations"].sum() == result.migrations
    assert (result.series["active_hosts"] >= result.series["lower_bound_hosts"]).all()


#: The migration horizons (steps per host) a :class:`Recording` detector was judged with, per call.
SEEN_STEPS: list[np.ndarray] = []


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recording(ThresholdOverload):
    """THR that records the migration horizon of every call (it overrides evaluate: no kernel)."""

    def evaluate(self, utilization, n_valid, migration_time_steps, state):  # type: ignore[no-untyped-def]
        SEEN_STEPS.append(np.array(migration_time_steps, dtype=np.float64))
        return super().evaluate(utilization, n_valid, migration_time_steps, state)


def recording(name: str, mode: Any) -> Any:
    SEEN_STEPS.clear()
    policy = dataclasses.replace(named_policy(name, mode), detector=Recording(threshold=0.8))
    assert policy.kernels is None  # the round judges through evaluate
    return policy


@pytest.mark.parametrize(
    ("mode", "expected"), [(CLOUDSIM, [2.0, 1.0, 0.0]), (NEAT, [2.0, 0.3, 0.0])], ids=["cloudsim", "neat"]
)
def test_a_hosts_migration_horizon_is_its_longest_vms(mode, expected):
    """Hosts 0 (VMs migrating in 30 s and 600 s), 1 (90 s) and 2 (empty), 300 s rounds: the
    horizon is the longest migration in steps (CloudSim: rounded up), 0 for the empty host."""
    inputs = DecisionInputs(
        hosts=HostTable(
            cpu_mips=np.full(3, 2000.0),
            pe_mips=np.full(3, 1000.0),
            ram_mb=np.full(3, 4096.0),
            power_w=np.tile(linear_power_table(100.0, 200.0), (3, 1)),
        ),
        vm_host=np.array([0, 0, 1], dtype=np.intp),
        vm_mips=np.full(3, 1000.0),
        vm_ram_mb=np.full(3, 512.0),
        vm_history=np.full((3, 30), 0.2),
        vm_n_valid=np.full(3, 30, dtype=np.intp),
        vm_migration_time_s=np.array([30.0, 600.0, 90.0]),
        interval_s=300.0,
    )
    decide(inputs, recording("thr-mmt-0.8", mode))
    np.testing.assert_array_equal(SEEN_STEPS[0], expected)


@pytest.mark.parametrize("costs", ["free", "real"])
def test_the_engine_judges_hosts_with_their_longest_vm_migration(small, costs):
    """First round, neat mode: each host's horizon is the longest migration of the VMs created on
    it, in steps, 0 on the hosts left empty: RAM / (bandwidth / 2) with free costs; with real
    costs, the pre-copy model's duration at each VM's utilization of the round."""
    scenario, traces = small
    scenario = dataclasses.replace(scenario, costs=FREE_COSTS if costs == "free" else REAL_COSTS)
    sim = Simulation(traces, scenario, recording("thr-mmt-0.8", NEAT))
    placed = sim.initial_placement()
    at_creation = len(SEEN_STEPS)  # the creation's guard checks come first in a run
    SEEN_STEPS.clear()
    if costs == "free":
        seconds = migration_time_s(sim.vm_ram_mb, sim.host_bandwidth_mbit_s[placed])
    else:
        busy = sim.utilization_at(sim.interval_s + DECISION_OFFSET_S)
        seconds = PRECOPY_MIGRATION.duration_s(sim.vm_ram_mb, sim.host_bandwidth_mbit_s[placed], busy)
    steps = seconds / sim.interval_s
    expected = np.zeros(sim.n_hosts)
    np.maximum.at(expected, placed, steps)
    sim.run()
    np.testing.assert_array_equal(SEEN_STEPS[at_creation], expected)
    assert (expected == 0).any() and (expected > 0).any()

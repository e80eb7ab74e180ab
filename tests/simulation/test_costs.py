"""Real costs: the pre-copy migration model, host power states in the simulated compute, their energy,
and the simulator with them on and off; the simulated compute's RAM check."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neat.decision import CLOUDSIM, NEAT, named_policy
from neat.decision.migration import CLOUDSIM_MIGRATION, PRECOPY_MIGRATION, MigrationModel, migration_time_s
from neat.execution.executor import SchedulerRejected
from neat.scenario import FREE_COSTS, REAL_COSTS, ScenarioError, cloudsim_standard, costs_from_table, load_scenario
from neat.simulation.accounting import Accounting
from neat.simulation.allocation import allocate_numpy
from neat.simulation.compute import ASLEEP, ON, RESUMING, SUSPENDING, SimulatedCompute
from neat.simulation.engine import Simulation
from neat.traces import synthetic_planetlab_like
from tests.scenarios import SCENARIO_TOML


def test_cloudsims_model_is_one_copy_over_half_the_link() -> None:
    """870 MB over 1 Gbit/s: 870 x 8 x 2 / 1000 = 13.92 s, whatever the load; no energy of its own."""
    seconds, moved = CLOUDSIM_MIGRATION.transfer(np.array([870.0, 1740.0]), 1000.0, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(seconds, migration_time_s(np.array([870.0, 1740.0]), 1000.0))
    assert seconds.tolist() == [13.92, 27.84]
    assert moved.tolist() == [870.0, 1740.0]
    assert CLOUDSIM_MIGRATION.energy_of(870.0) == 0.0


def test_precopy_rounds_by_hand() -> None:
    """1000 MB over 800 Mbit/s (half: 50 MB/s), dirtying 20 MB/s at 100 %: ratio 0.4, and 0.3 s of
    pause copies 15 MB. Rounds: 1000, 400, 160, 64, 25.6, then 10.24 (under 15: the last).
    Moved 1659.84 MB in 33.1968 s; energy 1659.84 x 0.512 + 20.165 J."""
    model = MigrationModel(dirty_rate_mb_s=20.0, energy_j_per_mb=0.512, energy_j=20.165)
    seconds, moved = model.transfer(1000.0, 800.0, 1.0)
    assert float(moved) == pytest.approx(1659.84)
    assert float(seconds) == pytest.approx(33.1968)
    assert model.transfer_one(1000.0, 800.0, 1.0) == (pytest.approx(33.1968), pytest.approx(1659.84))
    assert float(model.energy_of(moved)) == pytest.approx(1659.84 * 0.512 + 20.165)
    idle_seconds, idle_moved = model.transfer(1000.0, 800.0, 0.0)  # nothing dirtied: one copy
    assert (float(idle_seconds), float(idle_moved)) == (20.0, 1000.0)


def test_a_vm_dirtying_faster_than_the_link_stops_after_the_round_limit() -> None:
    model = MigrationModel(dirty_rate_mb_s=100.0, max_rounds=5)
    _, moved = model.transfer(500.0, 800.0, 1.0)  # ratio 2: every round copies the whole RAM again
    assert float(moved) == 6 * 500.0


class Clock:
    """A Timeline that only records the instants before changes."""

    def __init__(self) -> None:
        self.changes: list[float] = []

    def before_change(self, time_s: float) -> None:
        self.changes.append(time_s)

    def after_completions(self, time_s: float, in_flight: np.ndarray) -> None:
        pass

    def tick(self, time_s: float) -> None:
        pass

    def next_tick_after(self, time_s: float) -> float:
        return math.inf


def power_compute() -> SimulatedCompute:
    return SimulatedCompute(
        np.array([0, 0], dtype=np.intp),
        np.array([512.0, 512.0]),
        None,
        np.array([1000.0, 1000.0, 1000.0]),
        Clock(),
        power_states=True,
        suspend_s=5.0,
        resume_s=15.0,
    )


def test_a_disabled_host_suspends_and_a_woken_one_is_usable_only_once_up() -> None:
    compute = power_compute()
    compute.disable_host(2, "emptied")
    assert compute.power_state[2] == SUSPENDING and not compute.host_usable(2)
    compute.advance_to(5.0)
    assert compute.power_state[2] == ASLEEP
    compute.enable_host(2)  # returns once the host is up: the clock moved by the resume
    assert compute.clock_s == 20.0
    assert compute.power_state[2] == ON and compute.host_usable(2)
    assert (compute.suspends, compute.wakes) == (1, 1)


def test_waking_a_host_that_is_still_suspending_waits_for_the_suspend() -> None:
    compute = power_compute()
    compute.disable_host(1, "emptied")
    compute.advance_to(2.0)
    compute.enable_host(1)
    assert compute.clock_s == 5.0 + 15.0
    assert compute.power_state[1] == ON


def test_power_state_energy_by_hand() -> None:
    """Three hosts of a linear 100..200 W table over 10 s: host 0 on at 50 % (150 W), host 1 on
    without load (its idle 100 W), host 2 asleep (5 % of 200 W = 10 W): 2600 J; with host 2 in a
    transition instead, at its peak 200 W: 4500 J, 2000 J of it transition energy."""
    table = np.tile(np.linspace(100.0, 200.0, 11), (3, 1))
    accounting = Accounting(3, 1, table, sleep_fraction=0.05)
    state = allocate_numpy(
        np.array([1000.0]),
        np.array([0], dtype=np.intp),
        np.full(3, 2000.0),
        np.full(3, 1000.0),
        np.zeros(0, dtype=np.intp),
        np.zeros(0, dtype=np.intp),
    )
    energy = accounting.interval(state, state, 10.0, np.array([ON, ON, ASLEEP], dtype=np.int8))
    assert energy == pytest.approx(2600.0)
    energy = accounting.interval(state, state, 10.0, np.array([ON, ON, RESUMING], dtype=np.int8))
    assert energy == pytest.approx(4500.0)
    assert accounting.transition_energy_j == pytest.approx(2000.0)
    free = Accounting(3, 1, table)  # CloudSim's hosts: only the host with load draws
    assert free.interval(state, state, 10.0) == pytest.approx(1500.0)


@pytest.fixture(scope="module")
def small() -> tuple[object, object]:
    base = cloudsim_standard()
    hosts = tuple(dataclasses.replace(t, count=20, ram_mb=1024.0 * 1024) for t in base.host_types)
    return dataclasses.replace(base, host_types=hosts), synthetic_planetlab_like(n_vms=50, n_steps=60, seed=3)


def test_real_costs_are_paid_and_reported(small) -> None:  # type: ignore[no-untyped-def]
    scenario, traces = small
    real = Simulation(traces, dataclasses.replace(scenario, costs=REAL_COSTS), named_policy("lr-mmt-1.2", NEAT)).run()
    free = Simulation(traces, dataclasses.replace(scenario, costs=FREE_COSTS), named_policy("lr-mmt-1.2", NEAT)).run()
    assert (real.costs, free.costs) == ("real", "free")
    assert real.migration_energy_kwh > 0 and real.transition_energy_kwh > 0
    assert real.host_suspends > 0
    assert (free.migration_energy_kwh, free.transition_energy_kwh, free.host_suspends, free.host_wakes) == (0, 0, 0, 0)
    summary = real.summary()
    for key in ("host_wakes", "host_suspends", "transition_energy_kwh", "migration_energy_kwh", "costs"):
        assert key in summary
    assert real.energy_kwh > real.energy_lower_bound_kwh > 0


def test_cloudsim_mode_keeps_free_costs_whatever_the_scenario_says(small) -> None:  # type: ignore[no-untyped-def]
    scenario, traces = small
    policy = named_policy("thr-mmt-0.8", CLOUDSIM)
    with_real = Simulation(traces, dataclasses.replace(scenario, costs=REAL_COSTS), policy).run()
    with_free = Simulation(traces, dataclasses.replace(scenario, costs=FREE_COSTS), policy).run()
    assert with_real.summary() | {"wall_time_s": 0, "phase_times_s": 0} == with_free.summary() | {
        "wall_time_s": 0,
        "phase_times_s": 0,
    }


def test_a_costs_table_starts_from_a_model_and_overrides_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    costs = costs_from_table({"model": "free", "resume_s": 30}, where="t: [costs]")
    assert costs.migration == CLOUDSIM_MIGRATION and costs.resume_s == 30.0 and not costs.power_states
    real = costs_from_table({"dirty_rate_mb_s": 5}, where="t: [costs]")
    assert real.power_states and real.migration == dataclasses.replace(PRECOPY_MIGRATION, dirty_rate_mb_s=5.0)
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO_TOML + '\n[costs]\nmodel = "free"\n')
    assert load_scenario(path).costs == FREE_COSTS
    path.write_text(SCENARIO_TOML + "\n[costs]\nresume_seconds = 3\n")
    with pytest.raises(
        ScenarioError, match=r"\[costs\] has an unknown key 'resume_seconds' \(did you mean 'resume_s'\?\)"
    ):
        load_scenario(path)


def test_the_ram_check_counts_the_vms_placed_migrating_in_and_destroyed() -> None:
    """Host 2 (3100 MB) takes VMs 0 and 2 (512 + 2048 MB); VM 1 (1024 MB) fits only once VM 0 is gone."""
    compute = SimulatedCompute(
        np.array([0, 0, 1], dtype=np.intp),
        np.array([512.0, 1024.0, 2048.0]),
        np.array([4096.0, 4096.0, 3100.0]),
        np.array([1000.0, 1000.0, 1000.0]),
        Clock(),
    )
    compute.live_migrate(0, 2)
    compute.live_migrate(2, 2)
    with pytest.raises(SchedulerRejected, match="has not the RAM for VM 1"):
        compute.live_migrate(1, 2)  # the RAM still migrating in counts
    compute.wait_migration(0, math.inf)
    compute.wait_migration(2, math.inf)
    assert [compute.servers_on(h) for h in range(3)] == [[1], [], [0, 2]]
    with pytest.raises(SchedulerRejected, match="has not the RAM for VM 1"):
        compute.live_migrate(1, 2)
    compute.destroy(np.array([True, False, False]))
    assert [compute.servers_on(h) for h in range(3)] == [[1], [], [2]]
    compute.live_migrate(1, 2)
    compute.wait_migration(1, math.inf)
    assert compute.servers_on(2) == [1, 2] and compute.servers_on(0) == []

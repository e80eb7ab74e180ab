"""Whole-run properties of the simulator on a small seeded data center."""

import dataclasses

import numpy as np
import pytest

from neat.scenario import cloudsim_standard
from neat.simulation.engine import Simulation
from neat.simulation.modes import CLOUDSIM, NEAT
from neat.simulation.policies import parse_policy
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
    return Simulation(traces, scenario, parse_policy(name, mode), mode, seed=seed).run()


def test_npa_draws_full_power_on_every_host_for_the_whole_run(small):
    """40 hosts: 20 x 117 W + 20 x 135 W = 5040 W from 0 to the last update (59 * 300 + 0.1 s)."""
    result = run(small, "npa")
    assert result.energy_kwh == pytest.approx(5040.0 * (59 * 300 + 0.1) / 3.6e6)
    assert result.migrations == 0


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

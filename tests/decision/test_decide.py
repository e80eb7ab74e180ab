"""The decision core on hand-built rounds, and the simulator running it under the service's limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algorithms.base import HostTable
from algorithms.power import linear_power_table
from neat.decision import (
    CLOUDSIM,
    NEAT,
    OVERLOAD_RELIEF,
    Component,
    DecisionInputs,
    Limits,
    build_policy,
    custom_spec,
    decide,
    named_policy,
)
from neat.scenario import load_scenario
from neat.simulation import engine
from neat.simulation.engine import Simulation
from neat.traces import synthetic_planetlab_like
from tests.scenarios import SCENARIO_TOML

WINDOW = 30


def hosts(n: int, *, cores: int = 2, core_mips: float = 1000.0, ram_mb: float = 4096.0) -> HostTable:
    return HostTable(
        cpu_mips=np.full(n, cores * core_mips),
        pe_mips=np.full(n, core_mips),
        ram_mb=np.full(n, ram_mb),
        power_w=np.tile(linear_power_table(100.0, 200.0), (n, 1)),
    )


def round_inputs(vm_host: list[int], history: np.ndarray, n_valid: list[int], **kw: Any) -> DecisionInputs:
    """One round on hosts of 2 x 1000 MIPS, VMs of 1000 MIPS and 512 MB."""
    n_vms = len(vm_host)
    return DecisionInputs(
        hosts=kw.pop("hosts", hosts(max(vm_host) + 2)),
        vm_host=np.array(vm_host, dtype=np.intp),
        vm_mips=np.full(n_vms, 1000.0),
        vm_ram_mb=np.full(n_vms, 512.0),
        vm_history=history,
        vm_n_valid=np.array(n_valid, dtype=np.intp),
        vm_migration_time_s=np.full(n_vms, 8.192),
        interval_s=300.0,
        **kw,
    )


def flat(values: list[float]) -> np.ndarray:
    """Histories (n, WINDOW) holding ``values`` (one per VM) at every step."""
    return np.tile(np.array(values)[:, None], (1, WINDOW))


def test_a_vm_whose_samples_include_real_zeros_is_judged_on_them() -> None:
    """29 samples of 0 % then 90 %: neat counts 30 samples (MAD 0, threshold 1.0: not overloaded);
    CloudSim drops the oldest zeros, sees one sample and falls back to the static 0.7 threshold."""
    history = np.zeros((1, WINDOW))
    history[0, -1] = 0.9
    host = HostTable(
        cpu_mips=np.array([1000.0, 1000.0]),
        pe_mips=np.array([1000.0, 1000.0]),
        ram_mb=np.array([4096.0, 4096.0]),
        power_w=np.tile(linear_power_table(100.0, 200.0), (2, 1)),
    )
    inputs = round_inputs([0], history, [WINDOW], hosts=host)
    judged = {mode.name: decide(inputs, named_policy("mad-mmt-2.5", mode)).overloaded[0] for mode in (NEAT, CLOUDSIM)}
    assert judged == {"neat": False, "cloudsim": True}
    # a padding of NaN is not a sample: with 1 valid value neat falls back as CloudSim does
    padded = np.full((1, WINDOW), np.nan)
    padded[0, -1] = 0.9
    assert decide(round_inputs([0], padded, [1], hosts=host), named_policy("mad-mmt-2.5", NEAT)).overloaded[0]


def test_moves_say_why_they_are_made() -> None:
    """Host 0 (2 VMs at 90 %) is overloaded under THR 0.8: one VM leaves (relief). Hosts 1 and 2 hold
    one VM at 10 % each: the least utilized is emptied as one group."""
    inputs = round_inputs([0, 0, 1, 2], flat([0.9, 0.9, 0.1, 0.12]), [WINDOW] * 4, hosts=hosts(4))
    decision = decide(inputs, named_policy("thr-mmt-0.8", NEAT))
    assert decision.overloaded.tolist() == [True, False, False, False]
    relief = decision.groups == OVERLOAD_RELIEF
    assert decision.sources[relief].tolist() == [0]
    assert set(decision.groups[~relief].tolist()) <= {1, 2}
    assert (decision.sources[~relief] == decision.groups[~relief]).all()


def test_threshold_underload_empties_only_hosts_at_or_below_it() -> None:
    """Hosts at 20 %, 50 % and 25 % (one 1000-MIPS VM on 2 x 1000 MIPS); threshold 0.3: the 20 %
    host is emptied first, then the 25 % one, both onto the 50 % host, which is never a source."""
    inputs = round_inputs([0, 1, 2], flat([0.4, 1.0, 0.5]), [WINDOW] * 3, hosts=hosts(4))
    spec = custom_spec(
        Component("thr", {"threshold": 0.95}),
        Component("mmt"),
        Component("pabfd"),
        Component("threshold", {"threshold": 0.3}),
    )
    decision = decide(inputs, build_policy(spec, NEAT))
    assert decision.underloaded.tolist() == [True, False, True, False]
    assert decision.groups.tolist() == [0, 2]
    assert decision.targets.tolist() == [1, 1]


def test_masks_keep_excluded_vms_and_hosts_out_of_the_decision() -> None:
    """Same overload as above; the first VM may not move, so the second leaves; host 3 may not
    receive, so every target is elsewhere; host 2 may not lose VMs, so it is not emptied."""
    inputs = round_inputs(
        [0, 0, 1, 2],
        flat([0.9, 0.9, 0.1, 0.12]),
        [WINDOW] * 4,
        hosts=hosts(4),
        vm_movable=np.array([False, True, True, True]),
        host_source_allowed=np.array([True, True, False, True]),
        host_target_allowed=np.array([True, True, True, False]),
    )
    decision = decide(inputs, named_policy("thr-mmt-0.8", NEAT))
    assert 0 not in decision.vms.tolist()
    assert 1 in decision.vms.tolist()
    assert 3 not in decision.targets.tolist()
    assert 2 not in decision.sources.tolist()


def test_measured_host_utilization_counts_the_hypervisors_share() -> None:
    """VMs at 35 % + 35 % of a 2-core host make 0.7; the host measures 0.85 (its own overhead):
    THR 0.8 judges the measured history, and the overhead stays with the host."""
    inputs = round_inputs([0, 0], flat([0.7, 0.7]), [WINDOW] * 2, hosts=hosts(3))
    policy = named_policy("thr-mmt-0.8", NEAT)
    assert not decide(inputs, policy).overloaded[0]
    measured = np.full((3, WINDOW), np.nan)
    measured[0] = 0.85
    with_host = round_inputs(
        [0, 0], flat([0.7, 0.7]), [WINDOW] * 2, hosts=hosts(3), host_history=measured, host_n_valid=np.array([30, 0, 0])
    )
    decision = decide(with_host, policy)
    assert decision.overloaded[0]
    assert decision.vms.size == 1  # one VM off leaves 0.35 + 0.15 overhead = 0.5


def test_the_mode_reaches_policies_built_from_parts() -> None:
    """``--mode cloudsim --overload lrr:...``: CloudSim's unweighted regression, unless asked otherwise."""
    parts = (Component("lrr", {"safety": 1.2}), Component("mmt"), Component("pabfd"))
    assert build_policy(custom_spec(*parts), CLOUDSIM).detector.weighting == "none"  # type: ignore[attr-defined]
    assert build_policy(custom_spec(*parts), NEAT).detector.weighting == "tricube"  # type: ignore[attr-defined]
    explicit = (Component("lrr", {"safety": 1.2, "weighting": "tricube"}), parts[1], parts[2])
    assert build_policy(custom_spec(*explicit), CLOUDSIM).detector.weighting == "tricube"  # type: ignore[attr-defined]
    assert build_policy(custom_spec(*parts), CLOUDSIM).placer.empty_host_cost == "idle_excluded"  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def limited_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "limited.toml"
    path.write_text(SCENARIO_TOML + "\n[limits]\nmax_migrations_per_cycle = 20\n")
    return path


def run_recording(scenario: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[tuple[Any, Any]]]:
    """Run thr-mmt-0.5 in CloudSim mode on 20 hosts; record every (decision, plan) of the run."""
    recorded: list[tuple[Any, Any]] = []
    original = engine.plan

    def recording_plan(decision: Any, inputs: Any, limits: Any, **kw: Any) -> Any:
        planned = original(decision, inputs, limits, **kw)
        recorded.append((decision, planned))
        return planned

    monkeypatch.setattr(engine, "plan", recording_plan)
    traces = synthetic_planetlab_like(n_vms=60, n_steps=48, seed=4)
    result = Simulation(traces, scenario, named_policy("thr-mmt-0.5", CLOUDSIM)).run()
    return result, recorded


def test_the_simulator_keeps_the_services_migration_budget(
    limited_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(limited_scenario)
    assert scenario.limits == Limits(max_migrations_per_cycle=20)
    unlimited, _ = run_recording(scenario.__class__(**{**scenario.__dict__, "limits": Limits()}), monkeypatch)
    assert unlimited.series["migrations"].max() > 20  # the budget binds on this workload
    limited, recorded = run_recording(scenario, monkeypatch)
    assert limited.series["migrations"].max() <= 20
    assert limited.migrations < unlimited.migrations
    evacuations_seen = 0
    for decision, planned in recorded:
        assert planned.n_migrations <= 20
        for group in np.unique(decision.groups[decision.groups != OVERLOAD_RELIEF]):
            decided = int((decision.groups == group).sum())
            kept = int((planned.groups == group).sum())
            assert kept in (0, decided), f"evacuation of host {group}: {kept} of {decided} moves kept"
            evacuations_seen += kept > 0
    assert evacuations_seen > 0

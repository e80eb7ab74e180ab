"""What ``neat simulate`` decides is what the global manager decides on the same cloud.

The simulator runs a few rounds; at the last, its decision inputs and decision are recorded. A fake
Nova then shows the same hosts and servers where the simulator had them, and the database holds the
same VM samples; the global manager reads them (:meth:`neat.service.global_manager.GlobalManager.read`)
and decides. Both must read the same inputs and decide the same moves. Every VM has its own RAM
size, so no tie between VMs depends on the order of a host's VM list (which Nova does not show).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from algorithms.power import linear_power_table
from neat.config import HostProfile, ServiceConfig
from neat.db import migrate
from neat.db.store import Store
from neat.decision import NEAT, Limits, decide, parse_policy
from neat.decision.policy import named_policy
from neat.openstack.records import ComputeHost, Server, ServerGroup
from neat.scenario import FREE_COSTS, HostType, Scenario, VmType
from neat.service.global_manager import GlobalManager
from neat.simulation import engine
from neat.simulation.engine import Simulation
from neat.traces import TraceSet

N_HOSTS, N_VMS, ROUNDS = 6, 10, 12


def scenario() -> Scenario:
    return Scenario(
        name="six-hosts",
        host_types=(HostType("h", N_HOSTS, 2, 1000.0, 8192.0, linear_power_table(100.0, 200.0), 1000.0),),
        vm_types=tuple(VmType(f"v{i}", 1000.0, 512.0 + 64.0 * i) for i in range(N_VMS)),
        vm_assignment="round_robin",
        costs=FREE_COSTS,  # the service estimates a migration as one copy of the RAM, as these costs do
    )


class FakeNova:
    """Hosts host-0 .. host-5 (2 vCPUs, 8 GB, all enabled and up) and servers where the simulator has them."""

    def __init__(self, placement: dict[str, str], ram_mb: dict[str, int]) -> None:
        self.placement, self.ram_mb = placement, ram_mb

    def hosts(self) -> list[ComputeHost]:
        return [
            ComputeHost(
                name=f"host-{i}",
                service_id=str(i),
                service_status="enabled",
                service_state="up",
                vcpus=2,
                memory_mb=8192,
            )
            for i in range(N_HOSTS)
        ]

    def servers(self, host: str | None = None) -> list[Server]:
        return [
            Server(id=s, name=s, host=h, status="ACTIVE", vcpus=1, ram_mb=self.ram_mb[s])
            for s, h in sorted(self.placement.items())
            if host is None or h == host
        ]

    def server_groups(self) -> list[ServerGroup]:
        return []

    def aggregates(self) -> dict[str, tuple[str, ...]]:
        return {}


def test_the_simulator_and_the_global_manager_decide_alike(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    names = tuple(f"vm-{i:02d}" for i in range(N_VMS))
    rng = np.random.default_rng(3)
    percents = np.clip(rng.integers(5, 95, (N_VMS, 1)) + rng.integers(-30, 30, (N_VMS, ROUNDS + 1)), 0, 99)
    traces = TraceSet(percents / 100.0, names, 300, "seeded")
    recorded: list[tuple[Any, Any]] = []
    original = engine.decide

    def recording(inputs: Any, policy: Any, state: Any = None, **kw: Any) -> Any:
        decision = original(inputs, policy, state, **kw)
        frozen = dataclasses.replace(inputs, vm_host=inputs.vm_host.copy(), vm_history=inputs.vm_history.copy())
        recorded.append((frozen, decision))
        return decision

    monkeypatch.setattr(engine, "decide", recording)
    policy = named_policy("thr-mmt-0.8", NEAT)
    Simulation(traces, scenario(), policy).run()
    rounds = [(i, d) for i, d in recorded if int(i.vm_n_valid[0]) >= 2]
    assert sum(d.n_moves for _, d in rounds) >= 5  # relief and evacuations to compare
    for k, (sim_inputs, sim_decision) in enumerate(rounds):
        service_inputs, service_decision = service_round(sim_inputs, names, tmp_path / f"round{k}.db")
        for field in ("vm_host", "vm_mips", "vm_ram_mb", "vm_n_valid", "vm_migration_time_s"):
            np.testing.assert_array_equal(getattr(service_inputs, field), getattr(sim_inputs, field), err_msg=field)
        n_valid = int(sim_inputs.vm_n_valid[0])
        valid = np.arange(sim_inputs.window) >= sim_inputs.window - n_valid
        np.testing.assert_array_equal(service_inputs.vm_history[:, valid], sim_inputs.vm_history[:, valid])
        for field in ("cpu_mips", "pe_mips", "ram_mb", "power_w"):
            np.testing.assert_array_equal(getattr(service_inputs.hosts, field), getattr(sim_inputs.hosts, field))
        for field in ("vms", "sources", "targets", "groups", "overloaded", "underloaded"):
            np.testing.assert_array_equal(
                getattr(service_decision, field), getattr(sim_decision, field), err_msg=f"round {k}: {field}"
            )


def service_round(sim_inputs: Any, names: tuple[str, ...], db: Any) -> tuple[Any, Any]:
    """The global manager's inputs and decision on the cloud and samples of a simulator round."""
    placement = {names[v]: f"host-{h}" for v, h in enumerate(sim_inputs.vm_host.tolist())}
    nova = FakeNova(placement, {names[v]: int(sim_inputs.vm_ram_mb[v]) for v in range(N_VMS)})
    url = f"sqlite:///{db}"
    migrate.upgrade(url)
    store = Store.from_url(url)
    config = ServiceConfig(
        database_url=url,
        policy_spec=parse_policy("thr-mmt-0.8"),
        limits=Limits(max_migrations_per_cycle=1000),
        profiles=(HostProfile(core_mips=1000.0, power_w=linear_power_table(100.0, 200.0), link_mbit_s=1000.0),),
    )
    manager = GlobalManager(config, store, nova, compute=None)  # type: ignore[arg-type]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    manager._sync_inventory(nova.hosts(), nova.servers(), None, now)
    n_valid = int(sim_inputs.vm_n_valid[0])
    for k in range(n_valid):
        at = now - timedelta(seconds=300 * (n_valid - 1 - k))
        column = sim_inputs.vm_history[:, sim_inputs.window - n_valid + k]
        # the hosts report what they run now (the simulated hosts: their allocated CPU)
        reported = (
            {f"host-{h}": float(u) for h, u in enumerate(sim_inputs.host_utilization)} if k == n_valid - 1 else {}
        )
        store.record_samples(at, hosts=reported, vms={names[v]: float(column[v]) for v in range(N_VMS)})
    view = manager.read(nova.hosts(), nova.servers(), now)
    assert [s.id for s in view.servers] == list(names)
    decision = decide(view.inputs, manager.policy)
    store.close()
    return view.inputs, decision

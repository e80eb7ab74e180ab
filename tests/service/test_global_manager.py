"""One global-manager cycle end to end on a SQLite store, with the cloud faked.

(The same cycle against a real Nova is in tests/integration.)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from algorithms.power import linear_power_table
from neat.config import DEFAULT_POWER_W, ServiceConfig, load_config
from neat.decision.inputs import OVERLOAD_RELIEF
from neat.decision.limits import SERVICE_DEFAULTS
from neat.decision.policy import parse_policy
from neat.local_manager.loop import HostSample, VmSample
from neat.local_manager.sinks import StoreSink
from neat.openstack.records import ServerGroup
from neat.service.global_manager import GlobalManager
from tests.service.fakes import FakeNova

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def feed(store, utilization: dict[str, float], steps: int = 5, hosts: dict[str, float] | None = None) -> None:
    """``steps`` rounds of samples, 5 minutes apart, the last 5 minutes before NOW."""
    for k in range(steps):
        store.record_samples(NOW - timedelta(minutes=5 * (steps - k)), vms=utilization, hosts=hosts)


def service_config(**limits) -> ServiceConfig:
    return ServiceConfig(policy_spec=parse_policy("thr-mmt-0.8"), limits=replace(SERVICE_DEFAULTS, **limits))


def manager(store, nova, config: ServiceConfig | None = None, **limits) -> GlobalManager:
    return GlobalManager(config or service_config(**limits), store, nova, nova)


def six_vms_on_three_hosts():
    return {"vm1": "c1", "vm2": "c1", "vm3": "c2", "vm4": "c2", "vm5": "c3", "vm6": "c3"}


def view_of(gm: GlobalManager, nova: FakeNova, at: datetime = NOW):
    """What a cycle at ``at`` reads (a cycle must have synced the inventory into the store)."""
    hosts = list(nova.hosts())
    return gm.read(hosts, list(nova.servers()), at, nova.aggregates() if gm.config.uses_aggregates else None)


def write_config(tmp_path: Path, text: str) -> ServiceConfig:
    path = tmp_path / "neat.toml"
    path.write_text(text)
    return load_config(path)


# -- a cycle --------------------------------------------------------------------------------------
def test_a_cycle_consolidates_low_load_onto_fewer_hosts_and_disables_the_emptied(store):
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)  # syncs the inventory so the samples have somewhere to go
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan is not None
    used = set(nova.placement.values())
    assert len(used) < 3
    disabled = {a.host for a in result.plan.actions if a.kind == "disable" and a.status == "succeeded"}
    assert disabled == {"c1", "c2", "c3"} - used
    assert disabled <= nova.disabled
    assert all(a.status == "succeeded" for a in result.plan.actions)
    assert all(a.started_at is not None and a.finished_at is not None for a in result.plan.actions)
    assert [o.status for o in result.outcomes] == ["completed"] * len(result.plan.actions)


def test_dry_run_stores_a_plan_and_changes_nothing(store):
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    before = dict(nova.placement)
    result = gm.cycle(dry_run=True, now=NOW + timedelta(minutes=1))
    assert nova.placement == before and not nova.disabled
    assert result.plan is not None and result.plan.actions
    assert all(a.status == "pending" for a in store.plan(result.plan.id).actions)
    assert not [c for c in nova.calls if c[0] in ("migrate", "disable", "enable")]


def test_a_rejected_migration_is_recorded_and_the_source_stays_enabled(store):
    nova = FakeNova(six_vms_on_three_hosts(), script={f"vm{i}": "reject" for i in range(1, 7)})
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan is not None
    migrations = [a for a in result.plan.actions if a.kind == "migrate"]
    assert migrations and all(a.status == "failed" and "rejected" in (a.error or "") for a in migrations)
    assert nova.placement == six_vms_on_three_hosts()
    assert not nova.disabled


def test_only_one_global_manager_acts_and_a_dry_run_needs_no_lease(store):
    nova = FakeNova(six_vms_on_three_hosts())
    first, second = manager(store, nova), manager(store, nova)
    second.holder = "standby"
    assert first.cycle(now=NOW).plan is not None
    result = second.cycle(now=NOW + timedelta(seconds=1))
    assert result.plan is None and "lease" in result.note and first.holder in result.note
    proposal = second.cycle(dry_run=True, now=NOW + timedelta(seconds=2))
    assert proposal.plan is not None and proposal.plan.dry_run and proposal.plan.claimed_by is None


def test_no_samples_no_moves(store):
    nova = FakeNova(six_vms_on_three_hosts())
    result = manager(store, nova).cycle(now=NOW)
    assert result.plan is not None and result.plan.actions == ()


def test_anti_affinity_members_stay_apart(store):
    group = ServerGroup(id="g", name="g", policy="anti-affinity", members=("vm1", "vm3", "vm5"))
    nova = FakeNova(six_vms_on_three_hosts(), groups=[group])
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    gm.cycle(now=NOW + timedelta(minutes=1))
    hosts_of_group = [nova.placement[v] for v in ("vm1", "vm3", "vm5")]
    assert len(set(hosts_of_group)) == 3


def test_the_migration_budget_keeps_evacuations_whole(store):
    """One migration per cycle: no host can be emptied (each holds two VMs), so nothing moves."""
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova, max_migrations_per_cycle=1)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan is not None and result.plan.actions == ()
    assert result.skipped and all("evacuation" in why for _, why in result.skipped)
    assert nova.placement == six_vms_on_three_hosts()


def test_a_recently_migrated_vm_cools_down(store):
    """After a consolidating cycle, the VMs it moved are not moved again within the cooldown."""
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {f"vm{i}": 0.1 for i in range(1, 7)})
    first = gm.cycle(now=NOW + timedelta(minutes=1))
    moved = {a.vm_uuid for a in first.plan.actions if a.kind == "migrate"}
    assert moved
    view = view_of(gm, nova, NOW + timedelta(minutes=2))
    ids = [s.id for s in view.servers]
    movable = dict(zip(ids, view.inputs.vm_movable.tolist(), strict=True))
    assert {v for v, ok in movable.items() if not ok} == moved


# -- what the decision reads ---------------------------------------------------------------------
def test_the_host_samples_the_local_managers_store_feed_the_decision(store):
    """c1's VMs sum to 25 % of it (two 1-vCPU VMs at 50 % on 4 cores), under the 80 % threshold;
    c1 itself, hypervisor overhead included, measures 90 %: it is overloaded, and a VM leaves it."""
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    vms = {"vm1": 0.5, "vm2": 0.5, "vm3": 0.5, "vm4": 0.5, "vm5": 0.5, "vm6": 0.5}
    feed(store, vms)
    before = view_of(gm, nova)
    assert gm.decide(before).overloaded.tolist() == [False, False, False]  # the VMs' sum alone

    sink = StoreSink(store)
    for k in range(5):
        at = NOW - timedelta(minutes=5 * (5 - k), seconds=-1)
        for host, load in (("c1", 0.9), ("c2", 0.3), ("c3", 0.3)):
            sink.write(
                HostSample(host=host, timestamp=at, utilization=load, cpu_mhz=8000.0, cpu_cores=4),
                [
                    VmSample(uuid=v, utilization=vms[v], cpu_time_ns=0, vcpus=1)
                    for v, h in nova.placement.items()
                    if h == host
                ],
            )
    view = view_of(gm, nova)
    assert view.inputs.host_n_valid is not None and view.inputs.host_n_valid.tolist() == [5, 5, 5]
    np.testing.assert_allclose(view.inputs.host_history[0, -5:], 0.9)
    decision = gm.decide(view)
    assert decision.overloaded.tolist() == [True, False, False]
    relief = decision.groups == OVERLOAD_RELIEF
    assert relief.any() and set(decision.sources[relief].tolist()) == {0}

    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan is not None
    assert any(a.kind == "migrate" and a.host == "c1" and a.status == "succeeded" for a in result.plan.actions)


def test_the_migration_horizon_comes_from_the_flavor_ram_and_the_configured_link(store, tmp_path):
    """RAM / (link / 2): 2048 MB over c1's 1 Gbit/s = 32.768 s, 512 MB over the default 10 Gbit/s = 0.8192 s."""
    config = write_config(
        tmp_path,
        "[hosts]\nlink_mbit_s = 10000\n[[hosts.profile]]\nmatch = 'c1'\nlink_mbit_s = 1000\n",
    )
    nova = FakeNova({"vm1": "c1", "vm2": "c1", "vm3": "c2"}, flavors={"vm1": (2, 2048)})
    gm = manager(store, nova, config)
    gm.cycle(dry_run=True, now=NOW)
    view = view_of(gm, nova)
    assert [s.id for s in view.servers] == ["vm1", "vm2", "vm3"]
    np.testing.assert_allclose(
        view.inputs.vm_migration_time_s, [2048 * 8 * 2 / 1000, 512 * 8 * 2 / 1000, 512 * 8 * 2 / 10000]
    )
    np.testing.assert_allclose(view.inputs.vm_ram_mb, [2048.0, 512.0, 512.0])
    assert view.inputs.interval_s == config.decide_interval_s  # the horizon is counted in decision intervals


def test_per_host_tables_come_from_the_host_profiles(store, tmp_path):
    config = write_config(
        tmp_path,
        """
[hosts]
core_mips = 1000
idle_w = 50
peak_w = 150
[[hosts.profile]]
match = "c1"
core_mips = 3000
power_w = [90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190]
[[hosts.profile]]
match = "c[23]"
cores = 8
ram_mb = 32768
""",
    )
    nova = FakeNova(six_vms_on_three_hosts() | {"vm7": "c4"})
    gm = manager(store, nova, config)
    gm.cycle(dry_run=True, now=NOW)
    view = view_of(gm, nova)
    assert view.host_names == ["c1", "c2", "c3", "c4"]
    hosts = view.inputs.hosts
    np.testing.assert_allclose(hosts.power_w[0], [90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190])
    for row in (1, 2, 3):
        np.testing.assert_allclose(hosts.power_w[row], linear_power_table(50.0, 150.0))
    np.testing.assert_allclose(hosts.pe_mips, [3000.0, 1000.0, 1000.0, 1000.0])
    np.testing.assert_allclose(hosts.cpu_mips, [4 * 3000.0, 8 * 1000.0, 8 * 1000.0, 4 * 1000.0])  # Nova: 4 vCPUs
    np.testing.assert_allclose(hosts.ram_mb, [8192.0, 32768.0, 32768.0, 8192.0])
    # a VM's size is its vCPUs times its host's core
    vm_mips = dict(zip([s.id for s in view.servers], view.inputs.vm_mips.tolist(), strict=True))
    assert vm_mips["vm1"] == 3000.0 and vm_mips["vm3"] == 1000.0
    # the inventory stored for the reports uses the same core sizes
    stored = {h.name: h.cpu_mips for h in store.hosts()}
    assert stored["c1"] == 4 * 3000.0 and stored["c4"] == 4 * 1000.0


def test_without_profiles_every_host_gets_the_default_power_table(store):
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    view = view_of(gm, nova)
    for row in view.inputs.hosts.power_w:
        np.testing.assert_array_equal(row, DEFAULT_POWER_W)
    np.testing.assert_allclose(view.inputs.hosts.cpu_mips, 4 * 2000.0)


def test_profiles_by_aggregate_read_the_clouds_aggregates(store, tmp_path):
    config = write_config(tmp_path, "[[hosts.profile]]\naggregate = 'fast'\ncore_mips = 5000\n")
    nova = FakeNova(six_vms_on_three_hosts(), aggregates={"fast": ("c2",)})
    gm = manager(store, nova, config)
    gm.cycle(dry_run=True, now=NOW)
    assert nova.aggregate_reads == 1
    view = view_of(gm, nova)
    np.testing.assert_allclose(view.inputs.hosts.pe_mips, [2000.0, 5000.0, 2000.0])
    plain = FakeNova(six_vms_on_three_hosts())
    manager(store, plain).cycle(dry_run=True, now=NOW + timedelta(minutes=10))
    assert plain.aggregate_reads == 0  # no profile by aggregate: never read


def test_a_vm_with_real_zero_samples_keeps_them(store):
    """0 % is a sample: n_valid counts it and the history holds 0.0 there; only the padding is NaN."""
    nova = FakeNova(six_vms_on_three_hosts())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    feed(store, {"vm1": 0.0, "vm2": 0.2}, steps=5)
    feed(store, {"vm3": 0.0}, steps=2)
    view = view_of(gm, nova)
    ids = [s.id for s in view.servers]
    inputs = view.inputs
    window = gm.config.history_window
    assert inputs.vm_history.shape == (6, window)
    n_valid = dict(zip(ids, inputs.vm_n_valid.tolist(), strict=True))
    assert n_valid == {"vm1": 5, "vm2": 5, "vm3": 2, "vm4": 0, "vm5": 0, "vm6": 0}
    vm1, vm3, vm4 = ids.index("vm1"), ids.index("vm3"), ids.index("vm4")
    assert inputs.vm_history[vm1, -5:].tolist() == [0.0] * 5
    assert np.isnan(inputs.vm_history[vm1, :-5]).all()  # no nan_to_num: padding stays NaN
    assert inputs.vm_history[vm3, -2:].tolist() == [0.0, 0.0] and np.isnan(inputs.vm_history[vm3, :-2]).all()
    assert np.isnan(inputs.vm_history[vm4]).all()
    # the hosts' measured histories, none stored: all padding
    assert inputs.host_n_valid is not None and inputs.host_n_valid.tolist() == [0, 0, 0]
    assert np.isnan(inputs.host_history).all()

"""One global-manager cycle end to end on a SQLite store, with the cloud faked.

(The same cycle against a real Nova is in tests/integration.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neat.db import migrate
from neat.db.store import Store
from neat.openstack.records import ComputeHost, Server, ServerGroup
from neat.service.config import Limits, ServiceConfig
from neat.service.global_manager import GlobalManager
from tests.service.test_executor import FakeCloud

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeNova(FakeCloud):
    """FakeCloud plus the inventory reads of the global manager."""

    def __init__(self, placement, groups=(), **kw):
        super().__init__(placement, **kw)
        self.groups = list(groups)

    def hosts(self):
        names = sorted({*self.placement.values(), "c1", "c2", "c3"})
        return [
            ComputeHost(
                name=n,
                service_id=n,
                service_status="disabled" if n in self.disabled else "enabled",
                service_state="up",
                vcpus=4,
                memory_mb=8192,
            )
            for n in names
        ]

    def servers(self, host=None):
        return [
            Server(id=s, name=s, host=h, status="ACTIVE", vcpus=1, ram_mb=512, server_groups=self._groups_of(s))
            for s, h in sorted(self.placement.items())
            if host is None or h == host
        ]

    def server_groups(self):
        return self.groups

    def _groups_of(self, server):
        return tuple(g.id for g in self.groups if server in g.members)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    with Store.from_url(url) as s:
        yield s


def feed(store, utilization: dict[str, float], steps: int = 5) -> None:
    for k in range(steps):
        store.record_samples(NOW - timedelta(minutes=5 * (steps - k)), vms=utilization)


def manager(store, nova, **limits):
    config = ServiceConfig(overload={"name": "thr", "threshold": 0.8}, limits=Limits(**limits))
    return GlobalManager(config, store, nova, nova)


def six_vms_on_three_hosts():
    return {"vm1": "c1", "vm2": "c1", "vm3": "c2", "vm4": "c2", "vm5": "c3", "vm6": "c3"}


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


def test_only_one_global_manager_acts(store):
    nova = FakeNova(six_vms_on_three_hosts())
    first, second = manager(store, nova), manager(store, nova)
    second.holder = "standby"
    assert first.cycle(dry_run=True, now=NOW).plan is not None
    result = second.cycle(dry_run=True, now=NOW + timedelta(seconds=1))
    assert result.plan is None and "lease" in result.note


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

"""The global manager against a real Nova: consolidation, refusals, timeouts, dry runs.

Every step goes through real Nova API calls (live migrations checked by the scheduler, migration
records, compute services); utilization comes from a recorded low-load trace written into the
database through the local manager's sink, as local managers would.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from neat.config import ServiceConfig
from neat.db.records import ActionSpec
from neat.db.store import Store
from neat.decision.limits import SERVICE_DEFAULTS
from neat.decision.policy import parse_policy
from neat.local_manager.loop import HostSample, VmSample
from neat.local_manager.sinks import StoreSink
from neat.openstack import NovaClient
from neat.service.global_manager import GlobalManager
from neat.service.nova import NovaCompute

from .conftest import Booter

pytestmark = pytest.mark.integration

#: A recorded low-load stretch (CPU fraction of each VM, five 5-minute samples).
LOW_LOAD = np.array(
    [
        [0.04, 0.06, 0.05, 0.03, 0.05],
        [0.02, 0.03, 0.02, 0.04, 0.03],
        [0.05, 0.04, 0.06, 0.05, 0.04],
        [0.03, 0.02, 0.03, 0.02, 0.02],
        [0.06, 0.05, 0.04, 0.05, 0.06],
        [0.01, 0.02, 0.02, 0.01, 0.02],
    ]
)


def manager(store: Store, nova: NovaClient, **limits: float) -> GlobalManager:
    """The service's defaults (policy thr-mmt-0.8, the service's limits) with ``limits`` changed."""
    config = ServiceConfig(policy_spec=parse_policy("thr-mmt-0.8"), limits=replace(SERVICE_DEFAULTS, **limits))
    return GlobalManager(config, store, nova, NovaCompute(nova, poll_s=0.5))


def replay_low_load(store: Store, nova: NovaClient, servers: list[str]) -> None:
    """Write the recorded trace through the local managers' sink, one round per sample."""
    sink = StoreSink(store)
    start = datetime.now(UTC) - timedelta(minutes=5 * LOW_LOAD.shape[1])
    by_host: dict[str, list[int]] = {}
    for i, server in enumerate(servers):
        by_host.setdefault(nova.server(server).host or "", []).append(i)
    for step in range(LOW_LOAD.shape[1]):
        at = start + timedelta(minutes=5 * step)
        for host, rows in by_host.items():
            vms = [
                VmSample(uuid=servers[i], utilization=float(LOW_LOAD[i, step]), cpu_time_ns=0, vcpus=1) for i in rows
            ]
            load = float(LOW_LOAD[rows, step].sum()) / 8
            sink.write(HostSample(host=host, timestamp=at, utilization=load, cpu_mhz=16000.0, cpu_cores=8), vms)


def hosts_of(nova: NovaClient, servers: list[str]) -> Counter[str]:
    return Counter(nova.server(s).host for s in servers)


def test_one_cycle_consolidates_six_vms_and_disables_the_emptied_hosts(store, nova: NovaClient, boot: Booter) -> None:
    servers = boot(["compute1", "compute1", "compute2", "compute2", "compute3", "compute3"], flavor="neat.small")
    gm = manager(store, nova)
    gm.cycle(dry_run=True)  # inventory synced from Nova; no samples yet, so no moves
    replay_low_load(store, nova, servers)

    result = gm.cycle()

    after = hosts_of(nova, servers)
    assert len(after) < 3, after
    assert result.plan is not None
    migrations = [a for a in result.plan.actions if a.kind == "migrate"]
    disables = [a for a in result.plan.actions if a.kind == "disable"]
    assert migrations and all(a.status == "succeeded" for a in migrations)
    assert all(a.started_at is not None and a.finished_at is not None for a in result.plan.actions)
    for action in migrations:
        assert nova.server(action.vm_uuid or "").host == action.target_host
    emptied = {"compute1", "compute2", "compute3"} - set(after)
    assert {a.host for a in disables if a.status == "succeeded"} == emptied
    for host in emptied:
        service = nova.host(host)
        assert not service.enabled and "neat" in (service.disabled_reason or "")
    for host in after:
        assert nova.host(host).enabled


def test_a_target_the_scheduler_rejects_fails_and_changes_nothing(store, nova: NovaClient, boot: Booter) -> None:
    (big,) = boot(["compute1"], flavor="neat.big")  # 2048 MB: compute3 (1536 MB) cannot take it
    gm = manager(store, nova)
    gm.cycle(dry_run=True)
    plan = store.create_plan(
        [
            ActionSpec(kind="migrate", host="compute1", vm_uuid=big, target_host="compute3"),
            ActionSpec(kind="disable", host="compute1"),
        ]
    )

    gm.apply(plan)

    migrate_action, disable_action = store.plan(plan.id).actions
    assert migrate_action.status == "failed" and "rejected" in (migrate_action.error or "")
    assert disable_action.status == "failed" and "did not complete" in (disable_action.error or "")
    assert nova.server(big).host == "compute1"
    assert nova.host("compute1").enabled


def test_a_migration_that_does_not_end_in_time_never_disables_its_source(store, nova: NovaClient, boot: Booter) -> None:
    (server,) = boot(["compute3"], flavor="neat.small")
    gm = manager(store, nova, migration_timeout_s=0.01, migration_retries=0)
    gm.cycle(dry_run=True)
    plan = store.create_plan(
        [
            ActionSpec(kind="migrate", host="compute3", vm_uuid=server, target_host="compute1"),
            ActionSpec(kind="disable", host="compute3"),
        ]
    )

    gm.apply(plan)

    migrate_action, disable_action = store.plan(plan.id).actions
    assert migrate_action.status == "failed" and (migrate_action.error or "").startswith("timeout")
    assert disable_action.status == "failed"
    nova.wait_migration(server, 120.0, 0.5)  # it goes on in Nova; the source stays enabled even after
    assert nova.host("compute3").enabled
    time.sleep(1.0)
    assert nova.host("compute3").enabled


def test_a_dry_run_stores_a_plan_and_changes_nothing_in_nova(store, nova: NovaClient, boot: Booter) -> None:
    servers = boot(["compute1", "compute2", "compute2", "compute3"], flavor="neat.small")
    gm = manager(store, nova)
    gm.cycle(dry_run=True)
    replay_low_load(store, nova, servers)
    before = {s: nova.server(s).host for s in servers}

    result = gm.cycle(dry_run=True)

    assert result.plan is not None and result.plan.actions
    assert all(a.status == "pending" for a in store.plan(result.plan.id).actions)
    assert {s: nova.server(s).host for s in servers} == before
    assert all(h.enabled for h in nova.hosts())
    assert all(nova.migration(s) is None for s in servers)

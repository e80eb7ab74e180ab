"""Faults of the cloud and the database met by the global manager, and how it recovers: each test
reproduces a defect seen in the service (issue 10) and checks what must hold after it."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from neat.db.store import PlanRefused
from neat.openstack.errors import CloudUnreachable, OpenStackError
from neat.service.daemon import run_service
from neat.service.global_manager import NoLease
from neat.service.lease import gone_local_holder
from tests.faults.invariants import assert_invariants
from tests.service.fakes import FakeNova, manager

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def now():
    """NOW is each test's start: samples and cycles pinned to it are recent whenever the test runs."""
    global NOW  # noqa: PLW0603 - the tests read it as a constant
    NOW = datetime.now(UTC).replace(microsecond=0)
    return NOW


def low_load(store, nova, at=None, steps=5, value=0.1):
    at = at or NOW
    for k in range(steps):
        store.record_samples(at - timedelta(minutes=5 * (steps - k)), vms=dict.fromkeys(nova.placement, value))


def six():
    return {"vm1": "c1", "vm2": "c1", "vm3": "c2", "vm4": "c2", "vm5": "c3", "vm6": "c3"}


def consolidating(store, nova, gm, at=None):
    at = at or NOW
    gm.cycle(dry_run=True, now=at)  # syncs the inventory
    low_load(store, nova, at)


# -- 1: unexpected cloud errors ---------------------------------------------------------------
def test_a_5xx_while_waiting_leaves_nothing_running_and_the_moved_vm_cools_down(store):
    """Nova answers 503 while the manager waits: the executor records the action lost, the plan goes
    on; reconciliation settles it from Nova's record once Nova answers (here at once)."""
    nova = FakeNova(six())
    gm = manager(store, nova)
    consolidating(store, nova, gm)
    real_wait = nova.wait_migration
    failed_once = []

    def flaky_wait(server_id, timeout_s):
        if not failed_once:
            failed_once.append(server_id)
            nova.finish(server_id)  # the migration goes on and completes in Nova
            raise OpenStackError("listing the live migrations: HTTP 503", status_code=503)
        return real_wait(server_id, timeout_s)

    nova.wait_migration = flaky_wait
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan is not None and failed_once
    lost = next(a for a in result.plan.actions if a.vm_uuid == failed_once[0])
    assert lost.status == "succeeded"  # settled from Nova's record
    assert_invariants(store, nova)
    later = gm.cycle(now=NOW + timedelta(minutes=2))
    assert failed_once[0] not in {a.vm_uuid for a in later.plan.actions}  # its cooldown counts


def test_a_server_deleted_mid_cycle_is_skipped_and_the_rest_goes_on(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    consolidating(store, nova, gm)
    real = nova.live_migrate

    def deleted_first(server_id, host):
        if server_id == "vm1":
            nova.placement.pop("vm1")  # deleted by its owner between the plan and the move
            raise_404 = __import__("neat.execution.executor", fromlist=["ServerGone"]).ServerGone
            raise raise_404("HTTP 404: server vm1 not found")
        real(server_id, host)

    nova.live_migrate = deleted_first
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    statuses = {a.vm_uuid: a.status for a in result.plan.actions if a.kind == "migrate"}
    assert "vm1" not in statuses or statuses["vm1"] == "failed"
    assert_invariants(store, nova)


def test_the_cloud_unreachable_fails_the_cycle_cleanly_and_the_next_one_recovers(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    consolidating(store, nova, gm)
    nova.faults["hosts"] = CloudUnreachable("listing compute services: the cloud did not answer")
    with pytest.raises(CloudUnreachable):
        gm.cycle(now=NOW + timedelta(minutes=1))
    del nova.faults["hosts"]
    assert gm.cycle(now=NOW + timedelta(minutes=2)).plan is not None
    assert_invariants(store, nova)


def test_a_database_write_failing_mid_plan_leaves_nothing_running(store, monkeypatch):
    """One finish_action write fails: the plan goes on, the outcome is written again afterwards."""
    nova = FakeNova(six())
    gm = manager(store, nova)
    consolidating(store, nova, gm)
    real = store.finish_action
    failures = []

    def flaky(action_id, status, **kw):
        if not failures:
            failures.append(action_id)
            raise ConnectionError("server closed the connection unexpectedly")
        return real(action_id, status, **kw)

    monkeypatch.setattr(store, "finish_action", flaky)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert failures and all(a.status in ("succeeded", "failed", "cancelled") for a in result.plan.actions)
    assert_invariants(store, nova)


# -- crash recovery: open actions settled before deciding ---------------------------------------
def test_a_crashed_managers_plan_is_settled_from_nova_before_the_next_decision(store):
    """The manager died after starting vm1's move (which then completed in Nova) with vm2's pending
    and c1's disable pending: the next manager records vm1 moved, cancels vm2, leaves c1 enabled."""
    nova = FakeNova({"vm1": "c1", "vm2": "c1", "vm3": "c2"})
    dead = manager(store, nova, holder=f"{socket.gethostname()}:999999999")
    dead.cycle(dry_run=True, now=NOW)
    from neat.db.records import ActionSpec

    plan = store.create_plan(
        [
            ActionSpec(kind="migrate", host="c1", vm_uuid="vm1", target_host="c2"),
            ActionSpec(kind="migrate", host="c1", vm_uuid="vm2", target_host="c2"),
            ActionSpec(kind="disable", host="c1"),
        ],
        created_by=dead.holder,
        claimed_by=dead.holder,
        at=NOW,
    )
    assert dead.keeper.acquire(NOW) is not None
    store.start_action(plan.actions[0].id, at=NOW)
    nova.live_migrate("vm1", "c2")
    nova.finish("vm1")
    restarted = manager(store, nova, holder=f"{socket.gethostname()}:{os.getpid()}")
    result = restarted.cycle(now=NOW + timedelta(seconds=30))  # the dead holder's lease is taken over
    assert result.plan is not None and result.reconciled is not None
    settled = store.plan(plan.id)
    assert [a.status for a in settled.actions] == ["succeeded", "cancelled", "cancelled"]
    assert "c1" not in nova.disabled
    assert_invariants(store, nova)


def test_a_pending_disable_of_a_drained_host_is_finished(store):
    nova = FakeNova({"vm1": "c1", "vm3": "c2"})
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    from neat.db.records import ActionSpec

    plan = store.create_plan(
        [ActionSpec(kind="migrate", host="c1", vm_uuid="vm1", target_host="c2"), ActionSpec(kind="disable", host="c1")],
        created_by="gone",
        claimed_by="gone",
        at=NOW,
    )
    store.start_action(plan.actions[0].id, at=NOW)
    nova.live_migrate("vm1", "c2")
    nova.finish("vm1")
    gm.cycle(now=NOW + timedelta(seconds=10))
    assert [a.status for a in store.plan(plan.id).actions] == ["succeeded", "succeeded"]
    assert "c1" in nova.disabled and nova.disabled_reasons["c1"].startswith("neat")
    assert_invariants(store, nova)


# -- 2: the first cycle runs under the scheduler too ------------------------------------------
def test_cycles_never_overlap_the_first_one_included():
    class Slow:
        keeper = None

        def __init__(self):
            self.running = 0
            self.peak = 0
            self.calls = 0

        def cycle(self, dry_run):
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            time.sleep(0.4)
            self.running -= 1
            return type("R", (), {"plan": 1, "note": ""})()

        def request_stop(self):
            pass

    slow = Slow()
    stop = threading.Event()
    threading.Timer(1.3, stop.set).start()
    run_service(slow, interval_s=0.1, dry_run=True, stop=stop)
    assert slow.calls >= 2 and slow.peak == 1


# -- 3 and 4: the lease --------------------------------------------------------------------------
def test_the_lease_is_renewed_while_a_plan_runs_and_a_standby_stays_out(store):
    """Lease of 10 s; each migration takes 3 s (6 of them, one at a time: 18 s): the renewing
    thread keeps it, the standby never acts, and every action completes."""
    nova = FakeNova(six())
    gm = manager(store, nova, lease_ttl_s=10.0, limits={"max_concurrent_migrations": 1})
    standby = manager(store, nova, holder="standby", lease_ttl_s=10.0)
    consolidating(store, nova, gm)
    real_wait = nova.wait_migration
    standby_results = []

    def slow_wait(server_id, timeout_s):
        time.sleep(0.3)  # 3 s in lease time below
        standby_results.append(standby.keeper.acquire(datetime.now(UTC)))
        return real_wait(server_id, timeout_s)

    nova.wait_migration = slow_wait
    gm.keeper.ttl_s = 1.0  # renew every 0.33 s; a wait lasts 0.3 s
    standby.keeper.ttl_s = 1.0
    gm.keeper.start()
    try:
        result = gm.cycle()
    finally:
        gm.keeper.stop()
    assert standby_results and all(r is None for r in standby_results)
    assert all(a.status == "succeeded" for a in result.plan.actions)


def test_an_action_is_not_started_once_the_lease_is_lost(store):
    """The standby took the lease (the active one could not renew): the active manager's next
    action is cancelled, not performed."""
    nova = FakeNova(six())
    gm = manager(store, nova, limits={"max_concurrent_migrations": 1})
    consolidating(store, nova, gm)
    real = nova.live_migrate
    started = []

    def steal_after_first(server_id, host):
        real(server_id, host)
        started.append(server_id)
        store.release_lease(gm.holder)
        assert store.acquire_lease("standby", ttl_s=600) is not None

    nova.live_migrate = steal_after_first
    result = gm.cycle()
    assert len(started) == 1
    statuses = [a.status for a in result.plan.actions]
    assert statuses[0] == "succeeded" and set(statuses[1:]) == {"cancelled"}
    assert all("standby" in (a.error or "") for a in result.plan.actions[1:])


def test_a_dead_processes_lease_on_this_machine_is_taken_over_at_once(store):
    dead = f"{socket.gethostname()}:999999999"
    assert gone_local_holder(dead) and not gone_local_holder(f"{socket.gethostname()}:{os.getpid()}")
    assert not gone_local_holder("another-machine:1")
    assert store.acquire_lease(dead, ttl_s=900) is not None
    nova = FakeNova(six())
    gm = manager(store, nova, holder=f"{socket.gethostname()}:{os.getpid()}")
    assert gm.cycle().plan is not None  # no 15-minute wait


def test_the_lease_is_released_when_the_service_stops(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    run_service(gm, interval_s=60, dry_run=False, stop=stop)
    lease = store.lease()
    assert lease is not None and lease.expires_at <= datetime.now(UTC)
    other = manager(store, nova, holder="next")
    assert other.cycle().plan is not None


# -- 5: sample age -----------------------------------------------------------------------------
def test_old_samples_and_samples_from_the_future_drive_nothing(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    low_load(store, nova, at=NOW - timedelta(days=30))  # a month old
    result = gm.cycle(now=NOW + timedelta(minutes=1))
    assert result.plan.actions == ()
    low_load(store, nova, at=NOW + timedelta(days=1), value=0.9)  # a clock a day ahead
    low_load(store, nova, at=NOW, value=0.1)  # and current samples
    view_hosts = list(nova.hosts())
    view = gm.read(view_hosts, list(nova.servers()), NOW + timedelta(minutes=1))
    assert float(view.inputs.vm_history[0, -1]) == pytest.approx(0.1)  # the current ones, not the future


def test_a_vm_whose_collector_stopped_has_no_history(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    gm.cycle(dry_run=True, now=NOW)
    low_load(store, nova, at=NOW - timedelta(hours=1))  # newest sample 65 min old: stale (15 min)
    view = gm.read(list(nova.hosts()), list(nova.servers()), NOW)
    assert view.inputs.vm_n_valid.tolist() == [0] * 6


# -- 6: plans expire and are claimed once ------------------------------------------------------
def test_apply_refuses_an_expired_plan_and_a_second_apply(store):
    nova = FakeNova(six())
    gm = manager(store, nova)
    consolidating(store, nova, gm)
    stale = gm.cycle(dry_run=True, now=NOW - timedelta(days=3))
    with pytest.raises(PlanRefused, match="expired"):
        gm.apply_stored(stale.plan.id)
    fresh = gm.cycle(dry_run=True, now=datetime.now(UTC))
    assert fresh.plan.actions
    done = gm.apply_stored(fresh.plan.id)
    assert done.claimed_by == gm.holder and done.status == "succeeded"
    with pytest.raises(PlanRefused, match="claimed by"):
        manager(store, nova, holder="apply-2").apply_stored(fresh.plan.id)
    assert store.lease().expires_at <= datetime.now(UTC)  # released after applying
    assert_invariants(store, nova)


def test_apply_is_refused_while_a_manager_holds_the_lease(store):
    nova = FakeNova(six())
    active = manager(store, nova, holder="active")
    consolidating(store, nova, active)
    proposal = active.cycle(dry_run=True, now=datetime.now(UTC))
    assert active.keeper.acquire() is not None
    with pytest.raises(NoLease, match="active holds the global-manager lease"):
        manager(store, nova, holder="apply").apply_stored(proposal.plan.id)


# -- 7: the inventory ----------------------------------------------------------------------------
def test_a_server_on_a_host_without_a_compute_service_does_not_fail_the_cycle(store):
    nova = FakeNova(six() | {"vm7": "ghost"})
    nova.no_service.add("ghost")
    gm = manager(store, nova)
    result = gm.cycle(now=NOW)
    assert result.plan is not None
    assert {v.uuid: v.host for v in store.vms()}["vm7"] is None


def test_deleted_servers_and_hosts_are_pruned(store):
    nova = FakeNova(six(), extra_hosts={"c4"})
    gm = manager(store, nova)
    gm.cycle(now=NOW)
    del nova.placement["vm6"]
    nova.extra_hosts.clear()
    gm.cycle(now=NOW + timedelta(minutes=5))
    assert "vm6" not in {v.uuid for v in store.vms()}
    assert "c4" not in {h.name for h in store.hosts()}

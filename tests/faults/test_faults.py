"""The fault tier: faults injected into a running global manager, then the invariants once it recovered.

The cloud is the unit tests' Nova (:class:`tests.service.fakes.FakeNova`), scripted to fail as a
real one does; the database is a SQLite file, or the real PostgreSQL for the outage (stopped and
started again mid-cycle: ``pg_ctlcluster``). The same faults against the real Nova, and a manager
killed with SIGKILL mid-plan, are in tests/integration/test_faults.py. After every fault:

- nothing is left running, every action of an executed plan has a final status;
- no VM is on a sleeping host; no host disabled by neat still holds VMs.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from neat.db import migrate
from neat.db.records import ActionSpec
from neat.db.store import PlanRefused, Store
from neat.decision.limits import SERVICE_DEFAULTS
from neat.execution.executor import ServerGone
from neat.local_manager.loop import HostSample, LocalManager, VmSample
from neat.local_manager.sinks import StoreSink
from neat.openstack.errors import CloudUnreachable, OpenStackError
from neat.service.daemon import run_service
from neat.service.global_manager import GlobalManager
from tests.faults.invariants import assert_invariants
from tests.service.fakes import FakeNova, config, manager

pytestmark = pytest.mark.faults


def eight() -> dict[str, str]:
    """Eight VMs on four hosts, two each: at 10 % the plan empties at least two hosts."""
    return {f"vm{i}": f"c{(i - 1) // 2 + 1}" for i in range(1, 9)}


def write_samples(store, nova, *, at=None, steps=5, value=0.1):
    """Samples as local managers write them: one round per host every 5 minutes up to ``at``."""
    at = at or datetime.now(UTC)
    sink = StoreSink(store)
    for k in range(steps):
        when = at - timedelta(minutes=5 * (steps - 1 - k), seconds=1)
        for host in sorted(set(nova.placement.values())):
            vms = [VmSample(v, value, 0, 1) for v, h in sorted(nova.placement.items()) if h == host]
            sink.write(HostSample(host, when, value / 2, 8000.0, 4), vms)


def ready(store, nova, gm, **kw):
    gm.cycle(dry_run=True)  # the inventory, from the cloud
    write_samples(store, nova, **kw)


def moved(store) -> set[str]:
    return {
        a.vm_uuid or ""
        for p in store.plans(limit=None)
        for a in p.actions
        if a.kind == "migrate" and a.status == "succeeded"
    }


# -- Nova faults -------------------------------------------------------------------------------
def test_nova_5xx_on_start_and_while_waiting(store):
    nova = FakeNova(eight())
    gm = manager(store, nova, limits={"max_concurrent_migrations": 1})
    ready(store, nova, gm)
    calls = {"start": 0, "wait": 0}
    start, wait = nova.live_migrate, nova.wait_migration

    def flaky_start(server_id, host):
        calls["start"] += 1
        if calls["start"] == 2:  # accepted by Nova, but the answer is a 502 from the proxy
            start(server_id, host)
            raise OpenStackError(f"live migration of server {server_id}: HTTP 502", status_code=502)
        start(server_id, host)

    def flaky_wait(server_id, timeout_s):
        calls["wait"] += 1
        if calls["wait"] == 1:
            nova.finish(server_id)
            raise OpenStackError("listing the live migrations: HTTP 500", status_code=500)
        return wait(server_id, timeout_s)

    nova.live_migrate, nova.wait_migration = flaky_start, flaky_wait
    result = gm.cycle()
    assert result.plan is not None and calls["start"] >= 2
    nova.live_migrate, nova.wait_migration = start, wait
    for server_id in list(nova.migrating):  # what Nova went on with on its own
        nova.finish(server_id)
    gm.cycle()
    assert_invariants(store, nova)
    for vm in moved(store):
        assert nova.placement[vm] != eight()[vm]


def test_a_server_deleted_mid_cycle(store):
    nova = FakeNova(eight())
    gm = manager(store, nova)
    ready(store, nova, gm)
    start = nova.live_migrate
    deleted = []

    def delete_second(server_id, host):
        if not deleted and nova.migrating:
            deleted.append(server_id)
            nova.placement.pop(server_id)
            raise ServerGone(f"HTTP 404: no server {server_id}")
        start(server_id, host)

    nova.live_migrate = delete_second
    gm.cycle()
    assert deleted
    gm.cycle()
    assert_invariants(store, nova)


def test_the_cloud_unreachable_mid_plan_then_back(store):
    nova = FakeNova(eight())
    gm = manager(store, nova, limits={"max_concurrent_migrations": 2})
    ready(store, nova, gm)
    start = nova.live_migrate
    down = CloudUnreachable("the cloud did not answer (Connection refused)")

    def then_down(server_id, host):
        start(server_id, host)
        for call in ("live_migrate", "wait_migration", "server", "migrations", "host", "servers", "hosts"):
            nova.faults[call] = down

    nova.live_migrate = then_down
    gm.cycle()  # every later call fails: nothing else starts, no host is disabled
    assert not nova.disabled
    running = [a for p in store.plans(limit=None) for a in p.actions if a.status == "running"]
    assert running  # lost: the cloud never said how it ended
    nova.faults.clear()
    nova.live_migrate = start
    for server_id in list(nova.migrating):
        nova.finish(server_id)
    result = gm.cycle()
    assert result.reconciled is not None and result.reconciled.settled
    assert_invariants(store, nova)


# -- database faults ---------------------------------------------------------------------------
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _cluster() -> list[str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def _pg(action: str) -> None:
    subprocess.run([*_cluster(), action], check=True, capture_output=True, timeout=120)


def _pg_up() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False).returncode == 0


@pytest.fixture
def postgresql(tmp_path):
    """A fresh database on the real PostgreSQL; the server is always running again afterwards."""
    from tests.db.conftest import fresh_database

    if shutil.which("pg_ctlcluster") is None:
        pytest.fail("pg_ctlcluster is missing: the database outage test needs the real PostgreSQL")
    try:
        with fresh_database("postgresql", tmp_path) as url:
            migrate.upgrade(url)
            yield url
    finally:
        if not _pg_up():
            _pg("start")
        deadline = time.monotonic() + 60
        while not _pg_up() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _pg_up(), "PostgreSQL did not come back"


@pytest.mark.db
def test_a_database_outage_mid_cycle(postgresql):
    """PostgreSQL stops after the first migration started: no later action is performed (none can
    be recorded), the cycle fails; PostgreSQL starts again and the next cycle settles the plan."""
    store = Store.from_url(postgresql)
    nova = FakeNova(eight())
    gm = manager(store, nova, limits={"max_concurrent_migrations": 1})
    ready(store, nova, gm)
    start = nova.live_migrate
    stopped = []

    def stop_database(server_id, host):
        start(server_id, host)
        if not stopped:
            stopped.append(server_id)
            _pg("stop")

    nova.live_migrate = stop_database
    try:
        with pytest.raises(Exception):  # noqa: B017 - whichever database error ends the cycle
            gm.cycle()
    finally:
        _pg("start")
    assert stopped and len([c for c in nova.calls if c[0] == "migrate"]) == 1  # nothing after the outage
    assert not nova.disabled
    deadline = time.monotonic() + 60
    while True:
        try:
            gm.cycle()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert_invariants(store, nova)
    assert stopped[0] in moved(store)  # it completed in Nova: recorded from Nova's record
    store.close()


# -- the lease ---------------------------------------------------------------------------------
def test_two_managers_with_cycles_longer_than_the_lease(store):
    """Lease of 1.5 s, decisions every 0.3 s, each migration 0.5 s, one at a time: a plan runs far
    longer than the lease. Both managers run as services at once: their plans never overlap, the
    concurrency limit holds, and the standby acts only after the first stops."""
    nova = FakeNova(eight() | {f"vm{i}": f"c{(i - 1) // 2 + 1}" for i in range(9, 17)})
    wait = nova.wait_migration
    spans: list[tuple[str, float, float]] = []
    lock = threading.Lock()
    in_flight = {"now": 0, "peak": 0}
    start = nova.live_migrate

    def tracked_start(server_id, host):
        with lock:
            start(server_id, host)
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])

    def slow_wait(server_id, timeout_s):
        began = time.monotonic()
        time.sleep(0.5)
        with lock:
            in_flight["now"] -= 1
            spans.append((threading.current_thread().name, began, time.monotonic()))
            return wait(server_id, timeout_s)

    nova.live_migrate, nova.wait_migration = tracked_start, slow_wait
    first = manager(store, nova, holder="first", lease_ttl_s=10.0, decide_interval_s=1.0)
    second = manager(store, nova, holder="second", lease_ttl_s=10.0, decide_interval_s=1.0)
    for gm in (first, second):
        gm.keeper.ttl_s = 1.5
    ready(store, nova, first)
    stops = {"first": threading.Event(), "second": threading.Event()}
    threads = {
        name: threading.Thread(
            target=run_service, kwargs={"manager": gm, "interval_s": 0.3, "dry_run": False, "stop": stops[name]}
        )
        for gm, name in ((first, "first"), (second, "second"))
    }
    for thread in threads.values():
        thread.start()
    time.sleep(4.0)
    leader = store.lease().holder
    standby = "second" if leader == "first" else "first"
    stops[leader].set()  # the leader stops (releasing the lease): the standby takes over
    threads[leader].join(30)
    time.sleep(2.0)
    stops[standby].set()
    threads[standby].join(30)
    assert in_flight["peak"] <= SERVICE_DEFAULTS.max_concurrent_migrations
    plans = {
        name: [p for p in store.plans(limit=None) if p.created_by == name and not p.dry_run and p.actions]
        for name in ("first", "second")
    }
    assert plans[leader]
    leader_end = max(a.finished_at for p in plans[leader] for a in p.actions if a.finished_at)
    standby_start = min((a.started_at for p in plans[standby] for a in p.actions if a.started_at), default=None)
    if standby_start is not None:  # the standby acted only once the leader's last action ended
        assert standby_start >= leader_end
    assert_invariants(store, nova)


def test_a_clock_ahead_takes_the_lease_but_the_fenced_manager_stops(store):
    """The standby's clock runs an hour ahead: it sees the lease expired and takes it while the
    active manager executes; the active manager's next action checks the lease and stops."""
    nova = FakeNova(eight())
    active = manager(store, nova, holder="active", limits={"max_concurrent_migrations": 1})
    ahead = manager(store, nova, holder="ahead")
    ready(store, nova, active)
    start = nova.live_migrate
    taken = []

    def skewed_takeover(server_id, host):
        start(server_id, host)
        if not taken:
            taken.append(ahead.keeper.acquire(datetime.now(UTC) + timedelta(hours=1)))

    nova.live_migrate = skewed_takeover
    result = active.cycle()
    assert taken and taken[0] is not None
    statuses = [a.status for a in result.plan.actions]
    assert statuses.count("succeeded") == 1 and set(statuses) <= {"succeeded", "cancelled"}
    assert all("ahead" in (a.error or "") for a in result.plan.actions if a.status == "cancelled")
    assert_invariants(store, nova)


# -- bad samples ---------------------------------------------------------------------------------
def test_samples_from_a_clock_a_day_ahead_and_stale_samples_move_nothing(store):
    nova = FakeNova(eight())
    gm = manager(store, nova)
    gm.cycle(dry_run=True)
    write_samples(store, nova, at=datetime.now(UTC) - timedelta(days=30))  # a month old
    write_samples(store, nova, at=datetime.now(UTC) + timedelta(days=1))  # a clock a day ahead
    for _ in range(2):
        result = gm.cycle()
        assert result.plan is not None and result.plan.actions == ()
    assert not nova.calls and not nova.disabled
    assert_invariants(store, nova)


def test_a_local_manager_whose_clock_is_ahead_does_not_outrank_current_samples(store):
    """One host's collector runs a day ahead at 90 %; the current samples say 10 %: the decision
    reads the current ones (nothing overloaded), and consolidates."""
    nova = FakeNova(eight())
    gm = manager(store, nova)
    gm.cycle(dry_run=True)
    write_samples(store, nova)

    class Ahead:
        def read_host(self):
            from neat.local_manager.loop import HostReading

            return HostReading(0.9, 8000.0, 4)

        def read_vms(self):
            return [VmSample(v, 0.9, 0, 1) for v, h in nova.placement.items() if h == "c1"]

    ahead = LocalManager(Ahead(), Ahead(), StoreSink(store), clock=lambda: datetime.now(UTC) + timedelta(days=1))
    ahead.host_name = "c1"
    assert ahead.collect_once() is not None
    result = gm.cycle()
    assert not any(
        a.host == "c1" and a.kind == "migrate" and "overload" in (a.error or "") for a in result.plan.actions
    )
    view = gm.read(list(nova.hosts()), list(nova.servers()), datetime.now(UTC))
    assert float(view.inputs.host_history[0, -1]) == pytest.approx(0.05)
    assert_invariants(store, nova)


# -- plans ---------------------------------------------------------------------------------------
def test_a_stale_plan_is_refused_and_changes_nothing(store):
    nova = FakeNova(eight())
    gm = manager(store, nova)
    ready(store, nova, gm, at=datetime.now(UTC) - timedelta(days=3))
    stale = gm.cycle(dry_run=True, now=datetime.now(UTC) - timedelta(days=3))
    assert stale.plan.actions
    with pytest.raises(PlanRefused, match="expired"):
        gm.apply_stored(stale.plan.id)
    assert not nova.calls and not nova.disabled
    assert_invariants(store, nova)


def test_concurrent_applies_of_one_plan(store, tmp_path):
    """Two applies of one plan at once, each with its own connection: one runs it, the other is
    refused; no disable is left pending."""
    nova = FakeNova(eight())
    gm = manager(store, nova)
    ready(store, nova, gm)
    proposal = gm.cycle(dry_run=True)
    assert proposal.plan.actions
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def apply(name):
        own = Store.from_url(store.engine.url)
        try:
            barrier.wait()
            results[name] = GlobalManager(config(), own, nova, nova, holder=name).apply_stored(proposal.plan.id)
        except Exception as exc:
            results[name] = exc
        finally:
            own.close()

    threads = [threading.Thread(target=apply, args=(n,)) for n in ("apply-a", "apply-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes in (["NoLease", "PlanRecord"], ["PlanRecord", "PlanRefused"]), results
    plan = store.plan(proposal.plan.id)
    assert plan.claimed_by in results and all(a.status != "pending" for a in plan.actions)
    assert_invariants(store, nova)


def test_a_cancelled_plan_stops_before_its_next_action(store):
    nova = FakeNova(eight())
    gm = manager(store, nova, limits={"max_concurrent_migrations": 1})
    ready(store, nova, gm)
    start = nova.live_migrate
    cancelled = []

    def cancel_after_first(server_id, host):
        start(server_id, host)
        if not cancelled:
            plan = store.plans(limit=1)[0]
            cancelled.append(store.cancel_pending(plan.id, reason="cancelled by an operator"))

    nova.live_migrate = cancel_after_first
    result = gm.cycle()
    assert cancelled and cancelled[0] > 0
    assert [c[0] for c in nova.calls].count("migrate") == 1
    assert sum(a.status == "succeeded" for a in result.plan.actions) == 1
    assert_invariants(store, nova)


def test_a_plan_is_recorded_with_its_lease_term(store):
    nova = FakeNova(eight())
    gm = manager(store, nova)
    ready(store, nova, gm)
    result = gm.cycle()
    lease = store.lease()
    assert result.plan.lease_term == lease.term and result.plan.claimed_by == gm.holder
    assert result.plan.expires_at == result.plan.created_at + timedelta(seconds=gm.config.plan_expiry_s)
    spec = [ActionSpec(kind="disable", host="c4")]
    own = store.create_plan(spec, created_by="x", claimed_by="x")
    with pytest.raises(PlanRefused, match="claimed by x"):
        gm.apply_stored(own.id)

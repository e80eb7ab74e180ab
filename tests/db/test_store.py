"""The storage contract: the same tests on SQLite, PostgreSQL and MariaDB (see conftest.py).

Times are offsets from ``T0`` in seconds, samples 300 s apart; utilization values encode their
position (0.1, 0.2, ... for steps 0, 1, ...), so every expected array can be checked by eye.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sqlalchemy.pool import NullPool

import neat.db
import neat.db.engine
import neat.db.models
import neat.db.records
import neat.db.store
from neat.db.records import ActionSpec, HostInfo, VmInfo
from neat.db.store import PlanRefused, Store, StoreError

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
STEP_S = 300
IST = timezone(timedelta(hours=5, minutes=30))


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(k: int) -> datetime:
    return t(k * STEP_S)


def us(value: datetime) -> np.datetime64:
    """A UTC instant as numpy stores it in ``SampleWindow.recorded_at``."""
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")


def host(name: str, **kw: object) -> HostInfo:
    fields: dict[str, object] = {"cpu_mips": 4000.0, "cores": 2, "ram_mb": 8192, **kw}
    return HostInfo(name=name, **fields)  # type: ignore[arg-type]


def inventory(store: Store) -> None:
    """Hosts h1, h2, h3; VMs v1, v2 on h1, v3 on h2, v4 unplaced."""
    store.upsert_hosts([host(name, power_state="on") for name in ("h1", "h2", "h3")], at=T0)
    store.upsert_vms(
        [
            VmInfo(uuid="v1", host="h1", ram_mb=1024, vcpus=1, cpu_mips=1000.0),
            VmInfo(uuid="v2", host="h1", ram_mb=2048, vcpus=2),
            VmInfo(uuid="v3", host="h2", ram_mb=512, vcpus=1),
            VmInfo(uuid="v4", host=None, ram_mb=512, vcpus=1),
        ],
        at=T0,
    )


def test_masked_urls_hide_passwords_in_the_query_too() -> None:
    shown = neat.db.engine.masked_url("postgresql://neat:pw@db/neat?password=s3cret&sslmode=require&sslpassword=k")
    assert shown == "postgresql+psycopg://neat:***@db/neat?password=***&sslmode=require&sslpassword=***"
    assert neat.db.engine.masked_url("neat.db") == "sqlite:///neat.db"


@pytest.mark.parametrize("module", [neat.db, neat.db.engine, neat.db.models, neat.db.records, neat.db.store])
def test_all_is_sorted_and_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    assert all(hasattr(module, name) for name in names)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("neat.db", "sqlite:///neat.db"),
        ("/var/lib/neat/neat.db", "sqlite:////var/lib/neat/neat.db"),
        ("sqlite://", "sqlite://"),
        ("postgresql://neat@db/neat", "postgresql+psycopg://neat@db/neat"),
        ("postgresql+psycopg2://neat@db/neat", "postgresql+psycopg2://neat@db/neat"),  # an explicit driver stays
        ("mysql://root@db/neat", "mysql+pymysql://root@db/neat"),
        ("mariadb://root@db/neat", "mariadb+pymysql://root@db/neat"),
    ],
)
def test_urls_pick_the_installed_drivers(given: str, expected: str) -> None:
    assert neat.db.engine.normalize_url(given).render_as_string(hide_password=False) == expected


# --- inventory -----------------------------------------------------------------------------------


def test_upsert_inserts_then_updates(store: Store) -> None:
    inventory(store)
    assert [h.name for h in store.hosts()] == ["h1", "h2", "h3"]
    assert store.hosts()[0] == host("h1", power_state="on")
    assert [(v.uuid, v.host) for v in store.vms()] == [("v1", "h1"), ("v2", "h1"), ("v3", "h2"), ("v4", None)]
    assert store.vms(host="h1")[0] == VmInfo(uuid="v1", host="h1", ram_mb=1024, vcpus=1, cpu_mips=1000.0)

    store.upsert_hosts([host("h2", cpu_mips=6000.0, cores=3, service_state="disabled")], at=t(60))
    store.upsert_vms([VmInfo(uuid="v1", host="h2", ram_mb=1024, vcpus=1)], at=t(60))  # migrated
    assert store.hosts()[1] == host("h2", cpu_mips=6000.0, cores=3, power_state="on", service_state="disabled")
    assert [v.uuid for v in store.vms(host="h2")] == ["v1", "v3"]
    assert store.vms(host="h2")[0].cpu_mips is None

    store.set_service_state("h2", "enabled", at=t(120))
    assert store.hosts()[1].service_state == "enabled"


def test_upsert_vms_refuses_unknown_hosts_and_stores_nothing(store: Store) -> None:
    inventory(store)
    with pytest.raises(StoreError, match=r"unknown hosts: 'h9'; upsert_hosts\(\) them first"):
        store.upsert_vms(
            [VmInfo(uuid="v5", host="h1", ram_mb=512, vcpus=1), VmInfo(uuid="v6", host="h9", ram_mb=512, vcpus=1)]
        )
    assert "v5" not in {v.uuid for v in store.vms()}


def test_remove_vms_and_hosts(store: Store) -> None:
    inventory(store)
    store.record_samples(step(0), hosts={"h1": 0.5}, vms={"v1": 0.25})
    assert store.remove_vms(["v1", "nope"]) == 1
    assert [v.uuid for v in store.vms(host="h1")] == ["v2"]
    assert store.remove_hosts(["h1"]) == 1
    assert [v.host for v in store.vms() if v.uuid == "v2"] == [None]  # unplaced, not deleted
    assert store.host_windows(1).names == ("h2", "h3")
    assert store.power_transitions(host="h1") == []


def test_records_validate_with_clear_messages() -> None:
    with pytest.raises(
        ValueError, match=r"The 'power_state' of HostInfo must be one of .*Got 'ON' instead. Did you mean 'on'"
    ):
        host("h1", power_state="ON")
    with pytest.raises(ValueError, match=r"The 'cores' of HostInfo must be an int in \(0, inf\). Got 0 instead"):
        host("h1", cores=0)
    with pytest.raises(ValueError, match=r"The 'target_host' of ActionSpec must be a non-empty string"):
        ActionSpec(kind="migrate", host="h1", vm_uuid="v1")
    with pytest.raises(ValueError, match=r"only a 'migrate' action takes vm_uuid"):
        ActionSpec(kind="suspend", host="h1", vm_uuid="v1")
    with pytest.raises(ValueError, match=r"The 'kind' of ActionSpec must be one of"):
        ActionSpec(kind="reboot", host="h1")


# --- samples -------------------------------------------------------------------------------------


def test_windows_leave_out_samples_after_until(store: Store) -> None:
    """v1 has samples at steps 0..3; with until = step 1 the newest two are those of steps 0 and 1."""
    inventory(store)
    for k in range(4):
        store.record_samples(step(k), vms={"v1": 0.1 * (k + 1)}, hosts={"h1": 0.1 * (k + 1)})
    vms = store.vm_windows(2, vms=["v1"], until=step(1))
    np.testing.assert_allclose(vms.utilization, [[0.1, 0.2]])
    hosts = store.host_windows(3, hosts=["h1"], since=step(1), until=step(2))
    assert hosts.n_valid.tolist() == [2]
    np.testing.assert_allclose(hosts.utilization[0, 1:], [0.2, 0.3])


def test_windows_read_by_time_equal_those_ranked_by_the_database(store: Store) -> None:
    """The service's path (``since`` given: samples read by time and ranked in numpy) gives what the
    database's ranking gives: 4 VMs with 0 to 6 samples at irregular instants (microseconds kept),
    windows of 3 and of 8."""
    inventory(store)
    rng = np.random.default_rng(7)
    offsets = {"v1": [0, 300, 600.5, 900, 1200, 1500], "v2": [10.25, 20.000001], "v3": [5]}
    for uuid, times in offsets.items():
        for s in times:
            store.record_samples(t(s), vms={uuid: float(rng.random())})
    for window in (3, 8):
        ranked = store.vm_windows(window, vms=["v1", "v2", "v3", "v4"])
        by_time = store.vm_windows(window, vms=["v1", "v2", "v3", "v4"], since=t(-1), until=t(10_000))
        assert by_time.names == ranked.names
        assert_array_equal(by_time.n_valid, ranked.n_valid)
        assert_array_equal(by_time.utilization, ranked.utilization)
        assert_array_equal(by_time.recorded_at, ranked.recorded_at)
    assert store.vm_windows(3, vms=["v1"], since=t(-1)).recorded_at[0, -1] == us(t(1500))
    assert store.vm_windows(3, vms=["v2"], since=t(-1)).recorded_at[0, -1] == us(t(20.000001))


def test_kept_samples_are_read_again_only_over_the_recent_span(store: Store) -> None:
    """keep_recent_samples: a later bounded read loads only the last ``reread_s`` and equals a full
    read, a new round and a sample written late within the span included; a sample stamped before
    the span and written after the read (or one deleted there) makes it read everything again."""
    inventory(store)
    names = ["v1", "v2", "v3"]

    def windows(window: int, since: int, until: int) -> object:
        return store.vm_windows(window, vms=names, since=step(since), until=step(until))

    def same(a: object, b: object) -> None:
        for field in ("n_valid", "utilization", "recorded_at"):
            assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)

    try:
        store.keep_recent_samples(2 * STEP_S)
        for k in range(6):
            store.record_samples(step(k), vms={"v1": 0.1 + 0.01 * k, "v2": 0.5 + 0.01 * k})
        windows(4, 0, 5)
        store.record_samples(step(6), vms={"v1": 0.2, "v2": 0.6, "v3": 0.7})
        store.record_samples(t(4.5 * STEP_S), vms={"v2": 0.9})  # late, within the span read again
        later = windows(8, 1, 6)
        store.keep_recent_samples(None)
        same(later, windows(8, 1, 6))
        assert later.n_valid.tolist() == [6, 7, 1]  # type: ignore[attr-defined]

        store.keep_recent_samples(2 * STEP_S)
        windows(8, 1, 6)
        store.record_samples(t(2 * STEP_S + 1), vms={"v1": 0.99})  # before the span read again
        kept = windows(8, 1, 6)
        assert 0.99 in kept.utilization  # type: ignore[attr-defined]
        store.prune_samples(max_age_s=1, keep_samples=1, now=step(6))  # deletes the span's samples
        pruned = windows(8, 1, 6)
        store.keep_recent_samples(None)
        same(pruned, windows(8, 1, 6))
        store.keep_recent_samples(2 * STEP_S)
        store.keep_recent_samples(2 * STEP_S)
        windows(8, 0, 6)  # reaching further back than what is kept: a full read
        cached = windows(8, 2, 6)
        store.keep_recent_samples(None)
        same(cached, windows(8, 2, 6))
    finally:
        store.keep_recent_samples(None)


def test_samples_come_back_as_right_aligned_nan_padded_windows(store: Store) -> None:
    """h1 has 5 samples 0.1..0.5 (steps 0-4), h2 has 0.25, 0.75 (steps 3, 4), h3 none.

    window 4: h1 -> its newest four [0.2, 0.3, 0.4, 0.5]; h2 -> [nan, nan, 0.25, 0.75]; h3 all NaN.
    window 6: h1 -> [nan, 0.1, 0.2, 0.3, 0.4, 0.5] (n_valid 5).
    """
    inventory(store)
    for k in reversed(range(5)):  # stored newest first: the order must come from the timestamps
        store.record_samples(step(k), hosts={"h1": (k + 1) / 10})
    store.record_samples(step(3), hosts={"h2": 0.25})
    store.record_samples(step(4), hosts={"h2": 0.75})

    w = store.host_windows(4)
    nan = np.nan
    assert w.names == ("h1", "h2", "h3")
    assert w.utilization.dtype == np.float64
    assert w.utilization.shape == (3, 4)
    assert_array_equal(w.utilization, [[0.2, 0.3, 0.4, 0.5], [nan, nan, 0.25, 0.75], [nan, nan, nan, nan]])
    assert_array_equal(w.n_valid, [4, 2, 0])
    assert w.n_valid.dtype == np.intp
    assert_array_equal(w.recorded_at[0], [us(step(k)) for k in (1, 2, 3, 4)])
    assert_array_equal(np.isnat(w.recorded_at[1]), [True, True, False, False])
    assert w.recorded_at[1, -1] == us(step(4))

    wide = store.host_windows(6)
    assert_array_equal(wide.utilization[0], [nan, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert_array_equal(wide.n_valid, [5, 2, 0])

    one = store.host_windows(3, hosts=["h3", "h1"])  # a batch in the caller's order
    assert one.names == ("h3", "h1")
    assert_array_equal(one.utilization, [[nan, nan, nan], [0.3, 0.4, 0.5]])
    assert_array_equal(one.n_valid, [0, 3])

    recent = store.host_windows(4, since=step(3))  # steps 3 and 4 only
    assert_array_equal(recent.utilization, [[nan, nan, 0.4, 0.5], [nan, nan, 0.25, 0.75], [nan, nan, nan, nan]])
    assert_array_equal(recent.n_valid, [2, 2, 0])

    empty = store.host_windows(0)
    assert empty.utilization.shape == (3, 0)
    assert_array_equal(empty.n_valid, [0, 0, 0])


def test_vm_windows_by_host_and_by_uuid(store: Store) -> None:
    """v1: 0.1, 0.2, 0.3 (steps 0-2); v2: 0.5 (step 2); v3 on h2: 0.9 (step 2)."""
    inventory(store)
    store.record_samples(step(0), vms={"v1": 0.1})
    store.record_samples(step(1), vms={"v1": 0.2})
    store.record_samples(step(2), vms={"v1": 0.3, "v2": 0.5, "v3": 0.9})

    on_h1 = store.vm_windows(2, host="h1")
    assert on_h1.names == ("v1", "v2")
    assert_array_equal(on_h1.utilization, [[0.2, 0.3], [np.nan, 0.5]])
    assert_array_equal(on_h1.n_valid, [2, 1])

    picked = store.vm_windows(1, vms=["v3", "v1"])
    assert picked.names == ("v3", "v1")
    assert_array_equal(picked.utilization, [[0.9], [0.3]])

    recent = store.vm_windows(3, host="h1", since=step(1))  # v1's step 0 left out
    assert_array_equal(recent.utilization, [[np.nan, 0.2, 0.3], [np.nan, np.nan, 0.5]])

    everyone = store.vm_windows(1)
    assert everyone.names == ("v1", "v2", "v3", "v4")
    assert_array_equal(everyone.n_valid, [1, 1, 1, 0])


def test_windows_refuse_unknown_and_repeated_names(store: Store) -> None:
    inventory(store)
    with pytest.raises(StoreError, match="unknown hosts: 'h9'"):
        store.host_windows(3, hosts=["h1", "h9"])
    with pytest.raises(ValueError, match="host names must be unique; repeated: h1"):
        store.host_windows(3, hosts=["h1", "h1"])
    with pytest.raises(ValueError, match=r"The 'window' of Store.\*_windows must be an int in \[0, inf\). Got -1"):
        store.host_windows(-1)


def test_a_batch_is_one_transaction(store: Store) -> None:
    """A batch whose VM part fails in the database leaves its host part unstored too."""
    inventory(store)
    store.record_samples(step(0), hosts={"h1": 0.5}, vms={"v1": 0.5})
    # h2@step0 is new, v1@step0 already exists: the VM insert fails after the host insert ran.
    with pytest.raises(StoreError, match="nothing was recorded"):
        store.record_samples(step(0), hosts={"h2": 0.3}, vms={"v2": 0.1, "v1": 0.9})
    assert_array_equal(store.host_windows(5, hosts=["h2"]).n_valid, [0])
    assert_array_equal(store.vm_windows(5, vms=["v1", "v2"]).utilization[:, -1], [0.5, np.nan])

    with pytest.raises(StoreError, match=r"unknown VMs: 'v9'; upsert_vms\(\) them first; nothing was recorded"):
        store.record_samples(step(1), hosts={"h1": 0.6}, vms={"v1": 0.2, "v9": 0.1})
    with pytest.raises(ValueError, match=r"host 'h1': utilization must be a fraction in \[0, 1\]; got 85.0, which"):
        store.record_samples(step(1), hosts={"h1": 85.0}, vms={"v1": 0.2})
    with pytest.raises(ValueError, match=r"VM 'v1': utilization must be a fraction in \[0, 1\]; got nan"):
        store.record_samples(step(1), vms={"v1": float("nan")})
    assert_array_equal(store.host_windows(5, hosts=["h1"]).n_valid, [1])
    assert_array_equal(store.vm_windows(5, vms=["v1"]).n_valid, [1])


def test_unknown_names_can_be_skipped(store: Store) -> None:
    inventory(store)
    skipped = store.record_samples(step(0), hosts={"h1": 0.5}, vms={"v1": 0.5, "v9": 0.1}, on_unknown="skip")
    assert skipped == ["v9"]
    assert_array_equal(store.vm_windows(1, vms=["v1"]).utilization, [[0.5]])
    assert store.record_samples(step(1), hosts={"h1": 0.5}) == []


# --- plans and actions ---------------------------------------------------------------------------

PLAN = [
    ActionSpec(kind="migrate", host="h1", vm_uuid="v1", target_host="h2"),
    ActionSpec(kind="disable", host="h1"),
    ActionSpec(kind="suspend", host="h1"),
]


def test_plan_lifecycle(store: Store) -> None:
    """Migrate v1 (runs 10 s -> 40 s: 30 s), disabling h1 fails, the suspend is cancelled."""
    plan = store.create_plan(PLAN, created_by="gm-1", lease_term=3, at=T0)
    assert (plan.status, plan.created_by, plan.lease_term, plan.created_at) == ("pending", "gm-1", 3, T0)
    assert [a.kind for a in plan.actions] == ["migrate", "disable", "suspend"]
    assert [a.position for a in plan.actions] == [0, 1, 2]
    assert {a.status for a in plan.actions} == {"pending"}
    assert (plan.actions[0].vm_uuid, plan.actions[0].target_host) == ("v1", "h2")
    migrate, disable, suspend = (a.id for a in plan.actions)

    running = store.start_action(migrate, at=t(10))
    assert (running.status, running.started_at, running.finished_at) == ("running", t(10), None)
    assert store.plan(plan.id).status == "running"
    done = store.finish_action(migrate, "succeeded", at=t(40))
    assert (done.status, done.finished_at, done.duration_s, done.error) == ("succeeded", t(40), 30.0, None)

    store.start_action(disable, at=t(41))
    failed = store.finish_action(disable, "failed", error="nova: service not found", duration_s=0.5, at=t(45))
    assert (failed.status, failed.duration_s, failed.error) == ("failed", 0.5, "nova: service not found")
    assert store.plan(plan.id).status == "running"
    assert [p.id for p in store.plans(unfinished=True)] == [plan.id]

    assert store.cancel_pending(plan.id, reason="an earlier action failed", at=t(46)) == 1
    final = store.plan(plan.id)
    assert [a.status for a in final.actions] == ["succeeded", "failed", "cancelled"]
    assert final.actions[2].error == "an earlier action failed"
    assert (final.status, final.started_at, final.finished_at) == ("failed", t(10), t(46))
    assert store.plans(unfinished=True) == []

    with pytest.raises(StoreError, match=r"action \d+ is 'succeeded'; only a pending action can become 'running'"):
        store.start_action(migrate)
    with pytest.raises(StoreError, match=r"is 'cancelled'; only a pending or running action can become 'failed'"):
        store.finish_action(suspend, "failed")
    with pytest.raises(StoreError, match="unknown action: -1"):
        store.start_action(-1)
    with pytest.raises(StoreError, match="unknown plan: -1"):
        store.plan(-1)


def test_plan_statuses_and_listing(store: Store) -> None:
    empty = store.create_plan([], at=T0)
    assert (empty.status, empty.actions, empty.finished_at) == ("succeeded", (), T0)
    ok = store.create_plan(PLAN[1:], at=t(1))
    for action in ok.actions:
        store.finish_action(action.id, "succeeded", at=t(2))  # finished without a recorded start
    ok = store.plan(ok.id)
    assert (ok.status, ok.started_at, ok.actions[0].duration_s) == ("succeeded", None, None)
    cancelled = store.create_plan(PLAN[1:], at=t(3))
    store.cancel_pending(cancelled.id)
    assert store.plan(cancelled.id).status == "cancelled"
    assert [p.id for p in store.plans()] == [cancelled.id, ok.id, empty.id]
    assert [p.id for p in store.plans(limit=1)] == [cancelled.id]


def test_a_plan_is_claimed_once_before_it_expires(store: Store) -> None:
    """A dry-run plan made at 0, expiring at 900 s: claimed at 10 by A; B is told who has it."""
    plan = store.create_plan(PLAN, created_by="neat plan", at=T0, expires_at=t(900), dry_run=True)
    assert (plan.dry_run, plan.expires_at, plan.claimed_by, plan.claimed_at) == (True, t(900), None, None)
    assert plan.state(t(899)) == "pending" and plan.state(t(900)) == "expired"
    claimed = store.claim_plan(plan.id, "apply:A", lease_term=4, now=t(10))
    assert (claimed.claimed_by, claimed.claimed_at, claimed.lease_term) == ("apply:A", t(10), 4)
    with pytest.raises(PlanRefused, match=r"plan \d+ was claimed by apply:A at 2024-03-01T12:00:10\+00:00"):
        store.claim_plan(plan.id, "apply:B", now=t(11))

    stale = store.create_plan(PLAN, at=T0, expires_at=t(900), dry_run=True)
    with pytest.raises(PlanRefused, match=r"expired at 2024-03-01T12:15:00\+00:00 .*'neat plan'"):
        store.claim_plan(stale.id, "apply:A", now=t(900))
    assert store.plan(stale.id).claimed_by is None

    started = store.create_plan(PLAN, at=T0)  # no expiry
    store.start_action(started.actions[0].id, at=t(1))
    with pytest.raises(PlanRefused, match="is running: only a plan whose actions are all pending"):
        store.claim_plan(started.id, "apply:A", now=t(2))
    own = store.create_plan(PLAN, created_by="gm", claimed_by="gm", at=t(3))
    assert (own.claimed_by, own.claimed_at, own.dry_run) == ("gm", t(3), False)
    with pytest.raises(PlanRefused, match="claimed by gm"):
        store.claim_plan(own.id, "apply:A", now=t(4))
    with pytest.raises(PlanRefused, match="unknown plan: -1"):
        store.claim_plan(-1, "apply:A")


def test_concurrent_claims_have_one_winner(racing_store: Store) -> None:
    plan = racing_store.create_plan(PLAN, at=T0, expires_at=t(900), dry_run=True)
    barrier = threading.Barrier(CONTENDERS)

    def attempt(i: int) -> str | None:
        barrier.wait()
        try:
            return racing_store.claim_plan(plan.id, f"apply-{i}", now=t(5)).claimed_by
        except PlanRefused:
            return None

    with ThreadPoolExecutor(CONTENDERS) as pool:
        winners = [w for w in pool.map(attempt, range(CONTENDERS)) if w is not None]
    assert len(winners) == 1
    assert racing_store.plan(plan.id).claimed_by == winners[0]


def test_last_migrations_reads_every_plan_since(store: Store) -> None:
    """v1 moved at 40 and at 100, v2 failed, v3 moved at 10 (before ``since``); 60 empty plans after."""
    plan = store.create_plan(
        [
            ActionSpec(kind="migrate", host="h1", vm_uuid="v1", target_host="h2"),
            ActionSpec(kind="migrate", host="h1", vm_uuid="v2", target_host="h2"),
            ActionSpec(kind="migrate", host="h2", vm_uuid="v3", target_host="h1"),
            ActionSpec(kind="migrate", host="h2", vm_uuid="v1", target_host="h3"),
        ],
        at=T0,
    )
    one, two, three, again = (a.id for a in plan.actions)
    store.finish_action(one, "succeeded", at=t(40))
    store.finish_action(two, "failed", at=t(41))
    store.finish_action(three, "succeeded", at=t(10))
    store.finish_action(again, "succeeded", at=t(100))
    for k in range(60):
        store.create_plan([], at=t(200 + k))
    assert store.last_migrations(since=t(20)) == {"v1": t(100)}
    assert store.last_migrations(since=t(0), vms=["v3", "v9"]) == {"v3": t(10)}


# --- power transitions ---------------------------------------------------------------------------


def test_power_transitions_are_logged_in_order(store: Store) -> None:
    """h1 is added on at 0, suspends at 100 (suspended at 110), wakes at 200 (on at 230)."""
    store.upsert_hosts([host("h1", power_state="on"), host("h2", power_state="off")], at=T0)
    plan = store.create_plan([ActionSpec(kind="suspend", host="h1")], at=t(99))
    store.record_power_transition("h1", "suspending", at=t(100), action_id=plan.actions[0].id)
    store.record_power_transition("h1", "suspended", at=t(110))
    store.record_power_transition("h1", "waking", at=t(200))
    last = store.record_power_transition("h1", "on", at=t(230))
    assert last is not None
    assert (last.host, last.from_state, last.to_state, last.changed_at) == ("h1", "waking", "on", t(230))
    assert store.record_power_transition("h1", "on", at=t(231)) is None  # no change, nothing logged

    log = store.power_transitions(host="h1")
    assert [(p.from_state, p.to_state) for p in log] == [
        (None, "on"),
        ("on", "suspending"),
        ("suspending", "suspended"),
        ("suspended", "waking"),
        ("waking", "on"),
    ]
    assert [p.changed_at for p in log] == [T0, t(100), t(110), t(200), t(230)]
    assert log[1].action_id == plan.actions[0].id
    assert [(p.host, p.to_state) for p in store.power_transitions(until=t(100))] == [("h1", "on"), ("h2", "off")]
    assert [p.to_state for p in store.power_transitions(since=t(110), until=t(230))] == ["suspended", "waking"]

    store.upsert_hosts([host("h2", power_state="on")], at=t(300))  # an inventory sync sees h2 on
    assert [(p.from_state, p.to_state, p.changed_at) for p in store.power_transitions(host="h2")] == [
        (None, "off", T0),
        ("off", "on", t(300)),
    ]
    assert {h.name: h.power_state for h in store.hosts()} == {"h1": "on", "h2": "on"}

    # A sync that cannot see power states keeps them; a new host it adds starts "unknown".
    store.record_power_transition("h1", "suspended", at=t(400))
    store.upsert_hosts([host("h1", cores=4), host("h3")], at=t(500))
    assert {h.name: (h.power_state, h.cores) for h in store.hosts()} == {
        "h1": ("suspended", 4),
        "h2": ("on", 2),
        "h3": ("unknown", 2),
    }
    assert [(p.host, p.from_state, p.to_state) for p in store.power_transitions(since=t(400))] == [
        ("h1", "on", "suspended"),
        ("h3", None, "unknown"),
    ]
    with pytest.raises(StoreError, match="unknown host: 'h9'"):
        store.record_power_transition("h9", "off")
    with pytest.raises(ValueError, match=r"The 'to_state' of Store\.record_power_transition must be one of"):
        store.record_power_transition("h1", "hibernating")


# --- the leader lease ----------------------------------------------------------------------------


def test_lease_holder_renews_expiry_hands_over(store: Store) -> None:
    """ttl 30 s: A takes it at 0, renews at 20 (to 50); B fails at 10 and 49, wins at 50."""
    assert store.lease() is None
    a = store.acquire_lease("A", ttl_s=30, now=T0)
    assert a is not None
    assert (a.holder, a.term, a.acquired_at, a.expires_at) == ("A", 1, T0, t(30))
    assert store.acquire_lease("B", ttl_s=30, now=t(10)) is None
    renewed = store.renew_lease("A", ttl_s=30, now=t(20))
    assert renewed is not None
    assert (renewed.term, renewed.acquired_at, renewed.renewed_at, renewed.expires_at) == (1, T0, t(20), t(50))
    assert store.acquire_lease("B", ttl_s=30, now=t(49)) is None

    b = store.acquire_lease("B", ttl_s=30, now=t(50))
    assert b is not None
    assert (b.holder, b.term, b.acquired_at, b.expires_at) == ("B", 2, t(50), t(80))
    assert store.renew_lease("A", ttl_s=30, now=t(51)) is None
    assert store.acquire_lease("A", ttl_s=30, now=t(51)) is None
    assert store.release_lease("A", now=t(52)) is False
    kept = store.acquire_lease("B", ttl_s=30, now=t(60))  # acquire by the holder renews
    assert kept is not None
    assert (kept.term, kept.expires_at) == (2, t(90))

    assert store.release_lease("B", now=t(61)) is True
    c = store.acquire_lease("A", ttl_s=30, now=t(61))
    assert c is not None
    assert (c.holder, c.term) == ("A", 3)
    assert store.lease() == c
    other = store.acquire_lease("B", ttl_s=30, name="another-lease", now=t(61))
    assert other is not None
    assert other.term == 1
    with pytest.raises(ValueError, match=r"The 'ttl_s' of a lease must be a float in \(0, inf\). Got 0 instead"):
        store.acquire_lease("A", ttl_s=0)


CONTENDERS = 6


def test_a_gone_holders_lease_is_taken_over_at_once(store: Store) -> None:
    """A holds until 30; B may take it over at 5 naming A (A's process is gone), not naming C."""
    assert store.acquire_lease("A", ttl_s=30, now=T0) is not None
    assert store.acquire_lease("B", ttl_s=30, now=t(5), take_over="C") is None
    taken = store.acquire_lease("B", ttl_s=30, now=t(5), take_over="A")
    assert taken is not None and (taken.holder, taken.term, taken.expires_at) == ("B", 2, t(35))
    assert store.acquire_lease("D", ttl_s=30, now=t(6), take_over="A") is None  # A no longer holds it


def _race(store: Store, now: datetime, prefix: str, contenders: int = CONTENDERS) -> list[str]:
    """Contenders ``<prefix>-0``, ... call acquire_lease at once (own thread, own connection); the winners."""
    barrier = threading.Barrier(contenders)

    def attempt(i: int) -> str | None:
        barrier.wait()
        lease = store.acquire_lease(f"{prefix}-{i}", ttl_s=30, now=now)
        return None if lease is None else lease.holder

    with ThreadPoolExecutor(contenders) as pool:
        return [w for w in pool.map(attempt, range(contenders)) if w is not None]


@pytest.fixture
def racing_store(database_url: str, store: Store) -> Iterator[Store]:
    """A store with a connection for each contender: separate database sessions, as processes have."""
    racing = Store.from_url(database_url, pool_size=CONTENDERS, max_overflow=0)
    yield racing
    racing.close()


def test_lease_race_has_one_winner(racing_store: Store) -> None:
    first = _race(racing_store, T0, "early")  # nobody ever held it: the INSERT race
    assert len(first) == 1
    assert _race(racing_store, t(10), "other") == []  # held (until 30 s): nobody else wins
    second = _race(racing_store, t(30), "late")  # expired: the conditional UPDATE race
    assert len(second) == 1
    lease = racing_store.lease()
    assert lease is not None
    assert (lease.holder, lease.term) == (second[0], 2)


def test_deadlock_victims_are_recognised() -> None:
    """acquire_lease retries a transaction the server rolled back to break a deadlock, nothing else."""
    import psycopg.errors
    import pymysql.err
    from sqlalchemy.exc import DBAPIError

    from neat.db.store import _is_deadlock

    def wrap(orig: BaseException) -> DBAPIError:
        return DBAPIError("INSERT ...", {}, orig)

    assert _is_deadlock(wrap(pymysql.err.OperationalError(1213, "Deadlock found", sqlstate="40001")))
    assert _is_deadlock(wrap(pymysql.err.OperationalError(1213, "Deadlock found")))
    assert _is_deadlock(wrap(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not _is_deadlock(wrap(pymysql.err.OperationalError(2003, "Can't connect")))
    assert not _is_deadlock(wrap(psycopg.errors.UniqueViolation("duplicate key")))


# --- retention -----------------------------------------------------------------------------------


def test_prune_keeps_the_longest_detector_history(store: Store) -> None:
    """now = step 9 + 60 s; max age 1000 s -> cutoff = 2760 - 1000 = 1760 s: steps 0-5 (0..1500 s) are old.

    h1 has steps 0-9. keep 6 -> its newest six (steps 4-9) stay, so steps 4 and 5 survive though
    old; steps 0-3 go (4 deleted). h2 has only steps 0, 1: both old, both kept (fewer than 6).
    v1 has steps 0-2: all old, all kept (fewer than 6).
    """
    inventory(store)
    for k in range(10):
        store.record_samples(step(k), hosts={"h1": (k + 1) / 10})
    store.record_samples(step(0), hosts={"h2": 0.1}, vms={"v1": 0.1})
    store.record_samples(step(1), hosts={"h2": 0.2}, vms={"v1": 0.2})
    store.record_samples(step(2), vms={"v1": 0.3})
    now = step(9) + timedelta(seconds=60)

    result = store.prune_samples(max_age_s=1000, keep_samples=6, now=now)
    assert (result.host_samples, result.vm_samples) == (4, 0)
    w = store.host_windows(10, hosts=["h1", "h2"])
    assert_array_equal(w.n_valid, [6, 2])
    assert_array_equal(w.utilization[0, -6:], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert_array_equal(store.vm_windows(3, vms=["v1"]).utilization, [[0.1, 0.2, 0.3]])
    assert store.prune_samples(max_age_s=1000, keep_samples=6, now=now).host_samples == 0  # idempotent

    # Without the guard every old sample goes: h1 steps 4, 5 and h2 steps 0, 1; v1 steps 0-2.
    result = store.prune_samples(max_age_s=1000, keep_samples=0, now=now)
    assert (result.host_samples, result.vm_samples) == (4, 3)
    assert_array_equal(store.host_windows(10, hosts=["h1", "h2"]).n_valid, [4, 0])


def test_prune_validates_its_parameters(store: Store) -> None:
    with pytest.raises(ValueError, match=r"The 'max_age_s' of Store.prune_samples must be a float in \(0, inf\)"):
        store.prune_samples(max_age_s=-1, keep_samples=1)
    with pytest.raises(ValueError, match=r"The 'keep_samples' of Store.prune_samples must be an int in \[0, inf\)"):
        store.prune_samples(max_age_s=60, keep_samples=1.5)  # type: ignore[arg-type]


# --- time zones ----------------------------------------------------------------------------------


def test_instants_not_wall_clocks_order_samples(store: Store) -> None:
    """10:00+02:00 (08:00Z) < 03:30-05:00 (08:30Z) < 09:00Z, whatever their wall-clock text says."""
    inventory(store)
    store.record_samples(datetime(2024, 3, 1, 9, 0, tzinfo=UTC), hosts={"h1": 0.3})
    store.record_samples(datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))), hosts={"h1": 0.1})
    store.record_samples(datetime(2024, 3, 1, 3, 30, tzinfo=timezone(timedelta(hours=-5))), hosts={"h1": 0.2})
    w = store.host_windows(3, hosts=["h1"])
    assert_array_equal(w.utilization, [[0.1, 0.2, 0.3]])
    expected = np.array(["2024-03-01T08:00", "2024-03-01T08:30", "2024-03-01T09:00"], dtype="datetime64[us]")
    assert_array_equal(w.recorded_at[0], expected)


def test_timestamps_come_back_aware_in_utc(store: Store) -> None:
    local = datetime(2024, 3, 1, 17, 30, 0, 123456, tzinfo=IST)  # 12:00:00.123456Z
    plan = store.create_plan(PLAN, at=local)
    assert plan.created_at == T0 + timedelta(microseconds=123456)
    assert plan.created_at.tzinfo is UTC
    action = store.start_action(plan.actions[0].id, at=local)
    assert action.started_at is not None
    assert (action.started_at.tzinfo, action.started_at.microsecond) == (UTC, 123456)
    lease = store.acquire_lease("A", ttl_s=30, now=local)
    assert lease is not None
    assert lease.expires_at == T0 + timedelta(seconds=30, microseconds=123456)
    # B, on a UTC clock 1 s later, still sees A's lease held; 31 s later, expired.
    assert store.acquire_lease("B", ttl_s=30, now=T0 + timedelta(seconds=1)) is None
    assert store.acquire_lease("B", ttl_s=30, now=T0 + timedelta(seconds=31)) is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    inventory(store)
    with pytest.raises(ValueError, match=r"recorded_at must be timezone-aware; got the naive datetime 2024-03-01T12"):
        store.record_samples(datetime(2024, 3, 1, 12, 0), hosts={"h1": 0.5})
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        store.acquire_lease("A", ttl_s=30, now=datetime(2024, 3, 1, 12, 0))


@pytest.fixture
def ist_store(backend: str, database_url: str, store: Store) -> Iterator[Store]:
    """A second store whose database sessions run in UTC+05:30 (servers only; SQLite has none)."""
    connect_args = {
        "postgresql": {"options": "-c timezone=Asia/Kolkata"},
        "mysql": {"init_command": "SET time_zone = '+05:30'"},
    }.get(backend, {})
    other = Store.from_url(database_url, connect_args=connect_args, poolclass=NullPool)
    yield other
    other.close()


def test_session_time_zone_does_not_shift_timestamps(store: Store, ist_store: Store) -> None:
    inventory(store)
    ist_store.record_samples(step(0), hosts={"h1": 0.1})
    store.record_samples(step(1), hosts={"h1": 0.2})
    for reader in (store, ist_store):
        w = reader.host_windows(2, hosts=["h1"])
        assert_array_equal(w.recorded_at[0], [us(step(0)), us(step(1))])
        assert_array_equal(w.utilization[0], [0.1, 0.2])
    ist_store.record_power_transition("h1", "off", at=step(2))
    assert store.power_transitions(host="h1", since=step(2))[0].changed_at == step(2)
    pruned = ist_store.prune_samples(max_age_s=STEP_S, keep_samples=0, now=step(1) + timedelta(seconds=1))
    assert pruned.host_samples == 1  # step 0 only

"""The executor against a fake cloud (the real one is in tests/integration)."""

from __future__ import annotations

import threading

from neat.service.config import Limits
from neat.service.executor import (
    COMPLETED,
    FAILED,
    SKIPPED,
    TIMEOUT,
    Busy,
    Executor,
    MigrationTimeout,
    SchedulerRejected,
)
from neat.service.planner import DISABLE, MIGRATE, PlannedAction


class FakeCloud:
    """Servers on hosts; scripted outcomes per server: "ok", "reject", "timeout", "busy-once", "error"."""

    def __init__(self, placement: dict[str, str], script: dict[str, str] | None = None, disabled=()):
        self.placement = dict(placement)
        self.script = script or {}
        self.disabled = set(disabled)
        self.calls: list[tuple] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.busy_seen: set[str] = set()

    def server_host(self, server_id):
        return self.placement.get(server_id)

    def host_usable(self, host):
        return host not in self.disabled

    def live_migrate(self, server_id, host):
        self.calls.append(("migrate", server_id, host))
        behaviour = self.script.get(server_id, "ok")
        if behaviour == "reject":
            raise SchedulerRejected("No valid host was found")
        if behaviour == "busy-once" and server_id not in self.busy_seen:
            self.busy_seen.add(server_id)
            raise Busy("task_state migrating")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._target = getattr(self, "_target", {})
        self._target[server_id] = host

    def wait_migration(self, server_id, timeout_s):
        try:
            behaviour = self.script.get(server_id, "ok")
            if behaviour == "timeout":
                raise MigrationTimeout(f"{server_id}: still running after {timeout_s} s")
            if behaviour == "error":
                return "error"
            threading.Event().wait(0.01)
            self.placement[server_id] = self._target[server_id]
            return "completed"
        finally:
            with self.lock:
                self.in_flight -= 1

    def servers_on(self, host):
        return [s for s, h in self.placement.items() if h == host]

    def disable_host(self, host, reason):
        self.calls.append(("disable", host, reason))
        self.disabled.add(host)


class Recorder:
    def __init__(self):
        self.events = []

    def started(self, index):
        self.events.append(("started", index))

    def finished(self, index, status, error=None):
        self.events.append(("finished", index, status))


def plan(*moves: tuple[str, str, str], disable: tuple[str, ...] = ()) -> list[PlannedAction]:
    actions = [PlannedAction(MIGRATE, host=src, server=vm, target=dst) for vm, src, dst in moves]
    return actions + [PlannedAction(DISABLE, host=h) for h in disable]


def run(cloud, actions, **limits):
    recorder = Recorder()
    outcomes = Executor(cloud, recorder, Limits(**limits), sleep=lambda s: None).apply(actions)
    return outcomes, recorder


def test_migrations_then_the_emptied_host_is_disabled_and_everything_is_recorded():
    cloud = FakeCloud({"vm1": "c1", "vm2": "c1", "vm3": "c2"})
    outcomes, recorder = run(cloud, plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)))
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, COMPLETED]
    assert cloud.placement == {"vm1": "c2", "vm2": "c2", "vm3": "c2"}
    assert ("disable", "c1", "neat: host emptied by consolidation") in cloud.calls
    assert sorted(e for e in recorder.events if e[0] == "finished") == [
        ("finished", 0, COMPLETED),
        ("finished", 1, COMPLETED),
        ("finished", 2, COMPLETED),
    ]


def test_a_rejected_target_fails_leaves_the_vm_and_keeps_the_source_enabled():
    cloud = FakeCloud({"vm1": "c1"}, script={"vm1": "reject"})
    outcomes, _ = run(cloud, plan(("vm1", "c1", "c2"), disable=("c1",)))
    assert outcomes[0].status == FAILED and "rejected" in outcomes[0].error
    assert outcomes[0].attempts == 1  # no retry after a scheduler refusal
    assert outcomes[1].status == SKIPPED
    assert cloud.placement["vm1"] == "c1"
    assert "c1" not in cloud.disabled


def test_a_migration_that_does_not_finish_in_time_never_disables_its_source():
    cloud = FakeCloud({"vm1": "c1"}, script={"vm1": "timeout"})
    outcomes, _ = run(cloud, plan(("vm1", "c1", "c2"), disable=("c1",)), migration_timeout_s=5)
    assert outcomes[0].status == TIMEOUT
    assert outcomes[1].status == SKIPPED and "did not complete" in outcomes[1].error
    assert "c1" not in cloud.disabled


def test_busy_is_retried_within_bounds():
    cloud = FakeCloud({"vm1": "c1", "vm2": "c1"}, script={"vm1": "busy-once", "vm2": "error"})
    outcomes, _ = run(cloud, plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2")), migration_retries=2)
    assert outcomes[0].status == COMPLETED and outcomes[0].attempts == 2
    assert outcomes[1].status == FAILED and outcomes[1].attempts == 3  # 1 try + 2 retries


def test_preconditions_skip_moved_vanished_and_unusable():
    cloud = FakeCloud({"vm1": "c3", "vm3": "c1"}, disabled={"c4"})
    outcomes, _ = run(cloud, plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), ("vm3", "c1", "c4")))
    assert [o.status for o in outcomes] == [SKIPPED, SKIPPED, SKIPPED]
    assert [c for c in cloud.calls if c[0] == "migrate"] == []


def test_a_host_still_showing_servers_is_not_disabled():
    cloud = FakeCloud({"vm1": "c1", "vm9": "c1"})
    outcomes, _ = run(cloud, plan(("vm1", "c1", "c2"), disable=("c1",)))
    assert outcomes[1].status == SKIPPED and "still shows 1" in outcomes[1].error


def test_concurrency_never_exceeds_the_limit():
    placement = {f"vm{i}": "c1" for i in range(8)}
    cloud = FakeCloud(placement)
    run(cloud, plan(*[(f"vm{i}", "c1", "c2") for i in range(8)]), max_concurrent_migrations=3)
    assert 1 <= cloud.max_in_flight <= 3

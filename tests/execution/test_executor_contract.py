"""The executor's contract, run against both computes it drives.

Every test taking the ``cloud`` fixture runs twice: against the unit tests' fake cloud
(:class:`tests.execution.fakes.FakeCloud`, hosts and servers by name) and against the simulator's
compute (:class:`neat.simulation.compute.SimulatedCompute`, hosts and VMs by index, migrations in
simulated time). A test is written once, with names ("c1", "vm1"); a small adapter per compute
translates them and scripts what the test needs where that compute can show it:

- a refusal: the fake refuses the server; the simulated compute refuses a target without the RAM;
- a migration that does not end in time: the fake's never ends; the simulated one lasts longer
  than ``migration_timeout_s``;
- a busy server: the fake answers busy for a number of starts; the simulated compute answers busy
  while the VM is migrating, here in place, started before the plan (as a previous cycle's would be).

Tests taking ``fake`` run on the fake cloud only: what only a real cloud can show (a migration
that ends in "error", a failing service call). Tests taking ``sim`` run on the simulated compute
only: simulated time, and CloudSim's chained migrations. The real cloud's side of the contract
(:class:`neat.service.nova.NovaCompute` against a real Nova) is in tests/integration.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pytest

from neat.decision.limits import Limits
from neat.decision.migration import migration_time_s
from neat.execution.executor import (
    CANCELLED,
    COMPLETED,
    DISABLE,
    ENABLE,
    FAILED,
    LOST,
    MIGRATE,
    SKIPPED,
    TIMEOUT,
    Action,
    Executor,
    Outcome,
    ServerGone,
    Stop,
)
from neat.simulation.compute import SimulatedCompute
from tests.execution.fakes import FakeCloud

HOSTS = ("c1", "c2", "c3", "c4")
#: The executor's pause before a retry (the simulated compute's clock moves by it).
RETRY_PAUSE_S = 2.0
#: What a reason names when the executor disables a host.
REASON = "neat: host emptied by consolidation"


# -- what both computes are driven through ----------------------------------------------------
class Recorder:
    """An ActionLog keeping every call; ``refuse`` (index -> exception) makes ``started`` raise,
    ``broken_outcomes`` makes every ``finished`` raise after recording."""

    def __init__(self, refuse: Mapping[int, Exception] | None = None, broken_outcomes: bool = False) -> None:
        self.events: list[tuple] = []
        self.refuse = dict(refuse or {})
        self.broken_outcomes = broken_outcomes

    def started(self, index: int) -> None:
        if index in self.refuse:
            raise self.refuse[index]
        self.events.append(("started", index))

    def finished(self, index: int, status: str, error: str | None = None) -> None:
        self.events.append(("finished", index, status))
        if self.broken_outcomes:
            raise ConnectionError("the database went away")


class Watch:
    """A Compute in front of another: records the executor's starts and waits (with names) and how
    many migrations it had in flight at most; everything else goes to the compute behind it."""

    def __init__(self, inner: Any, adapter: Cloud) -> None:
        self.inner = inner
        self.adapter = adapter
        self.events: list[tuple[str, ...]] = []
        self.in_flight: set[Hashable] = set()
        self.peak = 0

    def _fault(self, call: str, key: Hashable) -> None:
        """Raise what the test scripted for this call (see :meth:`Cloud.fail`)."""
        fault = self.adapter.faults.get((call, str(key)))
        if fault is not None:
            raise fault

    def server_host(self, server: Hashable) -> Any:
        self._fault("server_host", self.adapter.server_name(server))
        return self.inner.server_host(server)

    def live_migrate(self, server: Hashable, host: Hashable) -> None:
        self._fault("live_migrate", self.adapter.server_name(server))
        self.inner.live_migrate(server, host)
        self.events.append(("start", self.adapter.server_name(server), self.adapter.host_name(host)))
        self.in_flight.add(server)
        self.peak = max(self.peak, len(self.in_flight))

    def wait_migration(self, server: Hashable, timeout_s: float) -> str:
        self.events.append(("wait", self.adapter.server_name(server)))
        try:
            self._fault("wait_migration", self.adapter.server_name(server))
            return self.inner.wait_migration(server, timeout_s)
        finally:
            self.in_flight.discard(server)

    def enable_host(self, host: Hashable) -> None:
        self.events.append(("enable", self.adapter.host_name(host)))
        self.inner.enable_host(host)

    def disable_host(self, host: Hashable, reason: str) -> None:
        self.events.append(("disable", self.adapter.host_name(host)))
        self.inner.disable_host(host, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Cloud:
    """One compute behind the contract: servers on hosts by name; scripting before :meth:`run`."""

    kind = ""

    def __init__(self, placement: Mapping[str, str | None], *, disabled: tuple[str, ...] = ()) -> None:
        self.initial = dict(placement)
        self.initially_disabled = set(disabled)
        self.pauses: list[float] = []
        self.watch: Watch | None = None
        self.faults: dict[tuple[str, str], Exception] = {}

    def fail(self, call: str, server: str, error: Exception) -> None:
        """``call`` (server_host, live_migrate, wait_migration) for ``server`` raises ``error``: an
        unexpected fault of the cloud (a 5xx, the cloud unreachable, the server deleted)."""
        self.faults[(call, server)] = error

    # scripting (before the first run)
    def reject(self, server: str, target: str) -> None:
        """The scheduler refuses ``server`` on ``target``."""
        raise NotImplementedError

    def slow(self, server: str) -> None:
        """Migrations of ``server`` outlast any ``migration_timeout_s`` the tests use (<= 600 s)."""
        raise NotImplementedError

    def busy(self, server: str, starts: int) -> None:
        """The first ``starts`` starts of a migration of ``server`` are answered busy (it is busy
        from the run's beginning for that many retry pauses, less half of one)."""
        raise NotImplementedError

    # names
    def host_id(self, host: str) -> Hashable:
        raise NotImplementedError

    def server_id(self, server: str) -> Hashable:
        raise NotImplementedError

    def host_name(self, host: Hashable) -> str:
        raise NotImplementedError

    def server_name(self, server: Hashable) -> str:
        raise NotImplementedError

    # the compute
    def compute(self) -> Any:
        raise NotImplementedError

    def clock(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)

    def run(
        self, actions: list[Action], *, recorder: Recorder | None = None, guard: Any = None, **limits: Any
    ) -> tuple[list[Outcome], Recorder]:
        """Apply ``actions`` (with names) under ``Limits(**limits)``."""
        recorder = recorder or Recorder()
        self.watch = Watch(self.compute(), self)
        executor = Executor(
            self.watch,
            recorder,
            Limits(**limits),
            retry_pause_s=RETRY_PAUSE_S,
            sleep=self.sleep,
            clock=self.clock,
            guard=guard,
        )
        translated = [
            Action(
                a.kind,
                self.host_id(a.host),
                None if a.server is None else self.server_id(a.server),
                None if a.target is None else self.host_id(a.target),
            )
            for a in actions
        ]
        return executor.apply(translated), recorder

    # what the cloud shows
    def placement(self) -> dict[str, str | None]:
        raise NotImplementedError

    def is_disabled(self, host: str) -> bool:
        raise NotImplementedError

    def peak_in_cloud(self) -> int:
        """Migrations in flight at once, as the compute saw them."""
        raise NotImplementedError

    @property
    def events(self) -> list[tuple[str, ...]]:
        assert self.watch is not None
        return self.watch.events


class FakeAdapter(Cloud):
    kind = "fake-cloud"

    def __init__(self, placement: Mapping[str, str | None], *, disabled: tuple[str, ...] = ()) -> None:
        super().__init__(placement, disabled=disabled)
        self.fake = FakeCloud({s: h for s, h in placement.items() if h is not None}, disabled=disabled)
        self.now = 0.0

    def reject(self, server: str, target: str) -> None:
        self.fake.script[server] = "reject"

    def slow(self, server: str) -> None:
        self.fake.script[server] = "timeout"

    def busy(self, server: str, starts: int) -> None:
        self.fake.busy[server] = starts

    def host_id(self, host: str) -> Hashable:
        return host

    def server_id(self, server: str) -> Hashable:
        return server

    def host_name(self, host: Hashable) -> str:
        return str(host)

    def server_name(self, server: Hashable) -> str:
        return str(server)

    def compute(self) -> Any:
        return self.fake

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.now += seconds

    def placement(self) -> dict[str, str | None]:
        return {s: self.fake.placement.get(s) for s in self.initial}

    def is_disabled(self, host: str) -> bool:
        return host in self.fake.disabled

    def peak_in_cloud(self) -> int:
        return self.fake.max_in_flight


class Timeline:
    """The simulator's side of simulated time, reduced to a record: no decision ticks."""

    def __init__(self) -> None:
        self.changes: list[float] = []
        self.completions: list[tuple[float, list[int]]] = []
        self.ticks: list[float] = []

    def before_change(self, time_s: float) -> None:
        self.changes.append(time_s)

    def after_completions(self, time_s: float, in_flight: np.ndarray) -> None:
        self.completions.append((time_s, in_flight.tolist()))

    def tick(self, time_s: float) -> None:
        self.ticks.append(time_s)

    def next_tick_after(self, time_s: float) -> float:
        return math.inf


class SimulatedAdapter(Cloud):
    """Every link 1000 Mbit/s; a VM of 125 MB migrates in 125 * 8 / 500 = 2 s."""

    kind = "simulated-compute"
    LINK_MBIT_S = 1000.0
    VM_RAM_MB = 125.0
    HOST_RAM_MB = 1e6

    def __init__(
        self,
        placement: Mapping[str, str | None],
        *,
        disabled: tuple[str, ...] = (),
        chained_migrations: bool = False,
    ) -> None:
        super().__init__(placement, disabled=disabled)
        self.servers = list(placement)
        self.vm_ram_mb = np.full(len(self.servers), self.VM_RAM_MB)
        self.host_ram_mb = np.full(len(HOSTS), self.HOST_RAM_MB)
        self.busy_s: dict[int, float] = {}
        self.chained = chained_migrations
        self.timeline = Timeline()
        self.sim: SimulatedCompute | None = None
        self.starts: list[tuple[float, int, int]] = []  # (time, VM, target) of every migration started
        self.max_in_flight = 0

    def reject(self, server: str, target: str) -> None:
        self.host_ram_mb[self.host_id(target)] = 0.0  # no RAM: refuses every VM

    def slow(self, server: str) -> None:
        self.vm_ram_mb[self.server_id(server)] = 1000 * self.VM_RAM_MB  # 2000 s

    def busy(self, server: str, starts: int) -> None:
        # a migration in place started before the plan, ending within the last busy pause
        duration = (starts - 0.5) * RETRY_PAUSE_S
        vm = self.server_id(server)
        self.vm_ram_mb[vm] = duration / float(migration_time_s(1.0, self.LINK_MBIT_S))
        self.busy_s[vm] = duration

    def host_id(self, host: str) -> Hashable:
        return HOSTS.index(host)

    def server_id(self, server: str) -> Hashable:
        return self.servers.index(server)

    def host_name(self, host: Hashable) -> str:
        return HOSTS[int(host)]

    def server_name(self, server: Hashable) -> str:
        return self.servers[int(server)]

    def compute(self) -> SimulatedCompute:
        if self.sim is None:
            vm_host = np.array([-1 if h is None else HOSTS.index(h) for h in self.initial.values()], dtype=np.intp)
            self.sim = SimulatedCompute(
                vm_host,
                self.vm_ram_mb,
                self.host_ram_mb,
                np.full(len(HOSTS), self.LINK_MBIT_S),
                self.timeline,
                chained_migrations=self.chained,
            )
            for host in self.initially_disabled:
                self.sim.disable_host(HOSTS.index(host), "down before the test")
            for vm in self.busy_s:
                self.sim.live_migrate(vm, int(vm_host[vm]))
            self.sim.on_start = self._started
        return self.sim

    def _started(self, migration: Any) -> None:
        assert self.sim is not None
        self.starts.append((migration.start_s, migration.vm, migration.target))
        self.max_in_flight = max(self.max_in_flight, len(self.sim.in_flight))

    def clock(self) -> float:
        return self.compute().clock_s

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        sim = self.compute()
        sim.advance_to(sim.clock_s + seconds)

    def placement(self) -> dict[str, str | None]:
        sim = self.compute()
        return {s: (None if sim.vm_host[i] < 0 else HOSTS[sim.vm_host[i]]) for i, s in enumerate(self.servers)}

    def is_disabled(self, host: str) -> bool:
        return not self.compute().host_usable(HOSTS.index(host))

    def peak_in_cloud(self) -> int:
        return self.max_in_flight


ADAPTERS = {FakeAdapter.kind: FakeAdapter, SimulatedAdapter.kind: SimulatedAdapter}


@pytest.fixture(params=list(ADAPTERS))
def cloud(request):
    """A factory of one compute or the other: ``cloud(placement, disabled=...)``."""
    return ADAPTERS[request.param]


@pytest.fixture
def fake():
    return FakeAdapter


@pytest.fixture
def sim():
    return SimulatedAdapter


def plan(*moves: tuple[str, str, str], disable: tuple[str, ...] = (), enable: tuple[str, ...] = ()) -> list[Action]:
    """Wakes, migrations (server, source, target), then disables, as a plan orders them."""
    return (
        [Action(ENABLE, h) for h in enable]
        + [Action(MIGRATE, src, vm, dst) for vm, src, dst in moves]
        + [Action(DISABLE, h) for h in disable]
    )


# -- the contract: both computes ----------------------------------------------------------------
def test_migrations_then_the_emptied_host_is_disabled_and_everything_is_recorded(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1", "vm3": "c2"})
    outcomes, recorder = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)))
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, COMPLETED]
    assert [o.position for o in outcomes] == [0, 1, 2]
    assert c.placement() == {"vm1": "c2", "vm2": "c2", "vm3": "c2"}
    assert c.is_disabled("c1") and not c.is_disabled("c2")
    assert ("disable", "c1") in c.events
    assert sorted(e for e in recorder.events if e[0] == "finished") == [
        ("finished", 0, COMPLETED),
        ("finished", 1, COMPLETED),
        ("finished", 2, COMPLETED),
    ]
    assert sorted(e for e in recorder.events if e[0] == "started") == [("started", i) for i in range(3)]
    assert all(o.attempts == 1 for o in outcomes[:2]) and all(o.duration_s >= 0 for o in outcomes)


def test_a_rejected_target_fails_leaves_the_vm_and_keeps_the_source_enabled(cloud):
    c = cloud({"vm1": "c1"})
    c.reject("vm1", "c2")
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), disable=("c1",)), migration_retries=3)
    assert outcomes[0].status == FAILED and "rejected" in (outcomes[0].error or "")
    assert outcomes[0].attempts == 1  # no retry after a scheduler refusal, whatever the retries
    assert c.pauses == []
    assert outcomes[1].status == SKIPPED and "did not complete" in (outcomes[1].error or "")
    assert c.placement() == {"vm1": "c1"}
    assert not c.is_disabled("c1")


def test_a_migration_that_does_not_finish_in_time_never_disables_its_source(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1"})
    c.slow("vm1")
    outcomes, _ = c.run(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)), migration_timeout_s=60, migration_retries=2
    )
    assert [o.status for o in outcomes[:2]] == [TIMEOUT, COMPLETED]
    assert outcomes[0].attempts == 1  # a timed-out migration may still be running: never retried
    assert outcomes[2].status == SKIPPED and "did not complete" in (outcomes[2].error or "")
    assert f"{c.server_id('vm1')}: timeout" in (outcomes[2].error or "")  # errors name the compute's ids
    assert not c.is_disabled("c1")
    assert c.placement()["vm1"] == "c1"


def test_busy_is_retried_after_a_pause(cloud):
    c = cloud({"vm1": "c1"})
    c.busy("vm1", starts=1)
    outcomes, _ = c.run(plan(("vm1", "c1", "c2")), migration_retries=2)
    assert outcomes[0].status == COMPLETED and outcomes[0].attempts == 2
    assert c.pauses == [RETRY_PAUSE_S]
    assert c.placement() == {"vm1": "c2"}


def test_busy_is_retried_within_bounds(cloud):
    c = cloud({"vm1": "c1"})
    c.busy("vm1", starts=10)
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), disable=("c1",)), migration_retries=2)
    assert outcomes[0].status == FAILED and "busy" in (outcomes[0].error or "")
    assert outcomes[0].attempts == 3  # 1 try + 2 retries
    assert c.pauses == [RETRY_PAUSE_S, RETRY_PAUSE_S]
    assert outcomes[1].status == SKIPPED
    assert c.placement() == {"vm1": "c1"} and not c.is_disabled("c1")


def test_preconditions_skip_moved_vanished_and_unusable(cloud):
    c = cloud({"vm1": "c3", "vm2": None, "vm3": "c1"}, disabled=("c4",))
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), ("vm3", "c1", "c4")))
    assert [o.status for o in outcomes] == [SKIPPED, SKIPPED, SKIPPED]
    errors = [o.error or "" for o in outcomes]
    assert errors[0].startswith("server is on") and "no longer exists" in errors[1] and "disabled or down" in errors[2]
    assert [o.attempts for o in outcomes] == [0, 0, 0]
    assert [e for e in c.events if e[0] == "start"] == []
    assert c.placement() == {"vm1": "c3", "vm2": None, "vm3": "c1"}


def test_a_host_still_showing_servers_is_not_disabled(cloud):
    c = cloud({"vm1": "c1", "vm9": "c1"})
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), disable=("c1",)))
    assert outcomes[0].status == COMPLETED
    assert outcomes[1].status == SKIPPED and "still shows 1" in (outcomes[1].error or "")
    assert not c.is_disabled("c1")


def test_a_host_is_disabled_only_once_every_migration_off_it_completed(cloud):
    """c1 keeps a VM whose migration failed: not disabled; c2, emptied, is."""
    c = cloud({"vm1": "c1", "vm2": "c1", "vm3": "c2"})
    c.reject("vm2", "c4")
    outcomes, _ = c.run(plan(("vm1", "c1", "c3"), ("vm2", "c1", "c4"), ("vm3", "c2", "c3"), disable=("c1", "c2")))
    assert [o.status for o in outcomes] == [COMPLETED, FAILED, COMPLETED, SKIPPED, COMPLETED]
    assert f"{c.server_id('vm2')}: failed" in (outcomes[3].error or "")
    assert not c.is_disabled("c1") and c.is_disabled("c2")


def test_concurrency_never_exceeds_the_limit(cloud):
    c = cloud({f"vm{i}": "c1" for i in range(8)})
    outcomes, _ = c.run(plan(*[(f"vm{i}", "c1", "c2") for i in range(8)]), max_concurrent_migrations=3)
    assert all(o.status == COMPLETED for o in outcomes)
    assert c.watch is not None and c.watch.peak == 3  # the window fills, never overflows
    assert c.peak_in_cloud() == 3


def test_no_limit_starts_every_migration_at_once(cloud):
    c = cloud({f"vm{i}": "c1" for i in range(5)})
    c.run(plan(*[(f"vm{i}", "c1", "c2") for i in range(5)]), max_concurrent_migrations=None)
    assert [e[0] for e in c.events] == ["start"] * 5 + ["wait"] * 5


def test_migrations_start_in_plan_order_and_the_oldest_is_waited_for_first(cloud):
    c = cloud({f"vm{i}": "c1" for i in range(1, 5)})
    c.run(plan(*[(f"vm{i}", "c1", "c2") for i in range(1, 5)]), max_concurrent_migrations=2)
    assert c.events == [
        ("start", "vm1", "c2"),
        ("start", "vm2", "c2"),
        ("wait", "vm1"),
        ("start", "vm3", "c2"),
        ("wait", "vm2"),
        ("start", "vm4", "c2"),
        ("wait", "vm3"),
        ("wait", "vm4"),
    ]


def test_a_servers_second_migration_waits_for_its_first(cloud):
    """Both computes answer busy to a second start while the first runs: the executor never asks."""
    c = cloud({"vm1": "c1", "vm2": "c1"})
    outcomes, _ = c.run(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), ("vm1", "c2", "c3")),
        max_concurrent_migrations=3,
        migration_retries=0,
    )
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, COMPLETED]
    assert c.events == [
        ("start", "vm1", "c2"),
        ("start", "vm2", "c2"),
        ("wait", "vm1"),
        ("start", "vm1", "c3"),
        ("wait", "vm2"),
        ("wait", "vm1"),
    ]
    assert c.pauses == []
    assert c.placement() == {"vm1": "c3", "vm2": "c2"}


def test_an_asleep_target_is_enabled_before_the_migrations_onto_it(cloud):
    c = cloud({"vm1": "c1"}, disabled=("c2",))
    outcomes, recorder = c.run(plan(("vm1", "c1", "c2"), enable=("c2",), disable=("c1",)))
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, COMPLETED]
    assert [o.action.kind for o in outcomes] == [ENABLE, MIGRATE, DISABLE]
    assert c.events[:2] == [("enable", "c2"), ("start", "vm1", "c2")]
    assert recorder.events[:2] == [("started", 0), ("finished", 0, COMPLETED)]
    assert not c.is_disabled("c2") and c.is_disabled("c1")
    assert c.placement() == {"vm1": "c2"}


def test_an_unknown_action_kind_fails_and_the_rest_runs(cloud):
    c = cloud({"vm1": "c1"})
    outcomes, _ = c.run([Action("reboot", "c1"), *plan(("vm1", "c1", "c2"))])
    assert outcomes[0].status == FAILED and "unknown action kind" in (outcomes[0].error or "")
    assert outcomes[1].status == COMPLETED


def test_an_empty_plan_does_nothing(cloud):
    c = cloud({"vm1": "c1"})
    outcomes, recorder = c.run([])
    assert outcomes == [] and recorder.events == [] and c.events == []


# -- faults: both computes, the fault injected in front of them ---------------------------------
def test_an_unexpected_error_before_a_migration_starts_fails_it_and_the_plan_goes_on(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1", "vm3": "c3"})
    c.fail("server_host", "vm1", ConnectionError("cloud unreachable"))
    outcomes, recorder = c.run(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), ("vm3", "c3", "c2"), disable=("c1", "c3"))
    )
    assert [o.status for o in outcomes] == [FAILED, COMPLETED, COMPLETED, SKIPPED, COMPLETED]
    assert "cloud error before starting: ConnectionError: cloud unreachable" in (outcomes[0].error or "")
    assert outcomes[0].attempts == 0
    assert c.placement() == {"vm1": "c1", "vm2": "c2", "vm3": "c2"}
    assert not c.is_disabled("c1") and c.is_disabled("c3")
    assert sorted(e[1] for e in recorder.events if e[0] == "finished") == [0, 1, 2, 3, 4]


def test_an_unexpected_error_starting_a_migration_is_lost_and_never_disables_the_source(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1"})
    c.fail("live_migrate", "vm1", RuntimeError("HTTP 503: Service Unavailable"))
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)), migration_retries=2)
    assert [o.status for o in outcomes] == [LOST, COMPLETED, SKIPPED]
    assert "cloud error starting it: RuntimeError: HTTP 503" in (outcomes[0].error or "")
    assert outcomes[0].attempts == 1 and c.pauses == []  # never retried: it may have started
    assert f"{c.server_id('vm1')}: lost" in (outcomes[2].error or "")
    assert not c.is_disabled("c1")


def test_an_unexpected_error_while_waiting_is_lost_and_the_plan_goes_on(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1", "vm3": "c3"})
    c.fail("wait_migration", "vm1", TimeoutError("read timed out"))
    outcomes, _ = c.run(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), ("vm3", "c3", "c4"), disable=("c1", "c3")),
        max_concurrent_migrations=1,
    )
    assert [o.status for o in outcomes] == [LOST, COMPLETED, COMPLETED, SKIPPED, COMPLETED]
    assert "cloud error while waiting: TimeoutError: read timed out" in (outcomes[0].error or "")
    assert not c.is_disabled("c1") and c.is_disabled("c3")


def test_a_server_deleted_before_its_migration_is_skipped(cloud):
    c = cloud({"vm1": "c1", "vm2": "c3"})
    c.fail("live_migrate", "vm1", ServerGone("HTTP 404: server not found"))
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c3", "c2"), disable=("c1",)))
    assert [o.status for o in outcomes] == [SKIPPED, COMPLETED, SKIPPED]
    assert "server no longer exists" in (outcomes[0].error or "")


def test_the_guard_stops_the_plan_and_in_flight_migrations_are_waited_for(cloud):
    """The guard says stop once two migrations are in flight: the third and the disable are
    cancelled, never performed; the two in flight are waited for and recorded."""
    c = cloud({f"vm{i}": "c1" for i in (1, 2, 3)})
    calls = []

    def guard():
        calls.append(len(calls))
        return "the lease is held by standby since term 7" if len(calls) > 2 else None

    outcomes, recorder = c.run(
        plan(*[(f"vm{i}", "c1", "c2") for i in (1, 2, 3)], disable=("c1",)), guard=guard, max_concurrent_migrations=2
    )
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, CANCELLED, CANCELLED]
    assert outcomes[2].error == outcomes[3].error == "the lease is held by standby since term 7"
    assert [e for e in c.events if e[0] == "start"] == [("start", "vm1", "c2"), ("start", "vm2", "c2")]
    assert c.placement() == {"vm1": "c2", "vm2": "c2", "vm3": "c1"} and not c.is_disabled("c1")
    assert ("started", 2) not in recorder.events and ("finished", 2, CANCELLED) in recorder.events


def test_an_action_whose_start_cannot_be_recorded_is_not_performed(cloud):
    c = cloud({"vm1": "c1", "vm2": "c3"})
    recorder = Recorder(refuse={0: ConnectionError("the database went away")})
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c3", "c2"), disable=("c1",)), recorder=recorder)
    assert [o.status for o in outcomes] == [SKIPPED, COMPLETED, SKIPPED]
    assert "its start could not be recorded" in (outcomes[0].error or "")
    assert [e for e in c.events if e[0] == "start"] == [("start", "vm2", "c2")]
    assert c.placement() == {"vm1": "c1", "vm2": "c2"} and not c.is_disabled("c1")


def test_stop_from_the_log_cancels_that_action_and_the_rest(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1"})
    recorder = Recorder(refuse={1: Stop("the plan was cancelled by an operator")})
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)), recorder=recorder)
    assert [o.status for o in outcomes] == [COMPLETED, CANCELLED, CANCELLED]
    assert c.placement() == {"vm1": "c2", "vm2": "c1"} and not c.is_disabled("c1")


def test_outcomes_that_cannot_be_recorded_do_not_stop_the_plan(cloud):
    c = cloud({"vm1": "c1", "vm2": "c1"})
    outcomes, recorder = c.run(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"), disable=("c1",)), recorder=Recorder(broken_outcomes=True)
    )
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, COMPLETED]
    assert c.is_disabled("c1")
    assert len([e for e in recorder.events if e[0] == "finished"]) == 3


# -- what only a real cloud shows: the fake cloud -----------------------------------------------
def test_a_migration_that_ends_in_error_is_retried_then_fails_and_keeps_the_source(fake):
    c = fake({"vm1": "c1"})
    c.fake.script["vm1"] = "error"
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), disable=("c1",)), migration_retries=2)
    assert outcomes[0].status == FAILED and outcomes[0].attempts == 3  # 1 try + 2 retries
    assert "ended 'error'" in (outcomes[0].error or "") and "server on c1" in (outcomes[0].error or "")
    assert c.pauses == [RETRY_PAUSE_S, RETRY_PAUSE_S]
    assert outcomes[1].status == SKIPPED and not c.is_disabled("c1")


def test_busy_once_and_error_in_one_plan():
    """One server busy once, another ending in error, retries 2 (the fake cloud's script)."""
    cloud = FakeCloud({"vm1": "c1", "vm2": "c1"}, script={"vm1": "busy-once", "vm2": "error"})
    outcomes = Executor(cloud, Recorder(), Limits(migration_retries=2), sleep=lambda s: None).apply(
        plan(("vm1", "c1", "c2"), ("vm2", "c1", "c2"))
    )
    assert outcomes[0].status == COMPLETED and outcomes[0].attempts == 2
    assert outcomes[1].status == FAILED and outcomes[1].attempts == 3


def test_the_disable_reason_names_neat():
    cloud = FakeCloud({"vm1": "c1"})
    Executor(cloud, Recorder(), Limits(), sleep=lambda s: None).apply(plan(("vm1", "c1", "c2"), disable=("c1",)))
    assert ("disable", "c1", REASON) in cloud.calls


class Failing(FakeCloud):
    def enable_host(self, host):
        raise RuntimeError(f"enable {host}: HTTP 500")

    def disable_host(self, host, reason):
        raise RuntimeError(f"disable {host}: HTTP 500")


def test_a_failed_wake_or_disable_is_recorded_not_raised():
    """A wake that fails leaves the migrations onto the host skipped; a failed disable is recorded."""
    cloud = Failing({"vm1": "c1", "vm2": "c3"}, disabled={"c2"})
    recorder = Recorder()
    outcomes = Executor(cloud, recorder, Limits(), sleep=lambda s: None).apply(
        plan(("vm1", "c1", "c2"), ("vm2", "c3", "c4"), enable=("c2",), disable=("c3",))
    )
    assert [o.status for o in outcomes] == [FAILED, SKIPPED, COMPLETED, FAILED]
    assert "HTTP 500" in (outcomes[0].error or "") and "disabled or down" in (outcomes[1].error or "")
    assert "HTTP 500" in (outcomes[3].error or "")
    assert ("finished", 0, FAILED) in recorder.events and ("finished", 3, FAILED) in recorder.events


# -- simulated time: the simulated compute ------------------------------------------------------
def test_migrations_take_ram_over_half_the_link_in_simulated_time(sim):
    c = sim({"vm1": "c1", "vm2": "c1", "vm3": "c1"})
    outcomes, _ = c.run(plan(*[(f"vm{i}", "c1", "c2") for i in (1, 2, 3)]), max_concurrent_migrations=1)
    assert [o.duration_s for o in outcomes] == [2.0, 2.0, 2.0]
    assert [t for t, _, _ in c.starts] == [0.0, 2.0, 4.0]
    assert c.compute().clock_s == 4.0 + 2.0
    assert [t for t, _ in c.timeline.completions] == [2.0, 4.0, 6.0]
    assert c.timeline.ticks == []


def test_the_window_waits_for_the_oldest_even_when_a_younger_one_ended(sim):
    """A slow first migration holds its slot: the third starts when the first ends, not the second."""
    c = sim({"vm1": "c1", "vm2": "c1", "vm3": "c1"})
    c.vm_ram_mb[0] = 10 * c.VM_RAM_MB  # 20 s
    outcomes, _ = c.run(plan(*[(f"vm{i}", "c1", "c2") for i in (1, 2, 3)]), max_concurrent_migrations=2)
    assert [o.status for o in outcomes] == [COMPLETED] * 3
    assert [(t, vm) for t, vm, _ in c.starts] == [(0.0, 0), (0.0, 1), (20.0, 2)]
    assert c.compute().vm_last_migrated_s.tolist() == [20.0, 2.0, 22.0]


def test_a_timed_out_migration_goes_on_in_simulated_time(sim):
    c = sim({"vm1": "c1"})
    c.slow("vm1")
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), disable=("c1",)), migration_timeout_s=60)
    compute = c.compute()
    assert outcomes[0].status == TIMEOUT and outcomes[0].duration_s == 60.0
    assert compute.clock_s == 60.0 and compute.migrating().tolist() == [0]
    assert outcomes[1].status == SKIPPED and not c.is_disabled("c1")
    compute.advance_to(3000.0)
    assert c.placement() == {"vm1": "c2"} and compute.vm_last_migrated_s[0] == 2000.0


def test_a_target_without_the_ram_is_rejected_counting_migrations_in_flight(sim):
    """c2 holds two VMs' RAM: the third migration onto it is refused while the first two run."""
    c = sim({"vm1": "c1", "vm2": "c1", "vm3": "c1"})
    c.host_ram_mb[1] = 2 * c.VM_RAM_MB
    outcomes, _ = c.run(plan(*[(f"vm{i}", "c1", "c2") for i in (1, 2, 3)]), max_concurrent_migrations=3)
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED, FAILED]
    assert "has not the RAM" in (outcomes[2].error or "")


def test_chained_migrations_start_together_and_the_vm_ends_on_the_last_target(sim):
    """CloudSim's semantics (parallel_server_migrations): a VM migrated twice in one plan runs both
    at once; the first counts as completed when the second does."""
    c = sim({"vm1": "c1"}, chained_migrations=True)
    outcomes, _ = c.run(plan(("vm1", "c1", "c2"), ("vm1", "c2", "c3")), max_concurrent_migrations=2)
    assert [o.status for o in outcomes] == [COMPLETED, COMPLETED]
    assert [(t, target) for t, _, target in c.starts] == [(0.0, 1), (0.0, 2)]
    assert c.placement() == {"vm1": "c3"}


class Unlisting(FakeCloud):
    def servers_on(self, host):
        raise ConnectionError("HTTP 502: Bad Gateway")


def test_a_host_whose_servers_cannot_be_listed_is_not_disabled():
    cloud = Unlisting({"vm1": "c1"})
    outcomes = Executor(cloud, Recorder(), Limits(), sleep=lambda s: None).apply(
        plan(("vm1", "c1", "c2"), disable=("c1",))
    )
    assert [o.status for o in outcomes] == [COMPLETED, FAILED]
    assert "cloud error listing its servers: HTTP 502" in (outcomes[1].error or "")
    assert "c1" not in cloud.disabled

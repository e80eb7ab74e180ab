"""A data center in simulated time that the executor drives as it drives Nova.

:class:`SimulatedCompute` implements :class:`neat.execution.executor.Compute` with hosts and VMs
named by their indices. A live migration starts at the simulated clock and lasts what the
scenario's migration model says (:class:`neat.decision.migration.MigrationModel`: CloudSim's single
copy, or pre-copy rounds that depend on how busy the VM is); waiting for it moves the clock to its
end (or to the timeout), completing every migration that ends on the way, in time order. So the
executor's own sequencing (its concurrency window, a server's second migration after its first)
sets when each migration runs, exactly as it would against a cloud.

With power states (:class:`neat.scenario.Costs`), disabling a host suspends it (``suspend_s``,
then asleep) and enabling a sleeping host resumes it: the call returns when the host is up, the
clock moved by ``resume_s``, as the service's power manager waits for nova-compute.

The simulator observes the timeline through a :class:`Timeline`: before the state changes at an
instant, when a migration completes, and at each decision tick the clock passes while a cycle is
still executing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from neat.constants import MBIT_PER_MB
from neat.decision.migration import CLOUDSIM_MIGRATION, MigrationModel
from neat.execution.executor import COMPLETED, MigrationTimedOut, SchedulerRejected, ServerBusy

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class Timeline(Protocol):
    """What the simulator does as simulated time passes."""

    def before_change(self, time_s: float) -> None:
        """The placement or the migrations in flight are about to change at ``time_s``."""
        ...

    def after_completions(self, time_s: float, in_flight: IntArray) -> None:
        """Migrations completed at ``time_s``; ``in_flight`` holds the VMs still migrating."""
        ...

    def tick(self, time_s: float) -> None:
        """A decision instant passed while a cycle was executing (no decision is taken there)."""
        ...

    def next_tick_after(self, time_s: float) -> float:
        """The first decision instant after ``time_s`` (inf after the last)."""
        ...


#: Host power states (with power states on; without, every host is ON).
ON, ASLEEP, SUSPENDING, RESUMING = 0, 1, 2, 3


@dataclass(slots=True)
class Migration:
    """A live migration in flight."""

    vm: int
    source: int
    target: int
    start_s: float
    end_s: float


class SimulatedCompute:
    """Hosts and VMs (by index) in simulated time.

    Parameters
    ----------
    vm_host : (n_vms,) initial host of each VM; -1 for none. Kept and updated in place.
    vm_ram_mb : (n_vms,)
    host_ram_mb : (n_hosts,) RAM the scheduler checks a target against, or None (not checked)
    host_bandwidth_mbit_s : (n_hosts,) each host's link
    timeline : observer of simulated time
    migration : the migration model (default: CloudSim's)
    utilization : VM utilization (n_vms,) at a time, for models whose duration depends on it
    power_states : disabling suspends a host, enabling resumes it (``suspend_s``, ``resume_s``)
    chained_migrations : a VM may be migrated again while its migration is in flight (CloudSim
        allows it; both then run from the same instant and the VM ends on the last target), and a
        migrating VM is reported on its newest target. Otherwise the compute answers "busy", as
        Nova does.
    """

    def __init__(
        self,
        vm_host: IntArray,
        vm_ram_mb: FloatArray,
        host_ram_mb: FloatArray | None,
        host_bandwidth_mbit_s: FloatArray,
        timeline: Timeline,
        *,
        migration: MigrationModel = CLOUDSIM_MIGRATION,
        utilization: Callable[[float], FloatArray] | None = None,
        power_states: bool = False,
        suspend_s: float = 0.0,
        resume_s: float = 0.0,
        chained_migrations: bool = False,
    ) -> None:
        self.vm_host = vm_host
        self.vm_ram_mb: list[float] = vm_ram_mb.tolist()  # read one VM at a time, per migration
        self.host_ram_mb = host_ram_mb
        self.host_bandwidth_mbit_s = host_bandwidth_mbit_s
        self.timeline = timeline
        self.chained_migrations = chained_migrations
        self.parallel_server_migrations = chained_migrations
        n_hosts = host_bandwidth_mbit_s.shape[0]
        self.vm_stamp = np.arange(vm_host.shape[0], dtype=np.int64)  # order of VMs in their host's list
        self.next_stamp = vm_host.shape[0]
        self.disabled = np.zeros(n_hosts, dtype=np.bool_)
        self.clock_s = 0.0
        self.in_flight: dict[int, Migration] = {}  # by start number, in start order
        self._ending: dict[float, list[int]] = {}  # start numbers of the migrations ending at each end time
        self._moving_arrays: tuple[IntArray, IntArray] | None = None
        self._ends: list[float] = []  # a heap of the in-flight migrations' end times, each once
        self.migration = migration
        self.utilization = utilization
        # CloudSim's duration in Python floats, as MigrationModel computes it: (RAM in Mbit / share) / link
        self._ram_term = (vm_ram_mb * MBIT_PER_MB * (1.0 / migration.bandwidth_share)).tolist()
        self._link = host_bandwidth_mbit_s.tolist()
        self.migration_energy_j = 0.0
        self.migrated_mb = 0.0
        # host power states
        self.power_states = power_states
        self.suspend_s, self.resume_s = suspend_s, resume_s
        self.power_state = np.zeros(n_hosts, dtype=np.int8)
        self.state_until = np.full(n_hosts, math.inf)
        self._transitions: list[tuple[float, int]] = []  # a heap of (end, host)
        self.suspends = 0
        self.wakes = 0
        self.last_of_vm: dict[int, Migration] = {}
        self.started = 0
        self.vm_last_migrated_s = np.full(vm_host.shape[0], np.nan)
        # VMs per host, their RAM and the RAM migrating in, kept as the placement changes, as lists
        # (they change an entry at a time); sums of whole MB, as VM sizes are, are exact, others
        # within rounding of a sum over the VMs
        placed = vm_host >= 0
        self.host_vms: list[int] = np.bincount(vm_host[placed], minlength=n_hosts).tolist()
        self.host_vm_ram_mb: list[float] = np.bincount(
            vm_host[placed], weights=vm_ram_mb[placed], minlength=n_hosts
        ).tolist()
        self.host_incoming_ram_mb = [0.0] * n_hosts
        self.on_start: Callable[[Migration], None] | None = None

    # -- what the decision reads ------------------------------------------------------------
    def migrating(self) -> IntArray:
        """VMs in flight, in start order."""
        return self._moving()[0]

    def targets(self) -> IntArray:
        """Targets of the migrations in flight, in start order."""
        return self._moving()[1]

    def _moving(self) -> tuple[IntArray, IntArray]:
        if self._moving_arrays is None:
            self._moving_arrays = (
                np.fromiter((m.vm for m in self.in_flight.values()), dtype=np.intp, count=len(self.in_flight)),
                np.fromiter((m.target for m in self.in_flight.values()), dtype=np.intp, count=len(self.in_flight)),
            )
        return self._moving_arrays

    def destroy(self, vms: BoolArray) -> None:
        """Remove the VMs of the mask (n_vms,) from their hosts for good (CloudSim's idle VMs)."""
        for vm in np.flatnonzero(vms).tolist():
            host = int(self.vm_host[vm])
            self.host_vms[host] -= 1
            self.host_vm_ram_mb[host] -= self.vm_ram_mb[vm]
        self.vm_host[vms] = -1

    # -- the Compute protocol ---------------------------------------------------------------
    def server_host(self, server: int) -> int | None:
        vm = int(server)
        host = int(self.vm_host[vm])
        if host < 0:
            return None
        if self.chained_migrations:
            latest = self.last_of_vm.get(vm)
            if latest is not None and latest.end_s > self.clock_s:
                return latest.target
        return host

    def host_usable(self, host: int) -> bool:
        return not bool(self.disabled[host]) and self.power_state[host] == ON

    def live_migrate(self, server: int, host: int) -> None:
        vm, target = int(server), int(host)
        if self.disabled[target]:
            raise SchedulerRejected(f"host {target} is disabled")
        latest = self.last_of_vm.get(vm)
        busy = latest is not None and latest.end_s > self.clock_s
        if busy and not self.chained_migrations:
            raise ServerBusy(f"VM {vm} is migrating to host {latest.target}")  # type: ignore[union-attr]
        if self.host_ram_mb is not None:
            used = self.host_vm_ram_mb[target] + self.host_incoming_ram_mb[target]
            if used + self.vm_ram_mb[vm] > self.host_ram_mb[target]:
                raise SchedulerRejected(f"host {target} has not the RAM for VM {vm}")
        self.timeline.before_change(self.clock_s)
        if self.migration.dirty_rate_mb_s == 0:
            duration = self._ram_term[vm] / self._link[target]
            moved = self.vm_ram_mb[vm]
        else:
            busy_now = float(self.utilization(self.clock_s)[vm]) if self.utilization is not None else 0.0
            duration, moved = self.migration.transfer_one(self.vm_ram_mb[vm], self._link[target], busy_now)
        self.migrated_mb += moved
        self.migration_energy_j += moved * self.migration.energy_j_per_mb + self.migration.energy_j
        source = latest.target if busy else int(self.vm_host[vm])  # type: ignore[union-attr]
        migration = Migration(vm, source, target, self.clock_s, self.clock_s + duration)
        self.in_flight[self.started] = migration
        self.host_incoming_ram_mb[target] += self.vm_ram_mb[vm]
        self._moving_arrays = None
        ending = self._ending.get(migration.end_s)
        if ending is None:
            self._ending[migration.end_s] = [self.started]
            heapq.heappush(self._ends, migration.end_s)
        else:
            ending.append(self.started)
        self.last_of_vm[vm] = migration
        self.started += 1
        if self.on_start is not None:
            self.on_start(migration)

    def wait_migration(self, server: int, timeout_s: float) -> str:
        migration = self.last_of_vm.get(int(server))
        if migration is None:
            return "error"
        deadline = self.clock_s + timeout_s
        if migration.end_s > deadline:
            self.advance_to(deadline)
            raise MigrationTimedOut(f"VM {migration.vm}: still migrating after {timeout_s:g} s")
        self.advance_to(migration.end_s)
        return COMPLETED

    def servers_on(self, host: int) -> Sequence[int]:
        if self.host_vms[host] == 0:
            return []
        result: list[int] = np.flatnonzero(self.vm_host == host).tolist()
        return result

    def disable_host(self, host: int, reason: str) -> None:
        """Disable the host; with power states, suspend it (asleep ``suspend_s`` later)."""
        self.disabled[host] = True
        if self.power_states and self.power_state[host] == ON:
            self._transition(host, SUSPENDING, self.suspend_s)
            self.suspends += 1

    def enable_host(self, host: int) -> None:
        """Enable the host; with power states, wake it first: returns when it is up (the clock moved)."""
        if self.power_states:
            if self.power_state[host] == SUSPENDING:  # let the suspend end, then resume
                self.advance_to(float(self.state_until[host]))
            if self.power_state[host] == ASLEEP:
                self._transition(host, RESUMING, self.resume_s)
                self.wakes += 1
            if self.power_state[host] == RESUMING:
                self.advance_to(float(self.state_until[host]))
        self.disabled[host] = False

    def sleep(self, hosts: IntArray) -> None:
        """Put ``hosts`` asleep at once, disabled (the hosts left empty when the VMs are created)."""
        self.disabled[hosts] = True
        if self.power_states:
            self.power_state[hosts] = ASLEEP

    def _transition(self, host: int, state: int, duration_s: float) -> None:
        self.timeline.before_change(self.clock_s)
        if duration_s <= 0:
            self.power_state[host] = ASLEEP if state == SUSPENDING else ON
            return
        self.power_state[host] = state
        self.state_until[host] = self.clock_s + duration_s
        heapq.heappush(self._transitions, (self.clock_s + duration_s, host))

    # -- simulated time ---------------------------------------------------------------------
    def advance_to(self, time_s: float) -> None:
        """Move the clock to ``time_s``: complete the migrations that end and pass the ticks on the way."""
        if time_s <= self.clock_s:
            return
        while True:
            next_end = self._ends[0] if self._ends else math.inf
            next_tick = self.timeline.next_tick_after(self.clock_s)
            next_state = self._transitions[0][0] if self._transitions else math.inf
            event = min(next_end, next_tick, next_state)
            if event > time_s:
                break
            self.clock_s = event
            if next_tick <= next_end and next_tick <= next_state:
                self.timeline.tick(event)
            elif next_state <= next_end:
                self._end_transitions(event)
            else:
                self._complete(event)
        self.clock_s = max(self.clock_s, time_s)

    def _end_transitions(self, time_s: float) -> None:
        self.timeline.before_change(time_s)
        while self._transitions and self._transitions[0][0] == time_s:
            _, host = heapq.heappop(self._transitions)
            self.power_state[host] = ASLEEP if self.power_state[host] == SUSPENDING else ON
            self.state_until[host] = math.inf

    def _complete(self, time_s: float) -> None:
        self.timeline.before_change(time_s)
        while self._ends and self._ends[0] == time_s:
            heapq.heappop(self._ends)
        ending = [self.in_flight.pop(number) for number in self._ending.pop(time_s, [])]
        self._moving_arrays = None
        vm_host = self.vm_host
        for m in ending:  # in start order: a VM moved twice ends on its last target
            here, ram = int(vm_host[m.vm]), self.vm_ram_mb[m.vm]
            self.host_vms[here] -= 1
            self.host_vms[m.target] += 1
            self.host_vm_ram_mb[here] -= ram
            self.host_vm_ram_mb[m.target] += ram
            self.host_incoming_ram_mb[m.target] -= ram
            vm_host[m.vm] = m.target
            self.vm_stamp[m.vm] = self.next_stamp
            self.next_stamp += 1
            self.vm_last_migrated_s[m.vm] = time_s
        self.timeline.after_completions(time_s, self.migrating())

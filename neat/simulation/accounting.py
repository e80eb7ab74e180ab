"""Energy and SLA accounting over the intervals between host updates.

Definitions follow CloudSim's power package (Beloglazov & Buyya, CCPE 2012, section 6.2):

- energy: per host and interval, the trapezoid (P(u_start) + P(u_end)) / 2 x dt, and 0 when the
  host had nothing allocated at the interval's start (switched off);
- SLATAH: time a host was active with allocated < requested MIPS, over its active time
  (state taken at the interval start), pooled over hosts and also as the mean of per-host ratios;
- PDM: MIPS lost by VMs while migrating away, over the MIPS they requested, pooled over VMs and
  also as the mean of per-VM ratios;
- host shutdowns: active -> inactive transitions between successive updates (a host counts as
  active before the first), with the time since it was last switched on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from neat.constants import J_PER_KWH
from neat.simulation.allocation import COMPILED, HostState, jit
from neat.simulation.compute import ASLEEP, ON


class Accounting:
    """Running sums for one simulation; feed it every update with :meth:`interval` and :meth:`record`."""

    def __init__(
        self, n_hosts: int, n_vms: int, power_table_w: NDArray[np.float64], *, sleep_fraction: float = 0.0
    ) -> None:
        self.power_table_w = power_table_w
        self.sleep_w = power_table_w[:, -1] * sleep_fraction
        self.peak_w = power_table_w[:, -1]
        self.energy_j = 0.0
        self.transition_energy_j = 0.0
        self.host_active_s = np.zeros(n_hosts)
        self.host_violation_s = np.zeros(n_hosts)
        self.vm_requested_mips_s = np.zeros(n_vms)
        self.vm_migration_loss_mips_s = np.zeros(n_vms)
        self._previous_active = np.ones(n_hosts, dtype=np.bool_)
        self._switched_on_at_s = np.zeros(n_hosts)
        self.shutdowns = 0
        self.time_before_shutdown_s: list[NDArray[np.float64]] = []

    def interval(
        self, start: HostState, end: HostState, duration_s: float, power_state: NDArray[np.int8] | None = None
    ) -> float:
        """Account one interval whose state at the start is ``start``; return its energy in J.

        Without ``power_state`` (CloudSim's hosts): a host with nothing allocated at the start
        draws nothing; one that goes off during the interval is integrated down to its idle power
        (the power curve at 0 %), as CloudSim does. With ``power_state`` (n_hosts,) codes of
        :mod:`neat.simulation.compute` at the start: a host on draws its power curve, load or no
        load; asleep, its sleep power; in a transition, its peak power.
        """
        if duration_s <= 0:
            return 0.0
        p_start = start.table_power_w(self.power_table_w)
        p_end = end.table_power_w(self.power_table_w)
        if COMPILED:
            states = power_state if power_state is not None else np.zeros(0, dtype=np.int8)
            energy, transition = _interval(
                duration_s,
                p_start,
                p_end,
                start.allocated_mips,
                start.requested_mips,
                start.vm_requested_mips,
                start.vm_allocated_mips,
                start.vm_migrating,
                states,
                self.sleep_w,
                self.peak_w,
                self.host_active_s,
                self.host_violation_s,
                self.vm_requested_mips_s,
                self.vm_migration_loss_mips_s,
            )
            self.energy_j += energy
            self.transition_energy_j += transition
            return energy
        if power_state is None:  # pragma: no cover - the NumPy path, where numba is missing
            energy = float(np.sum(np.where(start.active, (p_start + p_end) / 2.0 * duration_s, 0.0)))
        else:
            on, asleep = power_state == ON, power_state == ASLEEP
            transition = float(np.sum(np.where(on | asleep, 0.0, self.peak_w))) * duration_s
            energy = float(np.sum(np.where(on, (p_start + p_end) / 2.0, np.where(asleep, self.sleep_w, 0.0))))
            energy = energy * duration_s + transition
            self.transition_energy_j += transition
        self.energy_j += energy
        active = start.active
        self.host_active_s += np.where(active, duration_s, 0.0)
        self.host_violation_s += np.where(active & (start.allocated_mips < start.requested_mips), duration_s, 0.0)
        self.vm_requested_mips_s += start.vm_requested_mips * duration_s
        loss = start.vm_requested_mips - start.vm_allocated_mips
        self.vm_migration_loss_mips_s += np.where(start.vm_migrating & (loss > 0), loss * duration_s, 0.0)
        return energy

    def record(self, state: HostState, time_s: float) -> None:
        """Record the hosts' final state at an update instant (for shutdown counts)."""
        active = state.active
        off = self._previous_active & ~active
        on = ~self._previous_active & active
        if off.any():
            self.shutdowns += int(off.sum())
            self.time_before_shutdown_s.append(time_s - self._switched_on_at_s[off])
        self._switched_on_at_s[on] = time_s
        self._previous_active = active

    def power_w(self, state: HostState, power_state: NDArray[np.int8] | None = None) -> NDArray[np.float64]:
        """Every host's power at ``state`` (with ``power_state`` as in :meth:`interval`)."""
        if power_state is None:
            return state.power_w(self.power_table_w)
        drawn: NDArray[np.float64] = np.where(
            power_state == ON,
            state.table_power_w(self.power_table_w),
            np.where(power_state == ASLEEP, self.sleep_w, self.peak_w),
        )
        return drawn

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / J_PER_KWH

    def slatah(self) -> tuple[float, float]:
        """(pooled, mean of per-host ratios) SLA violation time per active host."""
        total = self.host_active_s.sum()
        pooled = float(self.host_violation_s.sum() / total) if total > 0 else 0.0
        used = self.host_active_s > 0
        per_host = float(np.mean(self.host_violation_s[used] / self.host_active_s[used])) if used.any() else 0.0
        return pooled, per_host

    def pdm(self) -> tuple[float, float]:
        """(pooled, mean of per-VM ratios) performance degradation due to migrations."""
        total = self.vm_requested_mips_s.sum()
        pooled = float(self.vm_migration_loss_mips_s.sum() / total) if total > 0 else 0.0
        used = self.vm_requested_mips_s > 0
        per_vm = (
            float(np.mean(self.vm_migration_loss_mips_s[used] / self.vm_requested_mips_s[used])) if used.any() else 0.0
        )
        return pooled, per_vm

    def mean_time_before_shutdown_s(self) -> float:
        if not self.time_before_shutdown_s:
            return 0.0
        return float(np.mean(np.concatenate(self.time_before_shutdown_s)))


@jit
def _interval(
    duration_s: float,
    p_start: NDArray[np.float64],
    p_end: NDArray[np.float64],
    allocated: NDArray[np.float64],
    requested: NDArray[np.float64],
    vm_requested: NDArray[np.float64],
    vm_allocated: NDArray[np.float64],
    vm_migrating: NDArray[np.bool_],
    power_state: NDArray[np.int8],
    sleep_w: NDArray[np.float64],
    peak_w: NDArray[np.float64],
    host_active_s: NDArray[np.float64],
    host_violation_s: NDArray[np.float64],
    vm_requested_mips_s: NDArray[np.float64],
    vm_migration_loss_mips_s: NDArray[np.float64],
) -> tuple[float, float]:
    """:meth:`Accounting.interval`'s sums in one pass (``power_state`` empty: CloudSim's hosts);
    returns (energy J, of which transition J) and adds to the running sums in place."""
    energy = 0.0
    transition = 0.0
    with_states = power_state.shape[0] > 0
    for h in range(p_start.shape[0]):
        active = allocated[h] > 0
        if with_states:
            if power_state[h] == ON:
                energy += (p_start[h] + p_end[h]) / 2.0 * duration_s
            elif power_state[h] == ASLEEP:
                energy += sleep_w[h] * duration_s
            else:
                energy += peak_w[h] * duration_s
                transition += peak_w[h] * duration_s
        elif active:
            energy += (p_start[h] + p_end[h]) / 2.0 * duration_s
        if active:
            host_active_s[h] += duration_s
            if allocated[h] < requested[h]:
                host_violation_s[h] += duration_s
    for v in range(vm_requested.shape[0]):
        vm_requested_mips_s[v] += vm_requested[v] * duration_s
        loss = vm_requested[v] - vm_allocated[v]
        if vm_migrating[v] and loss > 0:
            vm_migration_loss_mips_s[v] += loss * duration_s
    return energy, transition

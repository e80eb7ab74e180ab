"""The trace-driven simulator: every interval, detect, select, place, migrate, and account.

Timeline (CloudSim's, which the standard benchmark fixes): VMs are created at t = 0 at their full
MIPS; hosts are updated and a decision round runs at t = interval * k + 0.1 for k = 1 .. n_steps - 1;
migrations start at the decision instant and end RAM / (bandwidth / 2) seconds later, when all
hosts are updated again. Energy and SLA are accounted between successive updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable, PlacementRequest
from neat.scenario import Scenario
from neat.simulation.accounting import Accounting
from neat.simulation.allocation import HostState, allocate
from neat.simulation.decision import plan_round
from neat.simulation.guard import DetectorGuard, host_histories, trimmed_length
from neat.simulation.lower_bound import host_kinds, lower_bound_power
from neat.simulation.modes import Mode
from neat.simulation.policies import Policy
from neat.traces import TraceSet

#: Decision instants are offset from the sample instants by this much (CloudSim's event timing).
DECISION_OFFSET_S = 0.1
#: Newest samples of a VM's utilization history kept for the detectors.
HISTORY_WINDOW = 30
MBIT_PER_MB = 8.0


class CapacityError(ValueError):
    """The VMs cannot all be created: the data center is too small for the workload."""


@dataclass
class PhaseTimes:
    """Wall time spent per phase, in seconds."""

    detection_s: float = 0.0
    selection_s: float = 0.0
    placement_s: float = 0.0
    accounting_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


class DerivedMetrics:
    """The metrics derived from energy, its bound, SLATAH and PDM (for every result record)."""

    energy_kwh: float
    energy_lower_bound_kwh: float
    slatah: float
    pdm: float

    @property
    def gap_to_bound(self) -> float:
        return self.energy_kwh / self.energy_lower_bound_kwh - 1.0 if self.energy_lower_bound_kwh > 0 else 0.0

    @property
    def slav(self) -> float:
        return self.slatah * self.pdm

    @property
    def esv(self) -> float:
        return self.energy_kwh * self.slav


@dataclass
class SimulationResult(DerivedMetrics):
    """What one run of one policy produced."""

    policy: str
    mode: str
    vms: int
    hosts: int
    steps: int
    energy_kwh: float
    energy_lower_bound_kwh: float
    slatah: float
    slatah_mean_per_host: float
    pdm: float
    pdm_mean_per_vm: float
    migrations: int
    host_shutdowns: int
    mean_time_before_host_shutdown_s: float
    wall_time_s: float
    phases: PhaseTimes
    series: dict[str, NDArray[Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON record: fractions, not percents."""
        return {
            "policy": self.policy,
            "mode": self.mode,
            "vms": self.vms,
            "hosts": self.hosts,
            "steps": self.steps,
            "energy_kwh": round(self.energy_kwh, 4),
            "energy_lower_bound_kwh": round(self.energy_lower_bound_kwh, 4),
            "gap_to_bound": round(self.gap_to_bound, 6),
            "slatah": self.slatah,
            "slatah_mean_per_host": self.slatah_mean_per_host,
            "pdm": self.pdm,
            "pdm_mean_per_vm": self.pdm_mean_per_vm,
            "slav": self.slav,
            "esv": self.esv,
            "migrations": self.migrations,
            "host_shutdowns": self.host_shutdowns,
            "mean_time_before_host_shutdown_s": round(self.mean_time_before_host_shutdown_s, 2),
            "wall_time_s": round(self.wall_time_s, 3),
            "phase_times_s": self.phases.as_dict(),
        }


class Simulation:
    """One policy on one trace set in one scenario."""

    def __init__(self, traces: TraceSet, scenario: Scenario, policy: Policy, mode: Mode, *, seed: int = 0) -> None:
        self.traces = traces
        self.scenario = scenario
        self.policy = policy
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        self.hosts: HostTable = scenario.hosts()
        self.interval_s = float(traces.interval_s)
        vm_type = scenario.vm_type_index(traces.n_vms)
        self.vm_mips = np.array([scenario.vm_types[k].mips for k in vm_type], dtype=np.float64)
        self.vm_ram_mb = np.array([scenario.vm_types[k].ram_mb for k in vm_type], dtype=np.float64)
        # the sample after the last closes the day at the last value
        self.samples = np.concatenate([traces.utilization, traces.utilization[:, -1:]], axis=1)
        self.n_vms = traces.n_vms
        self.n_hosts = self.hosts.cpu_mips.shape[0]
        self.host_bandwidth_mbit_s = scenario.host_bandwidth_mbit_s()
        self.phases = PhaseTimes()
        self.host_kinds = host_kinds(scenario)

    # -- utilization -------------------------------------------------------------------------
    def utilization_at(self, time_s: float) -> NDArray[np.float64]:
        """Every VM's utilization at ``time_s``, linear between samples; shape (n_vms,)."""
        position = time_s / self.interval_s
        low = int(np.floor(position))
        if low >= self.samples.shape[1] - 1:
            return self.samples[:, -1].copy()
        u0 = self.samples[:, low]
        if time_s % self.interval_s == 0:
            return u0.copy()
        # UtilizationModelPlanetLabInMemory's order of operations
        high = int(np.ceil(position))
        delta = (self.samples[:, high] - u0) / ((high - low) * self.interval_s)
        result: NDArray[np.float64] = u0 + delta * (time_s - low * self.interval_s)
        return result

    def _state(
        self, time_s: float, vm_host: NDArray[np.intp], moving: NDArray[np.intp], targets: NDArray[np.intp]
    ) -> HostState:
        requested = self.utilization_at(time_s) * self.vm_mips
        return allocate(requested, vm_host, self.hosts.cpu_mips, self.hosts.pe_mips, moving, targets)

    # -- initial placement -------------------------------------------------------------------
    def initial_placement(self) -> NDArray[np.intp]:
        """Create VMs in index order at full MIPS: first fit (npa, dvfs) or the policy's placer."""
        from neat.simulation.creation import place_at_creation

        placed = place_at_creation(self)  # the compiled loop, where it applies
        if placed is not None:
            missing = np.flatnonzero(placed < 0)
            if missing.size:
                vm = int(missing[0])
                raise CapacityError(
                    f"VM {vm} ({self.traces.names[vm]}) fits on no host at creation: "
                    f"the data center is too small for the workload"
                )
            return placed
        n = self.n_vms
        vm_host = np.full(n, -1, dtype=np.intp)
        used_cpu = np.zeros(self.n_hosts)
        used_ram = np.zeros(self.n_hosts)
        policy = self.policy
        guard = None
        if policy.kind == "dynamic":
            assert policy.detector is not None
            # at creation a VM asks for its full MIPS and the VMs created before it for nothing
            # (their workload has not started), so the overload check sees the new VM alone
            guard = DetectorGuard(
                policy.detector,
                vm_history=np.ones((n, 1)),
                vm_mips=self.vm_mips,
                host_mips=self.hosts.cpu_mips,
                host_history=np.zeros((self.n_hosts, 1)),
                migration_time_steps=self.migration_steps(),
                state=policy.detector.initial_state(self.n_hosts),
                track_assignments=False,
            )
        for vm in range(n):
            mips, ram = self.vm_mips[vm], self.vm_ram_mb[vm]
            fits = (self.hosts.pe_mips >= mips) & (self.hosts.cpu_mips - used_cpu >= mips)
            fits &= self.hosts.ram_mb - used_ram >= ram
            if policy.kind != "dynamic":
                candidates = np.flatnonzero(fits)
                target = int(candidates[0]) if candidates.size else -1
            else:
                assert policy.placer is not None
                request = PlacementRequest(
                    vm_cpu_mips=np.array([mips]),
                    vm_ram_mb=np.array([ram]),
                    used_cpu_mips=used_cpu,
                    used_ram_mb=used_ram,
                    active=used_cpu > 0,
                    allowed=np.ones(self.n_hosts, dtype=np.bool_),
                    baseline_utilization=np.zeros(self.n_hosts) if self.mode.frozen_power_baseline else None,
                )
                assert guard is not None
                guard.vm_ids = np.array([vm])
                target = int(policy.placer.place(self.hosts, request, guard)[0])
            if target < 0:
                raise CapacityError(
                    f"VM {vm} ({self.traces.names[vm]}) fits on no host at creation: "
                    f"the data center is too small for the workload"
                )
            vm_host[vm] = target
            used_cpu[target] += mips
            used_ram[target] += ram
        return vm_host

    def migration_steps(self) -> NDArray[np.float64]:
        """Regression horizon per host, in steps (the longest migration off it, in CloudSim: 1)."""
        longest_s = float(self.vm_ram_mb.max()) * MBIT_PER_MB * 2 / self.host_bandwidth_mbit_s
        steps = longest_s / self.interval_s
        if self.mode.ceil_migration_steps:
            steps = np.ceil(steps)
        return np.asarray(steps, dtype=np.float64)

    # -- the run -----------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> SimulationResult:
        started = time.perf_counter()
        n_rounds = self.traces.n_steps - 1
        vm_host = self.initial_placement()
        vm_stamp = np.arange(self.n_vms, dtype=np.int64)  # order of VMs in their host's list
        next_stamp = self.n_vms
        vm_history = np.zeros((self.n_vms, HISTORY_WINDOW))
        vm_history_len = np.zeros(self.n_vms, dtype=np.intp)
        accounting = Accounting(self.n_hosts, self.n_vms, self.hosts.power_w)
        detector_state = self.policy.detector.initial_state(self.n_hosts) if self.policy.detector else None
        empty = np.zeros(0, dtype=np.intp)
        last_time = 0.0
        last_state: HostState | None = None
        series: dict[str, list[float]] = {
            k: []
            for k in (
                "time_s",
                "active_hosts",
                "power_w",
                "overloaded_hosts",
                "migrations",
                "lower_bound_hosts",
                "lower_bound_power_w",
                "demand_mips",
            )
        }
        migrations_total = 0
        for k in range(1, n_rounds + 1):
            now = self.interval_s * k + DECISION_OFFSET_S
            t0 = time.perf_counter()
            state = self._state(now, vm_host, empty, empty)
            if last_state is not None:
                accounting.interval(last_state, state, now - last_time)
            u_now = self.utilization_at(now)
            if self.mode.destroy_idle_vms:
                # CloudSim removes every VM requesting 0 MIPS at an update, before the decision
                vm_host[(u_now == 0) & (vm_host >= 0)] = -1
            vm_history[:, :-1] = vm_history[:, 1:]
            vm_history[:, -1] = u_now
            vm_history_len = np.minimum(vm_history_len + 1, HISTORY_WINDOW)
            alive = vm_host >= 0  # CloudSim mode destroys idle VMs: they carry no demand any more
            demand = float((u_now * self.vm_mips)[alive].sum())
            ram_demand = float(self.vm_ram_mb[alive].sum()) if self.mode.ram_constrains_migrations else 0.0
            lb_power, lb_hosts = lower_bound_power(demand, self.host_kinds, ram_demand)
            self.phases.accounting_s += time.perf_counter() - t0

            moves_vm = empty
            moves_to = empty
            n_overloaded = 0
            if self.policy.kind == "dynamic":
                moves_vm, moves_to, n_overloaded, detector_state = plan_round(
                    self, state, vm_host, vm_stamp, vm_history, vm_history_len, u_now, detector_state
                )
            t0 = time.perf_counter()
            migrations_total += int(moves_vm.size)
            moving = np.unique(moves_vm)
            if moves_vm.size:
                state = self._state(now, vm_host, moves_vm, moves_to)
            accounting.record(state, now)
            series["time_s"].append(now)
            series["active_hosts"].append(int(state.active.sum()))
            series["power_w"].append(float(state.power_w(self.hosts.power_w).sum()))
            series["overloaded_hosts"].append(n_overloaded)
            series["migrations"].append(int(moves_vm.size))
            series["lower_bound_hosts"].append(lb_hosts)
            series["lower_bound_power_w"].append(lb_power)
            series["demand_mips"].append(demand)
            last_time, last_state = now, state
            if moves_vm.size:
                # every migration ends within the round; hosts are updated at each completion time
                duration_s = self.vm_ram_mb[moves_vm] * MBIT_PER_MB * 2 / self.host_bandwidth_mbit_s[moves_to]
                ends = now + duration_s
                pending = np.ones(moves_vm.size, dtype=np.bool_)
                for end in np.unique(ends):
                    in_flight = np.flatnonzero(pending)
                    pre = self._state(end, vm_host, moves_vm[in_flight], moves_to[in_flight])
                    accounting.interval(last_state, pre, end - last_time)
                    done = np.flatnonzero(pending & (ends == end))
                    for i in done:  # in order: a VM moved twice ends on its last target
                        vm_host[moves_vm[i]] = moves_to[i]
                        vm_stamp[moves_vm[i]] = next_stamp
                        next_stamp += 1
                    pending[done] = False
                    in_flight = np.flatnonzero(pending)
                    if self.mode.destroy_idle_vms:  # VMs still migrating are spared
                        idle = (self.utilization_at(end) == 0) & (vm_host >= 0)
                        idle[moves_vm[in_flight]] = False
                        vm_host[idle] = -1
                    last_state = self._state(end, vm_host, moves_vm[in_flight], moves_to[in_flight])
                    last_time = end
                    accounting.record(last_state, end)
                del moving
            self.phases.accounting_s += time.perf_counter() - t0
            if progress is not None:
                progress(k)

        energy_kwh = accounting.energy_kwh
        if self.policy.kind == "npa":  # every host at full power for the whole run
            energy_kwh = float(self.hosts.power_w[:, -1].sum()) * last_time / 3.6e6
        lb_power_w = np.asarray(series["lower_bound_power_w"])
        times = np.asarray(series["time_s"])
        lower_bound_kwh = float(np.sum((lb_power_w[:-1] + lb_power_w[1:]) / 2 * np.diff(times))) / 3.6e6
        slatah, slatah_per_host = accounting.slatah()
        pdm, pdm_per_vm = accounting.pdm()
        return SimulationResult(
            policy=self.policy.name,
            mode=self.mode.name,
            vms=self.n_vms,
            hosts=self.n_hosts,
            steps=n_rounds,
            energy_kwh=energy_kwh,
            energy_lower_bound_kwh=lower_bound_kwh,
            slatah=slatah if self.policy.kind != "npa" else 0.0,
            slatah_mean_per_host=slatah_per_host if self.policy.kind != "npa" else 0.0,
            pdm=pdm,
            pdm_mean_per_vm=pdm_per_vm,
            migrations=migrations_total,
            host_shutdowns=accounting.shutdowns if self.policy.kind != "npa" else 0,
            mean_time_before_host_shutdown_s=accounting.mean_time_before_shutdown_s()
            if self.policy.kind != "npa"
            else 0.0,
            wall_time_s=time.perf_counter() - started,
            phases=self.phases,
            series={k: np.asarray(v) for k, v in series.items()},
        )


__all__ = ["HISTORY_WINDOW", "PhaseTimes", "Simulation", "SimulationResult", "host_histories", "trimmed_length"]

"""The trace-driven simulator: a clock, a simulated compute, and the accounting.

Timeline (CloudSim's, which the standard benchmark fixes): VMs are created at t = 0 at their full
MIPS (a scenario whose inventory places them, a cloud's export, starts them on their hosts); at
t = interval * k + 0.1 for k = 1 .. n_steps - 1 the hosts are updated and a cycle runs: the same
:func:`~neat.decision.decide.decide` and :func:`~neat.decision.plan.plan` as the service's, then
the service's :class:`~neat.execution.executor.Executor` on a
:class:`~neat.simulation.compute.SimulatedCompute`. Migrations take RAM / (bandwidth / 2) seconds of
simulated time; the executor's waits move the clock. Energy and SLA are accounted between
successive changes of the placement (:class:`~neat.simulation.accounting.Accounting`). A cycle
still executing at the next decision instant makes the simulator skip that decision, as the
service's scheduler does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.constants import J_PER_KWH
from neat.decision.creation import place_at_creation
from neat.decision.decide import decide
from neat.decision.inputs import DecisionInputs, PhaseTimes
from neat.decision.limits import Limits
from neat.decision.migration import migration_time_s
from neat.decision.plan import Plan, allowed, plan
from neat.decision.policy import Policy
from neat.execution.executor import DISABLE, ENABLE, MIGRATE, Action, Executor, NullLog
from neat.scenario import FREE_COSTS, Scenario
from neat.simulation.accounting import Accounting
from neat.simulation.allocation import HostState, allocate
from neat.simulation.compute import ON, SimulatedCompute
from neat.simulation.lower_bound import host_kinds, round_bound
from neat.simulation.results import SERIES, SimulationResult
from neat.traces import TraceSet

#: Decision instants are offset from the sample instants by this much (CloudSim's event timing).
DECISION_OFFSET_S = 0.1
#: Newest samples of a VM's utilization history kept for the detectors.
HISTORY_WINDOW = 30

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class CapacityError(ValueError):
    """The VMs cannot all be created: the data center is too small for the workload."""


class Simulation:
    """One policy on one trace set in one scenario.

    ``limits`` (default: the scenario's, unlimited unless it has a ``[limits]`` table) are the
    service's safety limits, applied by the same planner and executor.
    """

    def __init__(
        self, traces: TraceSet, scenario: Scenario, policy: Policy, *, seed: int = 0, limits: Limits | None = None
    ) -> None:
        self.traces = traces
        self.scenario = scenario
        self.policy = policy
        self.mode = policy.mode
        self.limits = scenario.limits if limits is None else limits
        self.costs = scenario.costs if self.mode.real_costs else FREE_COSTS
        self.rng = np.random.default_rng(seed)
        self.hosts = scenario.hosts()
        self.interval_s = float(traces.interval_s)
        vm_type = scenario.vm_type_index(traces.n_vms, traces.names)
        self.vm_mips = np.array([scenario.vm_types[k].mips for k in vm_type], dtype=np.float64)
        self.vm_ram_mb = np.array([scenario.vm_types[k].ram_mb for k in vm_type], dtype=np.float64)
        # by instant, (n_steps + 1, n_vms): the accounting reads every VM at one instant, a row; the
        # sample after the last closes the day at the last value
        n_steps = traces.utilization.shape[1]
        self.samples = np.empty((n_steps + 1, traces.n_vms))
        self.samples[:n_steps] = traces.utilization.T
        self.samples[n_steps] = traces.utilization[:, -1]
        self.n_vms = traces.n_vms
        self.n_hosts = self.hosts.cpu_mips.shape[0]
        self.host_bandwidth_mbit_s = scenario.host_bandwidth_mbit_s()
        self.host_names = scenario.host_names()
        self.phases = PhaseTimes()
        self.host_kinds = host_kinds(
            scenario, sleep_fraction=self.costs.sleep_fraction if self.costs.power_states else 0.0
        )
        self._utilization_cache: tuple[float, FloatArray] = (-1.0, np.zeros(0))

    # -- utilization -------------------------------------------------------------------------
    def utilization_at(self, time_s: float) -> FloatArray:
        """Every VM's utilization at ``time_s``, linear between samples; shape (n_vms,) (do not modify)."""
        if self._utilization_cache[0] == time_s:
            return self._utilization_cache[1]
        result = self._utilization_at(time_s)
        self._utilization_cache = (time_s, result)
        return result

    def _utilization_at(self, time_s: float) -> FloatArray:
        position = time_s / self.interval_s
        low = int(np.floor(position))
        if low >= self.samples.shape[0] - 1:
            return self.samples[-1].copy()
        u0 = self.samples[low]
        if time_s % self.interval_s == 0:
            return u0.copy()
        # UtilizationModelPlanetLabInMemory's order of operations
        high = int(np.ceil(position))
        delta = (self.samples[high] - u0) / ((high - low) * self.interval_s)
        result: FloatArray = u0 + delta * (time_s - low * self.interval_s)
        return result

    def vm_steps(self) -> FloatArray:
        """Each VM's migration horizon in steps, off a host of its type's link (for creation)."""
        link = float(self.host_bandwidth_mbit_s.min()) if self.n_hosts else 1.0
        return self.mode.migration_steps(migration_time_s(self.vm_ram_mb, link), self.interval_s)

    # -- initial placement -------------------------------------------------------------------
    def initial_placement(self) -> IntArray:
        """The scenario's placement when its inventory places the VMs (a cloud's export); else create
        VMs in index order at full MIPS with the policy's placer (baselines: first fit)."""
        named = self.scenario.initial_hosts(self.traces.names)
        if named is not None:
            return named
        placed = place_at_creation(self.hosts, self.policy, self.vm_mips, self.vm_ram_mb, self.vm_steps())
        missing = np.flatnonzero(placed < 0)
        if missing.size:
            vm = int(missing[0])
            why = (
                "the data center is too small for the workload"
                if self.policy.guard.NEVER
                else "its overload detector flags every host that could take it, "
                "or the data center is too small for the workload"
            )
            raise CapacityError(
                f"VM {vm} ({self.traces.names[vm]}) fits on no host at creation under {self.policy.name}: {why}"
            )
        return placed

    # -- the run -----------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> SimulationResult:
        started = time.perf_counter()
        return _Run(self, progress).result(started)


class _Run:
    """The state of one run: the clock, the compute, the ledger of the accounting, the series.

    Implements :class:`neat.simulation.compute.Timeline`.
    """

    def __init__(self, sim: Simulation, progress: Callable[[int], None] | None) -> None:
        self.sim = sim
        self.progress = progress
        mode = sim.mode
        n_rounds = sim.traces.n_steps - 1
        self.ticks = sim.interval_s * np.arange(1, n_rounds + 1) + DECISION_OFFSET_S
        self.ticks_seen = 0  # ticks handled so far
        self.cycle_running = False
        costs = sim.costs
        self.compute = SimulatedCompute(
            sim.initial_placement(),
            sim.vm_ram_mb,
            sim.hosts.ram_mb if mode.ram_constrains_migrations else None,
            sim.host_bandwidth_mbit_s,
            self,
            migration=costs.migration,
            utilization=sim.utilization_at,
            power_states=costs.power_states,
            suspend_s=costs.suspend_s,
            resume_s=costs.resume_s,
            chained_migrations=mode.overload_targets_may_be_evacuated,
        )
        if costs.power_states:  # the hosts the VMs were not created on sleep from the start
            self.compute.sleep(np.setdiff1d(np.arange(sim.n_hosts), self.compute.vm_host))
        self.executor = Executor(
            self.compute,
            NullLog(),
            sim.limits,
            retry_pause_s=0.0,
            sleep=lambda _s: None,
            clock=lambda: self.compute.clock_s,
        )
        self.accounting = Accounting(sim.n_hosts, sim.n_vms, sim.hosts.power_w, sleep_fraction=costs.sleep_fraction)
        self.power_states = costs.power_states
        self.vm_history = np.zeros((sim.n_vms, HISTORY_WINDOW))
        self._spare_history = np.zeros_like(self.vm_history)  # the next step's, written from this one
        self.vm_n_valid = np.zeros(sim.n_vms, dtype=np.intp)
        self.detector_state: Any = None
        # the ledger: the state at ledger_time (before its changes until recorded)
        self.ledger_time: float | None = None
        self.ledger_state: HostState | None = None
        self.recorded = True
        self.changed = False  # the placement changed since ledger_state was computed
        self.series = {k: np.zeros(n_rounds) for k in SERIES}
        self.series_row: int | None = None  # the tick whose state is recorded next
        self.accounting_s = 0.0
        self.run_loop(n_rounds)

    # -- the loop ----------------------------------------------------------------------------
    def run_loop(self, n_rounds: int) -> None:
        for k in range(n_rounds):
            if k < self.ticks_seen:
                continue  # passed while a cycle was executing
            now = float(self.ticks[k])
            self.compute.advance_to(now)
            self.observe(k, decide_now=True)
            if self.progress is not None:
                self.progress(k + 1)
        self.close()

    def observe(self, k: int, *, decide_now: bool) -> None:
        """Tick ``k``: update the hosts, account, record the series and (``decide_now``) run a cycle."""
        sim, compute = self.sim, self.compute
        now = float(self.ticks[k])
        self.ticks_seen = k + 1
        t0 = time.perf_counter()
        self.move_to(now)
        assert self.ledger_state is not None
        snapshot = self.ledger_state
        u_now = sim.utilization_at(now)
        if sim.mode.destroy_idle_vms:  # at an update, before the decision
            self.destroy_idle_vms(u_now, compute.migrating())
        # shifted into the spare: in place, NumPy would copy the overlapping rows to a temporary first
        history = self._spare_history
        history[:, :-1] = self.vm_history[:, 1:]
        history[:, -1] = u_now
        self.vm_history, self._spare_history = history, self.vm_history
        self.vm_n_valid = np.minimum(self.vm_n_valid + 1, HISTORY_WINDOW)
        alive = compute.vm_host >= 0  # CloudSim mode destroys idle VMs: they carry no demand any more
        demand = float((u_now * sim.vm_mips)[alive].sum())
        ram_demand = float(sim.mode.migration_ram_mb(sim.vm_ram_mb)[alive].sum())
        bound = round_bound(demand, sim.host_kinds, ram_demand)
        row = self.series
        row["time_s"][k], row["lower_bound_hosts"][k], row["lower_bound_power_w"][k] = now, bound.hosts, bound.power_w
        row["lower_bound_cpu_only_hosts"][k], row["lower_bound_ram_only_hosts"][k] = (
            bound.cpu_only_hosts,
            bound.ram_only_hosts,
        )
        row["ram_binds"][k] = bound.ram_binds
        row["demand_mips"][k] = demand
        self.series_row = k
        self.accounting_s += time.perf_counter() - t0
        if decide_now and sim.policy.moves_vms:
            self.cycle(k, snapshot)
        self.close()

    def cycle(self, k: int, snapshot: HostState) -> None:
        """Decide, plan and execute at tick ``k``."""
        sim, compute = self.sim, self.compute
        inputs = self.inputs(snapshot, float(self.ticks[k]))
        decision = decide(
            inputs,
            sim.policy,
            self.detector_state,
            rng=sim.rng,
            phases=sim.phases,
            budget=sim.limits.max_migrations_per_cycle,
        )
        self.detector_state = decision.detector_state
        self.series["overloaded_hosts"][k] = int(decision.overloaded.sum())
        idle = self.idle_hosts()
        if decision.n_moves == 0 and idle.size == 0:
            return
        asleep = compute.disabled | (compute.power_state != ON)
        planned = plan(decision, inputs, sim.limits, host_asleep=asleep)
        actions = actions_of(planned)
        actions += [Action(DISABLE, h) for h in np.setdiff1d(idle, planned.targets).tolist()]
        before, accounted = compute.started, self.accounting_s
        t0 = time.perf_counter()
        self.cycle_running = True
        try:
            self.executor.apply(actions)
        finally:
            self.cycle_running = False
        sim.phases.execution_s += time.perf_counter() - t0 - (self.accounting_s - accounted)
        self.series["migrations"][k] = compute.started - before

    def idle_hosts(self) -> IntArray:
        """With power states: hosts on and enabled that hold no VM (to suspend); else none."""
        compute = self.compute
        if not self.power_states:
            return np.zeros(0, dtype=np.intp)
        holding = np.zeros(self.sim.n_hosts, dtype=np.bool_)
        holding[compute.vm_host[compute.vm_host >= 0]] = True
        holding[compute.targets()] = True
        result: IntArray = np.flatnonzero((compute.power_state == ON) & ~compute.disabled & ~holding)
        return result

    def inputs(self, snapshot: HostState, now: float) -> DecisionInputs:
        """The decision's inputs from the compute's placement and the VMs' histories."""
        sim, compute, limits = self.sim, self.compute, self.sim.limits
        vm_host = compute.vm_host
        link = sim.host_bandwidth_mbit_s[np.maximum(vm_host, 0)]
        masks: tuple[Any, Any, Any] = (None, None, None)
        restricted = limits.exclude_hosts or limits.exclude_vms or limits.vm_cooldown_s > 0
        if restricted or compute.in_flight:
            busy = np.zeros(sim.n_vms, dtype=np.bool_)
            busy[compute.migrating()] = True
            masks = allowed(
                limits,
                host_names=sim.host_names,
                vm_names=sim.traces.names,
                vm_busy=busy,
                vm_last_migrated_s=compute.vm_last_migrated_s,
                now_s=now,
            )
        return DecisionInputs(
            hosts=sim.hosts,
            vm_host=vm_host,
            vm_mips=sim.vm_mips,
            vm_ram_mb=sim.vm_ram_mb,
            vm_history=self.vm_history,
            vm_n_valid=self.vm_n_valid,
            vm_migration_time_s=sim.costs.migration.duration_s(sim.vm_ram_mb, link, sim.utilization_at(now)),
            interval_s=sim.interval_s,
            vm_order=compute.vm_stamp,
            host_utilization=snapshot.utilization,
            host_active=(compute.power_state == ON) & ~compute.disabled if self.power_states else None,
            vm_movable=masks[0],
            host_source_allowed=masks[1],
            host_target_allowed=masks[2],
        )

    # -- the ledger (Timeline) ---------------------------------------------------------------
    def state(self, time_s: float) -> HostState:
        sim, compute = self.sim, self.compute
        requested = sim.utilization_at(time_s) * sim.vm_mips
        return allocate(
            requested,
            compute.vm_host,
            sim.hosts.cpu_mips,
            sim.hosts.pe_mips,
            compute.migrating(),
            compute.targets(),
            sim.hosts.power_w,
        )

    def move_to(self, time_s: float) -> None:
        """Account the time from the ledger's instant to ``time_s`` with the placement as it is."""
        if self.ledger_time is None:
            self.ledger_time, self.ledger_state, self.recorded = time_s, self.state(time_s), False
            return
        if time_s > self.ledger_time:
            self.close()
            assert self.ledger_state is not None
            before = self.state(time_s)
            state = self.compute.power_state if self.power_states else None
            self.accounting.interval(self.ledger_state, before, time_s - self.ledger_time, state)
            self.ledger_time, self.ledger_state = time_s, before
            self.changed = False
        self.recorded = False

    def close(self) -> None:
        """Record the state at the ledger's instant, its changes made."""
        if self.recorded or self.ledger_time is None:
            return
        t0 = time.perf_counter()
        if self.changed or self.ledger_state is None:
            self.ledger_state = self.state(self.ledger_time)
            self.changed = False
        self.accounting.record(self.ledger_state, self.ledger_time)
        self.recorded = True
        k = self.series_row
        if k is not None and self.ticks[k] == self.ledger_time:
            self.series["active_hosts"][k] = int(self.ledger_state.active.sum())
            state = self.compute.power_state if self.power_states else None
            self.series["power_w"][k] = float(self.accounting.power_w(self.ledger_state, state).sum())
            self.series_row = None
        self.accounting_s += time.perf_counter() - t0

    def before_change(self, time_s: float) -> None:
        if time_s == self.ledger_time:  # another change at the same instant
            self.recorded = False
            self.changed = True
            return
        t0 = time.perf_counter()
        self.move_to(time_s)
        self.changed = True
        self.accounting_s += time.perf_counter() - t0

    def after_completions(self, time_s: float, in_flight: IntArray) -> None:
        if self.sim.mode.destroy_idle_vms:
            self.destroy_idle_vms(self.sim.utilization_at(time_s), in_flight)

    def destroy_idle_vms(self, utilization: FloatArray, in_flight: IntArray) -> None:
        """CloudSim's rule: remove for good every VM on a host whose ``utilization`` (n_vms,) is 0,
        but those still migrating (``in_flight``)."""
        compute = self.compute
        idle = (utilization == 0) & (compute.vm_host >= 0)
        idle[in_flight] = False
        compute.destroy(idle)

    def tick(self, time_s: float) -> None:
        self.observe(self.ticks_seen, decide_now=False)
        if self.progress is not None:
            self.progress(self.ticks_seen)

    def next_tick_after(self, time_s: float) -> float:
        if not self.cycle_running or self.ticks_seen >= self.ticks.shape[0]:
            return float("inf")
        return float(self.ticks[self.ticks_seen])

    # -- the result --------------------------------------------------------------------------
    def result(self, started: float) -> SimulationResult:
        sim, accounting = self.sim, self.accounting
        sim.phases.accounting_s += self.accounting_s
        last_time = self.ledger_time or 0.0
        full_power = sim.policy.always_full_power
        compute = self.compute
        energy_kwh = accounting.energy_kwh + compute.migration_energy_j / J_PER_KWH
        if full_power:  # every host at full power for the whole run
            energy_kwh = float(sim.hosts.power_w[:, -1].sum()) * last_time / J_PER_KWH
        lb_power_w, times = self.series["lower_bound_power_w"], self.series["time_s"]
        lower_bound_kwh = float(np.sum((lb_power_w[:-1] + lb_power_w[1:]) / 2 * np.diff(times))) / J_PER_KWH
        slatah, slatah_per_host = accounting.slatah()
        pdm, pdm_per_vm = accounting.pdm()
        series = dict(self.series)
        if full_power:  # the series say what was accounted: every host on, at full power
            series["active_hosts"] = np.full_like(series["active_hosts"], sim.n_hosts)
            series["power_w"] = np.full_like(series["power_w"], float(sim.hosts.power_w[:, -1].sum()))
        for key in (
            "active_hosts",
            "overloaded_hosts",
            "migrations",
            "lower_bound_hosts",
            "lower_bound_cpu_only_hosts",
            "lower_bound_ram_only_hosts",
        ):
            series[key] = series[key].astype(np.int64)
        series["ram_binds"] = series["ram_binds"].astype(np.bool_)
        return SimulationResult(
            policy=sim.policy.name,
            mode=sim.mode.name,
            vms=sim.n_vms,
            hosts=sim.n_hosts,
            steps=int(self.ticks.shape[0]),
            energy_kwh=energy_kwh,
            energy_lower_bound_kwh=lower_bound_kwh,
            slatah=0.0 if full_power else slatah,
            slatah_mean_per_host=0.0 if full_power else slatah_per_host,
            pdm=pdm,
            pdm_mean_per_vm=pdm_per_vm,
            migrations=int(series["migrations"].sum()),
            host_shutdowns=0 if full_power else accounting.shutdowns,
            host_suspends=compute.suspends,
            host_wakes=compute.wakes,
            migration_energy_kwh=compute.migration_energy_j / J_PER_KWH,
            transition_energy_kwh=accounting.transition_energy_j / J_PER_KWH,
            costs=sim.costs.name,
            mean_time_before_host_shutdown_s=0.0 if full_power else accounting.mean_time_before_shutdown_s(),
            wall_time_s=time.perf_counter() - started,
            phases=sim.phases,
            series=series,
        )


def actions_of(planned: Plan) -> list[Action]:
    """A plan as the executor's actions (hosts and VMs by index): wakes, migrations, disables."""
    actions = [Action(ENABLE, host) for host in planned.wakes.tolist()]
    actions += [
        Action(MIGRATE, source, vm, target)
        for vm, source, target in zip(
            planned.vms.tolist(), planned.sources.tolist(), planned.targets.tolist(), strict=True
        )
    ]
    actions += [Action(DISABLE, host) for host in planned.disables.tolist()]
    return actions


__all__ = ["DECISION_OFFSET_S", "HISTORY_WINDOW", "CapacityError", "Simulation", "actions_of"]

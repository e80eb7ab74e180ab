"""One decision round: overload detection, VM selection, PABFD placement, underload evacuation.

The round plans on a copy of the allocation and returns the migration list in the order the moves
were decided (which is the order they are executed in).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import OverloadDetector, PlacementRequest, VmTable
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.selection.mc import MaximumCorrelation
from algorithms.selection.mmt import MinimumMigrationTime
from algorithms.selection.mu import MinimumUtilization
from neat.simulation import round_arrays
from neat.simulation.allocation import HostState, sum_by
from neat.simulation.detector_kernels import DetectorSpec, detector_spec
from neat.simulation.guard import DetectorGuard, host_histories, host_histories_of, take_state, trimmed_length
from neat.simulation.jit import COMPILED
from neat.simulation.placement_kernel import evacuate, place_selected

if TYPE_CHECKING:
    from neat.simulation.engine import Simulation
    from neat.simulation.policies import Policy

#: Selectors whose pick on a host depends only on that host's VMs (in list order), without random
#: draws: they may be shown only the VMs of the overloaded hosts. Others (RS draws one number per
#: row of the table; third-party selectors) see every VM.
_LOCAL_SELECTORS = (MinimumMigrationTime, MinimumUtilization, MaximumCorrelation)


def plan_round(
    sim: Simulation,
    state: HostState,
    vm_host: NDArray[np.intp],
    vm_stamp: NDArray[np.int64],
    vm_history: NDArray[np.float64],
    vm_history_len: NDArray[np.intp],
    u_now: NDArray[np.float64],
    detector_state: Any,
) -> tuple[NDArray[np.intp], NDArray[np.intp], int, Any]:
    """Plan one round; returns (VMs to move, their targets, overloaded host count, detector state)."""
    policy, mode, hosts = sim.policy, sim.mode, sim.hosts
    detector, selector, placer = policy.detector, policy.selector, policy.placer
    assert detector is not None and selector is not None and placer is not None
    n_hosts = sim.n_hosts

    t0 = time.perf_counter()
    requested = u_now * sim.vm_mips
    host_history = host_histories(vm_host, vm_history, sim.vm_mips, hosts.cpu_mips)
    steps = np.broadcast_to(sim.migration_steps(), (n_hosts,))
    overloaded, next_state = detector.evaluate(host_history, trimmed_length(host_history), steps, detector_state)
    t1 = time.perf_counter()
    sim.phases.detection_s += t1 - t0

    plan_host = vm_host.copy()
    plan_stamp = vm_stamp.copy()
    next_stamp = int(plan_stamp.max()) + 1 if plan_stamp.size else 0
    placed = vm_host >= 0  # destroyed VMs (CloudSim mode) have no host
    capped = np.where(placed, np.minimum(requested, hosts.pe_mips[vm_host]), 0.0)
    used_cpu = sum_by(vm_host[placed], capped[placed], n_hosts)
    used_cpu = np.where(used_cpu > hosts.cpu_mips, hosts.cpu_mips, used_cpu)  # over-subscribed: nothing free
    if mode.ram_constrains_migrations:
        used_ram = sum_by(vm_host[placed], sim.vm_ram_mb[placed], n_hosts)
        vm_ram = sim.vm_ram_mb
    else:
        used_ram = np.zeros(n_hosts)
        vm_ram = np.zeros(sim.n_vms)
    snapshot = state.utilization
    baseline = snapshot if mode.frozen_power_baseline else None

    selected = _select_until_relieved(
        sim,
        overloaded,
        plan_host,
        plan_stamp,
        vm_history,
        vm_history_len,
        requested,
        host_history,
        steps,
        detector_state,
    )
    sources = vm_host[selected]
    np.subtract.at(used_cpu, sources, capped[selected])
    np.subtract.at(used_ram, sources, vm_ram[selected])
    t2 = time.perf_counter()
    sim.phases.selection_s += t2 - t1

    rnd = _Round(
        sim=sim,
        overloaded=overloaded,
        snapshot=snapshot,
        baseline=baseline,
        requested=requested,
        capped=capped,
        vm_ram=vm_ram,
        used_cpu=used_cpu,
        used_ram=used_ram,
        plan_host=plan_host,
        plan_stamp=plan_stamp,
        next_stamp=next_stamp,
        host_history=host_history,
        vm_history=vm_history,
        steps=steps,
        detector_state=detector_state,
    )
    spec = compiled_spec(sim.policy)
    if spec is None:
        moves_vm, moves_to = _place_numpy(rnd, selected)
    else:
        moves_vm, moves_to = _place_compiled(rnd, selected, spec)
    sim.phases.placement_s += time.perf_counter() - t2

    if moves_vm:
        return np.concatenate(moves_vm), np.concatenate(moves_to), int(overloaded.sum()), next_state
    empty = np.zeros(0, dtype=np.intp)
    return empty, empty, int(overloaded.sum()), next_state


@dataclasses.dataclass
class _Round:
    """The planning state of one round that both placement paths read and update.

    Host arrays are (n_hosts,), VM arrays (n_vms,), ``host_history`` (n_hosts, window).
    ``used_cpu``, ``used_ram``, ``plan_host``, ``plan_stamp``, ``next_stamp`` and ``host_history``
    follow the committed moves.
    """

    sim: Simulation
    overloaded: NDArray[np.bool_]
    snapshot: NDArray[np.float64]
    baseline: NDArray[np.float64] | None
    requested: NDArray[np.float64]
    capped: NDArray[np.float64]
    vm_ram: NDArray[np.float64]
    used_cpu: NDArray[np.float64]
    used_ram: NDArray[np.float64]
    plan_host: NDArray[np.intp]
    plan_stamp: NDArray[np.int64]
    next_stamp: int
    host_history: NDArray[np.float64]
    vm_history: NDArray[np.float64]
    steps: NDArray[np.float64]
    detector_state: Any

    def commit(self, vms: NDArray[np.intp], targets: NDArray[np.intp], *, add_used: bool = True) -> None:
        """Record moves in the plan (stamps in order); with ``add_used``, add their CPU and RAM too."""
        self.plan_host[vms] = targets
        self.plan_stamp[vms] = np.arange(self.next_stamp, self.next_stamp + vms.size)
        self.next_stamp += vms.size
        if add_used:
            np.add.at(self.used_cpu, targets, self.capped[vms])
            np.add.at(self.used_ram, targets, self.vm_ram[vms])

    def underload_queue(
        self, phase1_targets: NDArray[np.intp]
    ) -> tuple[NDArray[np.intp], NDArray[np.bool_], NDArray[np.bool_]]:
        """Hosts to try to empty, least utilized first, and the excluded sources and targets."""
        snapshot = self.snapshot
        excluded_source = self.overloaded | (snapshot == 0)
        excluded_target = excluded_source.copy()
        if not self.sim.mode.overload_targets_may_be_evacuated:
            excluded_source[phase1_targets] = True
        # the snapshot is fixed for the round, so "repeatedly the least utilized" is one sorted pass
        first = ~excluded_source & (snapshot > 0) & (snapshot < 1.0)
        queue = np.flatnonzero(first)[np.argsort(snapshot[first], kind="stable")]
        return queue, excluded_source, excluded_target


@functools.cache
def _spec_of(detector: OverloadDetector) -> DetectorSpec | None:
    return detector_spec(detector)


def compiled_spec(policy: Policy) -> DetectorSpec | None:
    """The detector's kernel description if the compiled placement applies to ``policy``, else None.

    It applies when numba is installed, the placer is PABFD itself and the detector is one the
    kernels know (:func:`neat.simulation.detector_kernels.detector_spec`).
    """
    if not COMPILED or type(policy.placer) is not PowerAwareBestFitDecreasing or policy.detector is None:
        return None
    return _spec_of(policy.detector)


def _place_numpy(rnd: _Round, selected: NDArray[np.intp]) -> tuple[list[NDArray[np.intp]], list[NDArray[np.intp]]]:
    """Both placement phases with the policy's placer and a :class:`DetectorGuard`, one VM batch a call."""
    sim = rnd.sim
    hosts, placer, detector = sim.hosts, sim.policy.placer, sim.policy.detector
    assert placer is not None and detector is not None
    requested, vm_ram, used_cpu, used_ram = rnd.requested, rnd.vm_ram, rnd.used_cpu, rnd.used_ram
    guard = DetectorGuard(
        detector,
        vm_history=rnd.vm_history,
        vm_mips=sim.vm_mips,
        host_mips=hosts.cpu_mips,
        host_history=rnd.host_history,
        migration_time_steps=rnd.steps,
        state=rnd.detector_state,
    )
    evacuation_placer = placer
    if "all_or_nothing" in placer.PARAMETERS:
        evacuation_placer = dataclasses.replace(placer, all_or_nothing=True)  # type: ignore[call-arg]
    moves_vm: list[NDArray[np.intp]] = []
    moves_to: list[NDArray[np.intp]] = []

    def place(
        vms: NDArray[np.intp], allowed: NDArray[np.bool_], evacuate: bool = False
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Place ``vms``; return (positions in placement order, targets) of those placed."""
        guard.vm_ids = vms
        request = PlacementRequest(
            vm_cpu_mips=requested[vms],
            vm_ram_mb=vm_ram[vms],
            used_cpu_mips=used_cpu,
            used_ram_mb=used_ram,
            active=rnd.snapshot > 0,
            allowed=allowed,
            baseline_utilization=rnd.baseline,
        )
        targets = (evacuation_placer if evacuate else placer).place(hosts, request, guard)
        order = np.argsort(-requested[vms], kind="stable")
        return order, targets[order]

    def commit(vms: NDArray[np.intp], targets: NDArray[np.intp]) -> None:
        moves_vm.append(vms)
        moves_to.append(targets)
        rnd.commit(vms, targets)

    # VMs leaving overloaded hosts
    phase1_targets = np.zeros(0, dtype=np.intp)
    if selected.size:
        order, targets = place(selected, ~rnd.overloaded)
        ok = targets >= 0
        phase1_targets = targets[ok]
        commit(selected[order][ok], phase1_targets)

    # underloaded hosts: take the least utilized, try to move all its VMs away
    queue, excluded_source, excluded_target = rnd.underload_queue(phase1_targets)
    for source in queue:
        if excluded_source[source]:  # it received VMs meanwhile
            continue
        excluded_source[source] = True
        excluded_target[source] = True
        on_source = np.flatnonzero(rnd.plan_host == source)
        if on_source.size == 0:
            continue
        allowed = ~excluded_target
        if not allowed.any():
            continue
        # a cheap necessary condition: the largest VM fits somewhere at all
        room_cpu = np.minimum(hosts.pe_mips, hosts.cpu_mips - used_cpu)[allowed].max()
        room_ram = (hosts.ram_mb - used_ram)[allowed].max()
        if requested[on_source].max() > room_cpu or vm_ram[on_source].max() > room_ram:
            continue
        vms = on_source[np.argsort(rnd.plan_stamp[on_source], kind="stable")]
        mark = guard.checkpoint()
        order, targets = place(vms, allowed, evacuate=True)
        if (targets < 0).any():
            guard.rollback(mark)
            continue  # not all VMs fit: the host keeps them all
        commit(vms[order], targets)
        excluded_source[targets] = True
    return moves_vm, moves_to


def _place_compiled(
    rnd: _Round, selected: NDArray[np.intp], spec: DetectorSpec
) -> tuple[list[NDArray[np.intp]], list[NDArray[np.intp]]]:
    """Both placement phases in the compiled kernels (:mod:`neat.simulation.placement_kernel`)."""
    sim = rnd.sim
    hosts, placer = sim.hosts, sim.policy.placer
    assert isinstance(placer, PowerAwareBestFitDecreasing)
    arrays = round_arrays.pack_round(
        hosts,
        placer,
        spec,
        steps=rnd.steps,
        baseline_utilization=rnd.baseline,
        used_cpu=rnd.used_cpu,
        used_ram=rnd.used_ram,
        active=rnd.snapshot > 0,
        vm_mips=sim.vm_mips,
        vm_cpu=rnd.requested,
        vm_capped=rnd.capped,
        vm_ram=rnd.vm_ram,
        vm_history=rnd.vm_history,
        host_history=rnd.host_history,
    )
    moves_vm: list[NDArray[np.intp]] = []
    moves_to: list[NDArray[np.intp]] = []
    phase1_targets = np.zeros(0, dtype=np.intp)
    if selected.size:
        vms, phase1_targets = place_selected(arrays, selected, rnd.overloaded, placer.all_or_nothing)
        rnd.commit(vms, phase1_targets, add_used=False)
        moves_vm.append(vms)
        moves_to.append(phase1_targets)
    queue, excluded_source, excluded_target = rnd.underload_queue(phase1_targets)
    vms, targets = evacuate(arrays, queue, excluded_source, excluded_target, rnd.plan_host, rnd.plan_stamp)
    moves_vm.append(vms)
    moves_to.append(targets)
    rnd.used_cpu[:], rnd.used_ram[:] = arrays.host[:, round_arrays.USED_CPU], arrays.host[:, round_arrays.USED_RAM]
    return moves_vm, moves_to


def _select_until_relieved(
    sim: Simulation,
    overloaded: NDArray[np.bool_],
    plan_host: NDArray[np.intp],
    plan_stamp: NDArray[np.int64],
    vm_history: NDArray[np.float64],
    vm_history_len: NDArray[np.intp],
    requested: NDArray[np.float64],
    host_history: NDArray[np.float64],
    steps: NDArray[np.float64],
    detector_state: Any,
) -> NDArray[np.intp]:
    """Pick VMs off every overloaded host, one per host per pass, until the detector clears it.

    Updates ``plan_host`` (selected VMs get -1) and ``host_history`` in place. Returns the selected
    VMs grouped by host in host order, each host's in selection order (CloudSim's order).
    """
    selector, detector = sim.policy.selector, sim.policy.detector
    assert selector is not None and detector is not None
    if not overloaded.any():
        return np.zeros(0, dtype=np.intp)
    local = type(selector) in _LOCAL_SELECTORS
    # a local selector sees only the VMs of hosts still overloaded; others see every VM
    candidates = np.flatnonzero(_on(plan_host, overloaded)) if local else np.arange(plan_host.shape[0])
    rows = candidates[np.argsort(plan_stamp[candidates], kind="stable")]  # ties: first in the host's list

    def vm_table(rows: NDArray[np.intp]) -> VmTable:
        return VmTable(
            host=plan_host[rows],
            cpu_mips=requested[rows],
            capacity_mips=sim.vm_mips[rows],
            ram_mb=sim.vm_ram_mb[rows],
            history=vm_history[rows],
            n_valid=vm_history_len[rows],
        )

    table = vm_table(rows)
    active = overloaded.copy()
    picked_host: list[NDArray[np.intp]] = []
    picked_vm: list[NDArray[np.intp]] = []
    while active.any():
        pick = selector.select(table, active, sim.rng)
        chosen = active & (pick >= 0)
        hosts_now = np.flatnonzero(chosen)
        active &= chosen
        if hosts_now.size == 0:
            break
        vms = rows[pick[hosts_now]]
        picked_host.append(hosts_now)
        picked_vm.append(vms)
        plan_host[vms] = -1
        host_history[hosts_now] = host_histories_of(
            hosts_now, candidates, plan_host, vm_history, sim.vm_mips, sim.hosts.cpu_mips
        )
        history = host_history[hosts_now]
        still, _ = detector.evaluate(
            history, trimmed_length(history), steps[hosts_now], take_state(detector_state, hosts_now)
        )
        active[hosts_now] = still
        if local:
            rows, candidates = rows[_on(plan_host[rows], active)], candidates[_on(plan_host[candidates], active)]
            table = vm_table(rows)
        else:
            table.host[pick[hosts_now]] = -1
    hosts_all = np.concatenate(picked_host)
    vms_all = np.concatenate(picked_vm)
    return vms_all[np.argsort(hosts_all, kind="stable")]


def _on(vm_host: NDArray[np.intp], hosts: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Whether each VM runs on one of ``hosts`` (a mask over hosts); False for VMs without a host."""
    result: NDArray[np.bool_] = np.where(vm_host >= 0, hosts[vm_host], False)
    return result

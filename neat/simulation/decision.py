"""One decision round: overload detection, VM selection, PABFD placement, underload evacuation.

The round plans on a copy of the allocation and returns the migration list in the order the moves
were decided (which is the order they are executed in).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import PlacementRequest, VmTable
from neat.simulation.allocation import HostState, sum_by
from neat.simulation.guard import DetectorGuard, host_histories, take_state, trimmed_length

if TYPE_CHECKING:
    from neat.simulation.engine import Simulation


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
    steps = np.broadcast_to(sim._migration_steps(), (n_hosts,))
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

    guard = DetectorGuard(
        detector,
        vm_history=vm_history,
        vm_mips=sim.vm_mips,
        host_mips=hosts.cpu_mips,
        host_history=host_history,
        migration_time_steps=steps,
        state=detector_state,
    )
    evacuation_placer = placer
    if "all_or_nothing" in placer.PARAMETERS:
        evacuation_placer = dataclasses.replace(placer, all_or_nothing=True)  # type: ignore[call-arg]
    moves_vm: list[NDArray[np.intp]] = []
    moves_to: list[NDArray[np.intp]] = []

    def place(
        vms: NDArray[np.intp], allowed: NDArray[np.bool_], g: DetectorGuard, evacuate: bool = False
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Place ``vms``; return (positions in placement order, targets) of those placed."""
        g.vm_ids = vms
        request = PlacementRequest(
            vm_cpu_mips=requested[vms],
            vm_ram_mb=vm_ram[vms],
            used_cpu_mips=used_cpu,
            used_ram_mb=used_ram,
            active=snapshot > 0,
            allowed=allowed,
            baseline_utilization=baseline,
        )
        targets = (evacuation_placer if evacuate else placer).place(hosts, request, g)
        order = np.argsort(-requested[vms], kind="stable")
        return order, targets[order]

    def commit(vms: NDArray[np.intp], targets: NDArray[np.intp]) -> None:
        nonlocal next_stamp
        moves_vm.append(vms)
        moves_to.append(targets)
        plan_host[vms] = targets
        plan_stamp[vms] = np.arange(next_stamp, next_stamp + vms.size)
        next_stamp += vms.size
        np.add.at(used_cpu, targets, capped[vms])
        np.add.at(used_ram, targets, vm_ram[vms])

    # VMs leaving overloaded hosts
    phase1_targets = np.zeros(0, dtype=np.intp)
    if selected.size:
        order, targets = place(selected, ~overloaded, guard)
        ok = targets >= 0
        vms = selected[order][ok]
        phase1_targets = targets[ok]
        commit(vms, phase1_targets)

    # underloaded hosts: take the least utilized, try to move all its VMs away
    excluded_source = overloaded | (snapshot == 0)
    excluded_target = excluded_source.copy()
    if not mode.overload_targets_may_be_evacuated:
        excluded_source[phase1_targets] = True
    # the snapshot is fixed for the round, so "repeatedly the least utilized" is one sorted pass
    first = ~excluded_source & (snapshot > 0) & (snapshot < 1.0)
    queue = np.flatnonzero(first)[np.argsort(snapshot[first], kind="stable")]
    for source in queue:
        if excluded_source[source]:  # it received VMs meanwhile
            continue
        excluded_source[source] = True
        excluded_target[source] = True
        on_source = np.flatnonzero(plan_host == source)
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
        vms = on_source[np.argsort(plan_stamp[on_source], kind="stable")]
        mark = guard.checkpoint()
        order, targets = place(vms, allowed, guard, evacuate=True)
        if (targets < 0).any():
            guard.rollback(mark)
            continue  # not all VMs fit: the host keeps them all
        commit(vms[order], targets)
        excluded_source[targets] = True
    sim.phases.placement_s += time.perf_counter() - t2

    if moves_vm:
        return np.concatenate(moves_vm), np.concatenate(moves_to), int(overloaded.sum()), next_state
    empty = np.zeros(0, dtype=np.intp)
    return empty, empty, int(overloaded.sum()), next_state


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
    by_list_order = np.argsort(plan_stamp, kind="stable")  # ties on a host: first in its VM list
    table_host = plan_host[by_list_order]
    table = VmTable(
        host=table_host,
        cpu_mips=requested[by_list_order],
        capacity_mips=sim.vm_mips[by_list_order],
        ram_mb=sim.vm_ram_mb[by_list_order],
        history=vm_history[by_list_order],
        n_valid=vm_history_len[by_list_order],
    )
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
        rows = pick[hosts_now]
        vms = by_list_order[rows]
        picked_host.append(hosts_now)
        picked_vm.append(vms)
        table_host[rows] = -1
        plan_host[vms] = -1
        remaining = np.where(np.isin(plan_host, hosts_now), plan_host, -1)
        host_history[hosts_now] = host_histories(remaining, vm_history, sim.vm_mips, sim.hosts.cpu_mips)[hosts_now]
        history = host_history[hosts_now]
        still, _ = detector.evaluate(
            history, trimmed_length(history), steps[hosts_now], take_state(detector_state, hosts_now)
        )
        active[hosts_now] = still
    hosts_all = np.concatenate(picked_host)
    vms_all = np.concatenate(picked_vm)
    return vms_all[np.argsort(hosts_all, kind="stable")]

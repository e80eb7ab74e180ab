"""PABFD with the detector guard, compiled: one decision round's placements in two kernel calls.

The NumPy path (:class:`algorithms.placement.pabfd.PowerAwareBestFitDecreasing` with
:class:`neat.simulation.guard.DetectorGuard`, driven by :func:`neat.simulation.decision.plan_round`)
places one VM per Python iteration, and each iteration is a dozen NumPy calls on host arrays: at
tens of thousands of sequential placements a day the call overhead dominates. These kernels run
the same greedy loop as scalar code:

- :func:`place_selected` places the VMs selected off overloaded hosts (PABFD's loop);
- :func:`evacuate` takes the underloaded hosts in order and moves all of a host's VMs or none.

Both make the same choices as the NumPy path, bit for bit: the same power arithmetic
(:func:`power_at`), candidates ranked by (power increase, host index), the guard consulted only
for hosts already in use (:mod:`neat.simulation.detector_kernels`), placements within a call
priced against the placer's running copy of the used CPU and committed with the capped demand
afterwards, and guard assignments kept across calls (rolled back when an evacuation fails).

The inputs are packed into a few 2-D arrays (:class:`RoundArrays`): numba passes every array of
a tuple as a separate argument to every call, so a wide tuple costs seconds of compilation.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD) and section 5 (the round).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.power import power_w
from neat.simulation.detector_kernels import DetectorSpec, detect_row
from neat.simulation.jit import jit, stable_argsort

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Rows of ``RoundArrays.host``: static, then the three the kernels update.
CPU, PE, RAM, CAPACITY, STEPS, BASELINE, USED_CPU, USED_RAM, ON = range(9)
N_HOST_ROWS = 9
#: Rows of ``RoundArrays.vm``.
VM_MIPS, VM_CPU, VM_CAPPED, VM_RAM = range(4)
#: Positions in ``RoundArrays.options``.
FROZEN, EMPTY_FULL = 0, 1


class RoundArrays(NamedTuple):
    """Everything the kernels read for one decision round, and the host state they update.

    Attributes
    ----------
    host : float array (N_HOST_ROWS, n_hosts)
        CPU (capacity, MIPS), PE (one core), RAM (MB), CAPACITY (CPU the placer may fill:
        CPU x cpu_threshold), STEPS (migration horizon for predictive detectors), BASELINE (power
        each host is priced against when the baseline is frozen); updated: USED_CPU, USED_RAM,
        ON (1.0 for a host switched on; a placement call sets entries and restores them).
    power_w : float array (n_hosts, 11)
    host_history : float array (n_hosts, window)
        Utilization history of each host with its planned VMs; the guard's assignments add to it.
    vm : float array (4, n_vms)
        VM_MIPS (size), VM_CPU (demand now), VM_CAPPED (demand within one core of its host: what a
        committed move adds), VM_RAM.
    vm_history : float array (n_vms, window)
    options : float array (2,)
        FROZEN (price against BASELINE), EMPTY_FULL (a switched-off host costs its whole power).
    params, coef : the detector's :class:`neat.simulation.detector_kernels.DetectorSpec`
    """

    host: FloatArray
    power_w: FloatArray
    host_history: FloatArray
    vm: FloatArray
    vm_history: FloatArray
    options: FloatArray
    params: FloatArray
    coef: FloatArray


def pack_round(
    hosts: HostTable,
    placer: PowerAwareBestFitDecreasing,
    spec: DetectorSpec,
    *,
    steps: FloatArray,
    baseline_utilization: FloatArray | None,
    used_cpu: FloatArray,
    used_ram: FloatArray,
    active: BoolArray,
    vm_mips: FloatArray,
    vm_cpu: FloatArray,
    vm_capped: FloatArray,
    vm_ram: FloatArray,
    vm_history: FloatArray,
    host_history: FloatArray,
) -> RoundArrays:
    """The kernels' inputs: host arrays (n_hosts,), VM arrays (n_vms,), histories (rows, window).

    ``host_history`` is used in place (the guard's assignments go into it); the used CPU and RAM
    are copied into ``host[USED_CPU]`` and ``host[USED_RAM]``. ``baseline_utilization`` freezes
    the pricing baseline, as :class:`algorithms.base.PlacementRequest`'s does.
    """
    host = np.empty((N_HOST_ROWS, hosts.cpu_mips.shape[0]))
    host[CPU], host[PE], host[RAM] = hosts.cpu_mips, hosts.pe_mips, hosts.ram_mb
    host[CAPACITY] = hosts.cpu_mips * placer.cpu_threshold
    host[STEPS] = steps
    host[BASELINE] = 0.0 if baseline_utilization is None else power_w(hosts.power_w, baseline_utilization)
    host[USED_CPU], host[USED_RAM], host[ON] = used_cpu, used_ram, active
    return RoundArrays(
        host=host,
        power_w=np.ascontiguousarray(hosts.power_w, dtype=np.float64),
        host_history=host_history,
        vm=np.stack([vm_mips, vm_cpu, vm_capped, vm_ram]).astype(np.float64, copy=False),
        vm_history=np.ascontiguousarray(vm_history, dtype=np.float64),
        options=np.array([baseline_utilization is not None, placer.empty_host_cost == "full"], dtype=np.float64),
        params=spec.params,
        coef=spec.coef,
    )


@jit
def power_at(table_w: FloatArray, utilization: float) -> float:
    """Power at ``utilization`` under one (11,) table, as :func:`algorithms.power.power_w` computes it."""
    u = min(max(utilization, 0.0), 1.0)
    scaled = u * 10.0
    low = math.floor(scaled)
    p_low = table_w[low]
    delta = (table_w[math.ceil(scaled)] - p_low) / 10.0
    return p_low + delta * (u - low / 10.0) * 100.0


@jit
def _accepts(a: RoundArrays, vm: int, host: int, row: FloatArray) -> bool:
    """An empty host, or one the detector does not judge overloaded with ``vm`` added."""
    if a.host[USED_CPU, host] == 0:
        return True
    scale = a.vm[VM_MIPS, vm] / a.host[CPU, host]
    for j in range(row.shape[0]):
        row[j] = a.host_history[host, j] + a.vm_history[vm, j] * scale
    return not detect_row(a.params, a.coef, row, a.host[STEPS, host])


@jit
def best_host(a: RoundArrays, vm: int, excluded: BoolArray, increase: FloatArray, index: IntArray) -> int:
    """The host PABFD picks for ``vm``: least power increase, lowest index on ties, guard passed; -1 if none.

    ``increase`` and ``index`` are (n_hosts,) scratch space.
    """
    host = a.host
    cpu, ram = a.vm[VM_CPU, vm], a.vm[VM_RAM, vm]
    frozen, empty_full = a.options[FROZEN] != 0, a.options[EMPTY_FULL] != 0
    n = 0
    best, best_increase = -1, math.inf
    for h in range(host.shape[1]):
        used = host[USED_CPU, h]
        if excluded[h] or host[PE, h] < cpu or host[CAPACITY, h] - used < cpu or host[RAM, h] - host[USED_RAM, h] < ram:
            continue
        after = power_at(a.power_w[h], (used + cpu) / host[CPU, h])
        before = host[BASELINE, h] if frozen else power_at(a.power_w[h], used / host[CPU, h])
        if empty_full and host[ON, h] == 0:
            before = 0.0
        increase[n] = after - before
        index[n] = h
        if increase[n] < best_increase:
            best, best_increase = h, increase[n]
        n += 1
    row = np.empty(a.host_history.shape[1])
    if best < 0 or _accepts(a, vm, best, row):
        return best
    # the cheapest host is refused: walk the rest in (increase, index) order
    for i in stable_argsort(increase[:n]):
        h = index[i]
        if h != best and _accepts(a, vm, h, row):
            return h
    return -1


@jit
def _place(
    a: RoundArrays, vms: IntArray, excluded: BoolArray, all_or_nothing: bool, targets: IntArray, undo: FloatArray
) -> tuple[bool, IntArray, int]:
    """PABFD.place on ``vms``; fills ``targets`` (-1: not placed), returns (all placed, order, n_log).

    ``order`` is the placement order (demand descending, stable). USED_CPU, USED_RAM and ON are
    back to their values at entry; the guard's assignments stay in ``host_history``, and
    ``undo`` (len(vms), 1 + window) logs the first ``n_log`` of them in order: host, previous row.
    """
    host = a.host
    increase = np.empty(host.shape[1])
    index = np.empty(host.shape[1], dtype=np.intp)
    order = stable_argsort(-a.vm[VM_CPU][vms])
    saved = np.empty((vms.shape[0], 4))
    targets[:] = -1
    complete = True
    n_log = 0
    for pos in order:
        vm = vms[pos]
        h = best_host(a, vm, excluded, increase, index)
        if h < 0:
            complete = False
            if all_or_nothing:
                break
            continue
        targets[pos] = h
        saved[n_log, 0], saved[n_log, 1], saved[n_log, 2], saved[n_log, 3] = (
            h,
            host[USED_CPU, h],
            host[USED_RAM, h],
            host[ON, h],
        )
        undo[n_log, 0] = h
        undo[n_log, 1:] = a.host_history[h]
        n_log += 1
        host[USED_CPU, h] += a.vm[VM_CPU, vm]
        host[USED_RAM, h] += a.vm[VM_RAM, vm]
        host[ON, h] = 1.0
        scale = a.vm[VM_MIPS, vm] / host[CPU, h]
        for j in range(a.host_history.shape[1]):
            a.host_history[h, j] = a.host_history[h, j] + a.vm_history[vm, j] * scale
    for i in range(n_log - 1, -1, -1):
        h = int(saved[i, 0])
        host[USED_CPU, h], host[USED_RAM, h], host[ON, h] = saved[i, 1], saved[i, 2], saved[i, 3]
    if not complete and all_or_nothing:
        targets[:] = -1
    return complete, order, n_log


@jit
def _commit(a: RoundArrays, vms: IntArray, targets: IntArray, order: IntArray, moved: IntArray, n_moved: int) -> int:
    """Commit the placed VMs in placement order (capped demand and RAM to the target); new n_moved.

    ``moved`` (2, capacity) collects (VM, target) columns.
    """
    for pos in order:
        h = targets[pos]
        if h < 0:
            continue
        vm = vms[pos]
        a.host[USED_CPU, h] += a.vm[VM_CAPPED, vm]
        a.host[USED_RAM, h] += a.vm[VM_RAM, vm]
        moved[0, n_moved], moved[1, n_moved] = vm, h
        n_moved += 1
    return n_moved


@jit
def place_selected(a: RoundArrays, vms: IntArray, excluded: BoolArray, all_or_nothing: bool) -> IntArray:
    """Place the VMs selected off overloaded hosts on the hosts not ``excluded``, and commit them.

    Returns (2, n_placed): the VMs placed and their targets, in placement order.
    """
    targets = np.empty(vms.shape[0], dtype=np.intp)
    undo = np.empty((vms.shape[0], 1 + a.host_history.shape[1]))
    _, order, _ = _place(a, vms, excluded, all_or_nothing, targets, undo)
    moved = np.empty((2, vms.shape[0]), dtype=np.intp)
    n_moved = _commit(a, vms, targets, order, moved, 0)
    return moved[:, :n_moved]


@jit
def vms_by_host(plan_host: IntArray, plan_stamp: NDArray[np.int64], n_hosts: int) -> tuple[IntArray, IntArray]:
    """VMs grouped by host, each host's in stamp order: (start (n_hosts + 1,), vm (n_placed,)).

    Host ``h``'s VMs are ``vm[start[h]:start[h + 1]]``; VMs without a host (-1) are left out.
    """
    start = np.zeros(n_hosts + 1, dtype=np.intp)
    for h in plan_host:
        if h >= 0:
            start[h + 1] += 1
    for h in range(n_hosts):
        start[h + 1] += start[h]
    fill = start[:-1].copy()
    vm = np.empty(start[n_hosts], dtype=np.intp)
    for v in range(plan_host.shape[0]):
        h = plan_host[v]
        if h >= 0:  # insert by stamp among the host's VMs so far (a host holds a few VMs)
            k = fill[h]
            while k > start[h] and plan_stamp[vm[k - 1]] > plan_stamp[v]:
                vm[k] = vm[k - 1]
                k -= 1
            vm[k] = v
            fill[h] += 1
    return start, vm


@jit
def evacuate(
    a: RoundArrays,
    queue: IntArray,
    excluded_source: BoolArray,
    excluded_target: BoolArray,
    plan_host: IntArray,
    plan_stamp: NDArray[np.int64],
) -> IntArray:
    """Empty the hosts in ``queue`` in order, each all or nothing (the round's underload pass).

    A host already in ``excluded_source`` (it received VMs) is skipped; a host taken becomes
    excluded as source and target; its VMs (by ``plan_host``, in ``plan_stamp`` order) go to hosts
    not in ``excluded_target``, and their targets become excluded as sources. Updates both masks;
    returns (2, n_moved): the VMs moved and their targets, in commit order.
    """
    start, members = vms_by_host(plan_host, plan_stamp, a.host.shape[1])
    moved = np.empty((2, members.shape[0]), dtype=np.intp)
    n_moved = 0
    for source in queue:
        if excluded_source[source]:
            continue
        excluded_source[source] = True
        excluded_target[source] = True
        vms = members[start[source] : start[source + 1]]
        if vms.shape[0] == 0:
            continue
        targets = np.empty(vms.shape[0], dtype=np.intp)
        undo = np.empty((vms.shape[0], 1 + a.host_history.shape[1]))
        complete, order, n_log = _place(a, vms, excluded_target, True, targets, undo)
        if not complete:  # the host keeps all its VMs: roll the guard back, newest first
            for i in range(n_log - 1, -1, -1):
                a.host_history[int(undo[i, 0])] = undo[i, 1:]
            continue
        first = n_moved
        n_moved = _commit(a, vms, targets, order, moved, n_moved)
        for i in range(first, n_moved):
            excluded_source[moved[1, i]] = True
    return moved[:, :n_moved]

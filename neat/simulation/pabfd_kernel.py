"""PABFD's choice for one VM, compiled: the cheapest acceptable host in (power increase, index) order.

:func:`best_host` is the inner step of :class:`algorithms.placement.pabfd.PowerAwareBestFitDecreasing`
with :class:`neat.simulation.guard.DetectorGuard` as its guard, written as scalar code for numba
with the same arithmetic (:func:`power_at` is :func:`algorithms.power.power_w` operation for
operation), the same ranking (power increase, ties to the lowest index) and the guard consulted
only for hosts already in use (:func:`neat.simulation.detector_kernels.detect_row`).

A data center is mostly switched-off hosts of a few types, and such hosts are interchangeable:
with nothing on them, hosts with equal capacities, power table and pricing baseline cost the same
for every VM and need no guard. :func:`index_hosts` groups them into classes, so that a search
prices one host per class (its lowest index) and scans only the hosts in use: the cost of a
placement follows the active hosts, not the data center.

The inputs are packed into a few 2-D arrays (:class:`RoundArrays`): numba passes every array of
a tuple as a separate argument to every call, so a wide tuple costs seconds of compilation.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD).
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
from neat.simulation.jit import jit, jit_inline, stable_argsort

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Rows of ``RoundArrays.host``: static, then the three the kernels update.
CPU, PE, RAM, CAPACITY, STEPS, BASELINE, USED_CPU, USED_RAM, ON, BEFORE = range(10)
N_HOST_ROWS = 10
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
        ON (1.0 for a host switched on; a placement call sets entries and restores them), BEFORE
        (the power a placement's increase is measured from, kept by :func:`reprice`).
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


@jit_inline
def power_at(table_w: FloatArray, h: int, utilization: float) -> float:
    """Power of host ``h`` at ``utilization`` under its row of ``table_w`` (n_hosts, 11), as
    :func:`algorithms.power.power_w` computes it."""
    u = min(max(utilization, 0.0), 1.0)
    scaled = u * 10.0
    low = math.floor(scaled)
    p_low = table_w[h, low]
    delta = (table_w[h, math.ceil(scaled)] - p_low) / 10.0
    return p_low + delta * (u - low / 10.0) * 100.0


#: Rows of ``Workspace.ints``.
SCAN, MEMBERS, CLASS_START, INDEX, IN_SCAN, NEXT = range(6)
#: Positions in ``Workspace.sizes``.
N_SCAN, N_CLASSES = 0, 1
#: Beyond this many classes of switched-off hosts, the rest are scanned one by one.
MAX_CLASSES = 64


class Workspace(NamedTuple):
    """Host lists and scratch space of one kernel call.

    Attributes
    ----------
    ints : intp array (6, n_hosts + 1)
        SCAN: the hosts searched one by one (in use, or in use since :func:`index_hosts`);
        MEMBERS and CLASS_START: idle hosts grouped by class, ascending (class ``c`` is
        ``MEMBERS[CLASS_START[c]:CLASS_START[c + 1]]``); NEXT: per class, the first member that
        may still be idle (see :func:`restart_classes`); INDEX: candidate hosts of a search;
        IN_SCAN: 1 for a host in SCAN.
    increase : float array (n_hosts + 1,)
        Power increase of each candidate of a search.
    row : float array (window,)
        A host history with the VM added, for the guard.
    sizes : intp array (2,)
        N_SCAN, N_CLASSES.
    """

    ints: IntArray
    increase: FloatArray
    row: FloatArray
    sizes: IntArray


@jit_inline
def idle(a: RoundArrays, h: int) -> bool:
    """Nothing used on host ``h`` and it is switched off: it is priced as every host of its class."""
    return a.host[USED_CPU, h] == 0 and a.host[USED_RAM, h] == 0 and a.host[ON, h] == 0


@jit
def _same_class(a: RoundArrays, h: int, g: int) -> bool:
    for row in (CPU, PE, RAM, CAPACITY, BASELINE):
        if a.host[row, h] != a.host[row, g]:
            return False
    for k in range(a.power_w.shape[1]):  # noqa: SIM110 (numba compiles loops, not generators)
        if a.power_w[h, k] != a.power_w[g, k]:
            return False
    return True


@jit
def index_hosts(a: RoundArrays, excluded: BoolArray) -> Workspace:
    """Lists of the hosts not ``excluded``: idle ones by class, the others to scan one by one."""
    n_hosts = a.host.shape[1]
    ints = np.zeros((6, n_hosts + 1), dtype=np.intp)
    scan, members, start, class_of, in_scan = ints[SCAN], ints[MEMBERS], ints[CLASS_START], ints[INDEX], ints[IN_SCAN]
    first = np.empty(MAX_CLASSES, dtype=np.intp)  # lowest host of each class
    n_scan = n_classes = 0
    for h in range(n_hosts):
        reprice(a, h)
        class_of[h] = -1
        if excluded[h]:
            continue
        if idle(a, h):
            for c in range(n_classes):
                if _same_class(a, h, first[c]):
                    class_of[h] = c
                    break
            if class_of[h] < 0 and n_classes < MAX_CLASSES:
                first[n_classes] = h
                class_of[h] = n_classes
                n_classes += 1
        if class_of[h] < 0:
            scan[n_scan] = h
            in_scan[h] = 1
            n_scan += 1
        else:
            start[class_of[h] + 1] += 1
    for c in range(n_classes):
        start[c + 1] += start[c]
    fill = start[:n_classes].copy()
    for h in range(n_hosts):  # ascending, so each class lists its hosts in index order
        c = class_of[h]
        if c >= 0:
            members[fill[c]] = h
            fill[c] += 1
    sizes = np.array([n_scan, n_classes], dtype=np.intp)
    w = Workspace(ints, np.empty(n_hosts + 1), np.empty(a.host_history.shape[1]), sizes)
    restart_classes(w)
    return w


@jit
def restart_classes(w: Workspace) -> None:
    """Look for each class's lowest idle host from its first member again.

    Within one PABFD call hosts only gain VMs and exclusions only grow, so a search skips the
    members it found busy or excluded for good; a new call (whose entry state restores the used
    CPU) starts over.
    """
    for c in range(w.sizes[N_CLASSES]):
        w.ints[NEXT, c] = w.ints[CLASS_START, c]


@jit
def note_used(w: Workspace, h: int) -> None:
    """Host ``h`` received a VM: search it one by one from now on."""
    if w.ints[IN_SCAN, h] == 0:
        w.ints[IN_SCAN, h] = 1
        w.ints[SCAN, w.sizes[N_SCAN]] = h
        w.sizes[N_SCAN] += 1


@jit_inline
def reprice(a: RoundArrays, h: int) -> None:
    """Set BEFORE of host ``h`` from its state: 0 W for a switched-off host priced in full, else
    the frozen BASELINE or the power at its used CPU. Call after every change of USED_CPU or ON."""
    host = a.host
    if a.options[EMPTY_FULL] != 0 and host[ON, h] == 0:
        host[BEFORE, h] = 0.0
    elif a.options[FROZEN] != 0:
        host[BEFORE, h] = host[BASELINE, h]
    else:
        host[BEFORE, h] = power_at(a.power_w, h, host[USED_CPU, h] / host[CPU, h])


@jit_inline
def _increase(host: FloatArray, power: FloatArray, h: int, cpu: float, ram: float) -> float:
    """Power increase of host ``h`` with ``cpu`` MIPS and ``ram`` MB more; +inf where they do not fit.

    Takes ``RoundArrays`` fields, not the tuple, and reads the pricing baseline from BEFORE: written
    so, the loop compiles to a few nanoseconds a host.
    """
    used = host[USED_CPU, h]
    if host[PE, h] < cpu or host[CAPACITY, h] - used < cpu or host[RAM, h] - host[USED_RAM, h] < ram:
        return math.inf
    return power_at(power, h, (used + cpu) / host[CPU, h]) - host[BEFORE, h]


@jit
def _accepts(a: RoundArrays, vm: int, h: int, row: FloatArray) -> bool:
    """An empty host, or one the detector does not judge overloaded with ``vm`` added."""
    if a.host[USED_CPU, h] == 0:
        return True
    scale = a.vm[VM_MIPS, vm] / a.host[CPU, h]
    for j in range(row.shape[0]):
        row[j] = a.host_history[h, j] + a.vm_history[vm, j] * scale
    return not detect_row(a.params, a.coef, row, a.host[STEPS, h])


@jit_inline
def _class_host(a: RoundArrays, w: Workspace, c: int, excluded: BoolArray) -> int:
    """The lowest idle host of class ``c`` not excluded now, or -1 (hosts that took VMs are in SCAN)."""
    ints = w.ints
    k = ints[NEXT, c]
    while k < ints[CLASS_START, c + 1] and (excluded[ints[MEMBERS, k]] or not idle(a, ints[MEMBERS, k])):
        k += 1
    ints[NEXT, c] = k
    return ints[MEMBERS, k] if k < ints[CLASS_START, c + 1] else -1


@jit
def best_host(a: RoundArrays, w: Workspace, vm: int, excluded: BoolArray) -> int:
    """The host PABFD picks for ``vm``: least power increase, lowest index on ties, guard passed; -1 if none.

    Candidates are the hosts of ``w``'s SCAN list and the lowest idle host of each class, less
    those ``excluded`` now.
    """
    cpu, ram = a.vm[VM_CPU, vm], a.vm[VM_RAM, vm]
    host, power, scan = a.host, a.power_w, w.ints[SCAN]
    best, best_increase = -1, math.inf
    for i in range(w.sizes[N_SCAN]):
        h = scan[i]
        if not excluded[h]:
            increase = _increase(host, power, h, cpu, ram)
            if increase < best_increase or (increase == best_increase and h < best):
                best, best_increase = h, increase
    for c in range(w.sizes[N_CLASSES]):
        h = _class_host(a, w, c, excluded)
        if h >= 0:
            increase = _increase(host, power, h, cpu, ram)
            if increase < best_increase or (increase == best_increase and h < best):
                best, best_increase = h, increase
    if best < 0 or _accepts(a, vm, best, w.row):
        return best
    # the cheapest host is refused: rank all candidates by (increase, index) and walk on
    n = 0
    index, increase_of = w.ints[INDEX], w.increase
    for i in range(w.sizes[N_SCAN] + w.sizes[N_CLASSES]):
        h = scan[i] if i < w.sizes[N_SCAN] else _class_host(a, w, i - w.sizes[N_SCAN], excluded)
        if h >= 0 and not excluded[h] and h != best:
            index[n], increase_of[n] = h, _increase(host, power, h, cpu, ram)
            n += increase_of[n] < math.inf
    by_index = stable_argsort(index[:n].astype(np.float64))
    for i in by_index[stable_argsort(increase_of[:n][by_index])]:
        if _accepts(a, vm, index[i], w.row):
            return index[i]
    return -1

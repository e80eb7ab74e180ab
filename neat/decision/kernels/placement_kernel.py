"""One decision round's placements, compiled: PABFD over the selected VMs, then the underload pass.

The NumPy path (:class:`algorithms.placement.pabfd.PowerAwareBestFitDecreasing` with
:class:`neat.decision.guard.DetectorGuard`, driven by :func:`neat.decision.decide.decide`)
places one VM per Python iteration, and each iteration is a dozen NumPy calls on host arrays: at
tens of thousands of sequential placements a day the call overhead dominates. These kernels run
the same greedy loop as scalar code:

- :func:`place_selected` places the VMs selected off overloaded hosts (PABFD's loop);
- :func:`evacuate` takes the underloaded hosts in order and moves all of a host's VMs or none.

Both make the same choices as the NumPy path, bit for bit: each VM goes where
:func:`algorithms.placement._pabfd_search.best_host` says, placements within a call are priced against
the placer's running copy of the used CPU and committed with the capped demand afterwards, and
the guard's assignments are kept across calls (rolled back when an evacuation fails).

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD) and section 5 (the round).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import stable_argsort
from algorithms.placement._pabfd_arrays import (
    CPU,
    HOST_NV,
    ON,
    STEPS,
    USED_CPU,
    USED_RAM,
    VM_CAPPED,
    VM_CPU,
    VM_MIPS,
    VM_NV,
    VM_RAM,
    VM_STEPS,
    BoolArray,
    FloatArray,
    IntArray,
    RoundArrays,
)
from algorithms.placement._pabfd_index import Workspace, index_hosts, restart_classes, update_host
from algorithms.placement._pabfd_search import best_host
from neat.decision.kernels.jit import jit


@jit
def _place(
    a: RoundArrays,
    w: Workspace,
    vms: IntArray,
    excluded: BoolArray,
    all_or_nothing: bool,
    targets: IntArray,
    undo: FloatArray,
) -> tuple[bool, IntArray, int]:
    """PABFD.place on ``vms``; fills ``targets`` (-1: not placed), returns (all placed, order, n_log).

    ``order`` is the placement order (demand descending, stable). USED_CPU, USED_RAM and ON are
    back to their values at entry; the guard's assignments stay in ``host_history``, HOST_NV and
    STEPS, and ``undo`` (len(vms), UNDO + window) logs the first ``n_log`` of them in order (see
    :func:`_assign`).
    """
    host = a.host
    restart_classes(w)
    order = stable_argsort(-a.vm[VM_CPU][vms])
    saved = np.empty((vms.shape[0], 4))
    targets[:] = -1
    complete = True
    n_log = 0
    for pos in order:
        vm = vms[pos]
        h = best_host(a, w, vm, excluded)
        if h < 0:
            complete = False
            if all_or_nothing:
                break
            continue
        targets[pos] = h
        saved[n_log, 0], saved[n_log, 1], saved[n_log, 2], saved[n_log, 3] = (
            h,
            host[h, USED_CPU],
            host[h, USED_RAM],
            host[h, ON],
        )
        _assign(a, vm, h, undo[n_log])
        n_log += 1
        host[h, USED_CPU] += a.vm[VM_CPU, vm]
        host[h, USED_RAM] += a.vm[VM_RAM, vm]
        host[h, ON] = 1.0
        update_host(a, w, excluded, h)
    for i in range(n_log - 1, -1, -1):
        h = int(saved[i, 0])
        host[h, USED_CPU], host[h, USED_RAM], host[h, ON] = saved[i, 1], saved[i, 2], saved[i, 3]
        update_host(a, w, excluded, h)
    if not complete and all_or_nothing:
        targets[:] = -1
    return complete, order, n_log


#: Columns of an undo entry before the previous history row: host, HOST_NV, STEPS.
UNDO = 3


@jit
def _assign(a: RoundArrays, vm: int, h: int, undo: FloatArray) -> None:
    """The guard's view of ``vm`` placed on ``h``: its history added to the host's, the longer
    valid length and horizon of the two kept; the previous values logged in ``undo`` (UNDO + window,)."""
    undo[0], undo[1], undo[2] = h, a.host[h, HOST_NV], a.host[h, STEPS]
    undo[UNDO:] = a.host_history[h]
    a.host[h, HOST_NV] = max(a.host[h, HOST_NV], a.vm[VM_NV, vm])
    a.host[h, STEPS] = max(a.host[h, STEPS], a.vm[VM_STEPS, vm])
    scale = a.vm[VM_MIPS, vm] / a.host[h, CPU]
    for j in range(a.host_history.shape[1]):
        a.host_history[h, j] = a.host_history[h, j] + a.vm_history[vm, j] * scale


@jit
def _unassign(a: RoundArrays, undo: FloatArray) -> None:
    """Undo one :func:`_assign` from its log entry."""
    h = int(undo[0])
    a.host[h, HOST_NV], a.host[h, STEPS] = undo[1], undo[2]
    a.host_history[h] = undo[UNDO:]


@jit
def _commit(
    a: RoundArrays,
    w: Workspace,
    excluded: BoolArray,
    vms: IntArray,
    targets: IntArray,
    order: IntArray,
    moved: IntArray,
    n_moved: int,
) -> int:
    """Commit the placed VMs in placement order (capped demand and RAM to the target); new n_moved.

    ``moved`` (2, capacity) collects (VM, target) columns.
    """
    for pos in order:
        h = targets[pos]
        if h < 0:
            continue
        vm = vms[pos]
        a.host[h, USED_CPU] += a.vm[VM_CAPPED, vm]
        a.host[h, USED_RAM] += a.vm[VM_RAM, vm]
        update_host(a, w, excluded, h)
        moved[0, n_moved], moved[1, n_moved] = vm, h
        n_moved += 1
    return n_moved


@jit
def place_selected(a: RoundArrays, vms: IntArray, excluded: BoolArray, all_or_nothing: bool) -> IntArray:
    """Place the VMs selected off overloaded hosts on the hosts not ``excluded``, and commit them.

    Returns (2, n_placed): the VMs placed and their targets, in placement order.
    """
    targets = np.empty(vms.shape[0], dtype=np.intp)
    undo = np.empty((vms.shape[0], UNDO + a.host_history.shape[1]))
    w = index_hosts(a, excluded)
    _, order, _ = _place(a, w, vms, excluded, all_or_nothing, targets, undo)
    moved = np.empty((2, vms.shape[0]), dtype=np.intp)
    n_moved = _commit(a, w, excluded, vms, targets, order, moved, 0)
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
    budget_left: IntArray,
) -> IntArray:
    """Empty the hosts in ``queue`` in order, each all or nothing (the round's underload pass).

    A host already in ``excluded_source`` (it received VMs) is skipped; a host taken becomes
    excluded as source and target; its VMs (by ``plan_host``, in ``plan_stamp`` order) go to hosts
    not in ``excluded_target``, and their targets become excluded as sources. ``budget_left`` (1,)
    is the plan's migrations left (-1: unlimited): an evacuation that fits is taken from it, and
    the pass stops when it reaches 0 (``decide``'s ``budget``). Updates both masks and
    ``budget_left``; returns (2, n_moved): the VMs moved and their targets, in commit order.
    """
    start, members = vms_by_host(plan_host, plan_stamp, a.host.shape[0])
    w = index_hosts(a, excluded_target)
    moved = np.empty((2, members.shape[0]), dtype=np.intp)
    n_moved = 0
    for source in queue:
        if budget_left[0] == 0:
            break
        if excluded_source[source]:
            continue
        excluded_source[source] = True
        excluded_target[source] = True  # its block's room and bound stay valid, only looser
        vms = members[start[source] : start[source + 1]]
        if vms.shape[0] == 0:
            continue
        targets = np.empty(vms.shape[0], dtype=np.intp)
        undo = np.empty((vms.shape[0], UNDO + a.host_history.shape[1]))
        complete, order, n_log = _place(a, w, vms, excluded_target, True, targets, undo)
        if not complete:  # the host keeps all its VMs: roll the guard back, newest first
            for i in range(n_log - 1, -1, -1):
                _unassign(a, undo[i])
            continue
        first = n_moved
        n_moved = _commit(a, w, excluded_target, vms, targets, order, moved, n_moved)
        if 0 <= n_moved - first <= budget_left[0]:
            budget_left[0] -= n_moved - first
        for i in range(first, n_moved):
            excluded_source[moved[1, i]] = True
    return moved[:, :n_moved]

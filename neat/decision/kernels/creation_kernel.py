"""VMs placed at their creation, compiled: PABFD one VM at a time, over classes of identical hosts.

At creation the guard sees the new VM alone: every host has the same (empty) history, valid
length, horizon and detector state, so two hosts of one kind (capacity, power table, pricing
baseline) holding the same used CPU and RAM cost the same for every VM, fit the same VMs and get
the same answer from the guard. :func:`create` keeps such hosts in classes and prices one host
per class, its lowest index: PABFD's first acceptable host in (power increase, index) order is
always a class's lowest (a host ranked before it in its class would have the same increase, a
lower index and the same answer), so the choice is the same as pricing every host, at a cost
that follows the number of classes, not of hosts. Where the hosts' histories or states differ,
or hosts are of more kinds than the idle classes hold, every host in use is searched
(:func:`create_one_by_one`).

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD); CloudSim 4.0's initial placement.
"""

from __future__ import annotations

import math

import numpy as np

from algorithms.placement._pabfd_arrays import (
    HOST_NV,
    ON,
    STEPS,
    USED_CPU,
    USED_RAM,
    VM_CPU,
    VM_RAM,
    BoolArray,
    IntArray,
    RoundArrays,
    reprice,
)
from algorithms.placement._pabfd_index import INDEX, N_CLASSES, Workspace, index_hosts, update_host
from algorithms.placement._pabfd_search import _accepts, _increase, best_host
from neat.decision.kernels.jit import jit


@jit
def create_one_by_one(a: RoundArrays) -> IntArray:
    """Host of every VM (n_vms,), placed in index order at creation; -1 from the first VM that fits nowhere on.

    Each VM is one :func:`~algorithms.placement._pabfd_search.best_host` call; the guard sees the
    new VM alone (``a.host_history`` is not updated).
    """
    excluded = np.zeros(a.host.shape[0], dtype=np.bool_)
    return _one_by_one(a, index_hosts(a, excluded), excluded)


@jit
def _one_by_one(a: RoundArrays, w: Workspace, excluded: BoolArray) -> IntArray:
    """:func:`create_one_by_one` on the hosts ``w`` indexes (by :func:`index_hosts`, unchanged since)."""
    n_vms = a.vm.shape[1]
    vm_host = np.full(n_vms, -1, dtype=np.intp)
    for vm in range(n_vms):
        h = best_host(a, w, vm, excluded)
        if h < 0:
            break
        vm_host[vm] = h
        a.host[h, USED_CPU] += a.vm[VM_CPU, vm]
        a.host[h, USED_RAM] += a.vm[VM_RAM, vm]
        a.host[h, ON] = 1.0
        update_host(a, w, excluded, h)
    return vm_host


@jit
def _alike(a: RoundArrays) -> bool:
    """Every host has the first one's history, valid length, horizon and detector state."""
    for h in range(1, a.host.shape[0]):
        if a.host[h, HOST_NV] != a.host[0, HOST_NV] or a.host[h, STEPS] != a.host[0, STEPS]:
            return False
        for j in range(a.host_history.shape[1]):
            if a.host_history[h, j] != a.host_history[0, j]:
                return False
        for j in range(a.host_state.shape[1]):
            if a.host_state[h, j] != a.host_state[0, j]:
                return False
    return True


@jit
def _lowest(member_of: IntArray, cursor: IntArray, c: int) -> int:
    """The lowest host of class ``c`` (which has members), moving its cursor up to it."""
    h = cursor[c]
    while member_of[h] != c:
        h += 1
    cursor[c] = h
    return h


@jit
def create(a: RoundArrays) -> IntArray:
    """Host of every VM (n_vms,), placed in index order at creation; -1 from the first VM that fits nowhere on.

    The same choices as :func:`create_one_by_one`, which it calls where hosts cannot be classed:
    some are on or hold something already, their histories or states differ, or they are of more
    kinds than :func:`~algorithms.placement._pabfd_index.index_hosts` classes.
    """
    n_hosts, n_vms = a.host.shape[0], a.vm.shape[1]
    excluded = np.zeros(n_hosts, dtype=np.bool_)
    w = index_hosts(a, excluded)  # idle classes: hosts of one kind
    kind = w.ints[INDEX]  # index_hosts leaves each idle host's class there: its kind
    if not _alike(a) or w.sizes[N_CLASSES] == 0:
        return _one_by_one(a, w, excluded)
    for h in range(n_hosts):
        if kind[h] < 0 or a.host[h, USED_CPU] != 0 or a.host[h, USED_RAM] != 0 or a.host[h, ON] != 0:
            return _one_by_one(a, w, excluded)
    # classes: the idle hosts of each kind, then (kind, used CPU, used RAM) numbered as they appear;
    # a class's cursor is at most its lowest host
    n_kinds = w.sizes[N_CLASSES]
    member_of = kind.copy()
    cursor = np.empty(n_kinds + n_vms, dtype=np.intp)
    members = np.zeros(n_kinds + n_vms, dtype=np.intp)
    for h in range(n_hosts - 1, -1, -1):
        cursor[kind[h]] = h
        members[kind[h]] += 1
    # the key (kind, used CPU, used RAM) of each class numbered after the idle ones
    class_kind = np.empty(n_kinds + n_vms, dtype=np.intp)
    class_used = np.empty((n_kinds + n_vms, 2))
    n_classes = n_kinds
    candidate = np.empty(n_hosts, dtype=np.intp)
    price = np.empty(n_hosts)
    vm_host = np.full(n_vms, -1, dtype=np.intp)
    for vm in range(n_vms):
        cpu, ram = a.vm[VM_CPU, vm], a.vm[VM_RAM, vm]
        n = 0
        for c in range(n_classes):
            if members[c] == 0:
                continue
            h = _lowest(member_of, cursor, c)
            increase = _increase(a.host, a.power_w, h, cpu, ram)
            if increase < math.inf:
                candidate[n], price[n] = h, increase
                n += 1
        chosen = -1
        for i in range(n):  # in (increase, host) order until the guard accepts one
            best = i
            for j in range(i + 1, n):
                if price[j] < price[best] or (price[j] == price[best] and candidate[j] < candidate[best]):
                    best = j
            candidate[i], candidate[best] = candidate[best], candidate[i]
            price[i], price[best] = price[best], price[i]
            if _accepts(a, vm, candidate[i], w.row):
                chosen = candidate[i]
                break
        if chosen < 0:
            break
        vm_host[vm] = chosen
        h = chosen
        members[member_of[h]] -= 1
        a.host[h, USED_CPU] += cpu
        a.host[h, USED_RAM] += ram
        a.host[h, ON] = 1.0
        reprice(a, h)
        used_cpu, used_ram = a.host[h, USED_CPU], a.host[h, USED_RAM]
        c = n_kinds
        while c < n_classes and not (
            class_kind[c] == kind[h] and class_used[c, 0] == used_cpu and class_used[c, 1] == used_ram
        ):
            c += 1
        if c == n_classes:  # a new class
            class_kind[c], class_used[c, 0], class_used[c, 1] = kind[h], used_cpu, used_ram
            n_classes += 1
        member_of[h] = c
        if members[c] == 0 or h < cursor[c]:
            cursor[c] = h
        members[c] += 1
    return vm_host

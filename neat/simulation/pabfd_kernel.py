"""PABFD's choice for one VM, compiled: the cheapest acceptable host in (power increase, index) order.

:func:`best_host` is the inner step of :class:`algorithms.placement.pabfd.PowerAwareBestFitDecreasing`
with :class:`neat.simulation.guard.DetectorGuard` as its guard, written as scalar code for numba
with the same arithmetic (:func:`neat.simulation.round_arrays.power_at` is
:func:`algorithms.power.power_w` operation for operation), the same ranking (power increase, ties
to the lowest index) and the guard consulted only for hosts already in use
(:func:`neat.simulation.detector_kernels.detect_row`), so it picks the same host.

It looks at one host per class of idle hosts and at the hosts in use
(:mod:`neat.simulation.host_index`), keeps the ``TOP`` cheapest in order, and skips a host
without pricing it when a lower bound on its increase (:func:`neat.simulation.round_arrays.reprice`)
already exceeds the ``TOP``-th cheapest. Only when the guard refuses all ``TOP`` does it rank
every candidate.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD).
"""

from __future__ import annotations

import math

import numpy as np

from neat.simulation.detector_kernels import detect_row
from neat.simulation.host_index import IN_SCAN, INDEX, N_CLASSES, N_SCAN, SCAN, TOP, Workspace, class_host
from neat.simulation.jit import jit, stable_argsort
from neat.simulation.round_arrays import (
    BEFORE,
    CAPACITY,
    CPU,
    OFFSET,
    PE,
    RAM,
    RATE_FAR,
    RATE_NEAR,
    SLACK_W,
    STEPS,
    TENTH,
    USED_CPU,
    USED_RAM,
    VM_CPU,
    VM_MIPS,
    VM_RAM,
    BoolArray,
    FloatArray,
    IntArray,
    RoundArrays,
    power_at,
)


@jit
def _increase(host: FloatArray, power: FloatArray, h: int, cpu: float, ram: float) -> float:
    """Power increase of host ``h`` with ``cpu`` MIPS and ``ram`` MB more; +inf where they do not fit.

    Takes ``RoundArrays`` fields, not the tuple, and reads the pricing baseline from BEFORE: written
    so, the loop compiles to a few nanoseconds a host.
    """
    used = host[h, USED_CPU]
    if host[h, PE] < cpu or host[h, CAPACITY] - used < cpu or host[h, RAM] - host[h, USED_RAM] < ram:
        return math.inf
    return power_at(power, h, (used + cpu) / host[h, CPU]) - host[h, BEFORE]


@jit
def _offer(top_increase: FloatArray, top_host: IntArray, count: int, increase: float, h: int) -> int:
    """Keep (increase, h) among the TOP cheapest if it ranks there; returns how many are kept.

    Takes the arrays, not the Workspace (numba reference-counts a tuple's arrays at each access),
    and assigns one value at a time: this runs for most hosts of a search.
    """
    last = TOP - 1
    if count == TOP:
        if increase > top_increase[last] or (increase == top_increase[last] and h >= top_host[last]):
            return count
        i = last
    else:
        i = count
        count += 1
    while i > 0:
        if increase < top_increase[i - 1] or (increase == top_increase[i - 1] and h < top_host[i - 1]):
            top_increase[i] = top_increase[i - 1]
            top_host[i] = top_host[i - 1]
            i -= 1
        else:
            break
    top_increase[i] = increase
    top_host[i] = h
    return count


@jit
def _accepts(a: RoundArrays, vm: int, h: int, row: FloatArray) -> bool:
    """An empty host, or one the detector does not judge overloaded with ``vm`` added."""
    if a.host[h, USED_CPU] == 0:
        return True
    scale = a.vm[VM_MIPS, vm] / a.host[h, CPU]
    for j in range(row.shape[0]):
        row[j] = a.host_history[h, j] + a.vm_history[vm, j] * scale
    return not detect_row(a.params, a.coef, row, a.host[h, STEPS])


@jit
def best_host(a: RoundArrays, w: Workspace, vm: int, excluded: BoolArray) -> int:
    """The host PABFD picks for ``vm``: least power increase, lowest index on ties, guard passed; -1 if none.

    Candidates are the lowest idle host of each class and the hosts of ``w``'s SCAN list, less
    those ``excluded`` now.
    """
    cpu, ram = a.vm[VM_CPU, vm], a.vm[VM_RAM, vm]
    host, power, ints = a.host, a.power_w, w.ints
    top_increase, top_host = w.top_increase, w.top_host
    slack = a.options[SLACK_W]
    count = 0
    for c in range(w.sizes[N_CLASSES]):
        h = class_host(a, w, c, excluded)
        if h >= 0 and ints[IN_SCAN, h] == 0:  # a host in SCAN is offered there
            increase = _increase(host, power, h, cpu, ram)
            if increase < math.inf:
                count = _offer(top_increase, top_host, count, increase, h)
    for i in range(w.sizes[N_SCAN]):
        h = ints[SCAN, i]
        if excluded[h]:
            continue
        if count == TOP:  # skip the host if even its lower bound cannot rank
            rate = host[h, RATE_NEAR] if cpu <= host[h, TENTH] else host[h, RATE_FAR]
            if host[h, OFFSET] + cpu * rate - slack > top_increase[TOP - 1]:
                continue
        increase = _increase(host, power, h, cpu, ram)
        if increase < math.inf:
            count = _offer(top_increase, top_host, count, increase, h)
    for i in range(count):
        if _accepts(a, vm, top_host[i], w.row):
            return top_host[i]
    if count < TOP:
        return -1
    # the guard refused all TOP: rank every candidate by (increase, index), walk on past them
    n = 0
    index, increase_of = ints[INDEX], w.increase
    for i in range(w.sizes[N_CLASSES] + w.sizes[N_SCAN]):
        if i < w.sizes[N_CLASSES]:
            h = class_host(a, w, i, excluded)
            if h < 0 or ints[IN_SCAN, h] != 0:
                continue
        else:
            h = ints[SCAN, i - w.sizes[N_CLASSES]]
            if excluded[h]:
                continue
        index[n], increase_of[n] = h, _increase(host, power, h, cpu, ram)
        n += increase_of[n] < math.inf
    by_index = stable_argsort(index[:n].astype(np.float64))
    ranked = by_index[stable_argsort(increase_of[:n][by_index])]
    for i in ranked[TOP:]:
        if _accepts(a, vm, index[i], w.row):
            return index[i]
    return -1

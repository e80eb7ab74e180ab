"""PABFD's choice for one VM, compiled: the cheapest acceptable host in (power increase, index) order.

:func:`best_host` is the inner step of :class:`algorithms.placement.pabfd.PowerAwareBestFitDecreasing`
with a detector-backed guard (the host's history with the VM added, judged by the detector's row
kernel), written as scalar code for numba
with the same arithmetic (:func:`algorithms.placement._pabfd_arrays.power_at` is
:func:`algorithms.power.power_w` operation for operation), the same ranking (power increase, ties
to the lowest index) and the guard consulted only for hosts already in use
(:func:`algorithms.overload.kernel.detect_row`), so it picks the same host.

It looks at one host per class of idle hosts and at the hosts in use
(:mod:`algorithms.placement._pabfd_index`), keeps the ``TOP`` cheapest in order, and skips a group
or block of hosts, or a host, without pricing it when the VM cannot fit there or a lower bound on
the increase (:func:`algorithms.placement._pabfd_arrays.reprice`) already exceeds the ``TOP``-th
cheapest; it visits the groups least bound first, so that the ``TOP`` it keeps are soon the
cheapest and the bounds skip the most. When the guard refuses all ``TOP``, the next ``TOP`` are
gathered the same way.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD).
"""

from __future__ import annotations

import math

from algorithms._jit import jit
from algorithms.overload._row import trimmed_row_length
from algorithms.overload.kernel import detect_row
from algorithms.placement._pabfd_arrays import (
    BEFORE,
    CAPACITY,
    CPU,
    EFFICIENCY,
    HOST_NV,
    OFFSET,
    PE,
    RAM,
    SLACK_W,
    STEPS,
    TRIM,
    USED_CPU,
    USED_RAM,
    VM_CPU,
    VM_MIPS,
    VM_NV,
    VM_RAM,
    VM_STEPS,
    BoolArray,
    FloatArray,
    IntArray,
    RoundArrays,
    power_at,
)
from algorithms.placement._pabfd_index import (
    BLOCK,
    IN_SCAN,
    N_CLASSES,
    N_GROUPS,
    ROOM_CPU,
    ROOM_RAM,
    SLOT_BEFORE,
    SLOT_CPU,
    SLOT_OFFSET,
    SLOT_RATE_FAR,
    SLOT_RATE_NEXT,
    SLOT_RATE_NOW,
    SLOT_ROOM_CPU,
    SLOT_ROOM_RAM,
    SLOT_SEGMENT_ROOM,
    SLOT_TABLE,
    SLOT_TENTH,
    SLOT_USED_CPU,
    TOP,
    Workspace,
    class_host,
    least_increase,
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
    if math.isnan(host[h, BEFORE]):  # switched off, priced by efficiency (see reprice)
        return host[h, OFFSET] + host[h, EFFICIENCY] * max(cpu / host[h, CPU], ram / host[h, RAM])
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
    """An empty host, or one the detector does not judge overloaded with ``vm`` added.

    The history with the VM is as long as the longer of the two (the row without its oldest zeros
    under TRIM); the horizon is the longer migration of the two; a stateful detector reads the
    host's state row.
    """
    if a.host[h, USED_CPU] == 0:
        return True
    scale = a.vm[VM_MIPS, vm] / a.host[h, CPU]
    for j in range(row.shape[0]):
        row[j] = a.host_history[h, j] + a.vm_history[vm, j] * scale
    n_valid = trimmed_row_length(row) if a.options[TRIM] != 0 else int(max(a.host[h, HOST_NV], a.vm[VM_NV, vm]))
    steps = max(a.host[h, STEPS], a.vm[VM_STEPS, vm])
    return not detect_row(a.params, a.coef, a.host_state[h], row, n_valid, steps)


@jit
def block_candidates(
    slots: FloatArray,
    first: int,
    n: int,
    cpu: float,
    ram: float,
    limit: float,
    slack: float,
    pick: IntArray,
    pick_bound: FloatArray,
) -> int:
    """The positions ``j < n`` from ``first`` in ``slots`` whose host may rank: it has room for
    ``cpu`` and ``ram``, and its bound less ``slack`` is at most ``limit``. Writes them to
    ``pick`` ascending, their bounds to ``pick_bound``; returns how many.

    The bound is a lower bound on the host's power increase with ``cpu`` MIPS more, but for
    rounding (:func:`algorithms.placement._pabfd_arrays.reprice`), exact for a demand up to
    TENTH. Contiguous rows and no branch on the data: a nanosecond or two a host.
    """
    m = 0
    for j in range(n):
        k = first + j
        room = slots[SLOT_SEGMENT_ROOM, k]
        near = (
            slots[SLOT_OFFSET, k]
            + min(cpu, room) * slots[SLOT_RATE_NOW, k]
            + max(cpu - room, 0.0) * slots[SLOT_RATE_NEXT, k]
        )
        far = slots[SLOT_OFFSET, k] + cpu * slots[SLOT_RATE_FAR, k]
        bound = far if cpu > slots[SLOT_TENTH, k] else near
        pick[m], pick_bound[m] = j, bound
        m += slots[SLOT_ROOM_CPU, k] >= cpu and slots[SLOT_ROOM_RAM, k] >= ram and bound - slack <= limit
    return m


@jit
def _slot_increase(slots: FloatArray, power: FloatArray, k: int, cpu: float) -> float:
    """:func:`_increase` of the host listed at position ``k`` of ``slots``, where it has room; NaN
    for a switched-off host priced by efficiency, which :func:`_increase` prices from its row.

    Priced from the slot and the power table its type shares, as :func:`_increase` prices it from
    the host's row. (With :func:`_increase` called from here for that case, every call cost about
    29 ns instead of 6; the caller calls it.)
    """
    table = int(slots[SLOT_TABLE, k])
    return power_at(power, table, (slots[SLOT_USED_CPU, k] + cpu) / slots[SLOT_CPU, k]) - slots[SLOT_BEFORE, k]


@jit
def _order_groups(w: Workspace, cpu: float, ram: float) -> int:
    """The groups with room for ``cpu`` and ``ram`` in ``w.group_order``, least bound first (bounds
    in ``w.group_bound``); returns how many."""
    groups, order, bound = w.groups, w.group_order, w.group_bound
    m = 0
    for g in range(w.sizes[N_GROUPS]):
        if groups[g, ROOM_CPU] < cpu or groups[g, ROOM_RAM] < ram:
            continue
        least = least_increase(groups[g], cpu)
        i = m
        while i > 0 and bound[i - 1] > least:
            order[i], bound[i] = order[i - 1], bound[i - 1]
            i -= 1
        order[i], bound[i] = g, least
        m += 1
    return m


@jit
def _collect(a: RoundArrays, w: Workspace, vm: int, excluded: BoolArray, after: float, after_host: int) -> int:
    """Gather in ``w``'s top lists the TOP cheapest candidates ranked after (``after``, ``after_host``).

    Returns how many were found (fewer than TOP: there are no more).
    """
    cpu, ram = a.vm[VM_CPU, vm], a.vm[VM_RAM, vm]
    host, power, blocks = a.host, a.power_w, w.blocks
    in_scan, listed, listed_count = w.ints[IN_SCAN], w.listed, w.block_count
    top_increase, top_host = w.top_increase, w.top_host
    slots, pick, pick_bound = w.slots, w.pick, w.pick_bound
    slack = a.options[SLACK_W]
    count = 0
    for c in range(w.sizes[N_CLASSES]):
        h = class_host(a, w, c, excluded)
        if h >= 0 and in_scan[h] == 0:  # a host searched one by one is offered there
            increase = _increase(host, power, h, cpu, ram)
            if increase < math.inf and (increase > after or (increase == after and h > after_host)):
                count = _offer(top_increase, top_host, count, increase, h)
    group_order, group_bound, group_start = w.group_order, w.group_bound, w.group_start
    for i in range(_order_groups(w, cpu, ram)):
        if count == TOP and group_bound[i] - slack > top_increase[TOP - 1]:
            break  # nor can the groups after it
        g = group_order[i]
        for b in range(group_start[g], group_start[g + 1]):
            if blocks[b, ROOM_CPU] < cpu or blocks[b, ROOM_RAM] < ram:
                continue
            if count == TOP and least_increase(blocks[b], cpu) - slack > top_increase[TOP - 1]:
                continue
            limit = top_increase[TOP - 1] if count == TOP else math.inf
            first = b * BLOCK
            for j in range(block_candidates(slots, first, listed_count[b], cpu, ram, limit, slack, pick, pick_bound)):
                k = first + pick[j]
                h = listed[k]
                if excluded[h]:
                    continue
                if count == TOP and pick_bound[j] - slack > top_increase[TOP - 1]:
                    continue  # even its lower bound cannot rank
                increase = _slot_increase(slots, power, k, cpu)
                if math.isnan(increase):
                    increase = _increase(host, power, h, cpu, ram)
                if increase < math.inf and (increase > after or (increase == after and h > after_host)):
                    count = _offer(top_increase, top_host, count, increase, h)
    return count


@jit
def best_host(a: RoundArrays, w: Workspace, vm: int, excluded: BoolArray) -> int:
    """The host PABFD picks for ``vm``: least power increase, lowest index on ties, guard passed; -1 if none.

    Candidates are the lowest idle host of each class and the hosts searched one by one, less
    those ``excluded`` now. They are taken TOP at a time in (increase, index) order until the
    guard accepts one.
    """
    after, after_host = -math.inf, -1
    while True:
        count = _collect(a, w, vm, excluded, after, after_host)
        for i in range(count):
            if _accepts(a, vm, w.top_host[i], w.row):
                return w.top_host[i]
        if count < TOP:
            return -1
        after, after_host = w.top_increase[TOP - 1], w.top_host[TOP - 1]

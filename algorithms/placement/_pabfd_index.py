"""Which hosts a compiled PABFD search looks at: hosts in use one by one, idle hosts by class.

A data center is mostly switched-off hosts of a few types, and such hosts are interchangeable:
with nothing on them, hosts with equal capacities, power table and pricing baseline cost the same
for every VM and need no guard. :func:`index_hosts` groups them into classes, so that a search
(:func:`algorithms.placement._pabfd_search.best_host`) prices one host per class, its lowest index, and
scans only the hosts in use: the cost of a placement follows the active hosts, not the data
center. The hosts in use are scanned in blocks of ``BLOCK`` consecutive indices, each with the
most room any of its hosts has and a lower bound on their power increase, so that a search skips
the blocks where a VM cannot fit or cannot be among the cheapest (:func:`refresh_block`), and
in groups of ``GROUP`` blocks with the most room of their blocks.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from algorithms._jit import jit
from algorithms.placement._pabfd_arrays import (
    BASELINE,
    BEFORE,
    CAPACITY,
    CPU,
    OFFSET,
    PE,
    RAM,
    RATE_FAR,
    RATE_NEXT,
    RATE_NOW,
    SEGMENT_ROOM,
    TENTH,
    USED_CPU,
    USED_RAM,
    BoolArray,
    FloatArray,
    IntArray,
    RoundArrays,
    idle,
    reprice,
)

#: Rows of ``Workspace.ints``.
MEMBERS, CLASS_START, NEXT, IN_SCAN, INDEX, BLOCK_HOSTS, BLOCK_COUNT, SLOT, TABLE = range(9)
#: Rows of ``Workspace.slots``: what a search reads of a listed host, field by field in listing
#: order: its room, the fields of its bound, and those of its power increase.
SLOT_ROOM_CPU, SLOT_ROOM_RAM, SLOT_OFFSET, SLOT_RATE_NOW, SLOT_RATE_NEXT, SLOT_SEGMENT_ROOM = range(6)
SLOT_RATE_FAR, SLOT_TENTH, SLOT_USED_CPU, SLOT_CPU, SLOT_BEFORE, SLOT_TABLE = range(6, 12)
N_SLOT_ROWS = 12
#: Positions in ``Workspace.sizes``.
N_CLASSES = 0
#: Hosts per block, and the columns of ``Workspace.blocks``.
BLOCK = 64
ROOM_CPU, ROOM_RAM, LEAST_OFFSET, LEAST_RATE = range(4)
#: Blocks per group; ``Workspace.groups`` keeps each group's most ROOM_CPU and ROOM_RAM.
GROUP = 32
#: Beyond this many classes of idle hosts, the rest are scanned one by one.
MAX_CLASSES = 64
#: Candidates a search gathers at a time, in order (the guard often refuses the cheapest few).
TOP = 32


class Workspace(NamedTuple):
    """Host lists and scratch space of one kernel call.

    Attributes
    ----------
    ints : intp array (9, n_hosts + 1)
        MEMBERS and CLASS_START: idle hosts grouped by class, ascending (class ``c`` is
        ``MEMBERS[CLASS_START[c]:CLASS_START[c + 1]]``); NEXT: per class, the first member that
        may still be idle (see :func:`restart_classes`); IN_SCAN: 1 for a host searched one by
        one (in use when indexed, or since); BLOCK_HOSTS and BLOCK_COUNT: those hosts by block
        (block ``b`` lists ``BLOCK_COUNT[b]`` of them from ``BLOCK_HOSTS[b * BLOCK]`` on); SLOT:
        each listed host's position in BLOCK_HOSTS; TABLE: the lowest host with the same power
        table (its row of ``RoundArrays.power_w``, shared by the hosts of a type, stays in
        cache); INDEX: scratch.
    slots : float array (N_SLOT_ROWS, n_hosts + 1)
        Per position in BLOCK_HOSTS, its host's room (SLOT_ROOM_CPU: min(PE, CAPACITY - USED_CPU),
        SLOT_ROOM_RAM) and the fields of ``RoundArrays.host`` its bound and power increase read
        (OFFSET, RATE_NOW, RATE_NEXT, SEGMENT_ROOM, RATE_FAR, TENTH, USED_CPU, CPU, BEFORE), and
        SLOT_TABLE (its TABLE, as a float): a search scans a block's contiguous rows
        (:func:`algorithms.placement._pabfd_search.block_candidates`), not host rows scattered
        in memory.
    blocks : float array (n_blocks, 4)
        Over the hosts of each block searched one by one and not excluded: ROOM_CPU (the most
        CPU one can take: min(PE, CAPACITY - USED_CPU)), ROOM_RAM, LEAST_OFFSET and LEAST_RATE
        (the least OFFSET and RATE_FAR); -inf room for a block without such hosts.
    groups : float array (n_groups, 2)
        The most ROOM_CPU and ROOM_RAM of each group of GROUP blocks.
    top_increase, top_host : float and intp arrays (TOP,)
        The cheapest candidates of a search, in (increase, host) order.
    row : float array (window,)
        A host history with the VM added, for the guard.
    pick, pick_bound : intp and float arrays (BLOCK,)
        The positions in a block a search prices, and their bounds
        (:func:`algorithms.placement._pabfd_search.block_candidates`).
    sizes : intp array (1,)
        N_CLASSES.
    """

    ints: IntArray
    slots: FloatArray
    blocks: FloatArray
    groups: FloatArray
    top_increase: FloatArray
    top_host: IntArray
    row: FloatArray
    pick: IntArray
    pick_bound: FloatArray
    sizes: IntArray


@jit
def _same_class(a: RoundArrays, h: int, g: int) -> bool:
    for row in (CPU, PE, RAM, CAPACITY, BASELINE):
        if a.host[h, row] != a.host[g, row]:
            return False
    for k in range(a.power_w.shape[1]):  # noqa: SIM110 (numba compiles loops, not generators)
        if a.power_w[h, k] != a.power_w[g, k]:
            return False
    return True


@jit
def index_hosts(a: RoundArrays, excluded: BoolArray) -> Workspace:
    """Reprice every host; list the ones not ``excluded``: idle ones by class, the rest by block."""
    n_hosts = a.host.shape[0]
    ints = np.zeros((9, n_hosts + 1), dtype=np.intp)
    slots = np.empty((N_SLOT_ROWS, n_hosts + 1))
    members, start, class_of = ints[MEMBERS], ints[CLASS_START], ints[INDEX]
    _find_tables(a.power_w, ints[TABLE])
    first = np.empty(MAX_CLASSES, dtype=np.intp)  # lowest host of each class
    n_classes = 0
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
            _search_one_by_one(ints, h)
            _write_slot(a, slots, ints[SLOT, h], h, ints[TABLE, h])
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
    w = Workspace(
        ints,
        slots,
        np.empty(((n_hosts + BLOCK - 1) // BLOCK, 4)),
        np.empty(((n_hosts + BLOCK * GROUP - 1) // (BLOCK * GROUP), 2)),
        np.empty(TOP),
        np.empty(TOP, dtype=np.intp),
        np.empty(a.host_history.shape[1]),
        np.empty(BLOCK, dtype=np.intp),
        np.empty(BLOCK),
        np.array([n_classes], dtype=np.intp),
    )
    for b in range(w.blocks.shape[0]):  # every group is refreshed with its last block
        refresh_block(a, w, excluded, b)
    restart_classes(w)
    return w


@jit
def refresh_block(a: RoundArrays, w: Workspace, excluded: BoolArray, b: int) -> None:
    """Recompute block ``b``'s room and bound from its hosts searched one by one, not excluded."""
    host, listed = a.host, w.ints[BLOCK_HOSTS]
    room_cpu = room_ram = -math.inf
    least_offset = least_rate = math.inf
    for k in range(b * BLOCK, b * BLOCK + w.ints[BLOCK_COUNT, b]):
        h = listed[k]
        if excluded[h]:
            continue
        room_cpu = max(room_cpu, min(host[h, PE], host[h, CAPACITY] - host[h, USED_CPU]))
        room_ram = max(room_ram, host[h, RAM] - host[h, USED_RAM])
        least_offset = min(least_offset, host[h, OFFSET])
        least_rate = min(least_rate, host[h, RATE_FAR])
    blocks, groups = w.blocks, w.groups
    blocks[b, ROOM_CPU] = room_cpu
    blocks[b, ROOM_RAM] = room_ram
    blocks[b, LEAST_OFFSET] = least_offset
    blocks[b, LEAST_RATE] = least_rate
    g = b // GROUP
    group_cpu = group_ram = -math.inf
    for c in range(g * GROUP, min((g + 1) * GROUP, blocks.shape[0])):
        group_cpu = max(group_cpu, blocks[c, ROOM_CPU])
        group_ram = max(group_ram, blocks[c, ROOM_RAM])
    groups[g, 0] = group_cpu
    groups[g, 1] = group_ram


@jit
def update_host(a: RoundArrays, w: Workspace, excluded: BoolArray, h: int) -> None:
    """Host ``h`` took or gave back VMs: reprice it, search it one by one from now on, refresh its block."""
    reprice(a, h)
    _search_one_by_one(w.ints, h)
    _write_slot(a, w.slots, w.ints[SLOT, h], h, w.ints[TABLE, h])
    _loosen(a, w, h)


@jit
def _find_tables(power_w: FloatArray, table: IntArray) -> None:
    """For every host, the lowest host with the same power table (itself beyond MAX_CLASSES tables)."""
    found = np.empty(MAX_CLASSES, dtype=np.intp)
    n_found = 0
    for h in range(power_w.shape[0]):
        table[h] = h
        for i in range(n_found):
            g = found[i]
            same = True
            for k in range(power_w.shape[1]):
                if power_w[h, k] != power_w[g, k]:
                    same = False
                    break
            if same:
                table[h] = g
                break
        if table[h] == h and n_found < MAX_CLASSES:
            found[n_found] = h
            n_found += 1


@jit
def _write_slot(a: RoundArrays, slots: FloatArray, k: int, h: int, table: int) -> None:
    """Copy host ``h``'s room, bound and pricing fields to position ``k`` of ``slots``; ``table``
    is the host whose power table it shares (its SLOT_TABLE)."""
    host = a.host
    slots[SLOT_ROOM_CPU, k] = min(host[h, PE], host[h, CAPACITY] - host[h, USED_CPU])
    slots[SLOT_ROOM_RAM, k] = host[h, RAM] - host[h, USED_RAM]
    slots[SLOT_OFFSET, k] = host[h, OFFSET]
    slots[SLOT_RATE_NOW, k] = host[h, RATE_NOW]
    slots[SLOT_RATE_NEXT, k] = host[h, RATE_NEXT]
    slots[SLOT_SEGMENT_ROOM, k] = host[h, SEGMENT_ROOM]
    slots[SLOT_RATE_FAR, k] = host[h, RATE_FAR]
    slots[SLOT_TENTH, k] = host[h, TENTH]
    slots[SLOT_USED_CPU, k] = host[h, USED_CPU]
    slots[SLOT_CPU, k] = host[h, CPU]
    slots[SLOT_BEFORE, k] = host[h, BEFORE]
    slots[SLOT_TABLE, k] = table


@jit
def _loosen(a: RoundArrays, w: Workspace, h: int) -> None:
    """Widen host ``h``'s block and group to cover its state now.

    The block's room and bound stay valid (a room at least, a bound at most, the true one) when
    only widened, so a host's change costs O(1); :func:`index_hosts` recomputes them exactly.
    """
    host, blocks, groups = a.host, w.blocks, w.groups
    b, g = h // BLOCK, h // (BLOCK * GROUP)
    room_cpu = min(host[h, PE], host[h, CAPACITY] - host[h, USED_CPU])
    room_ram = host[h, RAM] - host[h, USED_RAM]
    blocks[b, ROOM_CPU] = max(blocks[b, ROOM_CPU], room_cpu)
    blocks[b, ROOM_RAM] = max(blocks[b, ROOM_RAM], room_ram)
    blocks[b, LEAST_OFFSET] = min(blocks[b, LEAST_OFFSET], host[h, OFFSET])
    blocks[b, LEAST_RATE] = min(blocks[b, LEAST_RATE], host[h, RATE_FAR])
    groups[g, 0] = max(groups[g, 0], room_cpu)
    groups[g, 1] = max(groups[g, 1], room_ram)


@jit
def _search_one_by_one(ints: IntArray, h: int) -> None:
    """List host ``h`` in its block, once, and note its position in SLOT."""
    if ints[IN_SCAN, h] == 0:
        ints[IN_SCAN, h] = 1
        b = h // BLOCK
        ints[SLOT, h] = b * BLOCK + ints[BLOCK_COUNT, b]
        ints[BLOCK_HOSTS, ints[SLOT, h]] = h
        ints[BLOCK_COUNT, b] += 1


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
def class_host(a: RoundArrays, w: Workspace, c: int, excluded: BoolArray) -> int:
    """The lowest idle host of class ``c`` not excluded now, or -1."""
    ints = w.ints
    k = ints[NEXT, c]
    while k < ints[CLASS_START, c + 1] and (excluded[ints[MEMBERS, k]] or not idle(a, ints[MEMBERS, k])):
        k += 1  # hosts that took VMs are searched one by one now
    ints[NEXT, c] = k
    return ints[MEMBERS, k] if k < ints[CLASS_START, c + 1] else -1

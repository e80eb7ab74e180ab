"""Which hosts a compiled PABFD search looks at: hosts in use one by one, idle hosts by class.

A data center is mostly switched-off hosts of a few types, and such hosts are interchangeable:
with nothing on them, hosts with equal capacities, power table and pricing baseline cost the same
for every VM and need no guard. :func:`index_hosts` groups them into classes, so that a search
(:func:`algorithms.placement._pabfd_search.best_host`) prices one host per class, its lowest index, and
scans only the hosts in use: the cost of a placement follows the active hosts, not the data
center.

The hosts in use are listed in blocks of up to ``BLOCK``, and the blocks in groups: when the
hosts are indexed, a group holds the hosts of one power table in one 10 % segment of it, which
add about the same watts per MIPS. Each block and group keeps the most room any of its hosts has
and a lower bound on their power increase (:func:`refresh_block`), so that a search visits the
groups cheapest bound first and skips the groups and blocks where a VM cannot fit or cannot be
among the cheapest. Hosts that change keep their place, and their block and group are only
widened (:func:`update_host`); hosts listed after indexing go to a last group of their own.
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
    segment,
)

#: Rows of ``Workspace.ints``.
MEMBERS, CLASS_START, NEXT, IN_SCAN, INDEX, SLOT, TABLE = range(7)
#: Rows of ``Workspace.slots``: what a search reads of a listed host, field by field in listing
#: order: its room, the fields of its bound, and those of its power increase.
SLOT_ROOM_CPU, SLOT_ROOM_RAM, SLOT_OFFSET, SLOT_RATE_NOW, SLOT_RATE_NEXT, SLOT_SEGMENT_ROOM = range(6)
SLOT_RATE_FAR, SLOT_TENTH, SLOT_USED_CPU, SLOT_CPU, SLOT_BEFORE, SLOT_TABLE = range(6, 12)
N_SLOT_ROWS = 12
#: Positions in ``Workspace.sizes``: classes of idle hosts, groups of blocks (the last one for the
#: hosts listed after indexing), the next free position of that last group.
N_CLASSES, N_GROUPS, NEXT_FREE = range(3)
#: Hosts per block.
BLOCK = 64
#: Columns of ``Workspace.blocks`` and ``Workspace.groups``: the most room, and the least OFFSET,
#: least near rate (min of RATE_NOW and RATE_NEXT), least RATE_FAR and least TENTH of their hosts.
ROOM_CPU, ROOM_RAM, LEAST_OFFSET, LEAST_NEAR, LEAST_FAR, LEAST_TENTH = range(6)
#: Beyond this many classes of idle hosts, the rest are scanned one by one; beyond this many
#: power tables, the hosts of the others are grouped together.
MAX_CLASSES = 64
#: Power-table segments a host's used CPU may be in (:func:`algorithms.placement._pabfd_arrays.segment`).
SEGMENTS = 10
#: Candidates a search gathers at a time, in order (the guard often refuses the cheapest few).
TOP = 32


class Workspace(NamedTuple):
    """Host lists and scratch space of one kernel call.

    Attributes
    ----------
    ints : intp array (7, n_hosts + 1)
        MEMBERS and CLASS_START: idle hosts grouped by class, ascending (class ``c`` is
        ``MEMBERS[CLASS_START[c]:CLASS_START[c + 1]]``); NEXT: per class, the first member that
        may still be idle (see :func:`restart_classes`); IN_SCAN: 1 for a host searched one by
        one (in use when indexed, or since); SLOT: each listed host's position in ``listed``;
        TABLE: the lowest host with the same power table (its row of ``RoundArrays.power_w``,
        shared by the hosts of a type, stays in cache); INDEX: each host's class, -1 for none.
    listed : intp array (n_blocks * BLOCK,)
        The hosts searched one by one, by block: block ``b`` lists ``block_count[b]`` of them from
        ``listed[b * BLOCK]`` on.
    block_count : intp array (n_blocks,)
    block_group : intp array (n_blocks,)
        The group of each block.
    group_start : intp array (n_groups + 1,)
        Group ``g``'s blocks are ``group_start[g]`` to ``group_start[g + 1]``.
    slots : float array (N_SLOT_ROWS, n_blocks * BLOCK)
        Per position in ``listed``, its host's room (SLOT_ROOM_CPU: min(PE, CAPACITY - USED_CPU),
        SLOT_ROOM_RAM) and the fields of ``RoundArrays.host`` its bound and power increase read
        (OFFSET, RATE_NOW, RATE_NEXT, SEGMENT_ROOM, RATE_FAR, TENTH, USED_CPU, CPU, BEFORE), and
        SLOT_TABLE (its TABLE, as a float): a search scans a block's contiguous rows
        (:func:`algorithms.placement._pabfd_search.block_candidates`), not host rows scattered
        in memory.
    blocks : float array (n_blocks, 6)
        Over the hosts of each block searched one by one and not excluded: ROOM_CPU (the most
        CPU one can take: min(PE, CAPACITY - USED_CPU)), ROOM_RAM, and the least OFFSET, near
        rate, RATE_FAR and TENTH (see :func:`least_increase`); -inf room for a block without such
        hosts.
    groups : float array (n_groups, 6)
        The same over each group's blocks.
    group_order, group_bound : intp and float arrays (n_groups,)
        A search's order of the groups, and their bounds.
    top_increase, top_host : float and intp arrays (TOP,)
        The cheapest candidates of a search, in (increase, host) order.
    row : float array (window,)
        A host history with the VM added, for the guard.
    pick, pick_bound : intp and float arrays (BLOCK,)
        The positions in a block a search prices, and their bounds
        (:func:`algorithms.placement._pabfd_search.block_candidates`).
    sizes : intp array (3,)
        N_CLASSES, N_GROUPS, NEXT_FREE.
    """

    ints: IntArray
    listed: IntArray
    block_count: IntArray
    block_group: IntArray
    group_start: IntArray
    slots: FloatArray
    blocks: FloatArray
    groups: FloatArray
    group_order: IntArray
    group_bound: FloatArray
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
def least_increase(bounds: FloatArray, cpu: float) -> float:
    """A lower bound on the power increase of any host of a block or group (its row of
    ``Workspace.blocks`` or ``Workspace.groups``) with ``cpu`` MIPS more, but for rounding.

    A host's bound (:func:`algorithms.placement._pabfd_search.block_candidates`) spends a demand
    up to its TENTH in its segment and the next, so at no less than the lesser of their rates, and
    any demand at no less than RATE_FAR.
    """
    rate = bounds[LEAST_NEAR] if cpu <= bounds[LEAST_TENTH] else bounds[LEAST_FAR]
    return bounds[LEAST_OFFSET] + cpu * rate


@jit
def index_hosts(a: RoundArrays, excluded: BoolArray) -> Workspace:
    """Reprice every host; list the ones not ``excluded``: idle ones by class, the rest by block,
    grouped by power table and segment."""
    n_hosts = a.host.shape[0]
    ints = np.zeros((7, n_hosts + 1), dtype=np.intp)
    key_of = np.empty(n_hosts, dtype=np.intp)
    key_count = np.zeros((MAX_CLASSES + 1) * SEGMENTS, dtype=np.intp)
    n_classes = _classify(a, excluded, ints, key_of, key_count)
    n_free = n_hosts - int(ints[IN_SCAN].sum())
    key_group, group_start, block_group = _lay_out(key_count, n_free)
    n_groups, n_blocks = group_start.shape[0] - 1, block_group.shape[0]
    w = Workspace(
        ints,
        np.empty(n_blocks * BLOCK, dtype=np.intp),
        np.zeros(n_blocks, dtype=np.intp),
        block_group,
        group_start,
        np.empty((N_SLOT_ROWS, n_blocks * BLOCK)),
        np.empty((n_blocks, 6)),
        np.empty((n_groups, 6)),
        np.empty(n_groups, dtype=np.intp),
        np.empty(n_groups),
        np.empty(TOP),
        np.empty(TOP, dtype=np.intp),
        np.empty(a.host_history.shape[1]),
        np.empty(BLOCK, dtype=np.intp),
        np.empty(BLOCK),
        np.array([n_classes, n_groups, group_start[n_groups - 1] * BLOCK], dtype=np.intp),
    )
    next_position = group_start[:-1] * BLOCK
    for h in range(n_hosts):  # ascending, so each block lists its hosts in index order
        if ints[IN_SCAN, h] != 0:
            g = key_group[key_of[h]]
            _list_at(a, w, h, next_position[g])
            next_position[g] += 1
    for b in range(n_blocks):
        refresh_block(a, w, excluded, b)
    for g in range(n_groups):
        _refresh_group(w, g)
    restart_classes(w)
    return w


@jit
def _classify(a: RoundArrays, excluded: BoolArray, ints: IntArray, key_of: IntArray, key_count: IntArray) -> int:
    """Reprice every host and sort out those not ``excluded``; returns the number of classes.

    Fills ``ints``' TABLE, the classes of idle hosts (MEMBERS, CLASS_START, INDEX), and IN_SCAN for
    the others, whose group key (power-table number x SEGMENTS + segment) goes to ``key_of`` and
    is counted in ``key_count``.
    """
    n_hosts = a.host.shape[0]
    members, start, class_of, in_scan = ints[MEMBERS], ints[CLASS_START], ints[INDEX], ints[IN_SCAN]
    table_number = np.empty(n_hosts, dtype=np.intp)
    _find_tables(a.power_w, ints[TABLE], table_number)
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
            in_scan[h] = 1
            key_of[h] = table_number[h] * SEGMENTS + segment(a.host, h)
            key_count[key_of[h]] += 1
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
    return n_classes


@jit
def _lay_out(key_count: IntArray, n_free: int) -> tuple[IntArray, IntArray, IntArray]:
    """Blocks for the groups: one group per key in use, its hosts in whole blocks, in key order,
    then a last group with room for ``n_free`` hosts listed later.

    Returns each key's group (-1: not in use), each group's first block and the end (n_groups + 1,),
    and each block's group.
    """
    key_group = np.full(key_count.shape[0], -1, dtype=np.intp)
    n_groups = n_blocks = 0
    for k in range(key_count.shape[0]):
        if key_count[k] > 0:
            key_group[k] = n_groups
            n_groups += 1
            n_blocks += (key_count[k] + BLOCK - 1) // BLOCK
    group_start = np.empty(n_groups + 2, dtype=np.intp)
    group_start[n_groups] = n_blocks
    group_start[n_groups + 1] = n_blocks + (n_free + BLOCK - 1) // BLOCK + 1
    block_group = np.full(group_start[n_groups + 1], n_groups, dtype=np.intp)
    b = 0
    for k in range(key_count.shape[0]):
        g = key_group[k]
        if g >= 0:
            group_start[g] = b
            b += (key_count[k] + BLOCK - 1) // BLOCK
            block_group[group_start[g] : b] = g
    return key_group, group_start, block_group


@jit
def refresh_block(a: RoundArrays, w: Workspace, excluded: BoolArray, b: int) -> None:
    """Recompute block ``b``'s room and bound from its hosts, less those ``excluded``."""
    host, listed, block = a.host, w.listed, w.blocks[b]
    block[ROOM_CPU] = block[ROOM_RAM] = -math.inf
    block[LEAST_OFFSET] = block[LEAST_NEAR] = block[LEAST_FAR] = block[LEAST_TENTH] = math.inf
    for k in range(b * BLOCK, b * BLOCK + w.block_count[b]):
        h = listed[k]
        if not excluded[h]:
            _widen(host, h, block)


@jit
def _refresh_group(w: Workspace, g: int) -> None:
    """Recompute group ``g``'s room and bound from its blocks."""
    group = w.groups[g]
    group[ROOM_CPU] = group[ROOM_RAM] = -math.inf
    group[LEAST_OFFSET] = group[LEAST_NEAR] = group[LEAST_FAR] = group[LEAST_TENTH] = math.inf
    for b in range(w.group_start[g], w.group_start[g + 1]):
        for col in (ROOM_CPU, ROOM_RAM):
            group[col] = max(group[col], w.blocks[b, col])
        for col in (LEAST_OFFSET, LEAST_NEAR, LEAST_FAR, LEAST_TENTH):
            group[col] = min(group[col], w.blocks[b, col])


@jit
def _widen(host: FloatArray, h: int, bounds: FloatArray) -> None:
    """Widen a block's or group's row of room and bound to cover host ``h``'s state now."""
    bounds[ROOM_CPU] = max(bounds[ROOM_CPU], min(host[h, PE], host[h, CAPACITY] - host[h, USED_CPU]))
    bounds[ROOM_RAM] = max(bounds[ROOM_RAM], host[h, RAM] - host[h, USED_RAM])
    bounds[LEAST_OFFSET] = min(bounds[LEAST_OFFSET], host[h, OFFSET])
    bounds[LEAST_NEAR] = min(bounds[LEAST_NEAR], host[h, RATE_NOW], host[h, RATE_NEXT])
    bounds[LEAST_FAR] = min(bounds[LEAST_FAR], host[h, RATE_FAR])
    bounds[LEAST_TENTH] = min(bounds[LEAST_TENTH], host[h, TENTH])


@jit
def update_host(a: RoundArrays, w: Workspace, excluded: BoolArray, h: int) -> None:
    """Host ``h`` took or gave back VMs: reprice it, search it one by one from now on, widen its
    block and group to cover it.

    A block's or group's room and bound stay valid (a room at least, a bound at most, the true
    one) when only widened, so a host's change costs O(1); :func:`index_hosts` recomputes them
    exactly.
    """
    reprice(a, h)
    if w.ints[IN_SCAN, h] == 0:  # listed after indexing: in the last group
        w.ints[IN_SCAN, h] = 1
        _list_at(a, w, h, w.sizes[NEXT_FREE])
        w.sizes[NEXT_FREE] += 1
    else:
        _write_slot(a, w.slots, w.ints[SLOT, h], h, w.ints[TABLE, h])
    b = w.ints[SLOT, h] // BLOCK
    _widen(a.host, h, w.blocks[b])
    _widen(a.host, h, w.groups[w.block_group[b]])


@jit
def _list_at(a: RoundArrays, w: Workspace, h: int, k: int) -> None:
    """List host ``h`` at position ``k`` (the next of its block) and copy its fields there."""
    w.listed[k] = h
    w.block_count[k // BLOCK] += 1
    w.ints[SLOT, h] = k
    _write_slot(a, w.slots, k, h, w.ints[TABLE, h])


@jit
def _find_tables(power_w: FloatArray, table: IntArray, number: IntArray) -> None:
    """For every host, the lowest host with the same power table, and that table's number in
    order of appearance; beyond MAX_CLASSES tables, itself and number MAX_CLASSES."""
    found = np.empty(MAX_CLASSES, dtype=np.intp)
    n_found = 0
    for h in range(power_w.shape[0]):
        table[h], number[h] = h, MAX_CLASSES
        for i in range(n_found):
            g = found[i]
            same = True
            for k in range(power_w.shape[1]):
                if power_w[h, k] != power_w[g, k]:
                    same = False
                    break
            if same:
                table[h], number[h] = g, i
                break
        if number[h] == MAX_CLASSES and n_found < MAX_CLASSES:
            found[n_found] = h
            table[h], number[h] = h, n_found
            n_found += 1


@jit
def _write_slot(a: RoundArrays, slots: FloatArray, k: int, h: int, table: int) -> None:
    """Copy host ``h``'s room, bound and pricing fields to position ``k`` of ``slots``; ``table``
    is the host whose power table it shares (its TABLE)."""
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

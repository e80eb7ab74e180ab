"""Which hosts a compiled PABFD search looks at: hosts in use one by one, idle hosts by class.

A data center is mostly switched-off hosts of a few types, and such hosts are interchangeable:
with nothing on them, hosts with equal capacities, power table and pricing baseline cost the same
for every VM and need no guard. :func:`index_hosts` groups them into classes, so that a search
(:func:`neat.simulation.pabfd_kernel.best_host`) prices one host per class, its lowest index, and
scans only the hosts in use: the cost of a placement follows the active hosts, not the data
center.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neat.simulation.jit import jit
from neat.simulation.round_arrays import (
    BASELINE,
    CAPACITY,
    CPU,
    PE,
    RAM,
    BoolArray,
    FloatArray,
    IntArray,
    RoundArrays,
    idle,
    reprice,
)

#: Rows of ``Workspace.ints``.
SCAN, MEMBERS, CLASS_START, NEXT, IN_SCAN, INDEX = range(6)
#: Positions in ``Workspace.sizes``.
N_SCAN, N_CLASSES = 0, 1
#: Beyond this many classes of idle hosts, the rest are scanned one by one.
MAX_CLASSES = 64
#: Candidates a search keeps in order, for when the guard refuses the cheapest.
TOP = 8


class Workspace(NamedTuple):
    """Host lists and scratch space of one kernel call.

    Attributes
    ----------
    ints : intp array (6, n_hosts + 1)
        SCAN: the hosts searched one by one (in use, or in use since :func:`index_hosts`);
        MEMBERS and CLASS_START: idle hosts grouped by class, ascending (class ``c`` is
        ``MEMBERS[CLASS_START[c]:CLASS_START[c + 1]]``); NEXT: per class, the first member that
        may still be idle (see :func:`restart_classes`); IN_SCAN: 1 for a host in SCAN; INDEX:
        scratch for a full ranking of candidates.
    increase : float array (n_hosts + 1,)
        Scratch for a full ranking of candidates.
    top_increase, top_host : float and intp arrays (TOP,)
        The cheapest candidates of a search, in (increase, host) order.
    row : float array (window,)
        A host history with the VM added, for the guard.
    sizes : intp array (2,)
        N_SCAN, N_CLASSES.
    """

    ints: IntArray
    increase: FloatArray
    top_increase: FloatArray
    top_host: IntArray
    row: FloatArray
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
    """Reprice every host; list the ones not ``excluded``: idle ones by class, the rest to scan."""
    n_hosts = a.host.shape[0]
    ints = np.zeros((6, n_hosts + 1), dtype=np.intp)
    scan, members, start, in_scan, class_of = ints[SCAN], ints[MEMBERS], ints[CLASS_START], ints[IN_SCAN], ints[INDEX]
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
    w = Workspace(
        ints,
        np.empty(n_hosts + 1),
        np.empty(TOP),
        np.empty(TOP, dtype=np.intp),
        np.empty(a.host_history.shape[1]),
        sizes,
    )
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
def class_host(a: RoundArrays, w: Workspace, c: int, excluded: BoolArray) -> int:
    """The lowest idle host of class ``c`` not excluded now, or -1 (hosts that took VMs are in SCAN)."""
    ints = w.ints
    k = ints[NEXT, c]
    while k < ints[CLASS_START, c + 1] and (excluded[ints[MEMBERS, k]] or not idle(a, ints[MEMBERS, k])):
        k += 1
    ints[NEXT, c] = k
    return ints[MEMBERS, k] if k < ints[CLASS_START, c + 1] else -1


@jit
def note_used(w: Workspace, h: int) -> None:
    """Host ``h`` received a VM: search it one by one from now on."""
    if w.ints[IN_SCAN, h] == 0:
        w.ints[IN_SCAN, h] = 1
        w.ints[SCAN, w.sizes[N_SCAN]] = h
        w.sizes[N_SCAN] += 1

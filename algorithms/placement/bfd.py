"""Best fit decreasing (BFD) placement, after OpenStack Neat's global manager.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.3 (bin packing by best fit decreasing);
OpenStack Neat (2015), ``neat.globals.vm_placement.bin_packing.best_fit_decreasing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._validation import Interval, Options
from algorithms.base import BoolArray, FloatArray, HostTable, IntArray, PlacementGuard, PlacementRequest, Placer
from algorithms.placement._feasibility import check_placement, fits, free_capacity, not_overloaded

__all__ = ["BestFitDecreasing"]


def _first_in_order(candidates: BoolArray, key1: FloatArray, key2: FloatArray) -> int:
    """Index of the candidate that is smallest in (key1, key2, index) order; -1 when none."""
    if not candidates.any():
        return -1
    first = candidates & (key1 == np.where(candidates, key1, np.inf).min())
    first &= key2 == np.where(first, key2, np.inf).min()
    return int(np.argmax(first))


@dataclass(frozen=True, kw_only=True)
class BestFitDecreasing(Placer):
    """Place every VM on the active host with the least free capacity that fits it, or place none.

    The free capacity of an active host is ``cpu_threshold * cpu_mips - used`` for CPU and
    ``ram_threshold * ram_mb - used`` for RAM. VMs go in descending (cpu, ram, index) order (equal
    VMs: highest index first, as openstack-neat's reverse sort of (cpu, ram, uuid) tuples). Each
    takes the first host, in ascending (free cpu, free ram, index) order, where it fits one core,
    the free CPU and the free RAM (and that ``guard``, if given, does not call overloaded). When no
    active host fits, the smallest inactive allowed host in the same order is woken and the VM
    retried, until one fits; a woken host stays available to the following VMs even if this VM
    did not fit on it. All or nothing: if any VM fits nowhere, every target is -1.

    The VM size is ``request.vm_cpu_mips``: openstack-neat's mean of the last n CPU values is the
    caller's choice of demand.

    Parameters
    ----------
    cpu_threshold : float in (0, 1]
        Fraction of a host's CPU that may be allocated.
    ram_threshold : float in (0, 1]
        Fraction of a host's RAM that may be allocated.
    reorder_hosts : bool
        True (neat): the host order is recomputed from the current free capacity before every
        VM (true best fit). False (openstack-neat): hosts keep the order of their free capacity
        before the first placement.
    thresholds_on_woken : bool
        True (neat): the thresholds apply to woken hosts too. False (openstack-neat): a woken
        host offers its whole capacity.

    Notes
    -----
    ``reorder_hosts=False, thresholds_on_woken=False`` reproduce openstack-neat (hosts ordered by
    index where it orders them by name). If a guard is given, it sees ``assign`` calls for VMs
    placed before an all-or-nothing failure: discard it then.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012; OpenStack Neat (2015), ``best_fit_decreasing``.
    """

    PARAMETERS = {  # noqa: RUF012
        "cpu_threshold": Interval("float", 0.0, 1.0, "right"),
        "ram_threshold": Interval("float", 0.0, 1.0, "right"),
        "reorder_hosts": Options((True, False)),
        "thresholds_on_woken": Options((True, False)),
    }

    cpu_threshold: float = 0.8
    ram_threshold: float = 0.95
    reorder_hosts: bool = True
    thresholds_on_woken: bool = True

    def place(self, hosts: HostTable, request: PlacementRequest, guard: PlacementGuard | None = None) -> IntArray:
        """Choose a target host for every VM, or for none.

        Parameters
        ----------
        hosts : HostTable with n_hosts rows
        request : PlacementRequest for n_vms VMs
            Active hosts are ``active & allowed``; hosts that may be woken, ``~active & allowed``.
        guard : PlacementGuard, optional
            Rejects hosts a VM would overload; told of every placement.

        Returns
        -------
        intp array of shape (n_vms,)
            Target host of each VM; all -1 when some VM cannot be placed.
        """
        n_hosts, n_vms = check_placement(hosts, request, owner=type(self).__name__)
        vm_cpu = np.asarray(request.vm_cpu_mips, dtype=np.float64)
        vm_ram = np.asarray(request.vm_ram_mb, dtype=np.float64)
        used_cpu = np.array(request.used_cpu_mips, dtype=np.float64)
        used_ram = np.array(request.used_ram_mb, dtype=np.float64)
        allowed = np.asarray(request.allowed, dtype=np.bool_)
        active = np.asarray(request.active, dtype=np.bool_) & allowed
        asleep = ~np.asarray(request.active, dtype=np.bool_) & allowed
        limited = np.asarray(request.active, dtype=np.bool_) | self.thresholds_on_woken
        cpu_thr = np.where(limited, self.cpu_threshold, 1.0)
        ram_thr = np.where(limited, self.ram_threshold, 1.0)
        thresholds = {"cpu_threshold": cpu_thr, "ram_threshold": ram_thr}

        index = np.arange(n_hosts)
        free_cpu, free_ram = free_capacity(hosts, used_cpu, used_ram, **thresholds)
        rank = np.empty(n_hosts, dtype=np.float64)
        rank[np.lexsort((index, free_ram, free_cpu))] = index
        no_tie = np.zeros(n_hosts)

        result = np.full(n_vms, -1, dtype=np.intp)
        for vm in np.lexsort((np.arange(n_vms), vm_ram, vm_cpu))[::-1]:
            cpu, ram = vm_cpu[vm], vm_ram[vm]
            room = fits(hosts, used_cpu, used_ram, cpu, ram, **thresholds)
            candidates = not_overloaded(active & room, int(vm), guard)
            if self.reorder_hosts:
                free_cpu, free_ram = free_capacity(hosts, used_cpu, used_ram, **thresholds)
                target = _first_in_order(candidates, free_cpu, free_ram)
            else:
                target = _first_in_order(candidates, rank, no_tie)
            if target < 0:
                # Wake sleeping hosts smallest first (their free capacity is untouched, so the
                # initial order is their current order) until one takes the VM.
                waking = np.flatnonzero(asleep)[np.argsort(rank[asleep])]
                usable = not_overloaded(room & asleep, int(vm), guard)[waking]
                if not usable.any():
                    return np.full(n_vms, -1, dtype=np.intp)
                woken = waking[: int(np.argmax(usable)) + 1]
                active[woken] = True
                asleep[woken] = False
                target = int(woken[-1])
            used_cpu[target] += cpu
            used_ram[target] += ram
            result[vm] = target
            if guard is not None:
                guard.assign(int(vm), target)
        return result

"""Minimization of migrations (MM) VM selection: relieve an overloaded host with few, short moves.

Given a caller that can judge hosts (``VmTable.relieves``: would this VM leaving alone relieve its
host?), each pick takes, among the VMs that relieve their host alone, the one whose migration is
shortest (least RAM, then least demand: ``rank="shortest_relief"``, the default) or loses least
(demand x RAM, the MIPS lost while it migrates: ``"cheapest_relief"``); when none does alone, the
one with the most demand per MB (the most relief per second of migration) leaves and the host is
judged again. Without that caller, and with ``rank="demand_per_ram"``, the largest demand per MB
leaves; with ``rank="demand"``, the largest demand. Ties go to the lowest index.

A short relief matters twice: the overloaded host stays short of CPU until the move ends, and the
moving VM loses a tenth of its demand meanwhile (PDM).

References
----------
Beloglazov, Abawajy & Buyya, "Energy-aware resource allocation heuristics for efficient management
of data centers for cloud computing", FGCS 28(5), 2012, section 4.3 (the MM policy, which picks the
fewest VMs that bring a host below its threshold, preferring the smallest one that suffices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._validation import Options
from algorithms.base import BoolArray, IntArray, VmSelector, VmTable
from algorithms.selection.mmt import first_per_host

__all__ = ["MinimizationOfMigrations"]


@dataclass(frozen=True, kw_only=True)
class MinimizationOfMigrations(VmSelector):
    """Select, on each chosen host, the VM whose departure relieves it at least cost.

    Parameters
    ----------
    rank : {"shortest_relief", "cheapest_relief", "demand_per_ram", "demand"}
        See the module: the shortest (default) or cheapest VM that relieves its host alone, else
        the most demand per MB; or always the most demand per MB, or the most demand.
    """

    rank: str = "shortest_relief"

    LOCAL = True
    PARAMETERS = {"rank": Options(("cheapest_relief", "shortest_relief", "demand", "demand_per_ram"))}  # noqa: RUF012

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Pick the VM of every chosen host that relieves it most.

        Parameters
        ----------
        vms : VmTable with n_vms rows
        hosts : bool array of shape (n_hosts,)
        vm, host : intp arrays of shape (n_candidates,), the VMs on chosen hosts and their hosts
        rng : unused

        Returns
        -------
        intp array of shape (n_hosts,)
            Index of the chosen VM, -1 where the host is not chosen or has no selectable VM.
        """
        demand = np.asarray(vms.cpu_mips, dtype=np.float64)[vm]
        ram = np.asarray(vms.ram_mb, dtype=np.float64)[vm]
        if self.rank == "demand":
            return first_per_host(vm, host, (-demand,), hosts.shape[0])
        per_ram = demand / ram
        if self.rank == "demand_per_ram" or vms.relieves is None:
            return first_per_host(vm, host, (-per_ram,), hosts.shape[0])
        # cheapest_relief: of the VMs that relieve their host alone, the one whose migration loses
        # least (demand x RAM, the MIPS lost in proportion to the time it lasts); else the most relief
        # per MB
        enough = vms.relieves(vm)
        cost = demand * ram if self.rank == "cheapest_relief" else ram
        keys = ((~enough).astype(np.float64), np.where(enough, cost, -per_ram), np.where(enough, demand, 0.0))
        return first_per_host(vm, host, keys, hosts.shape[0])

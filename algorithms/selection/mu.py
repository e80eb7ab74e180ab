"""Minimum utilization (MU) VM selection: the VM with the smallest current CPU utilization leaves.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2 (the MU policy of their earlier work);
OpenStack Neat (2015), ``minimum_utilization``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._validation import Options
from algorithms.base import BoolArray, IntArray, VmSelector, VmTable
from algorithms.selection.mmt import first_per_host

__all__ = ["MinimumUtilization"]


@dataclass(frozen=True, kw_only=True)
class MinimumUtilization(VmSelector):
    """Select the least utilized VM on each chosen host; ties to the lowest index.

    Parameters
    ----------
    measure : {"fraction", "mips"}
        ``"fraction"`` (default): demand as a fraction of the VM's own size, as CloudSim 4.0 ranks
        (``getTotalUtilizationOfCpuMips / getMips``); ``"mips"``: absolute demand.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012.
    """

    measure: str = "fraction"

    LOCAL = True
    PARAMETERS = {"measure": Options(("fraction", "mips"))}  # noqa: RUF012

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Pick the least-loaded VM of every chosen host.

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
        cpu = np.asarray(vms.cpu_mips, dtype=np.float64)[vm]
        if self.measure == "fraction":
            cpu = cpu / np.asarray(vms.capacity_mips, dtype=np.float64)[vm]
        return first_per_host(vm, host, (cpu,), hosts.shape[0])

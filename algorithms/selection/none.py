"""The do-nothing VM selector, for baselines: no VM ever leaves a host."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.base import BoolArray, IntArray, VmSelector, VmTable

__all__ = ["NoSelection"]


@dataclass(frozen=True, kw_only=True)
class NoSelection(VmSelector):
    """Never selects a VM.

    References
    ----------
    CloudSim Plus's NULL objects (a role's do-nothing implementation); used by the NPA and DVFS
    baselines of Beloglazov & Buyya, CCPE 24(13), 2012.
    """

    PARAMETERS = {}  # noqa: RUF012

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Return -1 for every host.

        Parameters
        ----------
        vms : VmTable with n_vms rows
        hosts : bool array of shape (n_hosts,)
        vm, host : intp arrays of shape (n_candidates,), the VMs on chosen hosts and their hosts
        rng : unused

        Returns
        -------
        intp array of shape (n_hosts,), all -1
        """
        return np.full(hosts.shape[0], -1, dtype=np.intp)

"""Random selection (RS): a VM drawn uniformly from each chosen host.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2 (RS); CloudSim 4.0
``PowerVmSelectionPolicyRandomSelection``; OpenStack Neat (2015), ``random``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._validation import InputError
from algorithms.base import BoolArray, IntArray, VmSelector, VmTable
from algorithms.selection.mmt import first_per_host

__all__ = ["RandomSelection"]


@dataclass(frozen=True, kw_only=True)
class RandomSelection(VmSelector):
    """Select a VM uniformly at random on each chosen host.

    Each call draws exactly ``n_vms`` uniforms, one per row of the VM table (chosen or not), and
    takes the VM with the smallest draw on each host: the VMs of a host are exchangeable, so the
    choice is uniform, and the choice for a host does not depend on which other hosts are chosen
    (a batch equals the host-by-host calls made with equally seeded generators).

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012.
    """

    PARAMETERS = {}  # noqa: RUF012

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Pick a random VM of every chosen host.

        Parameters
        ----------
        vms : VmTable with n_vms rows
        hosts : bool array of shape (n_hosts,)
        vm, host : intp arrays of shape (n_candidates,), the VMs on chosen hosts and their hosts
        rng : numpy Generator, required (seed it for reproducible runs)

        Returns
        -------
        intp array of shape (n_hosts,)
            Index of the chosen VM, -1 where the host is not chosen or has no selectable VM.
        """
        owner = type(self).__name__
        if not isinstance(rng, np.random.Generator):
            raise InputError(
                f"{owner}.select needs a numpy Generator as rng, e.g. np.random.default_rng(42); got {rng!r}"
            )
        draw = rng.random((np.shape(vms.host)[0],))[vm]
        return first_per_host(vm, host, (draw,), hosts.shape[0])

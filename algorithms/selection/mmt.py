"""Minimum migration time (MMT) VM selection, and the group-wise helpers every selector shares.

With equal bandwidth everywhere, the VM that migrates fastest is the one with the least RAM.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2 (MMT); CloudSim 4.0
``PowerVmSelectionPolicyMinimumMigrationTime``; OpenStack Neat (2015),
``neat.locals.vm_selection.algorithms.minimum_migration_time_max_cpu``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from algorithms._validation import Interval, Options, valid_mask
from algorithms.base import BoolArray, FloatArray, IntArray, VmSelector, VmTable, candidate_vms

__all__ = ["MinimumMigrationTime", "candidate_vms", "first_per_host", "mean_of_last"]


def first_per_host(vm: IntArray, host: IntArray, keys: tuple[FloatArray, ...], n_hosts: int) -> IntArray:
    """For each host, the VM that comes first in ascending ``keys`` order, ties to the lowest index.

    One ``np.lexsort`` by (host, keys..., vm index), then the first row of every host group.

    Parameters
    ----------
    vm : intp array of shape (n,)
        Candidate VM indices.
    host : intp array of shape (n,)
        Host of each candidate, in [0, n_hosts).
    keys : tuple of float arrays of shape (n,)
        Sort keys, most significant first; negate a key to prefer its largest value.
    n_hosts : int

    Returns
    -------
    intp array of shape (n_hosts,)
        The chosen VM index per host, -1 for hosts without candidates.
    """
    result = np.full(n_hosts, -1, dtype=np.intp)
    order = np.lexsort((vm, *reversed(keys), host))
    sorted_host = host[order]
    groups, first = np.unique(sorted_host, return_index=True)
    result[groups] = vm[order[first]]
    return result


def mean_of_last(history: FloatArray, n_valid: IntArray, steps: int) -> FloatArray:
    """Mean of the newest ``min(steps, n_valid)`` values of each row; -inf for an empty row.

    Parameters
    ----------
    history : float array of shape (n, window), right-aligned, NaN-padded
    n_valid : intp array of shape (n,)
    steps : int

    Returns
    -------
    float array of shape (n,)
    """
    count = np.minimum(n_valid, steps)
    mask = valid_mask(history.shape, count)
    total = np.where(mask, history, 0.0).sum(axis=1)
    result: FloatArray = np.where(count > 0, total / np.maximum(count, 1), -np.inf)
    return result


@dataclass(frozen=True, kw_only=True)
class MinimumMigrationTime(VmSelector):
    """Select the VM with the least RAM on each chosen host.

    Parameters
    ----------
    tie_break : {"first", "highest_mean"}
        How RAM ties are broken. ``"first"``: the lowest VM index (CloudSim, which keeps a host's
        VMs in creation order). ``"highest_mean"``: the highest mean CPU demand (MIPS, history
        times the VM's size) over the newest ``mean_steps`` values, then the lowest index
        (openstack-neat's default variant); a VM without history ranks last.
    mean_steps : int >= 1
        Number of newest history values averaged by ``"highest_mean"``.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2.
    """

    LOCAL = True
    PARAMETERS = {  # noqa: RUF012
        "tie_break": Options(("first", "highest_mean")),
        "mean_steps": Interval("int", 1, float("inf")),
    }

    tie_break: Literal["first", "highest_mean"] = "first"
    mean_steps: int = 2

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Pick the least-RAM VM of every chosen host.

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
        ram = np.asarray(vms.ram_mb, dtype=np.float64)[vm]
        if self.tie_break == "first":
            return first_per_host(vm, host, (ram,), hosts.shape[0])
        history = np.asarray(vms.history, dtype=np.float64)[vm]
        mips = history * np.asarray(vms.capacity_mips, dtype=np.float64)[vm, None]
        mean = mean_of_last(mips, np.asarray(vms.n_valid, dtype=np.intp)[vm], self.mean_steps)
        return first_per_host(vm, host, (ram, -mean), hosts.shape[0])

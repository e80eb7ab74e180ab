"""Host utilization from the histories of the VMs it runs.

Two entry points: :func:`host_utilization` for one host from MHz series of unequal lengths
(openstack-neat's local and global managers), and :func:`host_history_from_vms` for every host at
once from the house layout (CloudSim: a host's history is the sum over its current VMs of their
utilization histories scaled to host MIPS).

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 5 (host utilization as the sum of its VMs');
OpenStack Neat (2015), ``neat.locals.manager.vm_mhz_to_percentage``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import InputError, check_history, valid_mask

__all__ = ["host_history_from_vms", "host_utilization"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _right_aligned(vm_histories_mhz: Sequence[ArrayLike] | NDArray[np.number]) -> FloatArray:
    """Stack VM series into (n_vms, window), right-aligned, zero-padded on the left."""
    if isinstance(vm_histories_mhz, np.ndarray) and vm_histories_mhz.ndim == 2:
        rows = np.nan_to_num(vm_histories_mhz.astype(np.float64), nan=0.0)
    else:
        series = [np.asarray(s, dtype=np.float64) for s in vm_histories_mhz]
        for i, s in enumerate(series):
            if s.ndim != 1:
                raise InputError(f"host_utilization: VM history {i} must be 1-D; got shape {s.shape}")
        window = max((s.size for s in series), default=0)
        rows = np.zeros((len(series), window))
        for i, s in enumerate(series):
            if s.size:
                rows[i, window - s.size :] = s
    if rows.size and (not np.isfinite(rows).all() or rows.min() < 0):
        raise InputError("host_utilization: VM histories must be finite MHz >= 0")
    return rows


def host_utilization(
    vm_histories_mhz: Sequence[ArrayLike] | NDArray[np.number], hypervisor_mhz: ArrayLike, capacity_mhz: float
) -> FloatArray:
    """Utilization of one host: its VMs' CPU plus the hypervisor's own share, over capacity.

    Every series is right-aligned (newest last) and left-padded with zeros to the longest VM
    history; a hypervisor series longer than that is cut to its newest values, as openstack-neat
    does. A host without VMs gets the hypervisor's series alone.

    Parameters
    ----------
    vm_histories_mhz : sequence of 1-D float arrays, or float array of shape (n_vms, window)
        CPU use of each VM in MHz, oldest first. A 2-D array is taken as already right-aligned;
        NaN in it (padding in the house layout) counts as zero.
    hypervisor_mhz : float array of shape (n_steps,)
        CPU used by the host outside its VMs, oldest first.
    capacity_mhz : float
        Total CPU of the host, > 0.

    Returns
    -------
    float array of shape (window,)
        Utilization as a fraction of capacity, oldest first (may exceed 1 for requested load).

    Examples
    --------
    Reference vector 20: VMs ``[[100, 200, 300], [300, 100, 300, 200], [100, 100, 700]]``,
    hypervisor ``[300, 0, 300]``, capacity 3000 give ``[0.1, 0.2, 0.2, 0.5]``.

    References
    ----------
    OpenStack Neat (2015), ``vm_mhz_to_percentage``.
    """
    if not (np.isfinite(capacity_mhz) and capacity_mhz > 0):
        raise InputError(f"host_utilization: capacity_mhz must be finite and > 0; got {capacity_mhz!r}")
    rows = _right_aligned(vm_histories_mhz)
    hyp = np.asarray(hypervisor_mhz, dtype=np.float64)
    if hyp.ndim != 1:
        raise InputError(f"host_utilization: hypervisor_mhz must be 1-D; got shape {hyp.shape}")
    if hyp.size and (not np.isfinite(hyp).all() or hyp.min() < 0):
        raise InputError("host_utilization: hypervisor_mhz must be finite MHz >= 0")
    window = rows.shape[1] if rows.shape[0] else hyp.size
    total = rows.sum(axis=0) if rows.shape[0] else np.zeros(window)
    hyp = hyp[hyp.size - min(hyp.size, window) :]
    total[window - hyp.size :] += hyp
    result: FloatArray = total / capacity_mhz
    return result


def host_history_from_vms(
    vm_host: ArrayLike,
    vm_history: ArrayLike,
    vm_n_valid: ArrayLike,
    vm_capacity_mips: ArrayLike,
    host_capacity_mips: ArrayLike,
    *,
    n_hosts: int,
) -> tuple[FloatArray, IntArray]:
    """Every host's utilization history as the sum of its VMs' scaled histories.

    A VM's history is a fraction of its own size; scaled by ``vm_capacity / host_capacity`` it
    becomes a fraction of the host. Within a host, shorter VM histories count as zero before their
    first valid value (left zero-padding, as in :func:`host_utilization`), so a host has as many
    valid values as its longest-lived VM. Group sums use ``np.add.at``: no loop over hosts.

    Parameters
    ----------
    vm_host : int array of shape (n_vms,)
        Host of each VM, in [0, n_hosts); -1 for a VM on no host (ignored).
    vm_history : float array of shape (n_vms, window)
        Utilization of each VM as a fraction of its size, right-aligned, NaN-padded on the left.
    vm_n_valid : int array of shape (n_vms,)
    vm_capacity_mips : float array of shape (n_vms,)
    host_capacity_mips : float array of shape (n_hosts,)
        Each > 0.
    n_hosts : int

    Returns
    -------
    history : float array of shape (n_hosts, window)
        Right-aligned, NaN-padded on the left; all NaN for a host without VMs.
    n_valid : intp array of shape (n_hosts,)
        The largest ``vm_n_valid`` among the host's VMs; 0 for a host without VMs.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012; CloudSim 4.0 ``PowerHostUtilizationHistory``.
    """
    owner = "host_history_from_vms"
    history, n_valid = check_history(vm_history, vm_n_valid, owner=owner, name="vm_history")
    n_vms, window = history.shape
    host = np.asarray(vm_host)
    vm_cap = np.asarray(vm_capacity_mips, dtype=np.float64)
    host_cap = np.asarray(host_capacity_mips, dtype=np.float64)
    if host.shape != (n_vms,) or vm_cap.shape != (n_vms,):
        raise InputError(
            f"{owner}: vm_host and vm_capacity_mips must have shape ({n_vms},) to match vm_history; "
            f"got {host.shape} and {vm_cap.shape}"
        )
    if host_cap.shape != (n_hosts,):
        raise InputError(f"{owner}: host_capacity_mips must have shape ({n_hosts},); got {host_cap.shape}")
    if n_vms and host.dtype.kind not in "iu":
        raise InputError(f"{owner}: vm_host must be integers; got dtype {host.dtype}")
    host = host.astype(np.intp, copy=False)
    if n_vms and (host.min() < -1 or host.max() >= n_hosts):
        raise InputError(f"{owner}: vm_host must be in [-1, {n_hosts}); got {host.min()}..{host.max()}")
    if n_hosts and not (np.isfinite(host_cap).all() and host_cap.min() > 0):
        raise InputError(f"{owner}: host_capacity_mips must be finite and > 0")
    if n_vms and not (np.isfinite(vm_cap).all() and vm_cap.min() >= 0):
        raise InputError(f"{owner}: vm_capacity_mips must be finite and >= 0")

    placed = host >= 0
    valid = valid_mask(history.shape, n_valid)
    mips = np.where(valid, history, 0.0) * vm_cap[:, None]
    total = np.zeros((n_hosts, window))
    np.add.at(total, host[placed], mips[placed])
    host_n_valid = np.zeros(n_hosts, dtype=np.intp)
    np.maximum.at(host_n_valid, host[placed], n_valid[placed])
    host_valid = valid_mask(total.shape, host_n_valid)
    result = np.where(host_valid, total / host_cap[:, None], np.nan)
    return result, host_n_valid

"""Vectorized capacity checks shared by the placers: does a VM fit on each host?

A VM fits a host when its CPU demand fits one core (``pe_mips``; cores are otherwise pooled), the
host's free CPU (``cpu_threshold * cpu_mips - used``) and its free RAM
(``ram_threshold * ram_mb - used``).

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 7 (a VM's MIPS must fit one core of its host);
OpenStack Neat (2015), ``best_fit_decreasing`` (free capacity under a utilization threshold).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import InputError
from algorithms.base import HostTable, PlacementGuard, PlacementRequest

__all__ = ["check_placement", "fits", "free_capacity", "not_overloaded"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def check_placement(hosts: HostTable, request: PlacementRequest, *, owner: str) -> tuple[int, int]:
    """Check the shapes and values of a placer's inputs.

    Parameters
    ----------
    hosts : HostTable with n_hosts rows
    request : PlacementRequest for n_vms VMs on those hosts
    owner : str
        Class name for error messages.

    Returns
    -------
    n_hosts, n_vms : int
    """
    n_hosts = np.shape(hosts.cpu_mips)[0] if np.ndim(hosts.cpu_mips) == 1 else -1
    n_vms = np.shape(request.vm_cpu_mips)[0] if np.ndim(request.vm_cpu_mips) == 1 else -1
    if n_hosts < 0 or n_vms < 0:
        raise InputError(f"{owner}: hosts.cpu_mips and request.vm_cpu_mips must be 1-D arrays")
    numeric = {
        "hosts.cpu_mips": (hosts.cpu_mips, n_hosts),
        "hosts.pe_mips": (hosts.pe_mips, n_hosts),
        "hosts.ram_mb": (hosts.ram_mb, n_hosts),
        "request.used_cpu_mips": (request.used_cpu_mips, n_hosts),
        "request.used_ram_mb": (request.used_ram_mb, n_hosts),
        "request.vm_cpu_mips": (request.vm_cpu_mips, n_vms),
        "request.vm_ram_mb": (request.vm_ram_mb, n_vms),
    }
    for name, (value, size) in numeric.items():
        a = np.asarray(value)
        if a.shape != (size,):
            raise InputError(f"{owner}: {name} must have shape ({size},); got {a.shape}")
        if a.size and (a.dtype.kind not in "fiu" or not np.isfinite(a).all() or a.min() < 0):
            raise InputError(f"{owner}: {name} must hold finite numbers >= 0")
    for name, flags in (("request.active", request.active), ("request.allowed", request.allowed)):
        mask = np.asarray(flags)
        if mask.shape != (n_hosts,) or mask.dtype != np.bool_:
            raise InputError(
                f"{owner}: {name} must be a bool array of shape ({n_hosts},); got {mask.dtype} {mask.shape}"
            )
    return n_hosts, n_vms


def free_capacity(
    hosts: HostTable,
    used_cpu: ArrayLike,
    used_ram: ArrayLike,
    *,
    cpu_threshold: ArrayLike = 1.0,
    ram_threshold: ArrayLike = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Free CPU and RAM of every host under utilization thresholds (negative when over them).

    Parameters
    ----------
    hosts : HostTable with n_hosts rows
    used_cpu, used_ram : float arrays of shape (n_hosts,)
    cpu_threshold, ram_threshold : float or float array of shape (n_hosts,)

    Returns
    -------
    free_cpu, free_ram : float arrays of shape (n_hosts,)
    """
    cpu_total = np.asarray(hosts.cpu_mips, dtype=np.float64)
    ram_total = np.asarray(hosts.ram_mb, dtype=np.float64)
    free_cpu: FloatArray = np.asarray(cpu_threshold, dtype=np.float64) * cpu_total - np.asarray(used_cpu)
    free_ram: FloatArray = np.asarray(ram_threshold, dtype=np.float64) * ram_total - np.asarray(used_ram)
    return free_cpu, free_ram


def fits(
    hosts: HostTable,
    used_cpu: ArrayLike,
    used_ram: ArrayLike,
    vm_cpu: float,
    vm_ram: float,
    *,
    cpu_threshold: ArrayLike = 1.0,
    ram_threshold: ArrayLike = 1.0,
) -> BoolArray:
    """Whether one VM fits on each host: one core, the free CPU and the free RAM.

    Parameters
    ----------
    hosts : HostTable with n_hosts rows
    used_cpu, used_ram : float arrays of shape (n_hosts,)
        CPU (MIPS) and RAM (MB) already taken on each host.
    vm_cpu, vm_ram : float
        The VM's demand.
    cpu_threshold, ram_threshold : float or float array of shape (n_hosts,)
        Fraction of each host's capacity that may be used.

    Returns
    -------
    bool array of shape (n_hosts,)
    """
    free_cpu, free_ram = free_capacity(
        hosts, used_cpu, used_ram, cpu_threshold=cpu_threshold, ram_threshold=ram_threshold
    )
    result: BoolArray = (vm_cpu <= np.asarray(hosts.pe_mips)) & (vm_cpu <= free_cpu) & (vm_ram <= free_ram)
    return result


def not_overloaded(candidates: BoolArray, vm: int, guard: PlacementGuard | None) -> BoolArray:
    """Drop the candidate hosts that ``guard`` says VM ``vm`` would overload.

    Parameters
    ----------
    candidates : bool array of shape (n_hosts,)
    vm : int
        Index of the VM in the placement request.
    guard : PlacementGuard or None
        Asked once, about the candidate hosts only; None keeps every candidate.

    Returns
    -------
    bool array of shape (n_hosts,), a new array when ``guard`` is consulted
    """
    if guard is None or not candidates.any():
        return candidates
    safe = candidates.copy()
    safe[safe] = ~np.asarray(guard.would_overload(vm, np.flatnonzero(safe)), dtype=np.bool_)
    return safe

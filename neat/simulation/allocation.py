"""How a host shares its CPU among its VMs at one instant (CloudSim's time-shared scheduler).

Each VM on a host asks for ``requested = utilization x VM MIPS``, capped at one core. A VM migrating
away gets 90 % of its share on the source (the migration's performance cost); the target reserves
10 % of the VM's share for it. When the shares exceed the host, every share is scaled down to fit
(and rounded down to whole MIPS, as CloudSim's over-subscription scheduler does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import COMPILED, kernel_jit
from algorithms.power import power_w

#: Compile this package's kernels, cached under a stamp of their files.
jit = kernel_jit(Path(__file__).parent)

#: Share of a migrating VM's demand still served on the source during the migration.
MIGRATION_SOURCE_SHARE = 0.9
#: Share of a migrating VM's demand reserved on the target during the migration.
MIGRATION_TARGET_SHARE = 0.1

#: Roles of a VM's entry on a host.
NORMAL, MIGRATING_OUT, MIGRATING_IN = 0, 1, 2


@dataclass(frozen=True)
class HostState:
    """Allocation of every host at one instant.

    Attributes
    ----------
    utilization : float array (n_hosts,)   allocated MIPS / capacity, as the power model sees it
    allocated_mips : float array (n_hosts,)
    requested_mips : float array (n_hosts,)   every VM on the host in full, migrating-in ones included
    vm_allocated_mips : float array (n_vms,)  on the host the VM runs on (the source while migrating)
    vm_requested_mips : float array (n_vms,)
    vm_migrating : bool array (n_vms,)
    """

    utilization: NDArray[np.float64]
    allocated_mips: NDArray[np.float64]
    requested_mips: NDArray[np.float64]
    vm_allocated_mips: NDArray[np.float64]
    vm_requested_mips: NDArray[np.float64]
    vm_migrating: NDArray[np.bool_]

    @property
    def active(self) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.allocated_mips > 0
        return result

    def table_power_w(self, table_w: NDArray[np.float64]) -> NDArray[np.float64]:
        """Power of every host under ``table_w`` at its utilization, switched off or not (computed once)."""
        cached = self.__dict__.get("_table_power")
        if cached is None or cached[0] is not table_w:
            cached = (table_w, power_w(table_w, self.utilization))
            object.__setattr__(self, "_table_power", cached)
        result: NDArray[np.float64] = cached[1]
        return result

    def power_w(self, table_w: NDArray[np.float64]) -> NDArray[np.float64]:
        """Power of every host, 0 W for a host with nothing allocated (switched off)."""
        return np.where(self.active, self.table_power_w(table_w), 0.0)


def allocate(
    vm_requested_mips: NDArray[np.float64],
    vm_host: NDArray[np.intp],
    host_capacity_mips: NDArray[np.float64],
    host_pe_mips: NDArray[np.float64],
    migrating_vm: NDArray[np.intp],
    migrating_target: NDArray[np.intp],
    power_table_w: NDArray[np.float64] | None = None,
) -> HostState:
    """Share every host's CPU among its VMs (:func:`allocate_numpy`, compiled where numba is).

    With ``power_table_w`` (n_hosts, 11), the state also knows every host's power under it
    (:meth:`HostState.table_power_w`), computed in the same pass.
    """
    if not COMPILED:  # pragma: no cover - exercised only where numba is missing
        return allocate_numpy(
            vm_requested_mips, vm_host, host_capacity_mips, host_pe_mips, migrating_vm, migrating_target
        )
    table = power_table_w if power_table_w is not None else np.zeros((0, 11))
    utilization, allocated, requested, vm_allocated, vm_requested, migrating, power = _allocate(
        vm_requested_mips,
        vm_host,
        host_capacity_mips,
        host_pe_mips,
        np.asarray(migrating_vm, dtype=np.intp),
        np.asarray(migrating_target, dtype=np.intp),
        np.ascontiguousarray(table, dtype=np.float64),
    )
    state = HostState(utilization, allocated, requested, vm_allocated, vm_requested, migrating)
    if power_table_w is not None:
        object.__setattr__(state, "_table_power", (power_table_w, power))
    return state


@jit
def _allocate(
    vm_requested_mips: NDArray[np.float64],
    vm_host: NDArray[np.intp],
    host_capacity_mips: NDArray[np.float64],
    host_pe_mips: NDArray[np.float64],
    migrating_vm: NDArray[np.intp],
    migrating_target: NDArray[np.intp],
    table_w: NDArray[np.float64],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.float64],
]:
    """:func:`allocate_numpy` as loops over its entries in the same order, with the same operations."""
    n_hosts, n_vms, n_moving = host_capacity_mips.shape[0], vm_requested_mips.shape[0], migrating_vm.shape[0]
    migrating = np.zeros(n_vms, dtype=np.bool_)
    for i in range(n_moving):
        migrating[migrating_vm[i]] = True
    total = np.zeros(n_hosts)
    # entries: every placed VM on its host (in VM order), then every migration on its target
    for v in range(n_vms):
        h = vm_host[v]
        if h >= 0:
            total[h] += min(vm_requested_mips[v], host_pe_mips[h])
    for i in range(n_moving):
        h = migrating_target[i]
        total[h] += min(vm_requested_mips[migrating_vm[i]], host_pe_mips[h]) * MIGRATION_TARGET_SHARE
    factor = np.ones(n_hosts)
    over = total > host_capacity_mips
    for h in range(n_hosts):
        if over[h]:
            factor[h] = host_capacity_mips[h] / total[h]
    host_allocated = np.zeros(n_hosts)
    host_requested = np.zeros(n_hosts)
    vm_allocated = np.zeros(n_vms)
    vm_requested = np.zeros(n_vms)
    for v in range(n_vms):
        h = vm_host[v]
        if h < 0:
            continue
        requested = vm_requested_mips[v]
        capped = min(requested, host_pe_mips[h])
        share = MIGRATION_SOURCE_SHARE if migrating[v] else 1.0
        allocated = np.floor(capped * factor[h] * share) if over[h] else capped * share
        host_allocated[h] += allocated / MIGRATION_SOURCE_SHARE if migrating[v] else allocated
        host_requested[h] += requested
        vm_allocated[v] = allocated
        vm_requested[v] = requested
    for i in range(n_moving):
        h = migrating_target[i]
        requested = vm_requested_mips[migrating_vm[i]]
        capped = min(requested, host_pe_mips[h])
        if over[h]:
            host_allocated[h] += np.floor(capped * MIGRATION_TARGET_SHARE * factor[h])
        else:
            host_allocated[h] += capped * MIGRATION_TARGET_SHARE
        host_requested[h] += requested
    utilization = host_allocated / host_capacity_mips
    for h in range(n_hosts):
        if 1.0 < utilization[h] < 1.01:
            utilization[h] = 1.0
    power = np.zeros(table_w.shape[0])
    for h in range(table_w.shape[0]):  # algorithms.power.power_w, operation for operation
        u = min(max(utilization[h], 0.0), 1.0)
        scaled = u * 10.0
        low = math.floor(scaled)
        p_low = table_w[h, low]
        delta = (table_w[h, math.ceil(scaled)] - p_low) / 10.0
        power[h] = p_low + delta * (u - low / 10.0) * 100.0
    return utilization, host_allocated, host_requested, vm_allocated, vm_requested, migrating, power


def allocate_numpy(
    vm_requested_mips: NDArray[np.float64],
    vm_host: NDArray[np.intp],
    host_capacity_mips: NDArray[np.float64],
    host_pe_mips: NDArray[np.float64],
    migrating_vm: NDArray[np.intp],
    migrating_target: NDArray[np.intp],
) -> HostState:
    """Share every host's CPU among its VMs.

    Parameters
    ----------
    vm_requested_mips : (n_vms,) demand of each VM now
    vm_host : (n_vms,) host each VM runs on (the source, for a migrating VM); -1 for none
    host_capacity_mips, host_pe_mips : (n_hosts,)
    migrating_vm, migrating_target : (n_migrations,) VMs in migration and their targets
    """
    n_hosts = host_capacity_mips.shape[0]
    n_vms = vm_requested_mips.shape[0]
    placed = np.flatnonzero(vm_host >= 0)
    migrating = np.zeros(n_vms, dtype=np.bool_)
    migrating[migrating_vm] = True
    e_vm = np.concatenate([placed, migrating_vm])
    e_host = np.concatenate([vm_host[placed], migrating_target])
    e_role = np.concatenate(
        [np.where(migrating[placed], MIGRATING_OUT, NORMAL), np.full(migrating_vm.size, MIGRATING_IN)]
    )
    requested = vm_requested_mips[e_vm]
    capped = np.minimum(requested, host_pe_mips[e_host])
    is_in = e_role == MIGRATING_IN
    is_out = e_role == MIGRATING_OUT
    counted = np.where(is_in, capped * MIGRATION_TARGET_SHARE, capped)
    total = sum_by(e_host, counted, n_hosts)
    over = total > host_capacity_mips
    share = np.where(is_out, MIGRATION_SOURCE_SHARE, np.where(is_in, MIGRATION_TARGET_SHARE, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(over, host_capacity_mips / total, 1.0)[e_host]
    scaled = np.where(is_in, np.floor(capped * MIGRATION_TARGET_SHARE * factor), np.floor(capped * factor * share))
    allocated = np.where(over[e_host], scaled, capped * share)
    # the source counts a migrating VM in full (its 10 % loss is the VM's, not the host's)
    host_part = np.where(is_out, allocated / MIGRATION_SOURCE_SHARE, allocated)
    host_allocated = sum_by(e_host, host_part, n_hosts)
    host_requested = sum_by(e_host, requested, n_hosts)
    utilization = host_allocated / host_capacity_mips
    utilization = np.where((utilization > 1.0) & (utilization < 1.01), 1.0, utilization)
    vm_allocated = np.zeros(n_vms)
    own = ~is_in
    vm_allocated[e_vm[own]] = allocated[own]
    vm_requested = np.zeros(n_vms)
    vm_requested[placed] = vm_requested_mips[placed]
    return HostState(utilization, host_allocated, host_requested, vm_allocated, vm_requested, migrating)


def sum_by(index: NDArray[np.intp], weights: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Sum of ``weights`` per value of ``index`` (0 .. n-1), shape (n,)."""
    return np.bincount(index, weights, minlength=n).astype(np.float64, copy=False)

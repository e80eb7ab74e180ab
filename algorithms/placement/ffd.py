"""First fit decreasing (FFD) placement: the first host by index that has room.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.3 (bin packing heuristics); CloudSim 4.0
``PowerVmAllocationPolicySimple`` (first host that fits, used by the NPA and DVFS baselines).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._validation import Interval, Options
from algorithms.base import HostTable, IntArray, PlacementGuard, PlacementRequest, Placer
from algorithms.placement._feasibility import check_placement, fits, not_overloaded

__all__ = ["FirstFitDecreasing"]


@dataclass(frozen=True, kw_only=True)
class FirstFitDecreasing(Placer):
    """Place the VMs, largest CPU demand first, each on the first host by index that fits it.

    VMs go in descending ``vm_cpu_mips`` order, ties to the lowest index. Each goes on the
    lowest-index active allowed host where it fits one core, the free CPU
    (``cpu_threshold * cpu_mips - used``) and the free RAM (``ram_threshold * ram_mb - used``), and
    that ``guard``, if given, does not call overloaded; failing that, on the lowest-index inactive
    allowed host that fits, which becomes active. With ``prefer_active=False`` the lowest-index
    host that fits, active or not (CloudSim's first fit at VM creation). A VM that fits nowhere
    gets -1 and the others are still placed.

    Parameters
    ----------
    cpu_threshold : float in (0, 1]
        Fraction of a host's CPU that may be allocated.
    ram_threshold : float in (0, 1]
        Fraction of a host's RAM that may be allocated.
    prefer_active : bool
        Try hosts that are switched on before the others (default), or take hosts in index order.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012; CloudSim 4.0 ``PowerVmAllocationPolicySimple``.
    """

    PARAMETERS = {  # noqa: RUF012
        "cpu_threshold": Interval("float", 0.0, 1.0, "right"),
        "ram_threshold": Interval("float", 0.0, 1.0, "right"),
        "prefer_active": Options((True, False)),
    }

    cpu_threshold: float = 1.0
    ram_threshold: float = 1.0
    prefer_active: bool = True

    def place(self, hosts: HostTable, request: PlacementRequest, guard: PlacementGuard | None = None) -> IntArray:
        """Choose a target host for each VM.

        Parameters
        ----------
        hosts : HostTable with n_hosts rows
        request : PlacementRequest for n_vms VMs
        guard : PlacementGuard, optional
            Rejects hosts a VM would overload; told of every placement.

        Returns
        -------
        intp array of shape (n_vms,)
            Target host of each VM, -1 where none fits.
        """
        _, n_vms = check_placement(hosts, request, owner=type(self).__name__)
        vm_cpu = np.asarray(request.vm_cpu_mips, dtype=np.float64)
        vm_ram = np.asarray(request.vm_ram_mb, dtype=np.float64)
        used_cpu = np.array(request.used_cpu_mips, dtype=np.float64)
        used_ram = np.array(request.used_ram_mb, dtype=np.float64)
        allowed = np.asarray(request.allowed, dtype=np.bool_)
        active = np.array(request.active, dtype=np.bool_)

        result = np.full(n_vms, -1, dtype=np.intp)
        for vm in np.argsort(-vm_cpu, kind="stable"):
            cpu, ram = vm_cpu[vm], vm_ram[vm]
            room = allowed & fits(
                hosts, used_cpu, used_ram, cpu, ram, cpu_threshold=self.cpu_threshold, ram_threshold=self.ram_threshold
            )
            room = not_overloaded(room, int(vm), guard)
            if not room.any():
                continue
            # Active hosts first, then sleeping ones; lowest index within each group.
            awake = room & active
            target = int(np.argmax(awake)) if self.prefer_active and awake.any() else int(np.argmax(room))
            active[target] = True
            used_cpu[target] += cpu
            used_ram[target] += ram
            result[vm] = target
            if guard is not None:
                guard.assign(int(vm), target)
        return result

"""What a decision round reads and what it decides, as frozen records of arrays.

Layout (the house layout): hosts or VMs on axis 0, time on the last axis, oldest to newest,
utilization as a fraction of capacity, right-aligned with an ``n_valid`` count per row; the
padding (the oldest ``window - n_valid`` columns) is never read, so a real 0 % sample is a sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: ``Decision.groups`` value of a move that relieves an overloaded host.
OVERLOAD_RELIEF = -1


@dataclass(frozen=True)
class DecisionInputs:
    """Everything one decision round reads; arrays are never written to.

    Attributes
    ----------
    hosts : HostTable with n_hosts rows: CPU and one core's capacity (MIPS), RAM (MB), power
        table (W at 0, 10, ..., 100 %)
    vm_host : intp (n_vms,), the host each VM runs on; -1 for a VM on no host (ignored)
    vm_mips, vm_ram_mb : float (n_vms,), each VM's CPU size and RAM
    vm_history : float (n_vms, window), each VM's CPU utilization as a fraction of its size; the
        newest column is now
    vm_n_valid : intp (n_vms,), samples held per VM
    vm_migration_time_s : float (n_vms,), each VM's expected live-migration time (from its RAM and
        the link, :func:`neat.decision.migration.migration_time_s`)
    interval_s : the decision interval (the detectors' horizon is measured in intervals)
    vm_order : int64 (n_vms,) or None, each VM's position in its host's list (ties in selection go
        to the lowest); None: the VM index
    host_history, host_n_valid : float (n_hosts, window) and intp (n_hosts,), or None: measured
        host utilization (a collector's, hypervisor overhead included). What it holds beyond its
        VMs' sum stays with the host when VMs move. None: a host's history is its VMs' sum.
    host_utilization : float (n_hosts,) or None: utilization each host reports now (allocated
        CPU), which orders and filters the underload candidates; None: the newest measured sample
        where there is one, else the newest column of the VMs' sum
    host_active : bool (n_hosts,) or None: hosts switched on (a placer prefers them; PABFD prices
        waking the others); None: hosts with utilization above 0
    vm_movable : bool (n_vms,) or None: VMs that may migrate (not excluded, not cooling down, not
        busy); None: all
    host_source_allowed : bool (n_hosts,) or None: hosts whose VMs may leave; None: all
    host_target_allowed : bool (n_hosts,) or None: hosts that may receive VMs; None: all
    """

    hosts: HostTable
    vm_host: IntArray
    vm_mips: FloatArray
    vm_ram_mb: FloatArray
    vm_history: FloatArray
    vm_n_valid: IntArray
    vm_migration_time_s: FloatArray
    interval_s: float
    vm_order: NDArray[np.int64] | None = None
    host_history: FloatArray | None = None
    host_n_valid: IntArray | None = None
    host_utilization: FloatArray | None = None
    host_active: BoolArray | None = None
    vm_movable: BoolArray | None = None
    host_source_allowed: BoolArray | None = None
    host_target_allowed: BoolArray | None = None

    @property
    def n_hosts(self) -> int:
        return int(self.hosts.cpu_mips.shape[0])

    @property
    def n_vms(self) -> int:
        return int(self.vm_mips.shape[0])

    @property
    def window(self) -> int:
        return int(self.vm_history.shape[1])


@dataclass(frozen=True)
class Decision:
    """The moves of one round, in decision order, and what the detectors found.

    Attributes
    ----------
    vms, sources, targets : intp (n_moves,), each move's VM, its host before the move and its target
    groups : intp (n_moves,), why each move is made: :data:`OVERLOAD_RELIEF`, or the index of the
        underloaded host whose evacuation it is part of (a group is worth doing only whole)
    overloaded : bool (n_hosts,), the hosts the overload detector flagged
    underloaded : bool (n_hosts,), the hosts switched on that the underload detector flagged
    unrelieved : bool (n_hosts,), overloaded hosts some selected VM of which found no target
    detector_state : the overload detector's state after this round (None if stateless)
    """

    vms: IntArray
    sources: IntArray
    targets: IntArray
    groups: IntArray
    overloaded: BoolArray
    underloaded: BoolArray
    unrelieved: BoolArray
    detector_state: Any = None

    @property
    def n_moves(self) -> int:
        return int(self.vms.shape[0])


@dataclass
class PhaseTimes:
    """Wall time spent per phase of the simulation, in seconds."""

    detection_s: float = 0.0
    selection_s: float = 0.0
    placement_s: float = 0.0
    accounting_s: float = 0.0
    execution_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


__all__ = ["OVERLOAD_RELIEF", "Decision", "DecisionInputs", "PhaseTimes"]

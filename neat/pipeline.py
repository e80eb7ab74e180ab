"""The decision pipeline shared by the simulator and the service.

One call judges every host, picks VMs off the overloaded ones until relieved, places them, and
evacuates underloaded hosts: :func:`decide`. The simulator calls it once per round; the global
manager once per cycle, with the histories it read from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable
from neat.simulation.allocation import allocate
from neat.simulation.decision import plan_round
from neat.simulation.engine import PhaseTimes
from neat.simulation.modes import Mode
from neat.simulation.policies import Policy


@dataclass
class DecisionContext:
    """The fixed part of a decision: the policy, the semantics, the hosts and the VMs' sizes.

    Attributes
    ----------
    hosts : HostTable with n_hosts rows
    vm_mips, vm_ram_mb : float arrays of shape (n_vms,)
    migration_steps : float array of shape (n_hosts,) or scalar, expected migration time in steps
    """

    policy: Policy
    mode: Mode
    hosts: HostTable
    vm_mips: NDArray[np.float64]
    vm_ram_mb: NDArray[np.float64]
    migration_steps_per_host: NDArray[np.float64]
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    phases: PhaseTimes = field(default_factory=PhaseTimes)

    @property
    def n_hosts(self) -> int:
        return int(self.hosts.cpu_mips.shape[0])

    @property
    def n_vms(self) -> int:
        return int(self.vm_mips.shape[0])

    def migration_steps(self) -> NDArray[np.float64]:
        return self.migration_steps_per_host


@dataclass(frozen=True)
class Decision:
    """What to move where, in the order decided (which is the order to execute)."""

    vms: NDArray[np.intp]
    targets: NDArray[np.intp]
    overloaded_hosts: int
    detector_state: Any


def decide(
    context: DecisionContext,
    vm_host: NDArray[np.intp],
    vm_history: NDArray[np.float64],
    vm_history_len: NDArray[np.intp],
    *,
    vm_order: NDArray[np.int64] | None = None,
    detector_state: Any = None,
) -> Decision:
    """Decide one round from the VMs' histories.

    Parameters
    ----------
    context : DecisionContext
    vm_host : intp array (n_vms,), the host of each VM (-1: not placed)
    vm_history : float array (n_vms, window), each VM's utilization (fraction of its size), oldest
        first, zero before its first sample; the last column is now
    vm_history_len : intp array (n_vms,), samples held per VM
    vm_order : int array (n_vms,), order of the VMs in their hosts' lists (ties go to the first)
    detector_state : a stateful detector's state from the previous call
    """
    u_now = vm_history[:, -1]
    requested = u_now * context.vm_mips
    empty = np.zeros(0, dtype=np.intp)
    state = allocate(requested, vm_host, context.hosts.cpu_mips, context.hosts.pe_mips, empty, empty)
    if detector_state is None and context.policy.detector is not None:
        detector_state = context.policy.detector.initial_state(context.n_hosts)
    order = np.arange(context.n_vms, dtype=np.int64) if vm_order is None else vm_order
    moves_vm, moves_to, overloaded, next_state = plan_round(
        context,  # type: ignore[arg-type]
        state,
        vm_host.copy(),
        order,
        vm_history,
        vm_history_len,
        u_now,
        detector_state,
    )
    return Decision(moves_vm, moves_to, overloaded, next_state)

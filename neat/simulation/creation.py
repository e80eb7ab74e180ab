"""VM creation at t = 0 with the policy's placer, compiled.

:meth:`neat.simulation.engine.Simulation.initial_placement` creates the VMs one at a time, in index
order, at their full MIPS: for a dynamic policy each VM is one PABFD call whose guard sees the new
VM alone (VMs created before it have no workload yet). :func:`place_at_creation` runs the same
sequence in one kernel call (:func:`neat.simulation.pabfd_kernel.best_host` per VM), with the same
results; it applies where the compiled round does (:func:`neat.simulation.decision.compiled_spec`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from neat.simulation.decision import compiled_spec
from neat.simulation.host_index import index_hosts, update_host
from neat.simulation.jit import jit
from neat.simulation.pabfd_kernel import best_host
from neat.simulation.round_arrays import (
    ON,
    USED_CPU,
    USED_RAM,
    VM_CPU,
    VM_RAM,
    IntArray,
    RoundArrays,
    pack_round,
)

if TYPE_CHECKING:
    from neat.simulation.engine import Simulation


@jit
def _create(a: RoundArrays) -> IntArray:
    """Host of every VM (n_vms,), placed in index order; -1 from the first VM that fits nowhere on."""
    n_vms = a.vm.shape[1]
    vm_host = np.full(n_vms, -1, dtype=np.intp)
    excluded = np.zeros(a.host.shape[0], dtype=np.bool_)
    w = index_hosts(a, excluded)
    for vm in range(n_vms):
        h = best_host(a, w, vm, excluded)
        if h < 0:
            break
        vm_host[vm] = h
        a.host[h, USED_CPU] += a.vm[VM_CPU, vm]
        a.host[h, USED_RAM] += a.vm[VM_RAM, vm]
        a.host[h, ON] = 1.0
        update_host(a, w, excluded, h)
    return vm_host


def place_at_creation(sim: Simulation) -> NDArray[np.intp] | None:
    """The engine's initial placement of a dynamic policy, compiled; None where it does not apply.

    Returns the host of every VM, shape (n_vms,); -1 from the first VM that fits on no host on
    (the engine reports it as a :class:`neat.simulation.engine.CapacityError`).
    """
    policy = sim.policy
    spec = compiled_spec(policy) if policy.kind == "dynamic" else None
    if spec is None:
        return None
    placer = policy.placer
    assert isinstance(placer, PowerAwareBestFitDecreasing)
    n_hosts, n_vms = sim.n_hosts, sim.n_vms
    arrays = pack_round(
        sim.hosts,
        placer,
        spec,
        steps=np.broadcast_to(sim.migration_steps(), (n_hosts,)),
        baseline_utilization=np.zeros(n_hosts) if sim.mode.frozen_power_baseline else None,
        used_cpu=np.zeros(n_hosts),
        used_ram=np.zeros(n_hosts),
        active=np.zeros(n_hosts, dtype=np.bool_),
        vm_mips=sim.vm_mips,
        vm_cpu=sim.vm_mips,
        vm_capped=sim.vm_mips,
        vm_ram=sim.vm_ram_mb,
        vm_history=np.ones((n_vms, 1)),  # at creation a VM asks for its full MIPS
        host_history=np.zeros((n_hosts, 1)),  # and the VMs created before it for nothing
    )
    return _create(arrays)

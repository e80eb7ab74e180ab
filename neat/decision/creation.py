"""Where VMs go when they are created: one at a time, in index order, at their full MIPS.

Each VM is one call of the policy's placer whose guard sees the new VM alone (VMs created before it
have no workload yet): CloudSim's initial placement. Where the policy's round is compiled
(:func:`neat.decision.kernels.compiled.compiled_round`), the whole sequence is one kernel call
(:func:`neat.decision.kernels.creation_kernel.create`) with the same results.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable, PlacementRequest
from algorithms.placement._pabfd_arrays import RoundArrays, pack_round
from neat.decision.guard import DetectorGuard
from neat.decision.kernels.compiled import compiled_round
from neat.decision.kernels.creation_kernel import create
from neat.decision.policy import Policy

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def place_at_creation(
    hosts: HostTable, policy: Policy, vm_mips: FloatArray, vm_ram_mb: FloatArray, vm_steps: FloatArray
) -> IntArray:
    """The host of every VM (n_vms,), created in index order; -1 from the first VM that fits nowhere on.

    Parameters
    ----------
    hosts : HostTable with n_hosts rows
    policy : its placer (and detector, as the guard) choose
    vm_mips, vm_ram_mb : (n_vms,) sizes; a VM asks for its full MIPS and RAM
    vm_steps : (n_vms,) each VM's migration horizon in steps, for predictive detectors
    """
    if compiled_round(policy):
        result: IntArray = create(creation_arrays(hosts, policy, vm_mips, vm_ram_mb, vm_steps))
        return result
    n_hosts, n_vms = hosts.cpu_mips.shape[0], vm_mips.shape[0]
    mode = policy.mode
    baseline = mode.pricing_baseline(np.zeros(n_hosts))
    vm_host = np.full(n_vms, -1, dtype=np.intp)
    used_cpu = np.zeros(n_hosts)
    used_ram = np.zeros(n_hosts)
    guard = DetectorGuard(
        policy.guard,
        mode,
        vm_history=np.ones((n_vms, 1)),
        vm_n_valid=np.ones(n_vms, dtype=np.intp),
        vm_mips=vm_mips,
        vm_steps=vm_steps,
        host_mips=hosts.cpu_mips,
        host_history=np.zeros((n_hosts, 1)),
        host_n_valid=np.zeros(n_hosts, dtype=np.intp),
        host_steps=np.zeros(n_hosts),
        state=policy.guard.initial_state(n_hosts),
        track_assignments=False,
    )
    allowed = np.ones(n_hosts, dtype=np.bool_)
    for vm in range(n_vms):
        request = PlacementRequest(
            vm_cpu_mips=vm_mips[vm : vm + 1],
            vm_ram_mb=vm_ram_mb[vm : vm + 1],
            used_cpu_mips=used_cpu,
            used_ram_mb=used_ram,
            active=used_cpu > 0,
            allowed=allowed,
            baseline_utilization=baseline,
        )
        guard.vm_ids = np.array([vm])
        target = int(policy.placer.place(hosts, request, None if policy.guard.NEVER else guard)[0])
        if target < 0:
            break
        vm_host[vm] = target
        used_cpu[target] += vm_mips[vm]
        used_ram[target] += vm_ram_mb[vm]
    return vm_host


def creation_arrays(
    hosts: HostTable, policy: Policy, vm_mips: FloatArray, vm_ram_mb: FloatArray, vm_steps: FloatArray
) -> RoundArrays:
    """The compiled creation's inputs (:func:`neat.decision.kernels.creation_kernel.create`), for a
    policy whose round is compiled; arguments as :func:`place_at_creation`'s."""
    assert policy.kernels is not None
    placer_kernel, _, detector_kernel, _ = policy.kernels
    n_hosts, n_vms = hosts.cpu_mips.shape[0], vm_mips.shape[0]
    return pack_round(
        hosts,
        placer_kernel,
        detector_kernel,
        steps=np.zeros(n_hosts),
        host_n_valid=np.zeros(n_hosts, dtype=np.intp),
        trim_leading_zeros=policy.mode.trim_leading_zeros,
        baseline_utilization=policy.mode.pricing_baseline(np.zeros(n_hosts)),
        used_cpu=np.zeros(n_hosts),
        used_ram=np.zeros(n_hosts),
        active=np.zeros(n_hosts, dtype=np.bool_),
        vm_mips=vm_mips,
        vm_cpu=vm_mips,
        vm_capped=vm_mips,
        vm_ram=vm_ram_mb,
        vm_n_valid=np.ones(n_vms, dtype=np.intp),
        vm_steps=vm_steps,
        vm_history=np.ones((n_vms, 1)),  # at creation a VM asks for its full MIPS
        host_history=np.zeros((n_hosts, 1)),  # and the VMs created before it for nothing
        host_state=policy.guard.kernel_state(None, n_hosts),
    )


__all__ = ["creation_arrays", "place_at_creation"]

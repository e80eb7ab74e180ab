"""The detector-backed placement guard: would this host be overloaded with this VM added?

PABFD consults it for every candidate host that already runs VMs (Beloglazov & Buyya, CCPE 24(13),
2012, Algorithm 1: a target must not become overloaded). The guard keeps each host's history with
the VMs placed on it so far in the round, its valid length and its migration horizon, so that the
policy's own detector judges the host as it would be.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import OverloadDetector
from neat.decision.histories import take_state
from neat.decision.mode import Mode

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class DetectorGuard:
    """Answers "would this host be overloaded with this VM added?" with the policy's detector.

    Parameters
    ----------
    detector : the overload detector
    mode : how a history's length is counted (:meth:`~neat.decision.mode.Mode.history_length`)
    vm_history : (n_vms, window) zero-padded utilization history of every VM (fraction of the VM)
    vm_n_valid : (n_vms,)
    vm_mips, host_mips : (n_vms,), (n_hosts,)
    vm_steps : (n_vms,) each VM's migration horizon in steps
    host_history : (n_hosts, window) current host histories; copied, then updated by :meth:`assign`
    host_n_valid : (n_hosts,) their valid lengths
    host_steps : (n_hosts,) horizon per host for predictive detectors
    state : detector state before this round (hypothetical checks never advance it)
    track_assignments : add a placed VM's history to its host (False at creation, where VMs
        created earlier have no workload yet, so only the new VM counts)

    A host with a VM added has the longer valid length and the longer horizon of the two.
    """

    def __init__(
        self,
        detector: OverloadDetector,
        mode: Mode,
        *,
        vm_history: FloatArray,
        vm_n_valid: IntArray,
        vm_mips: FloatArray,
        vm_steps: FloatArray,
        host_mips: FloatArray,
        host_history: FloatArray,
        host_n_valid: IntArray,
        host_steps: FloatArray,
        state: Any,
        track_assignments: bool = True,
    ) -> None:
        self.detector = detector
        self.mode = mode
        self.track_assignments = track_assignments
        self.vm_history = vm_history
        self.vm_n_valid = vm_n_valid
        self.vm_mips = vm_mips
        self.vm_steps = vm_steps
        self.host_mips = host_mips
        self.host_history = host_history.copy()
        self.host_n_valid = host_n_valid.copy()
        self.host_steps = np.array(np.broadcast_to(host_steps, host_mips.shape), dtype=np.float64)
        self.state = state
        #: VM id of each position in the current placement request
        self.vm_ids: IntArray = np.arange(vm_mips.shape[0])
        self._undo: list[tuple[int, int, float, FloatArray]] = []

    def checkpoint(self) -> int:
        """A mark to :meth:`rollback` to."""
        return len(self._undo)

    def rollback(self, mark: int) -> None:
        """Undo every :meth:`assign` made since ``mark``."""
        while len(self._undo) > mark:
            host, n_valid, steps, row = self._undo.pop()
            self.host_history[host] = row
            self.host_n_valid[host] = n_valid
            self.host_steps[host] = steps

    def _with_vm(self, vm: int, hosts: IntArray) -> FloatArray:
        scale = self.vm_mips[vm] / self.host_mips[hosts]
        result: FloatArray = self.host_history[hosts] + self.vm_history[vm] * scale[:, None]
        return result

    def would_overload(self, vm: int, hosts: IntArray) -> NDArray[np.bool_]:
        vm_id = int(self.vm_ids[vm])
        history = self._with_vm(vm_id, hosts)
        n_valid = self.mode.history_length(history, np.maximum(self.host_n_valid[hosts], self.vm_n_valid[vm_id]))
        steps = np.maximum(self.host_steps[hosts], self.vm_steps[vm_id])
        overloaded, _ = self.detector.evaluate(history, n_valid, steps, take_state(self.state, hosts))
        return overloaded

    def assign(self, vm: int, host: int) -> None:
        if not self.track_assignments:
            return
        vm_id = int(self.vm_ids[vm])
        self._undo.append(
            (host, int(self.host_n_valid[host]), float(self.host_steps[host]), self.host_history[host].copy())
        )
        self.host_history[host] = self._with_vm(vm_id, np.array([host]))[0]
        self.host_n_valid[host] = max(self.host_n_valid[host], self.vm_n_valid[vm_id])
        self.host_steps[host] = max(self.host_steps[host], self.vm_steps[vm_id])

"""Host histories built from VM histories, and the detector-backed placement guard.

A host's utilization history is the sum over its current VMs of their own histories scaled to the
host (CloudSim's PowerHostUtilizationHistory): it moves with the VMs, so a host that just received
a busy VM inherits that VM's past.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import OverloadDetector
from neat.simulation.jit import COMPILED, jit


def trimmed_length(history: NDArray[np.float64]) -> NDArray[np.intp]:
    """Valid length of each row once the oldest zeros are dropped; shape (n_rows,).

    A VM with no sample yet contributes zeros, so leading (oldest) zeros are "no history" (CloudSim's
    MathUtil.trimZeroTail on its newest-first arrays).
    """
    nonzero = history != 0
    window = history.shape[1]
    first = np.argmax(nonzero, axis=1)
    result: NDArray[np.intp] = np.where(nonzero.any(axis=1), window - first, 0).astype(np.intp)
    return result


def host_histories(
    vm_host: NDArray[np.intp],
    vm_history: NDArray[np.float64],
    vm_mips: NDArray[np.float64],
    host_mips: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Sum of the VM histories on each host, as fractions of the host; shape (n_hosts, window).

    VMs with ``vm_host == -1`` are left out. Each host adds its VMs in index order.
    """
    placed = np.flatnonzero(vm_host >= 0)
    out = np.zeros((host_mips.shape[0], vm_history.shape[1]))
    _add_histories(out, vm_host[placed], placed, vm_history, vm_mips, host_mips)
    return out


def host_histories_of(
    hosts: NDArray[np.intp],
    candidates: NDArray[np.intp],
    vm_host: NDArray[np.intp],
    vm_history: NDArray[np.float64],
    vm_mips: NDArray[np.float64],
    host_mips: NDArray[np.float64],
) -> NDArray[np.float64]:
    """:func:`host_histories` of ``hosts`` (k,) only, from the VMs among ``candidates`` (ascending).

    Equal to ``host_histories(vm_host, ...)[hosts]`` when ``candidates`` holds every VM on
    ``hosts``; costs O(len(candidates)), not O(n_vms). Shape (k, window).
    """
    row_of = np.full(host_mips.shape[0] + 1, -1, dtype=np.intp)  # the extra row maps host -1
    row_of[hosts] = np.arange(hosts.shape[0])
    rows = row_of[vm_host[candidates]]
    on_hosts = rows >= 0
    out = np.zeros((hosts.shape[0], vm_history.shape[1]))
    _add_histories(out, rows[on_hosts], candidates[on_hosts], vm_history, vm_mips, host_mips, hosts)
    return out


def _add_histories(
    out: NDArray[np.float64],
    rows: NDArray[np.intp],
    vms: NDArray[np.intp],
    vm_history: NDArray[np.float64],
    vm_mips: NDArray[np.float64],
    host_mips: NDArray[np.float64],
    row_hosts: NDArray[np.intp] | None = None,
) -> None:
    """``out[rows[i]] += vm_history[vms[i]] * (vm_mips / host_mips)``, in order of ``i``.

    ``row_hosts`` maps rows of ``out`` to hosts (identity when None). Compiled when numba is
    there; ``np.add.at`` adds in the same order otherwise, so both give the same sums.
    """
    hosts = rows if row_hosts is None else row_hosts[rows]
    scale = vm_mips[vms] / host_mips[hosts]
    if COMPILED:
        _accumulate(out, rows, vms, vm_history, scale)
    else:  # pragma: no cover - exercised only where numba is missing
        np.add.at(out, rows, vm_history[vms] * scale[:, None])


@jit
def _accumulate(
    out: NDArray[np.float64],
    rows: NDArray[np.intp],
    vms: NDArray[np.intp],
    vm_history: NDArray[np.float64],
    scale: NDArray[np.float64],
) -> None:
    for i in range(rows.shape[0]):
        for j in range(out.shape[1]):
            out[rows[i], j] += vm_history[vms[i], j] * scale[i]


def take_state(state: Any, rows: NDArray[np.intp]) -> Any:
    """The per-host detector state restricted to ``rows`` (host axis 0 of every array field)."""
    if state is None or not is_dataclass(state):
        return state
    changes = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            changes[f.name] = value[rows]
    return replace(state, **changes)  # type: ignore[type-var]


class DetectorGuard:
    """Answers "would this host be overloaded with this VM added?" with the policy's detector.

    Parameters
    ----------
    detector : the overload detector
    vm_history : (n_vms, window) utilization history of every VM (fraction of the VM)
    vm_mips, host_mips : (n_vms,), (n_hosts,)
    host_history : (n_hosts, window) current host histories; copied, then updated by :meth:`assign`
    migration_time_steps : per-host horizon for predictive detectors, scalar or (n_hosts,)
    state : detector state before this round (hypothetical checks never advance it)
    track_assignments : add a placed VM's history to its host (False at creation, where VMs
        created earlier have no workload yet, so only the new VM counts)
    """

    def __init__(
        self,
        detector: OverloadDetector,
        *,
        vm_history: NDArray[np.float64],
        vm_mips: NDArray[np.float64],
        host_mips: NDArray[np.float64],
        host_history: NDArray[np.float64],
        migration_time_steps: NDArray[np.float64],
        state: Any,
        track_assignments: bool = True,
    ) -> None:
        self.detector = detector
        self.track_assignments = track_assignments
        self.vm_history = vm_history
        self.vm_mips = vm_mips
        self.host_mips = host_mips
        self.host_history = host_history.copy()
        self.migration_time_steps = np.broadcast_to(migration_time_steps, host_mips.shape)
        self.state = state
        #: VM id of each position in the current placement request
        self.vm_ids: NDArray[np.intp] = np.arange(vm_mips.shape[0])
        self._undo: list[tuple[int, NDArray[np.float64]]] = []

    def checkpoint(self) -> int:
        """A mark to :meth:`rollback` to."""
        return len(self._undo)

    def rollback(self, mark: int) -> None:
        """Undo every :meth:`assign` made since ``mark``."""
        while len(self._undo) > mark:
            host, row = self._undo.pop()
            self.host_history[host] = row

    def _vm(self, position: int) -> int:
        return int(self.vm_ids[position])

    def _with_vm(self, vm: int, hosts: NDArray[np.intp]) -> NDArray[np.float64]:
        scale = self.vm_mips[vm] / self.host_mips[hosts]
        result: NDArray[np.float64] = self.host_history[hosts] + self.vm_history[vm] * scale[:, None]
        return result

    def would_overload(self, vm: int, hosts: NDArray[np.intp]) -> NDArray[np.bool_]:
        history = self._with_vm(self._vm(vm), hosts)
        overloaded, _ = self.detector.evaluate(
            history, trimmed_length(history), self.migration_time_steps[hosts], take_state(self.state, hosts)
        )
        return overloaded

    def assign(self, vm: int, host: int) -> None:
        if not self.track_assignments:
            return
        rows = np.array([host])
        self._undo.append((host, self.host_history[host].copy()))
        self.host_history[host] = self._with_vm(self._vm(vm), rows)[0]

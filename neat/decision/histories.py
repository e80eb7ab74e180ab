"""Host histories from VM histories: the sum over a host's VMs of their histories scaled to it.

A host's utilization history moves with its VMs (CloudSim's PowerHostUtilizationHistory): a host
that just received a busy VM inherits that VM's past. Rows here are zero-padded (a VM's padding
counts as 0, as a VM that was not there yet), with the valid length kept beside: the longest of
the host's VMs'.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms._validation import valid_mask
from neat.decision.kernels.jit import COMPILED, jit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def zero_padded(history: FloatArray, n_valid: IntArray) -> FloatArray:
    """``history`` (n_rows, window) with its padding set to 0 (a copy only where padding is not 0 already)."""
    if n_valid.size == 0 or int(n_valid.min()) >= history.shape[1]:
        return history
    valid = valid_mask(history.shape, n_valid)
    if np.all(valid | (history == 0)):
        return history
    return np.where(valid, history, 0.0)


def host_histories(
    vm_host: IntArray,
    vm_history: FloatArray,
    vm_n_valid: IntArray,
    vm_mips: FloatArray,
    host_mips: FloatArray,
) -> tuple[FloatArray, IntArray]:
    """Sum of the VM histories on each host, as fractions of the host, and its valid length.

    Parameters
    ----------
    vm_host : (n_vms,), -1 for a VM left out
    vm_history : (n_vms, window), zero-padded
    vm_n_valid : (n_vms,)
    vm_mips, host_mips : (n_vms,), (n_hosts,)

    Returns
    -------
    history : (n_hosts, window), each host adding its VMs in index order
    n_valid : (n_hosts,), the longest valid length of its VMs (0 without VMs)
    """
    placed = np.flatnonzero(vm_host >= 0)
    n_hosts = host_mips.shape[0]
    out = np.zeros((n_hosts, vm_history.shape[1]))
    _add_histories(out, vm_host[placed], placed, vm_history, vm_mips, host_mips)
    return out, _longest(vm_host[placed], vm_n_valid[placed], n_hosts)


def host_histories_of(
    hosts: IntArray,
    candidates: IntArray,
    vm_host: IntArray,
    vm_history: FloatArray,
    vm_n_valid: IntArray,
    vm_mips: FloatArray,
    host_mips: FloatArray,
) -> tuple[FloatArray, IntArray]:
    """:func:`host_histories` of ``hosts`` (k,) only, from the VMs among ``candidates`` (ascending).

    Equal to ``host_histories(vm_host, ...)[hosts]`` when ``candidates`` holds every VM on
    ``hosts``; costs O(len(candidates)), not O(n_vms). Shapes (k, window) and (k,).
    """
    row_of = np.full(host_mips.shape[0] + 1, -1, dtype=np.intp)  # the extra row maps host -1
    row_of[hosts] = np.arange(hosts.shape[0])
    rows = row_of[vm_host[candidates]]
    on_hosts = rows >= 0
    out = np.zeros((hosts.shape[0], vm_history.shape[1]))
    _add_histories(out, rows[on_hosts], candidates[on_hosts], vm_history, vm_mips, host_mips, hosts)
    return out, _longest(rows[on_hosts], vm_n_valid[candidates[on_hosts]], hosts.shape[0])


def _longest(rows: IntArray, n_valid: IntArray, n_rows: int) -> IntArray:
    """The largest ``n_valid`` per row index (0 where none); shape (n_rows,)."""
    result = np.zeros(n_rows, dtype=np.intp)
    if n_valid.size and n_valid.min() == n_valid.max():  # every VM as old: one count
        result[rows] = n_valid[0]
    else:
        np.maximum.at(result, rows, n_valid)
    return result


def _add_histories(
    out: FloatArray,
    rows: IntArray,
    vms: IntArray,
    vm_history: FloatArray,
    vm_mips: FloatArray,
    host_mips: FloatArray,
    row_hosts: IntArray | None = None,
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
    out: FloatArray,
    rows: IntArray,
    vms: IntArray,
    vm_history: FloatArray,
    scale: FloatArray,
) -> None:
    for i in range(rows.shape[0]):
        for j in range(out.shape[1]):
            out[rows[i], j] += vm_history[vms[i], j] * scale[i]


def take_state(state: Any, rows: IntArray) -> Any:
    """The per-host detector state restricted to ``rows`` (host axis 0 of every array field)."""
    if state is None or not is_dataclass(state):
        return state
    changes = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            changes[f.name] = value[rows]
    return replace(state, **changes)  # type: ignore[type-var]

"""The compiled placement's inputs and host state: a few packed arrays, and their upkeep.

numba passes every array of a tuple to every call as separate arguments and reference-counts
them at each access, so the kernels (:mod:`algorithms.placement._pabfd_search` and the decision
round's kernels that drive it) take the round as a handful of 2-D arrays
(:class:`RoundArrays`), fields named by the constants below (a host's fields side by side,
so that a scan reads one cache line per host). :func:`reprice` keeps a host's derived
rows (its pricing baseline and the bound that lets a search skip it) in step with its state.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, Algorithm 1 (PABFD).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit
from algorithms.base import DetectorKernel, HostTable, PlacementKernel
from algorithms.power import power_w

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Columns of ``RoundArrays.host``: static, then the state the kernels update, then what
#: :func:`reprice` derives from it.
CPU, PE, RAM, CAPACITY, STEPS, BASELINE, TENTH = range(7)
USED_CPU, USED_RAM, ON = 7, 8, 9
BEFORE, OFFSET, RATE_NOW, RATE_FAR = 10, 11, 12, 13
HOST_NV = 14
#: Power at full load under "efficiency" pricing (a switched-off host's price per dominant share), else 0.
EFFICIENCY = 15
#: Derived by :func:`reprice` for the bound of a demand up to TENTH: watts per MIPS of the next
#: segment, and the MIPS left in the current one.
RATE_NEXT, SEGMENT_ROOM = 16, 17
N_HOST_ROWS = 18
#: Rows of ``RoundArrays.vm``.
VM_MIPS, VM_CPU, VM_CAPPED, VM_RAM, VM_NV, VM_STEPS = range(6)
#: Positions in ``RoundArrays.options``.
FROZEN, EMPTY_FULL, SLACK_W, TRIM, EMPTY_BASE_W = 0, 1, 2, 3, 4


class RoundArrays(NamedTuple):
    """Everything the kernels read for one decision round, and the host state they update.

    Attributes
    ----------
    host : float array (n_hosts, N_HOST_ROWS)
        Static: CPU (capacity, MIPS), PE (one core), RAM (MB), CAPACITY (CPU the placer may fill:
        CPU x cpu_threshold), STEPS (migration horizon for predictive detectors), BASELINE (power
        each host is priced against when the baseline is frozen), TENTH (a demand up to this
        spans at most two power-table segments). State: USED_CPU, USED_RAM, ON (1.0 for a host
        switched on; a placement call sets entries and restores them), HOST_NV (valid length of
        the host history; with STEPS, it follows the guard's assignments), EFFICIENCY (watts per
        the power at full load under "efficiency" pricing, else 0). Derived by
        :func:`reprice`: BEFORE (power a placement's increase is measured from), OFFSET
        (power at the used CPU less BEFORE), RATE_NOW, RATE_NEXT and SEGMENT_ROOM (watts per
        MIPS of the current power-table segment and of the next, MIPS left in the current one:
        the exact increase of a demand up to TENTH, less OFFSET), RATE_FAR (least watts per MIPS
        any demand can add).
    power_w : float array (n_hosts, 11)
    host_history : float array (n_hosts, window)
        Utilization history of each host with its planned VMs; the guard's assignments add to it.
    vm : float array (6, n_vms)
        VM_MIPS (size), VM_CPU (demand now), VM_CAPPED (demand within one core of its host: what a
        committed move adds), VM_RAM, VM_NV (valid length of its history), VM_STEPS (its migration
        time in steps).
    vm_history : float array (n_vms, window)
    options : float array (5,)
        FROZEN (price against BASELINE), EMPTY_FULL (a switched-off host costs its whole power),
        SLACK_W (rounding allowance of the bounds, watts), TRIM (a history's length is the row
        without its oldest zeros, as CloudSim counts history), EMPTY_BASE_W (under "efficiency"
        pricing, what waking any host costs before its watts per MIPS: the largest peak power, so
        a host in use always ranks first).
    params, coef : the detector's :class:`algorithms.base.DetectorKernel`
    host_state : float array (n_hosts, state_width)
        The detector's state rows (:meth:`algorithms.base.OverloadDetector.kernel_state`), read by
        the guard's checks, never advanced; 0 columns for a stateless detector.
    """

    host: FloatArray
    power_w: FloatArray
    host_history: FloatArray
    vm: FloatArray
    vm_history: FloatArray
    options: FloatArray
    params: FloatArray
    coef: FloatArray
    host_state: FloatArray


def pack_round(
    hosts: HostTable,
    placer: PlacementKernel,
    spec: DetectorKernel,
    *,
    steps: FloatArray,
    host_n_valid: IntArray,
    trim_leading_zeros: bool,
    baseline_utilization: FloatArray | None,
    used_cpu: FloatArray,
    used_ram: FloatArray,
    active: BoolArray,
    vm_mips: FloatArray,
    vm_cpu: FloatArray,
    vm_capped: FloatArray,
    vm_ram: FloatArray,
    vm_n_valid: IntArray,
    vm_steps: FloatArray,
    vm_history: FloatArray,
    host_history: FloatArray,
    host_state: FloatArray | None = None,
) -> RoundArrays:
    """The kernels' inputs: host arrays (n_hosts,), VM arrays (n_vms,), histories (rows, window).

    ``host_history`` is used in place (the guard's assignments go into it); the used CPU and RAM
    are copied. ``baseline_utilization`` freezes the pricing baseline, as
    :class:`algorithms.base.PlacementRequest`'s does. ``host_state`` (n_hosts, ``spec.state_width``)
    is the detector's state rows, required for a stateful detector. The derived rows are filled by
    the kernels.
    """
    n_hosts = hosts.cpu_mips.shape[0]
    if host_state is None:
        host_state = np.zeros((n_hosts, 0))
    if host_state.shape != (n_hosts, spec.state_width):
        raise ValueError(
            f"pack_round: host_state must have shape ({n_hosts}, {spec.state_width}) for this detector's "
            f"kernel; got {host_state.shape}"
        )
    table = np.ascontiguousarray(hosts.power_w, dtype=np.float64)
    host = np.zeros((hosts.cpu_mips.shape[0], N_HOST_ROWS))
    host[:, CPU], host[:, PE], host[:, RAM] = hosts.cpu_mips, hosts.pe_mips, hosts.ram_mb
    host[:, CAPACITY] = hosts.cpu_mips * placer.cpu_threshold
    host[:, STEPS] = steps
    host[:, HOST_NV] = host_n_valid
    host[:, BASELINE] = 0.0 if baseline_utilization is None else power_w(hosts.power_w, baseline_utilization)
    host[:, TENTH] = hosts.cpu_mips * 0.099  # a tenth of the CPU, less a margin for rounding
    host[:, USED_CPU], host[:, USED_RAM], host[:, ON] = used_cpu, used_ram, active
    frozen, empty_full = baseline_utilization is not None, placer.empty_host_cost == "full"
    efficient = placer.empty_host_cost == "efficiency"
    if efficient:
        host[:, EFFICIENCY] = table[:, -1]
    return RoundArrays(
        host=host,
        power_w=table,
        host_history=host_history,
        vm=np.stack([vm_mips, vm_cpu, vm_capped, vm_ram, vm_n_valid, vm_steps]).astype(np.float64, copy=False),
        vm_history=np.ascontiguousarray(vm_history, dtype=np.float64),
        options=np.array(
            [
                frozen,
                empty_full,
                1e-9 * (1.0 + float(np.abs(table).max(initial=0.0))),
                trim_leading_zeros,
                float(table[:, -1].max(initial=0.0)) if efficient else 0.0,
            ]
        ),
        params=spec.params,
        coef=spec.coef,
        host_state=np.ascontiguousarray(host_state, dtype=np.float64),
    )


@jit
def power_at(table_w: FloatArray, h: int, utilization: float) -> float:
    """Power of host ``h`` at ``utilization`` under its row of ``table_w`` (n_hosts, 11), as
    :func:`algorithms.power.power_w` computes it."""
    u = min(max(utilization, 0.0), 1.0)
    scaled = u * 10.0
    low = math.floor(scaled)
    p_low = table_w[h, low]
    delta = (table_w[h, math.ceil(scaled)] - p_low) / 10.0
    return p_low + delta * (u - low / 10.0) * 100.0


@jit
def idle(a: RoundArrays, h: int) -> bool:
    """Nothing used on host ``h`` and it is switched off: it is priced as every host of its class."""
    return a.host[h, USED_CPU] == 0 and a.host[h, USED_RAM] == 0 and a.host[h, ON] == 0


@jit
def segment(host: FloatArray, h: int) -> int:
    """The 10 % segment of its power table that host ``h``'s used CPU is in, 0 to 9 (the last
    beyond full load)."""
    return min(max(math.floor(host[h, USED_CPU] / host[h, CPU] * 10.0), 0), 9)


@jit
def reprice(a: RoundArrays, h: int) -> None:
    """Derive BEFORE, OFFSET, RATE_NOW, RATE_NEXT, SEGMENT_ROOM and RATE_FAR of host ``h`` from its state.

    BEFORE is 0 W for a switched-off host priced in full, else the frozen BASELINE or the power
    at its used CPU. The table is linear in segments of 10 %, and a demand of ``d`` MIPS up to
    TENTH spans the current segment and the next at most: it raises the power by
    ``OFFSET + RATE_NOW * min(d, SEGMENT_ROOM) + RATE_NEXT * max(d - SEGMENT_ROOM, 0)``, exactly
    but for rounding (the power is flat beyond full load, as :func:`power_at` clamps). Any demand
    that fits raises it by at least ``OFFSET + d * RATE_FAR``. Call after every change of
    USED_CPU or ON.
    """
    host, table = a.host, a.power_w
    if host[h, EFFICIENCY] > 0 and host[h, ON] == 0:
        # "efficiency": a switched-off host costs EMPTY_BASE_W plus its full-load power times the VM's
        # dominant share of it, at least the CPU share: the bound's rate is full power per MIPS
        host[h, BEFORE] = math.nan
        host[h, OFFSET] = a.options[EMPTY_BASE_W]
        host[h, RATE_NOW] = host[h, RATE_NEXT] = host[h, RATE_FAR] = host[h, EFFICIENCY] / host[h, CPU]
        host[h, SEGMENT_ROOM] = math.inf
        return
    now = power_at(table, h, host[h, USED_CPU] / host[h, CPU])
    if a.options[EMPTY_FULL] != 0 and host[h, ON] == 0:
        host[h, BEFORE] = 0.0
    elif a.options[FROZEN] != 0:
        host[h, BEFORE] = host[h, BASELINE]
    else:
        host[h, BEFORE] = now
    host[h, OFFSET] = now - host[h, BEFORE]
    at = segment(host, h)
    now_w = far = table[h, at + 1] - table[h, at]
    next_w = table[h, at + 2] - table[h, at + 1] if at < 9 else 0.0
    for k in range(at + 1, 10):
        far = min(far, table[h, k + 1] - table[h, k])
    room = (at + 1) * host[h, CPU] / 10.0 - host[h, USED_CPU]
    if room < 0.0:  # used beyond full load, where the power is flat
        now_w, room = 0.0, 0.0
    host[h, RATE_NOW] = now_w * 10.0 / host[h, CPU]
    host[h, RATE_NEXT] = next_w * 10.0 / host[h, CPU]
    host[h, SEGMENT_ROOM] = room
    host[h, RATE_FAR] = far * 10.0 / host[h, CPU]

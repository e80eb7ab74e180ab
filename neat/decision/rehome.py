"""Rehoming: move all the VMs of a host onto one switched-off host that carries them more cheaply.

Emptying hosts onto others lowers the number of hosts on; it cannot change their types. When RAM
binds (hosts full of RAM, their CPU idle), the hosts kept on should be the ones with the least
power for the RAM they hold, and a host of a costlier type stays on for good once no other host has
room for its VMs. Rehoming replaces such a host by a switched-off one: every VM of host ``h`` moves
to one host ``t`` when

- ``t`` is switched off, allowed as a target, and holds the VMs: their RAM, each VM's demand within
  one core, and the policy's guard on ``h``'s history rescaled to ``t``'s capacity;
- ``t`` carries them more efficiently: its full-load power times their dominant share of it (the
  larger of the CPU and RAM shares) is below ``h``'s (so a host of a type that is cheaper only
  because it is idle more is not chosen when CPU binds);
- and the power at their load falls by at least ``saving_w``: ``P_t(load / cpu_t) <= P_h(load /
  cpu_h) - saving_w``.

Candidates are the hosts switched on that no move of this round touched, not overloaded, whose VMs
may all move; the largest saving goes first, each target used once. The moves form one group per
host (kept whole or dropped whole by the planner, as an evacuation).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

from algorithms.base import HostTable, IntArray
from algorithms.power import power_w
from neat.decision.histories import take_state

if TYPE_CHECKING:
    from neat.decision.decide import _Round

__all__ = ["rehome"]


#: Each host table's classes of identical hosts, by the table's id (with a weak reference to check it).
_CLASSES: dict[int, tuple[weakref.ref[HostTable], IntArray]] = {}


def host_classes(hosts: HostTable) -> IntArray:
    """The class of every host, shape (n_hosts,): hosts of one class have the same CPU, core, RAM
    and power table (computed once per table)."""
    hit = _CLASSES.get(id(hosts))
    if hit is not None and hit[0]() is hosts:
        return hit[1]
    rows = np.column_stack([hosts.cpu_mips, hosts.pe_mips, hosts.ram_mb, hosts.power_w])
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    classes: IntArray = inverse.reshape(-1).astype(np.intp)
    for key in [k for k, (ref, _) in _CLASSES.items() if ref() is None]:
        del _CLASSES[key]
    _CLASSES[id(hosts)] = (weakref.ref(hosts), classes)
    return classes


def rehome(rnd: _Round, saving_w: float) -> None:
    """Add to the round's plan the rehoming moves (see the module), each host's VMs as one group."""
    inputs, policy = rnd.inputs, rnd.policy
    hosts = inputs.hosts
    n_hosts = inputs.n_hosts
    plan = rnd.plan_host
    placed = plan >= 0
    if not placed.any():
        return
    load_cpu = np.bincount(plan[placed], rnd.capped[placed], minlength=n_hosts)
    load_ram = np.bincount(plan[placed], rnd.vm_ram[placed], minlength=n_hosts)
    holding = np.bincount(plan[placed], minlength=n_hosts) > 0
    touched = np.zeros(n_hosts, dtype=np.bool_)
    for part in (*rnd.moves_from, *rnd.moves_to):
        touched[part] = True
    pinned = np.zeros(n_hosts, dtype=np.bool_)
    fixed = placed & ~rnd.movable
    pinned[plan[fixed]] = True
    candidates = np.flatnonzero(
        holding & rnd.active & ~touched & ~rnd.overloaded & rnd.source_allowed & ~pinned & (load_cpu > 0)
    )
    idle = ~rnd.active & ~holding & ~touched & rnd.target_allowed
    if candidates.size == 0 or not idle.any():
        return
    # one representative (the lowest index still free) per class of identical switched-off hosts
    idle_index = np.flatnonzero(idle)
    present, first, klass = np.unique(host_classes(hosts)[idle_index], return_index=True, return_inverse=True)
    n_classes = present.shape[0]
    cls_host = idle_index[first]  # (n_classes,) the lowest free host of each class
    full_w = hosts.power_w[:, -1]

    # (k, c) tables: candidate k moved onto class c
    cpu_k, ram_k = load_cpu[candidates], load_ram[candidates]
    cap_c, ram_c, pe_c = hosts.cpu_mips[cls_host], hosts.ram_mb[cls_host], hosts.pe_mips[cls_host]
    peak_k = np.zeros(n_hosts)
    np.maximum.at(peak_k, plan[placed], rnd.requested[placed])
    fits = (ram_c[None, :] >= ram_k[:, None]) & (pe_c[None, :] >= peak_k[candidates][:, None])
    fits &= cap_c[None, :] >= cpu_k[:, None]
    share_now = np.maximum(cpu_k / hosts.cpu_mips[candidates], ram_k / hosts.ram_mb[candidates])
    share_c = np.maximum(cpu_k[:, None] / cap_c[None, :], ram_k[:, None] / ram_c[None, :])
    efficient = full_w[cls_host][None, :] * share_c < (full_w[candidates] * share_now)[:, None]
    p_now = power_w(hosts.power_w[candidates], np.minimum(cpu_k / hosts.cpu_mips[candidates], 1.0))
    p_c = power_w(
        np.repeat(hosts.power_w[cls_host][None, :, :], candidates.size, axis=0).reshape(-1, 11),
        np.minimum(cpu_k[:, None] / cap_c[None, :], 1.0).reshape(-1),
    ).reshape(candidates.size, n_classes)
    saving = np.where(fits & efficient, p_now[:, None] - p_c, -np.inf)
    saving[saving < saving_w] = -np.inf
    if not np.isfinite(saving).any():
        return
    # the guard: the candidate's history rescaled to each class's capacity, where it is still a choice
    ks, cs = np.nonzero(np.isfinite(saving))
    source = candidates[ks]
    scale = (hosts.cpu_mips[source] / cap_c[cs])[:, None]
    history = rnd.host_history[source] * scale
    n_valid = rnd.host_n_valid[source]
    refused, _ = policy.guard.evaluate(history, n_valid, rnd.host_steps[source], take_state(rnd.detector_state, source))
    saving[ks[refused], cs[refused]] = -np.inf

    free = [list(idle_index[klass == c]) for c in range(n_classes)]  # each class's free hosts, ascending
    order = np.argsort(-saving.max(axis=1), kind="stable")
    for k in order:
        row = saving[k]
        if not np.isfinite(row).any():
            break
        for c in np.argsort(-row, kind="stable"):
            if not np.isfinite(row[c]):
                break
            if not free[c]:
                continue
            target = int(free[c].pop(0))
            h = int(candidates[k])
            on_host = np.flatnonzero(plan == h)
            vms = on_host[np.argsort(rnd.plan_stamp[on_host], kind="stable")]
            rnd.commit(vms, np.full(vms.shape, target, dtype=np.intp), h)
            break

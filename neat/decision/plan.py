"""The safety rails as one pure function: a decision becomes a plan of actions under the limits.

The same function plans the simulator's rounds and the service's cycles, so a simulation with a
scenario's ``[limits]`` shows what the service would do with the same limits. Rails, in order:

1. a move of a VM that may not move, off a host whose VMs may not leave, or onto a host that may
   not receive, is dropped (the decision's inputs already leave such moves out; the plan checks);
2. a move that would put two members of an anti-affinity group on one host is dropped;
3. at most ``max_migrations_per_cycle`` migrations: moves relieving overloaded hosts first, in
   decision order, then the evacuations, each kept whole or dropped whole, so no migration is
   made that empties nothing;
4. a target that sleeps is woken before the migrations (``wakes``);
5. a host left with no VM after the kept migrations is disabled after them (``disables``; the
   executor disables it only once every migration off it completed and the cloud shows it empty).

:func:`allowed` builds the masks of rail 1 from the limits, for the decision's inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from neat.decision.inputs import OVERLOAD_RELIEF, Decision, DecisionInputs
from neat.decision.limits import Limits

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Plan:
    """The actions of one cycle, in execution order, and what was left out.

    Attributes
    ----------
    vms, sources, targets, groups : intp (n,), the migrations kept, in order (groups as in
        :class:`~neat.decision.inputs.Decision`)
    wakes : intp, hosts to switch on before the migrations (asleep targets), in order of first use
    disables : intp, hosts the migrations empty, to disable after them, in order of first use
    dropped_vms : intp, VMs of moves left out, in decision order
    dropped_reasons : why each was left out
    """

    vms: IntArray
    sources: IntArray
    targets: IntArray
    groups: IntArray
    wakes: IntArray
    disables: IntArray
    dropped_vms: IntArray
    dropped_reasons: tuple[str, ...]

    @property
    def n_migrations(self) -> int:
        return int(self.vms.shape[0])


def allowed(
    limits: Limits,
    *,
    host_names: Sequence[str],
    vm_names: Sequence[str],
    host_usable: BoolArray | None = None,
    vm_busy: BoolArray | None = None,
    vm_tagged: BoolArray | None = None,
    vm_last_migrated_s: FloatArray | None = None,
    now_s: float = 0.0,
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """The masks of rail 1 for :class:`~neat.decision.inputs.DecisionInputs`.

    Parameters
    ----------
    limits : exclusions and cooldown
    host_names, vm_names : (n_hosts,), (n_vms,)
    host_usable : (n_hosts,) hosts that may take part at all (service enabled and up); None: all
    vm_busy : (n_vms,) VMs in a task (migrating, resizing); None: none
    vm_tagged : (n_vms,) VMs whose metadata holds ``limits.exclude_metadata_key``; None: none
    vm_last_migrated_s : (n_vms,) when each VM last finished a migration (NaN: never)
    now_s : now, on the same clock

    Returns
    -------
    vm_movable, host_source_allowed, host_target_allowed : bool arrays
    """
    n_hosts, n_vms = len(host_names), len(vm_names)
    hosts_ok = np.ones(n_hosts, dtype=np.bool_) if host_usable is None else host_usable.copy()
    if limits.exclude_hosts:
        hosts_ok &= ~np.isin(np.asarray(host_names, dtype=object), list(limits.exclude_hosts))
    movable = np.ones(n_vms, dtype=np.bool_)
    if limits.exclude_vms:
        movable &= ~np.isin(np.asarray(vm_names, dtype=object), list(limits.exclude_vms))
    if vm_busy is not None:
        movable &= ~vm_busy
    if vm_tagged is not None:
        movable &= ~vm_tagged
    if vm_last_migrated_s is not None and limits.vm_cooldown_s > 0:
        with np.errstate(invalid="ignore"):
            movable &= ~(now_s - vm_last_migrated_s < limits.vm_cooldown_s)
    return movable, hosts_ok, hosts_ok.copy()


def plan(
    decision: Decision,
    inputs: DecisionInputs,
    limits: Limits,
    *,
    anti_affinity: Sequence[IntArray] = (),
    host_asleep: BoolArray | None = None,
) -> Plan:
    """Apply the rails to ``decision``'s moves.

    Parameters
    ----------
    decision : the moves, in decision order
    inputs : the inputs it was decided from (placement, masks)
    limits : the budget
    anti_affinity : groups of VM indices that must each run on distinct hosts
    host_asleep : (n_hosts,) hosts switched off that may be woken as targets; None: none
    """
    n_hosts = inputs.n_hosts
    vms, sources, targets, groups = decision.vms, decision.sources, decision.targets, decision.groups
    reason = np.full(vms.shape[0], "", dtype=object)
    for mask, why in (
        (inputs.vm_movable, "the VM may not move (excluded, cooling down or busy)"),
        (inputs.host_source_allowed, "its host is excluded, disabled or down"),
        (inputs.host_target_allowed, "the target is excluded, disabled or down"),
    ):
        if mask is not None:
            index = vms if why.startswith("the VM") else sources if why.startswith("its host") else targets
            reason[(reason == "") & ~np.asarray(mask, dtype=np.bool_)[index]] = why
    reason[(sources == targets) & (reason == "")] = "already on the target"

    placement = inputs.vm_host.copy()
    budget = limits.max_migrations_per_cycle if limits.max_migrations_per_cycle is not None else vms.shape[0]
    relief = groups == OVERLOAD_RELIEF
    if anti_affinity:
        kept = _keep_one_by_one(vms, targets, groups, reason, placement, budget, anti_affinity)
    else:
        clear = reason == ""
        # overload relief: the first moves that pass, up to the budget
        ok = relief & clear
        kept = ok & (np.cumsum(ok) <= budget)
        reason[ok & ~kept] = f"over the limit of {budget} migrations per cycle"
        # evacuations: whole or not at all, in decision order, while the budget lasts
        used = int(kept.sum())
        if clear[~relief].all() and used + int((~relief).sum()) <= budget:
            kept |= ~relief  # every evacuation fits: the common case
            evacuations = []
        else:
            evacuations = _evacuations(groups)
        for group, members in evacuations:
            bad = ~clear[members]
            why = ""
            if bad.any():
                why = str(reason[members][bad][0])
            elif used + members.size > budget:
                why = f"emptying host {group} needs {members.size} migrations, over the limit of {budget} per cycle"
            if why:
                reason[members] = np.where(bad, reason[members], f"part of an evacuation left out: {why}")
                continue
            kept[members] = True
            used += members.size
        placement[vms[kept]] = targets[kept]
    dropped = np.flatnonzero(~kept)
    asleep = _mask(host_asleep, n_hosts) if host_asleep is not None else np.zeros(n_hosts, dtype=np.bool_)
    counts = np.bincount(placement[placement >= 0], minlength=n_hosts)
    return Plan(
        vms=vms[kept],
        sources=sources[kept],
        targets=targets[kept],
        groups=groups[kept],
        wakes=_first_seen(targets[kept][asleep[targets[kept]]]),
        disables=_first_seen(sources[kept][counts[sources[kept]] == 0]),
        dropped_vms=vms[dropped],
        dropped_reasons=tuple(str(r) for r in reason[dropped]),
    )


def _evacuations(groups: IntArray) -> list[tuple[int, IntArray]]:
    """(evacuated host, positions of its moves) per evacuation, in decision order."""
    positions = np.flatnonzero(groups != OVERLOAD_RELIEF)
    if positions.size == 0:
        return []
    hosts, first = np.unique(groups[positions], return_index=True)
    return [(int(h), positions[groups[positions] == h]) for h in hosts[np.argsort(first, kind="stable")]]


def _keep_one_by_one(
    vms: IntArray,
    targets: IntArray,
    groups: IntArray,
    reason: NDArray[np.object_],
    placement: IntArray,
    budget: int,
    anti_affinity: Sequence[IntArray],
) -> BoolArray:
    """Rails 2 and 3 move by move, following the placement (updated in place) for anti-affinity."""
    group_of_vm = _anti_affinity_index(anti_affinity, placement.shape[0])
    kept = np.zeros(vms.shape[0], dtype=np.bool_)
    used = 0
    for i in np.flatnonzero(groups == OVERLOAD_RELIEF):
        if reason[i] == "":
            reason[i] = _anti_affinity_conflict(int(vms[i]), int(targets[i]), placement, group_of_vm, anti_affinity)
        if reason[i] == "" and used >= budget:
            reason[i] = f"over the limit of {budget} migrations per cycle"
        if reason[i] == "":
            kept[i] = True
            used += 1
            placement[vms[i]] = targets[i]
    for group, members in _evacuations(groups):
        trial = placement.copy()
        why = ""
        for i in members:
            why = reason[i] or _anti_affinity_conflict(int(vms[i]), int(targets[i]), trial, group_of_vm, anti_affinity)
            if why:
                break
            trial[vms[i]] = targets[i]
        if not why and used + members.size > budget:
            why = f"emptying host {group} needs {members.size} migrations, over the limit of {budget} per cycle"
        if why:
            reason[members] = np.where(reason[members] == "", f"part of an evacuation left out: {why}", reason[members])
            continue
        kept[members] = True
        used += members.size
        placement[:] = trial
    return kept


def _mask(mask: BoolArray | None, n: int) -> BoolArray:
    return np.ones(n, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)


def _first_seen(values: IntArray) -> IntArray:
    """The distinct values of ``values`` in order of first appearance."""
    _, first = np.unique(values, return_index=True)
    result: IntArray = values[np.sort(first)]
    return result


def _anti_affinity_index(groups: Sequence[IntArray], n_vms: int) -> dict[int, list[int]]:
    """VM -> the anti-affinity groups it belongs to (only VMs in some group)."""
    index: dict[int, list[int]] = {}
    for g, members in enumerate(groups):
        for vm in np.asarray(members, dtype=np.intp).tolist():
            if 0 <= vm < n_vms:
                index.setdefault(vm, []).append(g)
    return index


def _anti_affinity_conflict(
    vm: int, target: int, placement: IntArray, group_of_vm: dict[int, list[int]], groups: Sequence[IntArray]
) -> str:
    for g in group_of_vm.get(vm, ()):
        for other in np.asarray(groups[g], dtype=np.intp).tolist():
            if other != vm and placement[other] == target:
                return f"anti-affinity: VM {other} of its group is on the target"
    return ""


__all__ = ["Plan", "allowed", "plan"]

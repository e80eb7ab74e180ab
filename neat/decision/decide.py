"""One decision round: overload detection, VM selection, placement, underload evacuation.

:func:`decide` is the whole decision of the simulator's rounds and of the service's cycles: the
same inputs give the same moves. It plans on copies of the inputs and returns the moves in the
order they were decided (the order to execute them in), each tagged with its reason.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 5 (the round: detect, select until relieved,
place with PABFD, evacuate the least utilized hosts).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import DetectorKernel, PlacementRequest, VmTable
from algorithms.overload.kernel import detect_rows
from algorithms.placement import _pabfd_arrays as round_arrays
from neat.decision.guard import DetectorGuard
from neat.decision.histories import host_histories, host_histories_of, take_state, zero_padded
from neat.decision.inputs import OVERLOAD_RELIEF, Decision, DecisionInputs, PhaseTimes
from neat.decision.kernels.compiled import compiled_round
from neat.decision.kernels.placement_kernel import evacuate, place_selected
from neat.decision.policy import Policy
from neat.decision.rehome import rehome

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def decide(
    inputs: DecisionInputs,
    policy: Policy,
    state: Any = None,
    *,
    rng: np.random.Generator | None = None,
    phases: PhaseTimes | None = None,
    budget: int | None = None,
) -> Decision:
    """Decide one round.

    Parameters
    ----------
    inputs : the hosts, the VMs and their histories (never written to)
    policy : the plug-ins, built for a mode (:func:`neat.decision.policy.build_policy`)
    state : the overload detector's state from the previous round (None: its initial state)
    rng : the Generator of randomized selectors (None: a fresh one seeded 0)
    phases : if given, wall time per phase is added to it
    budget : the plan's limit of migrations per cycle, when :func:`neat.decision.plan.plan` will
        apply it without anti-affinity groups (None: unlimited). The plan keeps relief moves up to
        the limit, then each evacuation whole while it fits, in decision order; once the moves it
        will keep reach the limit it drops every later one, so the underload pass (and rehoming)
        stops there: the same plan, without trying every host of a large cloud.

    Returns
    -------
    Decision
        The moves in decision order with their reasons, the hosts flagged, the detector's next state.
    """
    t0 = time.perf_counter()
    rnd = _Round.start(inputs, policy, state, rng)
    t1 = time.perf_counter()
    selected = _select_until_relieved(rnd)
    t2 = time.perf_counter()
    rnd.budget = budget
    compiled = compiled_round(policy)
    if compiled:
        _place_compiled(rnd, selected)
    else:
        _place_numpy(rnd, selected)
    saving_w = policy.underload.rehoming()
    if saving_w is not None and rnd.budget_left != 0:
        rehome(rnd, saving_w)
    t3 = time.perf_counter()
    if phases is not None:
        phases.detection_s += t1 - t0
        phases.selection_s += t2 - t1
        phases.placement_s += t3 - t2
    return rnd.decision()


@dataclasses.dataclass
class _Round:
    """The planning state of one round that selection and both placement paths read and update.

    Host arrays are (n_hosts,), VM arrays (n_vms,), histories (rows, window). ``used_cpu``,
    ``used_ram``, ``plan_host``, ``plan_stamp``, ``next_stamp``, ``host_history`` and
    ``host_n_valid`` follow the committed moves.
    """

    inputs: DecisionInputs
    policy: Policy
    rng: np.random.Generator
    detector_state: Any
    next_state: Any
    vm_history: FloatArray
    vm_steps: FloatArray
    overhead: FloatArray | None
    host_history: FloatArray
    host_n_valid: IntArray
    host_steps: FloatArray
    overloaded: BoolArray
    underloaded: BoolArray
    snapshot: FloatArray
    active: BoolArray
    movable: BoolArray
    source_allowed: BoolArray
    target_allowed: BoolArray
    requested: FloatArray
    capped: FloatArray
    vm_ram: FloatArray
    used_cpu: FloatArray
    used_ram: FloatArray
    plan_host: IntArray
    plan_stamp: NDArray[np.int64]
    next_stamp: int
    moves_vm: list[IntArray] = dataclasses.field(default_factory=list)
    moves_from: list[IntArray] = dataclasses.field(default_factory=list)
    moves_to: list[IntArray] = dataclasses.field(default_factory=list)
    moves_group: list[IntArray] = dataclasses.field(default_factory=list)
    unplaced: list[IntArray] = dataclasses.field(default_factory=list)
    relief_rows: FloatArray | None = None  # the relief detector's state rows (compiled round)
    budget: int | None = None  # the plan's migrations per cycle (see decide)
    budget_left: int = -1  # what the plan has left of it for evacuations; -1: unlimited

    @classmethod
    def start(cls, inputs: DecisionInputs, policy: Policy, state: Any, rng: np.random.Generator | None) -> _Round:
        """Judge every host and set up the round's working copies."""
        mode, hosts, detector = policy.mode, inputs.hosts, policy.detector
        n_hosts, n_vms = inputs.n_hosts, inputs.n_vms
        vm_host = inputs.vm_host
        vm_history = zero_padded(inputs.vm_history, inputs.vm_n_valid)
        host_history, host_n_valid = host_histories(
            vm_host, vm_history, inputs.vm_n_valid, inputs.vm_mips, hosts.cpu_mips
        )
        overhead = None
        reported_now = np.where(host_n_valid > 0, host_history[:, -1], 0.0)
        if inputs.host_history is not None and inputs.host_n_valid is not None:
            measured = zero_padded(inputs.host_history, inputs.host_n_valid)
            reported_now = np.where(inputs.host_n_valid > 0, measured[:, -1], reported_now)
            overhead = np.maximum(measured - host_history, 0.0)  # what the host runs beyond its VMs
            host_history = host_history + overhead
            host_n_valid = np.maximum(host_n_valid, inputs.host_n_valid)
        placed = vm_host >= 0
        vm_steps = mode.migration_steps(inputs.vm_migration_time_s, inputs.interval_s)
        host_steps = np.zeros(n_hosts)
        np.maximum.at(host_steps, vm_host[placed], vm_steps[placed])
        if state is None:
            state = detector.initial_state(n_hosts)
        overloaded, next_state = _judge(
            policy, host_history, mode.history_length(host_history, host_n_valid), host_steps, state
        )

        u_now = np.where(inputs.vm_n_valid > 0, vm_history[:, -1], 0.0)
        requested = u_now * inputs.vm_mips
        snapshot = inputs.host_utilization if inputs.host_utilization is not None else reported_now
        reported = host_history.copy()
        reported[:, -1] = snapshot
        active = inputs.host_active if inputs.host_active is not None else snapshot > 0
        # only a host that is switched on can be underloaded
        underloaded = policy.underload.evaluate(reported, np.maximum(host_n_valid, snapshot > 0)) & active
        capped = np.where(placed, np.minimum(requested, hosts.pe_mips[np.maximum(vm_host, 0)]), 0.0)
        used_cpu = _sum_by(vm_host[placed], capped[placed], n_hosts)
        used_cpu = np.where(used_cpu > hosts.cpu_mips, hosts.cpu_mips, used_cpu)  # over-subscribed: nothing free
        vm_ram = mode.migration_ram_mb(inputs.vm_ram_mb)
        used_ram = _sum_by(vm_host[placed], vm_ram[placed], n_hosts)
        stamp = np.arange(n_vms, dtype=np.int64) if inputs.vm_order is None else inputs.vm_order.astype(np.int64)
        return cls(
            inputs=inputs,
            policy=policy,
            rng=rng if rng is not None else np.random.default_rng(0),
            detector_state=state,
            next_state=next_state,
            vm_history=vm_history,
            vm_steps=np.asarray(vm_steps, dtype=np.float64),
            overhead=overhead,
            host_history=host_history,
            host_n_valid=host_n_valid,
            host_steps=host_steps,
            overloaded=overloaded,
            underloaded=underloaded,
            snapshot=snapshot,
            active=active,
            movable=_mask(inputs.vm_movable, n_vms) & placed,
            source_allowed=_mask(inputs.host_source_allowed, n_hosts),
            target_allowed=_mask(inputs.host_target_allowed, n_hosts),
            requested=requested,
            capped=capped,
            vm_ram=vm_ram,
            used_cpu=used_cpu,
            used_ram=used_ram,
            plan_host=vm_host.copy(),
            plan_stamp=stamp.copy(),
            next_stamp=int(stamp.max()) + 1 if stamp.size else 0,
        )

    def commit(self, vms: IntArray, targets: IntArray, group: IntArray | int, *, add_used: bool = True) -> None:
        """Record moves in the plan (stamps in order); with ``add_used``, add their CPU and RAM too."""
        self.moves_vm.append(vms)
        self.moves_from.append(self.source_of(vms))
        self.moves_to.append(targets)
        self.moves_group.append(np.full(vms.shape, group, dtype=np.intp) if isinstance(group, int) else group)
        self.plan_host[vms] = targets
        self.plan_stamp[vms] = np.arange(self.next_stamp, self.next_stamp + vms.size)
        self.next_stamp += vms.size
        if add_used:
            np.add.at(self.used_cpu, targets, self.capped[vms])
            np.add.at(self.used_ram, targets, self.vm_ram[vms])

    def start_evacuations(self) -> int:
        """Set and return ``budget_left``: the budget less the relief moves the plan will keep
        (those its masks pass, as :func:`neat.decision.plan.plan` counts them); -1 if unlimited."""
        if self.budget is None:
            self.budget_left = -1
            return -1
        inputs = self.inputs
        vms, sources, targets = (
            np.concatenate(p) if p else np.zeros(0, dtype=np.intp)
            for p in (self.moves_vm, self.moves_from, self.moves_to)
        )
        clear = (
            _mask(inputs.vm_movable, inputs.n_vms)[vms]
            & _mask(inputs.host_source_allowed, inputs.n_hosts)[sources]
            & _mask(inputs.host_target_allowed, inputs.n_hosts)[targets]
            & (sources != targets)
        )
        self.budget_left = max(self.budget - min(int(clear.sum()), self.budget), 0)
        return self.budget_left

    def spend(self, n_moves: int) -> None:
        """An evacuation of ``n_moves`` was decided: the plan keeps it if it fits what is left."""
        if 0 <= n_moves <= self.budget_left:
            self.budget_left -= n_moves

    def source_of(self, vms: IntArray) -> IntArray:
        """The host each of ``vms`` is on in the plan so far (its original host while selected)."""
        here = self.plan_host[vms]
        result: IntArray = np.where(here >= 0, here, self.inputs.vm_host[vms])
        return result

    def underload_queue(self, phase1_targets: IntArray) -> tuple[IntArray, BoolArray, BoolArray]:
        """Hosts to try to empty, least utilized first, and the excluded sources and targets.

        Overloaded hosts and hosts switched off (``host_active``; by default a host at 0) are
        neither sources nor targets; hosts that received VMs in this round are not sources
        (CloudSim mode: they may be). A host holding a VM that may not move is not tried (it stays
        a target).
        """
        snapshot = self.snapshot
        excluded_source = self.overloaded | ~self.active | ~self.source_allowed
        excluded_target = self.overloaded | ~self.active | ~self.target_allowed
        if not self.policy.mode.overload_targets_may_be_evacuated:
            excluded_source[phase1_targets] = True
        pinned = np.zeros(self.inputs.n_hosts, dtype=np.bool_)
        fixed = (self.plan_host >= 0) & ~self.movable
        pinned[self.plan_host[fixed]] = True
        # the snapshot is fixed for the round, so "repeatedly the least utilized" is one sorted pass
        first = ~excluded_source & self.underloaded & ~pinned
        queue = np.flatnonzero(first)[np.argsort(snapshot[first], kind="stable")]
        return queue, excluded_source, excluded_target

    def still_overloaded(self, hosts: IntArray, rows: FloatArray, n_valid: IntArray) -> BoolArray:
        """Whether each of ``hosts`` (k,), with histories ``rows`` (k, window) of valid lengths
        ``n_valid``, is overloaded by the policy's relief detector, from the detector's state of this
        round (never advanced): its kernel on the state's rows, packed once a round, where the round
        is compiled, else its NumPy method."""
        policy = self.policy
        length, steps = policy.mode.history_length(rows, n_valid), self.host_steps[hosts]
        if compiled_round(policy):
            assert policy.kernels is not None
            if self.relief_rows is None:
                self.relief_rows = policy.relief.kernel_state(self.detector_state, self.inputs.n_hosts)
            return _detect(policy.kernels[3], self.relief_rows[hosts], rows, length, steps)
        still: BoolArray = policy.relief.evaluate(rows, length, steps, take_state(self.detector_state, hosts))[0]
        return still

    def decision(self) -> Decision:
        empty = np.zeros(0, dtype=np.intp)

        def joined(parts: list[IntArray]) -> IntArray:
            return np.concatenate(parts) if parts else empty

        unrelieved = np.zeros(self.inputs.n_hosts, dtype=np.bool_)
        stuck = joined(self.unplaced)
        unrelieved[self.inputs.vm_host[stuck]] = True
        return Decision(
            vms=joined(self.moves_vm),
            sources=joined(self.moves_from),
            targets=joined(self.moves_to),
            groups=joined(self.moves_group),
            overloaded=self.overloaded,
            underloaded=self.underloaded,
            unrelieved=unrelieved,
            detector_state=self.next_state,
        )


def _judge(policy: Policy, rows: FloatArray, n_valid: IntArray, steps: FloatArray, state: Any) -> tuple[BoolArray, Any]:
    """The overload detector on every host's history ``rows`` (n, window): its compiled row kernel
    where the round is compiled and the detector keeps no state (it decides as
    :meth:`~algorithms.base.OverloadDetector.evaluate` does), else its NumPy method, which also
    advances a stateful detector's state. Returns (overloaded (n,), next state)."""
    if compiled_round(policy) and state is None:
        assert policy.kernels is not None
        return _detect(policy.kernels[1], np.zeros((rows.shape[0], 0)), rows, n_valid, steps), state
    return policy.detector.evaluate(rows, n_valid, steps, state)


def _detect(
    kernel: DetectorKernel, states: FloatArray, rows: FloatArray, n_valid: IntArray, steps: FloatArray
) -> BoolArray:
    """:func:`~algorithms.overload.kernel.detect_rows` of ``kernel`` on ``rows`` with their state rows."""
    overloaded: BoolArray = detect_rows(
        kernel.params,
        kernel.coef,
        np.ascontiguousarray(states, dtype=np.float64),
        np.ascontiguousarray(rows, dtype=np.float64),
        np.ascontiguousarray(n_valid, dtype=np.intp),
        np.ascontiguousarray(steps, dtype=np.float64),
    )
    return overloaded


def _mask(mask: BoolArray | None, n: int) -> BoolArray:
    return np.ones(n, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)


def _sum_by(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    return np.bincount(index, weights, minlength=n).astype(np.float64, copy=False)


def _select_until_relieved(rnd: _Round) -> IntArray:
    """Pick VMs off every overloaded host, one per host per pass, until the detector clears it.

    Only movable VMs on hosts whose VMs may leave are picked. Updates ``plan_host`` (selected VMs
    get -1). Returns the selected VMs grouped by host in host order, each host's in selection order
    (CloudSim's order).
    """
    inputs, policy = rnd.inputs, rnd.policy
    selector = policy.selector
    sources = rnd.overloaded & rnd.source_allowed
    if not sources.any():
        return np.zeros(0, dtype=np.intp)
    plan_host = rnd.plan_host
    # a local selector sees only the VMs of hosts still overloaded; others see every VM
    local = selector.LOCAL
    candidates = np.flatnonzero(_on(plan_host, sources)) if local else np.arange(plan_host.shape[0])
    rows = candidates[np.argsort(rnd.plan_stamp[candidates], kind="stable")]  # ties: first in the host's list
    host_history = rnd.host_history.copy()
    host_n_valid = rnd.host_n_valid.copy()

    def vm_table(rows: IntArray) -> VmTable:
        def relieves(picks: IntArray) -> BoolArray:
            """Whether each VM ``rows[picks]`` leaving alone brings its host under the guard."""
            vms = rows[picks]
            on = plan_host[vms]
            share = (inputs.vm_mips[vms] / inputs.hosts.cpu_mips[on])[:, None]
            without = host_history[on] - rnd.vm_history[vms] * share
            return ~rnd.still_overloaded(on, without, host_n_valid[on])

        return VmTable(
            host=np.where(rnd.movable[rows], plan_host[rows], -1),
            cpu_mips=rnd.requested[rows],
            capacity_mips=inputs.vm_mips[rows],
            ram_mb=inputs.vm_ram_mb[rows],
            history=rnd.vm_history[rows],
            n_valid=inputs.vm_n_valid[rows],
            relieves=relieves,
        )

    table = vm_table(rows)
    active = sources.copy()
    picked_host: list[IntArray] = []
    picked_vm: list[IntArray] = []
    while active.any():
        on_active = table.host >= 0
        on_active[on_active] = active[table.host[on_active]]
        vm = np.flatnonzero(on_active)
        pick = selector.evaluate(table, active, vm, table.host[vm], rnd.rng)
        chosen = active & (pick >= 0)
        hosts_now = np.flatnonzero(chosen)
        active &= chosen
        if hosts_now.size == 0:
            break
        vms = rows[pick[hosts_now]]
        picked_host.append(hosts_now)
        picked_vm.append(vms)
        plan_host[vms] = -1
        history, n_valid = host_histories_of(
            hosts_now, candidates, plan_host, rnd.vm_history, inputs.vm_n_valid, inputs.vm_mips, inputs.hosts.cpu_mips
        )
        if rnd.overhead is not None and inputs.host_n_valid is not None:
            history += rnd.overhead[hosts_now]
            n_valid = np.maximum(n_valid, inputs.host_n_valid[hosts_now])
        host_history[hosts_now] = history
        host_n_valid[hosts_now] = n_valid
        # relieved to the policy's relief level (by default, where a target may be filled to)
        active[hosts_now] = rnd.still_overloaded(hosts_now, history, n_valid)
        if local:
            rows, candidates = rows[_on(plan_host[rows], active)], candidates[_on(plan_host[candidates], active)]
            table = vm_table(rows)
        else:
            table.host[pick[hosts_now]] = -1
    if not picked_vm:
        return np.zeros(0, dtype=np.intp)
    rnd.host_history, rnd.host_n_valid = host_history, host_n_valid
    hosts_all = np.concatenate(picked_host)
    vms_all = np.concatenate(picked_vm)
    selected = vms_all[np.argsort(hosts_all, kind="stable")]
    sources_of = inputs.vm_host[selected]
    np.subtract.at(rnd.used_cpu, sources_of, rnd.capped[selected])
    np.subtract.at(rnd.used_ram, sources_of, rnd.vm_ram[selected])
    # an over-subscribed source's use was capped at its capacity: what is left is at least nothing
    np.maximum(rnd.used_cpu, 0.0, out=rnd.used_cpu)
    return selected


def _on(vm_host: IntArray, hosts: BoolArray) -> BoolArray:
    """Whether each VM runs on one of ``hosts`` (a mask over hosts); False for VMs without a host."""
    result: BoolArray = np.where(vm_host >= 0, hosts[vm_host], False)
    return result


def _place_numpy(rnd: _Round, selected: IntArray) -> None:
    """Both placement phases with the policy's placer and a :class:`DetectorGuard`, one VM batch a call."""
    inputs, policy = rnd.inputs, rnd.policy
    hosts, placer, mode = inputs.hosts, policy.placer, policy.mode
    requested, vm_ram, used_cpu, used_ram = rnd.requested, rnd.vm_ram, rnd.used_cpu, rnd.used_ram
    guard = DetectorGuard(
        policy.guard,
        mode,
        vm_history=rnd.vm_history,
        vm_n_valid=inputs.vm_n_valid,
        vm_mips=inputs.vm_mips,
        vm_steps=rnd.vm_steps,
        host_mips=hosts.cpu_mips,
        host_history=rnd.host_history,
        host_n_valid=rnd.host_n_valid,
        host_steps=rnd.host_steps,
        state=rnd.detector_state,
    )
    evacuation_placer = placer.for_evacuation()
    baseline = mode.pricing_baseline(rnd.snapshot)

    def place(vms: IntArray, allowed: BoolArray, evacuate: bool = False) -> tuple[IntArray, IntArray]:
        """Place ``vms``; return (positions in placement order, targets) of those placed."""
        guard.vm_ids = vms
        request = PlacementRequest(
            vm_cpu_mips=requested[vms],
            vm_ram_mb=vm_ram[vms],
            used_cpu_mips=used_cpu,
            used_ram_mb=used_ram,
            active=rnd.active,
            allowed=allowed,
            baseline_utilization=baseline,
        )
        targets = (evacuation_placer if evacuate else placer).place(hosts, request, guard)
        order = np.argsort(-requested[vms], kind="stable")
        return order, targets[order]

    # VMs leaving overloaded hosts
    phase1_targets = np.zeros(0, dtype=np.intp)
    if selected.size:
        order, targets = place(selected, ~rnd.overloaded & rnd.target_allowed)
        ok = targets >= 0
        phase1_targets = targets[ok]
        rnd.unplaced.append(selected[order][~ok])
        rnd.commit(selected[order][ok], phase1_targets, OVERLOAD_RELIEF)

    # underloaded hosts: least utilized first, all of a host's VMs or none
    queue, excluded_source, excluded_target = rnd.underload_queue(phase1_targets)
    rnd.start_evacuations()
    for source in queue:
        if rnd.budget_left == 0:  # the plan would drop every later evacuation
            break
        if excluded_source[source]:  # it received VMs meanwhile
            continue
        excluded_source[source] = True
        excluded_target[source] = True
        on_source = np.flatnonzero(rnd.plan_host == source)
        if on_source.size == 0:
            continue
        allowed = ~excluded_target
        if not allowed.any():
            continue
        # a cheap necessary condition: the largest VM fits somewhere at all
        room_cpu = np.minimum(hosts.pe_mips, hosts.cpu_mips - used_cpu)[allowed].max()
        room_ram = (hosts.ram_mb - used_ram)[allowed].max()
        if requested[on_source].max() > room_cpu or vm_ram[on_source].max() > room_ram:
            continue
        vms = on_source[np.argsort(rnd.plan_stamp[on_source], kind="stable")]
        mark = guard.checkpoint()
        order, targets = place(vms, allowed, evacuate=True)
        if (targets < 0).any():
            guard.rollback(mark)
            continue  # not all VMs fit: the host keeps them all
        rnd.commit(vms[order], targets, int(source))
        rnd.spend(vms.size)
        excluded_source[targets] = True


def _place_compiled(rnd: _Round, selected: IntArray) -> None:
    """Both placement phases in the compiled kernels (:mod:`neat.decision.kernels.placement_kernel`)."""
    inputs, policy = rnd.inputs, rnd.policy
    hosts, mode = inputs.hosts, policy.mode
    assert policy.kernels is not None
    placer_kernel, _, detector_kernel, _ = policy.kernels
    arrays = round_arrays.pack_round(
        hosts,
        placer_kernel,
        detector_kernel,
        steps=rnd.host_steps,
        host_n_valid=rnd.host_n_valid,
        trim_leading_zeros=mode.trim_leading_zeros,
        baseline_utilization=mode.pricing_baseline(rnd.snapshot),
        used_cpu=rnd.used_cpu,
        used_ram=rnd.used_ram,
        active=rnd.active,
        vm_mips=inputs.vm_mips,
        vm_cpu=rnd.requested,
        vm_capped=rnd.capped,
        vm_ram=rnd.vm_ram,
        vm_n_valid=inputs.vm_n_valid,
        vm_steps=rnd.vm_steps,
        vm_history=rnd.vm_history,
        host_history=rnd.host_history,
        host_state=(
            rnd.relief_rows
            if rnd.relief_rows is not None and policy.guard is policy.relief
            else policy.guard.kernel_state(rnd.detector_state, inputs.n_hosts)
        ),
    )
    phase1_targets = np.zeros(0, dtype=np.intp)
    if selected.size:
        moved = place_selected(arrays, selected, rnd.overloaded | ~rnd.target_allowed, placer_kernel.all_or_nothing)
        vms, phase1_targets = moved[0], moved[1]
        placed = np.zeros(inputs.n_vms, dtype=np.bool_)
        placed[vms] = True
        rnd.unplaced.append(selected[~placed[selected]])
        rnd.commit(vms, phase1_targets, OVERLOAD_RELIEF, add_used=False)
    queue, excluded_source, excluded_target = rnd.underload_queue(phase1_targets)
    left = np.array([rnd.start_evacuations()], dtype=np.intp)
    moved = evacuate(arrays, queue, excluded_source, excluded_target, rnd.plan_host, rnd.plan_stamp, left)
    rnd.budget_left = int(left[0])
    vms, targets = moved[0], moved[1]
    rnd.commit(vms, targets, rnd.plan_host[vms], add_used=False)
    rnd.used_cpu[:], rnd.used_ram[:] = arrays.host[:, round_arrays.USED_CPU], arrays.host[:, round_arrays.USED_RAM]


__all__ = ["decide"]

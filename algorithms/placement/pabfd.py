"""Power-aware best fit decreasing (PABFD).

References
----------
Beloglazov & Buyya, "Optimal online deterministic algorithms and adaptive heuristics for energy and
performance efficient dynamic consolidation of virtual machines in cloud data centers", CCPE
24(13), 2012, Algorithm 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from algorithms._validation import Interval, Options
from algorithms.base import HostTable, IntArray, PlacementGuard, PlacementKernel, PlacementRequest, Placer
from algorithms.placement._feasibility import check_placement
from algorithms.power import power_w

#: Candidates checked against the guard at once, in increasing power-increase order.
_GUARD_CHUNK = 8


@dataclass(frozen=True, kw_only=True)
class PowerAwareBestFitDecreasing(Placer):
    """Place VMs in decreasing CPU order, each on the host whose power rises least.

    For each VM (sorted by current CPU demand, descending, stable), the candidates are the allowed
    hosts where it fits (its demand within one core and within the free CPU; its RAM within the
    free RAM) and which, if they already run VMs, the guard does not judge overloaded with it.
    The chosen host has the smallest ``P(u_after) - P(u_baseline)``, the lowest index on ties.

    Parameters
    ----------
    empty_host_cost : {"full", "idle_excluded", "efficiency"}
        How a switched-off host is priced. ``"full"`` (default): waking it costs its whole power,
        idle included. ``"idle_excluded"``: only the increase over idle power, as CloudSim 4.0
        prices it (it compares against the power of a host at 0 %, which is the idle power),
        which makes waking hosts look cheap. ``"efficiency"``: a host in use always ranks before
        a switched-off one, and among those the one whose full-load power times the VM's dominant
        share of it (the larger of its CPU and RAM shares) is least is woken: the host that will
        carry VMs like it most cheaply once filled (by CPU or by RAM, whichever runs out first),
        where ``"full"`` wakes the one with the least idle power.
    cpu_threshold : float in (0, 1]
        Fraction of a host's CPU that may be allocated.
    all_or_nothing : bool
        Stop at the first VM that fits nowhere and return -1 for every VM (evacuating a host is
        only worth it if all its VMs leave).

    Notes
    -----
    ``request.baseline_utilization``, when given, freezes the utilization whose power is subtracted
    (CloudSim prices every host against its utilization at the last update, not against the VMs
    planned onto it in the same round); by default the baseline follows the placements made.
    """

    empty_host_cost: str = "full"
    cpu_threshold: float = 1.0
    all_or_nothing: bool = False

    PARAMETERS = {  # noqa: RUF012
        "empty_host_cost": Options(("full", "idle_excluded", "efficiency")),
        "cpu_threshold": Interval("float", 0.0, 1.0, "right"),
        "all_or_nothing": Options((False, True)),
    }

    def kernel(self) -> PlacementKernel:
        """The compiled search (:mod:`algorithms.placement._pabfd_search`) places as :meth:`place` does."""
        return PlacementKernel(self.cpu_threshold, self.empty_host_cost, self.all_or_nothing)

    def for_evacuation(self) -> PowerAwareBestFitDecreasing:
        return replace(self, all_or_nothing=True)

    def place(self, hosts: HostTable, request: PlacementRequest, guard: PlacementGuard | None = None) -> IntArray:
        """Return the target of each VM, shape (n_vms,), -1 where none fits.

        Raises
        ------
        InputError
            An array of the wrong shape, or a demand, capacity or use that is NaN, infinite or negative.
        """
        check_placement(hosts, request, owner=type(self).__name__)
        vm_cpu = request.vm_cpu_mips
        vm_ram = request.vm_ram_mb
        n_vms = vm_cpu.shape[0]
        targets = np.full(n_vms, -1, dtype=np.intp)
        if n_vms == 0:
            return targets
        used_cpu = request.used_cpu_mips.astype(np.float64, copy=True)
        used_ram = request.used_ram_mb.astype(np.float64, copy=True)
        capacity = hosts.cpu_mips * self.cpu_threshold
        on = request.active.copy()
        frozen = request.baseline_utilization
        if frozen is not None:
            baseline_w = power_w(hosts.power_w, frozen)
        efficient = self.empty_host_cost == "efficiency"
        if efficient:
            empty_base_w = float(hosts.power_w[:, -1].max(initial=0.0))
            full_w = hosts.power_w[:, -1]
        order = np.argsort(-vm_cpu, kind="stable")
        for vm in order:
            cpu = vm_cpu[vm]
            fits = request.allowed & (hosts.pe_mips >= cpu) & (capacity - used_cpu >= cpu)
            fits &= hosts.ram_mb - used_ram >= vm_ram[vm]
            candidates = np.flatnonzero(fits)
            if candidates.size == 0:
                if self.all_or_nothing:
                    return np.full(n_vms, -1, dtype=np.intp)
                continue
            after_w = power_w(hosts.power_w[candidates], (used_cpu[candidates] + cpu) / hosts.cpu_mips[candidates])
            if frozen is None:
                before_w = power_w(hosts.power_w[candidates], used_cpu[candidates] / hosts.cpu_mips[candidates])
            else:
                before_w = baseline_w[candidates]
            if self.empty_host_cost == "full":
                before_w = np.where(on[candidates], before_w, 0.0)
            increase_w = after_w - before_w
            if efficient:
                share = np.maximum(cpu / hosts.cpu_mips[candidates], vm_ram[vm] / hosts.ram_mb[candidates])
                increase_w = np.where(on[candidates], increase_w, empty_base_w + full_w[candidates] * share)
            ranked = candidates[np.argsort(increase_w, kind="stable")]
            chosen = self._first_acceptable(int(vm), ranked, used_cpu, guard)
            if chosen < 0:
                if self.all_or_nothing:
                    return np.full(n_vms, -1, dtype=np.intp)
                continue
            targets[vm] = chosen
            used_cpu[chosen] += cpu
            used_ram[chosen] += vm_ram[vm]
            on[chosen] = True
            if guard is not None:
                guard.assign(int(vm), chosen)
        return targets

    @staticmethod
    def _first_acceptable(vm: int, ranked: IntArray, used_cpu: np.ndarray, guard: PlacementGuard | None) -> int:
        """First host in ``ranked`` that is empty or that the guard accepts; -1 if none."""
        if guard is None:
            return int(ranked[0])
        start = 0
        chunk = _GUARD_CHUNK
        while start < ranked.size:
            block = ranked[start : start + chunk]
            needs_check = used_cpu[block] != 0
            ok = np.ones(block.size, dtype=np.bool_)
            if needs_check.any():
                ok[needs_check] = ~guard.would_overload(vm, block[needs_check])
            hit = np.flatnonzero(ok)
            if hit.size:
                return int(block[hit[0]])
            start += chunk
            chunk *= 4
        return -1

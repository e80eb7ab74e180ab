"""BFD and FFD placement: reference vector 19 and small hand-checked cases.

Hosts are written as free CPU (MHz) / free RAM (MB). With thresholds of 1.0 and nothing used,
free capacity is total capacity; the threshold variant builds ``used`` so that
``threshold * total - used`` equals the same free capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple

import numpy as np
import pytest

from algorithms._validation import InputError
from algorithms.base import HostTable, IntArray, PlacementRequest
from algorithms.placement import _feasibility, bfd, ffd
from algorithms.placement._feasibility import fits, free_capacity
from algorithms.placement.bfd import BestFitDecreasing
from algorithms.placement.ffd import FirstFitDecreasing


def setup(
    free_cpu: Sequence[float],
    free_ram: Sequence[float],
    vm_cpu: Sequence[float],
    vm_ram: Sequence[float],
    *,
    active: Sequence[bool] | None = None,
    allowed: Sequence[bool] | None = None,
    pe_mips: Sequence[float] | None = None,
    cpu_threshold: float = 1.0,
    ram_threshold: float = 1.0,
) -> tuple[HostTable, PlacementRequest]:
    """Hosts whose free capacity under the thresholds is ``free_cpu`` / ``free_ram``.

    Active hosts get a total of twice their free capacity, with ``used`` making up the rest;
    inactive hosts are empty, with a total equal to their free capacity (thresholds of 1.0).
    """
    n = len(free_cpu)
    on = np.ones(n, dtype=np.bool_) if active is None else np.array(active, dtype=np.bool_)
    cpu = np.array(free_cpu, dtype=np.float64)
    ram = np.array(free_ram, dtype=np.float64)
    total_cpu = np.where(on, 2 * cpu, cpu)
    total_ram = np.where(on, 2 * ram, ram)
    used_cpu = np.where(on, cpu_threshold * total_cpu - cpu, 0.0)
    used_ram = np.where(on, ram_threshold * total_ram - ram, 0.0)
    hosts = HostTable(
        cpu_mips=total_cpu,
        pe_mips=total_cpu.copy() if pe_mips is None else np.array(pe_mips, dtype=np.float64),
        ram_mb=total_ram,
        power_w=np.tile(np.linspace(100.0, 200.0, 11), (n, 1)),
    )
    request = PlacementRequest(
        vm_cpu_mips=np.array(vm_cpu, dtype=np.float64),
        vm_ram_mb=np.array(vm_ram, dtype=np.float64),
        used_cpu_mips=used_cpu,
        used_ram_mb=used_ram,
        active=on,
        allowed=np.ones(n, dtype=np.bool_) if allowed is None else np.array(allowed, dtype=np.bool_),
    )
    return hosts, request


def bare(
    total_cpu: Sequence[float],
    total_ram: Sequence[float],
    vm_cpu: Sequence[float],
    vm_ram: Sequence[float],
    *,
    active: Sequence[bool] | None = None,
    allowed: Sequence[bool] | None = None,
    pe_mips: Sequence[float] | None = None,
) -> tuple[HostTable, PlacementRequest]:
    """Empty hosts of the given total capacity (nothing used)."""
    n = len(total_cpu)
    hosts, request = setup(total_cpu, total_ram, vm_cpu, vm_ram, active=[False] * n, allowed=allowed, pe_mips=pe_mips)
    on = np.ones(n, dtype=np.bool_) if active is None else np.array(active, dtype=np.bool_)
    fields = {f: getattr(request, f) for f in ("vm_cpu_mips", "vm_ram_mb", "used_cpu_mips", "used_ram_mb", "allowed")}
    return hosts, PlacementRequest(active=on, **fields)


class Case(NamedTuple):
    """One case of vector 19: hosts (free), VMs, which hosts are asleep, expected targets."""

    free_cpu: tuple[float, ...]
    free_ram: tuple[float, ...]
    vm_cpu: tuple[float, ...]
    vm_ram: tuple[float, ...]
    active: tuple[bool, ...]
    openstack_neat: list[int]
    neat: list[int]


# Vector 19, 0-based: h1, h2, h3 -> 0, 1, 2; h4, h5, h6 -> 3, 4, 5; vm1, vm2, vm3 -> 0, 1, 2.
H_CPU, H_RAM = (3000.0, 1000.0, 2000.0), (4096.0, 1024.0, 2048.0)
AWAKE, H_ASLEEP = (True,) * 3, (True,) * 3 + (False,) * 3
VM_CPU = (1000.0,) * 3
VECTOR_19 = {
    "cpu": Case((3000, 1000, 2000), (1024, 4096, 2048), (2000, 1000, 3000), (512,) * 3, AWAKE, [2, 1, 0], [2, 1, 0]),
    # Re-sorting differs here: after vm3 -> h3, h3 has 1000/512 left, comes first and vm2 fills it.
    "ram-mixed": Case(H_CPU, H_RAM, VM_CPU, (1536, 512, 1536), AWAKE, [0, 1, 2], [0, 2, 2]),
    "ram-equal": Case(H_CPU, H_RAM, VM_CPU, (1536,) * 3, AWAKE, [0, 0, 2], [0, 0, 2]),
    "infeasible": Case(H_CPU, H_RAM, VM_CPU, (3072, 1536, 1536), AWAKE, [-1] * 3, [-1] * 3),
    "wake": Case(H_CPU * 2, H_RAM * 2, VM_CPU, (2048, 4096, 2048), H_ASLEEP, [5, 0, 2], [5, 0, 2]),
    "wake-fails": Case(H_CPU * 2, H_RAM * 2, VM_CPU, (2048, 5120, 2048), H_ASLEEP, [-1] * 3, [-1] * 3),
}


def place(placer: BestFitDecreasing | FirstFitDecreasing, hosts: HostTable, request: PlacementRequest) -> list[int]:
    result: IntArray = placer.place(hosts, request)
    assert result.dtype == np.intp
    return [int(x) for x in result]


class TestBestFitDecreasingVector19:
    @pytest.mark.parametrize("name", VECTOR_19)
    @pytest.mark.parametrize(("cpu_threshold", "ram_threshold"), [(1.0, 1.0), (0.8, 0.95)])
    def test_openstack_neat_mode(self, name: str, cpu_threshold: float, ram_threshold: float) -> None:
        """openstack-neat: hosts in their initial ascending (free cpu, free ram) order, woken hosts
        without thresholds. E.g. "ram-mixed": VMs by (cpu, ram, index) descending are vm3, vm1,
        vm2; hosts ordered h2 (1000/1024), h3 (2000/2048), h1: vm3 -> h3 (left 1000/512),
        vm1 -> h1 (1536 MB fits neither h2 nor h3), vm2 -> h2. "wake": vm2 (4096 MB) -> h1,
        vm3 -> h3; vm1 (2048 MB) fits no active host, h5 (1000/1024) is woken and too small,
        h6 (2000/2048) is woken and takes it."""
        case = VECTOR_19[name]
        thresholds = {"cpu_threshold": cpu_threshold, "ram_threshold": ram_threshold}
        hosts, request = setup(
            case.free_cpu,
            case.free_ram,
            case.vm_cpu,
            case.vm_ram,
            active=case.active,
            cpu_threshold=cpu_threshold,
            ram_threshold=ram_threshold,
        )
        free_cpu, free_ram = free_capacity(hosts, request.used_cpu_mips, request.used_ram_mb, **thresholds)
        on = request.active
        assert free_cpu[on].tolist() == list(case.free_cpu)[: on.sum()]
        assert free_ram[on].tolist() == list(case.free_ram)[: on.sum()]
        placer = BestFitDecreasing(**thresholds, reorder_hosts=False, thresholds_on_woken=False)
        assert place(placer, hosts, request) == case.openstack_neat

    @pytest.mark.parametrize("name", VECTOR_19)
    def test_neat_mode(self, name: str) -> None:
        """Re-sorting after each placement (true best fit) changes "ram-mixed" only."""
        case = VECTOR_19[name]
        hosts, request = setup(case.free_cpu, case.free_ram, case.vm_cpu, case.vm_ram, active=case.active)
        placer = BestFitDecreasing(cpu_threshold=1.0, ram_threshold=1.0)
        assert place(placer, hosts, request) == case.neat


class TestBestFitDecreasing:
    def test_woken_host_serves_later_vms(self) -> None:
        """Active h0 1000/1000; sleeping h1 500/500, h2 2000/2000. VM 0 (1500/1500) wakes h1
        (too small), then h2. VM 1 (400/400) then best-fits the woken h1 (500 free)."""
        hosts, request = setup(
            (1000, 500, 2000), (1000, 500, 2000), (1500, 400), (1500, 400), active=[True, False, False]
        )
        for reorder in (True, False):
            placer = BestFitDecreasing(cpu_threshold=1.0, ram_threshold=1.0, reorder_hosts=reorder)
            assert place(placer, hosts, request) == [2, 1]

    def test_thresholds_on_woken_hosts(self) -> None:
        """A sleeping 1000 MHz host and a 900 MHz VM: it fits the whole host, not 80 % of it."""
        hosts, request = setup((1000,), (1000,), (900,), (100,), active=[False])
        assert place(BestFitDecreasing(), hosts, request) == [-1]
        assert place(BestFitDecreasing(thresholds_on_woken=False), hosts, request) == [0]

    def test_default_thresholds_apply_to_active_hosts(self) -> None:
        """Host of 2000 MHz / 2000 MB, nothing used: 1600 MHz and 1900 MB may be allocated."""
        assert place(BestFitDecreasing(), *bare((2000,), (2000,), (1600,), (1900,))) == [0]
        assert place(BestFitDecreasing(), *bare((2000,), (2000,), (1601,), (1,))) == [-1]
        assert place(BestFitDecreasing(), *bare((2000,), (2000,), (1,), (1901,))) == [-1]
        # All or nothing: the first VM alone would fit.
        assert place(BestFitDecreasing(), *bare((2000,), (2000,), (1600, 1), (1, 1900))) == [-1, -1]

    def test_vm_must_fit_one_core(self) -> None:
        """A 2500 MIPS VM cannot go on 2 x 1860 MIPS cores (3720 in total): only host 1 takes it."""
        g4_g5 = ((3720, 5320), (4096, 4096), (2500,), (870,))
        assert place(BestFitDecreasing(cpu_threshold=1.0), *bare(*g4_g5, pe_mips=(1860, 2660))) == [1]
        only_g4 = bare(*g4_g5, pe_mips=(1860, 2660), allowed=(True, False))
        assert place(BestFitDecreasing(cpu_threshold=1.0), *only_g4) == [-1]
        assert place(FirstFitDecreasing(), *only_g4) == [-1]

    def test_guard_excludes_hosts_and_sees_every_placement(self) -> None:
        """Without the guard, both VMs best-fit host 0; the guard forbids host 0 for VM 1."""
        guard = RecordingGuard(forbidden={(1, 0)})
        hosts, request = setup((1000, 2000), (1000, 2000), (300, 200), (100, 100))
        assert BestFitDecreasing(cpu_threshold=1.0).place(hosts, request, guard).tolist() == [0, 1]
        assert guard.assigned == [(0, 0), (1, 1)]

    def test_no_vms(self) -> None:
        hosts, request = setup((1000,), (1000,), (), ())
        assert place(BestFitDecreasing(), hosts, request) == []


class TestFirstFitDecreasing:
    def test_first_host_by_index_then_sleeping_hosts(self) -> None:
        """Hosts 0 (1000 MHz, active), 1 (3000, asleep), 2 (4000, active). VMs by cpu descending:
        VM 3 (3000) -> host 2 (first active that fits, 1000 left); VM 1 (2500) fits no active
        host -> host 1, woken (500 left); VM 2 (900) -> host 0 (100 left); VM 0 (600) -> host 2."""
        hosts, request = bare(
            (1000, 3000, 4000), (1000, 3000, 4000), (600, 2500, 900, 3000), (10,) * 4, active=[True, False, True]
        )
        assert place(FirstFitDecreasing(), hosts, request) == [2, 1, 0, 2]

    def test_not_all_or_nothing(self) -> None:
        """Vector 19 "infeasible" (all -1 for BFD): equal CPU, so VMs in index order. vm1 (3072 MB)
        -> h1 (1024 MB left); vm2 (1536) -> h3, the first with room (512 left); vm3 fits nowhere
        and alone gets -1."""
        hosts, request = setup(H_CPU, H_RAM, (1000,) * 3, (3072, 1536, 1536))
        assert place(FirstFitDecreasing(), hosts, request) == [0, 2, -1]

    def test_thresholds_and_allowed(self) -> None:
        """Host 0 is not allowed; host 1 (1000 MHz) at cpu_threshold 0.5 takes 500 MHz only."""
        setting = bare((1000, 1000), (1000, 1000), (600, 500), (1, 1), allowed=[False, True])
        assert place(FirstFitDecreasing(cpu_threshold=0.5), *setting) == [-1, 1]

    def test_guard(self) -> None:
        guard = RecordingGuard(forbidden={(0, 0)})
        hosts, request = setup((1000, 1000), (1000, 1000), (100,), (100,))
        assert FirstFitDecreasing().place(hosts, request, guard).tolist() == [1]
        assert guard.assigned == [(0, 1)]


class TestFits:
    def test_core_total_and_ram(self) -> None:
        """A VM of 500 MHz / 500 MB fits host 0 only: host 1's core is 400, host 2 has 400 MHz
        free, host 3 has 499 MB free. At cpu_threshold 0.9 a 400/400 VM fits all but host 2
        (0.9 * 1000 - 600 = 300 MHz free); host 0 has exactly 400 left."""
        hosts = HostTable(
            cpu_mips=np.array([1000.0, 1000.0, 1000.0, 1000.0]),
            pe_mips=np.array([500.0, 400.0, 1000.0, 1000.0]),
            ram_mb=np.array([1000.0, 1000.0, 1000.0, 1000.0]),
            power_w=np.zeros((4, 11)),
        )
        used_cpu = np.array([500.0, 0.0, 600.0, 0.0])
        used_ram = np.array([500.0, 0.0, 0.0, 501.0])
        assert fits(hosts, used_cpu, used_ram, 500.0, 500.0).tolist() == [True, False, False, False]
        assert fits(hosts, used_cpu, used_ram, 400.0, 400.0, cpu_threshold=0.9).tolist() == [True, True, False, True]


class TestInputChecks:
    @pytest.mark.parametrize("placer", [BestFitDecreasing(), FirstFitDecreasing()])
    def test_active_must_be_bool(self, placer: BestFitDecreasing) -> None:
        hosts, request = setup((1000,), (1000,), (1,), (1,))
        bad = PlacementRequest(
            request.vm_cpu_mips, request.vm_ram_mb, request.used_cpu_mips, request.used_ram_mb,
            np.array([1]), request.allowed,
        )  # fmt: skip
        with pytest.raises(InputError, match=r"request\.active must be a bool array"):
            placer.place(hosts, bad)

    def test_shapes(self) -> None:
        hosts, request = setup((1000, 1000), (1000, 1000), (1,), (1,))
        bad = PlacementRequest(
            request.vm_cpu_mips, np.ones(2), request.used_cpu_mips, request.used_ram_mb, request.active,
            request.allowed,
        )  # fmt: skip
        with pytest.raises(InputError, match=r"request.vm_ram_mb must have shape \(1,\)"):
            FirstFitDecreasing().place(hosts, bad)


class RecordingGuard:
    """A placement guard that forbids given (vm, host) pairs and records assignments."""

    def __init__(self, forbidden: set[tuple[int, int]]) -> None:
        self.forbidden = forbidden
        self.assigned: list[tuple[int, int]] = []

    def would_overload(self, vm: int, hosts: IntArray) -> np.ndarray:
        return np.array([(vm, int(h)) in self.forbidden for h in hosts], dtype=np.bool_)

    def assign(self, vm: int, host: int) -> None:
        self.assigned.append((vm, host))


@pytest.mark.parametrize("module", [bfd, ffd, _feasibility])
def test_public_names_are_sorted_and_exist(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)

"""VM creation over classes of identical hosts chooses as the search over every host in use."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.base import HostTable
from algorithms.placement._pabfd_arrays import ON, USED_CPU, USED_RAM, RoundArrays
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W
from neat.decision.creation import creation_arrays
from neat.decision.kernels.creation_kernel import _alike, create, create_one_by_one
from neat.decision.mode import CLOUDSIM, NEAT, Mode
from neat.decision.policy import Policy, named_policy


def standard_hosts(n: int, cores: int = 2, ram_mb: float = 4096.0) -> HostTable:
    """Interleaved G4 and G5 hosts, as the standard data center."""
    g5 = np.arange(n) % 2 == 1
    return HostTable(
        cpu_mips=np.where(g5, 2660.0, 1860.0) * cores,
        pe_mips=np.where(g5, 2660.0, 1860.0),
        ram_mb=np.full(n, ram_mb),
        power_w=np.where(g5[:, None], HP_PROLIANT_ML110_G5_W, HP_PROLIANT_ML110_G4_W),
    )


def standard_vms(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The four standard VM types in a seeded random order: MIPS and RAM (MB)."""
    kind = np.random.default_rng(seed).integers(0, 4, n)
    return np.array([2500.0, 2000.0, 1000.0, 500.0])[kind], np.array([870.0, 1740.0, 1740.0, 613.0])[kind]


def both(hosts: HostTable, policy: Policy, vm_mips: np.ndarray, vm_ram_mb: np.ndarray) -> tuple[np.ndarray, ...]:
    steps = np.full(vm_mips.shape[0], 0.05)
    by_class = create(creation_arrays(hosts, policy, vm_mips, vm_ram_mb, steps))
    one_by_one = create_one_by_one(creation_arrays(hosts, policy, vm_mips, vm_ram_mb, steps))
    return by_class, one_by_one


@pytest.mark.parametrize("mode", [CLOUDSIM, NEAT], ids=lambda m: m.name)
@pytest.mark.parametrize("name", ["lr-mmt-1.2", "thr-mmt-0.8", "mad-mmt-2.5"])
def test_classes_choose_as_every_host_in_use(name: str, mode: Mode) -> None:
    """200 standard hosts take 300 VMs; 8-core, 16 GB hosts take 2000 (many hosts share one use)."""
    policy = named_policy(name, mode)
    for hosts, n_vms in ((standard_hosts(200), 300), (standard_hosts(400, cores=8, ram_mb=16384.0), 2000)):
        vm_mips, vm_ram_mb = standard_vms(n_vms)
        by_class, one_by_one = both(hosts, policy, vm_mips, vm_ram_mb)
        assert (one_by_one >= 0).all()
        np.testing.assert_array_equal(by_class, one_by_one)
        assert np.unique(by_class).size < n_vms  # hosts holding several VMs, classes of several hosts


def test_classes_stop_at_the_first_vm_that_fits_nowhere_as_every_host_in_use() -> None:
    vm_mips, vm_ram_mb = standard_vms(300)
    by_class, one_by_one = both(standard_hosts(60), named_policy("lr-mmt-1.2", NEAT), vm_mips, vm_ram_mb)
    np.testing.assert_array_equal(by_class, one_by_one)
    first = int(np.argmax(one_by_one < 0))
    assert first > 0 and (one_by_one[first:] == -1).all()


def test_hosts_with_different_histories_are_not_classed() -> None:
    vm_mips, vm_ram_mb = standard_vms(10)
    policy = named_policy("lr-mmt-1.2", NEAT)
    arrays = creation_arrays(standard_hosts(8), policy, vm_mips, vm_ram_mb, np.full(10, 0.05))
    assert _alike(arrays)
    arrays.host_history[3, 0] = 0.5
    assert not _alike(arrays)


def test_hosts_already_in_use_are_searched_one_by_one() -> None:
    vm_mips, vm_ram_mb = standard_vms(40)
    policy = named_policy("lr-mmt-1.2", NEAT)

    def with_host_1_in_use() -> RoundArrays:
        arrays = creation_arrays(standard_hosts(30), policy, vm_mips, vm_ram_mb, np.full(40, 0.05))
        arrays.host[1, USED_CPU], arrays.host[1, USED_RAM], arrays.host[1, ON] = 1000.0, 613.0, 1.0
        return arrays

    by_class, one_by_one = create(with_host_1_in_use()), create_one_by_one(with_host_1_in_use())
    np.testing.assert_array_equal(by_class, one_by_one)
    assert (by_class >= 0).all() and (by_class == 1).any()  # the host in use takes VMs too

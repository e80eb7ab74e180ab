"""Rehoming: a host's VMs onto one switched-off host that carries them more efficiently and cheaper."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from algorithms.base import HostTable
from algorithms.power import linear_power_table
from neat.decision import NEAT, Component, DecisionInputs, build_policy, custom_spec, decide

#: Host 0: 200 W at full load, 100 W idle; hosts 1 and 2: 120 W, 80 W idle. All 2 x 1000 MIPS, 4096 MB.
TABLES = np.array([linear_power_table(100.0, 200.0), linear_power_table(80.0, 120.0), linear_power_table(80.0, 120.0)])


def inputs(demand: list[float], ram_mb: list[float], host_ram_mb: float = 4096.0) -> DecisionInputs:
    """VMs of 1000 MIPS all on host 0, flat histories at ``demand``."""
    n = len(demand)
    return DecisionInputs(
        hosts=HostTable(
            cpu_mips=np.full(3, 2000.0),
            pe_mips=np.full(3, 1000.0),
            ram_mb=np.full(3, host_ram_mb),
            power_w=TABLES,
        ),
        vm_host=np.zeros(n, dtype=np.intp),
        vm_mips=np.full(n, 1000.0),
        vm_ram_mb=np.array(ram_mb),
        vm_history=np.tile(np.array(demand)[:, None], (1, 6)),
        vm_n_valid=np.full(n, 6, dtype=np.intp),
        vm_migration_time_s=np.full(n, 10.0),
        interval_s=300.0,
    )


def policy(saving_w: float | None) -> object:
    underload = Component("surplus", {"rehome_saving_w": saving_w, "slack_hosts": 5})
    return build_policy(custom_spec(Component("hysteresis"), Component("mm"), Component("pabfd"), underload), NEAT)


def test_a_host_is_replaced_by_a_switched_off_one_that_carries_its_vms_cheaper() -> None:
    """Host 0 at 10 % draws 110 W; host 1 at 10 % would draw 84 W and its full-load power times the
    VMs' dominant share (RAM, 3000/4096) is 88 W against 146 W: both VMs move to host 1 (the lowest
    index of its class), as one group."""
    decision = decide(inputs([0.1, 0.1], [1500.0, 1500.0]), policy(3.0))  # type: ignore[arg-type]
    assert decision.vms.tolist() == [0, 1]
    assert decision.targets.tolist() == [1, 1]
    assert decision.groups.tolist() == [0, 0]


def test_no_rehoming_without_the_saving_or_when_it_is_off() -> None:
    assert decide(inputs([0.1, 0.1], [1500.0, 1500.0]), policy(30.0)).n_moves == 0  # type: ignore[arg-type]
    assert decide(inputs([0.1, 0.1], [1500.0, 1500.0]), policy(None)).n_moves == 0  # type: ignore[arg-type]


def test_no_rehoming_onto_a_host_that_cannot_hold_the_vms() -> None:
    """Host 0 has 6000 MB and holds 4200 MB; hosts 1 and 2 would be cheaper (84 W against 110 W)
    and more efficient (120 W x 4200/4096 = 123 W against 200 W x 4200/6000 = 140 W), but their
    4096 MB cannot hold the VMs: nothing moves."""
    big = inputs([0.1, 0.1], [2100.0, 2100.0], host_ram_mb=4096.0)
    hosts = big.hosts
    roomy = HostTable(
        cpu_mips=hosts.cpu_mips, pe_mips=hosts.pe_mips, ram_mb=np.array([6000.0, 4096.0, 4096.0]), power_w=hosts.power_w
    )
    assert decide(replace(big, hosts=roomy), policy(3.0)).n_moves == 0  # type: ignore[arg-type]


def test_no_rehoming_to_a_type_that_is_cheaper_only_while_idle() -> None:
    """CPU binds: host 0 of 5320 MIPS (93.7-135 W) carries 1000 MIPS; a switched-off host of 3720
    MIPS (86-117 W) would draw about 7 W less at that load, but per share of CPU at full load it
    costs more (31.5 W against 25.4 W): the VMs stay, so host 0 can still take more load."""
    base = inputs([0.5, 0.5], [100.0, 100.0], host_ram_mb=1e6)
    g5, g4 = linear_power_table(93.7, 135.0), linear_power_table(86.0, 117.0)
    hosts = HostTable(
        cpu_mips=np.array([5320.0, 3720.0, 3720.0]),
        pe_mips=np.array([2660.0, 1860.0, 1860.0]),
        ram_mb=np.full(3, 1e6),
        power_w=np.array([g5, g4, g4]),
    )
    assert decide(replace(base, hosts=hosts), policy(3.0)).n_moves == 0  # type: ignore[arg-type]
    # the same hosts with RAM binding instead (VMs of 1500 MB on 4096 MB hosts): host 0 is replaced
    ram_bound = HostTable(
        cpu_mips=hosts.cpu_mips, pe_mips=hosts.pe_mips, ram_mb=np.full(3, 4096.0), power_w=hosts.power_w
    )
    moved = decide(replace(base, hosts=ram_bound, vm_ram_mb=np.array([1500.0, 1500.0])), policy(3.0))  # type: ignore[arg-type]
    assert moved.targets.tolist() == [1, 1]

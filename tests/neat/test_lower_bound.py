"""The energy lower bound: convex envelopes of power tables and the cheapest power for a demand.

Standard setup: G4 3720 MIPS, 86..117 W; G5 5320 MIPS, 93.7..135 W. The G4 table lies above its
chord, so its envelope is the straight line 86 + 3.1 W per 10 %. The G5 envelope follows the table
up to 30 % (93.7, 97, 101, 105) and then the chord to (100 %, 135 W): 30 W over 7 points.
"""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W, linear_power_table
from neat.scenario import HostType, Scenario, VmType, cloudsim_standard
from neat.simulation.lower_bound import convex_envelope_w, host_kinds, lower_bound_power, ram_only_hosts, round_bound

STANDARD = host_kinds(cloudsim_standard())


def g5_envelope_w(u: float) -> float:
    """G5 envelope above 30 %: 105 W + 30 W x (u - 0.3) / 0.7."""
    return 105.0 + 30.0 * (u - 0.3) / 0.7


# -- convex envelope ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        np.linspace(50.0, 60.0, 11),  # linear
        50.0 + np.arange(11.0) ** 2,  # strictly convex: 50, 51, 54, 59, ..., 150
        np.array([10.0, 10, 10, 10, 10, 11, 13, 16, 20, 25, 31]),  # flat, then convex
    ],
    ids=["linear", "quadratic", "flat-then-convex"],
)
def test_envelope_of_a_convex_table_is_the_table(table: np.ndarray) -> None:
    table.setflags(write=False)
    np.testing.assert_allclose(convex_envelope_w(table), table, rtol=0, atol=1e-12)


def test_envelope_of_g4_is_its_chord() -> None:
    """Every G4 point is on or above the chord 86 + 3.1 i (i = 0..10), so the envelope is the chord."""
    env = convex_envelope_w(HP_PROLIANT_ML110_G4_W)
    expected = [86.0, 89.1, 92.2, 95.3, 98.4, 101.5, 104.6, 107.7, 110.8, 113.9, 117.0]
    np.testing.assert_allclose(env, expected, rtol=0, atol=1e-9)
    assert (np.diff(env, 2) >= -1e-9).all()  # convex
    assert (env <= HP_PROLIANT_ML110_G4_W + 1e-9).all()


def test_envelope_of_g5() -> None:
    env = convex_envelope_w(HP_PROLIANT_ML110_G5_W)
    expected = [93.7, 97.0, 101.0, 105.0] + [105.0 + 30.0 * k / 7 for k in range(1, 8)]
    np.testing.assert_allclose(env, expected, rtol=0, atol=1e-9)
    assert (np.diff(env, 2) >= -1e-9).all()
    assert (env <= HP_PROLIANT_ML110_G5_W + 1e-9).all()


def test_envelope_does_not_modify_its_input() -> None:
    table = HP_PROLIANT_ML110_G4_W.copy()
    table.setflags(write=False)
    convex_envelope_w(table)
    assert table.tolist() == HP_PROLIANT_ML110_G4_W.tolist()


# -- lower bound power ----------------------------------------------------------------------------


def test_host_kinds_most_efficient_first() -> None:
    """G5 at full load: 135 / 5320 = 0.0254 W/MIPS; G4: 117 / 3720 = 0.0315 W/MIPS."""
    assert [(capacity, count, envelope[-1]) for capacity, count, envelope, _, _ in STANDARD] == [
        (5320.0, 400, 135.0),
        (3720.0, 400, 117.0),
    ]


@pytest.mark.parametrize("demand", [0.0, -5.0])
def test_no_demand_costs_nothing(demand: float) -> None:
    assert lower_bound_power(demand, STANDARD) == (0.0, 0)


@pytest.mark.parametrize("k", [1, 2, 10, 400])
def test_k_full_g5_hosts(k: int) -> None:
    """A demand of k x 5320 MIPS is k full G5 hosts at 135 W each."""
    power, hosts = lower_bound_power(k * 5320.0, STANDARD)
    assert hosts == k
    assert power == pytest.approx(k * 135.0)


def test_small_demand_on_one_g4() -> None:
    """1000 MIPS: a G4 costs 86 + 31 x 1000 / 3720 = 94.33 W, a G5 97 + 40 x (1000/5320 - 0.1) = 100.5 W."""
    power, hosts = lower_bound_power(1000.0, STANDARD)
    assert hosts == 1
    assert power == pytest.approx(86.0 + 31.0 * 1000 / 3720)


def test_demand_only_a_g5_can_carry_alone() -> None:
    """4000 MIPS fits one G5 (75.2 %): 105 + 30 x (0.752 - 0.3) / 0.7 = 124.37 W on 1 host.

    Fails (see the report): the bound fills a full G4 (117 W) and puts the remaining 280 MIPS on
    a second G4 (88.3 W), 205.3 W on 2 hosts, above what one G5 draws.
    """
    power, hosts = lower_bound_power(4000.0, STANDARD)
    assert power == pytest.approx(g5_envelope_w(4000 / 5320))
    assert hosts == 1


def test_never_above_two_full_g4() -> None:
    """7440 MIPS = 2 x 3720: two full G4 draw 234 W, so the bound is at most 234 W.

    Fails (see the report): the bound takes one full G5 (135 W) plus 2120 MIPS on a G4 (103.7 W).
    """
    power, _ = lower_bound_power(7440.0, STANDARD)
    assert power <= 234.0 + 1e-9


def test_demand_beyond_the_data_center_is_every_host_at_full_power() -> None:
    """400 x 135 + 400 x 117 = 100800 W on 800 hosts."""
    assert lower_bound_power(1e9, STANDARD) == (100800.0, 800)


def test_small_demand_goes_to_the_cheapest_type_even_if_less_efficient() -> None:
    """Efficient: 2000 MIPS, 50..150 W (0.075 W/MIPS full); frugal: 1000 MIPS, 5..100 W (0.1 W/MIPS full).

    100 MIPS: frugal 5 + 95 x 0.1 = 14.5 W; efficient 50 + 100 x 0.05 = 55 W.
    """
    scenario = Scenario(
        name="two-kinds",
        host_types=(
            HostType("frugal", 2, 1, 1000.0, 1024.0, linear_power_table(5.0, 100.0)),
            HostType("efficient", 2, 1, 2000.0, 1024.0, linear_power_table(50.0, 150.0)),
        ),
        vm_types=(VmType("vm", 100.0, 128.0),),
    )
    kinds = host_kinds(scenario)
    assert [capacity for capacity, *_ in kinds] == [2000.0, 1000.0]
    power, hosts = lower_bound_power(100.0, kinds)
    assert hosts == 1
    assert power == pytest.approx(14.5)


def test_monotone_in_demand() -> None:
    """More demand never costs less: checked every 10 MIPS up to three full G5 hosts (15960 MIPS).

    Fails (see the report): e.g. 5310 MIPS costs 216.25 W (a full G4, 1590 MIPS on a second G4) while 5320 MIPS
    costs 135 W (one full G5).
    """
    grid = np.arange(0.0, 3 * 5320.0 + 1, 10.0)
    power = np.array([lower_bound_power(float(d), STANDARD)[0] for d in grid])
    drops = np.flatnonzero(np.diff(power) < -1e-9)
    assert drops.size == 0, f"power drops after {grid[drops[:5]].tolist()} MIPS"


def test_ram_demand_raises_the_host_count() -> None:
    """8 x 4096 MB of RAM needs 8 hosts even for 1000 MIPS: 8 G4 at idle plus 1000 MIPS at 0.0083 W/MIPS.

    G4 envelope: 86 W + 3.1 W per 372 MIPS; G5 is dearer at idle (93.7 W), so eight G4 win:
    8 x 86 + 1000 x 3.1 / 372 = 688 + 8.33 = 696.33 W.
    """
    power, hosts = lower_bound_power(1000.0, STANDARD, demand_ram_mb=8 * 4096.0)
    assert hosts == 8
    assert power == pytest.approx(688.0 + 1000.0 * 3.1 / 372.0)


# -- two resources, brute force, sleeping hosts ---------------------------------------------------


def brute_force_w(demand_mips: float, demand_ram_mb: float, kinds, steps: int = 200) -> float:  # type: ignore[no-untyped-def]
    """The cheapest power by enumeration: every integer host count per type that holds the RAM and
    the CPU, every split of the load between the (two) types on a grid of ``steps``, each type's
    load spread evenly over its hosts (the envelope is convex), off hosts at their sleep power."""
    (c0, n0, e0, r0, s0), (c1, n1, e1, r1, s1) = kinds
    points = np.linspace(0.0, 1.0, 11)
    best = np.inf
    for x0 in range(n0 + 1):
        for x1 in range(n1 + 1):
            if x0 * c0 + x1 * c1 < demand_mips - 1e-9 or x0 * r0 + x1 * r1 < demand_ram_mb - 1e-9:
                continue
            asleep = (n0 - x0) * s0 + (n1 - x1) * s1
            for share in np.linspace(0.0, 1.0, steps + 1):
                l0, l1 = demand_mips * share, demand_mips * (1 - share)
                if l0 > x0 * c0 + 1e-9 or l1 > x1 * c1 + 1e-9:
                    continue
                p0 = x0 * np.interp(l0 / (x0 * c0), points, e0) if x0 else 0.0
                p1 = x1 * np.interp(l1 / (x1 * c1), points, e1) if x1 else 0.0
                best = min(best, p0 + p1 + asleep)
    return float(best)


SMALL = Scenario(
    name="small",
    host_types=(
        HostType("a", 4, 2, 1000.0, 4096.0, np.array([40.0, 45, 52, 58, 63, 70, 76, 80, 88, 95, 100])),
        HostType("b", 3, 4, 1000.0, 16384.0, linear_power_table(90.0, 200.0)),
    ),
    vm_types=(VmType("v", 500.0, 1024.0),),
)


@pytest.mark.parametrize("sleep_fraction", [0.0, 0.05])
@pytest.mark.parametrize(
    ("demand_mips", "demand_ram_mb"),
    [(900.0, 0.0), (3100.0, 0.0), (5000.0, 2000.0), (1500.0, 20000.0), (7000.0, 30000.0), (300.0, 50000.0)],
)
def test_the_bound_is_the_brute_force_optimum(demand_mips: float, demand_ram_mb: float, sleep_fraction: float) -> None:
    """Integer hosts per type, the load split on a fine grid: the bound is exact for that relaxation
    (the grid's optimum is never below it, and reaches it within the grid's resolution)."""
    kinds = host_kinds(SMALL, sleep_fraction=sleep_fraction)
    power, _ = lower_bound_power(demand_mips, kinds, demand_ram_mb)
    brute = brute_force_w(demand_mips, demand_ram_mb, kinds)
    assert power <= brute + 1e-6
    assert brute == pytest.approx(power, rel=2e-3)


def test_ram_binds_when_holding_the_ram_costs_more() -> None:
    """Two type-a hosts carry 1500 MIPS; 20000 MB of RAM needs two type-b hosts (16384 MB each)."""
    kinds = host_kinds(SMALL)
    cpu_only = round_bound(1500.0, kinds)
    with_ram = round_bound(1500.0, kinds, 20000.0)
    assert not cpu_only.ram_binds and cpu_only.ram_only_hosts == 0
    assert with_ram.ram_binds
    assert with_ram.cpu_only_hosts == cpu_only.hosts
    assert with_ram.ram_only_hosts == ram_only_hosts(20000.0, kinds) == 2
    assert with_ram.power_w > cpu_only.power_w
    assert not round_bound(5000.0, kinds, 2000.0).ram_binds


def test_sleeping_hosts_draw_their_floor() -> None:
    """No demand: every host asleep: 4 x 5 W + 3 x 10 W (5 % of 100 W and 200 W peaks)."""
    kinds = host_kinds(SMALL, sleep_fraction=0.05)
    assert lower_bound_power(0.0, kinds) == (pytest.approx(50.0), 0)

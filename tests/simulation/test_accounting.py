"""Hand-worked cases for CPU sharing and for the energy and SLA accounting."""

import numpy as np
import pytest

from neat.constants import J_PER_KWH
from neat.simulation.accounting import Accounting
from neat.simulation.allocation import allocate

LINEAR_100_200_W = np.linspace(100.0, 200.0, 11)
NONE = np.zeros(0, dtype=np.intp)


def two_hosts(capacity=(1000.0, 1000.0), pe=(600.0, 600.0)):
    return np.array(capacity), np.array(pe)


def test_allocation_without_contention_is_the_request():
    """h0 runs a (300) and b (500): 800 of 1000 MIPS, utilization 0.8; h1 is empty."""
    cap, pe = two_hosts()
    state = allocate(np.array([300.0, 500.0]), np.array([0, 0]), cap, pe, NONE, NONE)
    assert state.utilization.tolist() == [0.8, 0.0]
    assert state.allocated_mips.tolist() == [800.0, 0.0]
    assert state.requested_mips.tolist() == [800.0, 0.0]
    assert state.vm_allocated_mips.tolist() == [300.0, 500.0]
    assert state.active.tolist() == [True, False]


def test_a_migrating_vm_loses_ten_percent_and_the_target_reserves_ten_percent():
    """b (500) moves h0 -> h1: b gets 450 on h0, h0 still counts 500, h1 reserves 50 of a requested 500."""
    cap, pe = two_hosts()
    state = allocate(np.array([300.0, 500.0]), np.array([0, 0]), cap, pe, np.array([1]), np.array([1]))
    assert state.vm_allocated_mips.tolist() == [300.0, 450.0]
    assert state.allocated_mips.tolist() == [800.0, 50.0]
    assert state.requested_mips.tolist() == [800.0, 500.0]
    assert state.vm_migrating.tolist() == [False, True]


def test_a_request_above_one_core_is_capped():
    """A VM asking 800 MIPS on 600-MIPS cores gets 600: allocated < requested."""
    cap, pe = two_hosts()
    state = allocate(np.array([800.0]), np.array([0]), cap, pe, NONE, NONE)
    assert state.allocated_mips[0] == 600.0
    assert state.requested_mips[0] == 800.0


def test_oversubscription_scales_every_share_and_rounds_down():
    """700 + 600 on 1000 MIPS: factor 1000/1300; floor(538.46) = 538, floor(461.5) = 461."""
    cap, pe = two_hosts(pe=(1000.0, 1000.0))
    state = allocate(np.array([700.0, 600.0]), np.array([0, 0]), cap, pe, NONE, NONE)
    assert state.vm_allocated_mips.tolist() == [538.0, 461.0]
    assert state.allocated_mips[0] == 999.0


def test_energy_is_the_trapezoid_and_zero_for_a_host_off_at_the_start():
    """h0: 0.5 -> 1.0 over 300 s on a 100..200 W line: (150 + 200) / 2 * 300 = 52500 J.
    h1: off at the start (0 %), on at the end: 0 J."""
    cap, pe = two_hosts(pe=(1000.0, 1000.0))
    start = allocate(np.array([500.0, 0.0]), np.array([0, 1]), cap, pe, NONE, NONE)
    end = allocate(np.array([1000.0, 400.0]), np.array([0, 1]), cap, pe, NONE, NONE)
    acc = Accounting(2, 2, np.stack([LINEAR_100_200_W, LINEAR_100_200_W]))
    assert acc.interval(start, end, 300.0) == pytest.approx(52500.0)
    assert acc.energy_kwh == pytest.approx(52500.0 / J_PER_KWH)


def test_slatah_and_pdm_over_three_steps():
    """Step 1 (300 s): h0 runs a=300, b=500, no violation. Step 2 (300 s): b migrates to h1:
    h1 is active and under-allocated (50 < 500), b loses 50 MIPS. Step 3 (300 s): both settled.

    Active time: h0 900 s, h1 600 s; violating: h1 300 s -> pooled SLATAH 300 / 1500 = 0.2,
    per-host mean (0 + 0.5) / 2 = 0.25.
    PDM: lost 50 * 300 over requested (300 + 500) * 900 = 15000 / 720000; per VM: b 15000 / 450000
    and a 0 -> mean 1/60.
    """
    cap, pe = two_hosts()
    req = np.array([300.0, 500.0])
    s1 = allocate(req, np.array([0, 0]), cap, pe, NONE, NONE)
    s2 = allocate(req, np.array([0, 0]), cap, pe, np.array([1]), np.array([1]))
    s3 = allocate(req, np.array([0, 1]), cap, pe, NONE, NONE)
    acc = Accounting(2, 2, np.stack([LINEAR_100_200_W, LINEAR_100_200_W]))
    for start, end in [(s1, s2), (s2, s3), (s3, s3)]:
        acc.interval(start, end, 300.0)
    pooled, per_host = acc.slatah()
    assert pooled == pytest.approx(0.2)
    assert per_host == pytest.approx(0.25)
    pdm, pdm_per_vm = acc.pdm()
    assert pdm == pytest.approx(15000.0 / 720000.0)
    assert pdm_per_vm == pytest.approx((15000.0 / 450000.0) / 2)


def test_shutdowns_count_active_to_inactive_transitions():
    """h0 on, off at 600, on at 900, off at 1500: two shutdowns after 600 s each (from 0 and from 900)."""
    cap, pe = two_hosts()
    acc = Accounting(2, 1, np.stack([LINEAR_100_200_W, LINEAR_100_200_W]))
    for t, load in [(300.0, 100.0), (600.0, 0.0), (900.0, 100.0), (1200.0, 100.0), (1500.0, 0.0)]:
        acc.record(allocate(np.array([load]), np.array([0]), cap, pe, NONE, NONE), t)
    # h1 holds nothing from the start: one shutdown at the first update, 300 s after time 0
    assert acc.shutdowns == 3
    assert acc.mean_time_before_shutdown_s() == pytest.approx((600.0 + 600.0 + 300.0) / 3)

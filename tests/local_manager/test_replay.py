"""Replaying recorded traces as a host and VM source."""

from __future__ import annotations

import numpy as np
import pytest

from neat.local_manager.loop import HostCapacity, HostReading, VmSample
from neat.local_manager.replay import REPLAY_CORE_MHZ, ReplayExhausted, ReplaySource, replay_uuid
from neat.traces import TraceSet


def traces() -> TraceSet:
    """Two VMs, three 300 s steps; the values encode their place."""
    u = np.array([[0.1, 0.2, 0.3], [0.5, 0.6, 0.7]])
    u.flags.writeable = False
    return TraceSet(u, ("vm-a", "vm-b"), 300, "hand-made")


def test_vms_one_step_per_call_with_cumulative_cpu_time():
    """vm-a: 0.1 x 300 s = 30 s of CPU, then + 60 s = 90 s; vm-b: 150 s, then + 180 s = 330 s."""
    source = ReplaySource(traces())
    a, b = replay_uuid("vm-a"), replay_uuid("vm-b")
    assert source.read_vms() == [VmSample(a, 0.1, 30_000_000_000, 1), VmSample(b, 0.5, 150_000_000_000, 1)]
    assert source.read_vms() == [VmSample(a, 0.2, 90_000_000_000, 1), VmSample(b, 0.6, 330_000_000_000, 1)]


def test_host_is_the_mean_with_the_default_capacity():
    """Two cores of 2000 MHz: (0.1 + 0.5) x 2000 / 4000 = 0.3, then 0.4, then 0.5."""
    source = ReplaySource(traces())
    readings = [source.read_host() for _ in range(3)]
    assert [r.utilization for r in readings] == pytest.approx([0.3, 0.4, 0.5])
    assert isinstance(readings[0], HostReading)
    assert (readings[0].cpu_mhz, readings[0].cpu_cores) == (2 * REPLAY_CORE_MHZ, 2)


def test_host_is_the_demand_over_a_given_capacity():
    """VMs of 2 vCPUs at 1000 MHz on a 4-core host of 4000 MHz: step 0 demand (0.1 + 0.5) x 2 x 1000 = 1200
    MHz -> 0.3; step 2: (0.3 + 0.7) x 2000 = 2000 -> 0.5."""
    source = ReplaySource(traces(), vcpus=2, core_mhz=1000.0, capacity=HostCapacity(cpu_mhz=4000.0, cpu_cores=4))
    assert [source.read_host().utilization for _ in range(3)] == pytest.approx([0.3, 0.4, 0.5])
    assert source.read_vms()[0].cpu_time_ns == 60_000_000_000  # 0.1 x 300 s x 2 vCPUs


def test_demand_over_capacity_is_clipped_and_logged(caplog):
    """Of a 1500 MHz host, the VMs ask (0.1 + 0.5) x 2000 = 1200 MHz, then 1600 and 2000 MHz (clipped)."""
    source = ReplaySource(traces(), capacity=HostCapacity(cpu_mhz=1500.0, cpu_cores=1))
    assert [source.read_host().utilization for _ in range(3)] == pytest.approx([1200 / 1500, 1.0, 1.0])
    assert "ask more than the host's capacity at 2 steps" in caplog.text


def test_host_and_vms_keep_their_own_positions():
    source = ReplaySource(traces())
    source.read_vms()
    source.read_vms()
    assert source.read_host().utilization == pytest.approx(0.3)
    assert source.position == (1, 2)


def test_wraps_around_and_cpu_time_keeps_growing():
    """One pass of vm-a spends (0.1 + 0.2 + 0.3) x 300 s = 180 s; the 4th step is the 1st again: 180 + 30."""
    source = ReplaySource(traces())
    for _ in range(3):
        source.read_vms()
    fourth = source.read_vms()[0]
    assert (fourth.utilization, fourth.cpu_time_ns) == (0.1, 210_000_000_000)


def test_without_wrap_the_end_is_an_error():
    source = ReplaySource(traces(), wrap=False)
    for _ in range(3):
        source.read_vms()
        source.read_host()
    with pytest.raises(ReplayExhausted, match="hand-made: all 3 steps were replayed"):
        source.read_vms()
    with pytest.raises(ReplayExhausted):
        source.read_host()


def test_uuids_are_stable_and_distinct():
    assert replay_uuid("vm-a") == replay_uuid("vm-a") != replay_uuid("vm-b")
    assert ReplaySource(traces()).uuids == (replay_uuid("vm-a"), replay_uuid("vm-b"))


def test_the_trace_is_not_modified():
    t = traces()
    before = t.utilization.copy()
    source = ReplaySource(t)
    source.read_vms()
    source.read_host()
    np.testing.assert_array_equal(t.utilization, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vcpus": 0}, r"The 'vcpus' of ReplaySource must be an int in \[1, inf\]. Got 0 instead."),
        ({"vcpus": 1.5}, r"The 'vcpus' of ReplaySource must be an int in \[1, inf\]. Got 1.5 instead."),
        ({"core_mhz": -1.0}, r"The 'core_mhz' of ReplaySource must be a float in \(0.0, inf\). Got -1.0"),
    ],
)
def test_bad_parameters_name_the_owner_and_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReplaySource(traces(), **kwargs)


def test_an_empty_trace_is_refused():
    empty = TraceSet(np.empty((0, 3)), (), 300, "empty.csv")
    with pytest.raises(ValueError, match=r"at least one VM and one step. Got shape \(0, 3\) from empty.csv"):
        ReplaySource(empty)

"""The local manager's loop: one batch per interval, and nothing crashes it."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import neat.local_manager as lm
from neat.local_manager import (
    Collected,
    HostCapacity,
    HostReading,
    HostSample,
    InMemorySink,
    LibvirtSource,
    LocalManager,
    ProcStatSource,
    ReplaySource,
    VmSample,
)
from neat.traces import TraceSet

DATA = Path(__file__).parent / "data"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Five minutes later at each call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return T0 + timedelta(minutes=5 * (self.calls - 1))


def replay() -> ReplaySource:
    u = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]])
    return ReplaySource(TraceSet(u, ("vm-a", "vm-b"), 300, "hand-made"))


class FlakySink(InMemorySink):
    """Raises on the calls whose (1-based) numbers are in ``fail_on``, like a database going away."""

    def __init__(self, fail_on: Sequence[int] = ()) -> None:
        super().__init__()
        self.fail_on = set(fail_on)
        self.calls = 0

    def write(self, host: HostSample, vms: Sequence[VmSample]) -> None:
        self.calls += 1
        if self.calls in self.fail_on:
            raise ConnectionError("could not connect to server: Connection refused")
        super().write(host, vms)


class Broken:
    """A source that raises on the calls in ``fail_on`` and otherwise defers to ``inner``."""

    def __init__(self, inner: ReplaySource, fail_on: Sequence[int]) -> None:
        self.inner, self.fail_on, self.calls = inner, set(fail_on), 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("libvirt: Cannot recv data")

    def read_vms(self) -> list[VmSample]:
        samples = self.inner.read_vms()  # the step is spent, as the interval is on a real host
        self._tick()
        return samples

    def read_host(self) -> HostReading | None:
        reading = self.inner.read_host()
        self._tick()
        return reading


# -- records ------------------------------------------------------------------------------------------


def test_package_all_is_sorted_and_complete():
    assert lm.__all__ == sorted(lm.__all__)
    assert all(hasattr(lm, name) for name in lm.__all__)


def test_importing_the_package_does_not_import_libvirt():
    code = "import sys, neat.local_manager; assert 'libvirt' not in sys.modules and 'apscheduler' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_percentage_is_refused_with_a_hint():
    with pytest.raises(
        ValueError,
        match=r"The 'utilization' of VmSample x must be a float in \[0.0, 1.0\]. "
        r"Got 85.0 instead. It looks like a percentage; pass 0.85.",
    ):
        VmSample("x", 85.0, 0, 1)


def test_a_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match=r"timezone-aware datetime in UTC. Got .* \(a naive datetime"):
        HostSample("h", datetime(2024, 5, 1), 0.5, 1000.0, 1)
    with pytest.raises(ValueError, match="in UTC"):
        HostSample("h", datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=2))), 0.5, 1000.0, 1)


@pytest.mark.parametrize(("mhz", "cores"), [(0.0, 1), (1000.0, 0), (float("nan"), 1), (1000.0, True)])
def test_a_bad_capacity_is_refused(mhz, cores):
    with pytest.raises(ValueError, match="of HostCapacity must be"):
        HostCapacity(mhz, cores)


# -- one interval ---------------------------------------------------------------------------------------


def test_collect_once_writes_one_batch_with_the_clock_and_host_name():
    source, sink = replay(), InMemorySink()
    manager = LocalManager(source, source, sink, Clock(), host_name="compute-1")
    batch = manager.collect_once()
    assert batch is not None
    assert sink.batches == [batch]
    assert batch.host == HostSample("compute-1", T0, 0.3, 4000.0, 2)
    assert [vm.utilization for vm in batch.vms] == [0.1, 0.5]
    assert (manager.intervals, manager.writes, manager.failures) == (1, 1, 0)


def test_a_database_outage_is_logged_and_the_next_interval_goes_on(caplog):
    source, sink = replay(), FlakySink(fail_on=[2, 3])
    manager = LocalManager(source, source, sink, Clock(), host_name="compute-1")
    results = [manager.collect_once() for _ in range(4)]
    assert [r is not None for r in results] == [True, False, False, True]
    assert [b.host.timestamp for b in sink.batches] == [T0, T0 + timedelta(minutes=15)]
    assert [b.vms[0].utilization for b in sink.batches] == [0.1, 0.4]
    assert "writing 2 VM samples of compute-1 failed (ConnectionError: could not connect" in caplog.text
    assert (manager.writes, manager.failures) == (2, 2)


@pytest.mark.parametrize("broken", ["vms", "host"])
def test_a_failing_source_is_logged_and_the_next_interval_goes_on(broken, caplog):
    inner = replay()
    flaky = Broken(inner, fail_on=[2])
    host, vms = (inner, flaky) if broken == "vms" else (flaky, inner)
    sink = InMemorySink()
    manager = LocalManager(host, vms, sink, Clock(), host_name="h")
    results = [manager.collect_once() for _ in range(3)]
    assert [r is not None for r in results] == [True, False, True]
    assert f"reading the {'VMs' if broken == 'vms' else 'host'} failed (RuntimeError: libvirt" in caplog.text
    # both sources were read in the failed interval, so they are still in step
    assert [b.host.utilization for b in sink.batches] == pytest.approx([0.3, 0.5])
    assert [b.vms[0].utilization for b in sink.batches] == [0.1, 0.3]


def test_no_host_reading_writes_nothing_and_is_not_a_failure(caplog):
    caplog.set_level(logging.INFO, logger="neat.local_manager.loop")

    class Priming:
        def read_host(self) -> None:
            return None

    source, sink = replay(), InMemorySink()
    manager = LocalManager(Priming(), source, sink, Clock(), host_name="h")
    assert manager.collect_once() is None
    assert sink.batches == []
    assert manager.failures == 0
    assert "nothing written" in caplog.text


def test_a_failing_clock_or_a_bad_reading_never_raises(caplog):
    def stopped_clock() -> datetime:
        raise OSError("clock_gettime failed")

    source, sink = replay(), InMemorySink()
    assert LocalManager(source, source, sink, stopped_clock, host_name="h").collect_once() is None
    naive = LocalManager(source, source, sink, lambda: datetime(2024, 5, 1), host_name="h")
    assert naive.collect_once() is None
    assert sink.batches == []
    assert "the host sample of this interval is invalid" in caplog.text


def test_real_sources_end_to_end(tmp_path):
    """/proc/stat recordings a -> b give 111/412 (see test_procstat); the test driver's domain 0 %."""
    live = tmp_path / "stat"
    shutil.copy(DATA / "proc_stat_a.txt", live)
    vms = LibvirtSource("test:///default")
    sink = InMemorySink()
    manager = LocalManager(ProcStatSource(vms.host_capacity, live), vms, sink, Clock(), host_name="compute-1")
    assert manager.collect_once() is None  # baselines
    shutil.copy(DATA / "proc_stat_b.txt", live)
    batch = manager.collect_once()
    vms.close()
    assert batch is not None and sink.batches == [batch]
    assert batch.host.utilization == pytest.approx(111 / 412)
    assert (batch.host.cpu_mhz, batch.host.cpu_cores) == (22400.0, 16)
    assert [(vm.uuid, vm.utilization, vm.vcpus) for vm in batch.vms] == [
        ("6695eb01-f6a4-8304-79aa-97f2502e193f", 0.0, 2)
    ]


def test_an_unreachable_hypervisor_is_logged_every_interval(tmp_path, caplog):
    live = tmp_path / "stat"
    shutil.copy(DATA / "proc_stat_a.txt", live)
    vms = LibvirtSource(f"test://{tmp_path}/no-such-node.xml")
    manager = LocalManager(ProcStatSource(vms.host_capacity, live), vms, InMemorySink(), Clock(), host_name="h")
    assert [manager.collect_once() for _ in range(2)] == [None, None]
    assert manager.failures == 2
    assert caplog.text.count("cannot open libvirt URI") >= 2


# -- the scheduled loop --------------------------------------------------------------------------------


class StopAfter(FlakySink):
    def __init__(self, writes: int, fail_on: Sequence[int] = ()) -> None:
        super().__init__(fail_on)
        self.writes = writes
        self.done = threading.Event()

    def write(self, host: HostSample, vms: Sequence[VmSample]) -> None:
        try:
            super().write(host, vms)
        finally:
            if len(self.batches) >= self.writes:
                self.done.set()


def test_run_collects_every_interval_until_stopped_and_survives_an_outage():
    source, sink = replay(), StopAfter(writes=3, fail_on=[2])
    manager = LocalManager(source, source, sink, host_name="h")
    stop = sink.done  # the sink stops the loop after its third successful write
    runner = threading.Thread(target=manager.run, args=(0.05, stop))
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(sink.batches) >= 3
    assert sink.calls >= 4
    assert [b.vms[0].utilization for b in sink.batches[:3]] == [0.1, 0.3, 0.4]  # step 0.2 was lost
    stamps = [b.host.timestamp for b in sink.batches]
    assert stamps == sorted(stamps) and all(t.tzinfo is not None for t in stamps)


def test_run_returns_when_the_event_is_already_set():
    source = replay()
    stop = threading.Event()
    stop.set()
    LocalManager(source, source, InMemorySink(), host_name="h").run(60.0, stop)


@pytest.mark.parametrize("interval", [0, -1.0, float("inf"), True])
def test_run_refuses_a_bad_interval(interval):
    source = replay()
    with pytest.raises(ValueError, match=r"The 'interval_s' of LocalManager.run must be a number in \(0, inf\)"):
        LocalManager(source, source, InMemorySink(), host_name="h").run(interval, threading.Event())


def test_collected_is_what_was_written():
    source, sink = replay(), InMemorySink()
    batch = LocalManager(source, source, sink, Clock(), host_name="h").collect_once()
    assert isinstance(batch, Collected) and isinstance(batch.vms, tuple)

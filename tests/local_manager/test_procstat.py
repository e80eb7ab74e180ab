"""Host utilization from recorded /proc/stat texts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from neat.local_manager.loop import HostCapacity, HostReading
from neat.local_manager.procstat import (
    CpuTimes,
    ProcStatError,
    ProcStatSource,
    parse_proc_stat,
    utilization_between,
)

DATA = Path(__file__).parent / "data"
A = DATA / "proc_stat_a.txt"
B = DATA / "proc_stat_b.txt"
REBOOTED = DATA / "proc_stat_rebooted.txt"
CAPACITY = HostCapacity(cpu_mhz=2 * 2600.0, cpu_cores=2)


def read(path: Path) -> dict[str, CpuTimes]:
    return parse_proc_stat(path.read_text(), str(path))


def test_parses_every_cpu_line_of_a_recorded_text():
    times = read(A)
    assert sorted(times) == ["cpu", "cpu0", "cpu1"]
    assert times["cpu"] == CpuTimes(140870, 0, 9646, 287501, 634, 0, 207, 39, 0, 0)
    assert times["cpu1"] == CpuTimes(99402, 0, 5731, 114074, 513, 0, 161, 23, 0, 0)


def test_total_and_idle_of_a_reading():
    """total = user + nice + system + idle + iowait + irq + softirq + steal
    = 140870 + 0 + 9646 + 287501 + 634 + 0 + 207 + 39 = 438897; idle + iowait = 288135."""
    cpu = read(A)["cpu"]
    assert cpu.total == 438897
    assert cpu.idle_all == 288135


def test_utilization_between_two_recorded_readings():
    """cpu line, a -> b: Δuser = 140975 - 140870 = 105, Δsystem = 9652 - 9646 = 6, Δidle = 287802 - 287501
    = 301, everything else unchanged: Δtotal = 412, utilization = 1 - 301/412 = 111/412."""
    assert utilization_between(read(A)["cpu"], read(B)["cpu"]) == pytest.approx(111 / 412)


def test_utilization_per_cpu():
    """cpu0 ran the busy loop: Δuser 103, Δsystem 3, Δidle 101 -> 106/207; cpu1 stayed idle:
    Δuser 1, Δsystem 3, Δidle 201 -> 4/205."""
    a, b = read(A), read(B)
    assert utilization_between(a["cpu0"], b["cpu0"]) == pytest.approx(106 / 207)
    assert utilization_between(a["cpu1"], b["cpu1"]) == pytest.approx(4 / 205)


def test_hand_made_readings_count_iowait_as_idle_and_guest_inside_user():
    """Δ: user 30 (of which guest 10), system 10, idle 40, iowait 20; total 100 (guest not added
    again) -> 1 - (40 + 20)/100 = 0.4."""
    before = parse_proc_stat("cpu  100 0 50 1000 10 0 0 0 5 0\n")["cpu"]
    after = parse_proc_stat("cpu  130 0 60 1040 30 0 0 0 15 0\n")["cpu"]
    assert after.total - before.total == 100
    assert utilization_between(before, after) == pytest.approx(0.4)


def test_old_kernels_four_counters():
    """Linux 2.4 has user nice system idle only: Δ busy 25 + 5, Δ idle 70 -> 0.3."""
    before = parse_proc_stat("cpu 100 0 100 800\n")["cpu"]
    after = parse_proc_stat("cpu 125 0 105 870\n")["cpu"]
    assert utilization_between(before, after) == pytest.approx(0.3)


def test_counters_going_backwards_give_none_and_a_log_line(caplog):
    caplog.set_level(logging.WARNING, logger="neat.local_manager.procstat")
    assert utilization_between(read(B)["cpu"], read(A)["cpu"]) is None
    assert utilization_between(read(A)["cpu"], read(REBOOTED)["cpu"]) is None
    assert "went backwards" in caplog.text


def test_busy_time_going_backwards_while_idle_grows_gives_none(caplog):
    before = parse_proc_stat("cpu  100 0 50 1000 0\n")["cpu"]
    after = parse_proc_stat("cpu  90 0 50 1100 0\n")["cpu"]  # user decreased
    assert utilization_between(before, after) is None
    assert "went backwards" in caplog.text


def test_iowait_alone_decreasing_is_not_a_reset():
    """The kernel's iowait may drop a little on tickless systems: Δidle 50, Δiowait -5 -> idle + iowait
    +45; Δuser 55; total +100 -> 0.55."""
    before = parse_proc_stat("cpu  100 0 0 1000 20\n")["cpu"]
    after = parse_proc_stat("cpu  155 0 0 1050 15\n")["cpu"]
    assert utilization_between(before, after) == pytest.approx(0.55)


def test_no_tick_between_readings_gives_none():
    cpu = read(A)["cpu"]
    assert utilization_between(cpu, cpu) is None


def test_all_busy_and_all_idle():
    base = parse_proc_stat("cpu  0 0 0 0\n")["cpu"]
    assert utilization_between(base, parse_proc_stat("cpu  60 10 30 0\n")["cpu"]) == 1.0
    assert utilization_between(base, parse_proc_stat("cpu  0 0 0 100\n")["cpu"]) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("intr 1 2 3\nctxt 4\n", r"/proc/stat: no 'cpu' line"),
        ("cpu  1 2 3\n", r"/proc/stat, line 1: 'cpu  1 2 3' has 3 counters; expected at least 4"),
        ("intr 1\ncpu  1 2 x 4\n", r"/proc/stat, line 2: 'cpu  1 2 x 4' has a counter that is not an integer"),
        ("cpu  1 2 -3 4\n", r"/proc/stat, line 1: 'cpu  1 2 -3 4' has a negative counter"),
    ],
)
def test_unusable_texts_name_the_file_the_line_and_the_text(text, expected):
    with pytest.raises(ProcStatError, match=expected):
        parse_proc_stat(text, "/proc/stat")


def test_source_takes_a_baseline_then_reads_the_interval(tmp_path):
    live = tmp_path / "stat"
    shutil.copy(A, live)
    source = ProcStatSource(CAPACITY, live)
    assert source.read_host() is None  # baseline
    shutil.copy(B, live)
    reading = source.read_host()
    assert isinstance(reading, HostReading)
    assert (reading.utilization, reading.cpu_mhz, reading.cpu_cores) == (pytest.approx(111 / 412), 5200.0, 2)


def test_source_after_a_reboot_skips_one_interval_then_goes_on(tmp_path):
    """rebooted -> a: Δuser 139350, Δsystem 9036, Δidle 267021, Δiowait 599, Δsoftirq 195, Δsteal 39;
    Δtotal 416240, idle 267620 -> 148620/416240."""
    live = tmp_path / "stat"
    source = ProcStatSource(CAPACITY, live)
    for path in (A, B, REBOOTED):
        shutil.copy(path, live)
        source.read_host()
    shutil.copy(A, live)  # the rebooted reading was the new baseline
    reading = source.read_host()
    assert reading is not None
    assert reading.utilization == pytest.approx(148620 / 416240)


def test_source_asks_a_callable_capacity_at_each_reading(tmp_path):
    live = tmp_path / "stat"
    shutil.copy(A, live)
    calls = []

    def capacity() -> HostCapacity:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("libvirt is down")
        return CAPACITY

    source = ProcStatSource(capacity, live)
    with pytest.raises(ConnectionError):
        source.read_host()
    assert source.read_host() is None  # the baseline is taken once the capacity is known
    shutil.copy(B, live)
    reading = source.read_host()
    assert reading is not None and reading.cpu_cores == 2
    assert len(calls) == 3


def test_source_reports_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ProcStatSource(CAPACITY, tmp_path / "nope").read_host()

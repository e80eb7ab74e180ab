"""Bitbrains GWA-T-12 and Azure public dataset loaders, and how load_traces picks a format.

The files are written in the published formats: Bitbrains, a header and ``;\\t``-separated samples
about 300 s apart (timestamps in Unix seconds despite the header's ``[ms]``); Azure, headerless CSV
lines ``timestamp, VM id, min, max, avg`` (percents) every 300 s. Every bad input raises TraceError
naming the file, the line and the offending text.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from neat.traces import (
    BITBRAINS_INTERVAL_S,
    TraceError,
    TraceSet,
    load_azure,
    load_bitbrains,
    load_traces,
)

HEADER = (
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
    "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\t"
    "Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]"
)
T0 = 1376314846  # the first timestamp of fastStorage/1.csv: 2013-08-12 13:40:46 UTC, in seconds


def sample(t: float | str, cpu_percent: float | str, memory_kb: float | str) -> str:
    """One Bitbrains line: 2 cores of 2600 MHz, 4 GiB provisioned; MHz consistent with the percent."""
    mhz = float(cpu_percent) * 52 if isinstance(cpu_percent, int | float) else 0
    return f"{t};\t2;\t5200.0;\t{mhz};\t{cpu_percent};\t4194304;\t{memory_kb};\t0;\t4.6;\t0;\t0.2"


def write_vm(folder: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def regular(values: list[tuple[float, float]], start: int = T0, step: int = 300) -> list[str]:
    """Samples ``step`` s apart from ``start``: (CPU percent, memory KB) each."""
    return [sample(start + step * i, cpu, mem) for i, (cpu, mem) in enumerate(values)]


# -- TraceSet memory ----------------------------------------------------------------------------------


def test_traceset_memory_is_optional_and_keeps_existing_hashes() -> None:
    """No memory: the hash is the one of the values and interval alone, as before memory existed."""
    u = np.array([[0.1, 0.2]])
    plain = TraceSet(u, ("vm",), 300, "x")
    assert plain.memory_mb is None
    assert plain.content_hash() == hashlib.sha256(b"300" + u.tobytes()).hexdigest()[:16]
    with_memory = TraceSet(u, ("vm",), 300, "x", np.array([[512.0, 768.0]]))
    assert with_memory.content_hash() != plain.content_hash()


def test_traceset_memory_must_match_the_utilization_shape() -> None:
    with pytest.raises(ValueError, match=r"must have the shape of 'utilization' \(1, 2\). Got \(1, 3\) instead"):
        TraceSet(np.zeros((1, 2)), ("vm",), 300, "x", np.zeros((1, 3)))


# -- Bitbrains ----------------------------------------------------------------------------------------


def test_bitbrains_cpu_and_memory_per_vm_in_byte_order(tmp_path: Path) -> None:
    """Files "2.csv" and "10.csv": byte order puts "10.csv" first. CPU % / 100; memory KB / 1024 = MB."""
    write_vm(tmp_path / "vms", "2.csv", regular([(10.0, 1048576), (20.0, 2097152), (30.5, 3145728)]))
    write_vm(tmp_path / "vms", "10.csv", regular([(0.0, 1024), (100.0, 2048), (50.0, 0)]))
    traces = load_bitbrains(tmp_path / "vms")
    assert traces.names == ("10.csv", "2.csv")
    assert traces.interval_s == BITBRAINS_INTERVAL_S == 300
    assert traces.utilization.tolist() == [[0.0, 1.0, 0.5], [0.1, 0.2, 0.305]]
    assert traces.memory_mb is not None
    assert traces.memory_mb.tolist() == [[1.0, 2.0, 0.0], [1024.0, 2048.0, 3072.0]]
    assert traces.source == f"bitbrains:{tmp_path / 'vms'} (3 steps from {T0} s)"


def test_bitbrains_jittered_samples_are_interpolated_onto_one_grid(tmp_path: Path) -> None:
    """VM a at T0, T0+300, T0+600 (10, 20, 40 %); VM b 30 s later (50, 60, 70 %).

    The grid starts at b's first sample, T0+30, and ends by a's last, T0+600: steps T0+30 and
    T0+330. a at T0+30 = 10 + 30/300 x 10 = 11 %; at T0+330 = 20 + 30/300 x 20 = 22 %; b is on the grid.
    """
    write_vm(tmp_path / "vms", "a.csv", regular([(10, 100), (20, 200), (40, 400)]))
    write_vm(tmp_path / "vms", "b.csv", regular([(50, 500), (60, 600), (70, 700)], start=T0 + 30))
    traces = load_bitbrains(tmp_path / "vms")
    np.testing.assert_allclose(traces.utilization, [[0.11, 0.22], [0.5, 0.6]])
    assert traces.memory_mb is not None
    np.testing.assert_allclose(traces.memory_mb * 1024, [[110, 220], [500, 600]])


def test_bitbrains_repeated_timestamps_are_averaged_and_short_gaps_bridged(tmp_path: Path) -> None:
    """T0 twice (10 %, 30 %: mean 20 %), then T0+900 (50 %): 900 s gap, bridged linearly: 20, 30, 40, 50 %."""
    lines = [sample(T0, 10, 0), sample(T0, 30, 0), sample(T0 + 900, 50, 0)]
    traces = load_bitbrains(write_vm(tmp_path, "vm.csv", lines))
    np.testing.assert_allclose(traces.utilization, [[0.2, 0.3, 0.4, 0.5]])


def test_bitbrains_millisecond_timestamps_read_as_the_header_says(tmp_path: Path) -> None:
    seconds = load_bitbrains(write_vm(tmp_path / "s", "vm.csv", regular([(10, 0), (20, 0)])))
    millis = load_bitbrains(write_vm(tmp_path / "ms", "vm.csv", regular([(10, 0), (20, 0)], T0 * 1000, 300_000)))
    assert millis.utilization.tolist() == seconds.utilization.tolist() == [[0.1, 0.2]]


def test_bitbrains_quick_read_and_line_by_line_read_agree(tmp_path: Path) -> None:
    """A clean file is read by pandas; "n/a" in a column not read sends the file through the exact
    line-by-line pass, which accepts it. Both give the same numbers to the last bit."""
    rng = np.random.default_rng(5)
    values = [
        (round(float(c), 6), round(float(m), 3))
        for c, m in zip(rng.uniform(0, 100, 50), rng.uniform(0, 8e6, 50), strict=True)
    ]
    clean = regular(values)
    quirky = [line.replace(";\t0;\t4.6;", ";\tn/a;\t4.6;") if i == 7 else line for i, line in enumerate(clean)]
    assert quirky != clean
    fast = load_bitbrains(write_vm(tmp_path / "fast", "vm.csv", clean))
    exact = load_bitbrains(write_vm(tmp_path / "exact", "vm.csv", quirky))
    assert fast.memory_mb is not None and exact.memory_mb is not None
    assert np.array_equal(fast.utilization, exact.utilization)
    assert np.array_equal(fast.memory_mb, exact.memory_mb)
    assert fast.utilization[0, 3] == values[3][0] / 100


def test_bitbrains_gap_longer_than_the_limit_names_the_line_after_it(tmp_path: Path) -> None:
    """Samples at T0, T0+300, T0+4200: a 3900 s gap (more than 3600 s) ends on line 4."""
    lines = [sample(T0, 10, 0), sample(T0 + 300, 10, 0), sample(T0 + 4200, 10, 0)]
    path = write_vm(tmp_path, "vm.csv", lines)
    with pytest.raises(TraceError) as err:
        load_bitbrains(path)
    assert str(err.value) == (
        f"{path}, line 4: timestamp {T0 + 4200} s is 3900 s after the sample on line 3; "
        "gaps of more than 3600 s are not interpolated"
    )
    assert load_bitbrains(path, max_gap_s=4000).n_steps == 15


def test_bitbrains_trailing_blank_lines_and_extra_spaces_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "vm.csv"
    path.write_text(HEADER + "\n" + sample(T0, 10, 0) + "\n" + sample(T0 + 300, " 20 ", 0) + "\n\n\n")
    assert load_bitbrains(path).utilization.tolist() == [[0.1, 0.2]]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (sample(T0 + 300, "abc", 0), "CPU usage 'abc' is not a number"),
        (sample(T0 + 300, "", 0), "CPU usage '' is not a number"),
        (sample(T0 + 300, "nan", 0), "CPU usage 'nan' is not a number"),
        (sample("noon", 10, 0), "timestamp 'noon' is not a number"),
        (sample(T0 + 300, 10, "1e3x"), "memory usage '1e3x' is not a number"),
        (sample(T0 + 300, -0.5, 0), "CPU usage -0.5 is outside 0..100 (%)"),
        (sample(T0 + 300, 100.01, 0), "CPU usage 100.01 is outside 0..100 (%)"),
        (sample(T0 + 300, 10, -1), "memory usage -1 KB is negative"),
        (sample(T0 - 1, 10, 0), f"timestamp {T0 - 1} is earlier than the line before's"),
        (sample(T0 + 300, 10, 0) + ";\t0", "12 fields; expected 11, as in the header (separated by ';')"),
        (sample(T0 + 300, 10, 0).rsplit(";", 1)[0], "10 fields; expected 11, as in the header (separated by ';')"),
        (f"{T0 + 300},2,5200,520,10,4194304,0,0,0,0,0", "1 fields; expected 11, as in the header (separated by ';')"),
    ],
)
def test_bitbrains_bad_line_names_file_line_and_text(tmp_path: Path, line: str, expected: str) -> None:
    """The bad sample is the second, on line 3 (the header is line 1)."""
    path = write_vm(tmp_path, "vm.csv", [sample(T0, 10, 0), line, sample(T0 + 600, 10, 0)])
    with pytest.raises(TraceError) as err:
        load_bitbrains(path)
    assert str(err.value) == f"{path}, line 3: {expected}"


def test_bitbrains_blank_line_inside_is_an_error(tmp_path: Path) -> None:
    path = write_vm(tmp_path, "vm.csv", [sample(T0, 10, 0), "", sample(T0 + 300, 10, 0)])
    with pytest.raises(TraceError) as err:
        load_bitbrains(path)
    assert str(err.value) == f"{path}, line 3: the line is blank"


def test_bitbrains_header_without_a_column_read(tmp_path: Path) -> None:
    path = write_vm(tmp_path, "vm.csv", [sample(T0, 10, 0)], header=HEADER.replace("CPU usage [%]", "CPU [%]"))
    with pytest.raises(TraceError, match=r"line 1: no column 'CPU usage \[%\]' in the header 'Timestamp") as err:
        load_bitbrains(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty (expected a Bitbrains GWA-T-12 header, then samples)"),
        (HEADER + "\n", "has a header and no samples"),
    ],
)
def test_bitbrains_file_without_samples(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "vm.csv"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        load_bitbrains(path)
    assert str(err.value) == f"{path}: {expected}"


def test_bitbrains_files_that_share_no_step(tmp_path: Path) -> None:
    write_vm(tmp_path / "vms", "a.csv", regular([(10, 0), (10, 0)]))
    write_vm(tmp_path / "vms", "b.csv", regular([(10, 0), (10, 0)], start=T0 + 3000))
    with pytest.raises(TraceError) as err:
        load_bitbrains(tmp_path / "vms")
    assert str(err.value) == (
        f"{tmp_path / 'vms'}: the files share no 300 s step: b.csv starts at {T0 + 3000} s, a.csv ends at {T0 + 300} s"
    )


@pytest.mark.parametrize(("name", "expected"), [("missing", "no such trace folder or file"), ("empty", None)])
def test_bitbrains_missing_or_empty_folder(tmp_path: Path, name: str, expected: str | None) -> None:
    folder = tmp_path / name
    if expected is None:
        folder.mkdir()
        expected = "the folder holds no files (expected one Bitbrains GWA-T-12 CSV file per VM)"
    with pytest.raises(TraceError) as err:
        load_bitbrains(folder)
    assert str(err.value) == f"{folder}: {expected}"


# -- Azure --------------------------------------------------------------------------------------------

READINGS = (
    # timestamp, VM id, min, max, avg: vm-late starts at 300, vm-gone ends at 300.
    "0,vm-b,1.5,9.25,4.75\n"
    "0,vm-a,0,100,50\n"
    "0,vm-gone,1,1,1\n"
    "300,vm-a,10,30,20\n"
    "300,vm-b,2,8,6\n"
    "300,vm-late,5,5,5\n"
    "300,vm-gone,1,1,1\n"
    "600,vm-b,3,7,5\n"
    "600,vm-late,5,5,5\n"
    "600,vm-a,20,40,25.5\n"
)


def write_readings(folder: Path, text: str, name: str = "vm_cpu_readings-file-1-of-125.csv") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_azure_keeps_the_vms_present_at_every_step_avg_by_default(tmp_path: Path) -> None:
    """Steps 0, 300, 600 s; vm-late and vm-gone miss a step and are left out; avg % / 100."""
    path = write_readings(tmp_path, READINGS)
    traces = load_azure(path)
    assert traces.names == ("vm-a", "vm-b")
    assert traces.utilization.tolist() == [[0.5, 0.2, 0.255], [0.0475, 0.06, 0.05]]
    assert traces.interval_s == 300
    assert traces.memory_mb is None
    assert traces.source == f"azure:{path} (avg CPU; 2 of 4 VMs have a reading at every step)"


def test_azure_max_reading_by_option_or_prefix(tmp_path: Path) -> None:
    path = write_readings(tmp_path, READINGS)
    expected = [[1.0, 0.3, 0.4], [0.0925, 0.08, 0.07]]
    assert load_azure(path, reading="max").utilization.tolist() == expected
    assert load_traces(f"azure-max:{path}").utilization.tolist() == expected
    assert load_azure(path, reading="min").utilization.tolist() == [[0.0, 0.1, 0.2], [0.015, 0.02, 0.03]]


def test_azure_unknown_reading_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'reading' parameter of load_azure must be one of min, max, avg. Got 'p95'"):
        load_azure(write_readings(tmp_path, READINGS), reading="p95")


def test_azure_gzipped_files_of_a_folder_are_read_together(tmp_path: Path) -> None:
    """The published files are gzipped and split by time: steps 0-300 in file 1, 600 in file 2."""
    lines = READINGS.splitlines(keepends=True)
    write_readings(tmp_path / "cpu", "".join(lines[:7]), "vm_cpu_readings-file-1-of-2.csv.gz")
    write_readings(tmp_path / "cpu", "".join(lines[7:]), "vm_cpu_readings-file-2-of-2.csv.gz")
    traces = load_traces(tmp_path / "cpu")
    assert traces.utilization.tolist() == load_azure(write_readings(tmp_path, READINGS)).utilization.tolist()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("300,vm-a,10,30,abc", "avg CPU 'abc' is not a number"),
        ("300,vm-a,10,,20", "max CPU '' is not a number"),
        ("later,vm-a,10,30,20", "timestamp 'later' is not a number"),
        ("300.5,vm-a,10,30,20", "timestamp 300.5 is not a whole number of seconds"),
        ("300,,10,30,20", "the VM id is empty"),
        ("300,vm-a,10,30", "4 fields; expected 5 (timestamp, VM id, min CPU, max CPU, avg CPU; no header)"),
        ("300,vm-a,10,30,20,1", "6 fields; expected 5 (timestamp, VM id, min CPU, max CPU, avg CPU; no header)"),
        ("300,vm-a,-1,30,20", "min CPU -1 is outside 0..100 (%)"),
        ("300,vm-a,10,100.5,20", "max CPU 100.5 is outside 0..100 (%)"),
        ("", "the line is blank"),
    ],
)
def test_azure_bad_line_names_file_line_and_text(tmp_path: Path, line: str, expected: str) -> None:
    """The bad reading replaces the fourth line."""
    lines = READINGS.splitlines()
    lines[3] = line
    path = write_readings(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == f"{path}, line 4: {expected}"


def test_azure_bad_line_in_a_gzipped_file(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n300,vm-a,1,2,x\n", "vm_cpu_readings-file-1-of-2.csv.gz")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == f"{path}, line 2: avg CPU 'x' is not a number"


def test_azure_gap_in_timestamps_names_the_line_after_it(tmp_path: Path) -> None:
    """Readings at 0, 300 and 900: nothing at 600, an error at the first line of 900."""
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n300,vm-a,1,2,3\n900,vm-b,1,2,3\n900,vm-a,1,2,3\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == (
        f"{path}, line 3: timestamp 900 follows 300: no VM has a reading at 600 (readings are every 300 s)"
    )


def test_azure_longer_gap_names_the_missing_span(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n1200,vm-a,1,2,3\n")
    with pytest.raises(TraceError, match=r"line 2: timestamp 1200 follows 0: no VM has a reading at 300\.\.900 \("):
        load_azure(path)


def test_azure_timestamp_off_the_grid(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n300,vm-a,1,2,3\n450,vm-a,1,2,3\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == f"{path}, line 3: timestamp 450 is not a multiple of 300 s after the first (0)"


def test_azure_second_reading_of_a_vm_at_one_timestamp(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n0,vm-b,1,2,3\n0,vm-a,1,2,4\n300,vm-a,1,2,3\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == f"{path}, line 3: a second reading of VM 'vm-a' at timestamp 0"


def test_azure_without_a_vm_present_throughout(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n300,vm-b,1,2,3\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == (
        f"{path}: no VM has a reading at every step from 0 to 300 s (2 VMs, 2 steps); "
        "pass fewer files for a shorter span"
    )


def test_azure_single_timestamp(tmp_path: Path) -> None:
    path = write_readings(tmp_path, "0,vm-a,1,2,3\n")
    with pytest.raises(TraceError) as err:
        load_azure(path)
    assert str(err.value) == f"{path}: needs readings at two timestamps at least (found 1)"


# -- picking the format -------------------------------------------------------------------------------


def test_a_folder_of_bitbrains_files_is_recognised(tmp_path: Path) -> None:
    write_vm(tmp_path / "2013-8", "1.csv", regular([(10, 1024), (20, 2048)]))
    traces = load_traces(tmp_path / "2013-8")
    assert traces.memory_mb is not None
    assert traces.utilization.tolist() == [[0.1, 0.2]]
    assert load_traces(f"bitbrains:{tmp_path / '2013-8' / '1.csv'}").utilization.tolist() == [[0.1, 0.2]]


def test_a_headerless_five_field_file_is_azure_whatever_its_name(tmp_path: Path) -> None:
    path = write_readings(tmp_path, READINGS, name="readings.csv")
    assert load_traces(path).names == ("vm-a", "vm-b")
    assert load_traces(f"azure:{path}").names == ("vm-a", "vm-b")


def test_a_long_table_is_still_a_long_table(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text("vm,step,cpu_percent\na,0,10\na,1,20\n")
    assert load_traces(path).utilization.tolist() == [[0.1, 0.2]]
    assert load_traces(f"table:{path}").utilization.tolist() == [[0.1, 0.2]]


def test_an_explicit_prefix_wins_over_the_shape(tmp_path: Path) -> None:
    """A PlanetLab folder read as Bitbrains fails on Bitbrains's terms, naming the file."""
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm").write_text("10\n" * 288)
    with pytest.raises(TraceError, match=r"line 1: no column 'Timestamp \[ms\]' in the header '10'"):
        load_traces(f"bitbrains:{day}")


def test_unknown_prefix_names_the_known_formats(tmp_path: Path) -> None:
    with pytest.raises(TraceError) as err:
        load_traces(f"google:{tmp_path}")
    assert str(err.value) == (
        f"google:{tmp_path}: no such trace folder or file (known formats: azure:, azure-max:, bitbrains:, "
        "planetlab:, table:)"
    )

"""Per-VM utilization traces: PlanetLab days (built in or a folder), Bitbrains GWA-T-12, the Azure
public VM dataset, tidy long tables, and a seeded synthetic workload.

Every loader returns a :class:`TraceSet`: a (n_vms, n_steps) float64 array of CPU utilization
fractions in [0, 1], one row per VM, at a fixed interval, with the VM names and, when the format
records it, each VM's memory usage. :func:`load_traces` picks the loader from a ``FORMAT:PATH``
prefix or from the shape of the path.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.constants import PLANETLAB_INTERVAL_S, PLANETLAB_STEPS

#: The PlanetLab days shipped with neat (``neat/data/planetlab``, whose README gives their provenance).
PLANETLAB_DAYS = ("20110303", "20110306", "20110322")
#: Seconds between two samples of the Bitbrains GWA-T-12 traces.
BITBRAINS_INTERVAL_S = 300
#: Longest gap between two Bitbrains samples that :func:`load_bitbrains` bridges by interpolation.
BITBRAINS_MAX_GAP_S = 3600
#: Seconds between two readings of the Azure public VM dataset.
AZURE_INTERVAL_S = 300
#: Explicit format prefixes of :func:`load_traces` (``FORMAT:PATH``).
TRACE_FORMATS = ("azure", "azure-max", "bitbrains", "planetlab", "table")
#: Reference results shipped with neat (``neat/data/reference``), by name.
REFERENCE_FILES = {"cloudsim": "cloudsim/results.json", "energy-lower-bound": "energy-lower-bound.json"}

_KB_PER_MB = 1024.0
#: A Bitbrains timestamp at least this large is in milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11


class TraceError(ValueError):
    """A trace file or folder is unusable; the message names the file, line and value."""


@dataclass(frozen=True)
class TraceSet:
    """Per-VM CPU utilization, and memory usage when the format records it.

    Attributes
    ----------
    utilization : float64 array of shape (n_vms, n_steps), fractions in [0, 1]
    names : VM names, one per row
    interval_s : seconds between samples
    source : where the traces came from (a path, ``planetlab:DAY``, or "synthetic(seed=...)")
    memory_mb : float64 array of shape (n_vms, n_steps), memory in use in MB, or None when the
        format has no memory (PlanetLab, Azure, long tables). Only Bitbrains records it. The
        simulator does not use it yet: VM memory there is the VM type's (the scenario's).
    """

    utilization: NDArray[np.float64]
    names: tuple[str, ...]
    interval_s: int
    source: str
    memory_mb: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if self.memory_mb is not None and self.memory_mb.shape != self.utilization.shape:
            raise ValueError(
                f"The 'memory_mb' of TraceSet must have the shape of 'utilization' {self.utilization.shape}. "
                f"Got {self.memory_mb.shape} instead."
            )

    @property
    def n_vms(self) -> int:
        return int(self.utilization.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.utilization.shape[1])

    def content_hash(self) -> str:
        """A hash of the values, the memory if any, and the interval (names excluded), for caches."""
        h = hashlib.sha256()
        h.update(str(self.interval_s).encode())
        h.update(np.ascontiguousarray(self.utilization).tobytes())
        if self.memory_mb is not None:
            h.update(b"memory_mb")
            h.update(np.ascontiguousarray(self.memory_mb).tobytes())
        return h.hexdigest()[:16]


# -- built-in data ---------------------------------------------------------------------------------


def load_planetlab_day(day: str) -> TraceSet:
    """A PlanetLab day shipped with neat, exactly as :func:`load_planetlab` reads its original folder.

    The same values, VM names and order (sorted byte-order file names); only ``source`` differs
    (``planetlab:DAY``). The days are stored as integer percents (uint8) in
    ``neat/data/planetlab/DAY.npz``; see the README there for where they come from.

    Raises
    ------
    TraceError
        ``day`` is not one of :data:`PLANETLAB_DAYS`.
    """
    if day not in PLANETLAB_DAYS:
        close = difflib.get_close_matches(day.replace("-", ""), PLANETLAB_DAYS, n=1)
        guess = f" (did you mean planetlab:{close[0]}?)" if close else ""
        raise TraceError(
            f"planetlab:{day}: no built-in PlanetLab day {day!r}; the built-in days are "
            f"{', '.join(PLANETLAB_DAYS)}{guess}"
        )
    with (_data_dir() / "planetlab" / f"{day}.npz").open("rb") as file, np.load(file, allow_pickle=False) as npz:
        values = npz["values"]
        names = npz["names"]
    return TraceSet(
        values.astype(np.float64) / 100.0, tuple(str(n) for n in names), PLANETLAB_INTERVAL_S, f"planetlab:{day}"
    )


def reference_results(name: str = "cloudsim") -> dict[str, Any]:
    """Published reference results for the built-in PlanetLab days (``neat/data/reference``).

    ``cloudsim``: CloudSim 4.0's outputs, day -> policy -> metrics (fractions, not percents).
    ``energy-lower-bound``: the energy lower bound per day, for 24 h and on the reference's
    287-interval accounting. The README there says how each was made.
    """
    if name not in REFERENCE_FILES:
        raise ValueError(f"No reference results named {name!r}; the names are {', '.join(sorted(REFERENCE_FILES))}.")
    result: dict[str, Any] = json.loads((_data_dir() / "reference" / REFERENCE_FILES[name]).read_text())
    return result


def _data_dir() -> Any:
    """The package's data folder (a Traversable: a folder, or a folder inside a zip)."""
    return resources.files("neat") / "data"


# -- PlanetLab folders ------------------------------------------------------------------------------


def load_planetlab(directory: str | Path, *, expected_steps: int = PLANETLAB_STEPS) -> TraceSet:
    """Read a PlanetLab day: one file per VM, one integer CPU percent (0..100) per line.

    Files are taken in sorted (byte-order) name order; VM i is the i-th file.

    Raises
    ------
    TraceError
        Missing or empty folder, a file with a non-integer, a value outside 0..100, or a file
        whose number of lines is not ``expected_steps``; the message names file, line and value.
    """
    folder = Path(directory)
    if not folder.exists():
        raise TraceError(f"{folder}: no such trace folder")
    if not folder.is_dir():
        raise TraceError(f"{folder}: not a folder (expected one file per VM)")
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name.encode()
    )
    if not files:
        raise TraceError(f"{folder}: the folder holds no trace files")
    data = np.empty((len(files), expected_steps), dtype=np.float64)
    for row, path in enumerate(files):
        data[row] = _read_planetlab_file(path, expected_steps)
    return TraceSet(data / 100.0, tuple(p.name for p in files), PLANETLAB_INTERVAL_S, str(folder))


def _read_planetlab_file(path: Path, expected_steps: int) -> NDArray[np.float64]:
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file of integer percents ({exc.reason})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != expected_steps:
        raise TraceError(f"{path}: has {len(lines)} lines; expected {expected_steps} (one CPU percent per line)")
    values = np.empty(expected_steps, dtype=np.float64)
    for i, line in enumerate(lines):
        token = line.strip()
        try:
            value = int(token)
        except ValueError:
            raise TraceError(f"{path}, line {i + 1}: {token!r} is not an integer CPU percent (0..100)") from None
        if not 0 <= value <= 100:
            raise TraceError(f"{path}, line {i + 1}: {value} is outside 0..100 (CPU percent)")
        values[i] = value
    return values


# -- Bitbrains GWA-T-12 -----------------------------------------------------------------------------

_BITBRAINS_TIME = "Timestamp [ms]"
_BITBRAINS_CPU = "CPU usage [%]"
_BITBRAINS_MEMORY = "Memory usage [KB]"
_BITBRAINS_READ = (_BITBRAINS_TIME, _BITBRAINS_CPU, _BITBRAINS_MEMORY)


@dataclass(frozen=True)
class _Samples:
    """One Bitbrains file as read: times (s, non-decreasing), CPU fractions, memory (MB), line numbers."""

    path: Path
    time_s: NDArray[np.float64]
    cpu: NDArray[np.float64]
    memory_mb: NDArray[np.float64]
    lines: NDArray[np.int64]


def load_bitbrains(path: str | Path, *, max_gap_s: float = BITBRAINS_MAX_GAP_S) -> TraceSet:
    """Read Bitbrains GWA-T-12 traces ("fastStorage" or one month of "Rnd"): one CSV file per VM.

    The published format (GWA-T-12 Bitbrains, the Grid Workloads Archive, TU Delft,
    http://gwa.ewi.tudelft.nl/datasets/gwa-t-12-bitbrains; Shen, van Beek and Iosup, "Statistical
    characterization of business-critical workloads hosted in cloud datacenters", CCGrid 2015): a
    header line, then one sample per line, columns separated by ``;`` and a tab, ``Timestamp [ms];
    CPU cores; CPU capacity provisioned [MHZ]; CPU usage [MHZ]; CPU usage [%]; Memory capacity
    provisioned [KB]; Memory usage [KB]; Disk read throughput [KB/s]; Disk write throughput [KB/s];
    Network received throughput [KB/s]; Network transmitted throughput [KB/s]``, about every 300 s.
    Despite its header the published timestamps are Unix seconds; a timestamp of 1e11 or more is
    read as milliseconds. Whitespace around fields is ignored.

    Both resources are replayed: ``CPU usage [%]`` / 100 is the utilization, ``Memory usage [KB]`` /
    1024 the memory in MB (:attr:`TraceSet.memory_mb`). The other columns are not read.

    The samples are not exactly 300 s apart (a few seconds of jitter, repeated timestamps, missing
    samples), so each VM is resampled onto one common grid of :data:`BITBRAINS_INTERVAL_S` steps by
    linear interpolation in time (as CloudSim interpolates PlanetLab samples); samples with the same
    timestamp are averaged. The grid runs from the latest first timestamp of the files to the
    earliest last one, so every VM has samples around every step. A gap of more than ``max_gap_s``
    seconds between two samples inside that span is an error.

    Parameters
    ----------
    path : a folder of per-VM files (VM i is the i-th in sorted byte order of names; hidden files
        are ignored), or one file
    max_gap_s : the longest gap between two samples bridged by interpolation

    Raises
    ------
    TraceError
        A missing path, an empty folder, a file without the three columns read, a line with
        another number of fields than the header, a non-number, a CPU usage outside 0..100 %, a
        negative memory usage, a timestamp earlier than the line before, a gap longer than
        ``max_gap_s``, or files that share no 300 s step; the message names the file, line and value.
    """
    where = Path(path)
    files = _format_files(where, "one Bitbrains GWA-T-12 CSV file per VM")
    samples = [_read_bitbrains_file(file) for file in files]
    start = max(float(s.time_s[0]) for s in samples)
    end = min(float(s.time_s[-1]) for s in samples)
    if end - start < BITBRAINS_INTERVAL_S:
        late = max(samples, key=lambda s: float(s.time_s[0]))
        early = min(samples, key=lambda s: float(s.time_s[-1]))
        raise TraceError(
            f"{where}: the files share no {BITBRAINS_INTERVAL_S} s step: {late.path.name} starts at "
            f"{late.time_s[0]:.0f} s, {early.path.name} ends at {early.time_s[-1]:.0f} s"
        )
    n_steps = int((end - start) // BITBRAINS_INTERVAL_S) + 1
    grid = start + BITBRAINS_INTERVAL_S * np.arange(n_steps, dtype=np.float64)
    cpu = np.empty((len(samples), n_steps))
    memory = np.empty((len(samples), n_steps))
    for row, s in enumerate(samples):
        gaps = np.diff(s.time_s)
        inside = (s.time_s[1:] > start) & (s.time_s[:-1] < grid[-1])
        too_long = np.flatnonzero((gaps > max_gap_s) & inside)
        if too_long.size:
            i = int(too_long[0])
            raise TraceError(
                f"{s.path}, line {s.lines[i + 1]}: timestamp {s.time_s[i + 1]:.0f} s is {gaps[i]:.0f} s after the "
                f"sample on line {s.lines[i]}; gaps of more than {max_gap_s:g} s are not interpolated"
            )
        times, first = np.unique(s.time_s, return_inverse=True)
        counts = np.bincount(first)
        cpu[row] = np.interp(grid, times, np.bincount(first, weights=s.cpu) / counts)
        memory[row] = np.interp(grid, times, np.bincount(first, weights=s.memory_mb) / counts)
    source = f"bitbrains:{where} ({n_steps} steps from {start:.0f} s)"
    return TraceSet(cpu, tuple(f.name for f in files), BITBRAINS_INTERVAL_S, source, memory)


def _read_bitbrains_file(path: Path) -> _Samples:
    """One VM's samples: a fast read with pandas when every line is clean, else the exact line-by-line pass."""
    import pandas as pd

    header = [field.strip() for field in _first_line(path).split(";")]
    if not all(c in header for c in _BITBRAINS_READ):
        return _parse_bitbrains_lines(path)
    try:
        frame = pd.read_csv(path, sep=";", header=None, skiprows=1, skip_blank_lines=False, engine="c")
    except (ValueError, OSError, EOFError):  # a ragged line, no samples, or not text: the exact pass says which
        return _parse_bitbrains_lines(path)
    while len(frame) and frame.iloc[-1].isna().all():  # blank lines at the end
        frame = frame.iloc[:-1]
    if not len(frame) or frame.shape[1] != len(header) or frame.isna().to_numpy().any():
        return _parse_bitbrains_lines(path)
    columns = frame.iloc[:, [header.index(c) for c in _BITBRAINS_READ]]
    if not all(pd.api.types.is_numeric_dtype(t) for t in columns.dtypes):
        return _parse_bitbrains_lines(path)
    time_s, cpu, memory_kb = (columns.iloc[:, k].to_numpy(dtype=np.float64) for k in range(3))
    if time_s[0] >= _MS_THRESHOLD:
        time_s = time_s * 1e-3
    if not (
        np.isfinite(columns.to_numpy(dtype=np.float64)).all()
        and (np.diff(time_s) >= 0).all()
        and ((cpu >= 0) & (cpu <= 100)).all()
        and (memory_kb >= 0).all()
    ):
        return _parse_bitbrains_lines(path)
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    return _Samples(path, time_s, cpu / 100.0, memory_kb / _KB_PER_MB, lines)


def _parse_bitbrains_lines(path: Path) -> _Samples:
    """One VM's samples, line by line, raising the TraceError for the first bad line."""
    lines = _text_lines(path, "Bitbrains GWA-T-12 CSV")
    if not lines:
        raise TraceError(f"{path}: the file is empty (expected a Bitbrains GWA-T-12 header, then samples)")
    header = [field.strip() for field in lines[0].split(";")]
    for column in _BITBRAINS_READ:
        if column not in header:
            raise TraceError(
                f"{path}, line 1: no column {column!r} in the header {lines[0][:80]!r}; not a Bitbrains GWA-T-12 "
                f"file, whose header starts 'Timestamp [ms];\\tCPU cores;'"
            )
    at_time, at_cpu, at_memory = (header.index(c) for c in _BITBRAINS_READ)
    rows = _rows(path, lines[1:], first_line=2)
    if not rows:
        raise TraceError(f"{path}: has a header and no samples")
    n = len(rows)
    time_s, cpu, memory_kb = np.empty(n), np.empty(n), np.empty(n)
    numbers = np.empty(n, dtype=np.int64)
    scale = 1.0
    for i, (line_no, line) in enumerate(rows):
        fields = line.split(";")
        if len(fields) != len(header):
            raise TraceError(
                f"{path}, line {line_no}: {len(fields)} fields; expected {len(header)}, as in the header "
                f"(separated by ';')"
            )
        t = _number(fields[at_time], path, line_no, "timestamp")
        if i == 0 and t >= _MS_THRESHOLD:
            scale = 1e-3
        t *= scale
        if i and t < time_s[i - 1]:
            raise TraceError(
                f"{path}, line {line_no}: timestamp {fields[at_time].strip()} is earlier than the line before's"
            )
        use = _number(fields[at_cpu], path, line_no, "CPU usage")
        if not 0 <= use <= 100:
            raise TraceError(f"{path}, line {line_no}: CPU usage {fields[at_cpu].strip()} is outside 0..100 (%)")
        held = _number(fields[at_memory], path, line_no, "memory usage")
        if held < 0:
            raise TraceError(f"{path}, line {line_no}: memory usage {fields[at_memory].strip()} KB is negative")
        time_s[i], cpu[i], memory_kb[i], numbers[i] = t, use / 100.0, held, line_no
    return _Samples(path, time_s, cpu, memory_kb / _KB_PER_MB, numbers)


# -- Azure public VM dataset ------------------------------------------------------------------------

_AZURE_COLUMNS = ("timestamp", "VM id", "min CPU", "max CPU", "avg CPU")
_AZURE_READINGS = ("min", "max", "avg")


def load_azure(path: str | Path, *, reading: str = "avg") -> TraceSet:
    """Read the Azure public VM dataset's CPU readings (AzurePublicDataset V1 or V2, ``vm_cpu_readings``).

    The published format (github.com/Azure/AzurePublicDataset, AzurePublicDatasetV1.md and V2.md;
    Cortez et al., "Resource Central", SOSP 2017): CSV files without a header, optionally gzipped,
    one reading per line, ``timestamp (s, from 0), VM id, min CPU, max CPU, avg CPU``, the CPU
    utilization during each 5 minutes as a percent, every :data:`AZURE_INTERVAL_S` seconds.

    VMs come and go, so a rule is needed: the span is from the first to the last timestamp of all the
    files read, and only the VMs with a reading at every step of it are kept (a VM that starts late,
    ends early or misses a reading is left out; ``source`` says how many were kept). Pick the span
    by the files you pass. VMs are in sorted byte order of their ids.

    Parameters
    ----------
    path : one file, or a folder whose files (sorted by name, hidden files ignored) are read together
    reading : "avg" (default), "max" or "min": which column is the utilization

    Raises
    ------
    TraceError
        A missing path, a line without five fields, a non-number, a CPU reading outside 0..100 %, a
        timestamp off the 300 s grid of the first, a step at which no VM has a reading (a gap), a
        second reading of a VM at one timestamp, or no VM with a reading at every step; the message
        names the file, line and value.
    """
    import pandas as pd

    if reading not in _AZURE_READINGS:
        raise ValueError(
            f"The 'reading' parameter of load_azure must be one of {', '.join(_AZURE_READINGS)}. Got {reading!r}."
        )
    where = Path(path)
    files = _format_files(where, "Azure vm_cpu_readings files")
    column = 2 + _AZURE_READINGS.index(reading)
    times, values, file_of, line_of, vms = [], [], [], [], []
    for index, file in enumerate(files):
        frame = _read_azure_file(file)
        times.append(frame[0].to_numpy(dtype=np.int64))
        values.append(frame[column].to_numpy(dtype=np.float64))
        vms.append(frame[1].astype("category"))
        line_of.append(np.arange(1, len(frame) + 1, dtype=np.int64))
        file_of.append(np.full(len(frame), index, dtype=np.int64))
    time_s, value = np.concatenate(times), np.concatenate(values)
    lines, file_index = np.concatenate(line_of), np.concatenate(file_of)
    ids = pd.api.types.union_categoricals(vms, sort_categories=True)
    names = np.asarray(ids.categories, dtype=str)
    vm = np.asarray(ids.codes, dtype=np.int64)

    def where_is(row: int) -> str:
        return f"{files[int(file_index[row])]}, line {lines[row]}"

    stamps = np.unique(time_s)
    if stamps.size < 2:
        raise TraceError(f"{where}: needs readings at two timestamps at least (found {stamps.size})")
    off_grid = np.flatnonzero((time_s - stamps[0]) % AZURE_INTERVAL_S)
    if off_grid.size:
        row = int(off_grid[0])
        raise TraceError(
            f"{where_is(row)}: timestamp {time_s[row]} is not a multiple of {AZURE_INTERVAL_S} s after the first "
            f"({stamps[0]})"
        )
    gaps = np.flatnonzero(np.diff(stamps) != AZURE_INTERVAL_S)
    if gaps.size:
        before, after = int(stamps[gaps[0]]), int(stamps[gaps[0] + 1])
        row = int(np.flatnonzero(time_s == after)[0])
        first_missing, last_missing = before + AZURE_INTERVAL_S, after - AZURE_INTERVAL_S
        missing = first_missing if first_missing == last_missing else f"{first_missing}..{last_missing}"
        raise TraceError(
            f"{where_is(row)}: timestamp {after} follows {before}: no VM has a reading at {missing} "
            f"(readings are every {AZURE_INTERVAL_S} s)"
        )
    n_steps = int(stamps.size)
    step = (time_s - stamps[0]) // AZURE_INTERVAL_S
    key = vm * n_steps + step
    _, first = np.unique(key, return_index=True)
    if first.size < key.size:
        repeated = np.ones(key.size, dtype=bool)
        repeated[first] = False
        row = int(np.flatnonzero(repeated)[0])
        raise TraceError(f"{where_is(row)}: a second reading of VM {str(names[vm[row]])!r} at timestamp {time_s[row]}")
    complete = np.bincount(vm, minlength=names.size) == n_steps
    if not complete.any():
        raise TraceError(
            f"{where}: no VM has a reading at every step from {stamps[0]} to {stamps[-1]} s ({names.size} VMs, "
            f"{n_steps} steps); pass fewer files for a shorter span"
        )
    row_of = np.cumsum(complete) - 1
    kept = complete[vm]
    table = np.empty((int(complete.sum()), n_steps))
    table[row_of[vm[kept]], step[kept]] = value[kept] / 100.0
    source = f"azure:{where} ({reading} CPU; {table.shape[0]} of {names.size} VMs have a reading at every step)"
    return TraceSet(table, tuple(str(n) for n in names[complete]), AZURE_INTERVAL_S, source)


def _read_azure_file(path: Path) -> Any:
    """One vm_cpu_readings file as a frame with columns 0..4, every cell checked (or a TraceError)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, skip_blank_lines=False, dtype={1: str}, engine="c")
    except (ValueError, OSError, EOFError):  # a ragged line, an empty or undecodable file: the scan says which
        frame = None
    if frame is not None:
        while len(frame) and frame.iloc[-1].isna().all():  # blank lines at the end
            frame = frame.iloc[:-1]
        numbers = frame.iloc[:, [0, 2, 3, 4]] if frame.shape[1] == len(_AZURE_COLUMNS) else None
        if (
            numbers is not None
            and len(frame)
            and all(pd.api.types.is_numeric_dtype(t) for t in numbers.dtypes)
            and not frame.isna().to_numpy().any()
            and bool((numbers.iloc[:, 0] % 1 == 0).all())
            and bool(((numbers.iloc[:, 1:] >= 0) & (numbers.iloc[:, 1:] <= 100)).to_numpy().all())
        ):
            return frame
    _explain_azure_file(path)
    raise TraceError(f"{path}: cannot be read as Azure CPU readings (CSV: timestamp, VM id, min, max, avg CPU %)")


def _explain_azure_file(path: Path) -> None:
    """Raise the TraceError for the first bad line of an Azure readings file (the slow, exact pass)."""
    rows = _rows(path, _text_lines(path, "Azure vm_cpu_readings CSV"), first_line=1)
    if not rows:
        raise TraceError(f"{path}: the file holds no readings")
    for line_no, line in rows:
        fields = line.split(",")
        if len(fields) != len(_AZURE_COLUMNS):
            raise TraceError(
                f"{path}, line {line_no}: {len(fields)} fields; expected {len(_AZURE_COLUMNS)} "
                f"({', '.join(_AZURE_COLUMNS)}; no header)"
            )
        stamp = _number(fields[0], path, line_no, "timestamp")
        if not stamp.is_integer():
            raise TraceError(f"{path}, line {line_no}: timestamp {fields[0].strip()} is not a whole number of seconds")
        if not fields[1].strip():
            raise TraceError(f"{path}, line {line_no}: the VM id is empty")
        for label, text in zip(_AZURE_COLUMNS[2:], fields[2:], strict=True):
            if not 0 <= _number(text, path, line_no, label) <= 100:
                raise TraceError(f"{path}, line {line_no}: {label} {text.strip()} is outside 0..100 (%)")


# -- shared by the file formats ---------------------------------------------------------------------


def _format_files(where: Path, what: str) -> list[Path]:
    """The files of a trace path: the path itself, or a folder's visible files in sorted byte order."""
    if where.is_file():
        return [where]
    if not where.exists():
        raise TraceError(f"{where}: no such trace folder or file")
    files = sorted(
        (p for p in where.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name.encode()
    )
    if not files:
        raise TraceError(f"{where}: the folder holds no files (expected {what})")
    return files


def _open_text(path: Path) -> Any:
    """A text stream of the file, decompressed when its name ends in .gz."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return path.open(encoding="utf-8", newline=None)


def _text_lines(path: Path, what: str) -> list[str]:
    try:
        with _open_text(path) as stream:
            return list(stream.read().splitlines())
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise TraceError(f"{path}: cannot be read as a {what} ({exc})") from None


def _rows(path: Path, lines: list[str], *, first_line: int) -> list[tuple[int, str]]:
    """(line number, text) of the data lines; blank lines at the end are dropped, others are errors."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    rows = list(enumerate(lines[:end], start=first_line))
    for line_no, line in rows:
        if not line.strip():
            raise TraceError(f"{path}, line {line_no}: the line is blank")
    return rows


def _number(text: str, path: Path, line_no: int, label: str) -> float:
    token = text.strip()
    try:
        value = float(token)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise TraceError(f"{path}, line {line_no}: {label} {token!r} is not a number")
    return value


def _first_line(path: Path) -> str:
    try:
        with _open_text(path) as stream:
            return str(stream.readline())
    except (UnicodeDecodeError, OSError, EOFError):
        return ""


def _sniff(path: Path) -> str:
    """The format of one trace file, from its name and first line: bitbrains, azure or table."""
    line = _first_line(path)
    if line.lstrip().startswith("Timestamp") and ";" in line:
        return "bitbrains"
    fields = line.split(",")
    if path.name.startswith("vm_cpu_readings"):
        return "azure"
    if len(fields) == len(_AZURE_COLUMNS):
        try:
            float(fields[0])
        except ValueError:
            return "table"
        return "azure"
    return "table"


# -- long tables and synthetic days -----------------------------------------------------------------


def load_long_table(path: str | Path, *, cpu_unit: str | None = None, interval_s: int | None = None) -> TraceSet:
    """Read a tidy long table (CSV or Parquet) with columns ``vm``, ``step`` or ``timestamp``, ``cpu``.

    ``cpu`` is a percent or a fraction: given by ``cpu_unit`` ("percent" or "fraction"), or by the
    column name ``cpu_percent`` / ``cpu_fraction``. Timestamps (seconds or datetimes) must be evenly
    spaced; every VM must have a value at every step.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise TraceError(f"{file}: no such trace file")
    try:
        frame = pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
    except Exception as exc:
        raise TraceError(f"{file}: cannot be read as a table ({exc})") from None
    columns = set(frame.columns)
    if "vm" not in columns:
        raise TraceError(f"{file}: missing column 'vm' (columns: {sorted(map(str, columns))})")
    cpu_col = next((c for c in ("cpu", "cpu_percent", "cpu_fraction") if c in columns), None)
    if cpu_col is None:
        raise TraceError(f"{file}: missing column 'cpu' (or 'cpu_percent' / 'cpu_fraction')")
    unit = cpu_unit or {"cpu_percent": "percent", "cpu_fraction": "fraction"}.get(cpu_col)
    if unit not in ("percent", "fraction"):
        raise TraceError(f"{file}: say whether 'cpu' is a percent or a fraction (--cpu-unit percent|fraction)")
    # CSV: the header is line 1, so data row i is line i + 2. Parquet has no lines: row i + 1.
    is_parquet = file.suffix.lower() in (".parquet", ".pq")

    def where(i: int) -> str:
        return f"{file}, row {i + 1}" if is_parquet else f"{file}, line {i + 2}"

    cpu = pd.to_numeric(frame[cpu_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(cpu))
    if bad.size:
        i = int(bad[0])
        raise TraceError(f"{where(i)}: cpu value {_cell(frame[cpu_col].iloc[i])} is not a number")
    scale = 100.0 if unit == "percent" else 1.0
    out_of_range = np.flatnonzero((cpu < 0) | (cpu > scale))
    if out_of_range.size:
        i = int(out_of_range[0])
        hint = " (it looks like a percent: use --cpu-unit percent)" if unit == "fraction" and cpu[i] > 1 else ""
        raise TraceError(f"{where(i)}: cpu {_cell(frame[cpu_col].iloc[i])} is outside 0..{scale:g}{hint}")
    if "step" in columns:
        steps = pd.to_numeric(frame["step"], errors="coerce")
        if steps.isna().any() or (steps < 0).any() or (steps % 1 != 0).any():
            i = int(np.flatnonzero(steps.isna() | (steps < 0) | (steps % 1 != 0))[0])
            raise TraceError(f"{where(i)}: step {_cell(frame['step'].iloc[i])} is not a non-negative integer")
        step_index = steps.to_numpy(dtype=np.int64)
        interval = interval_s or PLANETLAB_INTERVAL_S
    elif "timestamp" in columns:
        ts = frame["timestamp"]
        seconds = (
            pd.to_numeric(ts, errors="coerce")
            if pd.api.types.is_numeric_dtype(ts)
            # Not astype("int64"): pandas 3 may parse at us (not ns) resolution, and NaT would
            # become a huge negative integer instead of NaN.
            else (pd.to_datetime(ts, errors="coerce", utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
        )
        if seconds.isna().any():
            i = int(np.flatnonzero(seconds.isna())[0])
            raise TraceError(f"{where(i)}: timestamp {_cell(ts.iloc[i])} is not a time")
        uniq = np.unique(seconds.to_numpy(dtype=np.float64))
        gaps = np.diff(uniq)
        if gaps.size == 0:
            raise TraceError(f"{file}: needs at least two distinct timestamps")
        if not np.allclose(gaps, gaps[0]):
            raise TraceError(f"{file}: timestamps are not evenly spaced (gaps from {gaps.min():g} to {gaps.max():g} s)")
        interval = round(float(gaps[0]))
        step_index = np.rint((seconds.to_numpy(dtype=np.float64) - uniq[0]) / gaps[0]).astype(np.int64)
    else:
        raise TraceError(f"{file}: needs a 'step' or a 'timestamp' column")
    names, vm_index = np.unique(frame["vm"].astype(str).to_numpy(), return_inverse=True)
    n_steps = int(step_index.max()) + 1
    table = np.full((len(names), n_steps), np.nan)
    seen = np.zeros((len(names), n_steps), dtype=np.int64)
    np.add.at(seen, (vm_index, step_index), 1)
    dup = np.argwhere(seen > 1)
    if dup.size:
        vm, step = int(dup[0][0]), int(dup[0][1])
        raise TraceError(f"{file}: VM {str(names[vm])!r} has more than one value at step {step}")
    table[vm_index, step_index] = cpu / scale
    missing = np.argwhere(np.isnan(table))
    if missing.size:
        vm, step = int(missing[0][0]), int(missing[0][1])
        raise TraceError(f"{file}: VM {str(names[vm])!r} has no value at step {step}")
    return TraceSet(table, tuple(str(n) for n in names), interval, str(file))


def _cell(value: object) -> str:
    """A table cell for a message: text quoted as read, numbers plain (never a numpy repr)."""
    import pandas as pd

    if isinstance(value, str):
        return repr(value)
    if value is None or bool(pd.isna(value)):  # type: ignore[call-overload]
        return "'' (empty)"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def synthetic_planetlab_like(n_vms: int = 1000, n_steps: int = PLANETLAB_STEPS, seed: int = 1) -> TraceSet:
    """A seeded synthetic day with PlanetLab-like statistics (integer percents at 300 s).

    Most VMs idle at a few percent with bursts; a minority are busy. Each VM is an AR(1) process
    around a per-VM level drawn from a heavy-tailed distribution, with a shared diurnal swing and
    occasional spikes, rounded to integer percents and clipped to 0..99 as the real traces are.
    """
    rng = np.random.default_rng(seed)
    level = np.clip(rng.lognormal(mean=2.3, sigma=0.9, size=n_vms), 0.5, 80.0)
    phi = rng.uniform(0.6, 0.95, size=n_vms)
    noise_sd = level * rng.uniform(0.15, 0.5, size=n_vms)
    t = np.arange(n_steps)
    diurnal = 1.0 + 0.25 * np.sin(2 * np.pi * (t / n_steps) + rng.uniform(0, 2 * np.pi, size=(n_vms, 1)))
    x = np.empty((n_vms, n_steps))
    state = np.zeros(n_vms)
    eps = rng.standard_normal((n_vms, n_steps))
    for k in range(n_steps):
        state = phi * state + np.sqrt(1 - phi**2) * eps[:, k]
        x[:, k] = state
    spikes = rng.random((n_vms, n_steps)) < 0.01
    values = level[:, None] * diurnal + noise_sd[:, None] * x + spikes * rng.uniform(20, 60, size=(n_vms, n_steps))
    percents = np.clip(np.rint(values), 0, 99)
    names = tuple(f"synthetic-{i:05d}" for i in range(n_vms))
    return TraceSet(percents / 100.0, names, PLANETLAB_INTERVAL_S, f"synthetic(seed={seed}, vms={n_vms})")


def load_traces(spec: str | Path, *, cpu_unit: str | None = None) -> TraceSet:
    """The traces named by ``spec``: ``FORMAT:PATH``, a built-in day, or a path whose shape says the format.

    Prefixes (:data:`TRACE_FORMATS`): ``planetlab:DAY`` a built-in day (:data:`PLANETLAB_DAYS`) or
    ``planetlab:FOLDER``; ``bitbrains:PATH`` (:func:`load_bitbrains`); ``azure:PATH`` (average CPU)
    and ``azure-max:PATH`` (maximum CPU) (:func:`load_azure`); ``table:FILE`` (:func:`load_long_table`).
    Without a prefix: a folder is a Bitbrains folder if its first file starts with the Bitbrains
    header, Azure readings if its files are named ``vm_cpu_readings*``, else a PlanetLab day; a file
    is Bitbrains or Azure by the same signs (or a headerless five-field CSV line), else a long table.
    ``cpu_unit`` applies to long tables only.

    Raises
    ------
    TraceError
        The path does not exist, or a trace is unusable (the message names the file, line and value).
    """
    text = str(spec)
    kind, rest = split_trace_spec(text)
    where = Path(rest).expanduser()
    if kind == "planetlab" and (rest in PLANETLAB_DAYS or not where.is_dir()):
        return load_planetlab_day(rest)
    if kind is None and where.is_dir():
        files = sorted(p for p in where.iterdir() if p.is_file() and not p.name.startswith("."))
        if files and all(f.name.startswith("vm_cpu_readings") for f in files):
            kind = "azure"
        else:
            kind = "bitbrains" if files and _sniff(files[0]) == "bitbrains" else "planetlab"
    elif kind is None and where.is_file():
        kind = _sniff(where)
    if kind == "planetlab":
        return load_planetlab(where)
    if kind == "bitbrains":
        return load_bitbrains(where)
    if kind in ("azure", "azure-max"):
        return load_azure(where, reading="max" if kind == "azure-max" else "avg")
    if kind == "table":
        return load_long_table(where, cpu_unit=cpu_unit)
    hint = f" (the built-in day is planetlab:{text})" if text in PLANETLAB_DAYS else ""
    head, colon, _ = text.partition(":")
    if colon and not hint and head.isalpha():
        hint = f" (known formats: {', '.join(f'{f}:' for f in TRACE_FORMATS)})"
    raise TraceError(f"{where}: no such trace folder or file{hint}")


def split_trace_spec(spec: str | Path) -> tuple[str | None, str]:
    """``FORMAT:PATH`` -> (FORMAT, PATH) for a format of :data:`TRACE_FORMATS`; anything else -> (None, spec)."""
    text = str(spec)
    head, colon, rest = text.partition(":")
    return (head.lower(), rest) if colon and head.lower() in TRACE_FORMATS else (None, text)

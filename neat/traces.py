"""CPU utilization traces: PlanetLab days, tidy long tables, and a seeded synthetic workload.

Every loader returns a :class:`TraceSet`: a (n_vms, n_steps) float64 array of utilization
fractions in [0, 1], one row per VM, with the VM names and the sampling interval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from neat.constants import PLANETLAB_INTERVAL_S, PLANETLAB_STEPS


class TraceError(ValueError):
    """A trace file or folder is unusable; the message names the file, line and value."""


@dataclass(frozen=True)
class TraceSet:
    """Per-VM CPU utilization.

    Attributes
    ----------
    utilization : float64 array of shape (n_vms, n_steps), fractions in [0, 1]
    names : VM names, one per row
    interval_s : seconds between samples
    source : where the traces came from (a path, or "synthetic(seed=...)")
    """

    utilization: NDArray[np.float64]
    names: tuple[str, ...]
    interval_s: int
    source: str

    @property
    def n_vms(self) -> int:
        return int(self.utilization.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.utilization.shape[1])

    def content_hash(self) -> str:
        """A hash of the values and the interval (names excluded), for caches."""
        h = hashlib.sha256()
        h.update(str(self.interval_s).encode())
        h.update(np.ascontiguousarray(self.utilization).tobytes())
        return h.hexdigest()[:16]


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


def load_traces(path: str | Path, *, cpu_unit: str | None = None) -> TraceSet:
    """A PlanetLab day (a folder, one file per VM) or a long table (a CSV or Parquet file).

    Raises
    ------
    TraceError
        The path does not exist, or a trace is unusable (the message names the file, line and value).
    """
    where = Path(path)
    if where.is_dir():
        return load_planetlab(where)
    if where.exists():
        return load_long_table(where, cpu_unit=cpu_unit)
    raise TraceError(f"{where}: no such trace folder or file")

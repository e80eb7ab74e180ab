"""Energy used and saved, from the recorded power states and each host's power model.

Over a period, a host's power is piecewise: while it is on (or its state is unknown, or it is on its
way up or down) it draws ``P(u)`` of its power table at its measured utilization ``u``; while it is
suspended or off it draws ``sleep_w``. The baseline is every host awake all the time, idle hosts at
their idle power (a sleeping host has been emptied, so awake it would idle). Utilization between
two samples is the earlier sample (a step function), and 0 before a host's first sample in the
period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from algorithms.power import power_w
from neat.db.store import Store

ASLEEP = frozenset({"suspended", "off"})
J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class HostEnergy:
    host: str
    used_kwh: float
    all_awake_kwh: float
    asleep_s: float

    @property
    def saved_kwh(self) -> float:
        return self.all_awake_kwh - self.used_kwh


@dataclass(frozen=True)
class EnergyReport:
    since: datetime
    until: datetime
    hosts: tuple[HostEnergy, ...]

    @property
    def used_kwh(self) -> float:
        return sum(h.used_kwh for h in self.hosts)

    @property
    def all_awake_kwh(self) -> float:
        return sum(h.all_awake_kwh for h in self.hosts)

    @property
    def saved_kwh(self) -> float:
        return self.all_awake_kwh - self.used_kwh


def estimate_energy(
    store: Store,
    power_tables_w: Mapping[str, NDArray[np.float64]],
    since: datetime,
    until: datetime,
    *,
    default_table_w: NDArray[np.float64],
    sleep_w: float = 0.0,
    max_samples: int = 100_000,
) -> EnergyReport:
    """Energy of every host in the inventory over ``[since, until)``."""
    if until <= since:
        raise ValueError(f"the period must not be empty: since {since.isoformat()} until {until.isoformat()}")
    hosts = [h.name for h in store.hosts()]
    if not hosts:
        return EnergyReport(since, until, ())
    windows = store.host_windows(max_samples, hosts=hosts, since=since)
    results = []
    for row, name in enumerate(windows.names):
        n = int(windows.n_valid[row])
        times = windows.recorded_at[row, -n:] if n else np.array([], dtype="datetime64[us]")
        utilization = windows.utilization[row, -n:] if n else np.array([])
        table = power_tables_w.get(name, default_table_w)
        results.append(_host_energy(store, name, table, times, utilization, since, until, sleep_w))
    return EnergyReport(since, until, tuple(results))


def _host_energy(
    store: Store,
    host: str,
    table_w: NDArray[np.float64],
    sample_times: NDArray[np.datetime64],
    utilization: NDArray[np.float64],
    since: datetime,
    until: datetime,
    sleep_w: float,
) -> HostEnergy:
    before = store.power_transitions(host=host, until=since)
    state = before[-1].to_state if before else "unknown"
    changes = [(since, state)] + [
        (t.changed_at, t.to_state) for t in store.power_transitions(host=host, since=since, until=until)
    ]
    edges = [*(c[0] for c in changes), until]
    origin = _utc64(since)
    seconds = np.array([(_utc64(t) - origin) / np.timedelta64(1, "s") for t in edges])
    sample_s = (sample_times - origin) / np.timedelta64(1, "s")
    used_j = 0.0
    awake_j = 0.0
    asleep_s = 0.0
    for (start_s, end_s), (_, segment_state) in zip(pairwise(seconds), changes, strict=True):
        if end_s <= start_s:
            continue
        if segment_state in ASLEEP:
            awake_j += float(table_w[0]) * (end_s - start_s)
            used_j += sleep_w * (end_s - start_s)
            asleep_s += end_s - start_s
        else:
            awake_w = _mean_power_w(table_w, sample_s, utilization, start_s, end_s)
            awake_j += awake_w * (end_s - start_s)
            used_j += awake_w * (end_s - start_s)
    return HostEnergy(host, used_j / J_PER_KWH, awake_j / J_PER_KWH, asleep_s)


def _utc64(t: datetime) -> np.datetime64:
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")


def _mean_power_w(
    table_w: NDArray[np.float64],
    sample_s: NDArray[np.float64],
    utilization: NDArray[np.float64],
    start_s: float,
    end_s: float,
) -> float:
    """Time-weighted mean of P(u) over [start_s, end_s), u a step function of the samples."""
    cuts = np.concatenate([[start_s], sample_s[(sample_s > start_s) & (sample_s < end_s)], [end_s]])
    index = np.searchsorted(sample_s, cuts[:-1], side="right") - 1
    u = np.where(index >= 0, utilization[np.clip(index, 0, None)] if utilization.size else 0.0, 0.0)
    watts = power_w(table_w, u)
    return float(np.sum(watts * np.diff(cuts)) / (end_s - start_s))

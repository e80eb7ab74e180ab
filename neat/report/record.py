"""The result of one cell of the matrix (one policy on one day), as the report and its cache keep it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.simulation.results import DerivedMetrics, SimulationResult

#: Per-step series kept for the plots (the simulator's names and units).
SERIES = (
    "time_s",
    "active_hosts",
    "power_w",
    "overloaded_hosts",
    "migrations",
    "lower_bound_hosts",
    "lower_bound_power_w",
    "demand_mips",
)


@dataclass(frozen=True)
class CellResult(DerivedMetrics):
    """One policy's run on one day: the metrics of :class:`SimulationResult`, unrounded, and its series.

    ``kind`` is the policy's kind ("npa", "dvfs" or "dynamic"); ``series`` maps each name of
    :data:`SERIES` to a float64 array of shape (steps,).
    """

    policy: str
    kind: str
    mode: str
    vms: int
    hosts: int
    steps: int
    energy_kwh: float
    energy_lower_bound_kwh: float
    slatah: float
    slatah_mean_per_host: float
    pdm: float
    pdm_mean_per_vm: float
    migrations: int
    host_shutdowns: int
    mean_time_before_host_shutdown_s: float
    wall_time_s: float
    series: dict[str, NDArray[np.float64]]
    host_suspends: int = 0
    host_wakes: int = 0
    migration_energy_kwh: float = 0.0
    transition_energy_kwh: float = 0.0
    ram_binding_share: float = 0.0
    bound_hosts_cpu_only: int = 0
    bound_hosts_ram_only: int = 0

    @classmethod
    def from_simulation(cls, result: SimulationResult, kind: str) -> CellResult:
        scalars = {f.name: _plain(getattr(result, f.name)) for f in fields(cls) if f.name not in ("kind", "series")}
        series = {k: np.asarray(result.series[k], dtype=np.float64) for k in SERIES}
        return cls(kind=kind, series=series, **scalars)

    def scalars(self) -> dict[str, Any]:
        """Every field but the series, as plain Python values (JSON-ready)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "series"}

    def same_metrics(self, other: CellResult) -> bool:
        """Equal in every field but the wall time, series compared exactly."""
        mine, theirs = self.scalars(), other.scalars()
        mine.pop("wall_time_s")
        theirs.pop("wall_time_s")
        return mine == theirs and all(np.array_equal(self.series[k], other.series[k]) for k in SERIES)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (so records compare and serialize alike)."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["SERIES", "CellResult"]

"""What a simulation reports: its metrics (derived ones defined once) and its per-step series."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.decision.inputs import PhaseTimes


class DerivedMetrics:
    """The metrics derived from energy, its bound, SLATAH and PDM (for every result record)."""

    energy_kwh: float
    energy_lower_bound_kwh: float
    slatah: float
    pdm: float

    @property
    def gap_to_bound(self) -> float:
        return self.energy_kwh / self.energy_lower_bound_kwh - 1.0 if self.energy_lower_bound_kwh > 0 else 0.0

    @property
    def slav(self) -> float:
        return self.slatah * self.pdm

    @property
    def esv(self) -> float:
        return self.energy_kwh * self.slav


@dataclass
class SimulationResult(DerivedMetrics):
    """What one run of one policy produced."""

    policy: str
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
    phases: PhaseTimes
    series: dict[str, NDArray[Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON record: fractions, not percents."""
        return {
            "policy": self.policy,
            "mode": self.mode,
            "vms": self.vms,
            "hosts": self.hosts,
            "steps": self.steps,
            "energy_kwh": round(self.energy_kwh, 4),
            "energy_lower_bound_kwh": round(self.energy_lower_bound_kwh, 4),
            "gap_to_bound": round(self.gap_to_bound, 6),
            "slatah": self.slatah,
            "slatah_mean_per_host": self.slatah_mean_per_host,
            "pdm": self.pdm,
            "pdm_mean_per_vm": self.pdm_mean_per_vm,
            "slav": self.slav,
            "esv": self.esv,
            "migrations": self.migrations,
            "host_shutdowns": self.host_shutdowns,
            "mean_time_before_host_shutdown_s": round(self.mean_time_before_host_shutdown_s, 2),
            "wall_time_s": round(self.wall_time_s, 3),
            "phase_times_s": self.phases.as_dict(),
        }


#: The per-step series of a run, one value per decision instant.
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


def as_arrays(series: dict[str, list[float]]) -> dict[str, NDArray[Any]]:
    return {k: np.asarray(v) for k, v in series.items()}

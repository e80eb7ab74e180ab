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
    host_suspends: int = 0
    host_wakes: int = 0
    migration_energy_kwh: float = 0.0
    transition_energy_kwh: float = 0.0
    costs: str = "free"
    series: dict[str, NDArray[Any]] = field(default_factory=dict)

    @property
    def ram_binding_share(self) -> float:
        """Share of the rounds whose bound RAM decides (the rest: CPU)."""
        binds = self.series.get("ram_binds")
        return float(np.mean(binds)) if binds is not None and binds.size else 0.0

    def bound_hosts(self, key: str) -> int:
        """Median over the rounds of a bound's host count series (``cpu_only`` or ``ram_only``)."""
        values = self.series.get(f"lower_bound_{key}_hosts")
        return int(np.median(values)) if values is not None and values.size else 0

    @property
    def bound_hosts_cpu_only(self) -> int:
        return self.bound_hosts("cpu_only")

    @property
    def bound_hosts_ram_only(self) -> int:
        return self.bound_hosts("ram_only")

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
            "bound_binding": {"ram": round(self.ram_binding_share, 4), "cpu": round(1 - self.ram_binding_share, 4)},
            "bound_hosts_cpu_only": self.bound_hosts_cpu_only,
            "bound_hosts_ram_only": self.bound_hosts_ram_only,
            "slatah": self.slatah,
            "slatah_mean_per_host": self.slatah_mean_per_host,
            "pdm": self.pdm,
            "pdm_mean_per_vm": self.pdm_mean_per_vm,
            "slav": self.slav,
            "esv": self.esv,
            "migrations": self.migrations,
            "host_shutdowns": self.host_shutdowns,
            "mean_time_before_host_shutdown_s": round(self.mean_time_before_host_shutdown_s, 2),
            "costs": self.costs,
            "host_suspends": self.host_suspends,
            "host_wakes": self.host_wakes,
            "migration_energy_kwh": round(self.migration_energy_kwh, 4),
            "transition_energy_kwh": round(self.transition_energy_kwh, 4),
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
    "lower_bound_cpu_only_hosts",
    "lower_bound_ram_only_hosts",
    "ram_binds",
)


def as_arrays(series: dict[str, list[float]]) -> dict[str, NDArray[Any]]:
    return {k: np.asarray(v) for k, v in series.items()}


def binding_note(ram_share: float, ram_only_hosts: int, cpu_only_hosts: int, bound_kwh: float) -> str:
    """The sentence that says RAM decides the host count (empty when CPU does in most rounds)."""
    if ram_share <= 0.5:
        return ""
    return (
        f"RAM limits consolidation here: {ram_only_hosts} hosts are needed for RAM alone, where CPU alone needs "
        f"{cpu_only_hosts}, in {ram_share:.0%} of the rounds; CPU policies cannot do better than the bound "
        f"({bound_kwh:.1f} kWh), so they differ little."
    )

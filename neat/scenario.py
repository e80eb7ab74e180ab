"""Data-center scenarios: host types with counts and power tables, VM types, the interval.

The built-in :func:`cloudsim_standard` is the field's standard setup (Beloglazov & Buyya, CCPE
2012, as CloudSim 4.0 runs it): 800 hosts alternating HP ProLiant ML110 G4 / G5, four VM types
assigned in blocks. Other data centers are described in a TOML file (see :func:`load_scenario`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms.base import HostTable
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W, check_power_table, linear_power_table
from neat.decision.limits import UNLIMITED, Limits, limits_from_table
from neat.tables import TableError

#: Network bandwidth of every host in the standard setup, Mbit/s.
STANDARD_HOST_BANDWIDTH_MBIT_S = 1000.0


class ScenarioError(ValueError):
    """A scenario file is unusable; the message names the file, the key and the value."""


@dataclass(frozen=True)
class HostType:
    name: str
    count: int
    cores: int
    core_mips: float
    ram_mb: float
    power_w: NDArray[np.float64]  # shape (11,)
    bandwidth_mbit_s: float = STANDARD_HOST_BANDWIDTH_MBIT_S

    @property
    def mips(self) -> float:
        return self.cores * self.core_mips


@dataclass(frozen=True)
class VmType:
    name: str
    mips: float
    ram_mb: float


@dataclass(frozen=True)
class Scenario:
    """A data center.

    ``host_order`` is "interleaved" (host i has type i mod n_types, as CloudSim's setup) or
    "blocks" (all hosts of the first type, then the next). VMs get types in blocks of
    ceil(n_vms / n_types) (CloudSim's assignment) or round robin.
    """

    name: str
    host_types: tuple[HostType, ...]
    vm_types: tuple[VmType, ...]
    interval_s: float = 300.0
    host_order: str = "interleaved"
    vm_assignment: str = "blocks"
    limits: Limits = UNLIMITED
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_hosts(self) -> int:
        return sum(t.count for t in self.host_types)

    def host_type_index(self) -> NDArray[np.intp]:
        """Type index of every host, shape (n_hosts,)."""
        counts = np.array([t.count for t in self.host_types])
        if self.host_order == "blocks":
            return np.repeat(np.arange(len(counts)), counts)
        order: list[int] = []
        remaining = counts.copy()
        while remaining.sum():
            for k in range(len(counts)):
                if remaining[k]:
                    order.append(k)
                    remaining[k] -= 1
        return np.array(order, dtype=np.intp)

    def hosts(self) -> HostTable:
        idx = self.host_type_index()
        return HostTable(
            cpu_mips=np.array([self.host_types[k].mips for k in idx], dtype=np.float64),
            pe_mips=np.array([self.host_types[k].core_mips for k in idx], dtype=np.float64),
            ram_mb=np.array([self.host_types[k].ram_mb for k in idx], dtype=np.float64),
            power_w=np.stack([self.host_types[k].power_w for k in idx]),
        )

    def host_bandwidth_mbit_s(self) -> NDArray[np.float64]:
        return np.array([self.host_types[k].bandwidth_mbit_s for k in self.host_type_index()])

    def vm_type_index(self, n_vms: int) -> NDArray[np.intp]:
        """Type index of every VM, shape (n_vms,)."""
        n_types = len(self.vm_types)
        if self.vm_assignment == "round_robin":
            return np.arange(n_vms) % n_types
        block = math.ceil(n_vms / n_types) if n_vms else 1
        return np.minimum(np.arange(n_vms) // block, n_types - 1)


def cloudsim_standard() -> Scenario:
    """800 hosts (G4 at even indices, G5 at odd), VM types 2500/2000/1000/500 MIPS, 300 s."""
    return Scenario(
        name="cloudsim-standard",
        host_types=(
            HostType("HP ProLiant ML110 G4", 400, 2, 1860.0, 4096.0, HP_PROLIANT_ML110_G4_W),
            HostType("HP ProLiant ML110 G5", 400, 2, 2660.0, 4096.0, HP_PROLIANT_ML110_G5_W),
        ),
        vm_types=(
            VmType("high-cpu", 2500.0, 870.0),
            VmType("extra-large", 2000.0, 1740.0),
            VmType("small", 1000.0, 1740.0),
            VmType("micro", 500.0, 613.0),
        ),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file.

    Example::

        name = "two-racks"
        interval_s = 300
        host_order = "interleaved"      # or "blocks"
        vm_assignment = "blocks"        # or "round_robin"

        [limits]                        # optional: the service's safety limits (unlimited by default)
        max_migrations_per_cycle = 20

        [[host_types]]
        name = "G5"
        count = 40
        cores = 2
        core_mips = 2660
        ram_mb = 4096
        power_w = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]   # or idle_w / peak_w

        [[vm_types]]
        name = "small"
        mips = 1000
        ram_mb = 1740
    """
    file = Path(path)
    try:
        doc = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{file}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: not valid TOML ({exc})") from None

    def number(
        table: dict[str, Any],
        key: str,
        where: str,
        *,
        integer: bool = False,
        low: float = 0.0,
        low_ok: bool = False,
    ) -> Any:
        if key not in table:
            raise ScenarioError(f"{file}: {where} is missing {key!r}")
        value = table[key]
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or value < low or (value == low and not low_ok):
            kind = "an integer" if integer else "a number"
            raise ScenarioError(
                f"{file}: {where}.{key} must be {kind} {'>=' if low_ok else '>'} {low:g}; got {value!r}"
            )
        return value

    host_types = []
    for i, t in enumerate(doc.get("host_types", [])):
        where = f"host_types[{i}]"
        if "power_w" in t:
            try:
                power = check_power_table(t["power_w"], name=f"{where}.power_w")
            except ValueError as exc:
                raise ScenarioError(f"{file}: {exc}") from None
        elif "idle_w" in t and "peak_w" in t:
            idle_w = float(number(t, "idle_w", where, low_ok=True))
            peak_w = float(number(t, "peak_w", where, low_ok=True))
            try:
                power = linear_power_table(idle_w, peak_w)
            except ValueError as exc:
                raise ScenarioError(f"{file}: {where}.idle_w / peak_w: {exc}") from None
        else:
            raise ScenarioError(f"{file}: {where} needs power_w (11 values) or idle_w and peak_w")
        host_types.append(
            HostType(
                str(t.get("name", f"type{i}")),
                number(t, "count", where, integer=True),
                number(t, "cores", where, integer=True),
                float(number(t, "core_mips", where)),
                float(number(t, "ram_mb", where)),
                power,
                float(number(t, "bandwidth_mbit_s", where))
                if "bandwidth_mbit_s" in t
                else STANDARD_HOST_BANDWIDTH_MBIT_S,
            )
        )
    if not host_types:
        raise ScenarioError(f"{file}: needs at least one [[host_types]] table")
    vm_types = []
    for i, t in enumerate(doc.get("vm_types", [])):
        where = f"vm_types[{i}]"
        vm_types.append(
            VmType(str(t.get("name", f"vm{i}")), float(number(t, "mips", where)), float(number(t, "ram_mb", where)))
        )
    if not vm_types:
        raise ScenarioError(f"{file}: needs at least one [[vm_types]] table")
    host_order = doc.get("host_order", "interleaved")
    if host_order not in ("interleaved", "blocks"):
        raise ScenarioError(f"{file}: host_order must be 'interleaved' or 'blocks'; got {host_order!r}")
    vm_assignment = doc.get("vm_assignment", "blocks")
    if vm_assignment not in ("blocks", "round_robin"):
        raise ScenarioError(f"{file}: vm_assignment must be 'blocks' or 'round_robin'; got {vm_assignment!r}")
    try:
        limits = limits_from_table(doc.get("limits", {}), where=f"{file}: [limits]", defaults=UNLIMITED)
    except TableError as exc:
        raise ScenarioError(str(exc)) from None
    return Scenario(
        name=str(doc.get("name", file.stem)),
        host_types=tuple(host_types),
        vm_types=tuple(vm_types),
        interval_s=float(number(doc, "interval_s", "the file")) if "interval_s" in doc else 300.0,
        host_order=host_order,
        vm_assignment=vm_assignment,
        limits=limits,
    )

"""Data-center scenarios: host types with counts and power tables, VM types, the interval.

The built-in :func:`cloudsim_standard` is the field's standard setup (Beloglazov & Buyya, CCPE
2012, as CloudSim 4.0 runs it): 800 hosts alternating HP ProLiant ML110 G4 / G5, four VM types
assigned in blocks. Other data centers are described in a TOML file (see :func:`load_scenario`).
A real cloud's export (``neat export``) also names every host and VM, with each VM's host at the
first sample (:class:`neat.inventory.Inventory`), so that a replay starts from the cloud's placement.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms._validation import Interval
from algorithms.base import HostTable
from algorithms.power import HP_PROLIANT_ML110_G4_W, HP_PROLIANT_ML110_G5_W, check_power_table, linear_power_table
from neat.decision.limits import UNLIMITED, Limits, limits_from_table
from neat.decision.migration import CLOUDSIM_MIGRATION, PRECOPY_MIGRATION, MigrationModel
from neat.inventory import Inventory, read_inventory
from neat.tables import TableError, TableReader

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
class Costs:
    """What consolidation costs besides the hosts' load: live migrations and host power states.

    Attributes
    ----------
    migration : the live-migration model (duration, data moved, energy)
    power_states : False: CloudSim's hosts, off at once and free to wake, drawing nothing whenever
        they carry no load; True: a host is on (drawing its idle power even without load), asleep
        (ACPI S3, ``sleep_fraction`` of its peak power) or in a transition (at its peak power);
        an emptied host is suspended, taking ``suspend_s``, and a sleeping host is woken before it
        can receive a VM, taking ``resume_s``
    suspend_s, resume_s : durations of the transitions
    sleep_fraction : power asleep as a fraction of the host's peak power

    References
    ----------
    Liu et al., HPDC 2011 (migration energy, 0.512 J/MB + 20.165 J); Akoush et al., MASCOTS 2010
    (pre-copy rounds); Xi et al., "Understanding the critical path in power state transition
    latencies", ISLPED 2013 (sleep states draw 4-6 % of nominal power; resume from under a second
    on tuned systems to seconds on commodity servers: 15 s is taken here, 5 s to suspend).
    """

    migration: MigrationModel = CLOUDSIM_MIGRATION
    power_states: bool = False
    suspend_s: float = 0.0
    resume_s: float = 0.0
    sleep_fraction: float = 0.0

    @property
    def name(self) -> str:
        return "real" if self.power_states or self.migration != CLOUDSIM_MIGRATION else "free"


#: CloudSim's costs: single-copy migrations without energy of their own; instant, free on and off.
FREE_COSTS = Costs()
#: Real costs (neat mode's default): pre-copy migrations with their energy; suspend and resume.
REAL_COSTS = Costs(PRECOPY_MIGRATION, power_states=True, suspend_s=5.0, resume_s=15.0, sleep_fraction=0.05)


@dataclass(frozen=True)
class Scenario:
    """A data center.

    ``host_order`` is "interleaved" (host i has type i mod n_types, as CloudSim's setup) or
    "blocks" (all hosts of the first type, then the next). VMs get types in blocks of
    ceil(n_vms / n_types) (CloudSim's assignment) or round robin. An ``inventory`` overrides
    both: the hosts are its named hosts in its order, each of its type (a type's ``count`` is the
    number of its hosts); if it names VMs, each trace VM takes its type and starts on its host.
    """

    name: str
    host_types: tuple[HostType, ...]
    vm_types: tuple[VmType, ...]
    interval_s: float = 300.0
    host_order: str = "interleaved"
    vm_assignment: str = "blocks"
    limits: Limits = UNLIMITED
    costs: Costs = REAL_COSTS
    extra: dict[str, Any] = field(default_factory=dict)
    inventory: Inventory | None = None

    @property
    def n_hosts(self) -> int:
        return sum(t.count for t in self.host_types)

    def host_type_index(self) -> NDArray[np.intp]:
        """Type index of every host, shape (n_hosts,)."""
        if self.inventory is not None:
            return np.array(self.inventory.host_types, dtype=np.intp)
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

    def host_names(self) -> tuple[str, ...]:
        """Every host's name, (n_hosts,): the inventory's, else ``host-0``, ``host-1``, ..."""
        if self.inventory is not None:
            return self.inventory.host_names
        return tuple(f"host-{i}" for i in range(self.n_hosts))

    def vm_type_index(self, n_vms: int, names: Sequence[str] | None = None) -> NDArray[np.intp]:
        """Type index of every VM, shape (n_vms,); ``names``, the trace VMs', when the inventory names VMs."""
        if self.inventory is not None and self.inventory.names_vms:
            types: NDArray[np.intp] = np.array(self.inventory.vm_types, dtype=np.intp)[self._vm_rows(names, n_vms)]
            return types
        n_types = len(self.vm_types)
        if self.vm_assignment == "round_robin":
            return np.arange(n_vms) % n_types
        block = math.ceil(n_vms / n_types) if n_vms else 1
        return np.minimum(np.arange(n_vms) // block, n_types - 1)

    def initial_hosts(self, names: Sequence[str]) -> NDArray[np.intp] | None:
        """Each trace VM's host at the first step, shape (len(names),), when the inventory places
        the VMs; None: the policy places them at creation."""
        if self.inventory is None or not self.inventory.names_vms:
            return None
        hosts: NDArray[np.intp] = np.array(self.inventory.vm_hosts, dtype=np.intp)[self._vm_rows(names, len(names))]
        return hosts

    def _vm_rows(self, names: Sequence[str] | None, n_vms: int) -> NDArray[np.intp]:
        assert self.inventory is not None
        if names is None or len(names) != n_vms:
            raise ValueError(f"scenario {self.name!r} names its VMs: give the names of the {n_vms} trace VMs")
        rows, missing = self.inventory.vm_rows(names)
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise ScenarioError(
                f"[vms] of scenario {self.name!r} does not name {len(missing)} VM(s) of the traces: "
                f"{', '.join(repr(m) for m in missing[:3])}{more}; every VM of the traces needs its type and "
                f"first host there (export the traces and the scenario together)"
            )
        return rows


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


#: RAM per host that no day's VMs can fill (1 TB): the setting the literature means.
UNBOUND_RAM_MB = 1024.0 * 1024.0


def standard_cpu() -> Scenario:
    """CloudSim's standard hosts and VM types with RAM that never binds: CPU limits consolidation."""
    base = cloudsim_standard()
    hosts = tuple(replace(t, ram_mb=UNBOUND_RAM_MB) for t in base.host_types)
    return replace(base, name="standard-cpu", host_types=hosts)


def modern() -> Scenario:
    """A current cloud: one-socket 64-core servers with 512 GB of RAM, and public-cloud flavors.

    Hosts: 100 x ASUSTeK RS500A-E10-PS4 (one AMD EPYC 7742, 64 cores at 2.25 GHz), 51.4 W active
    idle and 214 W at full load in SPECpower_ssj2008 (result 20191125-01011,
    spec.org/power_ssj2008/results/res2020q1/power_ssj2008-20191125-01011.html; linear between the
    two), with 512 GB of RAM and a 10 Gbit/s migration link. A vCPU is one core (2250 MIPS), no
    over-commitment; as neat checks a VM against one "core" of its host (CloudSim's rule for
    single-core VMs), a host is described as 8 cores of 8 x 2250 MIPS, so that a VM of up to 8
    vCPUs fits. VM types: six Amazon EC2 flavors (aws.amazon.com/ec2/instance-types: c5.large
    2 vCPU / 4 GiB, m5.large 2 / 8, r5.large 2 / 16, m5.xlarge 4 / 16, r5.xlarge 4 / 32, m5.2xlarge
    8 / 32), assigned round robin.
    """
    core_mips = 2250.0
    flavors = (
        ("c5.large", 2, 4),
        ("m5.large", 2, 8),
        ("r5.large", 2, 16),
        ("m5.xlarge", 4, 16),
        ("r5.xlarge", 4, 32),
        ("m5.2xlarge", 8, 32),
    )
    return Scenario(
        name="modern",
        host_types=(
            HostType(
                "ASUS RS500A-E10 (EPYC 7742)",
                100,
                8,
                8 * core_mips,
                512 * 1024.0,
                linear_power_table(51.4, 214.0),
                10_000.0,
            ),
        ),
        vm_types=tuple(VmType(name, vcpus * core_mips, gib * 1024.0) for name, vcpus, gib in flavors),
        vm_assignment="round_robin",
    )


#: Built-in scenarios by name: (factory, one line of why).
BUILTIN_SCENARIOS: dict[str, tuple[Callable[[], Scenario], str]] = {
    "standard": (
        cloudsim_standard,
        "CloudSim's setup: 800 G4/G5 hosts with 4 GB RAM (with RAM a constraint, RAM binds)",
    ),
    "standard-cpu": (
        standard_cpu,
        "the same hosts and VMs with RAM that never binds: CPU decides, as in the literature",
    ),
    "modern": (
        modern,
        "100 64-core EPYC servers with 512 GB (SPECpower 2019) and six EC2 flavors: a current cloud",
    ),
}


def default_scenario(mode_name: str) -> Scenario:
    """The scenario when none is named: CloudSim's for its mode; with neat's semantics, where RAM
    would bind the standard hosts, the same hosts with RAM that never binds (standard-cpu)."""
    return cloudsim_standard() if mode_name == "cloudsim" else standard_cpu()


def scenario_for(name_or_path: str | Path | None, mode_name: str, costs: str | None = None) -> Scenario:
    """The scenario a command runs: named or from a file (else :func:`default_scenario`), with its
    costs replaced when ``costs`` is "real" or "free"."""
    scenario = scenario_named(name_or_path) if name_or_path else default_scenario(mode_name)
    if costs is not None:
        scenario = replace(scenario, costs=REAL_COSTS if costs == "real" else FREE_COSTS)
    return scenario


def scenario_named(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (:data:`BUILTIN_SCENARIOS`), else a scenario file."""
    if str(name_or_path) in BUILTIN_SCENARIOS:
        return BUILTIN_SCENARIOS[str(name_or_path)][0]()
    path = Path(name_or_path)
    if not path.exists() and path.suffix != ".toml":
        known = ", ".join(BUILTIN_SCENARIOS)
        raise ScenarioError(f"{path}: no such scenario file, and not a built-in scenario ({known})")
    return load_scenario(path)


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

    A real cloud's scenario (``neat export`` writes one) names its hosts in ``[hosts]`` and its VMs
    in ``[vms]`` (:mod:`neat.inventory`); the host types' ``count`` is then left out.
    """
    file = Path(path)
    try:
        text = file.read_text()
        doc = tomllib.loads(text)
    except FileNotFoundError:
        raise ScenarioError(f"{file}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: not valid TOML ({exc})") from None
    try:
        return _scenario(doc, file, text)
    except TableError as exc:
        raise ScenarioError(str(exc)) from None


#: Keys of a scenario file, of its [[host_types]] and of its [[vm_types]] tables.
TOP_KEYS = frozenset(
    {"name", "interval_s", "host_order", "vm_assignment", "host_types", "vm_types", "limits", "costs", "hosts", "vms"}
)
COST_KEYS = frozenset(
    {
        "model",
        "dirty_rate_mb_s",
        "max_downtime_s",
        "max_rounds",
        "bandwidth_share",
        "migration_energy_j_per_mb",
        "migration_energy_j",
        "migration_resolution_s",
        "power_states",
        "suspend_s",
        "resume_s",
        "sleep_fraction",
    }
)
HOST_TYPE_KEYS = frozenset(
    {"name", "count", "cores", "core_mips", "ram_mb", "power_w", "idle_w", "peak_w", "bandwidth_mbit_s"}
)
VM_TYPE_KEYS = frozenset({"name", "mips", "ram_mb"})
_COUNT = Interval("int", 1, math.inf, "left")
_POSITIVE = Interval("float", 0.0, math.inf, "neither")
_WATTS = Interval("float", 0.0, 100_000.0)


def _scenario(doc: dict[str, Any], file: Path, text: str = "") -> Scenario:
    top = TableReader(doc, where=f"{file}:", known=TOP_KEYS)
    host_types = []
    for i, table in enumerate(_tables(doc, "host_types", file)):
        where = f"{file}: host_types[{i}]"
        t = TableReader(table, where=where, known=HOST_TYPE_KEYS, joiner=".")
        if "power_w" in t:
            try:
                power = check_power_table(table["power_w"], name=f"host_types[{i}].power_w")
            except ValueError as exc:
                raise ScenarioError(f"{file}: {exc}") from None
        elif "idle_w" in t and "peak_w" in t:
            idle_w, peak_w = float(t.number("idle_w", _WATTS)), float(t.number("peak_w", _WATTS))
            try:
                power = linear_power_table(idle_w, peak_w)
            except ValueError as exc:
                raise ScenarioError(f"{where}.idle_w / peak_w: {exc}") from None
        else:
            raise ScenarioError(f"{where} needs power_w (11 values) or idle_w and peak_w")
        host_types.append(
            HostType(
                t.text("name", f"type{i}"),
                t.number("count", _COUNT) if "count" in t or "hosts" not in doc else 0,  # [hosts] counts them
                t.number("cores", _COUNT),
                float(t.number("core_mips", _POSITIVE)),
                float(t.number("ram_mb", _POSITIVE)),
                power,
                float(t.number("bandwidth_mbit_s", _POSITIVE, STANDARD_HOST_BANDWIDTH_MBIT_S)),
            )
        )
    if not host_types:
        raise ScenarioError(f"{file}: needs at least one [[host_types]] table")
    vm_types = []
    for i, table in enumerate(_tables(doc, "vm_types", file)):
        t = TableReader(table, where=f"{file}: vm_types[{i}]", known=VM_TYPE_KEYS, joiner=".")
        vm_types.append(
            VmType(t.text("name", f"vm{i}"), float(t.number("mips", _POSITIVE)), float(t.number("ram_mb", _POSITIVE)))
        )
    if not vm_types:
        raise ScenarioError(f"{file}: needs at least one [[vm_types]] table")
    try:
        limits = limits_from_table(doc.get("limits", {}), where=f"{file}: [limits]", defaults=UNLIMITED)
    except TableError as exc:
        raise ScenarioError(str(exc)) from None
    costs = costs_from_table(doc.get("costs", {}), where=f"{file}: [costs]")
    inventory = None
    if "hosts" in doc:
        inventory = read_inventory(
            doc["hosts"],
            doc.get("vms"),
            [t.name for t in host_types],
            [t.name for t in vm_types],
            file=str(file),
            text=text,
        )
        host_types = _counted(host_types, inventory, file)
    elif "vms" in doc:
        raise ScenarioError(f"{file}: [vms] places VMs on named hosts; it needs a [hosts] table naming them")
    return Scenario(
        name=top.text("name", file.stem),
        host_types=tuple(host_types),
        vm_types=tuple(vm_types),
        interval_s=float(top.number("interval_s", _POSITIVE, 300.0)),
        host_order=top.choice("host_order", ("interleaved", "blocks"), "interleaved"),
        vm_assignment=top.choice("vm_assignment", ("blocks", "round_robin"), "blocks"),
        limits=limits,
        costs=costs,
        inventory=inventory,
    )


def _counted(host_types: list[HostType], inventory: Inventory, file: Path) -> list[HostType]:
    """The host types with their counts: the number of hosts ``[hosts]`` names of each."""
    counts = np.bincount(np.array(inventory.host_types, dtype=np.intp), minlength=len(host_types))
    for k, t in enumerate(host_types):
        if counts[k] == 0:
            raise ScenarioError(f"{file}: host_types[{k}] ({t.name!r}) has no host in [hosts]; remove the type")
        if t.count and t.count != counts[k]:
            raise ScenarioError(
                f"{file}: host_types[{k}].count is {t.count}, but [hosts] names {counts[k]} host(s) of type "
                f"{t.name!r}; leave count out when [hosts] names the hosts"
            )
    return [replace(t, count=int(counts[k])) for k, t in enumerate(host_types)]


def costs_from_table(table: dict[str, Any], *, where: str) -> Costs:
    """A ``[costs]`` table: ``model = "real"`` (the default) or ``"free"``, then any parameter overridden."""
    t = TableReader(table, where=where, known=COST_KEYS)
    base = REAL_COSTS if t.choice("model", ("real", "free"), "real") == "real" else FREE_COSTS
    m = base.migration
    seconds = Interval("float", 0.0, 86400.0)
    migration = MigrationModel(
        bandwidth_share=float(t.number("bandwidth_share", Interval("float", 0.0, 1.0, "right"), m.bandwidth_share)),
        dirty_rate_mb_s=float(t.number("dirty_rate_mb_s", Interval("float", 0.0, 1e6), m.dirty_rate_mb_s)),
        max_downtime_s=float(t.number("max_downtime_s", Interval("float", 0.0, 3600.0, "right"), m.max_downtime_s)),
        max_rounds=t.number("max_rounds", Interval("int", 0, 1000), m.max_rounds),
        energy_j_per_mb=float(t.number("migration_energy_j_per_mb", Interval("float", 0.0, 1e6), m.energy_j_per_mb)),
        energy_j=float(t.number("migration_energy_j", Interval("float", 0.0, 1e9), m.energy_j)),
        resolution_s=float(t.number("migration_resolution_s", Interval("float", 0.0, 3600.0), m.resolution_s)),
    )
    return Costs(
        migration=migration,
        power_states=t.flag("power_states", base.power_states),
        suspend_s=float(t.number("suspend_s", seconds, base.suspend_s)),
        resume_s=float(t.number("resume_s", seconds, base.resume_s)),
        sleep_fraction=float(t.number("sleep_fraction", Interval("float", 0.0, 1.0), base.sleep_fraction)),
    )


def _tables(doc: dict[str, Any], key: str, file: Path) -> list[Any]:
    tables = doc.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ScenarioError(f"{file}: {key} must be [[{key}]] tables; got {tables!r}")
    return tables

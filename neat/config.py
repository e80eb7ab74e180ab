"""The service's configuration: one TOML file, path by ``--config`` or ``NEAT_CONFIG``.

Example::

    [database]
    url = "sqlite:///var/lib/neat/neat.db"     # or postgresql+psycopg://..., mysql+pymysql://...

    [openstack]
    cloud = "production"                      # a clouds.yaml entry: credentials stay there

    [intervals]
    collect_s = 300                           # local managers
    decide_s = 300                            # global manager
    history_window = 30                       # samples per host given to the detectors

    [algorithms]
    policy = "recommended"                    # a named policy, or the parts:
    # overload = { name = "lr", safety = 1.2 }
    # selection = { name = "mmt" }
    # placement = { name = "pabfd" }
    # underload = { name = "least-utilized" }

    [limits]                                  # the same table a scenario file takes
    max_migrations_per_cycle = 10
    max_concurrent_migrations = 2
    vm_cooldown_s = 3600
    migration_timeout_s = 600
    migration_retries = 1
    exclude_hosts = ["compute-gpu-1"]
    exclude_vms = []
    exclude_metadata_key = "neat:exclude"     # a VM tagged with it is never moved

    [retention]
    max_age_s = 604800                        # samples older are deleted (never a detector's window)

    [samples]                                 # what the global manager reads of the samples
    max_age_s = 9600                          # older samples are not read (default: the window + 2 collections)
    stale_s = 900                             # a host or VM whose newest sample is older has no history (3 collections)
    max_clock_skew_s = 60                     # samples stamped later than now + this are ignored (a clock ahead)

    [service]
    lease_ttl_s = 120                         # a standby takes over this long after the active manager stopped renewing
    plan_expiry_s = 900                       # neat apply refuses an older plan (default: 3 decision intervals)

    [hosts]                                   # what the decision knows of the hosts
    core_mips = 2000                          # CPU of one core (hosts' cores and VMs' vCPUs alike)
    link_mbit_s = 10000                       # the migration network (a migration gets half)
    idle_w = 100                              # power at 0 % and 100 % (or power_w, 11 points)
    peak_w = 200
    [[hosts.profile]]                         # the hosts it matches take it; the first profile wins
    match = "compute-g5-*"                    # a shell-style pattern on the host name, or
    # aggregate = "g5"                        # the hosts of a Nova host aggregate
    core_mips = 2660
    power_w = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]
    # cores, ram_mb: override what Nova reports

    [power]                                   # host power management (optional)
    min_awake_s = 1800                        # awake at least this long before suspending again
    min_asleep_s = 600                        # asleep at least this long before a non-overload wake
    wake_timeout_s = 300                      # nova-compute must report up within this
    [power.hosts.compute-7]                   # one table per host: its driver and the driver's keys
    driver = "redfish"
    address = "https://bmc-7.example"
    system = "437XR1138R2"
    username = "neat"
    password_env = "NEAT_BMC_PASSWORD"        # secrets by environment variable name, never inline

No secret lives in this file: OpenStack credentials come from clouds.yaml by cloud name, and the
database URL's password (if any) is masked whenever the configuration is shown or logged.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms._validation import Interval
from algorithms.power import check_power_table, linear_power_table
from neat.constants import DEFAULT_DATABASE_URL
from neat.decision.limits import SERVICE_DEFAULTS, Limits, limits_from_table
from neat.decision.mode import NEAT
from neat.decision.policy import Component, Policy, PolicyError, PolicySpec, build_policy, custom_spec, parse_policy
from neat.tables import TableError, TableReader

CONFIG_ENV = "NEAT_CONFIG"
#: The policy the service runs when the configuration names none.
DEFAULT_POLICY = "recommended"
#: Power of a host no profile describes: only the ratios between hosts matter to the placement.
DEFAULT_POWER_W = linear_power_table(100.0, 200.0)


class ConfigError(ValueError):
    """The configuration file is unusable; the message names the file, the key and the value."""


@dataclass(frozen=True)
class PowerSettings:
    """Power management settings ([power] in the configuration)."""

    min_awake_s: float = 1800.0
    min_asleep_s: float = 600.0
    wake_timeout_s: float = 300.0
    power_timeout_s: float = 120.0
    poll_s: float = 2.0
    retries: int = 2
    sleep_w: float = 5.0


@dataclass(frozen=True)
class HostProfile:
    """What the decision assumes of the hosts whose name matches ``match`` or that belong to Nova's
    host aggregate ``aggregate`` (None: Nova's value)."""

    match: str = "*"
    aggregate: str | None = None
    core_mips: float = 2000.0
    power_w: NDArray[np.float64] = field(default_factory=DEFAULT_POWER_W.copy)
    cores: int | None = None
    ram_mb: float | None = None
    link_mbit_s: float = 10_000.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostProfile):
            return NotImplemented
        return repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the local and global managers need."""

    database_url: str = DEFAULT_DATABASE_URL
    cloud: str = "envvars"
    collect_interval_s: float = 300.0
    decide_interval_s: float = 300.0
    history_window: int = 30
    policy_spec: PolicySpec = field(default_factory=lambda: parse_policy(DEFAULT_POLICY))
    limits: Limits = SERVICE_DEFAULTS
    retention_max_age_s: float = 7 * 24 * 3600.0
    profiles: tuple[HostProfile, ...] = (HostProfile(),)
    power: PowerSettings = field(default_factory=PowerSettings)
    power_hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"
    lease_ttl_s: float = 120.0
    plan_expiry: float | None = None
    sample_max_age: float | None = None
    sample_stale: float | None = None
    max_clock_skew_s: float = 60.0

    @property
    def plan_expiry_s(self) -> float:
        """How long a stored plan may be applied: ``[service] plan_expiry_s``, else 3 decision intervals."""
        return self.plan_expiry if self.plan_expiry is not None else 3 * self.decide_interval_s

    @property
    def sample_max_age_s(self) -> float:
        """Samples older than this are not read: ``[samples] max_age_s``, else the detectors' window
        of collections and two more."""
        if self.sample_max_age is not None:
            return self.sample_max_age
        return (self.history_window + 2) * self.collect_interval_s

    @property
    def sample_stale_s(self) -> float:
        """A host or VM whose newest sample is older than this has no history: ``[samples] stale_s``,
        else 3 collection intervals."""
        return self.sample_stale if self.sample_stale is not None else 3 * self.collect_interval_s

    def policy(self) -> Policy:
        """The configured policy, built with neat's semantics (the mode every service runs)."""
        try:
            return build_policy(self.policy_spec, NEAT)
        except PolicyError as exc:
            raise ConfigError(f"{self.source}: [algorithms] {exc}") from None

    def profile(self, host: str, aggregates: Mapping[str, Sequence[str]] | None = None) -> HostProfile:
        """The first profile that matches ``host`` by name pattern or by aggregate (``aggregates``:
        Nova's, by name), else the ``[hosts]`` defaults."""
        for profile in self.profiles:
            if profile.aggregate is not None:
                if aggregates is not None and host in aggregates.get(profile.aggregate, ()):
                    return profile
            elif fnmatchcase(host, profile.match):
                return profile
        return self.profiles[-1]

    @property
    def uses_aggregates(self) -> bool:
        """Whether a profile selects its hosts by aggregate (the cloud's aggregates must then be read)."""
        return any(p.aggregate is not None for p in self.profiles)

    def power_drivers(self, *, check_environment: bool = True) -> dict[str, Any]:
        """One power driver per host of [power.hosts]."""
        from neat.power.registry import build_drivers

        try:
            return build_drivers(self.power_hosts, check_environment=check_environment)
        except ValueError as exc:
            raise ConfigError(f"{self.source}: [power.hosts] {exc}") from None

    def masked_database_url(self) -> str:
        """The database URL with any password (also one given as ``?password=``) replaced by ***, for
        logs and ``neat status``."""
        from neat.db.engine import masked_url

        return masked_url(self.database_url)


def default_cloud() -> str:
    """The cloud when the configuration names none: ``$OS_CLOUD``, else ``envvars`` (the ``OS_*`` variables)."""
    return os.environ.get("OS_CLOUD") or "envvars"


def load_config(path: str | Path | None = None) -> ServiceConfig:
    """Read the configuration from ``path``, else ``$NEAT_CONFIG``, else use the defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return ServiceConfig(cloud=default_cloud())
    file = Path(chosen)
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a configuration file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not a text file (byte {exc.start} is not UTF-8); expected TOML") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    try:
        return _from_document(doc, str(file))
    except TableError as exc:
        raise ConfigError(str(exc)) from None


HOST_KEYS = frozenset({"core_mips", "link_mbit_s", "power_w", "idle_w", "peak_w", "cores", "ram_mb", "profile"})
#: Every section of the file and its keys.
SECTIONS: dict[str, frozenset[str] | set[str] | None] = {
    "database": {"url"},
    "openstack": {"cloud"},
    "intervals": {"collect_s", "decide_s", "history_window"},
    "algorithms": {"policy", "overload", "selection", "placement", "underload"},
    "limits": None,  # checked by limits_from_table
    "retention": {"max_age_s"},
    "samples": {"max_age_s", "stale_s", "max_clock_skew_s"},
    "service": {"lease_ttl_s", "plan_expiry_s"},
    "hosts": HOST_KEYS,
    "power": {
        "min_awake_s",
        "min_asleep_s",
        "wake_timeout_s",
        "power_timeout_s",
        "poll_s",
        "retries",
        "sleep_w",
        "hosts",
    },
}

_DAY_S = 86400.0


def _from_document(doc: dict[str, Any], source: str) -> ServiceConfig:
    unknown = sorted(set(doc) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section [{unknown[0]}]; expected one of {sorted(SECTIONS)}")

    def section(name: str) -> TableReader:
        known = SECTIONS[name]
        table = doc.get(name, {})
        return TableReader(table, where=f"{source}: [{name}]", known=known if known is not None else table)

    database = section("database")
    url = database.text("url", DEFAULT_DATABASE_URL)
    try:
        from sqlalchemy.engine import make_url

        make_url(url)
    except Exception:
        raise ConfigError(f"{source}: [database] url is not a database URL") from None
    intervals = section("intervals")
    retention = section("retention")
    samples = section("samples")
    service = section("service")
    power = section("power")

    def optional(reader: TableReader, key: str, constraint: Interval) -> float | None:
        return float(reader.number(key, constraint)) if key in reader else None

    config = ServiceConfig(
        database_url=url,
        cloud=section("openstack").text("cloud", default_cloud()),
        collect_interval_s=float(intervals.number("collect_s", Interval("float", 1.0, _DAY_S), 300.0)),
        decide_interval_s=float(intervals.number("decide_s", Interval("float", 1.0, _DAY_S), 300.0)),
        history_window=intervals.number("history_window", Interval("int", 1, 10_000), 30),
        policy_spec=_policy_spec(section("algorithms"), source),
        limits=limits_from_table(doc.get("limits", {}), where=f"{source}: [limits]", defaults=SERVICE_DEFAULTS),
        retention_max_age_s=float(retention.number("max_age_s", Interval("float", 60.0, 3650 * _DAY_S), 7 * _DAY_S)),
        profiles=_profiles(section("hosts"), source),
        power=PowerSettings(
            min_awake_s=float(power.number("min_awake_s", Interval("float", 0.0, 365 * _DAY_S), 1800.0)),
            min_asleep_s=float(power.number("min_asleep_s", Interval("float", 0.0, 365 * _DAY_S), 600.0)),
            wake_timeout_s=float(power.number("wake_timeout_s", Interval("float", 1.0, _DAY_S), 300.0)),
            power_timeout_s=float(power.number("power_timeout_s", Interval("float", 1.0, _DAY_S), 120.0)),
            poll_s=float(power.number("poll_s", Interval("float", 0.01, 3600.0), 2.0)),
            retries=power.number("retries", Interval("int", 0, 100), 2),
            sleep_w=float(power.number("sleep_w", Interval("float", 0.0, 10_000.0), 5.0)),
        ),
        power_hosts=dict(power.subtable("hosts")),
        source=source,
        lease_ttl_s=float(service.number("lease_ttl_s", Interval("float", 10.0, _DAY_S), 120.0)),
        plan_expiry=optional(service, "plan_expiry_s", Interval("float", 1.0, 30 * _DAY_S)),
        sample_max_age=optional(samples, "max_age_s", Interval("float", 1.0, 3650 * _DAY_S)),
        sample_stale=optional(samples, "stale_s", Interval("float", 1.0, 3650 * _DAY_S)),
        max_clock_skew_s=float(samples.number("max_clock_skew_s", Interval("float", 0.0, _DAY_S), 60.0)),
    )
    if config.retention_max_age_s < config.sample_max_age_s:
        raise ConfigError(
            f"{source}: [retention] max_age_s ({config.retention_max_age_s:g} s) is shorter than the samples the "
            f"decision reads ([samples] max_age_s, {config.sample_max_age_s:g} s): raise it, or lower the other"
        )
    # build once so that a bad algorithm name or parameter is reported at load time
    config.policy()
    config.power_drivers(check_environment=False)
    return config


def _policy_spec(algorithms: TableReader, source: str) -> PolicySpec:
    """``policy = NAME`` or the parts (``overload`` required, the others with their defaults)."""
    parts = ("overload", "selection", "placement", "underload")
    if not any(key in algorithms for key in ("policy", *parts)):
        return parse_policy(DEFAULT_POLICY)
    if "policy" in algorithms:
        if any(p in algorithms for p in parts):
            raise ConfigError(
                f"{source}: [algorithms] give either 'policy' or its parts ({', '.join(parts)}), not both"
            )
        try:
            return parse_policy(algorithms.text("policy"))
        except PolicyError as exc:
            raise ConfigError(f"{source}: [algorithms] policy: {exc}") from None
    defaults = {
        "overload": {"name": "thr", "threshold": 0.8},
        "selection": {"name": "mmt"},
        "placement": {"name": "pabfd"},
        "underload": {"name": "least-utilized"},
    }
    components = []
    for role in parts:
        spec = algorithms.table.get(role, defaults[role])
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"{source}: [algorithms] {role} must be a name or a table with 'name'; got {spec!r}")
        components.append(Component(spec["name"], {k: v for k, v in spec.items() if k != "name"}))
    return custom_spec(*components)


def _profiles(hosts: TableReader, source: str) -> tuple[HostProfile, ...]:
    """The ``[[hosts.profile]]`` tables in order, then the ``[hosts]`` defaults (matching every host)."""
    default = _profile(hosts, f"{source}: [hosts]", HostProfile(), match="*")
    profiles = []
    tables = hosts.table.get("profile", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: [hosts] profile must be [[hosts.profile]] tables; got {tables!r}")
    known = HOST_KEYS - {"profile"} | {"match", "aggregate"}
    for i, table in enumerate(tables):
        where = f"{source}: [[hosts.profile]] #{i + 1}"
        reader = TableReader(table, where=where, known=known)
        if ("match" in reader) == ("aggregate" in reader):
            raise ConfigError(f"{where} needs either match (a host name pattern) or aggregate (a Nova aggregate)")
        aggregate = reader.text("aggregate") if "aggregate" in reader else None
        profile = _profile(reader, where, default, match=reader.text("match", "*"))
        profiles.append(replace(profile, aggregate=aggregate))
    return (*profiles, default)


def _profile(table: TableReader, where: str, base: HostProfile, *, match: str) -> HostProfile:
    if "power_w" in table and ("idle_w" in table or "peak_w" in table):
        raise ConfigError(f"{where}: give power_w (11 points) or idle_w and peak_w, not both")
    power = base.power_w
    if "power_w" in table:
        try:
            power = check_power_table(table.table["power_w"], name=f"{where} power_w")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    elif "idle_w" in table or "peak_w" in table:
        watts = Interval("float", 0.0, 100_000.0)
        idle_w, peak_w = float(table.number("idle_w", watts)), float(table.number("peak_w", watts))
        try:
            power = linear_power_table(idle_w, peak_w)
        except ValueError as exc:
            raise ConfigError(f"{where} idle_w / peak_w: {exc}") from None
    cores = table.number("cores", Interval("int", 1, 100_000)) if "cores" in table else base.cores
    ram = float(table.number("ram_mb", Interval("float", 1.0, 1e9))) if "ram_mb" in table else base.ram_mb
    return HostProfile(
        match=match,
        core_mips=float(table.number("core_mips", Interval("float", 1.0, 1e7), base.core_mips)),
        power_w=power,
        cores=cores,
        ram_mb=ram,
        link_mbit_s=float(table.number("link_mbit_s", Interval("float", 1.0, 1e7), base.link_mbit_s)),
    )


__all__ = [
    "CONFIG_ENV",
    "DEFAULT_POLICY",
    "DEFAULT_POWER_W",
    "ConfigError",
    "HostProfile",
    "PowerSettings",
    "ServiceConfig",
    "default_cloud",
    "load_config",
]

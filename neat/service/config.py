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
    overload = { name = "lr", safety = 1.2 }
    selection = { name = "mmt" }
    placement = { name = "pabfd" }

    [limits]
    max_migrations_per_cycle = 10
    max_concurrent_migrations = 2
    vm_cooldown_s = 3600
    migration_timeout_s = 600
    migration_retries = 1
    exclude_hosts = ["compute-gpu-1"]
    exclude_vms = []
    exclude_metadata_key = "neat:exclude"     # a VM or host aggregate tagged with it is never moved

    [retention]
    max_age_s = 604800

    [hosts]
    core_mips = 2000                          # CPU size of one core, for hosts and vCPUs alike

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from algorithms.base import OverloadDetector, Placer, VmSelector
from algorithms.registry import UnknownPluginError, create
from neat.service.power_manager import PowerSettings

CONFIG_ENV = "NEAT_CONFIG"
DEFAULT_DATABASE_URL = "sqlite:///neat.db"


class ConfigError(ValueError):
    """The configuration file is unusable; the message names the file, the key and the value."""


@dataclass(frozen=True)
class Limits:
    """Safety limits of the planner and the executor."""

    max_migrations_per_cycle: int = 10
    max_concurrent_migrations: int = 2
    vm_cooldown_s: float = 3600.0
    migration_timeout_s: float = 600.0
    migration_retries: int = 1
    exclude_hosts: frozenset[str] = frozenset()
    exclude_vms: frozenset[str] = frozenset()
    exclude_metadata_key: str = "neat:exclude"


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the local and global managers need."""

    database_url: str = DEFAULT_DATABASE_URL
    cloud: str = "envvars"
    collect_interval_s: float = 300.0
    decide_interval_s: float = 300.0
    history_window: int = 30
    overload: dict[str, Any] = field(default_factory=lambda: {"name": "thr", "threshold": 0.8})
    selection: dict[str, Any] = field(default_factory=lambda: {"name": "mmt"})
    placement: dict[str, Any] = field(default_factory=lambda: {"name": "pabfd"})
    limits: Limits = Limits()
    retention_max_age_s: float = 7 * 24 * 3600.0
    core_mips: float = 2000.0
    power: PowerSettings = field(default_factory=PowerSettings)
    power_hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"

    def detector(self) -> OverloadDetector:
        return self._build("overload", self.overload)

    def selector(self) -> VmSelector:
        return self._build("selection", self.selection)

    def placer(self) -> Placer:
        return self._build("placement", self.placement)

    def _build(self, role: str, spec: dict[str, Any]) -> Any:
        params = {k: v for k, v in spec.items() if k != "name"}
        try:
            return create(role, str(spec.get("name")), **params)
        except (ValueError, UnknownPluginError) as exc:
            raise ConfigError(f"{self.source}: [algorithms] {role}: {exc}") from None

    def power_drivers(self, *, check_environment: bool = True) -> dict[str, Any]:
        """One power driver per host of [power.hosts]."""
        from neat.power.registry import build_drivers

        try:
            return build_drivers(self.power_hosts, check_environment=check_environment)
        except ValueError as exc:
            raise ConfigError(f"{self.source}: [power.hosts] {exc}") from None

    def masked_database_url(self) -> str:
        """The database URL with any password replaced by ***, for logs and ``neat status``."""
        return make_url(self.database_url).render_as_string(hide_password=True)


def load_config(path: str | Path | None = None) -> ServiceConfig:
    """Read the configuration from ``path``, else ``$NEAT_CONFIG``, else use the defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return ServiceConfig()
    file = Path(chosen)
    try:
        doc = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    return _from_document(doc, str(file))


def _from_document(doc: dict[str, Any], source: str) -> ServiceConfig:
    known = {"database", "openstack", "intervals", "algorithms", "limits", "retention", "hosts", "power"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown section [{unknown[0]}]; expected one of {sorted(known)}")

    def section(name: str) -> dict[str, Any]:
        value = doc.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        return value

    def number(table: str, key: str, default: float, *, integer: bool = False, low: float = 0.0) -> Any:
        value = section(table).get(key, default)
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or value < low:
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"{source}: [{table}] {key} must be {kind} >= {low:g}; got {value!r}")
        return value

    def names(table: str, key: str) -> frozenset[str]:
        value = section(table).get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: [{table}] {key} must be a list of names; got {value!r}")
        return frozenset(value)

    algorithms = section("algorithms")
    specs: dict[str, dict[str, Any]] = {}
    for role, default in (
        ("overload", {"name": "thr", "threshold": 0.8}),
        ("selection", {"name": "mmt"}),
        ("placement", {"name": "pabfd"}),
    ):
        spec = algorithms.get(role, default)
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict) or "name" not in spec:
            raise ConfigError(f"{source}: [algorithms] {role} must be a name or a table with 'name'; got {spec!r}")
        specs[role] = dict(spec)
    url = section("database").get("url", DEFAULT_DATABASE_URL)
    try:
        make_url(url)
    except Exception:
        raise ConfigError(f"{source}: [database] url is not a database URL") from None
    limits = Limits(
        max_migrations_per_cycle=number("limits", "max_migrations_per_cycle", 10, integer=True),
        max_concurrent_migrations=number("limits", "max_concurrent_migrations", 2, integer=True, low=1),
        vm_cooldown_s=float(number("limits", "vm_cooldown_s", 3600.0)),
        migration_timeout_s=float(number("limits", "migration_timeout_s", 600.0, low=1.0)),
        migration_retries=number("limits", "migration_retries", 1, integer=True),
        exclude_hosts=names("limits", "exclude_hosts"),
        exclude_vms=names("limits", "exclude_vms"),
        exclude_metadata_key=str(section("limits").get("exclude_metadata_key", "neat:exclude")),
    )
    config = ServiceConfig(
        database_url=str(url),
        cloud=str(section("openstack").get("cloud", "envvars")),
        collect_interval_s=float(number("intervals", "collect_s", 300.0, low=1.0)),
        decide_interval_s=float(number("intervals", "decide_s", 300.0, low=1.0)),
        history_window=number("intervals", "history_window", 30, integer=True, low=1),
        overload=specs["overload"],
        selection=specs["selection"],
        placement=specs["placement"],
        limits=limits,
        retention_max_age_s=float(number("retention", "max_age_s", 7 * 24 * 3600.0)),
        core_mips=float(number("hosts", "core_mips", 2000.0, low=1.0)),
        power=PowerSettings(
            min_awake_s=float(number("power", "min_awake_s", 1800.0)),
            min_asleep_s=float(number("power", "min_asleep_s", 600.0)),
            wake_timeout_s=float(number("power", "wake_timeout_s", 300.0, low=1.0)),
            power_timeout_s=float(number("power", "power_timeout_s", 120.0, low=1.0)),
            poll_s=float(number("power", "poll_s", 2.0, low=0.01)),
            retries=number("power", "retries", 2, integer=True),
            sleep_w=float(number("power", "sleep_w", 5.0)),
        ),
        power_hosts=dict(section("power").get("hosts", {})),
        source=source,
    )
    # build once so that a bad algorithm name or parameter is reported at load time
    config.detector()
    config.selector()
    config.placer()
    config.power_drivers(check_environment=False)
    return config

"""The neat database schema: SQLAlchemy 2.0 declarative models.

The schema changes only through Alembic (``migrations/``); ``MetaData`` carries a naming convention
so every index and constraint has a stable name on every backend. Units live in column names:
``cpu_mips``, ``ram_mb``, ``duration_s``, ``*_at`` (UTC timestamps); ``cpu_utilization`` is a
fraction of capacity in [0, 1].

Tables
------
hosts, vms
    The inventory: capacity, power state, service state; a VM's host and size.
host_samples, vm_samples
    CPU utilization samples, one per host (or VM) and timestamp.
host_power_transitions
    Every change of a host's power state, timestamped (for energy estimates).
plans, actions
    Migration plans and their ordered actions, with status, timings and error.
leases
    Named leases (e.g. the single active global manager): holder, fencing term, expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

__all__ = [
    "ACTION_KINDS",
    "ACTION_STATUSES",
    "Action",
    "Base",
    "Host",
    "HostPowerTransition",
    "HostSample",
    "Lease",
    "NAMING_CONVENTION",
    "POWER_STATES",
    "Plan",
    "SERVICE_STATES",
    "UtcDateTime",
    "Vm",
    "VmSample",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Host power states: steady (on, suspended, off), in transition (suspending, waking), unknown.
POWER_STATES = ("on", "suspending", "suspended", "waking", "off", "unknown")
#: The compute service of a host: enabled (schedulable) or disabled.
SERVICE_STATES = ("enabled", "disabled")
#: What an action does: live-migrate a VM, disable/enable a host's compute service, suspend/wake a host.
ACTION_KINDS = ("migrate", "disable", "enable", "suspend", "wake")
#: Action lifecycle: pending -> running -> succeeded | failed; pending -> cancelled.
ACTION_STATUSES = ("pending", "running", "succeeded", "failed", "cancelled")

NAME_LENGTH = 255
UUID_LENGTH = 36
STATE_LENGTH = 16


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` is one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    Binds only aware datetimes (a naive one raises ``ValueError``: its zone is unknown), stored as
    UTC: ``timestamp with time zone`` on PostgreSQL, ``DATETIME(6)`` (microseconds) on
    MySQL/MariaDB, ISO text on SQLite. Reads come back aware, in UTC, whatever the session time zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware (UTC); got the naive datetime {value.isoformat()}")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base: the naming convention and the column types of Python annotations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), float: Double()}


class Host(Base):
    """A compute host: capacity, power state and compute-service state."""

    __tablename__ = "hosts"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(_one_of("power_state", POWER_STATES), name="power_state"),
        CheckConstraint(_one_of("service_state", SERVICE_STATES), name="service_state"),
        CheckConstraint("cpu_mips > 0 AND cores > 0 AND ram_mb > 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: Total CPU capacity (all cores).
    cpu_mips: Mapped[float]
    cores: Mapped[int]
    ram_mb: Mapped[int]
    power_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    service_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Vm(Base):
    """A VM: its host (none while unplaced) and its size."""

    __tablename__ = "vms"
    __table_args__ = (
        UniqueConstraint("uuid"),
        CheckConstraint("ram_mb > 0 AND vcpus > 0", name="size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id", ondelete="SET NULL"), index=True)
    ram_mb: Mapped[int]
    vcpus: Mapped[int]
    #: The VM's CPU size (its utilization is a fraction of this), when known.
    cpu_mips: Mapped[float | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class HostSample(Base):
    """CPU utilization of a host at one time, as a fraction of its capacity."""

    __tablename__ = "host_samples"
    __table_args__ = (
        CheckConstraint("cpu_utilization >= 0 AND cpu_utilization <= 1", name="cpu_utilization"),
        Index(None, "recorded_at"),
    )

    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(primary_key=True)
    cpu_utilization: Mapped[float]


class VmSample(Base):
    """CPU utilization of a VM at one time, as a fraction of its CPU size."""

    __tablename__ = "vm_samples"
    __table_args__ = (
        CheckConstraint("cpu_utilization >= 0 AND cpu_utilization <= 1", name="cpu_utilization"),
        Index(None, "recorded_at"),
    )

    vm_id: Mapped[int] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(primary_key=True)
    cpu_utilization: Mapped[float]


class Plan(Base):
    """A migration plan; its status is derived from its actions."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    #: Who made the plan (e.g. the global manager's lease holder id).
    created_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    #: The fencing term of the lease under which the plan was made (or applied).
    lease_term: Mapped[int | None]
    #: After this, the plan is stale: ``neat apply`` refuses it (NULL: never).
    expires_at: Mapped[datetime | None]
    #: Made for an operator to apply (``neat plan``, ``global-manager --dry-run``), not executed at once.
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: Who executes the plan (the global manager that made it, or ``neat apply``); NULL: nobody yet.
    claimed_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    claimed_at: Mapped[datetime | None]


class Action(Base):
    """One step of a plan, in order: what, on which host/VM, and how it went."""

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("plan_id", "position"),
        CheckConstraint(_one_of("kind", ACTION_KINDS), name="kind"),
        CheckConstraint(_one_of("status", ACTION_STATUSES), name="status"),
        CheckConstraint("kind <> 'migrate' OR (vm_uuid IS NOT NULL AND target_host IS NOT NULL)", name="migrate"),
        Index(None, "status"),
        Index(None, "vm_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(STATE_LENGTH))
    #: The host acted on (for a migration: the source host), by name.
    host: Mapped[str] = mapped_column(String(NAME_LENGTH))
    vm_uuid: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    target_host: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    status: Mapped[str] = mapped_column(String(STATE_LENGTH))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)


class HostPowerTransition(Base):
    """A host's power state changed at ``changed_at`` (``from_state`` is NULL for a new host)."""

    __tablename__ = "host_power_transitions"
    __table_args__ = (
        CheckConstraint(_one_of("from_state", POWER_STATES), name="from_state"),
        CheckConstraint(_one_of("to_state", POWER_STATES), name="to_state"),
        Index(None, "host_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(STATE_LENGTH))
    to_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    #: The action that caused the change, if any.
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="SET NULL"), index=True)


class Lease(Base):
    """A named lease: one holder at a time until ``expires_at``; ``term`` grows with each new holder."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    term: Mapped[int]
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]

"""Frozen records of what the cloud reports: compute hosts, servers, migrations, server groups.

:mod:`neat.openstack.client` turns every openstacksdk resource into one of these as soon as it
arrives, so nothing outside the OpenStack boundary sees an SDK object, and what it holds cannot
change under it. This module imports nothing from openstacksdk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

ServiceStatus = Literal["enabled", "disabled"]
"""Whether the scheduler may place servers on a compute service's host (set by an operator)."""

ServiceState = Literal["up", "down"]
"""Whether the compute service reported in within Nova's ``service_down_time``."""

#: Live-migration statuses after which Nova changes nothing more. ``cancelled`` ends an aborted one.
TERMINAL_MIGRATION_STATUSES = frozenset({"completed", "error", "failed", "cancelled"})

_EMPTY: Mapping[str, str] = MappingProxyType({})


def frozen_mapping(values: Mapping[str, str] | None) -> Mapping[str, str]:
    """A read-only copy of ``values`` (None gives an empty mapping)."""
    return MappingProxyType(dict(values)) if values else _EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputeService:
    """A ``nova-compute`` service: the switch the scheduler reads before placing on its host."""

    id: str
    host: str
    status: ServiceStatus
    state: ServiceState
    disabled_reason: str | None = None
    forced_down: bool = False
    updated_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    @property
    def up(self) -> bool:
        return self.state == "up"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputeHost:
    """One compute host: its ``nova-compute`` service and its resources as Placement reports them.

    Totals, reservations and allocation ratios come from the host's Placement inventory, usage
    from its allocations (what the scheduler counts, fresher than Nova's hypervisor statistics,
    which are None from microversion 2.88 on). A host whose compute node has no resource provider
    yet (it has not reported in) has ``resource_provider_id`` None and every amount 0.
    Schedulable capacity is ``(total - reserved) * allocation_ratio``.
    """

    name: str
    service_id: str
    service_status: ServiceStatus
    service_state: ServiceState
    disabled_reason: str | None = None
    forced_down: bool = False
    resource_provider_id: str | None = None
    vcpus: int = 0
    vcpus_reserved: int = 0
    vcpus_used: int = 0
    cpu_allocation_ratio: float = 1.0
    memory_mb: int = 0
    memory_mb_reserved: int = 0
    memory_mb_used: int = 0
    ram_allocation_ratio: float = 1.0
    disk_gb: int = 0
    disk_gb_reserved: int = 0
    disk_gb_used: int = 0
    disk_allocation_ratio: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.service_status == "enabled"

    @property
    def up(self) -> bool:
        return self.service_state == "up"

    @property
    def usable(self) -> bool:
        """Enabled and up: the scheduler may place servers here."""
        return self.enabled and self.up and not self.forced_down

    @property
    def vcpus_capacity(self) -> float:
        return (self.vcpus - self.vcpus_reserved) * self.cpu_allocation_ratio

    @property
    def memory_mb_capacity(self) -> float:
        return (self.memory_mb - self.memory_mb_reserved) * self.ram_allocation_ratio

    @property
    def disk_gb_capacity(self) -> float:
        return (self.disk_gb - self.disk_gb_reserved) * self.disk_allocation_ratio

    @property
    def vcpus_free(self) -> float:
        return self.vcpus_capacity - self.vcpus_used

    @property
    def memory_mb_free(self) -> float:
        return self.memory_mb_capacity - self.memory_mb_used

    @property
    def disk_gb_free(self) -> float:
        return self.disk_gb_capacity - self.disk_gb_used


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """One server (instance), with its flavor's size and the server groups it belongs to.

    ``host`` is the compute service's host (None while unscheduled); ``task_state`` is None when
    no operation is in progress (``migrating`` during a live migration).
    """

    id: str
    name: str
    host: str | None
    status: str
    task_state: str | None = None
    vm_state: str | None = None
    hypervisor_hostname: str | None = None
    project_id: str | None = None
    flavor_name: str | None = None
    vcpus: int = 0
    ram_mb: int = 0
    disk_gb: int = 0
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    server_groups: tuple[str, ...] = ()

    @property
    def busy(self) -> bool:
        """True while an operation (a migration, a resize, ...) is in progress."""
        return self.task_state is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """Nova's record of one live migration of a server, from ``source`` to ``dest``."""

    id: int
    uuid: str | None
    server_id: str
    status: str
    source: str | None
    dest: str | None
    source_node: str | None = None
    dest_node: str | None = None
    migration_type: str = "live-migration"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        """True once Nova will not change this migration any more."""
        return self.status in TERMINAL_MIGRATION_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerGroup:
    """A server group: its policy (``anti-affinity``, ``affinity``, ``soft-...``) and members."""

    id: str
    name: str
    policy: str | None
    members: tuple[str, ...] = ()
    project_id: str | None = None
    max_server_per_host: int | None = None

    @property
    def anti_affinity(self) -> bool:
        """True for ``anti-affinity`` (hard): the scheduler never puts two members on one host."""
        return self.policy == "anti-affinity"


__all__ = [
    "TERMINAL_MIGRATION_STATUSES",
    "ComputeHost",
    "ComputeService",
    "Migration",
    "Server",
    "ServerGroup",
    "ServiceState",
    "ServiceStatus",
    "frozen_mapping",
]

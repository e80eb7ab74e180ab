"""The unit tests' Nova: :class:`tests.execution.fakes.FakeCloud` plus what the global manager reads.

Hosts of 4 vCPUs and 8 GB, servers of 1 vCPU and 512 MB unless ``flavors`` (server -> (vCPUs,
RAM MB)) says otherwise. Like Nova, it keeps a live-migration record per migration started (running
until waited for, then completed or error), which reconciliation reads; ``faults`` (call name ->
exception) makes a call fail the way a real cloud does (a 5xx, unreachable).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from neat.config import ServiceConfig
from neat.decision import SERVICE_DEFAULTS, parse_policy
from neat.openstack.errors import NotFound
from neat.openstack.records import ComputeHost, Migration, Server
from neat.service.global_manager import GlobalManager
from tests.execution.fakes import FakeCloud


class FakeNova(FakeCloud):
    def __init__(self, placement, groups=(), flavors=None, aggregates=None, extra_hosts=(), **kw):
        super().__init__(placement, **kw)
        self.groups = list(groups)
        self.flavors = dict(flavors or {})
        self._aggregates = dict(aggregates or {})
        self.aggregate_reads = 0
        self.extra_hosts = set(extra_hosts)
        self.no_service: set[str] = set()  # hosts whose servers are listed but which have no compute service
        self.records: dict[str, list[Migration]] = {}
        self.faults: dict[str, Exception] = {}
        self.disabled_reasons: dict[str, str] = {}

    def _fault(self, call):
        if call in self.faults:
            raise self.faults[call]

    # -- what the global manager reads ------------------------------------------------------------
    def hosts(self):
        self._fault("hosts")
        names = sorted(({*self.placement.values(), "c1", "c2", "c3"} | self.extra_hosts) - self.no_service)
        return [self.host(n) for n in names]

    def host(self, name):
        self._fault("host")
        if name in self.no_service:
            raise NotFound(f"no nova-compute service on host {name!r}")
        return ComputeHost(
            name=name,
            service_id=name,
            service_status="disabled" if name in self.disabled else "enabled",
            service_state="up",
            disabled_reason=self.disabled_reasons.get(name),
            vcpus=4,
            memory_mb=8192,
        )

    def servers(self, host=None):
        self._fault("servers")
        return [self._server(s) for s, h in sorted(self.placement.items()) if host is None or h == host]

    def server(self, server_id):
        self._fault("server")
        if server_id not in self.placement:
            raise NotFound(f"no server {server_id}")
        return self._server(server_id)

    def _server(self, s):
        return Server(
            id=s,
            name=s,
            host=self.placement[s],
            status="ACTIVE",
            task_state="migrating" if s in self.migrating else None,
            vcpus=self.flavors.get(s, (1, 512))[0],
            ram_mb=self.flavors.get(s, (1, 512))[1],
            server_groups=self._groups_of(s),
        )

    def migrations(self, server_id):
        self._fault("migrations")
        return tuple(self.records.get(server_id, ()))

    def migration(self, server_id):
        found = self.migrations(server_id)
        return found[-1] if found else None

    def server_groups(self):
        return self.groups

    def aggregates(self):
        self.aggregate_reads += 1
        return self._aggregates

    def disable_service(self, host, reason):
        self.calls.append(("disable", host, reason))
        self.disabled.add(host)
        self.disabled_reasons[host] = reason

    def enable_service(self, host):
        self.enable_host(host)

    def _groups_of(self, server):
        return tuple(g.id for g in self.groups if server in g.members)

    # -- the Compute protocol, with migration records ---------------------------------------------
    def live_migrate(self, server_id, host):
        self._fault("live_migrate")
        source = self.placement.get(server_id)
        super().live_migrate(server_id, host)
        records = self.records.setdefault(server_id, [])
        records.append(
            Migration(
                id=sum(len(r) for r in self.records.values()) + 1,
                uuid=None,
                server_id=server_id,
                status="running",
                source=source,
                dest=host,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )

    def finish(self, server_id, status="completed"):
        """End a running migration the way Nova does, without anyone waiting for it."""
        target = self.migrating.pop(server_id)
        if status == "completed":
            self.placement[server_id] = target
        self._set_last_status(server_id, status)

    def wait_migration(self, server_id, timeout_s):
        self._fault("wait_migration")
        status = super().wait_migration(server_id, timeout_s)
        records = self.records.get(server_id)
        if records and records[-1].status == "running" and server_id not in self.migrating:
            self._set_last_status(server_id, status)
        return status

    def _set_last_status(self, server_id, status):
        """Nova's record of the server's last migration, now with ``status``."""
        records = self.records[server_id]
        records[-1] = replace(records[-1], status=status, updated_at=datetime.now(UTC))

    def disable_host(self, host, reason):
        self.disable_service(host, reason)


def config(**changes: Any) -> ServiceConfig:
    """The service's configuration with thr-mmt-0.8; ``limits`` (a dict) changes its limits, the
    other keywords its fields."""
    limits = changes.pop("limits", {})
    return ServiceConfig(policy_spec=parse_policy("thr-mmt-0.8"), limits=replace(SERVICE_DEFAULTS, **limits), **changes)


def manager(store: Any, nova: Any, holder: str = "gm-1", **changes: Any) -> GlobalManager:
    """A global manager on ``store`` driving ``nova`` as its cloud and compute (see :func:`config`)."""
    return GlobalManager(config(**changes), store, nova, nova, holder=holder)

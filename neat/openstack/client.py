"""Nova and Placement through openstacksdk: the only module of neat that imports it.

:class:`NovaClient` reads compute hosts (services joined with Placement inventories and usages),
servers, live-migration records and server groups, starts scheduler-checked live migrations and
switches compute services on and off. Every SDK resource becomes a frozen record from
:mod:`neat.openstack.records` at once; every SDK or keystoneauth error becomes a
:class:`neat.openstack.errors.OpenStackError`.

Facts this relies on (Nova 34, openstacksdk 4.22; see tests/integration):

- Hypervisor statistics are None from microversion 2.88 on, so capacities and usage come from
  Placement; from 2.53 on a hypervisor's id is its compute node's UUID, which is also the id of its
  Placement resource provider.
- ``os-migrateLive`` is sent at microversion 2.30 by the SDK: synchronous scheduling, so a target
  the scheduler rejects answers HTTP 400 at once and the server stays put. ``force`` is never sent:
  a forced migration skips the scheduler (it would place a server on a disabled host).
- A live migration is over when its migration record is terminal (completed, error, failed,
  cancelled) and the server has no task state. A server was seen ACTIVE on its new host while its
  record still said running: never act on a source host before ``completed``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, Self

import keystoneauth1.exceptions as ksa_exceptions
import openstack
import openstack.config
import openstack.connection
import openstack.exceptions as sdk_exceptions

from neat.openstack.errors import (
    AuthError,
    BadRequest,
    CloudConfigError,
    CloudUnreachable,
    Conflict,
    MigrationTimeout,
    NotFound,
    NoValidHost,
    OpenStackError,
)
from neat.openstack.records import (
    ComputeHost,
    ComputeService,
    Migration,
    Server,
    ServerGroup,
    ServiceState,
    ServiceStatus,
    frozen_mapping,
)

COMPUTE_BINARY = "nova-compute"
LIVE_MIGRATION = "live-migration"
#: Nova's limit on a service's disabled reason.
MAX_DISABLED_REASON_CHARS = 255
DEFAULT_API_TIMEOUT_S = 60.0


class NovaClient:
    """Nova (and Placement, for host resources) for the consolidation service.

    Build one with :meth:`connect`; it is safe to share between threads as far as openstacksdk's
    connection is (one HTTP session; calls do not keep state here).
    """

    def __init__(
        self,
        connection: openstack.connection.Connection,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._conn = connection
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def connect(
        cls,
        cloud: str,
        *,
        config_file: str | os.PathLike[str] | None = None,
        api_timeout_s: float = DEFAULT_API_TIMEOUT_S,
    ) -> Self:
        """Connect to the cloud named ``cloud`` in clouds.yaml.

        clouds.yaml is found where openstacksdk looks (``OS_CLIENT_CONFIG_FILE``, ./clouds.yaml,
        ~/.config/openstack/, /etc/openstack/) unless ``config_file`` names it; ``envvars`` is the
        cloud described by ``OS_*`` environment variables. Nothing is sent until the first call.
        """
        config_files = [os.fspath(config_file)] if config_file is not None else None
        with _translated(f"reading the configuration of cloud {cloud!r}"), warnings.catch_warnings():
            # openstacksdk 4.22 warns that InfluxDB metrics are deprecated on every connection, even
            # with no InfluxDB configured (its parsed section is a dict of Nones, hence truthy).
            warnings.filterwarnings("ignore", message="Support for InfluxDB")
            loader = openstack.config.OpenStackConfig(config_files=config_files, app_name="neat")
            region = loader.get_one(cloud=cloud, api_timeout=api_timeout_s)
            return cls(openstack.connection.Connection(config=region))

    def close(self) -> None:
        """Close the HTTP session."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- compute services and hosts ------------------------------------------------------------
    def services(self) -> tuple[ComputeService, ...]:
        """Every ``nova-compute`` service, sorted by host."""
        with _translated("listing compute services"):
            found = [_service(s) for s in self._conn.compute.services(binary=COMPUTE_BINARY)]
        return tuple(sorted(found, key=lambda s: s.host))

    def service(self, host: str) -> ComputeService:
        """The ``nova-compute`` service of ``host``; :class:`NotFound` if there is none."""
        return _service(self._service_resource(host))

    def hosts(self) -> tuple[ComputeHost, ...]:
        """Every compute host with its service's status and its Placement resources, by name.

        One call for the services, one for the hypervisors, then two Placement calls per host
        (inventories and usages).
        """
        with _translated("listing compute services"):
            services = list(self._conn.compute.services(binary=COMPUTE_BINARY))
        with _translated("listing hypervisors"):
            providers = {}
            for hypervisor in self._conn.compute.hypervisors(details=True):
                host = (hypervisor.service_details or {}).get("host")
                # One compute node per host (libvirt, the fake driver): keep the first.
                if host and host not in providers:
                    providers[host] = str(hypervisor.id)
        hosts = [self._host(s, providers.get(s.host)) for s in services]
        return tuple(sorted(hosts, key=lambda h: h.name))

    def host(self, name: str) -> ComputeHost:
        """One compute host, as in :meth:`hosts`; :class:`NotFound` if it has no compute service."""
        service = self._service_resource(name)
        with _translated(f"reading the hypervisor of host {name!r}"):
            provider = next(
                (
                    str(h.id)
                    for h in self._conn.compute.hypervisors(details=True)
                    if (h.service_details or {}).get("host") == name
                ),
                None,
            )
        return self._host(service, provider)

    def disable_service(self, host: str, reason: str) -> ComputeService:
        """Disable ``host``'s compute service, recording ``reason``; the scheduler then skips it.

        Returns the service as Nova reports it afterwards.
        """
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_DISABLED_REASON_CHARS:
            raise ValueError(
                "The 'reason' parameter of NovaClient.disable_service must be a non-blank str of at most "
                f"{MAX_DISABLED_REASON_CHARS} characters (Nova's limit). Got {reason!r} instead."
            )
        service = self._service_resource(host)
        with _translated(f"disabling the compute service of host {host!r}"):
            return _service(self._conn.compute.disable_service(service, disabled_reason=reason))

    def enable_service(self, host: str) -> ComputeService:
        """Enable ``host``'s compute service again (its disabled reason is cleared)."""
        service = self._service_resource(host)
        with _translated(f"enabling the compute service of host {host!r}"):
            return _service(self._conn.compute.enable_service(service))

    # -- servers ------------------------------------------------------------------------------
    def servers(self, host: str | None = None) -> tuple[Server, ...]:
        """Servers of every project, only those on ``host`` if given; sorted by name, then id."""
        query: dict[str, Any] = {"details": True, "all_projects": True}
        if host is not None:
            query["compute_host"] = host
        where = f" on host {host!r}" if host is not None else ""
        with _translated(f"listing servers{where}"):
            found = list(self._conn.compute.servers(**query))
        groups = self._group_membership() if found else {}
        servers = [_server(s, groups.get(str(s.id), ())) for s in found]
        return tuple(sorted(servers, key=lambda s: (s.name, s.id)))

    def server(self, server_id: str) -> Server:
        """One server; :class:`NotFound` if it does not exist (any more)."""
        with _translated(f"reading server {server_id}"):
            found = self._conn.compute.get_server(server_id)
        groups = found.server_groups
        if groups is None:  # before microversion 2.71
            groups = self._group_membership().get(server_id, ())
        return _server(found, tuple(groups))

    def server_groups(self) -> tuple[ServerGroup, ...]:
        """Server groups of every project, sorted by name, then id."""
        with _translated("listing server groups"):
            found = [_server_group(g) for g in self._conn.compute.server_groups(all_projects=True)]
        return tuple(sorted(found, key=lambda g: (g.name, g.id)))

    def aggregates(self) -> dict[str, tuple[str, ...]]:
        """Host aggregates by name: the hosts of each, sorted."""
        with _translated("listing host aggregates"):
            found = {str(a.name): tuple(sorted(str(h) for h in a.hosts or ())) for a in self._conn.compute.aggregates()}
        return dict(sorted(found.items()))

    # -- live migration -----------------------------------------------------------------------
    def live_migrate(self, server_id: str, host: str) -> None:
        """Live-migrate a server to ``host``, through the scheduler (never forced).

        ``block_migration='auto'`` lets Nova choose by storage. Raises :class:`NoValidHost`
        when the scheduler rejects ``host`` (the server stays), :class:`Conflict` when the
        server's state forbids it now (already migrating, stopped), :class:`NotFound` for an
        unknown server. Returns once Nova accepted; follow it with :meth:`wait_migration`.
        """
        if not isinstance(host, str) or not host:
            raise ValueError(
                "The 'host' parameter of NovaClient.live_migrate must be a compute host's name "
                f"(the scheduler still checks it). Got {host!r} instead."
            )
        action = f"live migration of server {server_id} to host {host!r}"
        with _translated(action, bad_request=NoValidHost):
            try:
                self._conn.compute.live_migrate_server(server_id, host=host, force=False, block_migration="auto")
            except ValueError as error:  # the SDK refuses a named host without force below 2.30
                raise OpenStackError(
                    f"{action}: this cloud's compute API predates microversion 2.30, the first where a "
                    f"named host still goes through the scheduler, and neat never forces ({error})"
                ) from error

    def migrations(self, server_id: str) -> tuple[Migration, ...]:
        """The server's live-migration records, oldest first (rejected attempts included)."""
        with _translated(f"listing the live migrations of server {server_id}"):
            found = [
                _migration(m) for m in self._conn.compute.migrations(server_id=server_id, migration_type=LIVE_MIGRATION)
            ]
        return tuple(sorted(found, key=lambda m: m.id))

    def migration(self, server_id: str) -> Migration | None:
        """The server's newest live-migration record, None if it never had one."""
        found = self.migrations(server_id)
        return found[-1] if found else None

    def wait_migration(
        self,
        server_id: str,
        timeout_s: float = 300.0,
        poll_s: float = 1.0,
        *,
        newer_than: int | None = None,
    ) -> Migration:
        """Wait until the server's newest live migration is over, and return its record.

        Over means: the record is terminal (``completed``, ``error``, ``failed``, ``cancelled``)
        and the server has no task state any more (or is gone). Only records with an id above
        ``newer_than`` count, if given. Raises :class:`MigrationTimeout` after ``timeout_s``
        seconds (the migration may still be running), polling every ``poll_s`` seconds.
        """
        for name, value in (("timeout_s", timeout_s), ("poll_s", poll_s)):
            if not isinstance(value, int | float) or not value > 0:
                raise ValueError(
                    f"The {name!r} parameter of NovaClient.wait_migration must be a number of seconds "
                    f"in (0, inf). Got {value!r} instead."
                )
        deadline = self._clock() + timeout_s
        while True:
            latest = self.migration(server_id)
            if latest is not None and newer_than is not None and latest.id <= newer_than:
                latest = None
            if latest is not None and latest.terminal:
                try:
                    if not self.server(server_id).busy:
                        return latest
                except NotFound:  # deleted meanwhile: the record is the last word
                    return latest
            remaining = deadline - self._clock()
            if remaining <= 0:
                where = f"still {latest.status!r}" if latest is not None else "no live migration recorded"
                raise MigrationTimeout(
                    f"live migration of server {server_id} not over after {timeout_s:g} s ({where}); "
                    "it may still be running"
                )
            self._sleep(min(poll_s, remaining))

    # -- helpers ------------------------------------------------------------------------------
    def _service_resource(self, host: str) -> Any:
        with _translated(f"looking up the compute service of host {host!r}"):
            found = list(self._conn.compute.services(binary=COMPUTE_BINARY, host=host))
            if not found:
                known = sorted(str(s.host) for s in self._conn.compute.services(binary=COMPUTE_BINARY))
                raise NotFound(f"no {COMPUTE_BINARY} service on host {host!r}; the compute hosts are {known}")
        return found[0]

    def _host(self, service: Any, provider_id: str | None) -> ComputeHost:
        inventories: dict[str, Any] = {}
        usages: Mapping[str, int] = {}
        if provider_id is not None:
            placement = self._conn.placement
            with _translated(f"reading the Placement resources of host {service.host!r}"):
                inventories = {i.resource_class: i for i in placement.resource_provider_inventories(provider_id)}
                usages = placement.fetch_resource_provider_usages(provider_id).usages or {}
        amounts: dict[str, Any] = {}
        for resource_class, prefix, ratio in (
            ("VCPU", "vcpus", "cpu_allocation_ratio"),
            ("MEMORY_MB", "memory_mb", "ram_allocation_ratio"),
            ("DISK_GB", "disk_gb", "disk_allocation_ratio"),
        ):
            inventory = inventories.get(resource_class)
            if inventory is not None:
                amounts[prefix] = int(inventory.total or 0)
                amounts[f"{prefix}_reserved"] = int(inventory.reserved or 0)
                amounts[ratio] = float(inventory.allocation_ratio or 1.0)
            amounts[f"{prefix}_used"] = int(usages.get(resource_class, 0))
        record = _service(service)
        return ComputeHost(
            name=record.host,
            service_id=record.id,
            service_status=record.status,
            service_state=record.state,
            disabled_reason=record.disabled_reason,
            forced_down=record.forced_down,
            resource_provider_id=provider_id,
            **amounts,
        )

    def _group_membership(self) -> dict[str, tuple[str, ...]]:
        membership: dict[str, list[str]] = {}
        for group in self.server_groups():
            for member in group.members:
                membership.setdefault(member, []).append(group.id)
        return {server: tuple(groups) for server, groups in membership.items()}


# -- SDK resources to records ------------------------------------------------------------------
def _service(service: Any) -> ComputeService:
    status: ServiceStatus = "disabled" if service.status == "disabled" else "enabled"
    state: ServiceState = "up" if service.state == "up" else "down"
    return ComputeService(
        id=str(service.id),
        host=str(service.host),
        status=status,
        state=state,
        disabled_reason=service.disabled_reason or None,
        forced_down=bool(service.is_forced_down),
        updated_at=_time(service.updated_at),
    )


def _server(server: Any, groups: Iterable[str]) -> Server:
    flavor = server.flavor
    return Server(
        id=str(server.id),
        name=str(server.name or ""),
        host=server.compute_host or None,
        status=str(server.status),
        task_state=server.task_state or None,
        vm_state=server.vm_state or None,
        hypervisor_hostname=server.hypervisor_hostname or None,
        project_id=server.project_id or None,
        flavor_name=(flavor.original_name or flavor.name) if flavor is not None else None,
        vcpus=int(flavor.vcpus or 0) if flavor is not None else 0,
        ram_mb=int(flavor.ram or 0) if flavor is not None else 0,
        disk_gb=int(flavor.disk or 0) if flavor is not None else 0,
        metadata=frozen_mapping({str(k): str(v) for k, v in (server.metadata or {}).items()}),
        server_groups=tuple(str(g) for g in groups),
    )


def _migration(migration: Any) -> Migration:
    return Migration(
        id=int(migration.id),
        uuid=migration.uuid or None,
        server_id=str(migration.server_id),
        status=str(migration.status),
        source=migration.source_compute or None,
        dest=migration.dest_compute or None,
        source_node=migration.source_node or None,
        dest_node=migration.dest_node or None,
        migration_type=str(migration.migration_type or LIVE_MIGRATION),
        created_at=_time(migration.created_at),
        updated_at=_time(migration.updated_at),
    )


def _server_group(group: Any) -> ServerGroup:
    policy = group.policy or (group.policies[0] if group.policies else None)
    rules = group.rules or {}
    limit = rules.get("max_server_per_host")
    return ServerGroup(
        id=str(group.id),
        name=str(group.name or ""),
        policy=policy,
        members=tuple(str(m) for m in group.member_ids or ()),
        project_id=group.project_id or None,
        max_server_per_host=int(limit) if limit is not None else None,
    )


def _time(value: str | None) -> datetime | None:
    """Nova's timestamps are UTC, with or without an offset: always return an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- errors -------------------------------------------------------------------------------------
@contextmanager
def _translated(action: str, *, bad_request: type[BadRequest] = BadRequest) -> Iterator[None]:
    """Raise SDK and keystoneauth errors met while doing ``action`` as neat errors."""
    try:
        yield
    except OpenStackError:
        raise
    except sdk_exceptions.HttpException as error:
        _raise_http(action, error, bad_request)
    except ksa_exceptions.EndpointNotFound as error:
        raise CloudConfigError(f"{action}: the cloud's catalog has no such endpoint ({error})") from error
    except (ksa_exceptions.ConnectionError, ConnectionError) as error:
        raise CloudUnreachable(f"{action}: the cloud did not answer ({error})") from error
    except (ksa_exceptions.Unauthorized, ksa_exceptions.Forbidden) as error:
        raise AuthError(
            f"{action}: Keystone refused the credentials ({error})", status_code=error.http_status
        ) from error
    except ksa_exceptions.HttpError as error:
        raise OpenStackError(f"{action} failed: {error}", status_code=error.http_status) from error
    except (sdk_exceptions.ConfigException, ksa_exceptions.MissingRequiredOptions) as error:
        raise CloudConfigError(f"{action}: {error}") from error
    except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as error:
        raise OpenStackError(f"{action} failed: {error}") from error


def _raise_http(action: str, error: sdk_exceptions.HttpException, bad_request: type[BadRequest]) -> NoReturn:
    status = error.status_code
    details = str(error.details or error.message or "").strip()
    told = f"{action}: HTTP {status}: {details}" if details else f"{action}: HTTP {status}"
    kinds: dict[int, type[OpenStackError]] = {
        400: bad_request,
        401: AuthError,
        403: AuthError,
        404: NotFound,
        409: Conflict,
    }
    kind = kinds.get(status, OpenStackError) if status is not None else OpenStackError
    raise kind(told, status_code=status, request_id=error.request_id) from error


__all__ = ["NovaClient"]

"""The executor's view of a real cloud, on top of :class:`neat.openstack.NovaClient`.

Nova's answers become the executor's: 400 on a named target -> :class:`SchedulerRejected`, 409 ->
:class:`ServerBusy`, 404 for the server -> :class:`ServerGone`, a timeout -> :class:`MigrationTimedOut`;
any other error (a 5xx, the cloud unreachable) goes through as it is, and the executor records it.
"""

from __future__ import annotations

from collections.abc import Sequence

from neat.execution.executor import MigrationTimedOut, SchedulerRejected, ServerBusy, ServerGone
from neat.openstack.client import NovaClient
from neat.openstack.errors import Conflict, NotFound, NoValidHost
from neat.openstack.errors import MigrationTimeout as NovaMigrationTimeout


class NovaCompute:
    """Implements :class:`neat.execution.executor.Compute` with Nova's API."""

    def __init__(self, client: NovaClient, *, poll_s: float = 1.0) -> None:
        self.client = client
        self.poll_s = poll_s
        self._last_record: dict[str, int | None] = {}

    def server_host(self, server_id: str) -> str | None:
        try:
            return self.client.server(server_id).host
        except NotFound:
            return None

    def host_usable(self, host: str) -> bool:
        try:
            return self.client.host(host).usable
        except NotFound:
            return False

    def live_migrate(self, server_id: str, host: str) -> None:
        try:
            latest = self.client.migration(server_id)
            self._last_record[server_id] = latest.id if latest is not None else None
            self.client.live_migrate(server_id, host)
        except NoValidHost as exc:
            raise SchedulerRejected(str(exc)) from exc
        except Conflict as exc:
            raise ServerBusy(str(exc)) from exc
        except NotFound as exc:
            raise ServerGone(str(exc)) from exc

    def wait_migration(self, server_id: str, timeout_s: float) -> str:
        try:
            record = self.client.wait_migration(
                server_id, timeout_s, self.poll_s, newer_than=self._last_record.get(server_id)
            )
        except NovaMigrationTimeout as exc:
            raise MigrationTimedOut(str(exc)) from exc
        except NotFound as exc:
            raise ServerGone(str(exc)) from exc
        return record.status

    def servers_on(self, host: str) -> Sequence[str]:
        return [s.id for s in self.client.servers(host)]

    def disable_host(self, host: str, reason: str) -> None:
        self.client.disable_service(host, reason)

    def enable_host(self, host: str) -> None:
        self.client.enable_service(host)

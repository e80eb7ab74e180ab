"""A scripted fake cloud implementing :class:`neat.execution.executor.Compute` (the unit tests' Nova).

Like Nova, a live migration runs on its own once started and the fake answers "busy" to a second
start for a server still migrating; unlike Nova, a migration ends when it is waited for.
"""

from __future__ import annotations

from neat.execution.executor import MigrationTimedOut, SchedulerRejected, ServerBusy


class FakeCloud:
    """Servers on hosts (by name); scripted behaviour per server.

    ``script`` values: "reject" (the scheduler refuses every target), "timeout" (the migration never
    ends in time; it may still be running, so the server stays busy), "error" (the migration ends
    in error, the server stays), "busy-once" (the first start is answered busy). ``busy`` gives, per
    server, how many starts are answered busy before one is accepted.
    """

    parallel_server_migrations = False

    def __init__(
        self,
        placement: dict[str, str],
        script: dict[str, str] | None = None,
        disabled=(),
        busy: dict[str, int] | None = None,
    ) -> None:
        self.placement = dict(placement)
        self.script = dict(script or {})
        self.disabled = set(disabled)
        self.busy = dict(busy or {})
        for server, behaviour in self.script.items():
            if behaviour == "busy-once":
                self.busy.setdefault(server, 1)
        self.calls: list[tuple] = []
        self.migrating: dict[str, str] = {}  # server -> target, started and not ended
        self.max_in_flight = 0

    # -- the Compute protocol ---------------------------------------------------------------
    def server_host(self, server_id):
        return self.placement.get(server_id)

    def host_usable(self, host):
        return host not in self.disabled

    def live_migrate(self, server_id, host):
        self.calls.append(("migrate", server_id, host))
        if self.script.get(server_id) == "reject":
            raise SchedulerRejected("No valid host was found")
        if self.busy.get(server_id, 0) > 0:
            self.busy[server_id] -= 1
            raise ServerBusy("task_state migrating")
        if server_id in self.migrating:
            raise ServerBusy(f"{server_id} is migrating to {self.migrating[server_id]}")
        self.migrating[server_id] = host
        self.max_in_flight = max(self.max_in_flight, len(self.migrating))

    def wait_migration(self, server_id, timeout_s):
        self.calls.append(("wait", server_id))
        if server_id not in self.migrating:
            return "error"
        behaviour = self.script.get(server_id, "ok")
        if behaviour == "timeout":  # still running in the cloud: it stays in flight
            raise MigrationTimedOut(f"{server_id}: still running after {timeout_s} s")
        target = self.migrating.pop(server_id)
        if behaviour == "error":
            return "error"
        self.placement[server_id] = target
        return "completed"

    def servers_on(self, host):
        return [s for s, h in self.placement.items() if h == host]

    def disable_host(self, host, reason):
        self.calls.append(("disable", host, reason))
        self.disabled.add(host)

    def enable_host(self, host):
        self.calls.append(("enable", host))
        self.disabled.discard(host)

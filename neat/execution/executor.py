"""Apply a plan: wake its targets, run its live migrations under limits, then disable the hosts they emptied.

The executor talks to the cloud through the :class:`Compute` protocol and reports every action's
progress to an :class:`ActionLog` (the database in the service). Live migrations are asynchronous
in Nova, so no threads are needed: the executor starts migrations until ``max_concurrent_migrations``
are in flight, then waits for the oldest; a server's second migration in one plan starts only after
its first ended. A host is disabled only when every migration off it completed and the cloud shows
no instance left on it; a failed or timed-out migration leaves its source enabled.

Faults: an unexpected error of the cloud is recorded and the plan goes on. Before a migration
started, it fails the action; once one may have started (an error starting it or while waiting
for it), the outcome is :data:`LOST`: the cloud's own records decide later what happened (the
service reconciles them), and the source is never disabled. Before each action a ``guard`` may say
stop (the lease was lost, the service is stopping): that action and every later one are
:data:`CANCELLED`, migrations already in flight are still waited for. The action log is the
fence: an action whose start cannot be recorded is not performed (:class:`Stop` from the log
cancels it and the rest); a failure to record an outcome is logged and the plan goes on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple, Protocol

from neat.decision.limits import Limits

log = logging.getLogger(__name__)

#: Action kinds, in the order a plan runs them.
ENABLE = "enable"
MIGRATE = "migrate"
DISABLE = "disable"

#: Outcome statuses.
COMPLETED = "completed"
FAILED = "failed"
TIMEOUT = "timeout"
SKIPPED = "skipped"
#: Not performed: the guard or the action log said stop.
CANCELLED = "cancelled"
#: The cloud failed while the migration may have started or ended: its records decide.
LOST = "lost"


class SchedulerRejected(Exception):
    """The cloud's scheduler refused the target (Nova: HTTP 400 "No valid host was found")."""


class ServerBusy(Exception):
    """The server is in a state that forbids the operation now (Nova: HTTP 409); worth a retry."""


class MigrationTimedOut(Exception):
    """The migration did not reach a terminal state in time (it may still be running)."""


class ServerGone(Exception):
    """The server no longer exists (Nova: HTTP 404, deleted while the plan ran)."""


class Stop(Exception):
    """Raised by :meth:`ActionLog.started` to refuse an action and every later one (the plan was
    cancelled, the lease is lost); the message says why."""


class Compute(Protocol):
    """What the executor needs from the cloud. Hosts and servers are named by the compute's own ids.

    A compute may also have ``parallel_server_migrations = True`` (CloudSim's semantics, in the
    simulator): a server may then be migrated again while migrating, and its earlier migration
    counts as completed when its newest one does. Clouds answer "busy" instead, so by default the
    executor starts a server's next migration only after its previous one ended.
    """

    def server_host(self, server: Any) -> Any:
        """The host a server runs on, None if it no longer exists (ids are the compute's own)."""
        ...

    def host_usable(self, host: Any) -> bool:
        """True if the host's compute service is enabled and up."""
        ...

    def live_migrate(self, server: Any, host: Any) -> None:
        """Start a live migration to ``host``, checked by the scheduler (never forced); returns at once."""
        ...

    def wait_migration(self, server: Any, timeout_s: float) -> str:
        """Wait for the server's newest live migration to end; return its status
        ("completed", "error", "failed", ...) or raise :class:`MigrationTimedOut`."""
        ...

    def servers_on(self, host: Any) -> Sequence[Any]:
        """Ids of the servers the cloud shows on ``host``."""
        ...

    def disable_host(self, host: Any, reason: str) -> None:
        """Disable the host's compute service with a reason."""
        ...

    def enable_host(self, host: Any) -> None:
        """Enable the host's compute service (the host is switched on)."""
        ...


class ActionLog(Protocol):
    """Where the executor records progress (one call per state change).

    ``started`` is called before an action is performed and is its fence: if it raises, the
    action is not performed (:class:`Stop`: nor any later one). An exception from ``finished`` is
    logged; the plan goes on.
    """

    def started(self, index: int) -> None: ...

    def finished(self, index: int, status: str, error: str | None = None) -> None: ...


class NullLog:
    """An :class:`ActionLog` that keeps nothing (the simulator's)."""

    def started(self, index: int) -> None:
        pass

    def finished(self, index: int, status: str, error: str | None = None) -> None:
        pass


class Action(NamedTuple):
    """One step of a plan: ``kind`` on ``host``; a migration moves ``server`` from ``host`` to ``target``."""

    kind: str
    host: Hashable
    server: Hashable = None
    target: Hashable = None


class Outcome(NamedTuple):
    """How one action ended; ``position`` is the action's in the plan."""

    position: int
    action: Action
    status: str
    error: str | None = None
    attempts: int = 0
    duration_s: float = 0.0


class Executor:
    """Run a plan's actions: wakes, then migrations (at most ``max_concurrent_migrations`` at once), then disables.

    ``clock`` measures durations (the simulator passes its simulated clock); ``sleep`` pauses
    before a retry; ``guard``, called before each action, returns a reason to stop (None: go on).
    """

    def __init__(
        self,
        compute: Compute,
        log_to: ActionLog,
        limits: Limits,
        *,
        retry_pause_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        reason: str = "neat: host emptied by consolidation",
        guard: Callable[[], str | None] | None = None,
    ) -> None:
        self.compute = compute
        self.log_to = log_to
        self.limits = limits
        self.retry_pause_s = retry_pause_s
        self.sleep = sleep
        self.clock = clock
        self.reason = reason
        self.guard = guard
        self._stopped: str | None = None

    def apply(self, actions: Sequence[Action]) -> list[Outcome]:
        """Execute ``actions``; returns one outcome per action, in the plan's order."""
        self._stopped = None
        outcomes: dict[int, Outcome] = {}
        for i, action in enumerate(actions):
            if action.kind == ENABLE:
                outcomes[i] = self._enable(i, action)
        migrations = [i for i, a in enumerate(actions) if a.kind == MIGRATE]
        outcomes.update(self._migrate_all(actions, migrations))
        off_host: dict[Hashable, list[Outcome]] = {}
        for j in migrations:
            off_host.setdefault(actions[j].host, []).append(outcomes[j])
        for i, action in enumerate(actions):
            if action.kind == DISABLE:
                outcomes[i] = self._disable(i, action, off_host.get(action.host, []))
            elif action.kind not in (ENABLE, MIGRATE):
                outcomes[i] = self._finish(Outcome(i, action, FAILED, f"unknown action kind {action.kind!r}"))
        return [outcomes[i] for i in range(len(actions))]

    def _begin(self, index: int, action: Action) -> Outcome | None:
        """Ask the guard, then record the start; None to go on, else the outcome of not performing it."""
        if self._stopped is None and self.guard is not None:
            try:
                self._stopped = self.guard()
            except Exception as exc:  # a guard that cannot tell says stop
                self._stopped = f"the safety check failed ({type(exc).__name__}: {exc})"
            if self._stopped is not None:
                log.warning("stopping the plan before action %d: %s", index, self._stopped)
        if self._stopped is not None:
            return Outcome(index, action, CANCELLED, self._stopped)
        try:
            self.log_to.started(index)
        except Stop as exc:
            self._stopped = str(exc)
            log.warning("stopping the plan at action %d: %s", index, exc)
            return Outcome(index, action, CANCELLED, str(exc))
        except Exception as exc:
            log.error(
                "action %d not performed: its start could not be recorded (%s: %s)", index, type(exc).__name__, exc
            )
            return Outcome(index, action, SKIPPED, f"not performed: its start could not be recorded ({exc})")
        return None

    # -- migrations -----------------------------------------------------------------------
    def _migrate_all(self, actions: Sequence[Action], indices: Sequence[int]) -> dict[int, Outcome]:
        """Run the migrations ``indices`` of ``actions``: start in plan order while the window has room,
        wait for the oldest in flight; a server's next migration waits for its previous one."""
        window = self.limits.max_concurrent_migrations or max(len(indices), 1)
        parallel = bool(getattr(self.compute, "parallel_server_migrations", False))
        latest = {actions[i].server: i for i in indices}  # a server's last migration in the plan
        attempts = dict.fromkeys(indices, 0)
        started_at: dict[int, float] = {}
        done: dict[int, Outcome] = {}
        pending = deque(indices)
        in_flight: deque[int] = deque()
        busy_servers: set[Hashable] = set()
        while pending or in_flight:
            # start what the window allows, in plan order; a server already migrating waits
            held: list[int] = []
            while pending and len(in_flight) < window:
                i = pending.popleft()
                action = actions[i]
                if action.server in busy_servers:
                    held.append(i)
                    continue
                if i not in started_at:
                    refused = self._begin(i, action)
                    if refused is not None:
                        done[i] = self._finish(refused)
                        continue
                    started_at[i] = self.clock()
                outcome = self._start(i, action, attempts, started_at[i])
                if outcome is None:
                    in_flight.append(i)
                    if not parallel:
                        busy_servers.add(action.server)
                else:
                    done[i] = self._finish(outcome)
            if held:
                pending.extendleft(reversed(held))
            if not in_flight:
                continue  # what is left waited for servers that are free now
            i = in_flight.popleft()
            busy_servers.discard(actions[i].server)
            superseded = parallel and latest[actions[i].server] != i
            outcome = self._wait(i, actions[i], attempts, started_at[i], superseded)
            if outcome is None:  # ended badly, retries left: start it again
                pending.appendleft(i)
            else:
                done[i] = self._finish(outcome)
        return done

    def _start(self, i: int, action: Action, attempts: dict[int, int], started: float) -> Outcome | None:
        """Start migration ``i``; None when it is in flight, else how it ended."""
        while True:
            try:
                problem = self._precondition(action)
            except Exception as exc:  # nothing started: the action fails, the plan goes on
                error = f"cloud error before starting: {type(exc).__name__}: {exc}"
                return Outcome(i, action, FAILED, error, attempts[i], self.clock() - started)
            if problem is not None:
                return Outcome(i, action, SKIPPED, problem, attempts[i], self.clock() - started)
            attempts[i] += 1
            try:
                self.compute.live_migrate(action.server, action.target)
            except SchedulerRejected as exc:  # the scheduler said no: retrying will not help
                return Outcome(i, action, FAILED, f"rejected: {exc}", attempts[i], self.clock() - started)
            except ServerGone as exc:
                return Outcome(
                    i, action, SKIPPED, f"server no longer exists: {exc}", attempts[i], self.clock() - started
                )
            except ServerBusy as exc:
                if attempts[i] > self.limits.migration_retries:
                    return Outcome(i, action, FAILED, f"busy: {exc}", attempts[i], self.clock() - started)
                log.warning(
                    "migration of %s to %s: busy (%s), attempt %d", action.server, action.target, exc, attempts[i]
                )
                self.sleep(self.retry_pause_s)
                continue
            except Exception as exc:  # the cloud may have accepted it: its records decide
                log.error("migration of %s to %s: cloud error on start: %s", action.server, action.target, exc)
                error = f"cloud error starting it: {type(exc).__name__}: {exc}"
                return Outcome(i, action, LOST, error, attempts[i], self.clock() - started)
            return None

    def _wait(
        self, i: int, action: Action, attempts: dict[int, int], started: float, superseded: bool = False
    ) -> Outcome | None:
        """Wait for migration ``i``; its outcome, or None to start it again (ended badly, retries left).

        ``superseded``: a later migration of the server was started in parallel (see :class:`Compute`).
        """
        try:
            status = self.compute.wait_migration(action.server, self.limits.timeout_s)
            host = self.compute.server_host(action.server)
        except MigrationTimedOut as exc:  # may still be running: never retry, never disable the source
            return Outcome(i, action, TIMEOUT, str(exc), attempts[i], self.clock() - started)
        except ServerGone as exc:
            return Outcome(i, action, FAILED, f"server no longer exists: {exc}", attempts[i], self.clock() - started)
        except Exception as exc:  # running or done, nobody can tell now: the cloud's records decide
            log.error("migration of %s to %s: cloud error while waiting: %s", action.server, action.target, exc)
            error = f"cloud error while waiting: {type(exc).__name__}: {exc}"
            return Outcome(i, action, LOST, error, attempts[i], self.clock() - started)
        if host is None:
            return Outcome(i, action, FAILED, "server no longer exists", attempts[i], self.clock() - started)
        if status == COMPLETED and (host == action.target or superseded):
            return Outcome(i, action, COMPLETED, None, attempts[i], self.clock() - started)
        error = f"migration ended {status!r}, server on {host}"
        if attempts[i] > self.limits.migration_retries:
            return Outcome(i, action, FAILED, error, attempts[i], self.clock() - started)
        log.warning("migration of %s to %s: %s (attempt %d)", action.server, action.target, error, attempts[i])
        self.sleep(self.retry_pause_s)
        return None

    def _precondition(self, action: Action) -> str | None:
        host = self.compute.server_host(action.server)
        if host is None:
            return "server no longer exists"
        if host != action.host:
            return f"server is on {host}, not on {action.host}"
        if not self.compute.host_usable(action.target):
            return f"target {action.target} is disabled or down"
        return None

    # -- hosts ------------------------------------------------------------------------------
    def _enable(self, index: int, action: Action) -> Outcome:
        refused = self._begin(index, action)
        if refused is not None:
            return self._finish(refused)
        try:
            self.compute.enable_host(action.host)
        except Exception as exc:  # recorded, not raised: migrations onto it are then skipped
            return self._finish(Outcome(index, action, FAILED, str(exc)))
        return self._finish(Outcome(index, action, COMPLETED))

    def _disable(self, index: int, action: Action, off_host: Sequence[Outcome]) -> Outcome:
        """Disable ``action.host`` if every migration off it (``off_host``) completed and it is empty."""
        refused = self._begin(index, action)
        if refused is not None:
            return self._finish(refused)
        unfinished = [o for o in off_host if o.status != COMPLETED]
        if unfinished:
            why = ", ".join(f"{o.action.server}: {o.status}" for o in unfinished)
            return self._finish(Outcome(index, action, SKIPPED, f"migrations off the host did not complete ({why})"))
        try:
            left = list(self.compute.servers_on(action.host))
        except Exception as exc:  # cannot tell it is empty: leave it enabled
            return self._finish(Outcome(index, action, FAILED, f"cloud error listing its servers: {exc}"))
        if left:
            return self._finish(Outcome(index, action, SKIPPED, f"the cloud still shows {len(left)} server(s) on it"))
        try:
            self.compute.disable_host(action.host, self.reason)
        except Exception as exc:  # recorded, not raised: the cycle goes on
            return self._finish(Outcome(index, action, FAILED, str(exc)))
        return self._finish(Outcome(index, action, COMPLETED))

    def _finish(self, outcome: Outcome) -> Outcome:
        try:
            self.log_to.finished(outcome.position, outcome.status, outcome.error)
        except Exception as exc:  # the outcome is returned all the same; the plan goes on
            log.error(
                "action %d ended %s but that could not be recorded (%s: %s)",
                outcome.position,
                outcome.status,
                type(exc).__name__,
                exc,
            )
        return outcome


__all__ = [
    "CANCELLED",
    "COMPLETED",
    "DISABLE",
    "ENABLE",
    "FAILED",
    "LOST",
    "MIGRATE",
    "SKIPPED",
    "TIMEOUT",
    "Action",
    "ActionLog",
    "Compute",
    "Executor",
    "MigrationTimedOut",
    "NullLog",
    "Outcome",
    "SchedulerRejected",
    "ServerBusy",
    "ServerGone",
    "Stop",
]

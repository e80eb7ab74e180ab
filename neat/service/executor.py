"""Apply a plan to the cloud: live migrations under limits, then disable the hosts they emptied.

The executor talks to the cloud through the :class:`Compute` protocol (``neat.openstack`` implements
it for Nova; tests use a fake) and reports every action's progress to an :class:`ActionLog` (the
database in the service). A host is disabled only when every migration off it completed and the
cloud shows no instance left on it; a failed or timed-out migration leaves its source enabled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from neat.service.config import Limits
from neat.service.planner import DISABLE, MIGRATE, PlannedAction

log = logging.getLogger(__name__)

COMPLETED = "completed"
FAILED = "failed"
TIMEOUT = "timeout"
SKIPPED = "skipped"


class SchedulerRejected(Exception):
    """The cloud's scheduler refused the target (Nova: HTTP 400 "No valid host was found")."""


class Busy(Exception):
    """The server is in a state that forbids the operation now (Nova: HTTP 409); worth a retry."""


class MigrationTimeout(Exception):
    """The migration did not reach a terminal state in time."""


class Compute(Protocol):
    """What the executor needs from the cloud."""

    def server_host(self, server_id: str) -> str | None:
        """The host a server runs on, None if it no longer exists."""
        ...

    def host_usable(self, host: str) -> bool:
        """True if the host's compute service is enabled and up."""
        ...

    def live_migrate(self, server_id: str, host: str) -> None:
        """Start a live migration to ``host``, checked by the scheduler (never forced)."""
        ...

    def wait_migration(self, server_id: str, timeout_s: float) -> str:
        """Wait for the server's newest live migration to end; return its status
        ("completed", "error", "failed", ...) or raise :class:`MigrationTimeout`."""
        ...

    def servers_on(self, host: str) -> Sequence[str]:
        """Ids of the servers the cloud shows on ``host``."""
        ...

    def disable_host(self, host: str, reason: str) -> None:
        """Disable the host's compute service with a reason."""
        ...


class ActionLog(Protocol):
    """Where the executor records progress (one call per state change)."""

    def started(self, index: int) -> None: ...

    def finished(self, index: int, status: str, error: str | None = None) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """How one action ended."""

    index: int
    action: PlannedAction
    status: str
    error: str | None = None
    attempts: int = 0
    duration_s: float = 0.0


class Executor:
    """Run a plan's actions: migrations concurrently (at most ``max_concurrent_migrations``)."""

    def __init__(
        self,
        compute: Compute,
        log_to: ActionLog,
        limits: Limits,
        *,
        retry_pause_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        reason: str = "neat: host emptied by consolidation",
    ) -> None:
        self.compute = compute
        self.log_to = log_to
        self.limits = limits
        self.retry_pause_s = retry_pause_s
        self.sleep = sleep
        self.reason = reason

    def apply(self, actions: Sequence[PlannedAction]) -> list[Outcome]:
        """Execute ``actions``; returns one outcome per action, in the plan's order."""
        migrations = [(i, a) for i, a in enumerate(actions) if a.kind == MIGRATE]
        with ThreadPoolExecutor(max_workers=self.limits.max_concurrent_migrations) as pool:
            outcomes = list(pool.map(lambda item: self._migrate(*item), migrations))
        for i, action in enumerate(actions):
            if action.kind == DISABLE:
                outcomes.append(self._disable(i, action, outcomes))
            elif action.kind != MIGRATE:
                outcomes.append(self._finish(Outcome(i, action, FAILED, f"unknown action kind {action.kind!r}")))
        return sorted(outcomes, key=lambda o: o.index)

    # -- migrations -----------------------------------------------------------------------
    def _migrate(self, index: int, action: PlannedAction) -> Outcome:
        self.log_to.started(index)
        started = time.monotonic()
        attempts = 0
        error: str | None = None
        while attempts <= self.limits.migration_retries:
            problem = self._precondition(action)
            if problem is not None:
                return self._finish(Outcome(index, action, SKIPPED, problem, attempts, time.monotonic() - started))
            attempts += 1
            try:
                self.compute.live_migrate(action.server, action.target)
                status = self.compute.wait_migration(action.server, self.limits.migration_timeout_s)
            except SchedulerRejected as exc:  # the scheduler said no: retrying will not help
                return self._finish(
                    Outcome(index, action, FAILED, f"rejected: {exc}", attempts, time.monotonic() - started)
                )
            except MigrationTimeout as exc:  # may still be running: never retry, never disable the source
                return self._finish(Outcome(index, action, TIMEOUT, str(exc), attempts, time.monotonic() - started))
            except Busy as exc:
                error = f"busy: {exc}"
            else:
                host = self.compute.server_host(action.server)
                if status == COMPLETED and host == action.target:
                    return self._finish(Outcome(index, action, COMPLETED, None, attempts, time.monotonic() - started))
                error = f"migration ended {status!r}, server on {host}"
            log.warning("migration of %s to %s: %s (attempt %d)", action.server, action.target, error, attempts)
            self.sleep(self.retry_pause_s)
        return self._finish(Outcome(index, action, FAILED, error, attempts, time.monotonic() - started))

    def _precondition(self, action: PlannedAction) -> str | None:
        host = self.compute.server_host(action.server)
        if host is None:
            return "server no longer exists"
        if host != action.host:
            return f"server is on {host}, not on {action.host}"
        if not self.compute.host_usable(action.target):
            return f"target {action.target} is disabled or down"
        return None

    # -- hosts ------------------------------------------------------------------------------
    def _disable(self, index: int, action: PlannedAction, done: Sequence[Outcome]) -> Outcome:
        self.log_to.started(index)
        off_host = [o for o in done if o.action.kind == MIGRATE and o.action.host == action.host]
        unfinished = [o for o in off_host if o.status != COMPLETED]
        if unfinished:
            why = ", ".join(f"{o.action.server}: {o.status}" for o in unfinished)
            return self._finish(Outcome(index, action, SKIPPED, f"migrations off the host did not complete ({why})"))
        left = list(self.compute.servers_on(action.host))
        if left:
            return self._finish(Outcome(index, action, SKIPPED, f"the cloud still shows {len(left)} server(s) on it"))
        try:
            self.compute.disable_host(action.host, self.reason)
        except Exception as exc:  # recorded, not raised: the cycle goes on
            return self._finish(Outcome(index, action, FAILED, str(exc)))
        return self._finish(Outcome(index, action, COMPLETED))

    def _finish(self, outcome: Outcome) -> Outcome:
        self.log_to.finished(outcome.index, outcome.status, outcome.error)
        return outcome

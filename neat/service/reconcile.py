"""Settle what an interrupted plan left open, from the cloud's own records, before deciding again.

A global manager that crashed (SIGKILL, a power cut), lost its lease, or met a cloud or database
fault mid-plan leaves actions ``running`` or ``pending``. Before each cycle (and at start-up) the
manager holding the lease gives every such action of an executed plan (one claimed by a manager
or by ``neat apply``; proposals nobody claimed are left to expire) a final status:

- a **migration** that was running is looked up in Nova: its live-migration record since the
  action started and the server's host. Completed with the server on the target: ``succeeded``
  (finished when Nova says, so the VM's cooldown counts from the real move); ended otherwise, or
  the server gone: ``failed``; still running: waited for until ``migration_timeout_s`` after the
  action started, then ``failed`` as timed out (the server stays busy: no decision moves it, and
  its source is never disabled). A pending migration is ``cancelled``: the next decision starts
  from the cloud as it is.
- a **disable** that was pending is finished if every migration off its host in the plan
  succeeded and Nova shows the host empty (it is then suspended like any drained host), else
  ``cancelled``; one that was running is ``succeeded`` if Nova shows the service disabled.
- an **enable** that was running is ``succeeded`` if Nova shows the service enabled; pending ones
  are ``cancelled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from neat.db.records import ActionRecord, PlanRecord
from neat.db.store import Store, StoreError
from neat.openstack.errors import NotFound
from neat.openstack.records import ComputeHost, Migration, Server

log = logging.getLogger(__name__)

#: A live-migration record this long before the action's start still counts as its (clocks differ).
RECORD_SLACK_S = 120.0
#: The reason neat gives Nova when it disables a host (the power manager looks for the prefix).
DISABLE_REASON = "neat: host emptied by consolidation"


class RecordsCloud(Protocol):
    """What reconciliation reads and changes in the cloud (``neat.openstack.NovaClient`` provides it)."""

    def server(self, server_id: str) -> Server: ...

    def migrations(self, server_id: str) -> Sequence[Migration]: ...

    def host(self, name: str) -> ComputeHost: ...

    def servers(self, host: str | None = None) -> Sequence[Server]: ...

    def disable_service(self, host: str, reason: str) -> object: ...


@dataclass(frozen=True)
class Settled:
    """One action given its final status by reconciliation."""

    plan_id: int
    action_id: int
    kind: str
    host: str
    vm_uuid: str | None
    status: str
    detail: str


@dataclass(frozen=True)
class Reconciliation:
    """What one reconciliation did: the actions it settled, the hosts it disabled, those left open."""

    settled: tuple[Settled, ...] = ()
    disabled_hosts: tuple[tuple[int, str, tuple[str, ...]], ...] = ()  # (plan, host, servers moved off it)
    still_open: int = 0


def open_plans(store: Store, plan_ids: Sequence[int] | None = None) -> list[PlanRecord]:
    """Plans with actions left open that someone executed (claimed), or that have an action running."""
    plans = store.plans(unfinished=True, limit=None)
    if plan_ids is not None:
        plans = [p for p in plans if p.id in plan_ids]
    return [p for p in plans if p.claimed_by is not None or any(a.status == "running" for a in p.actions)]


class Reconciler:
    """Settles open actions against the cloud (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        cloud: RecordsCloud,
        *,
        migration_timeout_s: float,
        wait_s: float | None = None,
        poll_s: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        guard: Callable[[], str | None] | None = None,
    ) -> None:
        self.store = store
        self.cloud = cloud
        self.migration_timeout_s = migration_timeout_s
        self.wait_s = migration_timeout_s if wait_s is None else wait_s
        self.poll_s = poll_s
        self.now = now
        self.sleep = sleep
        self.guard = guard

    def run(self, plan_ids: Sequence[int] | None = None) -> Reconciliation:
        """Settle the open actions of every executed plan (or of ``plan_ids``)."""
        settled: list[Settled] = []
        disabled: list[tuple[int, str, tuple[str, ...]]] = []
        still_open = 0
        for plan in open_plans(self.store, plan_ids):
            log.info("plan %d was interrupted (claimed by %s): settling its open actions", plan.id, plan.claimed_by)
            waiting_until = self.now() + timedelta(seconds=self.wait_s)
            for action in plan.actions:
                if action.kind == "migrate" and action.status == "running":
                    outcome = self._settle_migration(action, waiting_until)
                    if outcome is not None:
                        settled.append(outcome)
            current = self.store.plan(plan.id)
            for action in current.actions:
                if action.status not in ("pending", "running") or (
                    action.kind == "migrate" and action.status == "running"
                ):
                    continue
                outcome = self._settle_other(current, action)
                settled.append(outcome)
                if action.kind == "disable" and outcome.status == "succeeded" and action.status == "pending":
                    moved = tuple(
                        a.vm_uuid or "" for a in current.actions if a.kind == "migrate" and a.host == action.host
                    )
                    disabled.append((plan.id, action.host, moved))
            still_open += sum(a.status in ("pending", "running") for a in self.store.plan(plan.id).actions)
        for s in settled:
            log.info(
                "plan %d action %d (%s %s%s): %s, %s",
                s.plan_id,
                s.action_id,
                s.kind,
                s.host,
                f" {s.vm_uuid}" if s.vm_uuid else "",
                s.status,
                s.detail,
            )
        return Reconciliation(tuple(settled), tuple(disabled), still_open)

    # -- migrations ---------------------------------------------------------------------------
    def _settle_migration(self, action: ActionRecord, waiting_until: datetime) -> Settled | None:
        """The migration's final status, or None if Nova still runs it at ``waiting_until`` (before
        its own deadline: it stays running, its server busy, until a later reconciliation)."""
        server_id = action.vm_uuid or ""
        started = action.started_at or self.now()
        deadline = started + timedelta(seconds=self.migration_timeout_s)
        while True:
            try:
                record = self._record_since(server_id, started)
                server = self.cloud.server(server_id)
            except NotFound:
                return self._finish(action, "failed", "server no longer exists")
            if record is not None and record.terminal:
                if record.status == "completed" and server.host == action.target_host:
                    at = record.updated_at or self.now()
                    return self._finish(action, "succeeded", f"Nova's record {record.id} completed", at=at)
                return self._finish(
                    action,
                    "failed",
                    f"migration ended {record.status!r} (Nova's record {record.id}), server on {server.host}",
                )
            if record is None and not server.busy:
                if server.host == action.target_host:
                    return self._finish(action, "succeeded", "the server is on the target (no migration record)")
                return self._finish(action, "failed", f"never started: no migration record, server on {server.host}")
            if self.now() >= deadline:
                status = record.status if record is not None else "no record"
                return self._finish(
                    action,
                    "failed",
                    f"timeout: still {status!r} {self.migration_timeout_s:g} s after it started; it may still run",
                )
            if self.now() >= waiting_until:
                return None
            self.sleep(self.poll_s)

    def _record_since(self, server_id: str, started: datetime) -> Migration | None:
        oldest = started - timedelta(seconds=RECORD_SLACK_S)
        records = [m for m in self.cloud.migrations(server_id) if m.created_at is None or m.created_at >= oldest]
        return records[-1] if records else None

    # -- hosts ----------------------------------------------------------------------------------
    def _settle_other(self, plan: PlanRecord, action: ActionRecord) -> Settled:
        if action.status == "pending" and action.kind == "disable":
            return self._finish_disable(plan, action)
        if action.status == "pending":
            return self._finish(action, "cancelled", "interrupted before it started; the next cycle decides afresh")
        if action.kind in ("disable", "enable"):
            try:
                host = self.cloud.host(action.host)
            except NotFound:
                return self._finish(action, "failed", "the host has no compute service any more")
            done = (not host.enabled) if action.kind == "disable" else host.enabled
            state = "disabled" if not host.enabled else "enabled"
            return self._finish(action, "succeeded" if done else "failed", f"Nova shows the service {state}")
        return self._finish(action, "failed", "interrupted while running; neat cannot tell its outcome")

    def _finish_disable(self, plan: PlanRecord, action: ActionRecord) -> Settled:
        off_host = [a for a in plan.actions if a.kind == "migrate" and a.host == action.host]
        unfinished = [a for a in off_host if a.status != "succeeded"]
        if unfinished:
            why = ", ".join(f"{a.vm_uuid}: {a.status}" for a in unfinished)
            return self._finish(action, "cancelled", f"migrations off the host did not all succeed ({why})")
        left = self.cloud.servers(action.host)
        if left:
            return self._finish(action, "cancelled", f"Nova still shows {len(left)} server(s) on it")
        stop = self.guard() if self.guard is not None else None
        if stop is not None:  # acting needs the lease, as the executor's actions do
            return self._finish(action, "cancelled", stop)
        try:
            self.store.start_action(action.id, at=self.now())
        except StoreError as exc:
            return Settled(plan.id, action.id, action.kind, action.host, None, "unchanged", str(exc))
        try:
            self.cloud.disable_service(action.host, DISABLE_REASON)
        except Exception as exc:
            return self._finish(action, "failed", f"disabling it failed: {exc}")
        return self._finish(action, "succeeded", "every migration off it succeeded and it is empty: disabled")

    def _finish(self, action: ActionRecord, status: str, detail: str, *, at: datetime | None = None) -> Settled:
        when = at or self.now()
        if action.started_at is not None and when < action.started_at:
            when = action.started_at
        self.store.finish_action(action.id, status, error=None if status == "succeeded" else detail, at=when)  # type: ignore[arg-type]
        return Settled(action.plan_id, action.id, action.kind, action.host, action.vm_uuid, status, detail)


__all__ = ["DISABLE_REASON", "Reconciler", "Reconciliation", "RecordsCloud", "Settled", "open_plans"]

"""Run the global manager as a service: a cycle every interval, the first at once, never two at once.

Every cycle runs as an APScheduler job (the first one too, ``next_run_time`` now), with
``max_instances=1`` and ``coalesce``: a cycle longer than the interval delays the next, which then
runs once, never alongside. While the service runs, a thread keeps the lease (renewing it, or
campaigning for it as a standby). Stopping (SIGTERM, Ctrl-C): no new action starts, the cycle in
progress ends once its in-flight migrations have, the lease is released at once so a standby
takes over without waiting, and an interrupted plan is settled by whoever holds the lease next.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


def run_service(manager: Any, *, interval_s: float, dry_run: bool, stop: threading.Event) -> int:
    """Cycle every ``interval_s`` until ``stop`` is set; returns how many cycles ran."""
    from apscheduler.schedulers.background import BackgroundScheduler

    ran = 0

    def cycle() -> None:
        nonlocal ran
        ran += 1
        try:
            result = manager.cycle(dry_run=dry_run)
        except Exception:  # a failed cycle is logged; the next one goes on
            log.exception("cycle failed")
            return
        if result.plan is None:
            log.info("%s", result.note)

    if not dry_run:
        manager.keeper.start()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        cycle,
        "interval",
        seconds=interval_s,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        id="cycle",
        name="global-manager cycle",
    )
    scheduler.start()
    try:
        stop.wait()
    finally:
        log.info("stopping: no new action starts; waiting for the cycle in progress")
        manager.request_stop()
        scheduler.shutdown(wait=True)
        if not dry_run:
            manager.keeper.stop()
            try:
                manager.keeper.release()
            except Exception as exc:  # the database is away: the lease lapses on its own
                log.warning("the lease could not be released (%s); it lapses in %.0f s", exc, manager.keeper.ttl_s)
    return ran


__all__ = ["run_service"]

"""The global-manager lease, held by one process at a time: taken, renewed from a thread, checked
before every action, released on exit.

The holder is ``host:pid``. A process that finds the lease held by a process of its own machine
that no longer runs (it crashed, or was killed) takes it over at once instead of waiting for it to
expire. While held, a thread renews it every third of its time to live, so a standby takes over
within ``lease_ttl_s`` of the active manager's last renewal, never while it runs. Before each action
the executor asks :meth:`LeaseKeeper.check`: the lease as stored must still be this holder's, in
the same term, unexpired; otherwise the plan stops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from neat.db.records import LeaseRecord
from neat.db.store import Store

log = logging.getLogger(__name__)


def holder_id(role: str = "") -> str:
    """``host:pid`` (``host:pid:role`` with a role): unique per process, and telling which machine it runs on."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{role}" if role else base


def gone_local_holder(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine (``host:pid...``) that no longer runs."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


class LeaseKeeper:
    """Takes, renews, checks and releases the global-manager lease for ``holder``."""

    def __init__(
        self,
        store: Store,
        holder: str,
        ttl_s: float,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[LeaseRecord | None], None] | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.ttl_s = ttl_s
        self.now = now
        self.on_change = on_change
        self.lease: LeaseRecord | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def acquire(self, now: datetime | None = None) -> LeaseRecord | None:
        """Take or renew the lease; None if another live holder has it."""
        at = now or self.now()
        with self._lock:
            current = self.store.lease()
            take_over = None
            if current is not None and current.holder != self.holder and gone_local_holder(current.holder):
                log.warning("the lease holder %s no longer runs on this machine: taking the lease over", current.holder)
                take_over = current.holder
            lease = self.store.acquire_lease(self.holder, ttl_s=self.ttl_s, now=at, take_over=take_over)
            self._set(lease)
            return lease

    def _set(self, lease: LeaseRecord | None) -> None:
        changed = (lease is None) != (self.lease is None) or (
            lease is not None and self.lease is not None and lease.term != self.lease.term
        )
        self.lease = lease
        if changed:
            if lease is not None:
                log.info("holding the global-manager lease, term %d, until %s", lease.term, lease.expires_at)
            if self.on_change is not None:
                self.on_change(lease)

    def check(self, term: int, now: datetime | None = None) -> str | None:
        """None while this holder holds the lease in ``term``; else why not (the plan must stop)."""
        at = now or self.now()
        current = self.store.lease()
        if current is None:
            return "the lease is not held by anyone"
        if current.holder != self.holder or current.term != term:
            return f"the lease was taken by {current.holder} (term {current.term}; ours was {term})"
        if current.expires_at <= at:
            return f"the lease expired at {current.expires_at.isoformat(timespec='seconds')} (renewals failed)"
        return None

    def release(self) -> bool:
        """Let the lease go at once, so a standby takes over without waiting."""
        with self._lock:
            released = self.store.release_lease(self.holder, now=self.now())
            if released:
                log.info("released the global-manager lease")
            self._set(None)
            return released

    # -- the renewing thread --------------------------------------------------------------------
    def start(self) -> None:
        """Renew (or campaign for) the lease every third of its time to live, from a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="neat-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                self.acquire()
            except Exception as exc:  # the database may be down: the lease then expires on its own
                log.warning("renewing the lease failed (%s: %s)", type(exc).__name__, exc)


__all__ = ["LeaseKeeper", "gone_local_holder", "holder_id"]

"""Suspend drained hosts and wake sleeping ones when capacity is needed.

Suspend only after drain: every migration off the host completed (Nova's migration records), Nova
shows no instance on it, and its compute service is disabled with neat's reason. All three are
checked again just before the power call. If the power call fails, the service is re-enabled.

Wake on demand: when an overloaded host has nowhere to send its VMs, wake the cheapest sleeping
host that fits (lowest idle power, then name), wait (bounded) until its nova-compute service
reports up, enable it; a host that does not come up in time is marked failed and the next
candidate is tried.

Hysteresis, in the spirit of power managers that power off slowly and power on fast: a host must
have been awake ``min_awake_s`` before it may be suspended again, and asleep ``min_asleep_s``
before it is woken for anything but overload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from neat.config import PowerSettings
from neat.db.store import Store
from neat.openstack.records import ComputeHost, Migration, Server
from neat.power.base import PowerDriver, transition

log = logging.getLogger(__name__)

ASLEEP = ("suspended", "off")
NEAT_REASON_PREFIX = "neat"


class PowerCloud(Protocol):
    """What power management reads and changes in the cloud."""

    def host(self, name: str) -> ComputeHost: ...

    def servers(self, host: str | None = None) -> Sequence[Server]: ...

    def migration(self, server_id: str) -> Migration | None: ...

    def enable_service(self, host: str) -> object: ...


@dataclass(frozen=True)
class PowerOutcome:
    host: str
    action: str  # "suspend" or "wake"
    ok: bool
    detail: str = ""


class PowerManager:
    """Turns hosts off and on through their drivers, recording every transition."""

    def __init__(
        self,
        store: Store,
        cloud: PowerCloud,
        drivers: Mapping[str, PowerDriver],
        settings: PowerSettings,
        *,
        idle_w: Mapping[str, float] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cloud = cloud
        self.drivers = drivers
        self.settings = settings
        self.idle_w = dict(idle_w or {})
        self.now = now
        self.sleep = sleep
        self.monotonic = monotonic

    # -- suspend ----------------------------------------------------------------------------------
    def suspend(self, host: str, moved_off: Sequence[str] = ()) -> PowerOutcome:
        """Suspend ``host`` if it is drained; ``moved_off``: servers the plan moved off it."""
        driver = self.drivers.get(host)
        if driver is None:
            return PowerOutcome(host, "suspend", False, "no power driver configured")
        problem = self._not_drained(host, moved_off) or self._too_soon_after_waking(host)
        if problem:
            return PowerOutcome(host, "suspend", False, problem)
        self.store.record_power_transition(host, "suspending", at=self.now())
        result = transition(
            driver,
            driver.sleep_state,
            timeout_s=self.settings.power_timeout_s,
            poll_s=self.settings.poll_s,
            retries=self.settings.retries,
            clock=self.monotonic,
            sleep=self.sleep,
        )
        if result.ok:
            self.store.record_power_transition(host, driver.sleep_state, at=self.now())
            return PowerOutcome(host, "suspend", True, f"{driver.sleep_state} after {result.attempts} call(s)")
        # the host may still be on: bring it back into service so no capacity is lost
        self.store.record_power_transition(host, result.final_state, at=self.now())
        self.cloud.enable_service(host)
        self.store.set_service_state(host, "enabled", at=self.now())
        detail = "; ".join(str(e) for e in result.errors) or "state not reached"
        log.warning("suspending %s failed, service re-enabled: %s", host, detail)
        return PowerOutcome(host, "suspend", False, detail)

    def _not_drained(self, host: str, moved_off: Sequence[str]) -> str | None:
        for server_id in moved_off:
            record = self.cloud.migration(server_id)
            if record is None or record.status != "completed":
                return f"migration of {server_id} off the host is not completed"
        left = self.cloud.servers(host)
        if left:
            return f"Nova still shows {len(left)} instance(s) on it"
        service = self.cloud.host(host)
        if service.enabled or not (service.disabled_reason or "").startswith(NEAT_REASON_PREFIX):
            return "its compute service is not disabled by neat"
        return None

    def _too_soon_after_waking(self, host: str) -> str | None:
        awake_since = self._last_change(host, ("on",))
        if awake_since is None:
            return None
        awake_s = (self.now() - awake_since).total_seconds()
        if awake_s < self.settings.min_awake_s:
            return f"awake only {awake_s:.0f} s (minimum {self.settings.min_awake_s:.0f} s)"
        return None

    # -- wake -------------------------------------------------------------------------------------
    def sleeping_hosts(self) -> list[str]:
        return [h.name for h in self.store.hosts() if h.power_state in ASLEEP and h.name in self.drivers]

    def wake_for_capacity(self, vcpus: int, ram_mb: int, *, overload: bool = True) -> PowerOutcome | None:
        """Wake the cheapest sleeping host that fits ``vcpus`` and ``ram_mb``; None if there is none.

        Hosts are tried in order (lowest idle power, then name) until one comes up.
        """
        inventory = {h.name: h for h in self.store.hosts()}
        candidates = [
            name
            for name in self.sleeping_hosts()
            if inventory[name].cores >= vcpus
            and inventory[name].ram_mb >= ram_mb
            and (overload or self._asleep_long_enough(name))
        ]
        candidates.sort(key=lambda name: (self.idle_w.get(name, 0.0), name))
        last: PowerOutcome | None = None
        for name in candidates:
            last = self.wake(name)
            if last.ok:
                return last
        return last

    def wake(self, host: str) -> PowerOutcome:
        driver = self.drivers[host]
        self.store.record_power_transition(host, "waking", at=self.now())
        result = transition(
            driver,
            "on",
            timeout_s=self.settings.power_timeout_s,
            poll_s=self.settings.poll_s,
            retries=self.settings.retries,
            clock=self.monotonic,
            sleep=self.sleep,
        )
        if not result.ok:
            self.store.record_power_transition(host, result.final_state, at=self.now())
            detail = "; ".join(str(e) for e in result.errors) or "state not reached"
            return PowerOutcome(host, "wake", False, f"power on failed: {detail}")
        deadline = self.monotonic() + self.settings.wake_timeout_s
        while not self.cloud.host(host).up:
            if self.monotonic() >= deadline:
                self.store.record_power_transition(host, "unknown", at=self.now())
                return PowerOutcome(
                    host, "wake", False, f"nova-compute not up after {self.settings.wake_timeout_s:.0f} s"
                )
            self.sleep(self.settings.poll_s)
        self.cloud.enable_service(host)
        self.store.set_service_state(host, "enabled", at=self.now())
        self.store.record_power_transition(host, "on", at=self.now())
        return PowerOutcome(host, "wake", True, "up and enabled")

    def _asleep_long_enough(self, host: str) -> bool:
        since = self._last_change(host, ASLEEP)
        return since is None or (self.now() - since).total_seconds() >= self.settings.min_asleep_s

    def _last_change(self, host: str, states: Sequence[str]) -> datetime | None:
        changes = [t for t in self.store.power_transitions(host=host) if t.to_state in states]
        return changes[-1].changed_at if changes else None
